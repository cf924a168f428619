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

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["Frame", "ExceptionInfo", "ParsedEvent", "parse_event", "parse_timestamp"]


@dataclass
class Frame:
    """One stack frame, as Sentry reports it."""

    filename: str | None = None
    abs_path: str | None = None
    module: str | None = None
    function: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool | None = None
    context_line: str | None = None
    pre_context: list[str] = field(default_factory=list)
    post_context: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    package: str | None = None
    platform: str | None = None

    @property
    def path(self) -> str | None:
        """The most specific path the frame has (abs_path, else filename)."""
        return self.abs_path or self.filename

    def describe(self) -> str:
        """`file:line in function`, for reports."""
        where = self.filename or self.abs_path or self.module or "?"
        line = f":{self.lineno}" if self.lineno else ""
        return f"{where}{line} in {self.function or '?'}"


@dataclass
class ExceptionInfo:
    """One exception of the (possibly chained) exception list; frames innermost LAST."""

    type: str | None = None
    value: str | None = None
    module: str | None = None
    frames: list[Frame] = field(default_factory=list)
    mechanism: str | None = None
    handled: bool | None = None

    @property
    def qualified_type(self) -> str | None:
        if self.module and self.type and self.module not in ("builtins", "__builtins__"):
            return f"{self.module}.{self.type}"
        return self.type

    def summary(self) -> str:
        if self.type and self.value:
            return f"{self.type}: {self.value}"
        return self.type or self.value or ""


@dataclass
class ParsedEvent:
    """The parts of a Sentry event (and its issue, when known) that root-cause analysis uses."""

    event_id: str | None = None
    issue_id: str | None = None
    title: str | None = None
    message: str | None = None
    level: str | None = None
    platform: str | None = None
    release: str | None = None
    environment: str | None = None
    timestamp: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    exceptions: list[ExceptionInfo] = field(default_factory=list)
    culprit: str | None = None
    transaction: str | None = None
    server_name: str | None = None
    dist: str | None = None
    user: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, Any] = field(default_factory=dict)
    request_url: str | None = None
    sdk: str | None = None
    # Issue-level facts, present when the payload carried the issue (webhook, API issue).
    short_id: str | None = None
    permalink: str | None = None
    project: str | None = None
    count: int | None = None
    user_count: int | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def primary(self) -> ExceptionInfo | None:
        """The exception Sentry titles the event with: the last one of the chain."""
        return self.exceptions[-1] if self.exceptions else None

    @property
    def frames(self) -> list[Frame]:
        """Frames of every exception, chain order kept (each list innermost last)."""
        return [f for exc in self.exceptions for f in exc.frames]

    def text(self) -> str:
        """Title, message and every exception's type and value, for matching identifiers."""
        parts = [self.title or "", self.message or ""]
        parts += [exc.summary() for exc in self.exceptions]
        return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------------------------------------
# small tolerant readers


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


# ---------------------------------------------------------------------------------------------
# frames and exceptions


def _frame(raw: Any) -> Frame | None:
    if not isinstance(raw, dict):
        return None
    pre = _lines(_get(raw, "pre_context", "preContext"))
    post = _lines(_get(raw, "post_context", "postContext"))
    context_line = _str(_get(raw, "context_line", "contextLine"))
    lineno = _int(_get(raw, "lineno", "lineNo", "line"))
    ctx = raw.get("context")
    if context_line is None and isinstance(ctx, list) and ctx:
        # API shape: [[lineno, text], ...] around the frame's line.
        for item in ctx:
            if not (isinstance(item, list | tuple) and len(item) == 2):
                continue
            n, text = _int(item[0]), _str(item[1]) or ""
            if n is None or lineno is None:
                continue
            if n < lineno:
                pre.append(text)
            elif n == lineno:
                context_line = text
            else:
                post.append(text)
    raw_vars = raw.get("vars")
    return Frame(
        filename=_str(raw.get("filename")),
        abs_path=_str(_get(raw, "abs_path", "absPath")),
        module=_str(raw.get("module")),
        function=_str(_get(raw, "function", "raw_function", "rawFunction", "symbol")),
        lineno=lineno,
        colno=_int(_get(raw, "colno", "colNo", "column")),
        in_app=_bool(_get(raw, "in_app", "inApp")),
        context_line=context_line,
        pre_context=pre,
        post_context=post,
        vars=raw_vars if isinstance(raw_vars, dict) else {},
        package=_str(raw.get("package")),
        platform=_str(raw.get("platform")),
    )


def _frames(stacktrace: Any) -> list[Frame]:
    if isinstance(stacktrace, list):  # a bare frame list
        raw_frames: Any = stacktrace
    else:
        raw_frames = _get(stacktrace, "frames")
    if not isinstance(raw_frames, list):
        return []
    return [f for f in (_frame(r) for r in raw_frames) if f is not None]


def _exception(raw: Any) -> ExceptionInfo | None:
    if not isinstance(raw, dict):
        return None
    st = _get(raw, "stacktrace", "sentry.interfaces.Stacktrace")
    frames = _frames(st)
    if not frames:
        frames = _frames(_get(raw, "raw_stacktrace", "rawStacktrace"))
    mech = raw.get("mechanism")
    value = raw.get("value")
    if value is not None and not isinstance(value, str):
        value = _str(value)
    return ExceptionInfo(
        type=_str(raw.get("type")),
        value=value,
        module=_str(raw.get("module")),
        frames=frames,
        mechanism=_str(_get(mech, "type")) if isinstance(mech, dict) else _str(mech),
        handled=_bool(_get(mech, "handled")) if isinstance(mech, dict) else None,
    )


def _exception_list(container: Any) -> list[ExceptionInfo]:
    """`{"values": [...]}`, a flat list, or a single exception dict → ExceptionInfo list."""
    if isinstance(container, dict):
        values = container.get("values")
        if isinstance(values, list):
            items: list[Any] = values
        elif "type" in container or "value" in container or "stacktrace" in container:
            items = [container]
        else:
            items = []
    elif isinstance(container, list):
        items = container
    else:
        items = []
    return [e for e in (_exception(x) for x in items) if e is not None]


def _threads_stacktrace(threads: Any) -> list[Frame]:
    values = threads.get("values") if isinstance(threads, dict) else threads
    if not isinstance(values, list):
        return []
    ordered = sorted(
        (t for t in values if isinstance(t, dict)),
        key=lambda t: (not _bool(t.get("crashed")), not _bool(t.get("current"))),
    )
    for t in ordered:
        frames = _frames(t.get("stacktrace"))
        if frames:
            return frames
    return []


# ---------------------------------------------------------------------------------------------
# the event


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


def _exceptions(ev: dict[str, Any]) -> list[ExceptionInfo]:
    for key in ("exception", "sentry.interfaces.Exception"):
        if key in ev:
            excs = _exception_list(ev.get(key))
            if excs:
                return excs
    entries = ev.get("entries")
    if isinstance(entries, list):
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            if entry.get("type") == "exception":
                excs = _exception_list(entry.get("data"))
                if excs:
                    return excs
        for entry in entries:
            if isinstance(entry, dict) and entry.get("type") in ("stacktrace", "threads"):
                data = entry.get("data")
                frames = (_frames(data) if entry["type"] == "stacktrace"
                          else _threads_stacktrace(data))
                if frames:
                    return [ExceptionInfo(frames=frames)]
    for key in ("stacktrace", "sentry.interfaces.Stacktrace"):
        frames = _frames(ev.get(key))
        if frames:
            return [ExceptionInfo(frames=frames)]
    frames = _threads_stacktrace(ev.get("threads"))
    return [ExceptionInfo(frames=frames)] if frames else []


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


def parse_event(payload: dict[str, Any]) -> ParsedEvent:
    """Parse any supported Sentry payload (see the module docstring) into a ParsedEvent."""
    if not isinstance(payload, dict):
        return ParsedEvent()
    ev, issue = _unwrap(payload)
    tags = _tags(ev.get("tags"))
    excs = _exceptions(ev)
    metadata = ev.get("metadata") if isinstance(ev.get("metadata"), dict) else {}
    imeta = issue.get("metadata") if isinstance(issue.get("metadata"), dict) else {}

    title = _str(_get(ev, "title")) or _str(_get(issue, "title"))
    if not title:
        mtype, mvalue = _str(_get(metadata, "type")), _str(_get(metadata, "value"))
        if mtype or mvalue:
            title = f"{mtype}: {mvalue}" if mtype and mvalue else (mtype or mvalue)
        elif excs and excs[-1].summary():
            title = excs[-1].summary()
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

    known_event_keys = {
        "event_id", "eventID", "id", "issue_id", "groupID", "group_id", "title", "message",
        "logentry", "level", "platform", "release", "environment", "timestamp", "datetime",
        "dateCreated", "tags", "exception", "sentry.interfaces.Exception", "entries",
        "culprit", "transaction", "server_name", "dist", "user", "sentry.interfaces.User",
        "contexts", "request", "sentry.interfaces.Http", "sdk", "metadata", "project",
    }
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
    extra.setdefault("unparsed_keys", sorted(k for k in ev if k not in known_event_keys))

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
