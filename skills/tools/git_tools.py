"""`git_diff`: what the run has changed so far, bounded and redacted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from skills.tools.base import Tool, ToolContext, ToolResult, inside

MAX_DIFF_LINES = 300
MAX_UNTRACKED = 50
LINE_CHARS = 300


def git_diff_tool(ctx: ToolContext) -> Tool:
    """`git_diff`: the working tree against HEAD, new (untracked) files included."""

    def git_diff(path: str = ".") -> ToolResult:
        if ctx.repo is None:
            return ToolResult("No repository checkout.", is_error=True)
        try:
            inside(ctx.repo, path)
        except ValueError as exc:
            return ToolResult(f"Refused: {exc}", is_error=True)
        repo = Path(ctx.repo)
        try:
            stat, untracked = _stat(repo, path)
            if not stat:
                return ToolResult("No changes: the working tree matches HEAD.")
            diff = _git(repo, "diff", "HEAD", "--", path).splitlines()
            for rel in untracked[:MAX_UNTRACKED]:
                diff += _git(repo, "diff", "--no-index", "--", os.devnull, rel, ok=(0, 1)).splitlines()
        except GitError as exc:
            return ToolResult(f"git diff failed: {exc}", is_error=True)
        return ToolResult(ctx.redact(_render(stat, diff)))

    return Tool("git_diff", "Show the changes made so far: a per-file summary, then the diff against HEAD "
                "(new files included), bounded.",
                {"type": "object", "properties": {"path": {"type": "string",
                                                           "description": "limit to a file or folder"}}},
                git_diff)


class GitError(Exception):
    """A git command failed."""


def _git(repo: Path, *args: str, ok: tuple[int, ...] = (0,)) -> str:
    if args[0] == "diff":
        args = ("diff", "--no-color", "--no-ext-diff", "--no-renames", *args[1:])
    proc = subprocess.run(["git", "-C", str(repo), "-c", "core.quotepath=false", *args], capture_output=True,
                          timeout=60, env={**os.environ, "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"})
    if proc.returncode not in ok:
        raise GitError(proc.stderr.decode(errors="replace").strip()[:500])
    return proc.stdout.decode("utf-8", "replace")


def _stat(repo: Path, path: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(path, status letter, "+a -d") per changed file, untracked files counting as added ("A");
    and the untracked files."""
    rows = {}
    for line in _git(repo, "diff", "HEAD", "--numstat", "--", path).splitlines():
        added, deleted, rel = line.split("\t", 2)
        rows[rel] = ["M", f"+{added} -{deleted}" if added != "-" else "binary"]
    for line in _git(repo, "diff", "HEAD", "--name-status", "--", path).splitlines():
        letter, rel = line.split("\t", 1)
        if rel in rows:
            rows[rel][0] = letter[:1]
    untracked = [rel for rel in _git(repo, "ls-files", "--others", "--exclude-standard", "-z", "--", path)
                 .split("\0") if rel]
    for rel in untracked:
        rows[rel] = ["A", _count(repo / rel)]
    return [(rel, letter, counts) for rel, (letter, counts) in sorted(rows.items())], untracked


def _count(file: Path) -> str:
    try:
        data = file.read_bytes()
    except OSError:
        return "?"
    if b"\x00" in data[:8000]:
        return "binary"
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return f"+{lines}"


def _render(stat: list[tuple[str, str, str]], diff: list[str]) -> str:
    kinds = {"A": "new", "M": "modified", "D": "deleted", "R": "renamed"}
    head = [f"{len(stat)} file{'s' if len(stat) != 1 else ''} changed:"]
    head += [f"  {letter} {rel}  {counts} ({kinds.get(letter, letter)})" for rel, letter, counts in stat]
    shown = [line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…" for line in diff[:MAX_DIFF_LINES]]
    body = "\n".join(head + [""] + shown)
    if len(diff) > MAX_DIFF_LINES:
        body += (f"\n[... diff truncated: {len(diff) - MAX_DIFF_LINES} more lines; call git_diff with a path, "
                 "or view_file, to see the rest ...]")
    return body
