"""Deterministic root-cause evidence for a Sentry error in a git repository.

`analyse(event, repo, first_seen)` answers, without a model:

- which code ran: the release's commit when the event's release/tags name one, else the
  default branch as of the event's time;
- where the error went through our code: in-app frames mapped to repository files, with the code
  around each frame line at that commit (and whether it matches what the event recorded);
- where the bug most likely is: functions ranked from the stack *and* beyond it — names in the
  exception message, functions called on the failing lines, where a wrongly-typed value came
  from, the constructor that should have set a missing attribute, callees of suspects, and
  recent changes (history before first-seen);
- which change most likely caused it: commits from `git blame` of the frame lines and of the
  suspect functions and from each file's history before first-seen (later commits cannot be
  the cause), each with its reasons;
- how bad it is: counts, first/last seen, release, environment, notable tags.

Every score comes with the reasons that produced it; every git command run is recorded.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.redact import MASK, Redactor
from integrations.sentry_event import Frame, ParsedEvent
from skills.rca.paths import RepoFiles, is_library_path, is_source_path, is_test_path

__all__ = [
    "Evidence",
    "FrameEvidence",
    "SuspectCommit",
    "SuspectLocation",
    "analyse",
    "extract_definitions",
    "resolve_commit",
]

# Points of each signal (a location's score is the sum over its signals, each counted once at
# its strongest). Stack weights decay from the innermost in-app frame: 1, .63, .45, .36, ...
W_STACK = 3.0
W_MESSAGE_QUALIFIED = 2.5  # `Class.method` / `module.func` named in the exception message
W_MESSAGE_NAME = 1.5  # a bare function name in the message (quoted, dotted, called, snake/camel)
W_CALLEE_CALLER_LINE = 1.6  # called on the failing line of test/caller code (no app frame below)
W_CALLEE_CRASH_LINE = 0.8  # called on the crash line of app code (its result may be the bad value)
W_CALLER_WINDOW = 0.5  # called just before the failing line (built the object that failed)
W_PROVENANCE = 2.5  # the wrongly-typed value that failed entered our code here
W_ATTR_INIT = 1.2  # constructor of the object that lacks the attribute
W_ATTR_EARLY_RETURN = 0.6  # ... and it returns before assigning that attribute
W_ATTR_ASSIGN = 0.6  # a method that assigns the missing attribute
W_DUNDER = 1.0  # special method a builtin call on the failing line dispatches to
W_LITERAL = 0.4  # a quoted literal of the message (a key, a name) appears in the function
W_HISTORY = 1.2  # x exp(-age/30 days) of the function's last change before first-seen
W_SAME_FILE_RECENT = 0.8  # recently changed function in a file of the stack (not in the stack)
W_CALLEE_OF_SUSPECT = 0.3  # x parent's score (capped): called by a suspect not in the stack
W_VALUE_SOURCE = 1.5  # its return value was assigned to a variable the crash line uses
RECENCY_DAYS = 30.0
RECENT_WINDOW_DAYS = 180.0  # recency scans walk this much history (older lines count as old)
# Suspect commits: evidence points, times a recency factor relative to the youngest candidate
# (code that ran fine for months rarely breaks by itself; a 10x stronger link still wins).
W_COMMIT_FRAME_LINE = 2.0  # x frame weight: last changed a frame line
W_COMMIT_FUNCTION = 1.5  # x relative location score x share of the function's lines
MIN_DIRECT_FUNCTION = 0.3  # function points that count as a direct link
W_COMMIT_FILE = 0.15  # / rank: only changed a file of the stack before first-seen
COMMIT_MORE_LINKS = 0.3  # weight of a commit's links to further locations beyond its strongest
COMMIT_RECENCY_DAYS = 60.0
COMMIT_RECENCY_FLOOR = 0.1
COMMIT_SIZE_FILES = 30.0  # x (1 + files changed / this) ** -COMMIT_SIZE_POWER: wide, mechanical
COMMIT_SIZE_POWER = 0.5  # commits (renames, reformatting, copyright years) explain one line less
NON_APP_DIRS = ("examples", "example", "docs", "doc", "benchmarks", "bench", "scripts",
                "tools", "contrib/examples", ".meta", "samples", "demo")

_IDENT = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")
_CALL = re.compile(r"(?<![\w$.])(?<!def )(?<!class )(?<!function )(?<!fun )(?<!func )(?<!fn )"
                   r"((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*)\s*\(")
_QUOTED = re.compile(r"""['"`‘’“”]([^'"`‘’“”\s]{2,80})['"`‘’“”]""")
_STOP = {
    "self", "cls", "this", "None", "none", "null", "undefined", "true", "false", "True", "False",
    "object", "int", "str", "float", "bool", "list", "dict", "tuple", "set", "bytes", "type",
    "NoneType", "function", "method", "module", "print", "len", "range", "isinstance", "super",
    "getattr", "setattr", "hasattr", "assert", "return", "lambda", "not", "and", "or", "is", "in",
    "if", "for", "while", "with", "new", "typeof", "var", "let", "const", "catch", "switch",
    "Object", "Array", "String", "Number", "Error", "Exception", "TypeError", "ValueError",
    "KeyError", "IndexError", "AttributeError", "NameError", "RuntimeError", "enumerate", "map",
    "zip", "open", "format", "join", "get", "items", "keys", "values", "append", "update", "id",
    "main", "run", "call", "apply", "next", "iter", "repr", "sorted", "min", "max", "sum", "abs",
    "char", "void", "public", "private", "static", "final", "where", "argument", "arguments",
    "elif", "else", "try", "except", "finally", "raise", "yield", "await", "async", "def",
    "class", "import", "from", "del", "global", "pass", "break", "continue",
}
_JS = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte")
_JVM = (".java", ".kt", ".scala", ".groovy")
_LANGUAGE_FAMILY = {**{e: _JS for e in _JS}, **{e: _JVM for e in _JVM}, ".py": (".py",)}
_PLATFORM_EXTS = {"python": (".py",), "javascript": _JS, "node": _JS, "java": _JVM,
                  "android": _JVM, "ruby": (".rb",), "go": (".go",), "php": (".php",),
                  "csharp": (".cs",), "elixir": (".ex", ".exs"), "swift": (".swift",),
                  "rust": (".rs",), "dart": (".dart",)}
# builtin → special methods it dispatches to
_DUNDER = {
    "bool": ("__bool__", "__nonzero__", "__len__"), "len": ("__len__",),
    "iter": ("__iter__",), "next": ("__next__",), "str": ("__str__", "__repr__"),
    "repr": ("__repr__",), "int": ("__int__", "__index__"), "float": ("__float__",),
    "hash": ("__hash__",), "list": ("__iter__", "__len__"), "tuple": ("__iter__", "__len__"),
    "sorted": ("__lt__", "__iter__"), "format": ("__format__",), "abs": ("__abs__",),
    "round": ("__round__",), "reversed": ("__reversed__", "__len__"),
}


# ---------------------------------------------------------------------------------------------
# git


class GitError(RuntimeError):
    pass


@dataclass
class CommitInfo:
    sha: str
    author: str
    email: str
    author_time: datetime
    commit_time: datetime
    subject: str
    files: list[tuple[str, int, int]] | None = None  # (path, added, deleted), loaded lazily


@dataclass
class BlameLine:
    sha: str
    line: int
    boundary: bool = False  # history not walked further (older than `since`)


_WORD = re.compile(r"[A-Za-z0-9_]+")


def command_redactor(event: ParsedEvent, redact: Callable[[str], str]) -> Callable[[str], str]:
    """`redact`, and also every word of the event that `redact` masks there: a grep pattern
    quotes the words of a secret without the context that shows it is one."""
    hidden: set[str] = set()
    stack: list[Any] = [dataclasses.asdict(event)]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, str) and (masked := redact(value)) != value:
            kept = set(_WORD.findall(masked))
            hidden.update(w for w in _WORD.findall(value) if w not in kept)
    if not hidden:
        return redact

    def secret(word: str) -> bool:
        return word in hidden or (len(word) >= 6 and any(word in h for h in hidden))

    def run(text: str) -> str:
        return _WORD.sub(lambda m: MASK if secret(m.group()) else m.group(), redact(text))
    return run


class Git:
    """Read-only git access to one repository (bare or not); every command is recorded."""

    def __init__(self, repo: Path | str, timeout: float = 30.0, redact: Callable[[str], str] | None = None):
        self.repo = Path(repo)
        self.timeout = timeout
        # the commands quote the event (grep patterns): they are recorded redacted
        self.redact = redact or Redactor()
        self.commands: list[str] = []
        self._files: dict[tuple[str, str], list[str] | None] = {}
        self._sources: dict[tuple[str, str], Source | None] = {}
        self._blame: dict[tuple[str, str], dict[int, BlameLine]] = {}
        self._commits: dict[str, CommitInfo] = {}
        self._grep: dict[tuple[str, tuple[str, ...], str], dict[str, list[int]]] = {}

    def run(self, *args: str, record: bool = True) -> str:
        cmd = ["git", "-C", str(self.repo), *args]
        if record:
            self.commands.append(self.redact("git " + " ".join(args)))
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=self.timeout)
        except subprocess.TimeoutExpired as e:
            raise GitError(self.redact(f"git {' '.join(args)}: timed out")) from e
        if proc.returncode != 0:
            raise GitError(self.redact(f"git {' '.join(args)}: {proc.stderr.decode('utf-8', 'replace')[:300]}"))
        return proc.stdout.decode("utf-8", "replace")

    def try_run(self, *args: str, record: bool = True) -> str | None:
        try:
            return self.run(*args, record=record)
        except GitError:
            return None

    def rev(self, ref: str) -> str | None:
        out = self.try_run("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", record=False)
        return (out.strip() or None) if out else None

    def ls_files(self, commit: str) -> list[str]:
        out = self.run("ls-tree", "-r", "--name-only", "-z", commit)
        return [p for p in out.split("\0") if p]

    def lines(self, commit: str, path: str) -> list[str] | None:
        key = (commit, path)
        if key not in self._files:
            out = self.try_run("show", f"{commit}:{path}", record=False)
            self._files[key] = out.splitlines() if out is not None else None
        return self._files[key]

    def source(self, commit: str, path: str) -> Source | None:
        key = (commit, path)
        if key not in self._sources:
            lines = self.lines(commit, path)
            self._sources[key] = Source(path, lines) if lines is not None else None
        return self._sources[key]

    def commit(self, sha: str) -> CommitInfo | None:
        if sha not in self._commits:
            out = self.try_run("log", "-1", "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%ct%x1f%s", sha,
                               record=False)
            if not out:
                return None
            self._commits[sha] = _commit_from_fields(out.strip().split("\x1f"))
        return self._commits[sha]

    def commit_files(self, sha: str) -> list[tuple[str, int, int]]:
        info = self.commit(sha)
        if info is None:
            return []
        if info.files is None:
            out = self.try_run("show", "--numstat", "--format=", "-M", sha, record=False) or ""
            files = []
            for row in out.splitlines():
                parts = row.split("\t")
                if len(parts) == 3:
                    a, d, p = parts
                    files.append((p, int(a) if a.isdigit() else 0, int(d) if d.isdigit() else 0))
            info.files = files
        return info.files

    def blame(self, commit: str, path: str, since: datetime | None = None,
              ranges: tuple[tuple[int, int], ...] = ()) -> dict[int, BlameLine]:
        """line → (commit, boundary?) for the lines of `path` at `commit`: all lines, or only
        `ranges`. With `since`, history older than that is not walked: such lines come back as
        `boundary` (older than `since`, commit unknown) — much faster on long histories."""
        key = (commit, path, int(since.timestamp()) if since else None, ranges)
        if key in self._blame:
            return self._blame[key]
        args = ["blame", "--porcelain", "-w"]
        if since is not None:
            args.append(f"--since={int(since.timestamp())}")
        for lo, hi in ranges:
            args += ["-L", f"{lo},{hi}"]
        out = self.try_run(*args, commit, "--", path) or ""
        result: dict[int, BlameLine] = {}
        headers: dict[str, dict[str, str]] = {}
        current: str | None = None
        final_line = 0
        for row in out.splitlines():
            if row.startswith("\t"):
                if current:
                    result[final_line] = BlameLine(current, final_line,
                                                   "boundary" in headers[current])
                continue
            parts = row.split(" ")
            if len(parts) >= 3 and len(parts[0]) == 40 and all(
                c in "0123456789abcdef" for c in parts[0]
            ):
                current = parts[0]
                final_line = int(parts[2])
                headers.setdefault(current, {})
            elif current and parts:
                headers[current][parts[0]] = " ".join(parts[1:])
        for sha, h in headers.items():
            if sha not in self._commits and "author-time" in h and "committer-time" in h:
                self._commits[sha] = CommitInfo(
                    sha=sha, author=h.get("author", ""),
                    email=h.get("author-mail", "").strip("<>"),
                    author_time=_epoch(h["author-time"]), commit_time=_epoch(h["committer-time"]),
                    subject=h.get("summary", ""),
                )
        self._blame[key] = result
        return result

    def file_log(self, commit: str, path: str, until: datetime | None, limit: int = 10,
                 ) -> list[CommitInfo]:
        args = ["log", f"-n{limit}", "--no-merges",
                "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%ct%x1f%s"]
        if until is not None:
            args.append(f"--until={int(until.timestamp())}")
        out = self.try_run(*args, commit, "--", path) or ""
        infos = []
        for row in out.splitlines():
            fields = row.split("\x1f")
            if len(fields) == 6:
                info = self._commits.get(fields[0]) or _commit_from_fields(fields)
                self._commits[info.sha] = info
                infos.append(info)
        return infos

    def grep_definitions(self, commit: str, names: list[str],
                         exts: tuple[str, ...] = ()) -> dict[str, list[int]]:
        """Files and lines at `commit` where any of `names` seems to be defined, searching
        the files with extensions `exts` (all source files when empty). Cached per name."""
        names = sorted({n for n in names if re.fullmatch(r"[A-Za-z_$][\w$]*", n)})
        hits: dict[str, list[int]] = {}
        todo = [n for n in names if (commit, exts, n) not in self._grep]
        for i in range(0, len(todo), 40):
            batch = todo[i:i + 40]
            found = self._grep_batch(commit, batch, exts)
            for n in batch:
                self._grep[(commit, exts, n)] = found.get(n, {})
        for n in names:
            for path, lines in self._grep.get((commit, exts, n), {}).items():
                hits.setdefault(path, []).extend(lines)
        return hits

    def _grep_batch(self, commit: str, names: list[str], exts: tuple[str, ...],
                    ) -> dict[str, dict[str, list[int]]]:
        alt = "|".join(re.escape(n).replace("\\$", "[$]") for n in names)
        b0, b1 = r"(^|[^A-Za-z0-9_$])", r"([^A-Za-z0-9_$]|$)"
        keywords = "def|class" if exts == (".py",) else (
            "def|class|function|func|fun|fn|interface|struct|enum|object|module|trait")
        patterns = [rf"{b0}({keywords})[[:space:]]+\*?[[:space:]]*({alt}){b1}"]
        if exts != (".py",):
            patterns.append(rf"{b0}({alt})[[:space:]]*[:=][[:space:]]*(async[[:space:]]+)?"
                            r"(function|\()")
            patterns.append(rf"[A-Za-z0-9_>\]][[:space:]]+({alt})[[:space:]]*\([^;]*$")
        args = ["grep", "-n", "-I", "-E"]
        for p in patterns:
            args += ["-e", p]
        specs = [f":(glob)**/*{e}" for e in exts]
        out = self.try_run(*args, commit, "--", *specs) or ""
        by_name: dict[str, dict[str, list[int]]] = {}
        words = re.compile(r"[A-Za-z_$][\w$]*")
        wanted = set(names)
        prefix = commit + ":"
        for row in out.splitlines():
            if row.startswith(prefix):
                row = row[len(prefix):]
            path, _, rest = row.partition(":")
            num, _, text = rest.partition(":")
            if not num.isdigit():
                continue
            for n in set(words.findall(text)) & wanted:
                by_name.setdefault(n, {}).setdefault(path, []).append(int(num))
        return by_name


def _epoch(v: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(v), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, tz=UTC)


def _commit_from_fields(fields: list[str]) -> CommitInfo:
    sha, an, ae, at, ct, subject = (fields + [""] * 6)[:6]
    return CommitInfo(sha, an, ae, _epoch(at), _epoch(ct), subject)


# ---------------------------------------------------------------------------------------------
# code structure


@dataclass(frozen=True)
class Definition:
    name: str
    qualname: str
    kind: str  # "function" | "class"
    start: int  # 1-based, the def line
    end: int  # 1-based, inclusive

    def contains(self, line: int) -> bool:
        return self.start <= line <= self.end


_JS_DEF = [
    re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(?P<name>[A-Za-z_$][\w$]*)\s*\("),
    re.compile(r"^\s*(?:(?:export\s+)?(?:const|let|var)\s+)?(?:[\w$]+\.)*(?P<name>[A-Za-z_$][\w$]*)\s*[:=]\s*(?:async\s+)?function\b"),
    re.compile(r"^\s*(?:(?:export\s+)?(?:const|let|var)\s+)(?P<name>[A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>"),
    re.compile(r"^\s*(?:(?:public|private|protected|static|async|get|set|override|readonly|abstract)\s+)*(?P<name>[A-Za-z_$][\w$]*)\s*\([^;{}]*\)\s*(?::\s*[^{=;]+)?\{\s*$"),
]
_OTHER_DEF = [
    re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|private|protected|internal|static|final|synchronized|abstract|native|default|override|virtual|async|open|suspend|inline)\s+)*(?:<[^>]+>\s+)?[\w<>\[\],.?]+(?:\s*<[^>]*>)?\s+(?P<name>[A-Za-z_]\w*)\s*\([^;]*$"),
    re.compile(r"^\s*func\s+(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)\s*[(<]"),
    re.compile(r"^\s*(?:[\w]+\s+)*(?:fun|fn|func)\s+(?:<[^>]+>\s*)?(?:[\w.]+\.)?(?P<name>[A-Za-z_]\w*)"),
    re.compile(r"^\s*def\s+(?:self\.)?(?P<name>[\w?!=]+)"),
    re.compile(r"^\s*(?:(?:public|private|protected|static|final|abstract)\s+)*function\s+&?(?P<name>[A-Za-z_]\w*)\s*\("),
]
_CLASS_DEF = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:(?:public|private|protected|internal|abstract|final|"
    r"static|sealed|data|open)\s+)*(?:class|interface|enum|object|struct|trait|module)\s+"
    r"(?P<name>[A-Za-z_$][\w$]*)")
_KEYWORDS = {"if", "for", "while", "switch", "catch", "return", "function", "else", "new",
             "typeof", "do", "try", "with", "synchronized", "elif", "when", "super", "this",
             "throw", "await", "delete", "void", "case", "foreach", "using", "lock", "sizeof"}


def extract_definitions(path: str, text: str) -> list[Definition]:
    """Functions and classes of a source file with their line spans (Python via `ast`,
    other languages by declaration patterns with brace or indentation matching)."""
    if path.endswith((".py", ".pyw")):
        try:
            return _python_definitions(text)
        except (SyntaxError, ValueError, RecursionError):
            pass
    return _pattern_definitions(path, text)


def _python_definitions(text: str) -> list[Definition]:
    tree = ast.parse(text)
    out: list[Definition] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                kind = "class" if isinstance(child, ast.ClassDef) else "function"
                qual = f"{prefix}.{child.name}" if prefix else child.name
                end = getattr(child, "end_lineno", None) or child.lineno
                out.append(Definition(child.name, qual, kind, child.lineno, end))
                visit(child, qual)
            else:
                visit(child, prefix)

    visit(tree, "")
    return out


def _pattern_definitions(path: str, text: str) -> list[Definition]:
    lines = text.splitlines()
    is_js = path.endswith((".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte"))
    patterns = _JS_DEF if is_js else _OTHER_DEF + _JS_DEF[:1]
    raw: list[tuple[str, str, int, int]] = []
    for i, line in enumerate(lines, start=1):
        m = _CLASS_DEF.match(line)
        kind = "class"
        if not m:
            kind = "function"
            for p in patterns:
                m = p.match(line)
                if m and m.group("name") not in _KEYWORDS:
                    break
                m = None
        if not m:
            continue
        raw.append((m.group("name"), kind, i, _block_end(lines, i)))
    out: list[Definition] = []
    stack: list[Definition] = []
    for name, kind, start, end in raw:
        while stack and not stack[-1].contains(start):
            stack.pop()
        parent = next((d for d in reversed(stack) if d.kind == "class"), None)
        qual = f"{parent.qualname}.{name}" if parent else name
        d = Definition(name, qual, kind, start, max(end, start))
        out.append(d)
        stack.append(d)
    return out


def _block_end(lines: list[str], start: int) -> int:
    """End line of a block starting at `start`: brace matching, else indentation."""
    depth = 0
    opened = False
    for j in range(start - 1, min(len(lines), start + 400)):
        line = re.sub(r"""(["'`])(?:\\.|(?!\1).)*\1""", "", lines[j])
        line = line.split("//", 1)[0]
        for ch in line:
            if ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
                if opened and depth <= 0:
                    return j + 1
        if not opened and j >= start + 2:
            break
    indent = len(lines[start - 1]) - len(lines[start - 1].lstrip())
    end = start
    for j in range(start, len(lines)):
        s = lines[j]
        if not s.strip():
            continue
        ind = len(s) - len(s.lstrip())
        if ind <= indent:
            if s.strip() in ("end", "}", "};", "end;"):
                end = j + 1
            break
        end = j + 1
    return end


class Source:
    """A file at one commit, with its definitions."""

    def __init__(self, path: str, lines: list[str]):
        self.path = path
        self.lines = lines
        self.defs = extract_definitions(path, "\n".join(lines))

    def enclosing(self, line: int, kinds: tuple[str, ...] = ("function",)) -> Definition | None:
        best: Definition | None = None
        for d in self.defs:
            if d.kind in kinds and d.contains(line) and (best is None or d.start >= best.start):
                best = d
        return best

    def scope(self, line: int) -> Definition:
        """The innermost function (else class) around `line`, else the module."""
        return (self.enclosing(line) or self.enclosing(line, ("class",))
                or Definition("<module>", "<module>", "module", 1, max(1, len(self.lines))))

    def named(self, name: str) -> list[Definition]:
        return [d for d in self.defs if d.name == name]

    def text(self, start: int, end: int) -> str:
        return "\n".join(self.lines[max(0, start - 1):end])

    def window(self, line: int, before: int = 3, after: int = 3) -> list[tuple[int, str]]:
        lo, hi = max(1, line - before), min(len(self.lines), line + after)
        return [(n, self.lines[n - 1]) for n in range(lo, hi + 1)]


def _calls(text: str) -> list[str]:
    """Names called in `text` (`foo(`, `obj.foo(` → `foo`, `obj.foo`), in order."""
    text = re.sub(r"""(["'])(?:\\.|(?!\1).)*\1""", "''", text)
    return [m.group(1) for m in _CALL.finditer(text)]


# ---------------------------------------------------------------------------------------------
# result types


@dataclass
class FrameEvidence:
    exception_index: int
    depth: int  # 0 = innermost frame of its exception
    function: str | None
    file: str | None  # repository-relative, None when not in the repository
    raw_path: str | None
    line: int | None
    in_app: bool
    is_test: bool
    weight: float  # stack weight used in ranking (0 for test/library frames)
    mapped_via: str | None = None
    scope: str | None = None  # qualified name of the enclosing definition at the commit
    code: list[tuple[int, str]] = field(default_factory=list)
    context_matches: bool | None = None
    last_change: dict[str, Any] | None = None
    frame: Frame | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exception_index": self.exception_index, "depth": self.depth,
            "function": self.function, "file": self.file, "raw_path": self.raw_path,
            "line": self.line, "in_app": self.in_app, "is_test": self.is_test,
            "weight": round(self.weight, 3), "mapped_via": self.mapped_via, "scope": self.scope,
            "code": [{"line": n, "text": t} for n, t in self.code],
            "context_matches": self.context_matches, "last_change": self.last_change,
        }


@dataclass
class SuspectLocation:
    file: str
    function: str
    line: int
    score: float
    reasons: list[str]
    qualname: str = ""
    start: int = 0
    end: int = 0
    signals: dict[str, float] = field(default_factory=dict)
    in_stack: bool = False
    last_change: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "function": self.function, "line": self.line,
                "score": round(self.score, 3), "reasons": self.reasons,
                "qualname": self.qualname, "span": [self.start, self.end],
                "in_stack": self.in_stack,
                "signals": {k: round(v, 3) for k, v in self.signals.items()}}


@dataclass
class SuspectCommit:
    sha: str
    score: float
    reasons: list[str]
    author: str = ""
    email: str = ""
    date: datetime | None = None
    subject: str = ""
    age_before_first_seen: timedelta | None = None
    files: list[tuple[str, int, int]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "score": round(self.score, 3), "reasons": self.reasons,
                "author": self.author, "email": self.email,
                "date": self.date.isoformat() if self.date else None, "subject": self.subject,
                "hours_before_first_seen": (round(self.age_before_first_seen.total_seconds()
                                                  / 3600, 1)
                                            if self.age_before_first_seen is not None else None),
                "files": [{"path": p, "added": a, "deleted": d} for p, a, d in self.files]}


@dataclass
class Evidence:
    """Everything `analyse` found. `suspect_locations` and `suspect_commits` are best first;
    `frames` are the frames in the repository (and unmapped in-app ones), innermost first
    (`depth` 0 = innermost of its exception), each with the code at `commit`."""

    commit: str | None
    commit_reason: str
    first_seen: datetime | None
    headline: str
    exception: dict[str, Any]
    frames: list[FrameEvidence]
    suspect_locations: list[SuspectLocation]
    suspect_commits: list[SuspectCommit]
    impact: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "commit": self.commit,
            "commit_reason": self.commit_reason,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "exception": self.exception,
            "suspect_locations": [s.to_json() for s in self.suspect_locations],
            "suspect_commits": [c.to_json() for c in self.suspect_commits],
            "frames": [f.to_json() for f in self.frames],
            "impact": self.impact,
            "notes": self.notes,
            "commands": self.commands,
            "seconds": round(self.seconds, 3),
        }

    def to_markdown(self) -> str:
        return _markdown(self)


# ---------------------------------------------------------------------------------------------
# which code ran


_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def resolve_commit(git: Git, event: ParsedEvent) -> tuple[str | None, str]:
    """The commit the event's code ran: the release's (tag or sha), else the default branch as
    of the event's time, else HEAD. Returns (sha, how it was found)."""
    releases: list[str] = []
    for r in (event.release, event.tags.get("sentry:release"), event.tags.get("release")):
        if r and r not in releases:
            releases.append(r)
    for release in releases:
        for cand in _release_candidates(release):
            sha = git.rev(cand)
            if sha:
                return sha, f"release {release!r} → {cand}"
    when = event.timestamp
    branch = _default_branch(git)
    if branch:
        if when is not None:
            out = git.try_run("rev-list", "-1", f"--before={int(when.timestamp())}", branch)
            if out and out.strip():
                return out.strip(), (f"no release commit found; {branch} as of the event time "
                                     f"{when.isoformat()}")
        sha = git.rev(branch)
        if sha:
            return sha, f"no release commit found; tip of {branch}"
    return git.rev("HEAD"), "no release commit found; HEAD"


def _release_candidates(release: str) -> list[str]:
    out: list[str] = []

    def add(x: str) -> None:
        x = x.strip()
        if x and x not in out and not x.startswith("-"):
            out.append(x)

    versions = [release]
    if "@" in release:
        versions.append(release.rsplit("@", 1)[1])
    for v in list(versions):
        if "+" in v:  # semver build metadata often carries the sha
            base, build = v.split("+", 1)
            versions += [base, build]
    for v in versions:
        if _SHA.match(v):
            add(v)
        for tag in (v, f"v{v}", v[1:] if v[:1] in "vV" else ""):
            if tag:
                add(f"refs/tags/{tag}")
        if "-" in v and _SHA.match(v.rsplit("-", 1)[1].lstrip("g")):  # git describe
            add(v.rsplit("-", 1)[1].lstrip("g"))
    return out


def _default_branch(git: Git) -> str | None:
    out = git.try_run("symbolic-ref", "-q", "refs/remotes/origin/HEAD", record=False)
    if out and out.strip():
        return out.strip()
    for name in ("refs/heads/main", "refs/heads/master", "refs/remotes/origin/main",
                 "refs/remotes/origin/master", "HEAD"):
        if git.rev(name):
            return name
    return None


# ---------------------------------------------------------------------------------------------
# the analysis


@dataclass
class _Cand:
    file: str
    definition: Definition
    line: int
    signals: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    in_stack: bool = False
    depth: int = 99
    last_change: datetime | None = None

    def add(self, signal: str, points: float, reason: str) -> None:
        if points <= 0:
            return
        if points > self.signals.get(signal, 0.0):
            self.signals[signal] = points
            self.reasons[signal] = reason

    @property
    def score(self) -> float:
        return sum(self.signals.values())


class _Analysis:
    def __init__(self, git: Git, event: ParsedEvent, commit: str, files: RepoFiles,
                 first_seen: datetime | None):
        self.git = git
        self.event = event
        self.commit = commit
        self.files = files
        self.first_seen = first_seen
        self.frames: list[FrameEvidence] = []
        self.cands: dict[tuple[str, str, int], _Cand] = {}
        self.notes: list[str] = []
        self.app_roots: set[str] = set()
        self.languages: tuple[str, ...] = ()
        self.blame_base = commit  # blame where the code was as of first-seen (see set_base)
        self._maps: dict[str, Any] = {}
        self._exact: dict[str, dict[int, BlameLine | None]] = {}
        self.exception_types = {e.type for e in event.exceptions if e.type}

    # -- frames -------------------------------------------------------------------------------

    def detect_languages(self) -> None:
        """Source extensions worth searching: those of the stack's files, else the platform's."""
        exts = set()
        for fe in self.frames:
            if fe.file and "." in fe.file.rsplit("/", 1)[-1]:
                ext = "." + fe.file.rsplit(".", 1)[1].lower()
                exts |= set(_LANGUAGE_FAMILY.get(ext, (ext,)))
        if not exts:
            exts = set(_PLATFORM_EXTS.get((self.event.platform or "").lower(), ()))
        self.languages = tuple(sorted(exts))

    def collect_frames(self) -> None:
        excs = self.event.exceptions
        n = len(excs)
        library = 0
        for ei, exc in enumerate(excs):
            factor = 1.0 if ei == n - 1 else 0.9
            k = 0
            for depth, fr in enumerate(reversed(exc.frames)):
                mapped = self.files.match(fr)
                raw = fr.abs_path or fr.filename
                if mapped is None:
                    if fr.in_app:
                        self.frames.append(FrameEvidence(ei, depth, fr.function, None, raw,
                                                         fr.lineno, True, False, 0.0, frame=fr))
                    else:
                        library += 1
                    continue
                test = is_test_path(mapped.path)
                if test:
                    weight = 0.0
                    in_app = bool(fr.in_app)
                else:
                    in_app = fr.in_app is not False
                    weight = factor / (1 + 0.6 * k) * (1.0 if in_app else 0.5)
                    k += 1
                fe = FrameEvidence(ei, depth, fr.function, mapped.path, raw, fr.lineno, in_app,
                                   test, weight, mapped_via=mapped.via, frame=fr)
                self._frame_code(fe)
                self.frames.append(fe)
                if weight > 0:
                    top = mapped.path.split("/", 1)[0] if "/" in mapped.path else ""
                    self.app_roots.add(top)
        if library:
            self.notes.append(f"{library} library/unmapped frames left out")

    def _frame_code(self, fe: FrameEvidence) -> None:
        src = self.git.source(self.commit, fe.file) if fe.file else None
        if src is None or not fe.line:
            return
        fe.code = src.window(fe.line)
        fe.scope = src.scope(fe.line).qualname
        if fe.frame and fe.frame.context_line is not None and 0 < fe.line <= len(src.lines):
            fe.context_matches = (src.lines[fe.line - 1].strip()
                                  == fe.frame.context_line.strip())

    # -- candidates ---------------------------------------------------------------------------

    def cand(self, file: str, d: Definition, line: int | None = None) -> _Cand | None:
        if is_test_path(file) or is_library_path(file):
            return None
        key = (file, d.qualname, d.start)
        c = self.cands.get(key)
        if c is None:
            c = self.cands[key] = _Cand(file, d, line or d.start)
        return c

    def _dir_factor(self, path: str) -> float:
        top = path.split("/", 1)[0] if "/" in path else ""
        if self.app_roots and top in self.app_roots:
            return 1.0
        low = "/" + path.lower()
        if any(f"/{d}/" in low for d in NON_APP_DIRS) or "/" not in path and path in (
                "setup.py", "conftest.py", "noxfile.py", "fabfile.py"):
            return 0.3
        return 0.8 if self.app_roots else 1.0

    def resolve_names(self, names: list[str], near: str | None = None,
                      ) -> dict[str, list[tuple[str, Definition]]]:
        """name (possibly dotted) → definitions (file, def) in the repository."""
        bare = sorted({n.split(".")[-1] for n in names if n})
        bare = [b for b in bare if b not in _STOP and len(b) >= 2]
        hits = self.git.grep_definitions(self.commit, bare, self.languages) if bare else {}
        found: dict[str, list[tuple[str, Definition]]] = {}
        for path, lines in sorted(hits.items(), key=lambda kv: -len(kv[1]))[:60]:
            if (is_test_path(path) or is_library_path(path) or not is_source_path(path)
                    or path not in self.files):
                continue
            src = self.git.source(self.commit, path)
            if src is None:
                continue
            for d in src.defs:
                if d.start not in lines and not any(d.start <= ln <= d.start + 2 for ln in lines):
                    continue
                if d.kind == "class" and d.name in self.exception_types:
                    continue  # the exception's own class is where it is declared, not the bug
                for n in names:
                    parts = n.split(".")
                    if d.name != parts[-1]:
                        continue
                    found.setdefault(n, []).append((path, d))
        if near:
            for n, defs in found.items():
                same = [x for x in defs if x[0] == near]
                if same:
                    found[n] = same
        return found

    def constructor(self, path: str, d: Definition) -> Definition:
        """A class called like a function runs its constructor: prefer that definition."""
        if d.kind != "class":
            return d
        src = self.git.source(self.commit, path)
        if src is None:
            return d
        for m in src.defs:
            if m.kind == "function" and m.name in ("__init__", "constructor", "__new__") and \
                    d.contains(m.start) and src.enclosing(m.start - 1 if m.start > d.start
                                                          else m.start, ("class",)) is d:
                return m
        return d

    def add_stack(self) -> None:
        for fe in self.frames:
            if fe.weight <= 0 or not fe.file or not fe.line:
                continue
            src = self.git.source(self.commit, fe.file)
            if src is None:
                continue
            d = src.scope(fe.line)
            c = self.cand(fe.file, d, fe.line)
            if c is None:
                continue
            c.in_stack = True
            if fe.weight * W_STACK > c.signals.get("stack", 0):
                c.line = fe.line
            c.depth = min(c.depth, fe.depth)
            where = "innermost in-app frame" if fe.depth == 0 or fe.weight >= 0.9 else (
                f"in-app frame {fe.depth} from the innermost")
            if fe.exception_index < len(self.event.exceptions) - 1:
                where += " of a chained (cause) exception"
            c.add("stack", W_STACK * fe.weight,
                  f"{where}: {fe.file}:{fe.line} in {d.qualname}")

    def add_message(self) -> None:
        text = "\n".join(
            [self.event.title or ""] + [exc.summary() for exc in self.event.exceptions])
        if not text.strip():
            return
        quoted = {m.group(1) for m in _QUOTED.finditer(text)}
        names: dict[str, str] = {}
        for m in _IDENT.finditer(text):
            tok = m.group(0).strip(".")
            after = text[m.end():m.end() + 1]
            last = tok.split(".")[-1]
            if last in _STOP or len(last) < 3 and "." not in tok:
                continue
            interesting = (
                "." in tok or "_" in last or after == "(" or tok in quoted
                or re.search(r"[a-z][A-Z]", last) is not None
            )
            if interesting:
                names[tok] = "called" if after == "(" else "named"
        if not names:
            return
        found = self.resolve_names(list(names))
        for name, defs in found.items():
            parts = name.split(".")
            qualified = []
            if len(parts) > 1:
                tail = ".".join(parts[-2:])
                qualified = [(p, d) for p, d in defs
                             if d.qualname.endswith(tail) or p.replace("/", ".").endswith(
                                 ".".join(parts[:-1]) + ".py") or parts[-2] in p]
            if qualified:
                for p, d in qualified:
                    c = self.cand(p, d)
                    if c:
                        c.add("message", W_MESSAGE_QUALIFIED * self._dir_factor(p) /
                              max(1, len(qualified)) ** 0.5,
                              f"the exception message names {name!r} → {p}:{d.start} "
                              f"{d.qualname}")
                continue
            if parts[-1].startswith("__") and len(parts) == 1:
                continue  # a bare dunder name says nothing about which class
            fdefs = [(p, d) for p, d in defs if d.kind == "function"] or defs
            for p, d in fdefs:
                c = self.cand(p, d)
                if c:
                    c.add("message", W_MESSAGE_NAME * self._dir_factor(p) / max(1, len(fdefs)),
                          f"the exception message names {name!r} ({names[name]}) → "
                          f"{p}:{d.start} {d.qualname}")

    def _innermost_repo_frames(self) -> list[FrameEvidence]:
        """Per exception, the innermost frame that is in the repository (test or app)."""
        out = []
        seen: set[int] = set()
        for fe in self.frames:
            if fe.file and fe.exception_index not in seen:
                seen.add(fe.exception_index)
                out.append(fe)
        return out

    def add_callees(self) -> None:
        """Functions called on the failing lines: when the innermost repository frame is test or
        caller code, what it called is the prime suspect; on an app crash line, a callee may have
        returned the bad value."""
        for fe in self._innermost_repo_frames():
            fr = fe.frame
            if fr is None or not fe.file:
                continue
            src = self.git.source(self.commit, fe.file)
            line_text = fr.context_line or (src.lines[fe.line - 1] if src and fe.line and
                                             fe.line <= len(src.lines) else "")
            stmt = line_text
            for extra in fr.post_context[:4]:  # a statement continued on the next lines
                if stmt.count("(") <= stmt.count(")"):
                    break
                stmt += "\n" + extra
            caller_code = fe.weight <= 0
            raw_calls = _calls(stmt)
            calls = [c for c in raw_calls if c.split(".")[-1] not in _STOP]
            before = []
            for prev in fr.pre_context[-5:]:
                before += [c for c in _calls(prev) if c.split(".")[-1] not in _STOP]
            next_fn = None
            found = self.resolve_names(calls + before, near=None)
            if not caller_code:
                next_fn = fr.function
            for name in calls:
                for p, d in found.get(name, []):
                    if d.name == next_fn:
                        continue
                    c = self.cand(p, self.constructor(p, d))
                    if c is None:
                        continue
                    f = self._dir_factor(p) / max(1, len(found.get(name, []))) ** 0.5
                    if caller_code:
                        c.add("callee", W_CALLEE_CALLER_LINE * f,
                              f"called on the failing line of {fe.file}:{fe.line} "
                              f"(`{line_text.strip()[:80]}`)")
                    else:
                        c.add("callee", W_CALLEE_CRASH_LINE * f,
                              f"called on the crash line {fe.file}:{fe.line}; its result may be "
                              f"the bad value")
            for name in before:
                if name in calls:
                    continue
                for p, d in found.get(name, []):
                    c = self.cand(p, self.constructor(p, d))
                    if c is None:
                        continue
                    f = self._dir_factor(p) / max(1, len(found.get(name, []))) ** 0.5
                    c.add("caller_window", W_CALLER_WINDOW * f,
                          f"called just before the failing line {fe.file}:{fe.line}")
            # builtins on the failing line dispatch to special methods of our classes
            builtins_called = [c for c in raw_calls if c in _DUNDER]
            classes = [(p, d) for n in calls + before for p, d in found.get(n, [])
                       if d.kind == "class"]
            for b in builtins_called:
                for p, cls in classes:
                    src2 = self.git.source(self.commit, p)
                    if src2 is None:
                        continue
                    for dunder in _DUNDER[b]:
                        for d in src2.named(dunder):
                            if cls.contains(d.start):
                                c = self.cand(p, d)
                                if c:
                                    c.add("dunder", W_DUNDER,
                                          f"`{b}()` on the failing line {fe.file}:{fe.line} "
                                          f"calls {d.qualname}")
                                break

    def add_value_sources(self) -> None:
        """Variables the crash line uses that were assigned from a call earlier in the same
        function: the called function produced the value that failed."""
        for fe in self.frames:
            if fe.weight <= 0 or not fe.file or not fe.line or fe.frame is None:
                continue
            src = self.git.source(self.commit, fe.file)
            if src is None or fe.line > len(src.lines):
                continue
            line_text = fe.frame.context_line or src.lines[fe.line - 1]
            used = {n.split(".")[0] for n in _IDENT.findall(line_text)}
            scope = src.scope(fe.line)
            lo = max(scope.start, fe.line - 30) if scope.kind != "module" else max(1, fe.line - 30)
            sources: dict[str, tuple[str, int]] = {}
            for ln in range(lo, fe.line):
                m = re.match(r"\s*(?:(?:const|let|var|final|val)\s+)?([A-Za-z_$][\w$]*)\s*"
                             r"(?::[^=]+)?=(?!=)\s*(?:await\s+|new\s+)?(.*)$",
                             src.lines[ln - 1])
                if not m or m.group(1) not in used:
                    continue
                calls = _calls(m.group(2))
                if calls:
                    sources[m.group(1)] = (calls[0], ln)
                else:
                    sources.pop(m.group(1), None)
            if not sources:
                continue
            found = self.resolve_names([c for c, _ in sources.values()], near=fe.file)
            for var, (call, ln) in sources.items():
                defs = found.get(call, [])
                for p, d in defs:
                    c = self.cand(p, self.constructor(p, d))
                    if c:
                        c.add("value_source", W_VALUE_SOURCE * fe.weight / len(defs) ** 0.5,
                              f"`{var}`, used on the crash line {fe.file}:{fe.line}, comes from "
                              f"{call}() at line {ln}")
            break  # the innermost app frame only

    def add_provenance(self) -> None:
        """A wrongly-typed (non-None) value that failed on the innermost app line, traced to the
        outermost app frame that already held it: where it entered is a suspect."""
        for ei, exc in enumerate(self.event.exceptions):
            types = _types_in_message(exc.value or "")
            types.discard("NoneType")
            if not types:
                continue
            app = [fe for fe in self.frames if fe.exception_index == ei and fe.weight > 0
                   and fe.frame is not None and fe.file and fe.line]
            if len(app) < 2:
                continue
            inner = app[0]
            fr = inner.frame
            assert fr is not None
            names = set(_IDENT.findall(fr.context_line or ""))
            for var in sorted(names):
                rep = fr.vars.get(var) if var in fr.vars else None
                if not isinstance(rep, str) or not _repr_has_type(rep, types):
                    continue
                if rep.strip("'\"") in ("", "0", "1", "-1", "True", "False", "None"):
                    continue
                origin: tuple[FrameEvidence, str] | None = None
                for fe in app[1:]:
                    for k, v in (fe.frame.vars if fe.frame else {}).items():
                        if v == rep and k != "self":
                            origin = (fe, k)
                            break
                if origin is None:
                    continue
                fe, k = origin
                src = self.git.source(self.commit, fe.file or "")
                if src is None or not fe.line:
                    continue
                d = src.scope(fe.line)
                c = self.cand(fe.file or "", d, fe.line)
                if c is None:
                    continue
                renamed = k != var
                c.add("provenance", W_PROVENANCE * (1.0 if renamed else 0.6),
                      f"the {'/'.join(sorted(types))} value {rep[:40]} that failed as `{var}` "
                      f"at {inner.file}:{inner.line} was already `{k}` here "
                      f"({fe.file}:{fe.line}){' — passed on under another name' if renamed else ''}")

    def add_attribute(self) -> None:
        for exc in self.event.exceptions:
            m = re.search(r"'(\w+)' object has no attribute '(\w+)'", exc.value or "")
            if not m:
                continue
            cls_name, attr = m.groups()
            found = self.resolve_names([cls_name])
            for p, cls in found.get(cls_name, []):
                if cls.kind != "class":
                    continue
                src = self.git.source(self.commit, p)
                if src is None:
                    continue
                assign = re.compile(rf"\bself\.{re.escape(attr)}\s*(=|:)(?!=)")
                for d in src.defs:
                    if d.kind != "function" or not cls.contains(d.start):
                        continue
                    body = src.lines[d.start - 1:d.end]
                    assigns = [d.start + i for i, t in enumerate(body) if assign.search(t)]
                    if d.name in ("__init__", "constructor", "setUp", "initialize"):
                        c = self.cand(p, d)
                        if c is None:
                            continue
                        c.add("attribute", W_ATTR_INIT,
                              f"constructor of {cls_name!r}, which ended up without "
                              f"attribute {attr!r}")
                        first_assign = assigns[0] if assigns else d.end + 1
                        early = [d.start + i for i, t in enumerate(body)
                                 if re.match(r"\s*return\b", t) and d.start + i < first_assign]
                        if early:
                            c.add("attribute_early_return", W_ATTR_EARLY_RETURN,
                                  f"returns at line {early[0]} before assigning self.{attr}"
                                  + ("" if assigns else f" (self.{attr} is never assigned here)"))
                    elif assigns:
                        c = self.cand(p, d)
                        if c:
                            c.add("attribute", W_ATTR_ASSIGN,
                                  f"assigns self.{attr} (line {assigns[0]}), which was missing")

    def add_literals(self) -> None:
        files = {fe.file for fe in self.frames if fe.weight > 0 and fe.file}
        if not files:
            return
        lits = set()
        for exc in self.event.exceptions:
            for m in _QUOTED.finditer(exc.value or ""):
                if re.fullmatch(r"[\w.\-/]{3,}", m.group(1)):
                    lits.add(m.group(1))
        for lit in sorted(lits)[:10]:
            pat = re.compile(rf"""['"]{re.escape(lit)}['"]""")
            for path in sorted(files):
                src = self.git.source(self.commit, path)
                if src is None:
                    continue
                for i, t in enumerate(src.lines, start=1):
                    if pat.search(t):
                        d = src.scope(i)
                        c = self.cand(path, d, i)
                        if c:
                            c.add("literal", W_LITERAL,
                                  f"{lit!r} from the message appears at {path}:{i}")

    # -- history ------------------------------------------------------------------------------

    def _age_days(self, when: datetime | None) -> float | None:
        if when is None or self.first_seen is None:
            return None
        return max(0.0, (self.first_seen - when).total_seconds() / 86400)

    def set_base(self) -> None:
        """When the code that ran is newer than first-seen (a later event of an older issue),
        blame the last commit before first-seen instead, mapping line numbers across."""
        info = self.git.commit(self.commit)
        if self.first_seen is None or info is None or info.commit_time <= self.first_seen:
            return
        out = self.git.try_run("rev-list", "-1", f"--before={int(self.first_seen.timestamp())}",
                               self.commit)
        if out and out.strip():
            self.blame_base = out.strip()
            self.notes.append(f"the code that ran ({self.commit[:10]}) is newer than first seen; "
                              f"blame and history use {self.blame_base[:10]}, the last commit "
                              "before first seen, with line numbers mapped across")

    def _line_map(self, path: str):
        if path not in self._maps:
            hunks: list[tuple[int, int, int, int]] = []
            if self.blame_base != self.commit:
                out = self.git.try_run("diff", "-U0", "--no-color", "-M", self.blame_base,
                                       self.commit, "--", path) or ""
                for m in re.finditer(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", out, re.M):
                    os_, ol, ns, nl = (int(m.group(1)), int(m.group(2) or 1), int(m.group(3)),
                                       int(m.group(4) or 1))
                    hunks.append((os_, ol, ns, nl))
            self._maps[path] = hunks
        return self._maps[path]

    def base_line(self, path: str, line: int) -> int | None:
        """The line of the first-seen code that `line` of the code that ran corresponds to
        (None when the line was added after first-seen)."""
        delta = 0
        for os_, ol, ns, nl in self._line_map(path):
            new_next = ns + nl if nl else ns + 1
            old_next = os_ + ol if ol else os_ + 1
            if nl and line < ns or not nl and line < new_next:
                return line + delta
            if nl and ns <= line < ns + nl:
                return os_ + min(line - ns, ol - 1) if ol else None
            delta = old_next - new_next
        return line + delta

    def blame_line(self, path: str, line: int) -> BlameLine | None:
        """Exact blame of one line of the code that ran, as of first-seen."""
        return self.blame_lines(path, [line]).get(line)

    def blame_lines(self, path: str, lines: list[int]) -> dict[int, BlameLine]:
        """Exact blame (full history) of some lines, one git call per batch of new lines."""
        known = self._exact.setdefault(path, {})
        todo = sorted({ln for ln in lines if ln not in known})
        if todo:
            base = {ln: self.base_line(path, ln) for ln in todo}
            wanted = sorted({b for b in base.values() if b is not None})
            ranges: list[tuple[int, int]] = []
            for b in wanted:
                if ranges and b <= ranges[-1][1] + 1:
                    ranges[-1] = (ranges[-1][0], b)
                else:
                    ranges.append((b, b))
            src = self.git.lines(self.blame_base, path) or []
            ranges = [(lo, min(hi, len(src))) for lo, hi in ranges if lo <= len(src)]
            got = self.git.blame(self.blame_base, path, ranges=tuple(ranges)) if ranges else {}
            for ln, b in base.items():
                known[ln] = got.get(b) if b is not None else None
        return {ln: known[ln] for ln in lines if known.get(ln) is not None}

    def recent_blame_line(self, path: str, line: int) -> BlameLine | None:
        """Blame that only walks the recent history (for recency; boundary = older)."""
        base = self.base_line(path, line)
        if base is None:
            return None
        since = (self.first_seen - timedelta(days=RECENT_WINDOW_DAYS)
                 if self.first_seen is not None else None)
        return self.git.blame(self.blame_base, path, since=since).get(base)

    def _valid(self, sha: str) -> CommitInfo | None:
        info = self.git.commit(sha)
        if info is None:
            return None
        if self.first_seen is not None and info.commit_time > self.first_seen:
            return None
        return info

    def recency(self, path: str, d: Definition) -> tuple[float, int, int, datetime | None,
                                                         str | None]:
        """How much of a definition's own code (nested functions excluded) changed shortly
        before first-seen: (root of the mean per-line recency exp(-age/30 d), lines changed
        within 30 days, lines, newest change time, its commit)."""
        src = self.git.source(self.commit, path)
        inner = [x for x in (src.defs if src else []) if x is not d and x.kind == "function"
                 and d.start < x.start and x.end <= d.end]
        total = 0.0
        n = recent = 0
        newest: tuple[datetime | None, str | None] = (None, None)
        for ln in range(d.start, d.end + 1):
            if any(x.contains(ln) for x in inner):
                continue
            n += 1
            b = self.recent_blame_line(path, ln)
            info = self._valid(b.sha) if b and not b.boundary else None
            if info is None:
                continue
            age = self._age_days(info.commit_time)
            if age is not None:
                total += math.exp(-age / RECENCY_DAYS)
                recent += age <= RECENCY_DAYS
            if newest[0] is None or info.commit_time > newest[0]:
                newest = (info.commit_time, b.sha)
        return math.sqrt(total / n) if n else 0.0, recent, n, newest[0], newest[1]

    def _history_reason(self, recent: int, n: int, when: datetime | None,
                        sha: str | None) -> str:
        age = self._age_days(when)
        info = self.git.commit(sha) if sha else None
        text = f"{recent} of its {n} lines changed within {RECENCY_DAYS:.0f} days before first seen"
        if age is not None:
            text += f"; newest change {_ago(age)} before"
            if info:
                text += f" in {info.sha[:10]} ({info.subject[:60]})"
        return text

    def add_history(self) -> None:
        # Recently changed functions in the files of the stack (the fault may not be in it).
        file_weight: dict[str, float] = {}
        for fe in self.frames:
            if fe.weight > 0 and fe.file:
                file_weight[fe.file] = max(file_weight.get(fe.file, 0.0), fe.weight)
        existing = set(self.cands)
        for path, fw in sorted(file_weight.items(), key=lambda kv: -kv[1])[:6]:
            src = self.git.source(self.commit, path)
            if src is None:
                continue
            for d in src.defs:
                if d.kind != "function" or (path, d.qualname, d.start) in existing:
                    continue
                h, recent, n, when, sha = self.recency(path, d)
                if recent == 0:
                    continue
                c = self.cand(path, d)
                if c:
                    c.add("same_file_recent", W_SAME_FILE_RECENT * fw * h,
                          f"in {path}, a file of the stack: "
                          + self._history_reason(recent, n, when, sha))
        # Every candidate: how much of it changed shortly before first-seen? History amplifies
        # other evidence; it does not make a suspect on its own.
        ranked = sorted(self.cands.values(), key=lambda c: -c.score)[:30]
        for c in ranked:
            h, recent, n, when, sha = self.recency(c.file, c.definition)
            c.last_change = when
            evidence = sum(v for k, v in c.signals.items()
                           if k not in ("history", "same_file_recent"))
            pts = W_HISTORY * h * min(1.0, evidence / 1.5)
            if pts >= 0.05:
                c.add("history", pts, self._history_reason(recent, n, when, sha))

    def add_callees_of_suspects(self) -> None:
        """Callees of strong suspects that are not themselves in the stack (a function that
        returned a wrong value may have delegated the mistake)."""
        top = sorted(self.cands.values(), key=lambda c: -c.score)[:3]
        for parent in top:
            if parent.in_stack or parent.score < 1.0:
                continue
            src = self.git.source(self.commit, parent.file)
            if src is None:
                continue
            body = src.text(parent.definition.start + 1, parent.definition.end)
            names = [n for n in _calls(body) if n.split(".")[-1] not in _STOP]
            local = {n.split(".")[-1] for n in names}
            for name in sorted(local):
                defs = [d for d in src.named(name) if d.kind == "function"
                        and d is not parent.definition]
                for d in defs[:2]:
                    c = self.cand(parent.file, d)
                    if c:
                        c.add("callee_of_suspect",
                              W_CALLEE_OF_SUSPECT * min(parent.score, 4.0) / len(defs),
                              f"called by suspect {parent.definition.qualname}")

    # -- results ------------------------------------------------------------------------------

    def locations(self, limit: int) -> list[SuspectLocation]:
        cands = sorted(self.cands.values(),
                       key=lambda c: (-c.score, c.depth, c.file, c.definition.start))
        out = []
        for c in cands[:limit]:
            reasons = [c.reasons[k] for k in sorted(c.signals, key=lambda k: -c.signals[k])]
            out.append(SuspectLocation(
                file=c.file, function=c.definition.name, line=c.line, score=c.score,
                reasons=reasons, qualname=c.definition.qualname, start=c.definition.start,
                end=c.definition.end, signals=dict(c.signals), in_stack=c.in_stack,
                last_change=c.last_change))
        return out

    def commits(self, locs: list[SuspectLocation], limit: int) -> list[SuspectCommit]:
        points: dict[str, dict[str, float]] = {}
        reasons: dict[str, dict[str, str]] = {}
        excluded: set[str] = set()

        groups: dict[str, str] = {}  # link key → the location it is about

        def credit(sha: str, kind: str, pts: float, reason: str, group: str) -> None:
            if self._valid(sha) is None:
                excluded.add(sha)
                return
            bucket = points.setdefault(sha, {})
            rs = reasons.setdefault(sha, {})
            key = f"{kind}:{reason}"
            groups[key] = group
            if pts > bucket.get(key, 0):
                bucket[key] = pts
                rs[key] = reason

        # Suspect functions with evidence of their own (not only "changed recently", which
        # would credit the same commits twice).
        top = [loc for loc in locs[:6]
               if set(loc.signals) - {"history", "same_file_recent", "callee_of_suspect"}][:5]
        needed: dict[str, set[int]] = {}
        for fe in self.frames:
            if fe.weight > 0 and fe.file and fe.line:
                needed.setdefault(fe.file, set()).add(fe.line)
        for loc in top:
            needed.setdefault(loc.file, set()).update(range(loc.start, loc.end + 1))
        for path, lines in needed.items():  # one exact blame per file
            self.blame_lines(path, sorted(lines))
        for fe in self.frames:
            if fe.weight <= 0 or not fe.file or not fe.line:
                continue
            b = self.blame_line(fe.file, fe.line)
            if b is None:
                continue
            info = self.git.commit(b.sha)
            fe.last_change = _commit_brief(info) if info else None
            code = fe.frame.context_line.strip() if fe.frame and fe.frame.context_line else ""
            around = min((loc for loc in top if loc.file == fe.file
                          and loc.start <= fe.line <= loc.end),
                         key=lambda loc: loc.end - loc.start, default=None)
            credit(b.sha, "frame", W_COMMIT_FRAME_LINE * fe.weight,
                   f"last changed frame line {fe.file}:{fe.line} ({fe.scope or fe.function})"
                   + (f": `{code[:70]}`" if code else ""),
                   f"{fe.file}:{around.start}" if around else f"{fe.file}:{fe.line}")
        best = max((loc.score for loc in top), default=1.0) or 1.0
        for loc in top:
            counts: dict[str, int] = {}
            for ln in range(loc.start, loc.end + 1):
                b = self.blame_line(loc.file, ln)
                if b:
                    counts[b.sha] = counts.get(b.sha, 0) + 1
            span = max(1, loc.end - loc.start + 1)
            for sha, n in counts.items():
                credit(sha, "function", W_COMMIT_FUNCTION * (loc.score / best) * n / span,
                       f"wrote {n} of {span} lines of {loc.qualname} ({loc.file}), "
                       f"suspect location #{locs.index(loc) + 1}", f"{loc.file}:{loc.start}")
        files = []
        for fe in self.frames:
            if fe.weight > 0 and fe.file and fe.file not in files:
                files.append(fe.file)
        for loc in top:
            if loc.file not in files:
                files.append(loc.file)
        for path in files[:6]:
            for i, info in enumerate(self.git.file_log(self.blame_base, path, self.first_seen,
                                                       limit=10)):
                credit(info.sha, "file", W_COMMIT_FILE / (1 + i),
                       f"changed {path} ({_ordinal(i + 1)} most recent change before first seen)",
                       f"file {path}")
        out = []
        ages = {sha: self._age_days(info.commit_time) for sha in points
                if (info := self.git.commit(sha)) is not None}
        # Recency is measured from the youngest commit with a direct link (it wrote a frame
        # line, or a real share of a suspect function), so that a younger commit that merely
        # touched the file does not push the direct links down.
        direct = [a for sha, a in ages.items() if a is not None and any(
            k.startswith("frame:") or (k.startswith("function:") and v >= MIN_DIRECT_FUNCTION)
            for k, v in points[sha].items())]
        youngest = min(direct or [a for a in ages.values() if a is not None], default=0.0)
        for sha, bucket in points.items():
            info = self.git.commit(sha)
            if info is None:
                continue
            age = ages.get(sha)
            # Evidence decays with how much older the commit is than the youngest candidate:
            # the change closest to first-seen needs the least evidence to be the cause.
            recency = min(1.0, max(COMMIT_RECENCY_FLOOR, math.exp(
                -((age or 0.0) - youngest) / COMMIT_RECENCY_DAYS))) if age is not None else 1.0
            # Links about the same location add up (the commit that wrote the frame line *and*
            # most of the function around it beats one that touched that line alone); the
            # strongest location counts fully, further ones with diminishing weight (a commit
            # that wrote a whole module links to every frame, which says little).
            by_loc: dict[str, float] = {}
            for k, v in bucket.items():
                by_loc[groups[k]] = by_loc.get(groups[k], 0.0) + v
            strongest = max(by_loc.values())
            total = (strongest + COMMIT_MORE_LINKS * (sum(by_loc.values()) - strongest)) * recency
            rs = [reasons[sha][k] for k in sorted(bucket, key=lambda k: -bucket[k])]
            if age is not None:
                rs.append(f"committed {_ago(age)} before first seen")
            out.append(SuspectCommit(sha=sha, score=total, reasons=rs, author=info.author,
                                     email=info.email, date=info.commit_time,
                                     subject=info.subject,
                                     age_before_first_seen=(timedelta(days=age)
                                                            if age is not None else None)))
        out = self._size_penalty(out, limit)
        for c in out:
            c.files = self.git.commit_files(c.sha)
            if c.files:
                shown = ", ".join(f"{p} (+{a} −{d})" for p, a, d in c.files[:6])
                more = f" and {len(c.files) - 6} more" if len(c.files) > 6 else ""
                c.reasons.append(f"changed {len(c.files)} file(s): {shown}{more}")
            c.reasons.append(f"by {c.author} — {c.subject[:100]}")
        if excluded:
            self.notes.append(f"{len(excluded)} commit(s) after first seen excluded from suspects")
        return out


    def _size_penalty(self, scored: list[SuspectCommit], limit: int) -> list[SuspectCommit]:
        """The best `limit` commits once each is discounted by how many files it changed
        (a wide commit — a rename, reformatting, copyright years — explains any one line less
        than a focused one). The discount never raises a score, so commits are sized lazily,
        best first, until no unsized one can still make the cut."""
        scored.sort(key=lambda c: (-c.score, -(c.date.timestamp() if c.date else 0)))
        done: list[SuspectCommit] = []
        for c in scored:
            if len(done) >= limit and c.score <= sorted(d.score for d in done)[-limit]:
                break
            n = len(self.git.commit_files(c.sha))
            factor = (1 + n / COMMIT_SIZE_FILES) ** -COMMIT_SIZE_POWER
            c.score *= factor
            if factor < 0.8:
                c.reasons.append(f"a wide commit ({n} files changed): weight x{factor:.2f}")
            done.append(c)
        done.sort(key=lambda c: (-c.score, -(c.date.timestamp() if c.date else 0)))
        return done[:limit]


def _types_in_message(value: str) -> set[str]:
    """Type names a TypeError-like message blames: `'int' object ...`, `(not "int")`, ..."""
    types = set(re.findall(r"'(\w+)' object", value))
    types |= set(re.findall(r"\(not \"?'?(\w+)\"?'?\)", value))
    types |= set(re.findall(r"must be \w+(?: or \w+)*, not '?(\w+)'?", value))
    for pair in re.findall(r"operand type\(s\) for [^:]+: '(\w+)' and '(\w+)'", value):
        types |= set(pair)
    types |= set(re.findall(r"argument of type '(\w+)'", value))
    return types


def _repr_has_type(rep: str, types: set[str]) -> bool:
    try:
        val = ast.literal_eval(rep)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return any(re.match(rf"<(?:[\w.]+\.)?{re.escape(t)}\b", rep) for t in types)
    return type(val).__name__ in types


def _ago(days: float) -> str:
    if days < 1 / 24:
        return f"{max(1, round(days * 1440))} min"
    if days < 2:
        return f"{days * 24:.0f} h"
    if days < 60:
        return f"{days:.0f} days"
    return f"{days / 30.4:.0f} months"


def _ordinal(n: int) -> str:
    return {1: "1st", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def _commit_brief(info: CommitInfo) -> dict[str, Any]:
    return {"sha": info.sha, "author": info.author, "date": info.commit_time.isoformat(),
            "subject": info.subject}


def _impact(event: ParsedEvent, first_seen: datetime | None) -> dict[str, Any]:
    boring = {"level", "environment", "release", "sentry:release", "handled", "mechanism",
              "server_name", "runtime.name", "os.name", "browser.name", "sentry:user",
              "transaction", "url", "dist", "sentry:dist"}
    primary = event.primary
    handled = None
    for exc in event.exceptions:
        if exc.handled is not None:
            handled = exc.handled
    if handled is None and event.tags.get("handled") in ("yes", "no"):
        handled = event.tags["handled"] == "yes"
    return {
        "event_count": event.count,
        "user_count": event.user_count,
        "first_seen": first_seen.isoformat() if first_seen else None,
        "last_seen": (event.last_seen or event.timestamp).isoformat()
        if (event.last_seen or event.timestamp) else None,
        "release": event.release,
        "environment": event.environment,
        "level": event.level,
        "handled": handled,
        "platform": event.platform,
        "exception": primary.qualified_type if primary else None,
        "transaction": event.transaction,
        "url": event.request_url,
        "server_name": event.server_name,
        "user": {k: v for k, v in event.user.items() if k in ("id", "username", "email",
                                                                "ip_address")} or None,
        "notable_tags": {k: v for k, v in sorted(event.tags.items()) if k not in boring},
    }


def _headline(event: ParsedEvent, locs: list[SuspectLocation],
              frames: list[FrameEvidence]) -> str:
    primary = event.primary
    what = primary.summary() if primary else (event.title or event.message or "error")
    inner = next((f for f in frames if f.weight > 0 and f.file), None)
    where = f" in {inner.scope or inner.function} ({inner.file}:{inner.line})" if inner else ""
    return f"{what.splitlines()[0][:200]}{where}"


def analyse(event: ParsedEvent, repo: Path | str, first_seen: datetime | None = None,
            *, max_locations: int = 10, max_commits: int = 5,
            redact: Callable[[str], str] | None = None) -> Evidence:
    """Gather the deterministic root-cause evidence for `event` in the git repository `repo`.

    `first_seen` is when the issue was first seen (commits after it cannot be the cause);
    default: the event's issue first-seen, else the event's own time.
    """
    t0 = time.monotonic()
    git = Git(repo, redact=command_redactor(event, redact or Redactor()))
    first_seen = first_seen or event.first_seen or event.timestamp
    if first_seen is not None and first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=UTC)
    commit, how = resolve_commit(git, event)
    primary = event.primary
    exc_json = {"type": primary.qualified_type if primary else None,
                "value": primary.value if primary else None,
                "chain": [{"type": e.type, "value": e.value} for e in event.exceptions],
                "title": event.title}
    if commit is None:
        return Evidence(None, how, first_seen, event.title or "", exc_json, [], [], [],
                        _impact(event, first_seen), ["no commit to analyse"], git.commands,
                        time.monotonic() - t0)
    a = _Analysis(git, event, commit, RepoFiles(git.ls_files(commit)), first_seen)
    a.set_base()
    a.collect_frames()
    a.detect_languages()
    a.add_stack()
    a.add_message()
    a.add_callees()
    a.add_value_sources()
    a.add_provenance()
    a.add_attribute()
    a.add_literals()
    a.add_callees_of_suspects()
    a.add_history()
    locs = a.locations(max_locations)
    commits = a.commits(locs, max_commits)
    if not any(fe.weight > 0 for fe in a.frames):
        a.notes.append("no in-app frame maps to the repository: ranking rests on the message, "
                       "the calling code and history")
    mismatched = [fe for fe in a.frames if fe.context_matches is False]
    if mismatched:
        a.notes.append(f"{len(mismatched)} frame line(s) differ from the event's recorded code: "
                       "the commit may not be exactly the one that ran")
    return Evidence(
        commit=commit, commit_reason=how, first_seen=first_seen,
        headline=_headline(event, locs, a.frames), exception=exc_json, frames=a.frames,
        suspect_locations=locs, suspect_commits=commits, impact=_impact(event, first_seen),
        notes=a.notes, commands=git.commands, seconds=time.monotonic() - t0)


# ---------------------------------------------------------------------------------------------
# Markdown


def _markdown(ev: Evidence) -> str:
    out: list[str] = [f"# Root-cause evidence: {ev.headline}", ""]
    imp = ev.impact
    facts = [
        ("Events", imp.get("event_count")), ("Users", imp.get("user_count")),
        ("First seen", imp.get("first_seen")), ("Last seen", imp.get("last_seen")),
        ("Release", imp.get("release")), ("Environment", imp.get("environment")),
        ("Level", imp.get("level")), ("Handled", imp.get("handled")),
        ("Transaction", imp.get("transaction")), ("URL", imp.get("url")),
    ]
    out += ["## Impact", ""]
    out += [f"- **{k}**: {v}" for k, v in facts if v not in (None, "")]
    if imp.get("notable_tags"):
        tags = ", ".join(f"`{k}={v}`" for k, v in list(imp["notable_tags"].items())[:12])
        out.append(f"- **Tags**: {tags}")
    out += ["", "## Code that ran", "",
            f"`{ev.commit[:12] if ev.commit else 'unknown'}` — {ev.commit_reason}", ""]
    out += ["## Suspect locations", "", "| # | location | function | score | why |",
            "|---|---|---|---|---|"]
    for i, s in enumerate(ev.suspect_locations, start=1):
        why = "; ".join(s.reasons[:3]).replace("|", "\\|")
        out.append(f"| {i} | `{s.file}:{s.line}` | `{s.qualname or s.function}` | "
                   f"{s.score:.2f} | {why} |")
    out += ["", "## Suspect commits", ""]
    if not ev.suspect_commits:
        out.append("No commit before first seen touches the code in question.")
    for i, c in enumerate(ev.suspect_commits, start=1):
        date = c.date.date().isoformat() if c.date else "?"
        out.append(f"{i}. `{c.sha[:10]}` {c.subject[:80]} — {c.author}, {date} "
                   f"(score {c.score:.2f})")
        out += [f"   - {r}" for r in c.reasons]
    out += ["", "## Frames (innermost first)", ""]
    shown = [f for f in ev.frames if f.file or f.in_app][:12]
    for f in shown:
        where = f"{f.file}:{f.line}" if f.file else f"{f.raw_path}:{f.line} (not in repository)"
        tag = "test/caller code" if f.is_test else ("in-app" if f.in_app else "not in-app")
        out.append(f"### `{f.scope or f.function}` — {where} ({tag})")
        if f.last_change:
            out.append(f"Line last changed in `{f.last_change['sha'][:10]}` by "
                       f"{f.last_change['author']} ({f.last_change['date'][:10]}).")
        if f.code:
            out.append("```")
            out += [f"{'>' if n == f.line else ' '} {n:5d}  {t}" for n, t in f.code]
            out.append("```")
        if f.context_matches is False:
            out.append("_The event recorded different code on this line._")
        out.append("")
    if ev.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in ev.notes] + [""]
    out += ["## Commands run", "", "```"] + ev.commands[:60] + ["```", ""]
    return "\n".join(out)
