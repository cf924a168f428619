"""Suspect-commit ranking: the guard of a frame line, recency against lines blamed.

Each test builds a real git repository with a dated history (skills/rca/sample.py helpers) and
runs the real analysis on a Sentry-shaped event.
"""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

from integrations.sentry_event import parse_event
from skills.rca.evidence import analyse
from skills.rca.guards import guard_lines
from skills.rca.hypotheses import label_for
from skills.rca.model import SuspectCommit
from skills.rca.sample import commit, git

PRICES = textwrap.dedent('''\
    RATES = {"de": 1.19, "fr": 1.2}


    def price(order):
        """The gross price of an order."""
        amount = order["amount"]
        country = order.get("country")
        discount = order.get("discount", 0)
        if discount:
            amount = amount - discount
        if amount < 0:
            amount = 0
        shipping = 5 if amount < 50 else 0
        if country in RATES:
            total = amount * RATES[country]
        else:
            total = amount
        total = total + shipping
        total = round(total, 2)
        return total


    def handle(order):
        return {"total": price(order)}
    ''')


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


def test_guard_lines_are_the_enclosing_conditions_and_handlers_innermost_first():
    text = textwrap.dedent('''\
        def f(a):
            if a and (
                    a[0]):
                for i in a:
                    try:
                        g(i)
                    except KeyError:
                        h(i)
            return 1
        ''')
    assert guard_lines(text, 6) == [7, 4, 2]
    assert guard_lines(text, 8) == [7, 4, 2]
    assert guard_lines(text, 9) == []
    assert guard_lines("def f(:\n", 1) == []


def test_the_commit_that_changed_the_guard_of_the_crash_line_is_the_suspect(tmp_path):
    """Ann wrote the crash line and most of `price` three months ago; Bob only widened the `if` that
    guards it (any country now reaches `RATES[country]`). Blame of the crash line names Ann;
    the guard names Bob, who broke it."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "Cid", "2023-01-05", "Start", {"README.md": "shop\n"})
    ann = commit(repo, "Ann", "2023-12-01", "Prices", {"app/__init__.py": "",
                                                        "app/prices.py": PRICES})
    bob = commit(repo, "Bob", "2024-02-20", "Tax every country", {
        "app/prices.py": PRICES.replace("if country in RATES:", "if country:")})
    crash = _line(repo, "app/prices.py", "total = amount * RATES[country]")
    call = _line(repo, "app/prices.py", "price(order)}")
    ev = analyse(parse_event(_event([("app/prices.py", call, "handle"),
                                     ("app/prices.py", crash, "price")],
                                    "2024-03-01T00:00:00Z")), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[0] == bob, [(c.subject, round(c.score, 2), c.reasons[:2])
                              for c in ev.suspect_commits]
    assert any("guard `if country:`" in r for r in ev.suspect_commits[0].reasons)
    assert ann in ranked


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


def test_a_recent_change_below_the_failing_line_does_not_outrank_the_line_itself(tmp_path):
    """Carl rewrote the failing line months ago; Bob, three days before first-seen, changed only
    the `return` below it, which had not run when `total` failed: Carl is the suspect."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "Ann", "2023-01-05", "Totals", {"app/__init__.py": "",
                                                  "app/totals.py": TOTALS})
    carl = commit(repo, "Carl", "2023-10-01", "Price items by their price key", {
        "app/totals.py": TOTALS.replace('items = order["items"]', 'items = order.get("items")')
        .replace('sum(i["price"] for i in items)', 'sum(i["price"] for i in items if i)')})
    bob = commit(repo, "Bob", "2024-02-27", "Round the gross", {"app/totals.py": (
        repo / "app/totals.py").read_text().replace('"gross": gross}', '"gross": round(gross)}')})
    crash = _line(repo, "app/totals.py", 'net = sum(i["price"]')
    call = _line(repo, "app/totals.py", "return total(order)")
    ev = analyse(parse_event(_event([("app/totals.py", call, "handle"),
                                     ("app/totals.py", crash, "total")],
                                    "2024-03-01T00:00:00Z")), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[0] == carl, [(c.subject, round(c.score, 2), c.reasons[:2])
                               for c in ev.suspect_commits]
    assert bob in ranked


def test_an_old_commit_that_wrote_the_failing_line_alone_is_confirmed(tmp_path):
    """Age is no condition of CONFIRMED (calibration: an old writer of the failing line is as
    often right as a recent one); a clear margin and the frame line are."""
    repo = tmp_path / "shop"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "Cid", "2022-01-05", "Start", {"README.md": "shop\n"})
    ann = commit(repo, "Ann", "2022-06-01", "Totals", {"app/__init__.py": "",
                                                        "app/totals.py": TOTALS})
    crash = _line(repo, "app/totals.py", 'net = sum(i["price"]')
    ev = analyse(parse_event(_event([("app/totals.py", crash, "total")],
                                    "2024-03-01T00:00:00Z", repo)), repo)
    assert ev.hypotheses[0].commit == ann
    assert ev.hypotheses[0].label == "CONFIRMED", ev.hypotheses[0].to_json()


def _suspect(sha: str, score: float, **links: float) -> SuspectCommit:
    return SuspectCommit(sha=sha, score=score, reasons=[], links=links, innermost=True,
                         age_before_first_seen=timedelta(days=3))


def test_a_top_suspect_without_a_frame_line_needs_a_wider_margin_to_be_likely():
    """Calibration: a top suspect linked only by a share of the function was right in 5 of 14
    seen cases, so a margin that makes a frame-line writer LIKELY leaves it INCONCLUSIVE."""
    ev = SimpleNamespace(frames=[], suspect_commits=[_suspect("a", 1.6, function=0.5),
                                                     _suspect("b", 1.0, frame=2.0)])
    assert label_for(ev, 0) == "INCONCLUSIVE"
    ev.suspect_commits[0].score = 2.6
    assert label_for(ev, 0) == "LIKELY"
    line = SimpleNamespace(frames=[], suspect_commits=[_suspect("a", 1.6, frame=2.0),
                                                       _suspect("b", 1.0, function=0.5)])
    assert label_for(line, 0) == "LIKELY"
