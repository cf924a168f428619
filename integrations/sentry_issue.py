"""A Sentry issue (group) as droid uses it, read from the REST API's JSON (`SentryClient.issue`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integrations.sentry_values import parse_timestamp

__all__ = ["SentryIssue"]


@dataclass
class SentryIssue:
    """What droid needs from a Sentry issue (group); `raw` is the API's JSON as received."""

    id: str
    short_id: str
    title: str
    culprit: str
    permalink: str
    project_slug: str
    level: str
    status: str
    first_seen: datetime | None
    last_seen: datetime | None
    count: int
    user_count: int
    release_first: str | None
    release_last: str | None
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SentryIssue:
        """The issue from the API's JSON; a missing field reads as empty (0 for counts)."""
        project = data.get("project")
        slug = _text(project.get("slug") or project.get("name")) if isinstance(project, dict) else _text(project)
        return cls(
            id=_text(data.get("id")),
            short_id=_text(data.get("shortId")),
            title=_text(data.get("title")),
            culprit=_text(data.get("culprit")),
            permalink=_text(data.get("permalink")),
            project_slug=slug,
            level=_text(data.get("level")),
            status=_text(data.get("status")),
            first_seen=parse_timestamp(data.get("firstSeen")),
            last_seen=parse_timestamp(data.get("lastSeen")),
            count=_count(data.get("count")),
            user_count=_count(data.get("userCount")),
            release_first=_release(data.get("firstRelease")),
            release_last=_release(data.get("lastRelease")),
            raw=data,
        )


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _count(v: Any) -> int:
    """Sentry sends `count` as a string ("150") and `userCount` as an int."""
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return 0


def _release(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("version") or v.get("shortVersion")
    return str(v) if v not in (None, "") else None
