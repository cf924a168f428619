"""The one redactor: every outbound path (Slack, model context, PRs, commits, logs) passes through it."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"

# Well-known credential shapes, redacted even when droid was not told the value.
PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),            # Slack tokens
    re.compile(r"xapp-[0-9]-[A-Za-z0-9-]{10,}"),              # Slack app-level tokens
    re.compile(r"sk-ant-[A-Za-z0-9_-]{16,}"),                 # Anthropic keys
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),                # GitHub tokens
    re.compile(r"github_pat_[A-Za-z0-9_]{40,}"),
    re.compile(r"AKIA[0-9A-Z]{16}"),                          # AWS access key ids
    re.compile(r"sntry[su]_[A-Za-z0-9+/=_-]{20,}"),           # Sentry tokens
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i:\b(authorization:\s*(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,})"),
    re.compile(r"(?i:\b((?:password|passwd|secret|api[_-]?key|token)\s*[=:]\s*)['\"]?[^\s'\"]{8,})"),
]


# One pass to tell whether any pattern can match: most text has no secret at all.
ANY_PATTERN = re.compile("|".join(f"(?:{p.pattern})" for p in PATTERNS))


class Redactor:
    """Masks known secret values and credential-shaped strings in text."""

    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def add(self, secret: str) -> None:
        """Also mask this value from now on."""
        if secret and len(secret) >= 6 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """Return `text` with every secret masked."""
        if not text:
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if not ANY_PATTERN.search(text):
            return text
        for pattern in PATTERNS:
            text = pattern.sub(_mask_match, text)
        return text

    def data(self, value):
        """Redact every string inside a JSON-like value (dicts, lists, strings)."""
        if isinstance(value, str):
            return self(value) if len(value) >= 6 else value
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        return value


def _mask_match(match: re.Match) -> str:
    if match.lastindex:  # keep the "password=" / "Authorization: Bearer " prefix
        return match.group(1) + MASK
    return MASK
