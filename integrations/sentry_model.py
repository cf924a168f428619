"""What a parsed Sentry event is: its exceptions, their stack frames, and the facts of the event
and of its issue that root-cause analysis uses (`sentry_event.parse_event` builds it).

Frames keep Sentry's order (outermost first, innermost LAST); chained exceptions keep Sentry's
order too (the cause first, the exception that was finally raised LAST).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Frame", "ExceptionInfo", "ParsedEvent"]


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
        """`module.Type`, or the bare type for builtins and when the module is unknown."""
        if self.module and self.type and self.module not in ("builtins", "__builtins__"):
            return f"{self.module}.{self.type}"
        return self.type

    def summary(self) -> str:
        """`Type: value`, or whichever of the two is known."""
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
