"""Real git repositories in temporary directories, for tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_ENV = {"GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
           "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "author@example.com",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(repo: Path, *args: str, env: dict | None = None) -> str:
    """Run git in `repo` and return its stdout."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}).stdout


def make_repo(path: Path, files: dict[str, str], message: str = "initial") -> Path:
    """A git repository at `path` with `files` committed on main."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", message)
    return path


SERVICE_FILES = {
    "webhooks/sender.py": (
        '"""Sends webhooks to subscribers."""\n\nimport time\n\n\n'
        "def send_with_retries(url, payload, attempts=3):\n"
        '    """POST the payload, retrying with backoff."""\n'
        "    for attempt in range(attempts):\n"
        "        if post(url, payload):\n            return True\n"
        "        time.sleep(2 ** attempt)\n    return False\n\n\n"
        "def post(url, payload):\n    return True\n"),
    "billing/invoice.py": ('"""Invoices."""\n\n\ndef total(lines):\n    return sum(l.amount for l in lines)\n'),
    "README.md": "# sample service\n",
}
