"""Guards of a line: the conditions and handlers that decide whether (and how) it runs.

A bug is often not in the line that failed but in the `if` above it: a commit that narrowed a
condition, dropped an `except` clause or changed a loop's iterable lets the frame line run on
values it never saw before, and blame of the frame line alone never names it. `guard_lines`
gives the header lines of the Python blocks that enclose a line, innermost first, within its
function.
"""

from __future__ import annotations

import ast

MAX_GUARDS = 3
_BLOCKS = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)
_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def guard_lines(text: str, line: int, limit: int = MAX_GUARDS) -> list[int]:
    """Header lines (`if`/`elif` tests, `for`/`while`/`with` heads, `except` clauses) of the
    blocks enclosing `line` inside its innermost function, innermost first; [] when the text
    does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    out: list[int] = []
    node: ast.AST = tree
    while True:
        child = next((c for c in ast.iter_child_nodes(node) if _spans(c, line)), None)
        if child is None:
            break
        if isinstance(child, _FUNCS):
            out = []  # guards outside the line's own function say little about it
        elif isinstance(child, _BLOCKS) and not _on_header(child, line):
            out = _headers(child, line) + out
        node = child
    return list(dict.fromkeys(out))[:limit]


def _spans(node: ast.AST, line: int) -> bool:
    start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    return start is not None and end is not None and start <= line <= end


def _on_header(node: ast.AST, line: int) -> bool:
    body = getattr(node, "body", None) or []
    return bool(body) and line < body[0].lineno


def _headers(node: ast.AST, line: int) -> list[int]:
    """The header lines of `node` that decide whether `line` (in its body) runs."""
    if isinstance(node, ast.Try):
        # a line in the try body is guarded by its handlers; one in a handler by that clause
        for h in node.handlers:
            if _spans(h, line):
                return [h.lineno]
        return [h.lineno for h in node.handlers[:2]] if _in(node.body, line) else []
    if isinstance(node, ast.If):
        test = node.test
        lines = list(range(test.lineno, (test.end_lineno or test.lineno) + 1))
        return lines[:2] if _in(node.body, line) or _in(node.orelse, line) else []
    return [node.lineno]


def _in(stmts: list[ast.stmt], line: int) -> bool:
    return any(_spans(s, line) for s in stmts)


def last_line_run(text: str, line: int) -> int:
    """The last line of `line`'s function that can have run before `line` failed: `line`
    itself, or the end of the outermost loop around it (earlier iterations ran the rest)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return line
    last = line
    node: ast.AST = tree
    while (child := next((c for c in ast.iter_child_nodes(node) if _spans(c, line)), None)):
        if isinstance(child, _FUNCS):
            last = line
        elif isinstance(child, _LOOPS) and last == line:
            last = max(line, child.end_lineno or line)
        node = child
    return last
