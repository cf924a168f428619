"""Text is sanitised at ingress: lone surrogates and NULs become U+FFFD in every string of a payload.

JSON may carry `\\ud800` or `\\u0000` escapes; Python decodes them into strings that SQLite, the
Slack SDK and UTF-8 encoders refuse later, long after the ack. Replacing them once, as the request
comes in (after signature verification), means a strange character never drops a request.
"""

from __future__ import annotations

import re

from slack_bolt.middleware import Middleware

REPLACEMENT = "\ufffd"
_BAD = re.compile("[\ud800-\udfff\x00]")   # json.loads pairs valid surrogates, so any left is lone


def clean_text(text: str) -> str:
    """`text` with lone surrogates and NULs replaced by U+FFFD."""
    return _BAD.sub(REPLACEMENT, text) if _BAD.search(text) else text


def clean(value):
    """A copy of a parsed JSON value whose strings (keys too) are clean; `value` itself when already clean.

    Iterative, so a deeply nested value cannot exhaust the stack.
    """
    if isinstance(value, str):
        return clean_text(value)
    if not isinstance(value, (dict, list)):
        return value
    if not _dirty(value):
        return value
    root: list = [value]
    stack = [(root, 0)]
    while stack:
        parent, key = stack.pop()
        item = parent[key]
        if isinstance(item, dict):
            copy = {clean_text(k) if isinstance(k, str) else k: v for k, v in item.items()}
            parent[key] = copy
            stack.extend((copy, k) for k in copy)
        elif isinstance(item, list):
            copy = list(item)
            parent[key] = copy
            stack.extend((copy, i) for i in range(len(copy)))
        elif isinstance(item, str):
            parent[key] = clean_text(item)
    return root[0]


def _dirty(value) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and _BAD.search(k):
                    return True
                stack.append(v)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and _BAD.search(item):
            return True
    return False


# What a raw HTTP body must contain for its parsed form to hold a lone surrogate or a NUL: a JSON
# \u escape, a raw NUL, or their form-encoded spellings. UTF-8 text itself cannot carry either.
_SUSPECT = ("\\u", "\x00", "%00", "%5Cu", "%5cu")


class SanitizeBody(Middleware):
    """Bolt global middleware: clean every string of the parsed body (HTTP and Socket Mode alike)."""

    def process(self, *, req, resp, next):  # noqa: A002 — Bolt's signature
        """Replace the body with its clean copy (when it needs one) and continue."""
        raw = req.raw_body
        if not raw or any(mark in raw for mark in _SUSPECT):   # Socket Mode has no raw body
            cleaned = clean(req.body)
            if cleaned is not req.body:
                req.body = cleaned
        return next()
