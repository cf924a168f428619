"""Read-only git access to one repository; every command is recorded."""

from __future__ import annotations

import dataclasses
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.redact import MASK, Redactor
from integrations.sentry_model import ParsedEvent
from skills.rca.source import Source

BLAME_FOLLOW = ("-M", "-C")


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

    def __init__(self, repo: Path | str, timeout: float = 30.0,
                 redact: Callable[[str], str] | None = None):
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
            raise GitError(self.redact(
                f"git {' '.join(args)}: {proc.stderr.decode('utf-8', 'replace')[:300]}"))
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
        # No -w: in Python an indentation change is a code change (removing a `try:` guard
        # re-indents its body), so whitespace-insensitive blame would hide the culprit. -M/-C
        # follow lines moved within the file or copied from files changed in the same commit.
        args = ["blame", "--porcelain", *BLAME_FOLLOW]
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
                 lines: tuple[int, int] | None = None) -> list[CommitInfo]:
        """The last `limit` non-merge commits before `until` that changed `path` (only its
        `lines` range at `commit`, followed back through history, when given), newest first."""
        args = ["log", f"-n{limit}", "--no-merges",
                "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%ct%x1f%s"]
        if until is not None:
            args.append(f"--until={int(until.timestamp())}")
        if lines is not None:
            args += ["-s", f"-L{lines[0]},{lines[1]}:{path}", commit]
        else:
            args += [commit, "--", path]
        out = self.try_run(*args) or ""
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



def first_release(git: Git, sha: str) -> tuple[str, datetime] | None:
    """The oldest tag that contains `sha` (the release that first shipped it), with its date."""
    out = git.try_run("tag", "--contains", sha, "--sort=creatordate",
                      "--format=%(refname:short)%1f%(creatordate:unix)", record=False) or ""
    for row in out.splitlines():
        name, _, when = row.partition("\x1f")
        if name and when.strip().isdigit():
            return name, _epoch(when.strip())
    return None
