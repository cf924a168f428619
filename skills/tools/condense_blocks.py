"""Blocks of a log being condensed (step 3 of `condense`): a scored line and its continuation lines
(stack frames, indented lines, a multi-line exception message, the body of a pytest section);
touching blocks form a region that shares its best value.
"""

from __future__ import annotations

from dataclasses import dataclass

from skills.tools.condense_scoring import (
    _FRAME,
    _MESSAGE_LOOKAHEAD,
    _NOISE_START,
    _PYTEST_ANY_SECTION,
    _PYTEST_SECTION,
    _PYTEST_SUMMARY,
    _STACK_FRAME,
    _shape,
)


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
