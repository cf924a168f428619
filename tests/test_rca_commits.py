"""Suspect commits: labels calibrated on the seen suspect-commit set.

Each test builds a real git repository with a dated history (skills/rca/sample.py helpers) and
runs the real analysis on a Sentry-shaped event.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from integrations.sentry_event import parse_event
from skills.rca.commits import commit_recency
from skills.rca.evidence import analyse
from skills.rca.hypotheses import label_for
from skills.rca.model import SuspectCommit
from skills.rca.sample import commit, git


def _event(frames: list[tuple[str, int, str]], when: str, repo: Path | None = None) -> dict:
    def context(p: str, ln: int) -> str:
        return (repo / p).read_text().splitlines()[ln - 1] if repo else ""
    return {"timestamp": when, "platform": "python", "exception": {"values": [{
        "type": "KeyError", "value": "'xx'", "stacktrace": {"frames": [
            {"abs_path": f"/srv/{p}", "filename": p, "function": fn, "lineno": ln,
             "in_app": True, "context_line": context(p, ln)} for p, ln, fn in frames]}}]}}


def _line(repo: Path, path: str, needle: str) -> int:
    lines = (repo / path).read_text().splitlines()
    return next(i for i, t in enumerate(lines, 1) if needle in t)


TOTALS = textwrap.dedent('''\
    def total(order):
        """Net and gross of an order."""
        items = order["items"]
        net = sum(i["price"] for i in items)
        tax = net * 0.2
        gross = net + tax
        return {"net": net, "gross": gross}


    def handle(order):
        return total(order)
    ''')


def _shop_with_totals(tmp_path: Path) -> tuple[Path, str]:
    """A repository whose app/totals.py Ann wrote in June 2022 (after Cid's first commit)."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "Cid", "2022-01-05", "Start", {"README.md": "shop\n"})
    ann = commit(repo, "Ann", "2022-06-01", "Totals", {"app/__init__.py": "",
                                                        "app/totals.py": TOTALS})
    return repo, ann


def test_an_old_commit_that_wrote_the_failing_line_alone_is_confirmed(tmp_path):
    """Age is no condition of CONFIRMED (calibration: an old writer of the failing line is as
    often right as a recent one); a clear margin and the frame line are."""
    repo, ann = _shop_with_totals(tmp_path)
    crash = _line(repo, "app/totals.py", 'net = sum(i["price"]')
    ev = analyse(parse_event(_event([("app/totals.py", crash, "total")],
                                    "2024-03-01T00:00:00Z", repo)), repo)
    assert ev.hypotheses[0].commit == ann
    assert ev.hypotheses[0].label == "CONFIRMED", ev.hypotheses[0].to_json()


def _suspect(sha: str, score: float, **links: float) -> SuspectCommit:
    return SuspectCommit(sha=sha, score=score, reasons=[], links=links, innermost=True,
                         age_before_first_seen=timedelta(days=3))


def test_a_top_suspect_without_a_frame_line_needs_a_wider_margin_to_be_likely():
    """Calibration (dev + new): a top suspect linked only by a share of the function was right
    in 13 of 43 cases (5 of 8 at a 5x margin), so it needs 5x where a frame-line writer needs 3x."""
    ev = SimpleNamespace(frames=[], suspect_commits=[_suspect("a", 4.0, function=0.5),
                                                     _suspect("b", 1.0, frame=2.0)])
    assert label_for(ev, 0) == "INCONCLUSIVE"
    ev.suspect_commits[0].score = 5.0
    assert label_for(ev, 0) == "LIKELY"
    line = SimpleNamespace(frames=[], suspect_commits=[_suspect("a", 3.0, frame=2.0),
                                                       _suspect("b", 1.0, function=0.5)])
    assert label_for(line, 0) == "LIKELY"


def test_a_near_tie_between_writers_of_frame_lines_is_inconclusive_and_so_is_the_runner_up(
        tmp_path):
    """Calibration (dev + new): a top suspect that wrote the failing line with under 3x the next
    suspect's score was right in 7 of 21 cases, and a runner-up within reach of the top one in
    5 of 42: neither is called likely. Ann wrote the failing line and Bob the caller's line,
    a week apart: a near tie. (With the old 1.25x margin and the 60% share, both were LIKELY.)"""
    repo, ann = _shop_with_totals(tmp_path)
    bob = commit(repo, "Bob", "2022-06-08", "Handle: log the order", {
        "app/totals.py": TOTALS.replace("    return total(order)",
                                        "    print(order)\n    return total(order)")})
    crash = _line(repo, "app/totals.py", 'net = sum(i["price"]')
    call = _line(repo, "app/totals.py", "print(order)")
    ev = analyse(parse_event(_event([("app/totals.py", call, "handle"),
                                     ("app/totals.py", crash, "total")],
                                    "2022-07-01T00:00:00Z", repo)), repo)
    scores = [(c.sha, round(c.score, 2)) for c in ev.suspect_commits]
    assert [c.sha for c in ev.suspect_commits[:2]] == [ann, bob], scores
    assert ev.suspect_commits[0].score < 3 * ev.suspect_commits[1].score, scores
    assert [h.label for h in ev.hypotheses[:2]] == ["INCONCLUSIVE", "INCONCLUSIVE"], scores


def test_the_old_writer_of_the_failing_line_beats_a_younger_touch_of_the_same_function(tmp_path):
    """Ann wrote the failing line and most of `total` two years before first-seen; Bob, nine
    months before, only reworded its docstring. Both are old: their ages differ by a factor of
    under three, which must not outweigh Ann's far stronger link (recency by the ratio of ages,
    not an exponential in days that made Ann worth a tenth of anything a few months younger)."""
    repo, ann = _shop_with_totals(tmp_path)
    bob = commit(repo, "Bob", "2023-09-01", "Docs: say what a total is", {
        "app/totals.py": TOTALS.replace("Net and gross of an order.", "Net and gross (tax in).")})
    crash = _line(repo, "app/totals.py", "tax = net * 0.2")
    ev = analyse(parse_event(_event([("app/totals.py", crash, "total")],
                                    "2024-06-01T00:00:00Z", repo)), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[:2] == [ann, bob], [(c.subject, round(c.score, 2)) for c in ev.suspect_commits]


def test_recency_is_the_ratio_of_ages():
    """Twice as old (in days plus a week) as the youngest direct suspect: half the weight, at
    any age; never more than 1."""
    assert commit_recency(5.0, 5.0) == 1.0 and commit_recency(1.0, 5.0) == 1.0
    assert abs(commit_recency(2 * 12 - 7, 5.0) - 0.5) < 1e-9
    assert abs(commit_recency(2 * 372 - 7, 365.0) - 0.5) < 1e-9


def test_an_old_top_suspect_with_a_much_younger_direct_rival_is_inconclusive(tmp_path):
    """Calibration: when a commit at least three times younger also changed the failing
    function, the old writer of the failing line was right in 2 of 11 LIKELY cases. It still
    ranks first (it wrote the line), but is not called likely; without the younger rival it is."""
    repo, ann = _shop_with_totals(tmp_path)
    crash = _line(repo, "app/totals.py", "tax = net * 0.2")

    def top(when: str):
        ev = analyse(parse_event(_event([("app/totals.py", crash, "total")], when, repo)), repo)
        return ev.hypotheses[0]

    alone = top("2023-10-01T00:00:00Z")
    assert alone.commit == ann and alone.label in ("LIKELY", "CONFIRMED")
    bob = commit(repo, "Bob", "2023-11-01", "Read the items once", {
        "app/totals.py": TOTALS.replace('items = order["items"]', 'items = list(order["items"])')})
    h = top("2024-06-01T00:00:00Z")
    assert h.commit == ann and h.label == "INCONCLUSIVE", h.to_json()
    assert bob


PRICES = textwrap.dedent('''\
    def price(item):
        if item is None:
            return 0
        base = item["price"]
        return base * item.get("qty", 1)
    ''')


def test_a_commit_that_only_deleted_lines_of_the_failing_function_is_a_suspect(tmp_path):
    """Bob removed the `None` guard of `price` (deletions only: blame never names him) and
    twelve later commits added helpers to the same file (so he is not among the file's last
    ten changes either). The history of the failing function's own lines (`git log -L`) still
    names him, second to Ann, who wrote the failing line."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    ann = commit(repo, "Ann", "2022-01-05", "Prices", {"app/__init__.py": "",
                                                       "app/prices.py": PRICES})
    unguarded = PRICES.replace("    if item is None:\n        return 0\n", "")
    bob = commit(repo, "Bob", "2022-03-01", "Prices: simpler", {"app/prices.py": unguarded})
    helpers = ""
    for n in range(12):
        helpers += f"\n\ndef label_{n}(item):\n    return item['name'] + '{n}'\n"
        commit(repo, "Cid", f"2022-03-{n + 2:02d}", f"Label {n}",
               {"app/prices.py": unguarded + helpers})
    crash = _line(repo, "app/prices.py", 'base = item["price"]')
    ev = analyse(parse_event(_event([("app/prices.py", crash, "price")],
                                    "2022-04-01T00:00:00Z", repo)), repo)
    ranked = [(c.sha, c.subject, round(c.score, 3)) for c in ev.suspect_commits]
    assert [c.sha for c in ev.suspect_commits[:2]] == [ann, bob], ranked
    assert any("wrote none of its lines left" in r for r in ev.suspect_commits[1].reasons)
