"""Location signals beyond the stack: the message, callees, value sources, provenance, attributes."""

from __future__ import annotations

import ast
import re

from skills.rca.model import FrameEvidence
from skills.rca.source import _DUNDER, _IDENT, _QUOTED, _STOP, _calls
from skills.rca.weights import (
    W_ATTR_ASSIGN,
    W_ATTR_EARLY_RETURN,
    W_ATTR_INIT,
    W_CALLEE_CALLER_LINE,
    W_CALLEE_CRASH_LINE,
    W_CALLER_WINDOW,
    W_DUNDER,
    W_LITERAL,
    W_MESSAGE_NAME,
    W_MESSAGE_QUALIFIED,
    W_PROVENANCE,
    W_VALUE_SOURCE,
)


class LocationSignals:
    """Mixin of the analysis: adds evidence to candidate locations."""

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
        listed = _listed_names(text)
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
                    self._message_signal(p, d, name in listed, W_MESSAGE_QUALIFIED
                                         * self._dir_factor(p) / max(1, len(qualified)) ** 0.5,
                                         f"the exception message names {name!r} → {p}:{d.start} "
                                         f"{d.qualname}")
                continue
            if parts[-1].startswith("__") and len(parts) == 1:
                continue  # a bare dunder name says nothing about which class
            fdefs = [(p, d) for p, d in defs if d.kind == "function"] or defs
            for p, d in fdefs:
                self._message_signal(p, d, name in listed, W_MESSAGE_NAME * self._dir_factor(p)
                                     / max(1, len(fdefs)),
                                     f"the exception message names {name!r} ({names[name]}) → "
                                     f"{p}:{d.start} {d.qualname}")

    def _message_signal(self, path: str, d, listed: bool, points: float, reason: str) -> None:
        """Credit a name of the message, unless it only appears in a list the message offers
        ("candidates are: a, b, c", "did you mean …"): such names are alternatives to what
        failed, so they count only if other evidence links them (see `apply_listed`)."""
        if listed:
            self.listed_pending.append((path, d, points, reason + " (one of the alternatives "
                                        "the message lists, linked by other evidence)"))
            return
        c = self.cand(path, d)
        if c:
            c.add("message", points, reason)

    def apply_listed(self) -> None:
        """Names from a message's list of alternatives count only for candidates that other
        evidence already links to the failure."""
        for path, d, points, reason in self.listed_pending:
            c = self.cands.get((path, d.qualname, d.start))
            if c is not None and c.score > 0:
                c.add("message", points, reason)
            else:
                self.discarded.append(f"{path}:{d.start} {d.qualname}: only named among the "
                                      "alternatives the error message lists")

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
                if re.match(r"\s*(?:async\s+)?def\s", prev):
                    before = []  # lines above the failing function's `def` belong to another
                    continue
                before += [c for c in _calls(prev) if c.split(".")[-1] not in _STOP]
            next_fn = None
            at = self.positions(fe.file, before, range(fe.line - 5, fe.line)) if fe.line else {}
            at.update(self.positions(fe.file, calls, range(fe.line, fe.line + 5))
                      if fe.line else {})
            found = self.resolve_names(calls + before, near=None, at=at)
            if not caller_code:
                next_fn = fr.function
            for name in calls:
                for p, d in found.get(name, []):
                    if d.name == next_fn:
                        continue
                    c = self.cand(p, self.constructor(p, d))
                    if c is None or (c.file, c.definition.qualname) in getattr(
                            self, "operand_builders", ()):
                        continue  # it only built what an operator compared (under_test.py)
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
            at = {c: (fe.file, ln) for c, ln in sources.values()}
            found = self.resolve_names([c for c, _ in sources.values()], near=fe.file, at=at)
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


_LIST_INTRO = re.compile(
    r"(?i)\b(?:candidates?|choices?|options?|alternatives?|possibilities|possible (?:values|"
    r"choices|names)|valid (?:values|options|choices|names|keys|types)|(?:available|known|"
    r"supported|allowed|registered)(?: \w+)?|one of|did you mean|perhaps you meant|"
    r"close matches)\b(?: are| is| were)?\s*[:=]?\s*")
_BRACKETED = re.compile(r"[\[{(]([^\[\]{}()]*,[^\[\]{}()]*,[^\[\]{}()]*)[\]})]")


def _listed_names(text: str) -> set[str]:
    """Names the message offers as a list of alternatives: after "candidates are", "one of",
    "did you mean", "available …", and in bracketed lists of three or more items."""
    out: set[str] = set()
    spans = [text[m.end():].split("\n", 1)[0] for m in _LIST_INTRO.finditer(text)]
    spans += [m.group(1) for m in _BRACKETED.finditer(text)]
    for span in spans:
        out |= {tok.strip(".") for tok in _IDENT.findall(span)}
    return out


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

