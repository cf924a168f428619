"""Root-cause evidence on real temporary git repositories with a controlled history.

The sample repository `shop` has six authors and dated commits; Dave's commit of 2024-03-10
makes `discount_for` crash on a missing discount code. The event is produced by running that
code under the real sentry-sdk. The issue is first seen on 2024-03-14; Frank's later commit
rewrites the crashing line and must never be a suspect.
"""

from __future__ import annotations

import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.sentry_event import parse_event
from skills.rca.cli import cli_main
from skills.rca.evidence import analyse, resolve_commit
from skills.rca.sample import build_repo, capture_event, commit, git

FIRST_SEEN = datetime(2024, 3, 14, 9, 0, tzinfo=UTC)
_git, _commit = git, commit


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> dict:
    """The sample service (skills/rca/sample.py) at fixed 2024 dates, plus a later cosmetic commit."""
    repo = tmp_path_factory.mktemp("shop")
    shas = build_repo(repo, {"alice": "2024-01-02", "bob": "2024-02-01", "carol": "2024-02-20",
                             "dave": "2024-03-10", "erin": "2024-03-12"})
    pricing = (repo / "shop/pricing.py").read_text()
    shas["frank"] = commit(repo, "Frank", "2024-03-20", "Comment the normalisation", {
        "shop/pricing.py": pricing.replace("    code = code.strip().upper()\n",
                                           "    code = code.strip().upper()  # normalise\n")})
    git(repo, "tag", "v1.3.0")
    return {"repo": repo, "shas": shas}


def _real_event(repo: Path, ref: str, release: str, tmp: Path) -> dict:
    """Run the shop at `ref` under the real sentry-sdk and return the event it sends."""
    return capture_event(repo, ref, release, tmp / f"work-{ref}")


@pytest.fixture(scope="module")
def event_v120(shop, tmp_path_factory) -> dict:
    return _real_event(shop["repo"], "v1.2.0", "shop@1.2.0", tmp_path_factory.mktemp("run"))


# ---------------------------------------------------------------------------------------------
# the guilty commit


def test_guilty_commit_ranks_first(shop, event_v120):
    event = parse_event(event_v120)
    assert event.primary.value == "'NoneType' object has no attribute 'strip'"
    ev = analyse(event, shop["repo"], FIRST_SEEN)
    shas = shop["shas"]
    assert ev.commit == shas["erin"] and "v1.2.0" in ev.commit_reason

    top = ev.suspect_locations[0]
    assert (top.file, top.function, top.line) == ("shop/pricing.py", "discount_for", 8)
    assert any("innermost in-app frame" in r for r in top.reasons)

    first = ev.suspect_commits[0]
    assert first.sha == shas["dave"], [c.subject for c in ev.suspect_commits]
    assert first.author == "Dave"
    text = " ".join(first.reasons)
    assert "shop/pricing.py:8" in text and "before first seen" in text
    assert "shop/pricing.py (+1 −0)" in text  # what else it changed
    assert all(c.date <= FIRST_SEEN for c in ev.suspect_commits)
    assert shas["frank"] not in {c.sha for c in ev.suspect_commits}


def test_frames_mapped_with_code_at_the_commit(shop, event_v120):
    ev = analyse(parse_event(event_v120), shop["repo"], FIRST_SEEN)
    app = [f for f in ev.frames if f.file]
    assert [(f.file, f.scope) for f in app] == [
        ("shop/pricing.py", "discount_for"), ("shop/pricing.py", "apply_discount"),
        ("shop/cart.py", "Cart.total"), ("shop/cart.py", "Cart.receipt"),
        ("shop/cart.py", "checkout")]
    inner = app[0]
    assert inner.in_app and inner.depth == 0 and inner.context_matches is True
    assert (8, "    code = code.strip().upper()") in inner.code
    assert inner.last_change["author"] == "Dave"
    assert all(f.weight > 0 for f in app)


def test_impact_and_reports(shop, event_v120):
    ev = analyse(parse_event(event_v120), shop["repo"], FIRST_SEEN)
    assert ev.impact["release"] == "shop@1.2.0" and ev.impact["environment"] == "production"
    assert ev.impact["first_seen"] == FIRST_SEEN.isoformat()
    assert ev.impact["notable_tags"] == {"tenant": "acme"}
    assert ev.impact["exception"] == "AttributeError" and ev.impact["handled"] is True
    data = ev.to_json()
    json.dumps(data)
    assert data["suspect_commits"][0]["sha"] == shop["shas"]["dave"]
    loc = data["suspect_locations"][0]
    assert set(loc) >= {"file", "function", "line", "score", "reasons"}
    assert isinstance(loc["line"], int) and isinstance(loc["score"], float)
    md = ev.to_markdown()
    assert shop["shas"]["dave"][:10] in md and "discount_for" in md
    assert "## Suspect commits" in md and "## Impact" in md and "git blame" in md


def test_commits_after_first_seen_are_excluded(shop, tmp_path_factory):
    """A later event of the same issue ran v1.3.0, where Frank rewrote the crashing line after
    first-seen: blame must look at the code as of first-seen, and Dave stays the suspect."""
    raw = _real_event(shop["repo"], "v1.3.0", "shop@1.3.0", tmp_path_factory.mktemp("run13"))
    ev = analyse(parse_event(raw), shop["repo"], FIRST_SEEN)
    shas = shop["shas"]
    assert ev.commit == shas["frank"]
    assert shas["frank"] not in {c.sha for c in ev.suspect_commits}
    assert ev.suspect_commits[0].sha == shas["dave"]
    assert any("newer than first seen" in n for n in ev.notes)
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("shop/pricing.py", "discount_for")


def test_without_first_seen_the_event_time_bounds_history(shop, event_v120):
    payload = dict(event_v120, timestamp="2024-03-11T00:00:00Z")
    ev = analyse(parse_event(payload), shop["repo"])
    assert ev.first_seen == datetime(2024, 3, 11, tzinfo=UTC)
    assert ev.suspect_commits[0].sha == shop["shas"]["dave"]
    assert {c.sha for c in ev.suspect_commits} <= set(shop["shas"].values()) - {
        shop["shas"]["erin"], shop["shas"]["frank"]}


# ---------------------------------------------------------------------------------------------
# which code ran


@pytest.mark.parametrize("release,expect", [
    ("shop@1.2.0", "erin"), ("1.2.0", "erin"), ("v1.0.0", "alice"), ("shop@1.0.0+abc", "alice"),
])
def test_release_resolves_to_tag(shop, release, expect):
    ev = parse_event({"release": release})
    sha, how = resolve_commit(_gitobj(shop), ev)
    assert sha == shop["shas"][expect] and release in how


def test_release_as_sha_and_fallback_to_branch_at_event_time(shop):
    g = _gitobj(shop)
    carol = shop["shas"]["carol"]
    assert resolve_commit(g, parse_event({"release": carol[:12]}))[0] == carol
    sha, how = resolve_commit(g, parse_event({"release": "unknown-9.9",
                                              "timestamp": "2024-02-25T00:00:00Z"}))
    assert sha == carol and "as of the event time" in how
    sha, how = resolve_commit(g, parse_event({"tags": [["sentry:release", shop["shas"]["bob"]]]}))
    assert sha == shop["shas"]["bob"]
    assert resolve_commit(g, parse_event({}))[0] == shop["shas"]["frank"]


def _gitobj(shop):
    from skills.rca.evidence import Git

    return Git(shop["repo"])


# ---------------------------------------------------------------------------------------------
# beyond the stack


def _frame(path: str, func: str, line: int, in_app=True, context: str = "", **kw) -> dict:
    return {"abs_path": path, "filename": path.rsplit("/", 1)[-1], "function": func,
            "lineno": line, "in_app": in_app, "context_line": context, **kw}


def test_function_named_in_message_ranks_first_without_app_frames(shop):
    """Raised in test code (the call was rejected): the function the message names is it."""
    raw = {"timestamp": "2024-03-13T00:00:00Z", "release": "shop@1.2.0", "exception": {
        "values": [{"type": "TypeError",
                    "value": "apply_discount() got an unexpected keyword argument 'coupon'",
                    "stacktrace": {"frames": [_frame(
                        "/srv/shop/tests/test_cart.py", "test_coupon", 9, in_app=False,
                        context="    apply_discount(10, coupon='VIP')")]}}]}}
    ev = analyse(parse_event(raw), shop["repo"], FIRST_SEEN)
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("shop/pricing.py", "apply_discount")
    assert any("message names" in r for r in top.reasons)
    assert any("failing line" in r for r in top.reasons)
    assert any("no in-app frame" in n for n in ev.notes)


def test_callee_on_the_failing_line_of_caller_code(shop):
    raw = {"timestamp": "2024-03-13T00:00:00Z", "release": "shop@1.2.0", "exception": {
        "values": [{"type": "AssertionError", "value": "assert '$20.00' == '$20'",
                    "stacktrace": {"frames": [_frame(
                        "/srv/shop/tests/test_cart.py", "test_price", 4, in_app=False,
                        context="    assert format_price(20) == '$20'")]}}]}}
    ev = analyse(parse_event(raw), shop["repo"], FIRST_SEEN)
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("shop/pricing.py", "format_price")
    assert ev.suspect_commits[0].sha == shop["shas"]["carol"]


def test_wrongly_typed_value_traced_to_where_it_entered(shop):
    """The int that fails deep inside was passed in by an outer frame under another name."""
    raw = {"timestamp": "2024-03-13T00:00:00Z", "release": "shop@1.2.0", "exception": {
        "values": [{"type": "AttributeError", "value": "'int' object has no attribute 'strip'",
                    "stacktrace": {"frames": [
                        _frame("/app/shop/cart.py", "checkout", 21,
                               context="    return cart.receipt()",
                               vars={"items": "[(10.0, 2)]", "code": "4242"}),
                        _frame("/app/shop/cart.py", "receipt", 16,
                               context='        return "Total: " + format_price(self.total())',
                               vars={"self": "<shop.cart.Cart object at 0x1>"}),
                        _frame("/app/shop/cart.py", "total", 13,
                               context="        return apply_discount(self.subtotal(), "
                                       "self.code)", vars={"self": "<Cart>"}),
                        _frame("/app/shop/pricing.py", "apply_discount", 15,
                               context="    pct = discount_for(code)",
                               vars={"amount": "20.0", "code": "4242"}),
                        _frame("/app/shop/pricing.py", "discount_for", 8,
                               context="    code = code.strip().upper()",
                               vars={"code": "4242"}),
                    ]}}]}}
    ev = analyse(parse_event(raw), shop["repo"], FIRST_SEEN)
    ranked = [(s.file, s.function) for s in ev.suspect_locations]
    assert ranked[0] == ("shop/pricing.py", "discount_for")
    checkout = next(s for s in ev.suspect_locations if s.function == "checkout")
    assert "provenance" in checkout.signals
    assert ranked.index(("shop/cart.py", "checkout")) < ranked.index(("shop/cart.py", "total"))


def test_missing_attribute_points_at_the_constructor(tmp_path):
    repo = tmp_path / "svc"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _commit(repo, "Ann", "2024-01-05", "Worker", {"svc/worker.py": textwrap.dedent('''\
        class Worker:
            def __init__(self, queue, dry_run=False):
                self.queue = queue
                if dry_run:
                    return
                self.batch = 10

            def size(self):
                return self.batch
        ''')})
    raw = {"timestamp": "2024-02-01T00:00:00Z", "exception": {"values": [{
        "type": "AttributeError", "value": "'Worker' object has no attribute 'batch'",
        "stacktrace": {"frames": [_frame("/srv/svc/worker.py", "size", 9,
                                         context="        return self.batch")]}}]}}
    ev = analyse(parse_event(raw), repo)
    by_fn = {s.function: s for s in ev.suspect_locations}
    init = by_fn["__init__"]
    assert "attribute_early_return" in init.signals
    assert any("returns at line 5 before assigning self.batch" in r for r in init.reasons)
    assert ev.suspect_locations[0].function in ("size", "__init__")


def test_recent_change_in_a_callee_not_in_the_stack(tmp_path):
    """The crash line uses what a callee returned; the callee changed just before first-seen
    while the crashing function is old: the callee's commit is the suspect."""
    repo = tmp_path / "cfg"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    old = _commit(repo, "Ann", "2023-06-01", "Config", {"app/config.py": textwrap.dedent('''\
        import os


        def load(name):
            return {"timeout": int(os.environ.get("TIMEOUT", "5"))}


        def timeout():
            cfg = load("default")
            return cfg["timeout"]
        ''')})
    new = _commit(repo, "Ben", "2024-03-01", "Only load known configs",
                  {"app/config.py": (repo / "app/config.py").read_text().replace(
                      '    return {"timeout"',
                      '    if name != "main":\n        return None\n    return {"timeout"')})
    raw = {"timestamp": "2024-03-02T00:00:00Z", "exception": {"values": [{
        "type": "TypeError", "value": "'NoneType' object is not subscriptable",
        "stacktrace": {"frames": [_frame("/srv/app/config.py", "timeout", 12,
                                         context='    return cfg["timeout"]',
                                         pre_context=['def timeout():',
                                                      '    cfg = load("default")'])]}}]}}
    ev = analyse(parse_event(raw), repo)
    names = [s.function for s in ev.suspect_locations]
    assert names[0] == "timeout" and "load" in names[:3]
    assert ev.suspect_commits[0].sha == new and old in {c.sha for c in ev.suspect_commits}


def _calc_repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """`parse` written by Ann long ago and rewritten by Bob (the regression); two days later
    Wes renames a helper across 100 files, the crash line included."""
    repo = tmp_path / "calc"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    shas = {}
    parse_v1 = textwrap.dedent('''\
        def to_int(x):
            return int(x)


        def parse(text):
            parts = text.split(",")
            return [to_int(p) for p in parts]


        def handle(req):
            return parse(req["body"])
        ''')
    mods = {f"app/mod{i:03d}.py": "from app.calc import to_int\n\nX = to_int('1')\n"
            for i in range(100)}
    shas["ann"] = _commit(repo, "Ann", "2023-01-05", "Calculator",
                          {"app/__init__.py": "", "app/calc.py": parse_v1, **mods})
    body = ("    text = text.strip()\n    if not text:\n        return []\n"
            "    sep = \";\" if \";\" in text else \",\"\n"
            "    parts = [p.strip() for p in text.split(sep)]\n"
            "    parts = [p for p in parts if p]\n"
            "    values = [to_int(p) for p in parts]\n"
            "    values.sort()\n    return values\n")
    parse_v2 = parse_v1.replace(
        '    parts = text.split(",")\n    return [to_int(p) for p in parts]\n', body)
    assert parse_v2 != parse_v1
    shas["bob"] = _commit(repo, "Bob", "2024-02-20", "Accept ;-separated input",
                          {"app/calc.py": parse_v2})
    shas["wes"] = _commit(repo, "Wes", "2024-02-22", "Rename to_int to as_int everywhere", {
        "app/calc.py": parse_v2.replace("to_int", "as_int"),
        **{k: v.replace("to_int", "as_int") for k, v in mods.items()}})
    return repo, shas


def test_wide_mechanical_commit_on_the_crash_line_is_discounted(tmp_path):
    repo, shas = _calc_repo(tmp_path)
    src = (repo / "app/calc.py").read_text().splitlines()
    crash = next(i for i, t in enumerate(src, 1) if "values = [as_int" in t)
    call = next(i for i, t in enumerate(src, 1) if "return parse(" in t)
    raw = {"timestamp": "2024-03-01T09:00:00Z", "exception": {"values": [{
        "type": "ValueError", "value": "invalid literal for int() with base 10: '1,2'",
        "stacktrace": {"frames": [
            _frame("/srv/app/calc.py", "handle", call, context=src[call - 1]),
            _frame("/srv/app/calc.py", "parse", crash, context=src[crash - 1])]}}]}}
    ev = analyse(parse_event(raw), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    # Wes's rename last changed the crash line, but it is a 101-file mechanical commit; Bob
    # wrote nearly all of the function around it just before.
    assert ranked[0] == shas["bob"], [c.subject for c in ev.suspect_commits]
    wes = next(c for c in ev.suspect_commits if c.sha == shas["wes"])
    assert any("a wide commit (101 files changed)" in r for r in wes.reasons)
    assert ranked.index(shas["wes"]) == 1


# ---------------------------------------------------------------------------------------------
# CLI


def test_cli_json_and_markdown(shop, event_v120, tmp_path, capsys):
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"action": "triggered", "data": {"event": event_v120}}))
    assert cli_main(["--event", str(path), "--repo", str(shop["repo"]),
                     "--first-seen", FIRST_SEEN.isoformat()]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["suspect_commits"][0]["sha"] == shop["shas"]["dave"]
    assert data["suspect_locations"][0]["file"] == "shop/pricing.py"
    assert data["commit"] == shop["shas"]["erin"] and data["frames"] and data["impact"]
    assert cli_main(["--event", str(path), "--repo", str(shop["repo"]), "--format", "md",
                     "--first-seen", FIRST_SEEN.isoformat()]) == 0
    assert capsys.readouterr().out.startswith("# Root-cause evidence: AttributeError")
    assert cli_main(["--event", str(tmp_path / "nope.json"), "--repo", str(shop["repo"])]) == 2
