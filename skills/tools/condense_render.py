"""The text a condensed log shows: the kept lines, cut to `MAX_LINE_CHARS`, with markers saying
how many lines were omitted between them and how often a line was repeated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from skills.tools.condense_scoring import (
    _ANSI,
    _CONTROL,
)

MAX_LINE_CHARS = 500  # a kept line is cut to this many characters in `text`


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
