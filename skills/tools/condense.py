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

Reading and scoring lines (steps 1 and 2) live in condense_scoring.py; a file of any size is
condensed in bounded memory by condense_file.py, which `droid condense` (condense_cli.py) runs.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from skills.tools.condense_scoring import (
    _ANSI,
    _CONTROL,
    _FRAME,
    _MESSAGE_LOOKAHEAD,
    _NOISE_START,
    _PYTEST_ANY_SECTION,
    _PYTEST_SECTION,
    _PYTEST_SUMMARY,
    _STACK_FRAME,
    _STEMS,
    _TS_PREFIX,
    SCORE_SEED,
    ScoreCache,
    _candidates,
    _key,
    _prefix,
    _prepare,
    _scores,
    _shape,
    _stamped,
    normalise,
    split_lines,
)

MAX_LINE_CHARS = 500  # a kept line is cut to this many characters in `text`


@dataclass
class Condensed:
    """The condensed output: what the model sees, and which input lines it shows."""

    text: str  # kept lines (with "[... N lines omitted ...]" markers), bounded
    kept_lines: list[int]  # 1-based line numbers of the input that were kept, ascending
    total_lines: int
    dropped_lines: int



# --------------------------------------------------------------------------------------------
# Blocks


@dataclass
class _Block:
    start: int  # 0-based, inclusive
    end: int  # 0-based, exclusive
    value: float


def _section_mask(clean: list[str], headers: list[int]) -> bytearray:
    """For each line: 1 inside a pytest FAILURES / ERRORS section, 2 inside its short test
    summary, else 0 (`headers`: the lines that start with "===", ascending)."""
    n = len(clean)
    mask = bytearray(n)
    bounds = [i for i in headers if _PYTEST_ANY_SECTION.match(clean[i])] + [n]
    for k in range(len(bounds) - 1):
        start, end = bounds[k] + 1, bounds[k + 1]
        if _PYTEST_SECTION.match(clean[bounds[k]]):
            mask[start:end] = b"\x01" * (end - start)
        elif _PYTEST_SUMMARY.match(clean[bounds[k]]):
            mask[start:end] = b"\x02" * (end - start)
    return mask


def _spans(clean: list[str], seeds: list[int], headers: list[int]) -> list[tuple[int, int]]:
    """The blocks, as (first line, end) pairs: a seed line and its continuation lines.

    A block is a seed line and the continuation lines under it: stack frames, indented lines,
    further "[ERROR]" lines, single blank lines, the lines of a multi-line exception message
    that end in stack frames, and everything inside a pytest FAILURES / ERRORS section.
    """
    n = len(clean)
    spans: list[tuple[int, int]] = []
    is_seed = bytearray(n)
    for s in seeds:
        is_seed[s] = 1
    in_section = _section_mask(clean, headers)
    frame = _FRAME.match
    for s in seeds:
        last = s
        blank_run = 0
        i = s + 1
        while i < n and not is_seed[i]:
            c = clean[i]
            if not c or c.isspace():
                blank_run += 1
                if in_section[i] == 1 or blank_run <= 1:
                    i += 1
                    continue
                break
            section = in_section[i]
            if (
                section == 1
                or (section == 2 and not c.startswith(_NOISE_START))  # the rest of a summary entry
                or c[0] in " \t"
                or frame(c)
                or (blank_run == 0 and c.startswith("[ERROR]"))
            ):
                last = i
                blank_run = 0
                i += 1
                continue
            # a multi-line exception message: attach it when stack frames follow soon
            j = i + 1
            limit = min(n, i + _MESSAGE_LOOKAHEAD)
            while j < limit and not is_seed[j] and not _STACK_FRAME.match(clean[j]):
                j += 1
            if j < limit and not is_seed[j]:
                last = j
                blank_run = 0
                i = j + 1
                continue
            break
        if i < n and is_seed[i] and blank_run <= 1:
            last = i - 1  # blank lines between two blocks keep the region in one piece
        spans.append((s, last + 1))
    return spans


def _blocks(spans: list[tuple[int, int]], value_of: list[float], core: int, clean: list[str]) -> list[_Block]:
    """Blocks from the spans; a region of touching blocks shares its best value.

    Within a region, a message repeated about other files or tests (the same traceback for
    each of 50 tests) is worth less at each copy, so that different failures show first.
    A block longer than `core` lines is split: its first `core` lines are worth the block's
    value, the rest a little less, so the start of every failure is chosen before the long
    tail of any one of them.
    """
    blocks: list[_Block] = []
    shapes: dict[str, str] = {}
    k = 0
    while k < len(spans):
        j = k + 1
        while j < len(spans) and spans[j][0] == spans[j - 1][1]:
            j += 1
        best = max(value_of[s] for s, _ in spans[k:j])
        copies: dict[str, int] = {}
        for s, e in spans[k:j]:
            value = 0.7 * best + 0.3 * value_of[s]
            if j - k > 1:
                head = shapes.get(clean[s])
                if head is None:
                    head = shapes[clean[s]] = _shape(clean[s])
                shape = head + "\n" + "\n".join(clean[s + 1 : min(e, s + core)])
                seen = copies.get(shape, 0)
                copies[shape] = seen + 1
                value -= min(3.0, 0.5 * seen)
            blocks.append(_Block(s, min(e, s + core), value))
            for part, t in enumerate(range(s + core, e, core), 1):
                blocks.append(_Block(t, min(e, t + core), value - 0.9 - 0.1 * part))
        k = j
    return blocks


def _in_baseline(baseline: str, lines: list[str]) -> list[bool]:
    """For each of `lines`, whether the passing log has it too (once normalised)."""
    cache: dict[str, str] = {}
    keys = []
    for s in lines:
        key = cache.get(s)
        if key is None:
            key = cache[s] = normalise(s, untag=False)
        keys.append(key)
    wanted = set(keys)
    prefixes = {_prefix(s) for s in lines}
    all_wanted = "\n".join(wanted).lower()
    stems = tuple(stem for stem in _STEMS if stem in all_wanted)
    base = list(dict.fromkeys(split_lines(baseline)))  # raw: only the lines looked at get cleaned
    stamped = _stamped(base)
    seen: set[str] = set()
    for i in _candidates(base, stems):
        s = base[i]
        if "\x1b" in s:
            s = _ANSI.sub("", s)
        if stamped:
            m = _TS_PREFIX.match(s)
            if m:
                s = s[m.end() :]
        if _prefix(s) in prefixes:
            key = normalise(s, untag=False)
            if key in wanted:
                seen.add(key)
    return [key in seen for key in keys]


# --------------------------------------------------------------------------------------------
# Selection and rendering


def _repeats(clean: list[str]) -> dict[int, int]:
    """Runs of >= 3 identical lines: first line of the run -> how many more follow it."""
    rep: dict[int, int] = {}
    same = itertools.compress(itertools.count(1), map(operator.eq, clean[1:], clean))
    run_start = run_end = -1
    for i in same:  # line i equals line i - 1
        if i == run_end + 1:
            run_end = i
            continue
        if run_end - run_start >= 2:
            rep[run_start] = run_end - run_start
        run_start, run_end = i - 1, i
    if run_end - run_start >= 2:
        rep[run_start] = run_end - run_start
    return rep


def _cut(line: str, length: int | None = None) -> str:
    line = _CONTROL.sub("\ufffd", line) if _CONTROL.search(line) else line
    length = len(line) if length is None else length
    if length > MAX_LINE_CHARS:
        return line[:MAX_LINE_CHARS] + f" [... {length - MAX_LINE_CHARS} chars cut]"
    return line


def _render(
    lines: Sequence[str] | Mapping[int, str], kept: list[int], rep: dict[int, int], total: int,
    lengths: Mapping[int, int] | None = None,
) -> str:
    """Kept lines (0-based, ascending) with omission markers between them (`lengths`: the real
    length of lines that were shortened before they got here)."""
    out: list[str] = []
    prev = -1
    for i in kept:
        gap = i - prev - 1
        if gap > 0:
            out.append(f"[... {gap} line{'s' if gap != 1 else ''} omitted ...]")
        out.append(_cut(_ANSI.sub("", lines[i]) if "\x1b" in lines[i] else lines[i],
                        lengths.get(i) if lengths else None))
        prev = i
        if i in rep:
            out.append(f"[... previous line repeated {rep[i]} more time{'s' if rep[i] != 1 else ''} ...]")
            prev = i + rep[i]
    gap = total - prev - 1
    if gap > 0:
        out.append(f"[... {gap} line{'s' if gap != 1 else ''} omitted ...]")
    return "\n".join(out)


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


def choose(
    clean: list[str], budget: int, known: Callable[[list[str]], list[bool]] | None = None, final: bool = True,
    where: tuple[list[int], int] | None = None, cache: ScoreCache | None = None,
) -> tuple[list[int], dict[int, int]]:
    """The lines to keep (0-based, ascending, at most `budget`) of cleaned lines, and the runs of
    identical lines (first line -> how many more).

    `known(lines)` says which of the given scored lines a passing log has too. With `final`
    false (a window in the middle of a longer log) the end of the window is not the end of the
    log: only failures and their context are chosen. `where`, when the lines are some lines of
    a longer log, is (each line's index in the log, the number of lines read so far); `cache`
    keeps the scores of lines seen in earlier windows.
    """
    n = len(clean)
    scores, headers = _scores(clean, cache)
    rep = _repeats(clean)
    # a run of identical lines is shown once: the others can be neither seeds nor kept
    hidden = bytearray(n)
    for i, r in rep.items():
        hidden[i + 1 : i + 1 + r] = b"\x01" * r
        for k in range(i + 1, i + 1 + r):
            scores[k] = 0.0
    seeds = list(itertools.compress(range(n), map(SCORE_SEED.__le__, scores)))
    value_of = list(scores)

    # the same message again: the last copy keeps its value (it is the one that ended the run)
    last_of: dict[str, int] = {}
    keys = [_key(clean[i]) for i in seeds]
    for i, key in zip(seeds, keys, strict=True):
        last_of[key] = i
    for i, key in zip(seeds, keys, strict=True):
        if last_of[key] != i:
            value_of[i] -= 0.5

    if known is not None:
        for i, seen in zip(seeds, known([clean[i] for i in seeds]), strict=True):
            if seen:
                value_of[i] *= 0.3
            else:
                value_of[i] += 1.0

    core = max(4, min(12, budget // 8))
    blocks = _blocks(_spans(clean, seeds, headers), value_of, core, clean)

    # recency: the failure that ends a log is usually the one that ended the run
    position, end = where if where else (range(n), n)
    for b in blocks:
        at = position[b.start]
        b.value += 2.0 * at / end + (1.0 if final and at >= end - 30 else 0.0)

    chosen = bytearray(hidden)  # hidden lines count as taken: they cost nothing
    left = _take(blocks, chosen, budget)
    # then a line of context either side of what was chosen, the end and the start of the
    # log, and a second line of context, while the budget lasts
    left = _take(_context(chosen, hidden, 1), chosen, left)
    if final:
        ends = [_Block(i, i + 1, 0.0) for i in range(max(0, n - max(5, budget // 5)), n)]  # last line first
        ends += [_Block(i, i + 1, -1.0 - i) for i in range(min(n, 3))]  # then the first line
        left = _take(ends, chosen, left)
    left = _take(_context(chosen, hidden, 2), chosen, left)
    if final:
        # and, when little was worth showing, more of the end of the log
        tail = [_Block(i, i + 1, 0.0) for i in range(max(0, n - budget // 3), n)]
        left = _take(tail, chosen, left)
    return [i for i in itertools.compress(range(n), chosen) if not hidden[i]], rep


def _take(blocks: list[_Block], chosen: bytearray, left: int) -> int:
    """Choose blocks, best value first (later ones first among equals), while `left` lines of
    budget remain; a block that does not fit is cut. Returns the budget left."""
    order = sorted(blocks, key=lambda b: (-b.value, -b.start))
    for b in order:
        if left <= 0:
            break
        for i in range(b.start, b.end):
            if not chosen[i]:
                chosen[i] = 1
                left -= 1
                if left <= 0:
                    break
    return left


def _context(chosen: bytearray, hidden: bytearray, width: int) -> list[_Block]:
    """One-line blocks `width` lines before and after each chosen line, nearest the end first."""
    n = len(chosen)
    kept = [i for i in itertools.compress(range(n), chosen) if not hidden[i]]
    out = []
    for i in kept:
        for j in (i - width, i + width):
            if 0 <= j < n and not chosen[j]:
                out.append(_Block(j, j + 1, 0.0))
    return out


# --------------------------------------------------------------------------------------------
# CLI


def cli_main(argv: list[str]) -> int:
    """`droid condense FILE [--max-lines N] [--baseline PASSING_FILE] [--format json|text]`."""
    from skills.tools.condense_cli import cli_main as run

    return run(argv)


__all__ = ["MAX_LINE_CHARS", "Condensed", "choose", "cli_main", "condense", "normalise", "split_lines"]
