"""The failing test's own lines: what the event recorded of it, and the data flow from the values
its failing line checks back to the calls that made them (a few assignment hops)."""

from __future__ import annotations

import re

from skills.rca.source import _calls

ASSIGN = re.compile(r"^\s*([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_]\w*)*)\s*(?::[^=]+)?=(?!=)(.+)$")
_WITH_AS = re.compile(r"^\s*(?:async\s+)?(?:with|for)\s+(.+?)\s+(?:as|in)\s+([A-Za-z_][\w, ]*)")
_FOR_IN = re.compile(r"^\s*for\s+([A-Za-z_][\w, ]*)\s+in\s+(.+):")


def event_lines(fr) -> list[tuple[int, str]]:
    """The test's lines the event recorded, numbered, from the function's `def` (if shown)
    to the failing statement (continued onto the next lines when it is)."""
    pre = list(fr.pre_context or [])
    start = fr.lineno - len(pre)
    out = [(start + i, t) for i, t in enumerate(pre)]
    for i in range(len(out) - 1, -1, -1):
        if re.match(r"\s*(?:async\s+)?def\s", out[i][1]):
            out = out[i + 1:]
            break
    stmt = fr.context_line or ""
    for extra in (fr.post_context or [])[:4]:
        if stmt.count("(") <= stmt.count(")") and stmt.count("[") <= stmt.count("]"):
            break
        stmt += " " + extra.strip()
    return out + [(fr.lineno, stmt)]


def balanced(text: str) -> bool:
    """Whether every bracket the text opens it also closes."""
    return all(text.count(a) == text.count(b) for a, b in ("()", "[]", "{}"))


def data_flow(lines: list[tuple[int, str]]) -> dict[tuple[str, int], int]:
    """(call, line) → assignment hops from its value to the failing (last) line. Of an
    assigned expression only the outermost call made the value; calls in its arguments made
    the inputs (they are left to the plain test-call signal)."""
    fail_ln, fail = lines[-1]
    out = {(c, fail_ln): 0 for c in _calls(fail)}
    wanted = {n.split(".")[0] for n in re.findall(r"[A-Za-z_][\w.]*", _strip_strings(fail))}
    wanted |= set(re.findall(r"self\.\w+", fail))
    for hops in range(1, 4):
        nxt: set[str] = set()
        for ln, text in reversed(lines[:-1]):
            targets, rhs = _assignment(text)
            if not targets or not targets & wanted:
                continue
            made = _calls(rhs)[:1]
            for c in made:
                out.setdefault((c, ln), hops)
            if made:  # the value came from the call: follow its receiver, not its arguments
                recv = made[0].rsplit(".", 1)[0] if "." in made[0] else ""
                nxt |= {recv.split(".")[0]} | ({recv} if recv.startswith("self.") else set())
            else:
                nxt |= {n.split(".")[0] for n in re.findall(r"[A-Za-z_][\w.]*",
                                                            _strip_strings(rhs))}
                nxt |= set(re.findall(r"self\.\w+", rhs))
            wanted -= targets
        if not nxt:
            break
        wanted = nxt
    return out


def _assignment(text: str) -> tuple[set[str], str]:
    for pat, tgt, val in ((_FOR_IN, 1, 2), (_WITH_AS, 2, 1), (ASSIGN, 1, 2)):
        m = pat.match(text)
        if m:
            return {t.strip() for t in m.group(tgt).split(",") if t.strip()}, m.group(val)
    return set(), ""


def _strip_strings(text: str) -> str:
    return re.sub(r"""(["'])(?:\\.|(?!\1).)*\1""", "''", text)
