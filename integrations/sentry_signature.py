"""The integration platform's webhook signature (`Sentry-Hook-Signature`) check."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["verify_webhook"]


def verify_webhook(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` (the Sentry-Hook-Signature header) is the hex HMAC-SHA256 of the raw
    request `body` keyed with the integration's client `secret`. Constant-time comparison."""
    if not signature or not secret:
        return False
    if isinstance(body, str):
        body = body.encode()
    expected = hmac.new(secret.encode(), body or b"", hashlib.sha256).hexdigest()
    given = signature.strip().lower()
    if given.startswith("sha256="):
        given = given[len("sha256="):]
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
    except UnicodeEncodeError:
        return False
