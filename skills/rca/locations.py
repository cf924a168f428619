"""Location ranking: candidate functions, name resolution, the stack, history, the ranked list."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from skills.rca.model import SuspectLocation
from skills.rca.paths import is_library_path, is_source_path, is_test_path
from skills.rca.source import _STOP, Definition, _calls
from skills.rca.weights import (
    NON_APP_DIRS,
    W_CALLEE_OF_SUSPECT,
    W_HISTORY,
    W_SAME_FILE_RECENT,
    W_STACK,
)


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



class LocationRanking:
    """Mixin of the analysis: the candidate registry and the ranking."""

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
                      at: dict[str, tuple[str, int]] | None = None,
                      ) -> dict[str, list[tuple[str, Definition]]]:
        """name (possibly dotted) → definitions (file, def) in the repository. Names with a
        position in a Python file (`at`: name → (file, line)) are resolved as Python does,
        through that module's imports (jedi); the others, and those jedi cannot resolve, by
        matching definitions of the bare name across the repository."""
        resolved = self._resolve_at(names, at or {})
        names = [n for n in names if n not in resolved]
        found = self._match_names(names, near) if names else {}
        found.update({n: defs for n, defs in resolved.items() if defs})
        return found

    def _resolve_at(self, names: list[str], at: dict[str, tuple[str, int]],
                    ) -> dict[str, list[tuple[str, Definition]]]:
        out: dict[str, list[tuple[str, Definition]]] = {}
        resolver = getattr(self, "resolver", None)
        if resolver is None:
            return out
        for n in names:
            if n not in at or n.split(".")[-1] in _STOP:
                continue
            path, line = at[n]
            hits = resolver.goto(path, line, n)
            if hits is None:
                continue
            out[n] = self.defs_at(hits)  # [] = resolved outside the repository: not ours
        return out

    def defs_at(self, hits: list[tuple[str, int]]) -> list[tuple[str, Definition]]:
        """The project definitions starting at the (path, line) places name resolution gave:
        not tests, not vendored libraries, not the exception types being raised."""
        defs = []
        for p, ln in hits:
            if is_test_path(p) or is_library_path(p) or p not in self.files:
                continue
            src = self.git.source(self.commit, p)
            d = next((d for d in (src.defs if src else []) if d.start == ln), None)
            if d is not None and not (d.kind == "class" and d.name in self.exception_types):
                defs.append((p, d))
        return defs

    def positions(self, path: str, names: list[str], lines: range,
                  ) -> dict[str, tuple[str, int]]:
        """Where each name is called within `lines` of `path` (nearest the end first)."""
        src = self.git.source(self.commit, path)
        out: dict[str, tuple[str, int]] = {}
        if src is None:
            return out
        for n in names:
            pat = re.compile(rf"(?<![\w$]){re.escape(n)}\s*\(")
            for ln in reversed(lines):
                if 0 < ln <= len(src.lines) and pat.search(src.lines[ln - 1]):
                    out[n] = (path, ln)
                    break
        return out

    def _match_names(self, names: list[str], near: str | None,
                     ) -> dict[str, list[tuple[str, Definition]]]:
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
