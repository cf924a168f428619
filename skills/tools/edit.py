"""`edit_file`: SWE-agent style edits (exact-once str_replace, insert, create) with a lint gate.

Every path is resolved inside the workspace (symlinks included) and checked against the approved
plan's files before anything is read or written. The new content is syntax-checked before it is
written: an edit that breaks a file that parsed before is refused, and the file stays
byte-for-byte as it was.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import warnings
from pathlib import Path

from skills.plan import covered
from skills.tools.base import Tool, ToolContext, ToolResult, inside

WINDOW = 15
MAX_WINDOW_LINES = 40
LINE_CHARS = 300
COMMANDS = ("str_replace", "insert", "create")

DESCRIPTION = (
    "Edit a repository file. command=str_replace replaces old_str (which must occur exactly once, "
    "whitespace included) with new_str; command=insert inserts new_str after line insert_line "
    "(0 = top of file); command=create writes file_text to a new file (never overwrites). "
    "Edits that break Python/JSON/YAML/TOML syntax are refused and the file is left unchanged. "
    "Only files in the approved plan may be edited."
)

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "repository-relative path"},
        "command": {"type": "string", "enum": list(COMMANDS)},
        "old_str": {"type": "string", "description": "str_replace: exact text to replace, once"},
        "new_str": {"type": "string", "description": "str_replace/insert: the new text"},
        "insert_line": {"type": "integer", "minimum": 0, "description": "insert: after this line"},
        "file_text": {"type": "string", "description": "create: the whole new file"},
    },
    "required": ["path", "command"],
}


def edit_tool(ctx: ToolContext) -> Tool:
    """`edit_file`: str_replace / insert / create inside the workspace and the approved plan."""

    def edit_file(path: str, command: str, old_str: str | None = None, new_str: str | None = None,
                  insert_line: int | None = None, file_text: str | None = None) -> ToolResult:
        target, rel, refusal = _resolve(ctx, path)
        if refusal:
            return ToolResult(refusal, is_error=True)
        if command == "create":
            return _create(ctx, target, rel, file_text)
        if command not in COMMANDS:
            return ToolResult(f"Unknown command {command!r}; use one of {', '.join(COMMANDS)}.", is_error=True)
        if not target.is_file():
            return ToolResult(f"No file {path!r} in the repository (use command=create for a new file).",
                              is_error=True)
        original = target.read_bytes()
        if b"\x00" in original[:8000]:
            return ToolResult(f"{path} looks like a binary file; edit_file only edits text.", is_error=True)
        text = original.decode("utf-8", "surrogateescape")
        if command == "str_replace":
            changed = _str_replace(text, rel, old_str, new_str)
        else:
            changed = _insert(text, rel, insert_line, new_str)
        if isinstance(changed, ToolResult):
            return changed
        new_text, first, last = changed
        return _commit(ctx, target, rel, text, new_text, first, last)

    return Tool("edit_file", DESCRIPTION, SCHEMA, edit_file)


# -- paths ---------------------------------------------------------------------------------------

def _resolve(ctx: ToolContext, path: str) -> tuple[Path | None, str, str | None]:
    """(target, repo-relative path, refusal): the path checked against workspace, .git and plan."""
    if ctx.repo is None:
        return None, "", "No repository checkout is available to edit."
    if not isinstance(path, str) or not path.strip():
        return None, "", "Give a repository-relative path."
    try:
        target = inside(ctx.repo, path)
    except ValueError as exc:
        return None, "", f"Refused: {exc}"
    rel = target.relative_to(Path(ctx.repo).resolve()).as_posix()
    if ".git" in Path(path).parts or ".git" in Path(rel).parts:
        return None, rel, f"Refused: {path!r} is inside .git/; droid manages git itself."
    if rel == ".":
        return None, rel, "Give a file path, not the repository root."
    if ctx.allowed is not None and not covered(rel, ctx.allowed):
        allowed = ", ".join(ctx.allowed) if ctx.allowed else "no files yet"
        return None, rel, (f"`{path}` is outside the approved plan (allowed: {allowed}). "
                           "Call revise_plan with the new files to ask for approval.")
    return target, rel, None


# -- the three commands (pure: text in, (new text, first changed line, last changed line) out) --

def _str_replace(text: str, rel: str, old: str | None, new: str | None):
    if not old:
        return ToolResult("str_replace needs a non-empty old_str (use insert or create to add text).",
                          is_error=True)
    new = new or ""
    if "\r\n" in text and "\r\n" not in old and text.count(old) == 0:
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")  # a CRLF file
    starts = _occurrences(text, old)
    if not starts:
        return ToolResult(_no_match_hint(text, rel, old), is_error=True)
    if len(starts) > 1:
        lines = ", ".join(str(_line_of(text, i)) for i in starts[:20])
        return ToolResult(f"old_str occurs {len(starts)} times in {rel} (starting at lines {lines}); it must "
                          "occur exactly once. Include more surrounding lines to make it unique.", is_error=True)
    at = starts[0]
    first = _line_of(text, at)
    last = first + max(new.count("\n"), 0)
    return text[:at] + new + text[at + len(old):], first, last


def _insert(text: str, rel: str, insert_line: int | None, new: str | None):
    lines = text.splitlines(keepends=True)
    if isinstance(insert_line, str) and insert_line.strip().isdigit():
        insert_line = int(insert_line)
    if not isinstance(insert_line, int) or not 0 <= insert_line <= len(lines):
        return ToolResult(f"insert needs insert_line between 0 (top) and {len(lines)} (end of {rel}).",
                          is_error=True)
    if not new:
        return ToolResult("insert needs new_str (the text to insert).", is_error=True)
    newline = "\r\n" if "\r\n" in text else "\n"
    block = new if new.endswith(("\n", "\r")) else new + newline
    if insert_line == len(lines) and lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += newline
    lines[insert_line:insert_line] = [block]
    return "".join(lines), insert_line + 1, insert_line + block.count("\n")


def _create(ctx: ToolContext, target: Path, rel: str, file_text: str | None) -> ToolResult:
    if file_text is None:
        return ToolResult("create needs file_text (the whole new file).", is_error=True)
    if target.exists() or target.is_symlink():
        return ToolResult(f"{rel} already exists; create never overwrites. Use str_replace or insert.",
                          is_error=True)
    problem = syntax_error(rel, file_text)
    if problem:
        return ToolResult(f"Not created: {rel} would not parse ({problem[0]}).\n"
                          + _window(ctx, file_text, problem[1], problem[1], mark=problem[1]), is_error=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(file_text.encode("utf-8", "surrogateescape"))
    _record(ctx, rel)
    last = max(1, file_text.count("\n"))
    return ToolResult(f"Created {rel} ({len(file_text.splitlines())} lines).\n" + _window(ctx, file_text, 1, last))


def _commit(ctx: ToolContext, target: Path, rel: str, old_text: str, new_text: str,
            first: int, last: int) -> ToolResult:
    """Lint, then write (or refuse, leaving the file as it was)."""
    before = syntax_error(rel, old_text)
    after = syntax_error(rel, new_text)
    if after and not before:
        return ToolResult(
            f"Edit refused and not applied: it breaks the syntax of {rel} ({after[0]}). The file is unchanged.\n"
            f"The edited text around the error would have been:\n"
            + _window(ctx, new_text, after[1], after[1], mark=after[1])
            + "\nFix old_str/new_str (indentation, brackets, quotes) and try again.", is_error=True)
    target.write_bytes(new_text.encode("utf-8", "surrogateescape"))
    _record(ctx, rel)
    note = ""
    if before:
        note = f"\nNote: {rel} did not parse before this edit either ({before[0]}); the edit was applied."
        if after:
            note += f" It still does not parse: {after[0]}."
    return ToolResult(f"Edited {rel}.\n" + _window(ctx, new_text, first, last) + note)


# -- syntax checks --------------------------------------------------------------------------------

def syntax_error(path: str, text: str) -> tuple[str, int] | None:
    """(message, line) when `text` does not parse as the language of `path`; None when it does or
    when no checker is at hand for that kind of file."""
    suffix = Path(path).suffix.lower()
    checker = {".py": _python, ".pyi": _python, ".json": _json, ".toml": _toml,
               ".yaml": _yaml, ".yml": _yaml}.get(suffix)
    return checker(path, text) if checker else None


def _python(path: str, text: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"Python: {exc.msg} at line {exc.lineno}", exc.lineno or 1
    except ValueError as exc:  # null bytes, undecodable text
        return f"Python: {exc}", 1
    return None


def _json(path: str, text: str):
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", exc.lineno
    return None


def _toml(path: str, text: str):
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        return f"TOML: {exc}", int(match.group(1)) if match else 1
    return None


def _yaml(path: str, text: str):
    try:
        import yaml
    except ImportError:
        return None
    try:
        for _ in yaml.safe_load_all(text):
            pass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return f"YAML: {' '.join(str(exc).split())[:300]}", line
    return None


# -- helpers --------------------------------------------------------------------------------------

def _occurrences(text: str, needle: str) -> list[int]:
    starts, at = [], text.find(needle)
    while at != -1:
        starts.append(at)
        at = text.find(needle, at + len(needle))
    return starts


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _no_match_hint(text: str, rel: str, old: str) -> str:
    """Why old_str did not match, pointing at the nearest lines of the file."""
    message = f"No match for old_str in {rel}: it must match the file exactly, including whitespace and indentation."
    lines = text.splitlines()
    first = next((line.strip() for line in old.splitlines() if line.strip()), "")
    exact = [n for n, line in enumerate(lines, 1) if first and first in line]
    if exact:
        return message + (f" Its first line appears at line(s) {', '.join(map(str, exact[:10]))}; the lines "
                          "after it or the indentation differ. view_file there and copy the text exactly.")
    stripped = {}
    for n, line in enumerate(lines[:20_000], 1):
        stripped.setdefault(line.strip(), n)
    close = difflib.get_close_matches(first, list(stripped), n=3, cutoff=0.6)
    if close:
        shown = "; ".join(f"line {stripped[c]}: {c[:160]!r}" for c in close)
        return message + f" The closest lines to its first line are {shown}. view_file there and copy them exactly."
    return message + " Its first line does not appear in the file; view_file to copy the current text."


def _window(ctx: ToolContext, text: str, first: int, last: int, mark: int | None = None) -> str:
    """Numbered lines around [first, last] (about WINDOW lines; long changes are cut)."""
    lines = ctx.redact(text).splitlines()   # whole file first: a window may cut a multi-line secret
    pad = max(2, (WINDOW - (last - first + 1)) // 2)
    start = max(1, first - pad)
    end = min(len(lines), max(last + pad, start + WINDOW - 1))
    cut = end - start + 1 > MAX_WINDOW_LINES
    if cut:
        end = start + MAX_WINDOW_LINES - 1
    out = []
    for n in range(start, end + 1):
        line = lines[n - 1]
        line = line if len(line) <= LINE_CHARS else line[:LINE_CHARS] + "…"
        out.append(f"{'>' if n == mark else ' '}{n:>5} {line}")
    more = f"\n[... {len(lines) - end} more lines; view_file with start_line={end + 1} ...]" if cut else ""
    return "\n".join(out) + more


def _record(ctx: ToolContext, rel: str) -> None:
    edited = ctx.notes.setdefault("edited", [])
    if rel not in edited:
        edited.append(rel)
