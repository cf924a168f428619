"""Tolerant readers of the values in Sentry's JSON: a field of the wrong type reads as None (or
empty), never as an error. Numbers may come as text, timestamps as epoch seconds or ISO 8601,
tags as pairs, key/value dicts or a plain dict.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_timestamp"]


def _get(d: Any, *keys: str) -> Any:
    """First present, non-None value among `keys` of dict `d` (None when `d` is not a dict)."""
    if not isinstance(d, dict):
        return None
    for k in keys:
        v = d.get(k)
        if v is not None:
            return v
    return None


def _str(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict):  # e.g. API release object {"version": ...}
        return _str(_get(v, "version", "name", "id"))
    return None


def _int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            try:
                return int(float(v.strip()))
            except ValueError:
                return None
    return None


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return bool(v)
    if isinstance(v, str):
        low = v.strip().lower()
        if low in ("true", "yes", "1"):
            return True
        if low in ("false", "no", "0"):
            return False
    return None


def _lines(v: Any) -> list[str]:
    if not isinstance(v, list):
        return []
    return [x if isinstance(x, str) else ("" if x is None else str(x)) for x in v]


_ISO_FRACTION = re.compile(r"\.(\d+)")


def parse_timestamp(v: Any) -> datetime | None:
    """Epoch seconds (int/float/numeric string) or ISO 8601 text → aware UTC datetime."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    if isinstance(v, int | float):
        try:
            return datetime.fromtimestamp(float(v), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return None
        try:
            return datetime.fromtimestamp(float(s), tz=UTC)
        except ValueError:
            pass
        s = s.replace("Z", "+00:00").replace("z", "+00:00")
        # fromisoformat (3.11) accepts most forms; normalise odd fraction lengths first.
        s = _ISO_FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], s, count=1)
        try:
            dt = datetime.fromisoformat(s)
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def _tags(v: Any) -> dict[str, str]:
    """Tags as [[k, v], ...], [{"key", "value"}, ...] or {k: v} → {k: v}."""
    out: dict[str, str] = {}
    if isinstance(v, dict):
        for k, val in v.items():
            s = _str(val)
            if isinstance(k, str) and s is not None:
                out[k] = s
    elif isinstance(v, list):
        for item in v:
            if isinstance(item, list | tuple) and len(item) == 2:
                k, val = item
            elif isinstance(item, dict):
                k, val = item.get("key"), item.get("value")
            else:
                continue
            s = _str(val)
            if isinstance(k, str) and s is not None:
                out[k] = s
    return out
