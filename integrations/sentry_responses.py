"""Reading Sentry's HTTP responses: short safe messages, an error's `detail`, `Retry-After`, and
the `Link` header of cursor pagination."""

from __future__ import annotations

import json
import re
import urllib.error
from datetime import UTC, datetime

MESSAGE_MAX = 200


def _short(text: str) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[\w-]+="?[^";,]*"?\s*)*)')


def _next_link(header: str | None) -> str | None:
    """The `rel="next"` URL of a Sentry `Link` header, when it says `results="true"`."""
    for m in _LINK.finditer(header or ""):
        attrs = dict(re.findall(r'([\w-]+)="?([^";,]*)"?', m.group(2)))
        if attrs.get("rel") == "next" and attrs.get("results", "true") == "true":
            return m.group(1)
    return None


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except Exception:
        return b""


def _detail(body: bytes) -> str:
    """Sentry's `{"detail": "..."}` (or `{"message": ...}`), shortened; '' when there is none."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return ""
    if isinstance(data, dict):
        d = data.get("detail") or data.get("message") or ""
        if isinstance(d, dict):
            d = d.get("message") or ""
        return _short(str(d))[:120] if d else ""
    return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
