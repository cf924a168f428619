"""Where a Sentry event keeps its exceptions and stack frames, in every shape it comes in:
``exception.values`` or a flat list, legacy ``sentry.interfaces.*`` keys, the REST API's typed
``entries`` (frames with ``context: [[lineno, line], ...]``), a bare ``stacktrace`` or the
crashed thread of ``threads``. What cannot be read is left out.
"""

from __future__ import annotations

from typing import Any

from integrations.sentry_model import ExceptionInfo, Frame
from integrations.sentry_values import _bool, _get, _int, _lines, _str


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
