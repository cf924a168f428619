"""Replay-safe verified webhooks, built once: Sentry today, Jira and GitHub next.

A delivery is accepted only when, in this order:
1. its HMAC over the raw body bytes matches the signature header (constant-time) → else 401;
2. its timestamp header, when the sender has one, is inside the window → else 401;
3. its body is a JSON object → else 400;
4. it was not seen before: the signature (which covers the body) and the delivery id, when the sender
   has one, are recorded in the delivery log (`<name>:sig:<hex>` / `<name>:id:<id>`) → a repeat is
   answered 200 and ignored, so a sender's retry is not an error and a replay posts nothing.

Sentry's `Sentry-Hook-Timestamp` is not covered by its signature, so the timestamp alone cannot stop a
replay with a forged fresh header; the signature dedupe does, for as long as the delivery log keeps it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

log = logging.getLogger("droid.webhooks")
_GUID = re.compile(r"[0-9A-Fa-f-]{1,64}")


def delivery_key(value: str) -> str:
    """A delivery id as it may be stored: a GUID-like id as is; anything else (it is the sender's text, and
    could carry anything) as `h` + a SHA-256 prefix, still unique per id."""
    value = value.strip()
    return value if _GUID.fullmatch(value) else "h" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:40]


@dataclass(frozen=True)
class WebhookSpec:
    """How one sender signs its webhooks."""

    name: str                              # namespace in the delivery log, e.g. "sentry"
    signature_header: str                  # e.g. "Sentry-Hook-Signature"
    prefix: str = ""                       # what precedes the hex digest, e.g. "sha256="
    digest: str = "sha256"                 # hashlib name
    timestamp_header: str | None = None    # Unix time of sending, e.g. "Sentry-Hook-Timestamp"
    timestamp_unit: float = 1.0            # seconds per unit of the timestamp header (0.001 for ms)
    delivery_header: str | None = None     # a per-delivery id, e.g. "X-GitHub-Delivery"


SENTRY = WebhookSpec("sentry", "Sentry-Hook-Signature", timestamp_header="Sentry-Hook-Timestamp",
                     delivery_header="Request-ID")
GITHUB = WebhookSpec("github", "X-Hub-Signature-256", prefix="sha256=", delivery_header="X-GitHub-Delivery")
JIRA = WebhookSpec("jira", "X-Hub-Signature", prefix="sha256=")


@dataclass
class Verdict:
    """What to answer: the HTTP status, a short reason, and the payload when the delivery is to be handled."""

    status: int
    reason: str
    payload: dict | None = None

    @property
    def accepted(self) -> bool:
        """True when the delivery is authentic, fresh, new and a JSON object."""
        return self.payload is not None


class WebhookGuard:
    """Checks deliveries for one sender against its secret, a freshness window and the delivery log."""

    def __init__(self, spec: WebhookSpec, secret: str, deliveries, max_age_seconds: float,
                 clock: Callable[[], float] = time.time):
        self.spec, self.secret, self.deliveries = spec, secret, deliveries
        self.max_age, self.clock = max_age_seconds, clock

    def check(self, body: bytes | str, headers: Mapping[str, str]) -> Verdict:
        """Verify, check freshness, parse and dedupe one delivery."""
        raw = body.encode() if isinstance(body, str) else bytes(body)
        headers = {k.lower(): v for k, v in headers.items()}
        if not self.secret:
            return Verdict(503, f"{self.spec.name} webhooks are not configured (no secret)")
        signature = self.signature(raw, headers.get(self.spec.signature_header.lower()))
        if signature is None:
            log.warning("%s webhook with a bad signature rejected", self.spec.name)
            return Verdict(401, "bad signature")
        if stale := self._stale(headers):
            log.warning("%s webhook refused: %s", self.spec.name, stale)
            return Verdict(401, stale)
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return Verdict(400, "malformed JSON")
        if not isinstance(payload, dict):
            return Verdict(400, "the body must be a JSON object")
        if not self._first_time(signature, headers):
            log.info("%s webhook delivered again; ignored", self.spec.name)
            return Verdict(200, "duplicate delivery ignored")
        return Verdict(200, "accepted", payload)

    def signature(self, raw: bytes, header: str | None) -> str | None:
        """The verified hex digest from the header, or None when it does not match the body."""
        if not header:
            return None
        given = header.strip().lower()
        prefix = self.spec.prefix.lower()
        if prefix and not given.startswith(prefix):
            return None
        given = given[len(prefix):]
        expected = hmac.new(self.secret.encode(), raw, getattr(hashlib, self.spec.digest)).hexdigest()
        try:
            return given if hmac.compare_digest(expected.encode("ascii"), given.encode("ascii")) else None
        except UnicodeEncodeError:
            return None

    def _stale(self, headers: dict) -> str | None:
        if not self.spec.timestamp_header:
            return None
        value = headers.get(self.spec.timestamp_header.lower())
        try:
            sent = float(value) * self.spec.timestamp_unit
        except (TypeError, ValueError):
            sent = math.nan
        if not math.isfinite(sent):     # `nan` compares false with any window; `inf` has no age
            return f"missing or malformed {self.spec.timestamp_header}"
        age = self.clock() - sent
        if abs(age) > self.max_age:
            return f"stale delivery ({int(age)} s old; the window is {int(self.max_age)} s)"
        return None

    def _first_time(self, signature: str, headers: dict) -> bool:
        keys = [f"{self.spec.name}:sig:{signature}"]
        if self.spec.delivery_header and (delivery := headers.get(self.spec.delivery_header.lower())):
            keys.append(f"{self.spec.name}:id:{delivery_key(delivery)}")
        seen = [not self.deliveries.first_time(key) for key in keys]
        return not any(seen)


TEXT = {"content-type": "text/plain"}


def verified_route(spec: WebhookSpec, secret: str, deliveries, max_age_seconds: float, unconfigured: str,
                   accept: Callable[[dict, dict], tuple[int, dict, str]]):
    """A webhook route, (raw body, headers) -> (status, headers, body): 503 `unconfigured` while `secret` is unset,
    the guard's refusal, or `accept(payload, lower-cased headers)` for an authentic, fresh, new JSON object."""
    guard = WebhookGuard(spec, secret, deliveries, max_age_seconds)

    def handle(body: bytes | str, headers: dict) -> tuple[int, dict, str]:
        if not secret:
            return 503, TEXT, unconfigured
        verdict = guard.check(body, headers)
        if not verdict.accepted:
            return verdict.status, TEXT, verdict.reason
        return accept(verdict.payload, {k.lower(): v for k, v in headers.items()})

    handle.wants_bytes = True   # the signature is over the raw bytes: never a decoded-and-re-encoded body
    return handle
