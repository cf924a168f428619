"""Blame that follows the code: whitespace-only culprits, moved code, meta-changes, path mapping.

Each test builds a real git repository with a dated history (skills/rca/sample.py helpers) and
runs the real analysis on a Sentry-shaped event.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from integrations.sentry_event import parse_event
from integrations.sentry_model import Frame
from skills.rca.evidence import Git, analyse
from skills.rca.meta import meta_change
from skills.rca.paths import RepoFiles
from skills.rca.sample import commit, git
from tests.rca_repo import _event, _frame, _line_of, _repo

GUARDED = textwrap.dedent('''\
    import json


    def load(text):
        """The value of a JSON document (None when it has none)."""
        try:
            data = json.loads(text)
            return data["value"]
        except (ValueError, KeyError):
            return None


    def handle(body):
        return {"value": load(body)}
    ''')


def test_whitespace_only_culprit_removing_a_try_guard_is_credited(tmp_path):
    """Removing `try:` re-indents the body: the lines are Bob's, not Ann's (no `git blame -w`)."""
    repo = _repo(tmp_path)
    ann = commit(repo, "Ann", "2023-05-02", "Vendor the loader", {"svc/__init__.py": "",
                                                                  "svc/loader.py": GUARDED})
    unguarded = GUARDED.replace(
        '    try:\n        data = json.loads(text)\n        return data["value"]\n'
        '    except (ValueError, KeyError):\n        return None\n',
        '    data = json.loads(text)\n    return data["value"]\n')
    bob = commit(repo, "Bob", "2024-03-01", "Simplify load", {"svc/loader.py": unguarded})
    crash, text = _line_of(repo, "svc/loader.py", 'return data["value"]')
    call, ctext = _line_of(repo, "svc/loader.py", "load(body)")
    raw = _event([_frame("svc/loader.py", "handle", call, ctext),
                  _frame("svc/loader.py", "load", crash, text)], "2024-03-02T00:00:00Z")
    ev = analyse(parse_event(raw), repo)
    assert ev.suspect_commits[0].sha == bob, [c.subject for c in ev.suspect_commits]
    assert ev.frames[0].last_change["sha"] == bob
    assert ann in {c.sha for c in ev.suspect_commits}


PARSE = textwrap.dedent('''\
    def parse_pairs(text, separator=","):
        """Split `key=value` pairs separated by `separator` into a dictionary of strings."""
        result = {}
        for chunk in text.split(separator):
            key, value = chunk.split("=")
            result[key.strip()] = value.strip()
        return result
    ''')


def test_code_moved_between_files_is_blamed_on_its_origin(tmp_path):
    """Carol moves `parse_pairs` to a new module unchanged; Bob's earlier edit broke it."""
    repo = _repo(tmp_path)
    commit(repo, "Ann", "2023-01-10", "Utilities", {
        "app/__init__.py": "", "app/util.py": "import os\n\n\n" + PARSE + "\n\ndef home():\n"
                                              "    return os.environ.get('HOME')\n"})
    buggy = PARSE.replace('key, value = chunk.split("=")', 'key, value = chunk.split("=", 2)')
    bob = commit(repo, "Bob", "2024-02-20", "Allow = in values", {
        "app/util.py": (repo / "app/util.py").read_text().replace(PARSE, buggy)})
    carol = commit(repo, "Carol", "2024-02-26", "Move parsing helpers to their own module", {
        "app/util.py": (repo / "app/util.py").read_text().replace(buggy + "\n\n", ""),
        "app/parsing.py": buggy})
    crash, text = _line_of(repo, "app/parsing.py", "chunk.split(")
    raw = _event([_frame("app/parsing.py", "parse_pairs", crash, text)], "2024-03-01T00:00:00Z",
                 "ValueError", "too many values to unpack (expected 2)")
    ev = analyse(parse_event(raw), repo)
    assert ev.frames[0].last_change["sha"] == bob
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[0] == bob, [c.subject for c in ev.suspect_commits]
    assert carol not in ranked[:1]


def test_meta_changes_are_recognised(tmp_path):
    repo = _repo(tmp_path)
    g = Git(repo)
    code = "import os\n\n\ndef total(xs):\n    if xs:\n        s = sum(xs)\n    return s\n"
    root = commit(repo, "Ann", "2024-01-01", "Initial", {"app/calc.py": code})
    real = commit(repo, "Bob", "2024-01-02", "Handle empty input", {
        "app/calc.py": code.replace("    return s\n", "    else:\n        s = 0\n    return s\n")})
    fmt = commit(repo, "Cid", "2024-01-03", "Reformat", {
        "app/calc.py": (repo / "app/calc.py").read_text().replace("sum(xs)", "sum( xs )")
        .replace("import os\n", "import os  # env\n")})
    imports = commit(repo, "Dee", "2024-01-04", "Tidy imports", {
        "app/calc.py": (repo / "app/calc.py").read_text().replace("import os", "import sys")})
    git(repo, "mv", "app/calc.py", "app/maths.py")
    rename = commit(repo, "Eve", "2024-01-05", "Rename calc to maths", {})
    bump = commit(repo, "Fay", "2024-01-06", "Bump version to 1.2.0", {
        "app/version.py": "__version__ = '1.2.0'\n"})
    vendored = commit(repo, "Gus", "2024-01-07", "Update vendored lib", {
        "app/_vendor/lib.py": "def f():\n    return 1\n"})
    src = (repo / "app/maths.py").read_text()
    dedent = commit(repo, "Hal", "2024-01-08", "Always sum", {
        "app/maths.py": src.replace("        s = sum( xs )\n", "        pass\n    s = sum( xs )\n")})
    kinds = {name: meta_change(g, sha, g.commit(sha).subject) for name, sha in [
        ("root", root), ("real", real), ("fmt", fmt), ("imports", imports), ("rename", rename),
        ("bump", bump), ("vendored", vendored), ("dedent", dedent)]}
    assert kinds["root"] == "the repository's first commit"
    assert kinds["real"] is None and kinds["dedent"] is None
    assert kinds["fmt"].startswith("formatting only")
    assert kinds["imports"] == "imports only"
    assert kinds["rename"] == "a pure rename or move"
    assert kinds["bump"] == "a version bump"
    assert kinds["vendored"] == "vendored or generated files only"


def test_a_reformatting_commit_on_the_crash_line_is_not_the_suspect(tmp_path):
    repo = _repo(tmp_path)
    code = textwrap.dedent('''\
        def ratio(done, total):
            return done / total


        def progress(job):
            return ratio(job["done"], job["total"])
        ''')
    commit(repo, "Ann", "2023-01-01", "Jobs", {"jobs/__init__.py": "", "jobs/progress.py": code,
                                                "jobs/other.py": "X = 1\n"})
    bob = commit(repo, "Bob", "2024-02-25", "Count only finished jobs", {
        "jobs/progress.py": code.replace('job["total"]', 'job.get("finished", 0)')})
    black = commit(repo, "Bot", "2024-02-28", "Apply black", {
        "jobs/progress.py": (repo / "jobs/progress.py").read_text().replace(
            "return done / total", "return (done) / (total)")})
    crash, text = _line_of(repo, "jobs/progress.py", "return (done)")
    call, ctext = _line_of(repo, "jobs/progress.py", "return ratio(")
    raw = _event([_frame("jobs/progress.py", "progress", call, ctext),
                  _frame("jobs/progress.py", "ratio", crash, text)], "2024-03-01T00:00:00Z",
                 "ZeroDivisionError", "division by zero")
    ev = analyse(parse_event(raw), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[0] == bob, [c.subject for c in ev.suspect_commits]
    meta = next(c for c in ev.suspect_commits if c.sha == black)
    assert meta.meta and any("meta-change" in r for r in meta.reasons)


def _fr(**kw) -> Frame:
    base = {"filename": None, "abs_path": None, "module": None, "function": "f", "lineno": 1}
    return Frame(**{**base, **kw})


def test_package_init_matches_only_by_its_full_path():
    files = RepoFiles(["app/__init__.py", "app/views.py", "src/shop/__init__.py"])
    assert files.match(_fr(module="requests")) is None  # not `app/__init__.py` by basename
    assert files.match(_fr(module="app")).path == "app/__init__.py"
    assert files.match(_fr(module="shop")).path == "src/shop/__init__.py"
    assert files.match(_fr(module="other.shop")) is None
    assert files.match(_fr(filename="__init__.py", abs_path="/x/__init__.py")) is None


def test_exec_string_frames_are_never_mapped(tmp_path):
    files = RepoFiles(["app/__init__.py", "app/views.py"])
    assert files.match(_fr(filename="<string>", abs_path="<string>", module="app.views")) is None
    assert files.match(_fr(filename="<template>", module="app.views")) is None
    assert files.match(_fr(filename="app/views.py", module="app.views")).path == "app/views.py"
    repo = _repo(tmp_path)
    commit(repo, "Ann", "2024-01-01", "Views", {"app/__init__.py": "", "app/views.py":
                                                "def show(x):\n    return x['a']\n"})
    raw = _event([_frame("app/views.py", "show", 2, "    return x['a']"),
                  {"filename": "<string>", "abs_path": "<string>", "module": "app.views",
                   "function": "show", "lineno": 1, "in_app": True}], "2024-02-01T00:00:00Z")
    ev = analyse(parse_event(raw), repo)
    assert [f.file for f in ev.frames if f.file] == ["app/views.py"]
    assert ev.frames[0].file is None and ev.frames[0].raw_path == "<string>"
    assert all(loc.line != 1 or loc.function != "show" for loc in ev.suspect_locations[:1])


def test_first_seen_bound_and_dates_are_utc(tmp_path):
    repo = _repo(tmp_path)
    sha = commit(repo, "Ann", "2024-01-01", "One", {"a.py": "x = 1\n"})
    info = Git(repo).commit(sha)
    assert info.commit_time == datetime(2024, 1, 1, 10, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------
# names resolved through the failing module's imports (jedi), lists of alternatives


def _two_loaders(tmp_path: Path) -> Path:
    repo = _repo(tmp_path, "cfg")
    commit(repo, "Ann", "2024-01-05", "Loaders", {
        "app/__init__.py": "",
        "app/json_io.py": "import json\n\n\ndef load(path):\n    return json.load(open(path))\n",
        "app/yaml_io.py": "def load(path):\n    return {}\n",
        "tests/test_settings.py": "from app.yaml_io import load\n\n\ndef test_load():\n"
                                  "    assert load('x.yml') == {'a': 1}\n"})
    return repo


def test_callee_is_resolved_through_the_modules_imports(tmp_path):
    """Two modules define `load`; the failing test imports the YAML one: that is the callee."""
    repo = _two_loaders(tmp_path)
    raw = {"timestamp": "2024-02-01T00:00:00Z", "platform": "python", "exception": {"values": [{
        "type": "AssertionError", "value": "assert {} == {'a': 1}", "stacktrace": {"frames": [
            {"abs_path": "/srv/tests/test_settings.py", "filename": "tests/test_settings.py",
             "module": "tests.test_settings", "function": "test_load", "lineno": 5,
             "in_app": False, "context_line": "    assert load('x.yml') == {'a': 1}"}]}}]}}
    ev = analyse(parse_event(raw), repo)
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("app/yaml_io.py", "load")
    callees = [(s.file, s.function) for s in ev.suspect_locations if "callee" in s.signals]
    assert callees == [("app/yaml_io.py", "load")]


def test_names_in_a_list_of_alternatives_do_not_outrank_the_real_function(tmp_path):
    repo = _repo(tmp_path, "reg")
    commit(repo, "Ann", "2024-01-05", "Registry", {
        "app/__init__.py": "",
        "app/handlers.py": "def refund_order(o):\n    return o\n\n\n"
                           "def cancel_order(o):\n    return o\n",
        "app/registry.py": "from app import handlers\n\nHANDLERS = {'cancel': "
                           "handlers.cancel_order}\n\n\ndef lookup(name):\n"
                           "    return HANDLERS[name]\n",
        "tests/test_registry.py": "from app.registry import lookup\n\n\ndef test_refund():\n"
                                  "    assert lookup('refund')\n"})
    raw = {"timestamp": "2024-02-01T00:00:00Z", "platform": "python", "exception": {"values": [{
        "type": "LookupError",
        "value": "no handler 'refund'; candidates are: cancel_order, refund_order",
        "stacktrace": {"frames": [
            {"abs_path": "/srv/tests/test_registry.py", "filename": "tests/test_registry.py",
             "module": "tests.test_registry", "function": "test_refund", "lineno": 5,
             "in_app": False, "context_line": "    assert lookup('refund')"}]}}]}}
    ev = analyse(parse_event(raw), repo)
    assert (ev.suspect_locations[0].file, ev.suspect_locations[0].function) == (
        "app/registry.py", "lookup")
    listed = [s for s in ev.suspect_locations if s.function in ("cancel_order", "refund_order")]
    assert all("message" not in s.signals for s in listed)


# ---------------------------------------------------------------------------------------------
# exception chains


SETTINGS = textwrap.dedent('''\
    class ConfigError(Exception):
        pass


    def parse_port(text):
        return int(text.strip(":"))


    def port_of(address):
        try:
            return parse_port(address)
        except ValueError:
            raise ConfigError(f"bad address {address!r}") from None


    def serve(address):
        return port_of(address)
    ''')


def _settings_event(repo: Path, chained: bool) -> dict:
    raise_line, rtext = _line_of(repo, "app/settings.py", "raise ConfigError")
    call_line, ctext = _line_of(repo, "app/settings.py", "return port_of(")
    primary = {"type": "ConfigError", "value": "bad address 'db:5432'", "stacktrace": {"frames": [
        _frame("app/settings.py", "serve", call_line, ctext, module="app.settings"),
        _frame("app/settings.py", "port_of", raise_line, rtext, module="app.settings")]}}
    values = [primary]
    if chained:
        try_line, ttext = _line_of(repo, "app/settings.py", "return parse_port(")
        bug, btext = _line_of(repo, "app/settings.py", 'int(text.strip(":"))')
        values = [{"type": "ValueError", "value": "invalid literal for int() with base 10: "
                   "'db:5432'", "mechanism": {"type": "chained", "source": "__context__"},
                   "stacktrace": {"frames": [
                       _frame("app/settings.py", "port_of", try_line, ttext),
                       _frame("app/settings.py", "parse_port", bug, btext)]}}, primary]
    return {"timestamp": "2024-03-02T00:00:00Z", "platform": "python",
            "exception": {"values": values}}


def test_cause_hidden_by_raise_from_none_is_found_in_the_try_block(tmp_path):
    repo = _repo(tmp_path, "conf")
    commit(repo, "Ann", "2024-01-05", "Settings", {"app/__init__.py": "",
                                                   "app/settings.py": SETTINGS})
    ev = analyse(parse_event(_settings_event(repo, chained=False)), repo)
    ranked = [s.function for s in ev.suspect_locations]
    assert "parse_port" in ranked[:2], ranked
    parse = next(s for s in ev.suspect_locations if s.function == "parse_port")
    assert "hidden_cause" in parse.signals
    assert any("from None" in r for r in parse.reasons)
    assert any("hides the original exception" in n for n in ev.notes)


def test_recorded_context_weighs_as_much_as_the_translation(tmp_path):
    repo = _repo(tmp_path, "conf2")
    commit(repo, "Ann", "2024-01-05", "Settings", {
        "app/__init__.py": "", "app/settings.py": SETTINGS.replace(" from None", "")})
    ev = analyse(parse_event(_settings_event(repo, chained=True)), repo)
    assert ev.suspect_locations[0].function == "parse_port", [
        (s.function, s.signals) for s in ev.suspect_locations]
    assert any("translates the exception" in n for n in ev.notes)


ORDERS = textwrap.dedent('''\
    RATES = {"FR": 1.2, "DE": 1.19}


    def price(order):
        """The order's price with VAT."""
        country = order["country"]
        rate = RATES[country] if country in RATES else 1.0
        amount = order["amount"]
        if order.get("gift"):
            amount = 0
        total = amount * rate
        return round(total, 2)


    def submit(order):
        order["total"] = price(order)
        return order


    def handle(request):
        return submit(request["order"])
    ''')


def test_a_recent_change_on_the_innermost_frame_beats_an_old_sum_over_frames(tmp_path):
    """Ann wrote every frame line a year ago; Bob changed the crashing function two days before
    first-seen (not the crash line itself). Ann's links to three frames must not outweigh it."""
    repo = _repo(tmp_path, "orders")
    ann = commit(repo, "Ann", "2023-02-01", "Orders", {"app/__init__.py": "",
                                                        "app/orders.py": ORDERS})
    commit(repo, "Cid", "2023-06-01", "Docs", {"README.md": "orders\n"})
    bob = commit(repo, "Bob", "2024-02-28", "Use the country's rate only", {
        "app/orders.py": ORDERS.replace("RATES[country] if country in RATES else 1.0",
                                        "RATES.get(country)")})
    crash, text = _line_of(repo, "app/orders.py", "total = amount * rate")
    mid, mtext = _line_of(repo, "app/orders.py", 'order["total"] = price(order)')
    out, otext = _line_of(repo, "app/orders.py", "return submit(")
    raw = _event([_frame("app/orders.py", "handle", out, otext),
                  _frame("app/orders.py", "submit", mid, mtext),
                  _frame("app/orders.py", "price", crash, text)], "2024-03-01T00:00:00Z",
                 "TypeError", "unsupported operand type(s) for *: 'int' and 'NoneType'")
    ev = analyse(parse_event(raw), repo)
    ranked = [c.sha for c in ev.suspect_commits]
    assert ranked[0] == bob, [(c.subject, round(c.score, 2)) for c in ev.suspect_commits]
    assert ann in ranked


def test_an_identifier_renamed_everywhere_is_a_meta_change(tmp_path):
    """Renaming a helper in every file that uses it changes no behaviour; swapping one name for
    another on one line (the old name still used elsewhere) is a real change."""
    repo = _repo(tmp_path)
    g = Git(repo)
    util = "def to_int(x):\n    return int(x)\n\n\ndef to_float(x):\n    return float(x)\n"
    use = "from app.util import to_int, to_float\n\n\ndef a(v):\n    return to_int(v)\n\n\n" \
          "def b(v):\n    return to_float(v)\n"
    commit(repo, "Ann", "2024-01-01", "Start", {"app/util.py": util, "app/use.py": use})
    renamed = commit(repo, "Wes", "2024-01-02", "Rename to_int to as_int everywhere", {
        "app/util.py": util.replace("to_int", "as_int"),
        "app/use.py": use.replace("to_int", "as_int")})
    swapped = commit(repo, "Bob", "2024-01-03", "Parse b as an int", {
        "app/use.py": (repo / "app/use.py").read_text().replace("return to_float(v)",
                                                                "return as_int(v)")})
    assert meta_change(g, renamed) == "an identifier renamed everywhere"
    assert meta_change(g, swapped) is None
