"""Encoded text read as what it encodes: JSON / Python escapes, percent-encoding, HTML entities.

A secret travels escaped more often than not: inside a JSON-encoded log line (`"msg": "x\\nghp_…"`,
where the `n` of `\\n` glues onto the token), in a URL or a form (`postgres%3A%2F%2Fu%3Apw%40db`), in
text Slack or an HTML page escaped (`&lt;password&gt;…`, `&quot;password&quot;: …`), as `\\u0067hp_…`.
`decoded(text)` is the text with those escapes decoded (up to three nested levels: a JSON string in a
JSON string) and a function mapping a span of the decoded text back to the span of `text` it came
from, so the redactor masks the encoded original exactly.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable

ESCAPE = re.compile(
    r"\\(?:u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[nrtfb\"'/\\])"
    r"|%[0-9a-fA-F]{2}"
    r"|&(?:quot|lt|gt|amp|apos|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_PERCENT = re.compile(r"%[0-9a-fA-F]{2}")
_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "f": "\f", "b": "\b", '"': '"', "'": "'", "/": "/", "\\": "\\"}
_ENTITIES = {"quot": '"', "lt": "<", "gt": ">", "amp": "&", "apos": "'"}
_LEVELS = 3

Span = tuple[int, int]


def has_escapes(text: str) -> bool:
    """True when `text` holds anything `decoded` would change."""
    return ESCAPE.search(text) is not None


def decoded(text: str) -> tuple[str, Callable[[int, int], Span]]:
    """(the decoded text, a map from a (start, end) span of it to the span of `text` it encodes)."""
    maps = []
    if _PERCENT.search(text):
        text = text.replace("+", " ")   # a form's space; the same length, so no map is needed for it
    for _ in range(_LEVELS):
        view, starts, origins = _decode_once(text)
        if not starts:
            break
        maps.append((starts, origins))
        text = view

    def back(start: int, end: int) -> Span:
        for starts, origins in reversed(maps):
            start, end = _origin(starts, origins, start)[0], _origin(starts, origins, end - 1)[1]
        return start, end

    return text, back


def _decode_once(text: str) -> tuple[str, list[int], list[Span]]:
    """One level: the decoded text, each decoded escape's position in it, and the original span of each."""
    out, starts, origins, last, at = [], [], [], 0, 0
    for m in ESCAPE.finditer(text):
        char = _char(m.group())
        if char is None:
            continue
        out.append(text[last:m.start()])
        at += m.start() - last
        starts.append(at)
        origins.append((m.start(), m.end()))
        out.append(char)
        at += 1
        last = m.end()
    out.append(text[last:])
    return "".join(out), starts, origins


def _char(escape: str) -> str | None:
    try:
        if escape[0] == "%":
            return chr(int(escape[1:], 16))
        if escape[0] == "&":
            name = escape[1:-1]
            if name.startswith(("#x", "#X")):
                return chr(int(name[2:], 16))
            return chr(int(name[1:])) if name.startswith("#") else _ENTITIES[name]
        if escape[1] in "ux":
            return chr(int(escape[2:], 16))
        return _SIMPLE[escape[1]]
    except (ValueError, OverflowError, KeyError):
        return None


def _origin(starts: list[int], origins: list[Span], pos: int) -> Span:
    """The original span of the decoded character at `pos`."""
    k = bisect.bisect_right(starts, pos) - 1
    if k >= 0 and starts[k] == pos:
        return origins[k]
    shift = 0 if k < 0 else origins[k][1] - (starts[k] + 1)
    return pos + shift, pos + shift + 1
