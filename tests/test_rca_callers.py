"""A widely used helper failing on the arguments it was given points at its caller; a name that
many modules or classes define is not such a helper (skills/rca/callers.py).

Each test builds a real git repository and runs the real analysis on a Sentry-shaped event.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from integrations.sentry_event import parse_event
from skills.rca.evidence import analyse
from skills.rca.sample import commit
from tests.rca_repo import _event, _frame, _line_of, _repo


def _caller_and_callee(repo: Path, caller: tuple[str, str, str], callee: tuple[str, str, str],
                       etype: str, value: str):
    """The analysis of an event whose two frames sit on the lines holding the given needles."""
    frames = []
    for path, func, needle in (caller, callee):
        line, text = _line_of(repo, path, needle)
        frames.append(_frame(path, func, line, text,
                             module=path.removesuffix(".py").replace("/", ".")))
    return analyse(parse_event(_event(frames, "2024-02-01T00:00:00Z", etype, value)), repo)


def test_a_widely_used_helper_failing_on_its_argument_points_at_the_caller(tmp_path):
    repo = _repo(tmp_path, "texts")
    util = textwrap.dedent('''\
        def to_text(value, encoding="utf-8"):
            if isinstance(value, bytes):
                return value.decode(encoding)
            if not isinstance(value, str):
                raise TypeError("to_text needs bytes or str, got %s" % type(value).__name__)
            return value
        ''')
    users = [f"def label_{i}(x):\n    return to_text(x)\n" for i in range(6)]
    commit(repo, "Ann", "2023-01-01", "Text helpers", {
        "app/__init__.py": "", "app/util.py": util,
        "app/labels.py": "from app.util import to_text\n\n\n" + "\n\n".join(users),
        "app/mail.py": "from app.util import to_text\n\n\ndef greeting(user):\n"
                       "    name = user.get('first_name')\n"
                       "    return 'Hello ' + to_text(name)\n"})
    raise_line, rtext = _line_of(repo, "app/util.py", "raise TypeError")
    call, ctext = _line_of(repo, "app/mail.py", "to_text(name)")
    raw = _event([_frame("app/mail.py", "greeting", call, ctext, module="app.mail"),
                  _frame("app/util.py", "to_text", raise_line, rtext, module="app.util")],
                 "2024-02-01T00:00:00Z", "TypeError", "to_text needs bytes or str, got NoneType")
    ev = analyse(parse_event(raw), repo)
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("app/mail.py", "greeting"), [
        (s.function, s.signals) for s in ev.suspect_locations]
    assert "caller_of_helper" in top.signals
    assert any("widely used helpers" in n for n in ev.notes)


def test_a_name_every_plugin_defines_is_not_a_widely_used_helper(tmp_path):
    """`match` is defined by every rule and called in every rule's test: counted by bare name it
    looks like a helper with dozens of call sites, and the decorator that called it took the
    blame. Only calls that can reach this module count, so the failing rule stays first."""
    repo = _repo(tmp_path, "rules")
    files = {"app/__init__.py": "", "app/rules/__init__.py": "",
             "app/support.py": "def git_support(fn):\n    def wrapper(command):\n"
                               "        return fn(command)\n    return wrapper\n"}
    for i in range(8):
        files[f"app/rules/rule_{i}.py"] = (f"def match(command):\n    return command.startswith('r{i}')\n")
        files[f"tests/test_rule_{i}.py"] = (f"from app.rules.rule_{i} import match\n\n\n"
                                            f"def test_match():\n    assert match('r{i} x')\n"
                                            f"    assert not match('x')\n")
    files["app/rules/stash.py"] = ("from app.support import git_support\n\n\n@git_support\n"
                                   "def match(command):\n    return command.split()[1] == 'stash'\n")
    commit(repo, "Ann", "2023-01-01", "Rules", files)
    ev = _caller_and_callee(repo, ("app/support.py", "wrapper", "return fn(command)"),
                            ("app/rules/stash.py", "match", "split()[1]"),
                            "IndexError", "list index out of range")
    top = ev.suspect_locations[0]
    assert (top.file, top.function) == ("app/rules/stash.py", "match"), [
        (s.file, s.function, s.signals) for s in ev.suspect_locations]
    assert not any("caller_of_helper" in s.signals for s in ev.suspect_locations)


def test_a_method_every_sibling_class_defines_is_not_a_widely_used_helper(tmp_path):
    """`serialize` is defined by each parameter class and called on all of them: its calls are
    shared among the definitions, so the one that failed is not a widely used helper and the
    caller that only passed the value on does not take the blame."""
    repo = _repo(tmp_path, "params")
    classes = "\n\n".join(f"class P{i}:\n    def serialize(self, x):\n        return str(x)\n"
                           for i in range(6))
    params = ("import json\n\n\n" + classes + "\n\nclass ListParam:\n    def serialize(self, x):\n"
              "        return json.dumps(x)\n")
    users = "\n\n".join(f"def show_{i}(p, v):\n    return p.serialize(v)\n" for i in range(8))
    commit(repo, "Ann", "2023-01-01", "Parameters", {
        "app/__init__.py": "", "app/params.py": params,
        "app/show.py": "from app import params\n\n\n" + users,
        "app/task.py": "from app.params import ListParam\n\n\ndef to_str(values):\n"
                       "    return ListParam().serialize(values)\n"})
    ev = _caller_and_callee(repo, ("app/task.py", "to_str", "serialize(values)"),
                            ("app/params.py", "serialize", "json.dumps(x)"),
                            "TypeError", "Object of type Frozen is not JSON serializable")
    top = ev.suspect_locations[0]
    assert (top.file, top.qualname) == ("app/params.py", "ListParam.serialize"), [
        (s.file, s.qualname, s.signals) for s in ev.suspect_locations]
    assert not any("caller_of_helper" in s.signals for s in ev.suspect_locations)


def test_what_counts_as_failing_on_the_arguments():
    from skills.rca.callers import fails_on_arguments, forwards_object_state

    src = textwrap.dedent('''\
        def to_text(value, encoding=None):
            if encoding is None:
                encoding = "utf-8"
            return value.decode(encoding)


        def total(items):
            n = len(items)
            return sum(items) / n


        class Bar:
            def show(self):
                return self.render(**self.opts)
        ''').splitlines()
    assert fails_on_arguments(src, 1, 4, 4)  # a normalised parameter is still the argument
    assert not fails_on_arguments(src, 7, 9, 9)  # `n` was computed here
    assert forwards_object_state(src, 13, 14, 14)
    assert not forwards_object_state(src, 1, 4, 4)
