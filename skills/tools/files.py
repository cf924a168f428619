"""Read-only repository tools: windowed file views and a grep that refuses to flood."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from skills.tools.base import Tool, ToolContext, ToolResult, inside

WINDOW = 100
MAX_GREP_FILES = 50


def view_file_tool(ctx: ToolContext) -> Tool:
    """`view_file`: ~100 numbered lines of a file, starting where asked."""

    def view_file(path: str, start_line: int = 1) -> ToolResult:
        try:
            target = inside(ctx.repo, path)
        except ValueError as exc:
            return ToolResult(str(exc), is_error=True)
        if not target.is_file():
            return ToolResult(f"No file {path!r} in the repository.", is_error=True)
        # Redact the whole file before windowing: a window can start inside a multi-line secret.
        lines = ctx.redact(target.read_text(errors="replace")).splitlines()
        start = max(1, min(int(start_line), max(1, len(lines))))
        end = min(len(lines), start + WINDOW - 1)
        body = "\n".join(f"{n:>6} {lines[n - 1][:400]}" for n in range(start, end + 1))
        more = f"\n({len(lines) - end} more lines; call view_file with start_line={end + 1})" if end < len(lines) else ""
        return ToolResult(f"[{path} lines {start}-{end} of {len(lines)}]\n{body}{more}")

    return Tool("view_file", "Show ~100 numbered lines of a repository file from start_line.",
                {"type": "object", "properties": {"path": {"type": "string"},
                                                  "start_line": {"type": "integer", "minimum": 1}},
                 "required": ["path"]}, view_file)


def grep_tool(ctx: ToolContext) -> Tool:
    """`grep`: files matching a regular expression, with match counts and first matching lines."""

    def grep(pattern: str, path: str = ".") -> ToolResult:
        try:
            regex = re.compile(pattern)
            base = inside(ctx.repo, path)
        except (re.error, ValueError) as exc:
            return ToolResult(f"Cannot search: {exc}", is_error=True)
        matches = grep_files(ctx.repo, base, regex, ctx.redact)
        if not matches:
            return ToolResult(f"No matches for /{pattern}/ in {path}.")
        if len(matches) > MAX_GREP_FILES:
            return ToolResult(f"/{pattern}/ matches in {len(matches)} files: too many to list. Narrow your search "
                              "(a more specific pattern or a sub-directory).", is_error=True)
        lines = [f"{rel} ({len(hits)} matches): " + "; ".join(f"{n}: {ctx.redact(t.strip())[:120]}" for n, t in hits[:3])
                 for rel, hits in matches]
        return ToolResult(f"{len(matches)} files match /{pattern}/:\n" + "\n".join(lines))

    return Tool("grep", "Regex search of the repository: lists matching files with counts and first lines.",
                {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}},
                 "required": ["pattern"]}, grep)


def grep_files(repo: Path, base: Path, regex: re.Pattern,
               redact=None) -> list[tuple[str, list[tuple[int, str]]]]:
    """(repo-relative path, [(line number, line)]) for every tracked file under `base` that matches.

    With `redact`, the lines returned come from the whole file redacted at once (so a line inside a
    private key is masked even though it matched on its own); matching still sees the file as it is.
    """
    out = []
    for rel in tracked_files(repo):
        full = repo / rel
        if base != repo.resolve() and base not in full.resolve().parents:
            continue
        try:
            text = full.read_text(errors="replace")
        except OSError:
            continue
        if "\x00" in text[:1000]:
            continue
        hits = [(n, line) for n, line in enumerate(text.splitlines(), 1) if regex.search(line)]
        if hits and redact is not None:
            shown = redact(text).splitlines()
            hits = [(n, shown[n - 1] if n <= len(shown) else "") for n, _ in hits]
        if hits:
            out.append((rel, hits))
    return out


def tracked_files(repo: Path) -> list[str]:
    """Files git tracks in `repo` (every file when it is not a git repository)."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=True,
                             timeout=60).stdout.decode(errors="replace")
        return [p for p in out.split("\0") if p]
    except (subprocess.SubprocessError, OSError):
        return [str(p.relative_to(repo)) for p in Path(repo).rglob("*") if p.is_file() and ".git" not in p.parts]
