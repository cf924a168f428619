"""`droid console`, the README's main job, driven as a person would: lines typed on its standard input."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.repos import SERVICE_FILES, make_repo


def run_console(tmp_path, lines: list[str], extra_env: dict | None = None) -> str:
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SLACK_", "DROID_"))}
    env.update({"DROID_STATUS_INTERVAL": "0.1", **(extra_env or {})})
    done = subprocess.run([sys.executable, "-m", "bot.cli", "console", "--repo", str(repo), "--db",
                           str(tmp_path / "console.db")], input="\n".join(lines) + "\n", capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_console_mention_plan_approve_results(tmp_path):
    out = run_console(tmp_path, ["@droid where is send_with_retries defined?", "1"])
    assert "## Plan v1" in out and "[1] Approve" in out and "[2] Revise" in out and "[3] Cancel" in out
    assert "No model is configured" in out
    assert "✅ Approved by <@UYOU>" in out
    assert "Search results, not an answer" in out and "webhooks/sender.py" in out
    assert "(droid reacted :white_check_mark:)" in out


def test_console_refuses_someone_else(tmp_path):
    out = run_console(tmp_path, ["@droid where is total computed?", "/as UMALLORY", "1"])
    assert "[only visible to UMALLORY] Only <@UYOU> can approve" in out
    assert "Approved by" not in out
