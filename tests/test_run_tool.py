"""run / read_output: timeouts kill the whole process group, secrets never reach the command or the
model, output reaches the model condensed and the full output can be paged."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from integrations.redact import Redactor
from skills.tools.base import ToolContext
from skills.tools.run import (
    CommandResult,
    read_output_tool,
    refused,
    run_command,
    run_tool,
    scrubbed_env,
)
from tests.repos import git, make_repo

SLACK_TOKEN = "xoxb-1111111111-2222222222-abcdefghijklmnop"
DB_SECRET = "s3cr3t-db-passphrase-42"


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "ws", {"README.md": "# project\n"})


@pytest.fixture()
def ctx(repo: Path, tmp_path: Path) -> ToolContext:
    return ToolContext(repo=repo, redact=Redactor([DB_SECRET]), secrets=[DB_SECRET],
                       artifacts=tmp_path / "artifacts")


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def wait_until(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_hanging_command_is_killed_at_its_timeout_with_its_children(tmp_path: Path):
    started = time.monotonic()
    result = run_command("sh -c 'sleep 300 & echo $! > child.pid; echo started; sleep 300'", tmp_path, timeout=1)
    assert result.timed_out and result.exit_code is None
    assert "started" in result.output
    assert time.monotonic() - started < 8
    child = int((tmp_path / "child.pid").read_text())
    assert wait_until(lambda: not alive(child)), f"child {child} survived the timeout"


def test_a_child_that_keeps_the_pipe_open_does_not_hang_a_finished_command(tmp_path: Path):
    started = time.monotonic()
    result = run_command("sleep 300 & echo $! > child.pid; echo done", tmp_path, timeout=60)
    assert result.exit_code == 0 and not result.timed_out and "done" in result.output
    assert time.monotonic() - started < 10
    assert wait_until(lambda: not alive(int((tmp_path / "child.pid").read_text())))


def test_run_command_merges_streams_and_reports_exit_codes(tmp_path: Path):
    result = run_command([sys.executable, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"],
                         tmp_path, timeout=30)
    assert result == CommandResult(3, result.output, False, result.seconds)
    assert "out" in result.output and "err" in result.output
    missing = run_command(["/no/such/program"], tmp_path, timeout=5)
    assert missing.exit_code == 127 and "Could not start" in missing.output


def test_scrubbed_env_drops_secret_names_and_values_and_adds_quiet_settings():
    base = {"PATH": "/usr/bin", "HOME": "/home/x", "SLACK_BOT_TOKEN": SLACK_TOKEN, "MY_API_KEY": "k",
            "DATABASE_URL": f"postgres://app:{DB_SECRET}@db/app", "GH_HOST": "github.com", "AWS_REGION": "eu",
            "SENTRY_DSN": "https://x@o1.ingest.sentry.io/1", "npm_config_cache": "/tmp/npm", "PAGER": "less"}
    env = scrubbed_env(base, secrets=[DB_SECRET, ""])
    assert env["PATH"] == "/usr/bin" and env["HOME"] == "/home/x" and env["npm_config_cache"] == "/tmp/npm"
    for name in ("SLACK_BOT_TOKEN", "MY_API_KEY", "DATABASE_URL", "GH_HOST", "AWS_REGION", "SENTRY_DSN"):
        assert name not in env
    assert env["PAGER"] == "cat" and env["GIT_PAGER"] == "cat" and env["TERM"] == "dumb" and env["CI"] == "1"
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["NO_COLOR"] == "1" and env["PYTHONUNBUFFERED"] == "1"


def test_planted_secrets_never_reach_the_command_the_model_or_the_artifact(ctx: ToolContext, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("INNOCENT_LOOKING", f"postgres://u:{DB_SECRET}@db")
    result = run_tool(ctx).call({"command": "env"})
    assert SLACK_TOKEN not in result.text and DB_SECRET not in result.text
    assert "SLACK_BOT_TOKEN" not in result.text and "INNOCENT_LOOKING" not in result.text
    assert "PAGER=cat" in result.text
    artifact = (ctx.artifacts / "out-1.log").read_text()
    assert "PAGER=cat" in artifact and SLACK_TOKEN not in artifact and DB_SECRET not in artifact

    printed = run_tool(ctx).call({"command": f"echo 'token {SLACK_TOKEN}'; echo 'db {DB_SECRET}'"})
    assert "token [REDACTED]" in printed.text and "db [REDACTED]" in printed.text
    assert SLACK_TOKEN not in printed.text and DB_SECRET not in printed.text
    stored = (ctx.artifacts / "out-2.log").read_text()
    assert "token [REDACTED]" in stored and SLACK_TOKEN not in stored and DB_SECRET not in stored
    paged = read_output_tool(ctx).call({"name": "out-2.log"})
    assert SLACK_TOKEN not in paged.text and "token [REDACTED]" in paged.text


def test_run_headers_timeouts_and_empty_output(ctx: ToolContext):
    tool = run_tool(ctx, timeout=30)
    ok = tool.call({"command": "echo hello"})
    assert not ok.is_error
    assert ok.text.splitlines()[0].startswith("exit code 0 in ")
    assert "1 lines (1 shown) · full output: out-1.log (read_output to page)" in ok.text
    assert ok.text.splitlines()[1] == "hello"
    assert tool.call({"command": "true"}).text == "Ran successfully, no output."
    failed = tool.call({"command": "echo boom >&2; exit 2"})
    assert failed.text.startswith("exit code 2 in ") and "boom" in failed.text
    assert not failed.is_error  # a failing command is a result the model reads, not a tool error
    slow = tool.call({"command": "sh -c 'sleep 300 & sleep 300'", "timeout": 1})
    assert slow.is_error and slow.text.startswith("timed out after 1 s; the process group was killed")
    no_artifacts = run_tool(ToolContext(repo=ctx.repo)).call({"command": "echo hi"})
    assert "full output" not in no_artifacts.text and "hi" in no_artifacts.text


def test_fifty_thousand_lines_reach_the_model_condensed_with_the_failure_kept(ctx: ToolContext):
    script = ctx.repo / "noisy.py"
    script.write_text(
        "for i in range(25000):\n"
        "    print(f'tests/test_bulk.py::test_case_{i} PASSED')\n"
        "print('Traceback (most recent call last):')\n"
        "print('  File \"app/core.py\", line 42, in handle')\n"
        "print('ZeroDivisionError: division by zero')\n"
        "print('FAILED tests/test_core.py::test_handle - ZeroDivisionError: division by zero')\n"
        "for i in range(25000):\n"
        "    print(f'tests/test_more.py::test_other_{i} PASSED')\n"
        "print('=========== 1 failed, 50000 passed in 12.34s ===========')\n"
        "raise SystemExit(1)\n")
    result = run_tool(ctx).call({"command": f"{sys.executable} noisy.py"})
    lines = result.text.splitlines()
    assert len(lines) <= 110
    assert "50,005 lines (" in lines[0] and "full output: out-1.log" in lines[0]
    for needle in ("ZeroDivisionError: division by zero", "FAILED tests/test_core.py::test_handle",
                   'File "app/core.py", line 42', "1 failed, 50000 passed"):
        assert needle in result.text
    assert "omitted" in result.text
    assert len((ctx.artifacts / "out-1.log").read_text().splitlines()) == 50005


def test_read_output_pages_a_stored_artifact_and_refuses_other_names(ctx: ToolContext, tmp_path: Path):
    run_tool(ctx).call({"command": "seq 1 500"})
    page = read_output_tool(ctx).call({"name": "out-1.log", "start_line": 101, "max_lines": 50})
    lines = page.text.splitlines()
    assert lines[0] == "[out-1.log lines 101-150 of 500]"
    assert lines[1].split() == ["101", "101"] and lines[50].split() == ["150", "150"]
    assert "call read_output with start_line=151" in page.text
    capped = read_output_tool(ctx).call({"name": "out-1.log", "max_lines": 999})
    assert "lines 1-200 of 500" in capped.text
    (tmp_path / "secret.log").write_text("nope\n")
    for name in ("../secret.log", "out-9.log", "/etc/passwd", "notes.txt"):
        assert read_output_tool(ctx).call({"name": name}).is_error


def test_git_push_and_other_risky_commands_are_refused(ctx: ToolContext, tmp_path: Path):
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    git(ctx.repo, "remote", "add", "origin", str(origin))
    tool = run_tool(ctx)
    for command in ("git push origin main", "git -C . push", "cd . && git push --force",
                    "FOO=1 git push", "sudo rm x", "rm -rf /", "git remote set-url origin x"):
        result = tool.call({"command": command})
        assert result.is_error and result.text.startswith("Refused"), command
    assert "droid" in tool.call({"command": "git push"}).text
    assert refused('git commit -m "push the fix"') is None and refused("git log --oneline") is None
    assert refused("git remote -v") is None
    # a push hidden in a script is stopped by git itself: the remote's URL is rewritten to nowhere
    (ctx.repo / "sneaky.sh").write_text("git push origin HEAD:main\n")
    sneaky = tool.call({"command": "sh sneaky.sh"})
    assert "exit code 0" not in sneaky.text
    assert git(origin, "for-each-ref") == ""
