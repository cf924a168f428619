"""The code under test: a failure that surfaces in test code (no project frame on the stack).

A real temporary git repository holds a package under `src/` (imported as `inventory`), an
unrelated module with functions of the same names, and a test module. Events are shaped as the
real sentry-sdk writes them for a failing pytest test: library frames of pytest and the test's
own frame, with its code lines and local variables.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integrations.sentry_event import parse_event
from skills.rca.evidence import analyse
from skills.rca.naming import function_link, linked_files, subject_tokens
from skills.rca.sample import commit, git

BASE = """\
class Ledger:
    def balance(self):
        return sum(self.items.values()) + 1
"""
STOCK = """\
from inventory.base import Ledger


class Stock(Ledger):
    def __init__(self, items=None):
        self.items = dict(items or {})

    def reserve(self, sku, n):
        left = self.items.get(sku, 0) - n
        return left + n

    def count(self, sku):
        return self.items.get(sku, 0)
"""
LEGACY = """\
def reserve(sku, n):
    return n


def balance(rows):
    return sum(rows)


def count(rows):
    return len(rows)
"""
VERSION = """\
class Tag:
    def __init__(self, text):
        self.text = text

    def __gt__(self, other):
        return self.text >= other.text

    def __eq__(self, other):
        return self.text == other.text
"""
TEST_STOCK = """\
from inventory.stock import Stock


def make():
    return Stock({"a": 3})


def test_reserve_keeps_the_rest():
    stock = make()
    stock.count("a")
    left = stock.reserve("a", 1)
    assert left == 2
"""


@pytest.fixture(scope="module")
def inventory(tmp_path_factory) -> dict:
    repo = tmp_path_factory.mktemp("inventory")
    git(repo, "init", "-q", "-b", "main")
    sha = commit(repo, "Alice", "2024-01-02", "Inventory", {
        "src/inventory/__init__.py": "", "src/inventory/base.py": BASE,
        "src/inventory/stock.py": STOCK, "src/inventory/legacy/__init__.py": "",
        "src/inventory/legacy/stock_tools.py": LEGACY, "tests/test_stock.py": TEST_STOCK,
        "src/inventory/version.py": VERSION,
        "tests/test_version.py": "from inventory.version import Tag\n\n\ndef test_tag():\n"
                                 "    assert not Tag('a') > Tag('a')\n",
        "tests/__init__.py": ""})
    return {"repo": repo, "sha": sha}


def _pytest_frames() -> list[dict]:
    lib = "/usr/local/lib/python3.11/site-packages/_pytest/python.py"
    return [{"filename": "_pytest/python.py", "abs_path": lib, "function": "pytest_pyfunc_call",
             "module": "_pytest.python", "lineno": 194, "in_app": False,
             "context_line": "    result = testfunction(**testargs)"}]


def _event(sha: str, frame: dict, value: str) -> dict:
    return {"timestamp": "2024-03-13T00:00:00Z", "release": sha, "platform": "python",
            "exception": {"values": [{"type": "AssertionError", "value": value,
                                      "stacktrace": {"frames": _pytest_frames() + [frame]}}]}}


def _test_frame(path: str, function: str, lines: list[str], lineno: int, vars_: dict) -> dict:
    return {"filename": path.split("/srv/inventory/", 1)[1], "abs_path": path,
            "function": function, "module": "tests." + path.rsplit("/", 1)[1][:-3],
            "lineno": lineno, "pre_context": lines[:-1], "context_line": lines[-1],
            "post_context": [], "vars": vars_, "in_app": False}


def test_function_whose_value_fails_the_assert_ranks_first(inventory):
    """The test at the release: `left = stock.reserve(…)` then `assert left == 2`; jedi
    resolves `reserve` through the test module's import, not the same-named legacy function."""
    lines = TEST_STOCK.splitlines()
    frame = _test_frame("/srv/inventory/tests/test_stock.py", "test_reserve_keeps_the_rest",
                        lines[6:12], 12, {"stock": "<inventory.stock.Stock object at 0x7f0a>",
                                          "left": "3"})
    ev = analyse(parse_event(_event(inventory["sha"], frame, "assert 3 == 2")), inventory["repo"])
    top = ev.suspect_locations[0]
    assert (top.file, top.qualname) == ("src/inventory/stock.py", "Stock.reserve")
    assert "from the test's calls, not the stack" in top.reasons[0]
    assert not top.in_stack
    assert all(s.file != "src/inventory/legacy/stock_tools.py" for s in ev.suspect_locations)
    assert any("not from the stack" in n for n in ev.notes)
    # the count() call made no value the assert uses: it ranks below
    count = next(s for s in ev.suspect_locations if s.qualname == "Stock.count")
    assert count.score < top.score


def test_newer_test_missing_at_the_release_resolves_through_the_objects_it_held(inventory):
    """The test that ran is newer than the release (its file is not there): the event's own
    lines and the types of its variables resolve `stock.balance()` to the inherited method."""
    lines = ["def test_balance_sums_items():", "    stock = Stock({'a': 1, 'b': 2})",
             "    total = stock.balance()", "    assert total == 3"]
    frame = _test_frame("/srv/inventory/tests/test_ledger.py", "test_balance_sums_items",
                        lines, 7, {"stock": "<inventory.stock.Stock object at 0x7f3a>",
                                   "total": "4"})
    ev = analyse(parse_event(_event(inventory["sha"], frame, "assert 4 == 3")), inventory["repo"])
    top = ev.suspect_locations[0]
    assert (top.file, top.qualname) == ("src/inventory/base.py", "Ledger.balance")
    assert any("reaches the failing line" in r for r in top.reasons)
    legacy = [s for s in ev.suspect_locations if "legacy" in s.file]
    assert all(s.score < top.score for s in legacy)


def test_operator_on_the_failing_line_runs_the_special_method(inventory):
    """`assert not Tag('a') > Tag('a')`: the comparison ran Tag.__gt__, which outranks the
    constructor that only built the operands."""
    frame = _test_frame("/srv/inventory/tests/test_version.py", "test_tag",
                        ["def test_tag():", "    assert not Tag('a') > Tag('a')"], 5, {})
    ev = analyse(parse_event(_event(inventory["sha"], frame, "assert not 'a' > 'a'")),
                 inventory["repo"])
    names = [s.qualname for s in ev.suspect_locations]
    assert names[0] == "Tag.__gt__"
    assert names.index("Tag.__init__") > 0 and "Tag.__eq__" not in names[:1]


def test_no_test_frame_no_test_signals(inventory):
    """A crash inside the package keeps the stack's ranking: no test-derived signal."""
    frame = {"filename": "inventory/stock.py", "abs_path": "/srv/inventory/src/inventory/stock.py",
             "function": "reserve", "module": "inventory.stock", "lineno": 9, "in_app": True,
             "context_line": "        left = self.items.get(sku, 0) - n"}
    ev = analyse(parse_event(_event(inventory["sha"], frame, "boom")), inventory["repo"])
    top = ev.suspect_locations[0]
    assert (top.file, top.qualname) == ("src/inventory/stock.py", "Stock.reserve")
    assert not any(k.startswith("test_") for s in ev.suspect_locations for k in s.signals)


def test_test_module_names_link_to_the_module_under_test():
    files = ["lib/ansible/plugins/lookup/env.py", "lib/ansible/module_utils/env.py",
             "lib/ansible/plugins/lookup/file.py", "scrapy/utils/gz.py", "scrapy/gz.py",
             "fastapi/security/http.py", "fastapi/http.py"]
    assert linked_files("test/units/plugins/lookup/test_env.py", files)[0][0] == \
        "lib/ansible/plugins/lookup/env.py"
    assert linked_files("tests/test_utils_gz.py", files)[0][0] == "scrapy/utils/gz.py"
    assert linked_files("tests/test_security_http_bearer_optional.py", files)[0][0] == \
        "fastapi/security/http.py"
    assert linked_files("tests/test_unrelated.py", files) == []


def test_test_names_link_to_functions():
    toks = subject_tokens("test_get_mount_facts")
    assert function_link("get_mount_facts", toks) == 1.0
    assert function_link("get_mount", toks) == 1.0
    assert 0 < function_link("mount", toks) < function_link("get_mount_facts", toks)
    assert function_link("umount", toks) == 0.0
    assert function_link("__new__", subject_tokens("test_new_method_propagates")) > 0
    assert function_link("get_mount_facts",
                         subject_tokens("TestFactsLinuxHardwareGetMountFacts")) > 0


def test_repository_layout_is_real(inventory):
    out = git(Path(inventory["repo"]), "ls-files")
    assert "tests/test_stock.py" in out and "src/inventory/base.py" in out
