"""Exception chains: where the error was translated, and the cause it hid.

`except E: raise Other(...)` records the original error as `__context__`, and the SDK sends it
as a chained exception: then the cause's frames are where things went wrong, and they weigh
as much as the translated exception's. `raise Other(...) from None` suppresses the context, so
the event has no trace of the cause: then the calls of the `try:` body the handler belongs to
are what raised it, and they become suspects.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from skills.rca.source import _STOP
from skills.rca.weights import W_HIDDEN_CAUSE


@dataclass(frozen=True)
class Translation:
    """A `raise` inside an `except` handler: whether it hides the context, and the calls of
    the `try:` body it guards as (dotted name, line)."""

    suppressed: bool
    try_start: int
    try_end: int
    calls: tuple[tuple[str, int], ...]


def translation_at(text: str, line: int) -> Translation | None:
    """The translating `raise` on `line` of a Python source, or None."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return None
    for node in ast.walk(tree):
        if not isinstance(node, ast.Try | ast.TryStar):
            continue
        for handler in node.handlers:
            for sub in ast.walk(handler):
                if isinstance(sub, ast.Raise) and sub.lineno <= line <= (sub.end_lineno or line):
                    if sub.exc is None:
                        continue  # a bare re-raise keeps the original exception
                    suppressed = isinstance(sub.cause, ast.Constant) and sub.cause.value is None
                    body_end = max((getattr(n, "end_lineno", n.lineno) or n.lineno)
                                   for n in node.body)
                    calls = tuple(_calls_in(node.body))
                    return Translation(suppressed, node.body[0].lineno, body_end, calls)
    return None


def _calls_in(body: list[ast.stmt]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Call):
                name = _dotted(node.func)
                if name and name.split(".")[-1] not in _STOP and (name, node.lineno) not in out:
                    out.append((name, node.lineno))
    return out


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return None


class ExceptionChains:
    """Mixin of the analysis: translated exceptions and the causes they carry or hide."""

    def _translation(self) -> tuple[object, Translation] | None:
        primary = len(self.event.exceptions) - 1
        inner = next((fe for fe in self.frames if fe.exception_index == primary
                      and fe.weight > 0 and fe.file and fe.line), None)
        if inner is None or not inner.file.endswith(".py"):
            return None
        src = self.git.source(self.commit, inner.file)
        if src is None:
            return None
        found = translation_at("\n".join(src.lines), inner.line)
        return (inner, found) if found else None

    def reweigh_chain(self) -> None:
        """When the raised exception translates a recorded cause, the cause's frames weigh as
        much as the translation's (the cause is where it went wrong)."""
        if len(self.event.exceptions) < 2:
            return
        found = self._translation()
        if found is None or found[1].suppressed:
            return
        primary = len(self.event.exceptions) - 1
        for fe in self.frames:
            if fe.exception_index != primary and fe.weight > 0:
                fe.weight /= 0.9
            elif fe.exception_index == primary:
                fe.weight *= 0.9
        inner = found[0]
        self.notes.append(f"{inner.file}:{inner.line} translates the exception it caught; the "
                          "cause's frames (recorded as its context) weigh as much")

    def add_hidden_cause(self) -> None:
        """`raise … from None` hid the cause: the calls of the guarded `try:` body raised it."""
        found = self._translation()
        if found is None:
            return
        inner, tr = found
        if not tr.suppressed and len(self.event.exceptions) > 1:
            return  # the cause is in the event
        names = [n for n, _ in tr.calls]
        at = {n: (inner.file, ln) for n, ln in tr.calls}
        defs = self.resolve_names(names, near=inner.file, at=at)
        hits = [(p, d) for n in names for p, d in defs.get(n, [])]
        for p, d in hits:
            c = self.cand(p, self.constructor(p, d))
            if c:
                c.add("hidden_cause", W_HIDDEN_CAUSE * inner.weight / len(hits) ** 0.5,
                      f"called in the `try:` block (lines {tr.try_start}-{tr.try_end}) whose "
                      f"error {inner.file}:{inner.line} re-raises"
                      + (" with `from None`, hiding the original exception" if tr.suppressed
                         else ""))
        how = "`raise … from None` hides" if tr.suppressed else "the event does not record"
        self.notes.append(f"{inner.file}:{inner.line}: {how} the original exception; the calls "
                          f"of the `try:` block at lines {tr.try_start}-{tr.try_end} are suspects")
