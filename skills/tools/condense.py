"""Condense a long tool output (build log, test run) to the lines that matter, within a budget.

Every tool's output passes through `condense` before a model sees it: a 100,000-line log reaches
the model as its failures (tracebacks, compiler errors, pytest/JUnit failure sections, the
summary lines), with omission markers saying what was dropped.

How it works:

1. Lines are split the way universal-newline text mode does (``\\n``, ``\\r\\n`` and a lone
   ``\\r`` each end a line; Java's ``readLine`` counts the same way), so `kept_lines` are the
   line numbers an editor or a CI tool shows. (``str.splitlines`` would also split on ``\\f``,
   ``\\v``, ``\\x1c``-``\\x1e``, ``\\x85`` and U+2028/9.)
2. Each line gets a score from what it says (``Traceback``, ``error:``, ``[ERROR]``,
   ``FAILED``, ``<<< FAILURE!``, exception names, ...) after ANSI colours and timestamp
   prefixes are stripped; passing-test lines, progress meters and ``[INFO]`` chatter score 0.
   Only lines with a failure word are looked at closely, each distinct text once.
3. Continuation lines (stack frames, indented lines, a multi-line exception message, the
   body of a pytest FAILURES / ERRORS section or of a short-summary entry) join the block of
   the scored line above them. Touching blocks form a region that shares its best score, so a
   stack trace next to ``<<< FAILURE!`` outranks a stray logged exception.
4. With a ``baseline`` (a passing log of the same command), scored lines that also occur there
   (after normalising timestamps, durations, numbers, hex ids and temp paths) are worth much
   less, and new ones a little more, so what is new in the failing output wins.
5. Blocks are chosen greedily by value under the line budget. Later failures are worth a little
   more (the one that ends a log ended the run); a message repeated for other files or tests
   is worth less at each copy; a long block's first lines are worth more than its rest. Then
   come a line of context around what was chosen, the last and first lines of the log, a
   second line of context, and up to a third of the budget of the log's end, while the budget
   lasts.

`max_lines` bounds the number of input lines kept; the omission markers come on top. A run of
3 or more identical lines counts as one kept line and is shown once, with a marker.

Reading and scoring lines (steps 1 and 2) live in condense_scoring.py, blocks (step 3) in
condense_blocks.py, the baseline (step 4) in condense_baseline.py, the choice (step 5) in
condense_choose.py and the text shown in condense_render.py; a file of any size is condensed in
bounded memory by condense_file.py, which `droid condense` (condense_cli.py) runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from skills.tools.condense_baseline import _in_baseline
from skills.tools.condense_choose import choose
from skills.tools.condense_render import _render
from skills.tools.condense_scoring import (
    _prepare,
    split_lines,
)


@dataclass
class Condensed:
    """The condensed output: what the model sees, and which input lines it shows."""

    text: str  # kept lines (with "[... N lines omitted ...]" markers), bounded
    kept_lines: list[int]  # 1-based line numbers of the input that were kept, ascending
    total_lines: int
    dropped_lines: int


def condense(text: str, max_lines: int = 100, baseline: str | None = None) -> Condensed:
    """Keep at most `max_lines` lines of `text`, the ones that explain a failure.

    `baseline`, when given, is the output of a passing run of the same command: lines found in
    it too are worth less. Never raises on odd input.
    """
    try:
        return _condense(text, max_lines, baseline)
    except Exception as exc:  # pragma: no cover - a safety net: a tool never raises
        lines = split_lines(text if isinstance(text, str) else str(text))
        total = len(lines)
        budget = max(0, int(max_lines or 0))
        kept = list(range(max(0, total - budget), total))
        body = _render(lines, kept, {}, total)
        return Condensed(
            f"[condense failed ({type(exc).__name__}); showing the last lines]\n{body}",
            [i + 1 for i in kept], total, total - len(kept),
        )


def _condense(text: str, max_lines: int, baseline: str | None) -> Condensed:
    if not isinstance(text, str):
        text = bytes(text).decode("utf-8", "replace") if isinstance(text, bytes | bytearray) else str(text)
    lines, clean = _prepare(text)
    n = len(lines)
    budget = max(0, int(max_lines))
    if n <= budget:
        kept = list(range(n))
        return Condensed(_render(lines, kept, {}, n), [i + 1 for i in kept], n, 0)
    if budget == 0:
        return Condensed(_render(lines, [], {}, n), [], n, n)

    known = (lambda seen: _in_baseline(baseline, seen)) if baseline else None
    kept, rep = choose(clean, budget, known)
    body = _render(lines, kept, rep, n)
    return Condensed(body, [i + 1 for i in kept], n, n - len(kept))


__all__ = ["Condensed", "condense"]
