"""edit_file: exact-once edits, the lint gate (refused and byte-identical), paths and the plan's scope."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.redact import Redactor
from skills.tools.base import ToolContext
from skills.tools.edit import edit_tool, syntax_error
from skills.tools.git_tools import git_diff_tool
from tests.repos import SERVICE_FILES, git, make_repo

SENDER = "webhooks/sender.py"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ws", SERVICE_FILES)


def edit(ctx: ToolContext, **arguments):
    return edit_tool(ctx).call(arguments)


def test_str_replace_edits_once_shows_a_numbered_window_and_records_the_path(repo: Path):
    ctx = ToolContext(repo=repo)
    result = edit(ctx, path=SENDER, command="str_replace", old_str="attempts=3", new_str="attempts=5")
    assert not result.is_error, result.text
    assert "def send_with_retries(url, payload, attempts=5):" in (repo / SENDER).read_text()
    assert "    6 def send_with_retries(url, payload, attempts=5):" in result.text
    assert len(result.text.splitlines()) <= 20
    assert ctx.notes["edited"] == [SENDER]


def test_str_replace_with_no_match_or_two_matches_is_an_error_and_changes_nothing(repo: Path):
    ctx = ToolContext(repo=repo)
    before = (repo / SENDER).read_bytes()
    missing = edit(ctx, path=SENDER, command="str_replace",
                   old_str="def send_with_retries(url, payload):", new_str="x")
    assert missing.is_error and "No match" in missing.text and "line 6: " in missing.text
    (repo / "twice.py").write_text("def a():\n    return 1\n\n\ndef b():\n    return 1\n")
    before = (repo / "twice.py").read_bytes()
    twice = edit(ctx, path="twice.py", command="str_replace", old_str="    return 1", new_str="    return 2")
    assert twice.is_error and "2 times" in twice.text and "lines 2, 6" in twice.text
    assert (repo / "twice.py").read_bytes() == before
    assert git(repo, "diff", "--name-only") == ""
    assert "edited" not in ctx.notes


def test_an_edit_that_breaks_python_is_refused_and_the_file_is_byte_identical(repo: Path):
    target = repo / "billing/invoice.py"
    original = b'"""Invoices."""\r\n\r\n\r\ndef total(lines):  \r\n    return sum(l.amount for l in lines)'
    target.write_bytes(original)  # CRLF, trailing spaces, no final newline: all must survive
    ctx = ToolContext(repo=repo)
    result = edit(ctx, path="billing/invoice.py", command="str_replace",
                  old_str="    return sum(l.amount for l in lines)", new_str="    return sum(l.amount for l in lines")
    assert result.is_error
    assert "not applied" in result.text and "Python" in result.text and "line 5" in result.text
    assert ">    5     return sum(l.amount for l in lines" in result.text
    assert target.read_bytes() == original
    assert "edited" not in ctx.notes


def test_crlf_files_accept_lf_old_str_and_keep_their_line_endings(repo: Path):
    target = repo / "billing/invoice.py"
    target.write_bytes(b'"""Invoices."""\r\n\r\n\r\ndef total(lines):\r\n    return sum(l.amount for l in lines)\r\n')
    result = edit(ToolContext(repo=repo), path="billing/invoice.py", command="str_replace",
                  old_str="def total(lines):\n    return", new_str="def total(lines):\n    # sum\n    return")
    assert not result.is_error, result.text
    assert target.read_bytes().count(b"\r\n") == 6 and b"\n" not in target.read_bytes().replace(b"\r\n", b"")


@pytest.mark.parametrize(("name", "good", "old", "new"), [
    ("config.json", '{"a": 1,\n "b": 2}\n', '"b": 2', '"b": 2,'),
    ("pyproject.toml", '[tool]\nname = "x"\n', 'name = "x"', 'name = "x'),
    ("ci.yml", "jobs:\n  test:\n    steps: [a, b]\n", "steps: [a, b]", "steps: [a, b"),
])
def test_json_toml_and_yaml_breakage_is_refused(repo: Path, name: str, good: str, old: str, new: str):
    (repo / name).write_text(good)
    result = edit(ToolContext(repo=repo), path=name, command="str_replace", old_str=old, new_str=new)
    assert result.is_error and "not applied" in result.text, result.text
    assert (repo / name).read_text() == good


def test_a_file_that_was_already_broken_may_be_edited_and_says_so(repo: Path):
    (repo / "broken.py").write_text("def f(:\n    pass\nX = 1\n")
    result = edit(ToolContext(repo=repo), path="broken.py", command="str_replace", old_str="X = 1", new_str="X = 2")
    assert not result.is_error
    assert "did not parse before" in result.text
    assert (repo / "broken.py").read_text().endswith("X = 2\n")
    fixed = edit(ToolContext(repo=repo), path="broken.py", command="str_replace", old_str="def f(:", new_str="def f():")
    assert not fixed.is_error and syntax_error("broken.py", (repo / "broken.py").read_text()) is None


def test_insert_at_top_middle_and_end(repo: Path):
    ctx = ToolContext(repo=repo)
    path = "billing/invoice.py"
    assert not edit(ctx, path=path, command="insert", insert_line=0, new_str="# top").is_error
    assert not edit(ctx, path=path, command="insert", insert_line=2, new_str="import math\n").is_error
    lines = (repo / path).read_text().splitlines()
    end = edit(ctx, path=path, command="insert", insert_line=len(lines), new_str="\n\nX = 1")
    assert not end.is_error, end.text
    text = (repo / path).read_text()
    assert text.startswith('# top\n"""Invoices."""\nimport math\n') and text.endswith("X = 1\n")
    bad = edit(ctx, path=path, command="insert", insert_line=999, new_str="x")
    assert bad.is_error and "insert_line" in bad.text
    broken = edit(ctx, path=path, command="insert", insert_line=4, new_str="  oops(")
    assert broken.is_error and (repo / path).read_text() == text


def test_create_makes_new_files_but_never_overwrites_or_creates_broken_ones(repo: Path):
    ctx = ToolContext(repo=repo)
    made = edit(ctx, path="pkg/new_mod.py", command="create", file_text="def f():\n    return 1\n")
    assert not made.is_error and (repo / "pkg/new_mod.py").read_text() == "def f():\n    return 1\n"
    again = edit(ctx, path="pkg/new_mod.py", command="create", file_text="")
    assert again.is_error and "already exists" in again.text
    assert (repo / "pkg/new_mod.py").read_text() == "def f():\n    return 1\n"
    broken = edit(ctx, path="other/bad.py", command="create", file_text="def f(\n")
    assert broken.is_error and not (repo / "other").exists()
    assert ctx.notes["edited"] == ["pkg/new_mod.py"]


def test_paths_outside_the_workspace_are_refused(repo: Path, tmp_path: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text("X = 1\n")
    (repo / "escape").symlink_to(outside)
    ctx = ToolContext(repo=repo)
    for path in ("../x.py", "../outside/x.py", str(outside / "x.py"), "escape/x.py", "/etc/passwd"):
        result = edit(ctx, path=path, command="str_replace", old_str="X = 1", new_str="X = 2")
        assert result.is_error and "outside the repository" in result.text, (path, result.text)
        created = edit(ctx, path=path.replace("x.py", "y.py"), command="create", file_text="Y = 1\n")
        assert created.is_error
    assert (outside / "x.py").read_text() == "X = 1\n" and not (outside / "y.py").exists()
    config = (repo / ".git/config").read_bytes()
    for path in (".git/config", "./.git/hooks/pre-commit"):
        result = edit(ctx, path=path, command="create", file_text="x")
        assert result.is_error and ".git" in result.text
    assert (repo / ".git/config").read_bytes() == config and not (repo / ".git/hooks/pre-commit").exists()
    assert "edited" not in ctx.notes


def test_edits_outside_the_approved_plan_are_refused_and_the_file_untouched(repo: Path):
    ctx = ToolContext(repo=repo, allowed=["webhooks/", "docs/guide.md"])
    before = (repo / "billing/invoice.py").read_bytes()
    result = edit(ctx, path="billing/invoice.py", command="str_replace", old_str="sum(", new_str="max(")
    assert result.is_error
    assert result.text.startswith("`billing/invoice.py` is outside the approved plan (allowed: webhooks/, docs/guide.md)")
    assert "revise_plan" in result.text
    assert (repo / "billing/invoice.py").read_bytes() == before
    assert edit(ctx, path="billing/new.py", command="create", file_text="x = 1\n").is_error
    assert not (repo / "billing/new.py").exists()
    inside = edit(ctx, path="webhooks/sender.py", command="str_replace", old_str="attempts=3", new_str="attempts=4")
    assert not inside.is_error
    assert not edit(ctx, path="docs/guide.md", command="create", file_text="# guide\n").is_error
    nothing = edit(ToolContext(repo=repo, allowed=[]), path="README.md", command="create", file_text="x")
    assert nothing.is_error and "allowed: no files yet" in nothing.text


def test_edit_window_is_redacted_and_bad_arguments_are_clear(repo: Path):
    ctx = ToolContext(repo=repo, redact=Redactor(["hunter2-secret"]))
    result = edit(ctx, path="settings.py", command="create", file_text='PASSWORD_HINT = "hunter2-secret"\n')
    assert not result.is_error and "hunter2-secret" not in result.text
    assert edit(ctx, path="settings.py", command="delete").is_error
    assert edit(ctx, path="missing.py", command="str_replace", old_str="a", new_str="b").is_error
    assert edit(ctx, path="settings.py", command="str_replace", old_str="", new_str="b").is_error
    assert edit_tool(ctx).call({"path": "settings.py"}).is_error  # no command


def test_git_diff_shows_modified_and_new_files_bounded(repo: Path):
    ctx = ToolContext(repo=repo, redact=Redactor(["hunter2-secret"]))
    assert git_diff_tool(ctx).call({}).text.startswith("No changes")
    edit(ctx, path=SENDER, command="str_replace", old_str="attempts=3", new_str="attempts=5")
    edit(ctx, path="new/notes.py", command="create", file_text='TOKEN = "hunter2-secret"\n')
    edit(ctx, path="big.json", command="create", file_text=json.dumps(list(range(400)), indent=0))
    text = git_diff_tool(ctx).call({}).text
    assert text.startswith("3 files changed:")
    assert f"M {SENDER}  +1 -1 (modified)" in text and "A new/notes.py  +1 (new)" in text
    assert "+def send_with_retries(url, payload, attempts=5):" in text
    assert "hunter2-secret" not in text and "diff truncated" in text
    assert len(text.splitlines()) < 320
    only = git_diff_tool(ctx).call({"path": "webhooks"}).text
    assert only.startswith("1 file changed:") and "notes.py" not in only
    git(repo, "status")  # the index was left alone: nothing staged
    assert git(repo, "diff", "--cached", "--name-only") == ""
    assert git_diff_tool(ctx).call({"path": "../"}).is_error
