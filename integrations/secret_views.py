"""Encoded text read as what it encodes: JSON / Python escapes, percent-encoding, HTML entities.

A secret travels escaped more often than not: inside a JSON-encoded log line (`"msg": "x\\nghp_…"`,
where the `n` of `\\n` glues onto the token), in a URL or a form (`postgres%3A%2F%2Fu%3Apw%40db`), in
text Slack or an HTML page escaped (`&lt;password&gt;…`, `&quot;password&quot;: …`), as `\\u0067hp_…`.
`decoded(text)` is the text with those escapes decoded (up to three nested levels: a JSON string in a
JSON string) and a function mapping a span of the decoded text back to the span of `text` it came
from, so the redactor masks the encoded original exactly.
"""

from __future__ import annotations

import base64
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


# A base64 run long enough to carry a credential (standard or URL-safe alphabet), and a block of them one per
# line (`base64` wraps at 76 characters: a secret may straddle two lines).
_B64_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,}+={0,2}")
_B64_LINE = re.compile(r"[ \t]*([A-Za-z0-9+/_-]{24,}={0,2})[ \t]*\r?")


def base64_runs(text: str) -> list[tuple[int, int, str]]:
    """(start, end, decoded text) of each base64 run, or block of whole-line runs, that decodes to text."""
    out, block, block_end = [], [], -1
    line_start, line_end, last = 0, -1, 0
    for m in _B64_RUN.finditer(text):
        token = m.group()
        if token.islower() or token.isupper():
            continue                # hex digests, UUIDs, identifiers: base64 of text mixes cases
        start, end = m.span()
        if start > line_end:        # (line bounds searched once per line: linear on one huge line too)
            line_start = text.rfind("\n", last, start) + 1 or line_start
            line_end = text.find("\n", end)
            line_end = len(text) if line_end < 0 else line_end
        last = end
        if _B64_LINE.fullmatch(text, line_start, line_end) is None:
            out += _decoded_block(text, [(start, end)])
            continue
        if not (block and line_start == block_end + 1):
            out += _decoded_block(text, block)
            block = []
        block.append((start, end))
        block_end = line_end
    return out + _decoded_block(text, block)


def _decoded_block(text: str, parts: list[tuple[int, int]]) -> list[tuple[int, int, str]]:
    if not parts:
        return []
    raw = "".join(text[s:e] for s, e in parts).rstrip("=")
    if not (any(c.isdigit() for c in raw) or any(c in "+/_-" for c in raw)) or raw.isalpha():
        return []                  # a long word or identifier, not base64 data
    try:
        data = base64.b64decode(raw.replace("-", "+").replace("_", "/") + "=" * (-len(raw) % 4), validate=True)
        decoded = data.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return []
    if sum(c.isprintable() or c in "\n\r\t" for c in decoded) < 0.95 * len(decoded):
        return []
    return [(parts[0][0], parts[-1][1], decoded)]
