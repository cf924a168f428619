"""Events of an issue per time bucket: the issue's own `stats` series, or timestamps binned."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from integrations.sentry_issue import _count
from integrations.sentry_values import parse_timestamp

__all__ = ["bin_counts"]


_PERIOD = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _period_seconds(period: str) -> int | None:
    m = _PERIOD.match(period or "")
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


def _stats_series(issue: dict[str, Any], period: str) -> list[tuple[datetime, int]] | None:
    """`stats[period]` of an issue: [[epoch, count], ...] → [(datetime, count)]; None if absent."""
    stats = issue.get("stats")
    if not isinstance(stats, dict):
        return None
    points = stats.get(period)
    if points is None and len(stats) == 1:
        points = next(iter(stats.values()))
    if not isinstance(points, list) or not points:
        return None
    out: list[tuple[datetime, int]] = []
    for p in points:
        if isinstance(p, list | tuple) and len(p) >= 2:
            when = parse_timestamp(p[0])
            if when is not None:
                out.append((when, _count(p[1])))
    return sorted(out, key=lambda x: x[0]) or None


def bin_counts(times: list[datetime | None], step: int = 3600) -> list[tuple[datetime, int]]:
    """Timestamps → contiguous (bucket start, count) buckets of `step` seconds, oldest first."""
    stamps = [t for t in times if t is not None]
    if not stamps:
        return []
    buckets: dict[int, int] = {}
    for t in stamps:
        key = int(t.timestamp()) // step * step
        buckets[key] = buckets.get(key, 0) + 1
    first, last = min(buckets), max(buckets)
    return [(datetime.fromtimestamp(k, tz=UTC), buckets.get(k, 0)) for k in range(first, last + step, step)]
