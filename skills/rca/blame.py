"""Blame and history as of first-seen: line maps across commits, exact and recent blame, recency."""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from skills.rca.git import BlameLine, CommitInfo
from skills.rca.source import Definition
from skills.rca.weights import RECENCY_DAYS, RECENT_WINDOW_DAYS


class BlameHistory:
    """Mixin of the analysis: blame of the code that ran, as it was at first-seen."""

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
        # the mainline as of first-seen (a side branch's commit dated earlier was not deployed)
        out = self.git.try_run("rev-list", "-1", "--first-parent",
                               f"--before={int(self.first_seen.timestamp())}", self.commit)
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

