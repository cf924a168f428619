"""The one Slack rate limiter: token buckets per Web API method (by Slack's tier) and per channel for posts.

Slack limits each method "per app per workspace" by tier (1+, 20+, 50+, 100+ calls a minute, with
some burst) and posting to about one message a second per channel with short bursts
(https://api.slack.com/apis/rate-limits). droid asks this limiter before every call it makes from
the poster and the deliverer, so a storm of runs waits here instead of collecting 429s.

Two lanes: RESULT calls (the outbox: plans, results, final edits) wait for a token; STATUS calls
(live edits of a status message, the 👀 reaction) take one only when the bucket keeps a reserve
for results, and are otherwise refused at once so the caller coalesces them into a later edit.
A 429 that still happens pauses the bucket for its Retry-After.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field, replace

RESULT, STATUS = "result", "status"
SPECIAL = 0   # chat.postMessage: limited per channel, not by a tier

# The tier of each method droid calls (from each method's page on api.slack.com).
METHOD_TIERS = {
    "chat.postMessage": SPECIAL, "chat.update": 3, "chat.postEphemeral": 4, "chat.getPermalink": 4,
    "reactions.add": 3, "reactions.remove": 3, "conversations.replies": 3, "views.open": 4,
    "files.getUploadURLExternal": 4, "files.completeUploadExternal": 4, "users.info": 4, "auth.test": 4,
}
# Methods that count against a channel's posting rate (Slack names chat.postMessage; a file share is Tier 4).
CHANNEL_POSTS = {"chat.postMessage"}


@dataclass(frozen=True)
class Limits:
    """Slack's published limits: calls a minute and the burst tolerated per tier; posts per channel."""

    per_minute: dict = field(default_factory=lambda: {1: 1, 2: 20, 3: 50, 4: 100})
    burst: dict = field(default_factory=lambda: {1: 1, 2: 3, 3: 5, 4: 10})
    post_per_second: float = 1.0
    post_burst: int = 3

    def scaled(self, factor: float) -> Limits:
        """The same shape, `factor` times faster (tests and benchmarks that cannot wait minutes)."""
        return replace(self, per_minute={t: n * factor for t, n in self.per_minute.items()},
                       post_per_second=self.post_per_second * factor)

    def tier(self, method: str) -> int:
        """The tier of a method (unknown methods are treated as Tier 2, the common one)."""
        return METHOD_TIERS.get(method, 2)


class Bucket:
    """A token bucket (`rate` tokens a second, at most `capacity`) that a 429 can pause."""

    def __init__(self, rate: float, capacity: float, now: float):
        self.rate, self.capacity = rate, max(1.0, capacity)
        self.tokens, self.updated, self.paused_until = self.capacity, now, 0.0

    def refill(self, now: float) -> None:
        """Add the tokens earned since the last look."""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now

    def wait(self, now: float, keep: float = 0.0) -> float:
        """Seconds until a token can be taken while leaving `keep` behind (0: now)."""
        self.refill(now)
        paused = max(0.0, self.paused_until - now)
        short = 1.0 + keep - self.tokens
        return max(paused, short / self.rate if short > 0 else 0.0)

    def pause(self, now: float, seconds: float) -> None:
        """Slack said wait: no tokens until then."""
        self.paused_until = max(self.paused_until, now + seconds)
        self.tokens = min(self.tokens, 0.0)
        self.updated = max(self.updated, now + seconds)


class SlackLimiter:
    """Buckets for one workspace; thread-safe. `margin` keeps droid a little under Slack's figures."""

    def __init__(self, limits: Limits | None = None, *, margin: float = 0.9, status_reserve: float = 0.5,
                 clock=time.monotonic):
        self.limits, self.margin, self.status_reserve, self.clock = limits or Limits(), margin, status_reserve, clock
        self._buckets: dict[tuple, Bucket] = {}
        self._lock = threading.Lock()
        self.calls: Counter = Counter()      # method -> calls let through
        self.refused: Counter = Counter()    # method -> status-lane calls refused (coalesced by the caller)
        self.waited = 0.0                    # seconds callers spent waiting for tokens
        self.throttled: Counter = Counter()  # method -> 429s Slack still answered

    def acquire(self, method: str, channel: str | None = None, *, lane: str = RESULT,
                timeout: float = 120.0) -> bool:
        """Take a token for one call. RESULT waits (up to `timeout`); STATUS answers at once. False: don't call."""
        deadline = self.clock() + timeout
        while True:
            with self._lock:
                now = self.clock()
                buckets = self._for(method, channel, now)
                keep = [self._keep(b) if lane == STATUS else 0.0 for b in buckets]
                wait = max(b.wait(now, k) for b, k in zip(buckets, keep, strict=True))
                if wait <= 0:
                    for b in buckets:
                        b.tokens -= 1
                    self.calls[method] += 1
                    return True
                if lane == STATUS or now + wait > deadline:
                    self.refused[method] += 1
                    return False
            time.sleep(min(wait, 1.0))
            with self._lock:
                self.waited += min(wait, 1.0)

    def throttled_by_slack(self, method: str, channel: str | None, retry_after: float) -> None:
        """Honour a 429: pause the method's bucket (and the channel's, for posts) for Retry-After seconds."""
        with self._lock:
            now = self.clock()
            self.throttled[method] += 1
            for bucket in self._for(method, channel, now):
                bucket.pause(now, retry_after)

    def stats(self) -> dict:
        """Counters for the benchmark and `droid doctor`-style reports."""
        with self._lock:
            return {"calls": dict(self.calls), "refused": dict(self.refused), "throttled": dict(self.throttled),
                    "waited_s": round(self.waited, 3)}

    def _keep(self, bucket: Bucket) -> float:
        return bucket.capacity * self.status_reserve

    def _for(self, method: str, channel: str | None, now: float) -> list[Bucket]:
        tier = self.limits.tier(method)
        out = [self._bucket(("method", method), now, *self._tier_rate(tier))]
        if method in CHANNEL_POSTS and channel:
            out.append(self._bucket(("channel", channel), now, self.limits.post_per_second * self.margin,
                                    self.limits.post_burst - 1))
        return out

    def _tier_rate(self, tier: int) -> tuple[float, float]:
        if tier == SPECIAL:       # no workspace figure is published for posts: only pausable
            return 1e9, 1e9
        return self.limits.per_minute[tier] / 60.0 * self.margin, self.limits.burst[tier] - 1

    def _bucket(self, key: tuple, now: float, rate: float, capacity: float) -> Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(rate, capacity, now)
        return bucket


_shared: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_shared_lock = threading.Lock()


def limiter_for(base_url: str, token: str | None) -> SlackLimiter:
    """The one limiter of a workspace (by API URL and token), shared by the poster and the deliverer."""
    with _shared_lock:
        limiter = _shared.get((base_url, token))
        if limiter is None:
            limiter = _shared[(base_url, token)] = SlackLimiter()
        return limiter


def install(base_url: str, token: str | None, limiter: SlackLimiter) -> SlackLimiter:
    """Use this limiter for a workspace (tests and benchmarks with scaled limits); keep a reference to it."""
    with _shared_lock:
        _shared[(base_url, token)] = limiter
    return limiter


def retry_after(exc, default: float = 1.0) -> float | None:
    """Retry-After seconds of a 429 SlackApiError (None when it was not a rate limit)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", 200)
    try:
        error = response.get("error") if response is not None else None
    except Exception:  # noqa: BLE001 — a body that was not JSON
        error = None
    if status != 429 and error != "ratelimited":
        return None
    headers = getattr(response, "headers", None) or {}
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.5, float(value if isinstance(value, str) else value[0]))
            except (TypeError, ValueError, IndexError):
                break
    return default
