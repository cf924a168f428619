"""Which lines of a log `condense` keeps (step 5): blocks chosen greedily by value under the line
budget, then context, the log's ends and more of its end while the budget lasts.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable

from skills.tools.condense_blocks import _Block, _blocks, _spans
from skills.tools.condense_scoring import (
    SCORE_SEED,
    ScoreCache,
    _key,
    _scores,
)


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
    value_of = _seed_values(clean, scores, seeds, known)

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


def _seed_values(clean: list[str], scores: list[float], seeds: list[int],
                 known: Callable[[list[str]], list[bool]] | None) -> list[float]:
    """Each line's value: its score, less for a seed whose message comes again later, and with
    `known`, much less for a seed the passing log has too and a little more for a new one."""
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
    return value_of


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
