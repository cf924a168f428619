"""Logging set-up: every log line, traceback included, passes through the redactor; no request bodies."""

from __future__ import annotations

import logging
import re

# Bolt (and a few other libraries) put whole request bodies into log lines: keep the line, drop the body.
_BODY = re.compile(r"(?is)(\bbody:\s*|\b(?:the )?request \()[\[{'\"b].*")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def without_bodies(text: str) -> str:
    """The log text with any request body cut off."""
    return _BODY.sub(lambda m: m.group(1) + "[request body not logged]", text)


class RedactingFormatter(logging.Formatter):
    """Formats a record (message, exception and stack) and redacts the whole rendered text."""

    def __init__(self, redact, fmt: str = FORMAT):
        super().__init__(fmt)
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        """The redacted line: secrets in the message, the traceback or the stack are masked."""
        return self.redact(without_bodies(super().format(record)))


class RedactingFilter(logging.Filter):
    """Renders a record's message once, redacted and without request bodies (for handlers we do not format)."""

    def __init__(self, redact):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted."""
        record.msg = self.redact(without_bodies(record.getMessage()))
        record.args = ()
        return True


def redact_records(redact) -> None:
    """Redact every log record as it is made (message, traceback, stack), whichever handler writes it later:
    a Celery worker's, `logging.basicConfig`'s or a library's handler then only ever sees masked text.
    Installed once per process; a later call only swaps the redactor."""
    global _REDACT
    _REDACT = redact
    factory = logging.getLogRecordFactory()
    if getattr(factory, "droid_redacting", False):
        return

    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            record.msg, record.args = _REDACT(without_bodies(record.getMessage())), ()
        except Exception:  # noqa: BLE001 — a message whose arguments do not format: the handler reports it
            return record
        if record.exc_info and not record.exc_text:
            record.exc_text = _REDACT(without_bodies(_TRACEBACKS.formatException(record.exc_info)))
        if record.stack_info:
            record.stack_info = _REDACT(record.stack_info)
        return record

    make.droid_redacting = True
    logging.setLogRecordFactory(make)


_REDACT = None
_TRACEBACKS = logging.Formatter()


def configure(redact, level: int = logging.INFO) -> None:
    """Root logging to stderr, redacted: droid's loggers and every third-party logger alike."""
    redact_records(redact)
    handler = logging.StreamHandler()
    handler.setFormatter(RedactingFormatter(redact))
    handler.addFilter(RedactingFilter(redact))
    logging.basicConfig(level=level, handlers=[handler], force=True)
