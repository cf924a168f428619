"""The one status message of a run: edited in place, throttled and coalesced."""

from __future__ import annotations

import threading
import time

from bot.slack.blocks import Message
from bot.slack.poster import SlackPoster


class StatusMessage:
    """Edits one Slack message at most once per `interval` seconds, always ending on the latest state."""

    def __init__(self, poster: SlackPoster, channel: str, ts: str | None, interval: float = 2.0, *,
                 resolve=None, outbox_id: int | None = None):
        self.poster, self.channel, self.ts, self.interval = poster, channel, ts, interval
        self.resolve = resolve        # () -> ts once the outbox has posted the message (None until then)
        self.outbox_id = outbox_id    # the outbox row that posts the message, when it goes through the outbox
        self._last = time.monotonic()   # the post that created the message counts as an edit
        self._pending: Message | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._finished = False

    def set(self, message: Message) -> None:
        """Show this state soon: now if the interval has passed, else once it has (latest wins)."""
        self._resolve()
        with self._lock:
            if self._finished:
                return
            self._pending = message
            wait = self.interval - (time.monotonic() - self._last)
            if wait <= 0:
                self._flush_locked()
            elif self._timer is None:
                self._timer = threading.Timer(wait, self._flush)
                self._timer.daemon = True
                self._timer.start()

    def close(self, message: Message) -> None:
        """The final state: waits out the interval so the rule holds, then edits."""
        self._resolve()
        with self._lock:
            if self._timer:
                self._timer.cancel()
                self._timer = None
            self._pending = message
            wait = self.interval - (time.monotonic() - self._last)
        if wait > 0 and self.ts is not None:
            time.sleep(wait)
        with self._lock:
            self._flush_locked(live=False)

    def finish(self) -> float:
        """Stop editing (the final state goes through the outbox); returns when the next edit is allowed (epoch s)."""
        with self._lock:
            if self._timer:
                self._timer.cancel()
                self._timer = None
            self._pending = None
            self._finished = True
            wait = self.interval - (time.monotonic() - self._last)
        return time.time() + max(0.0, wait)

    def _resolve(self) -> None:
        """Learn the message's ts from the outbox — never under our lock: it reads the database, and the runner
        holds the database's lock while it calls `finish`."""
        if self.ts is None and self.resolve is not None:
            self.ts = self.resolve()

    def _flush(self) -> None:
        self._resolve()
        with self._lock:
            self._timer = None
            self._flush_locked()

    def _flush_locked(self, live: bool = True) -> None:
        if self._pending is not None and self.ts is None:  # the status message is not (yet) in Slack
            self._pending = None
        if self._pending is not None:
            if self.poster.update(self.channel, self.ts, self._pending, live=live) is None:
                self._retry_later()       # Slack's budget is kept for results: coalesce into a later edit
                return
            self._pending = None
            self._last = time.monotonic()

    def _retry_later(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.interval, self._flush)
            self._timer.daemon = True
            self._timer.start()
