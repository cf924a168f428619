"""Condense a log file of any size in bounded memory (what `droid condense` runs).

A file up to `WHOLE_BYTES` is read whole and condensed by `condense` itself. A larger one is
read in windows of about `WINDOW_CHARS` characters: each window is condensed together with what
the windows before it kept (a tournament: the lines kept so far compete with the new ones, later
failures win ties as in `condense`), and only the last window treats its end as the end of the
log. A second pass over the file fetches the kept lines and counts their repeats. Memory is
bounded by the window and the budget, not by the file: a line longer than `LONG_LINE` characters
is held as its first and last `LONG_KEEP` characters (and its real length).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from skills.tools.condense import Condensed, condense
from skills.tools.condense_choose import choose
from skills.tools.condense_render import _render
from skills.tools.condense_scoring import (
    _ANSI,
    _DIGITS,
    _FRAME,
    _SCAN_CHARS,
    _TS_PREFIX,
    ScoreCache,
    _candidates,
    _stamped,
    normalise,
)

WHOLE_BYTES = 8 << 20  # files up to this size are condensed in one piece, exactly as `condense`
WINDOW_CHARS = 4 << 20  # how much of a larger log is read at a time
LONG_LINE = 1 << 20  # a line longer than this is held as its two ends
LONG_KEEP = 4096
BASELINE_KEYS = 500_000  # at most this many distinct failure lines are remembered from a baseline
_BACKTRACK = 2000  # how far back from a window's end to look for a line that starts something
_HEAD_BYTES = 8192


class NotText(ValueError):
    """The file is not a text log."""


def check_text(path: str | Path, label: str | None = None) -> None:
    """Raise NotText when the file's first bytes say it is binary: a NUL byte, or mostly bytes
    that are neither UTF-8 nor printable (`label`: the file's name in the message)."""
    label = label or str(path)
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
    if b"\x00" in head:
        raise NotText(f"{label} looks like a binary file (it has NUL bytes), not a log")
    text = head.decode("utf-8", "replace")
    bad = sum(1 for ch in text if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\x0c\x1b\x08"))
    if text and bad > 0.3 * len(text):
        raise NotText(f"{label} looks like a binary file ({bad * 100 // len(text)}% of its first bytes are "
                      "not text), not a log")


def condense_file(path: str | Path, max_lines: int = 100, baseline: str | Path | None = None, *,
                  whole_bytes: int = WHOLE_BYTES, window_chars: int = WINDOW_CHARS) -> Condensed:
    """`condense` for a file of any size; `baseline` is a passing log's file. Files up to
    `whole_bytes` are condensed whole, larger ones in windows of `window_chars` characters."""
    small = Path(path).stat().st_size <= whole_bytes
    if small and (baseline is None or Path(baseline).stat().st_size <= whole_bytes):
        base = _read(baseline) if baseline is not None else None
        return condense(_read(path), max_lines=max_lines, baseline=base)
    known = _baseline_known(_Lines(baseline, window_chars)) if baseline is not None else None
    return _Stream(_Lines(path, window_chars), max(0, int(max_lines)), known).run()


def _read(path: str | Path) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "replace")


class _Lines:
    """The lines of a file, read in windows (universal newlines, undecodable bytes replaced)."""

    def __init__(self, path: str | Path, window_chars: int = WINDOW_CHARS):
        self.path = path
        self.window_chars = window_chars
        self.lengths: dict[int, int] = {}  # line index -> real length, for the lines held by their ends

    def windows(self) -> Iterator[list[str]]:
        """Lists of whole lines, about WINDOW_CHARS characters each, in order."""
        index = 0
        rest, dropped = "", 0
        with open(self.path, encoding="utf-8", errors="replace", newline=None) as fh:
            while chunk := fh.read(self.window_chars):
                parts = (rest + chunk).split("\n")
                rest = parts.pop()
                if parts:
                    if dropped or len(parts[0]) > LONG_LINE:
                        self.lengths[index] = len(parts[0]) + dropped
                        parts[0] = _ends(parts[0])
                        dropped = 0
                    if max(map(len, parts)) > LONG_LINE:
                        for k in range(1, len(parts)):
                            if len(parts[k]) > LONG_LINE:
                                self.lengths[index + k] = len(parts[k])
                                parts[k] = _ends(parts[k])
                    index += len(parts)
                    yield parts
                if len(rest) > LONG_LINE:  # a line with no end in sight: keep its two ends
                    dropped += len(rest) - 2 * LONG_KEEP
                    rest = _ends(rest)
        if rest or dropped:
            if dropped:
                self.lengths[index] = len(rest) + dropped
            yield [rest]


def _ends(line: str) -> str:
    return line[:LONG_KEEP] + line[-LONG_KEEP:] if len(line) > 2 * LONG_KEEP else line


def _cleaner(stamped: bool) -> Callable[[str], str]:
    """A function cleaning one line the way `condense` does (no ANSI escapes, no timestamp)."""
    ansi, match = _ANSI.sub, _TS_PREFIX.match

    def clean(s: str) -> str:
        if "\x1b" in s:
            s = ansi("", s)
        if stamped:
            m = match(s)
            if m:
                s = s[m.end():]
        return s
    return clean


def _clean_all(lines: list[str], stamped: bool) -> list[str]:
    """`lines` cleaned as `_cleaner(stamped)` cleans one, each distinct line once (at C speed
    when a window has no escapes and no timestamps)."""
    fixed: dict[str, str] = {}
    if any("\x1b" in s for s in lines):
        ansi = _ANSI.sub
        fixed = {s: ansi("", s) for s in dict.fromkeys(lines) if "\x1b" in s}
    if stamped:
        match = _TS_PREFIX.match
        for s in dict.fromkeys(lines):
            c = fixed.get(s, s)
            m = match(c)
            if m:
                fixed[s] = c[m.end():]
    return list(map(fixed.get, lines, lines)) if fixed else list(lines)


def _short(c: str) -> str:
    """A cleaned line as short as it can be without changing its score."""
    half = _SCAN_CHARS // 2
    return c if len(c) <= _SCAN_CHARS else c[:half] + " ... " + c[-half:]


def _baseline_known(source: _Lines) -> Callable[[list[str]], list[bool]]:
    """Which of some cleaned lines the passing log has too (once normalised), read in windows."""
    keys: set[int] = set()
    done: set[int] = set()  # lines already looked at, digits folded (`normalise` folds them too)
    clean = None
    for lines in source.windows():
        if clean is None:
            clean = _cleaner(_stamped(lines))
        unique = list(dict.fromkeys(lines))
        for i in _candidates(unique):
            if len(keys) >= BASELINE_KEYS:
                break
            c = clean(unique[i])
            folded = hash(c.translate(_DIGITS))
            if folded not in done:
                if len(done) < BASELINE_KEYS:
                    done.add(folded)
                keys.add(hash(normalise(c, untag=False)))
    return lambda seen: [hash(normalise(s, untag=False)) in keys for s in seen]


_STARTS_SOMETHING = re.compile(r"\S")


class _Stream:
    """One condensing of a large file: rounds over windows, then the kept lines fetched."""

    def __init__(self, source: _Lines, budget: int, known: Callable[[list[str]], list[bool]] | None):
        self.source = source
        self.budget = budget
        self.known = known
        self.clean: Callable[[str], str] | None = None
        self.stamped = False  # whether the log's lines start with a timestamp (from its first lines)
        self.scores = ScoreCache()  # logs repeat themselves: a line is scored once, not once a window
        self.carry: list[tuple[int, str]] = []  # (line index, cleaned line) kept so far, ascending
        self.first: list[tuple[int, str]] = []  # the log's first lines: they are kept at the end
        self.start = 0  # index of the first line not condensed yet

    def run(self) -> Condensed:
        """Condense the file; read it twice."""
        pending: list[str] = []  # read, not condensed yet: the last window is condensed as the end
        for lines in self.source.windows():
            if self.clean is None:
                self.stamped = _stamped(lines)
                self.clean = _cleaner(self.stamped)
            cut = _cut_point(pending)
            if cut:
                self._round(pending[:cut], final=False)
                pending = pending[cut:]
            pending += lines
        if self.clean is None:
            return condense("", self.budget)
        total = self.start + len(pending)
        if total <= self.budget:
            kept = list(range(total))
        elif self.budget == 0:
            kept = []
        else:
            kept = self._round(pending, final=True)
        return self._render(kept, total)

    def _round(self, raw: list[str], final: bool) -> list[int]:
        """Condense the kept lines so far and these new ones; returns the line indices kept."""
        assert self.clean is not None
        new = _clean_all(raw, self.stamped)
        if self.start == 0:
            self.first = [(i, _short(c)) for i, c in enumerate(new[:3])]
        clean = [c for _, c in self.carry] + new
        index = [i for i, _ in self.carry] + list(range(self.start, self.start + len(raw)))
        self.start += len(raw)
        kept, _ = choose(clean, self.budget, self.known, final, (index, self.start), self.scores)
        chosen = dict(self.first)
        chosen.update((index[k], _short(clean[k])) for k in kept)
        self.carry = sorted(chosen.items())
        return [index[k] for k in kept]

    def _render(self, kept: list[int], total: int) -> Condensed:
        """Fetch the kept lines and their runs of copies, and show them as `condense` does."""
        assert self.clean is not None
        clean = self.clean
        texts: dict[int, str] = {}
        rep: dict[int, int] = {}
        run: tuple[int, str, int] | None = None  # a kept line whose copies go on in the next window
        base = 0
        for lines in self.source.windows():
            i = 0
            if run is not None:
                k, c, count = run
                while i < len(lines) and clean(lines[i]) == c:
                    i, count = i + 1, count + 1
                run = None if i < len(lines) else (k, c, count)
                if run is None and count >= 2:
                    rep[k] = count
            lo, hi = bisect.bisect_left(kept, base), bisect.bisect_left(kept, base + len(lines))
            for k in kept[lo:hi]:
                j = k - base
                texts[k] = lines[j]
                if j < i or run is not None:
                    continue  # among the copies of an earlier kept line
                c, count = clean(lines[j]), 0
                j += 1
                while j < len(lines) and clean(lines[j]) == c:
                    j, count = j + 1, count + 1
                if j == len(lines):
                    run = (k, c, count)
                elif count >= 2:
                    rep[k] = count
            base += len(lines)
        if run is not None and run[2] >= 2:
            rep[run[0]] = run[2]
        shown: list[int] = []
        covered = -1
        for k in kept:  # a kept line among the copies of the one before it is shown by its marker
            if k > covered:
                shown.append(k)
                covered = k + rep.get(k, 0)
        body = _render(texts, shown, rep, total, self.source.lengths)
        return Condensed(body, [k + 1 for k in shown], total, total - len(shown))


def _cut_point(lines: list[str]) -> int:
    """Where to end a window: before the last line (near the end) that starts something (not a
    stack frame, not indented, not blank), so a failure's block is not cut in two."""
    if len(lines) < 2:
        return 0
    floor = max(1, len(lines) - _BACKTRACK, len(lines) // 2)
    for i in range(len(lines) - 1, floor - 1, -1):
        s = lines[i]
        if s and s[0] not in " \t" and not _FRAME.match(s) and _STARTS_SOMETHING.match(s):
            return i
    return len(lines) - 1
