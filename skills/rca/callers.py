"""A widely used helper failing on the arguments it was given: the caller passed a bad value.

When the innermost frame is a function called from many places (`to_bytes`, `to_unicode`) and
the failing statement works only on the function's own parameters (a type check that raises,
`text.decode(encoding)` on its argument, a thin wrapper passing its arguments on), the helper
did what it always does for everyone else: the value it got is the problem, and the first frame
outward that does more than pass its arguments on is where that value was made.
"""

from __future__ import annotations

import ast
import re
import textwrap

from skills.rca.weights import HELPER_FACTOR, HELPER_FANIN, W_CALLER_OF_HELPER


def statement_names(lines: list[str], start: int, end: int, line: int,
                    ) -> tuple[set[str], set[str], set[str]] | None:
    """(names the statement at `line` uses, the function's parameters, variables it assigned
    before that line) for the function spanning `start..end`, or None."""
    text = textwrap.dedent("\n".join(lines[start - 1:end]))
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)),
              None)
    if fn is None:
        return None
    a = fn.args
    params = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
    params |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
    rel = line - start + 1
    stmt = None
    for node in ast.walk(fn):
        if isinstance(node, ast.stmt) and node is not fn and node.lineno <= rel <= (
                node.end_lineno or node.lineno) and not isinstance(
                node, ast.If | ast.For | ast.While | ast.With | ast.Try | ast.FunctionDef):
            if stmt is None or node.lineno >= stmt.lineno:
                stmt = node
    if stmt is None:
        return None
    used = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    assigned = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)
                and isinstance(n.ctx, ast.Store) and n.lineno < rel}
    return used, params, assigned


def fails_on_arguments(lines: list[str], start: int, end: int, line: int) -> bool:
    """True when the statement at `line` of the function spanning `start..end` uses one of the
    function's parameters (other than self/cls) and no variable the function computed."""
    got = statement_names(lines, start, end, line)
    if got is None:
        return False
    used, params, assigned = got
    params -= {"self", "cls"}
    # a parameter normalised in place (`if encoding is None: encoding = "utf-8"`) is still
    # the argument; any other local variable means the function computed the value itself
    return bool(used & params) and not (used & assigned) - params


def forwards_object_state(lines: list[str], start: int, end: int, line: int) -> bool:
    """True when the statement only passes on the object's state (`self.f(**self.opts)`):
    the value was made wherever that state was set, which the stack does not show."""
    got = statement_names(lines, start, end, line)
    if got is None:
        return False
    used, params, assigned = got
    local = used & (params | assigned)
    return bool(local & {"self", "cls"}) and not (local - {"self", "cls"})


class CallerBlame:
    """Mixin of the analysis: moves the stack's weight from widely used helpers to the caller."""

    def fan_in(self, name: str, file: str = "") -> int:
        """How many lines of the repository call `name(` (a cheap measure of how widely a
        function is used). A bare name says nothing about which of its definitions is called:
        when several modules define `name`, only calls in `file` itself and in files that name
        its module count, and the calls are shared among the definitions (`match` in every
        plugin, `serialize` in every parameter class)."""
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            return 0
        counts = self._grep_counts(rf"(^|[^A-Za-z0-9_]){name}[[:space:]]*\(")
        defs = self._grep_counts(rf"^[[:space:]]*(async[[:space:]]+)?def[[:space:]]+{name}[[:space:]]*\(")
        if len(defs) > 1 and file:
            stem = file.rsplit("/", 1)[-1].removesuffix(".py")
            if stem == "__init__":
                stem = file.rsplit("/", 2)[-2] if "/" in file else stem
            users = set(self._grep_counts(rf"(^|[^A-Za-z0-9_]){re.escape(stem)}([^A-Za-z0-9_]|$)"))
            counts = {p: n for p, n in counts.items() if p == file or p in users}
        calls = sum(counts.values()) - sum(defs.get(p, 0) for p in counts)
        return max(0, calls) // max(1, sum(defs.values()))  # calls shared among the definitions

    def _grep_counts(self, pattern: str) -> dict[str, int]:
        """Matching lines per Python file at the release, for an extended regex."""
        out = self.git.try_run("grep", "-c", "-E", pattern, self.commit, "--", "*.py",
                               record=False) or ""
        counts: dict[str, int] = {}
        for row in out.splitlines():
            where, _, n = row.rpartition(":")
            if n.isdigit() and where:
                counts[where.split(":", 1)[1] if where.startswith(self.commit) else where] = int(n)
        return counts

    def shift_to_caller(self) -> None:
        """Move the weight of widely used helpers failing on their arguments to the first
        caller that made the value (unless provenance already traced where it came from)."""
        if any("provenance" in c.signals for c in self.cands.values()):
            return
        primary = len(self.event.exceptions) - 1
        frames = [fe for fe in self.frames if fe.exception_index == primary and fe.weight > 0
                  and fe.file and fe.line and fe.file.endswith(".py")]
        helpers = []
        for fe in frames[:-1]:
            src = self.git.source(self.commit, fe.file)
            d = src.scope(fe.line) if src else None
            if d is None or d.kind != "function" or not fails_on_arguments(
                    src.lines, d.start, d.end, fe.line):
                break
            n = self.fan_in(d.name, fe.file)
            if n < HELPER_FANIN:
                break
            helpers.append((fe, d, n))
        if not helpers:
            return
        caller = frames[len(helpers)]
        csrc = self.git.source(self.commit, caller.file)
        cd = csrc.scope(caller.line) if csrc else None
        if cd is None or cd.kind == "function" and forwards_object_state(
                csrc.lines, cd.start, cd.end, caller.line):
            return  # the caller passed on object state: who made it is not on the stack
        names = ", ".join(f"{d.qualname} ({n} call sites)" for _, d, n in helpers)
        for fe, d, _ in helpers:
            fe.weight *= HELPER_FACTOR
            c = self.cands.get((fe.file, d.qualname, d.start))
            if c is not None and "stack" in c.signals:
                c.signals["stack"] *= HELPER_FACTOR
                c.reasons["stack"] += (" — a widely used helper failing on the arguments it "
                                       "was given")
        src = self.git.source(self.commit, caller.file)
        if src is None:
            return
        d = src.scope(caller.line)
        c = self.cand(caller.file, d, caller.line)
        if c is not None:
            c.add("caller_of_helper", W_CALLER_OF_HELPER,
                  f"passed the value that {names} failed on ({caller.file}:{caller.line})")
        self.notes.append(f"the innermost frames are widely used helpers failing on their "
                          f"arguments ({names}); their caller {d.qualname} made the value")
