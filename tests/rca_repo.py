"""Helpers of the RCA tests: a real git repository, Sentry-shaped frames and events, a line's place."""

from __future__ import annotations

from pathlib import Path

from skills.rca.sample import git


def _repo(tmp_path: Path, name: str = "svc") -> Path:
    repo = tmp_path / name
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    return repo


def _frame(path: str, func: str, line: int, context: str = "", **kw) -> dict:
    return {"abs_path": f"/srv/{path}", "filename": path, "function": func, "lineno": line,
            "in_app": True, "context_line": context, **kw}


def _event(frames: list[dict], when: str, etype="KeyError", value="'value'") -> dict:
    return {"timestamp": when, "platform": "python", "exception": {"values": [{
        "type": etype, "value": value, "stacktrace": {"frames": frames}}]}}


def _line_of(repo: Path, path: str, needle: str) -> tuple[int, str]:
    lines = (repo / path).read_text().splitlines()
    n = next(i for i, t in enumerate(lines, 1) if needle in t)
    return n, lines[n - 1]
