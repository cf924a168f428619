"""One parser for every shape a Sentry error event arrives in.

Accepted inputs (all plain dicts, as decoded from JSON):

- an event as an SDK sends it (``exception.values``, ``exception`` as a flat list, legacy
  ``sentry.interfaces.Exception`` / ``sentry.interfaces.Stacktrace`` keys, ``threads``);
- an event as the REST API returns it (camelCase keys, ``entries`` of typed interfaces,
  frames with ``context: [[lineno, line], ...]``);
- an integration-platform webhook body wrapping it under ``data.event`` / ``data.error``,
  or an issue under ``data.issue`` (then the result has issue fields but no frames);
- an issue as the REST API returns it (``firstSeen``, ``count``, ``userCount``...).

Nothing here raises on an unknown or malformed field: what cannot be read is left empty.
Frames keep Sentry's order (outermost first, innermost LAST); chained exceptions keep Sentry's
order too (the cause first, the exception that was finally raised LAST).
"""

from __future__ import annotations

from typing import Any

from integrations.sentry_model import ExceptionInfo, ParsedEvent
from integrations.sentry_stack import _exceptions
from integrations.sentry_values import _get, _int, _str, _tags, parse_timestamp

__all__ = ["parse_event"]


def _unwrap(payload: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a payload into (event dict, issue dict); either may be empty."""
    event: dict[str, Any] = {}
    issue: dict[str, Any] = {}
    data = payload.get("data")
    if isinstance(data, dict) and ("action" in payload or "installation" in payload or
                                   any(k in data for k in ("event", "error", "issue"))):
        for key in ("event", "error"):
            if isinstance(data.get(key), dict):
                event = data[key]
                break
        if isinstance(data.get("issue"), dict):
            issue = data["issue"]
        return event, issue
    nested = payload.get("event")
    if isinstance(nested, dict) and any(
        k in nested for k in ("exception", "entries", "event_id", "eventID", "platform",
                              "sentry.interfaces.Exception", "threads", "stacktrace")
    ):
        event = nested
        if isinstance(payload.get("issue"), dict):
            issue = payload["issue"]
        return event, issue
    if _looks_like_issue(payload):
        return {}, payload
    return payload, issue


def _looks_like_issue(d: dict[str, Any]) -> bool:
    """An API/webhook issue (group), not an event."""
    return ("firstSeen" in d or "shortId" in d) and not any(
        k in d for k in ("entries", "exception", "eventID", "event_id", "groupID"))


def _message(ev: dict[str, Any]) -> str | None:
    for key in ("logentry", "sentry.interfaces.Message", "message"):
        v = ev.get(key)
        if isinstance(v, str) and v:
            return v
        if isinstance(v, dict):
            s = _str(_get(v, "formatted", "message"))
            if s:
                return s
    for entry in ev.get("entries") or []:
        if isinstance(entry, dict) and entry.get("type") == "message":
            s = _str(_get(entry.get("data"), "formatted", "message"))
            if s:
                return s
    return None


def _request_url(ev: dict[str, Any]) -> str | None:
    for key in ("request", "sentry.interfaces.Http"):
        url = _str(_get(ev.get(key), "url"))
        if url:
            return url
    for entry in ev.get("entries") or []:
        if isinstance(entry, dict) and entry.get("type") == "request":
            url = _str(_get(entry.get("data"), "url"))
            if url:
                return url
    return None


def _title(ev: dict[str, Any], issue: dict[str, Any], metadata: dict[str, Any],
           excs: list[ExceptionInfo]) -> str | None:
    """The event's title, else the issue's, else made from the metadata or the last exception."""
    title = _str(_get(ev, "title")) or _str(_get(issue, "title"))
    if not title:
        mtype, mvalue = _str(_get(metadata, "type")), _str(_get(metadata, "value"))
        if mtype or mvalue:
            title = f"{mtype}: {mvalue}" if mtype and mvalue else (mtype or mvalue)
        elif excs and excs[-1].summary():
            title = excs[-1].summary()
    return title


_KNOWN_EVENT_KEYS = {
    "event_id", "eventID", "id", "issue_id", "groupID", "group_id", "title", "message",
    "logentry", "level", "platform", "release", "environment", "timestamp", "datetime",
    "dateCreated", "tags", "exception", "sentry.interfaces.Exception", "entries",
    "culprit", "transaction", "server_name", "dist", "user", "sentry.interfaces.User",
    "contexts", "request", "sentry.interfaces.Http", "sdk", "metadata", "project",
}


def _extra(payload: dict[str, Any], ev: dict[str, Any], metadata: dict[str, Any],
           imeta: dict[str, Any]) -> dict[str, Any]:
    """What else of the event may help: its `extra`, a few known keys, the metadata, the alert
    rule that fired, and the names of the keys nothing here reads."""
    extra: dict[str, Any] = {}
    if isinstance(ev.get("extra"), dict):
        extra.update(ev["extra"])
    for k in ("logger", "fingerprint", "modules", "location", "web_url", "issue_url"):
        if ev.get(k) not in (None, "", [], {}):
            extra.setdefault(k, ev[k])
    if metadata:
        extra.setdefault("metadata", metadata)
    if imeta and not metadata:
        extra.setdefault("metadata", imeta)
    for k in ("triggered_rule",):
        data = payload.get("data")
        if isinstance(data, dict) and data.get(k):
            extra.setdefault(k, data[k])
    extra.setdefault("unparsed_keys", sorted(k for k in ev if k not in _KNOWN_EVENT_KEYS))
    return extra


def parse_event(payload: dict[str, Any]) -> ParsedEvent:
    """Parse any supported Sentry payload (see the module docstring) into a ParsedEvent."""
    if not isinstance(payload, dict):
        return ParsedEvent()
    ev, issue = _unwrap(payload)
    tags = _tags(ev.get("tags"))
    excs = _exceptions(ev)
    metadata = ev.get("metadata") if isinstance(ev.get("metadata"), dict) else {}
    imeta = issue.get("metadata") if isinstance(issue.get("metadata"), dict) else {}

    title = _title(ev, issue, metadata, excs)
    message = _message(ev)
    if not message and excs:
        message = excs[-1].summary() or None

    user = ev.get("user") or ev.get("sentry.interfaces.User")
    contexts = ev.get("contexts") if isinstance(ev.get("contexts"), dict) else {}
    sdk = ev.get("sdk")
    project = issue.get("project") if issue else ev.get("project")
    if isinstance(project, dict):
        project = _get(project, "slug", "name", "id")
    lifetime = issue.get("lifetime") if isinstance(issue.get("lifetime"), dict) else {}

    extra = _extra(payload, ev, metadata, imeta)

    release = _str(ev.get("release")) or tags.get("sentry:release") or tags.get("release")
    if not release and issue:
        release = _str(_get(issue, "firstRelease"))
    environment = _str(ev.get("environment")) or tags.get("environment")
    level = _str(ev.get("level")) or tags.get("level") or _str(issue.get("level"))
    return ParsedEvent(
        event_id=_str(_get(ev, "event_id", "eventID", "id")),
        issue_id=_str(_get(ev, "issue_id", "groupID", "group_id")) or _str(_get(issue, "id")),
        title=title,
        message=message,
        level=level,
        platform=_str(ev.get("platform")) or _str(issue.get("platform")),
        release=release,
        environment=environment,
        timestamp=parse_timestamp(_get(ev, "timestamp", "datetime", "dateCreated",
                                       "dateReceived", "received")),
        tags=tags,
        exceptions=excs,
        culprit=_str(ev.get("culprit")) or _str(issue.get("culprit")),
        transaction=_str(ev.get("transaction")) or tags.get("transaction"),
        server_name=_str(ev.get("server_name")) or tags.get("server_name"),
        dist=_str(ev.get("dist")),
        user=user if isinstance(user, dict) else {},
        contexts=contexts,
        request_url=_request_url(ev) or tags.get("url"),
        sdk=_str(_get(sdk, "name")) if isinstance(sdk, dict) else None,
        short_id=_str(issue.get("shortId")),
        permalink=_str(issue.get("permalink")) or _str(ev.get("web_url")),
        project=_str(project),
        count=_int(_get(issue, "count")) if issue else None,
        user_count=_int(_get(issue, "userCount")) if issue else None,
        first_seen=parse_timestamp(_get(issue, "firstSeen")) or parse_timestamp(
            _get(lifetime, "firstSeen")),
        last_seen=parse_timestamp(_get(issue, "lastSeen")) or parse_timestamp(
            _get(lifetime, "lastSeen")),
        extra=extra,
    )
