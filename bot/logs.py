"""Logging set-up: every log line passes through the redactor."""

from __future__ import annotations

import logging


class RedactingFilter(logging.Filter):
    """Masks secrets in log records before any handler writes them."""

    def __init__(self, redact):
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, redacted."""
        record.msg = self.redact(record.getMessage())
        record.args = ()
        return True


def configure(redact, level: int = logging.INFO) -> None:
    """Root logging to stderr, redacted."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(redact))
    logging.basicConfig(level=level, handlers=[handler], force=True)
