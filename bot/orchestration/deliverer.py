"""The one deliverer: sends outbox rows to Slack in order per run, retrying until Slack takes them.

Callers queue messages inside the transaction of the state change they report (`post`, `update`,
`react`, `upload` below), so a crash can never separate the two. Delivery is at-least-once made
exactly-once for the reader: every post carries Slack message metadata naming its outbox row, and
a row that may already have been sent (a counted attempt, no mark) is first looked for in the
thread (`conversations.replies` with `include_all_metadata`). Edits and reactions are idempotent.
Every call first takes a token from the workspace's rate limiter (bot/slack/ratelimit.py) in the RESULT
lane, so a storm waits there instead of meeting 429s. 429s that still come pause all delivery (and
the limiter's bucket) for their Retry-After; other failures back off per run.
"""

from __future__ import annotations

import base64
import logging
import sqlite3
import threading
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import ratelimit
from bot.slack.blocks import Message
from bot.slack.poster import redacted_content
from bot.tickets import toplevel
from bot.tickets.triggers import synthetic
from state.outbox import OutboxItem
from state.store import Store

log = logging.getLogger("droid.deliverer")

# Slack errors that no retry will fix: the row is settled with the error and the event log says so.
PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_blocks", "invalid_blocks_format",
             "msg_too_long", "message_not_found", "cant_update_message", "edit_window_closed", "thread_not_found",
             "no_text", "invalid_arguments", "invalid_metadata_format", "invalid_metadata_schema",
             "metadata_too_large", "file_not_found", "invalid_name", "no_reaction", "too_many_reactions"}
FINE = {"already_reacted"}
METHODS = {"post": "chat.postMessage", "update": "chat.update", "react": "reactions.add",
           "upload": "files.completeUploadExternal"}


class Deliverer:
    """Queues messages in the outbox and delivers them from one background thread."""

    def __init__(self, store: Store, client: WebClient, redact=None, *, base_delay: float = 0.5, max_delay: float = 30.0,
                 timeout: int = 15, limiter: ratelimit.SlackLimiter | None = None):
        self.store = store
        self.redact = redact or _Plain()
        # Our own backoff replaces the SDK's retry handlers: a failing call returns at once.
        self.client = WebClient(token=client.token, base_url=client.base_url, timeout=timeout, retry_handlers=[])
        self.limiter = limiter or ratelimit.limiter_for(client.base_url, client.token)
        self.base_delay, self.max_delay = base_delay, max_delay
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self.on_undeliverable = None   # (run_id, error): a ticket run's opening post was refused for good

    # -- queueing (call inside the state change's transaction) -------------------------------
    def post(self, run, message: Message, event_type: str, *, run_field: str | None = None,
             version: int | None = None) -> int:
        """Queue a reply in the run's thread (and its overflow file); returns the outbox id of the reply.

        `run_field` ("plan_ts") records the message's ts on the run once delivered; `version` names
        the plan version a plan message shows.
        """
        payload = {"text": self.redact(message.text), "blocks": self.redact.data(message.blocks)}
        if run_field:
            payload["run_field"] = run_field
        if version is not None:
            payload["version"] = version
        item_id = self.store.outbox.add(run.run_id, "post", run.channel, run.thread_ts, event_type, payload)
        if message.file:
            self.upload(run, *message.file)
        self.wake()
        return item_id

    def update(self, run, message: Message, *, ts: str | None = None, ts_of: int | None = None,
               event_type: str = "droid_update", not_before: float = 0.0) -> int:
        """Queue an edit of a message: `ts`, or the message an earlier outbox row (`ts_of`) posted."""
        payload = {"text": self.redact(message.text), "blocks": self.redact.data(message.blocks), "ts": ts,
                   "ts_of": ts_of}
        item_id = self.store.outbox.add(run.run_id, "update", run.channel, run.thread_ts, event_type, payload,
                                        not_before)
        self.wake()
        return item_id

    def react(self, run, ts: str, name: str) -> int:
        """Queue a reaction on a message (the triggering one, usually); a ticket run's trigger is no message."""
        if synthetic(ts):
            return 0
        item_id = self.store.outbox.add(run.run_id, "react", run.channel, run.thread_ts, "droid_reaction",
                                        {"ts": ts, "name": name})
        self.wake()
        return item_id

    def upload(self, run, filename: str, content: str | bytes, title: str | None = None) -> int:
        """Queue a file for the run's thread."""
        payload = {"filename": filename, "title": title or filename}
        content = redacted_content(self.redact, content)
        if isinstance(content, bytes):
            payload["content_b64"] = base64.b64encode(content).decode()
        else:
            payload["content"] = content
        item_id = self.store.outbox.add(run.run_id, "upload", run.channel, run.thread_ts, "droid_file", payload)
        self.wake()
        return item_id

    # -- the thread ------------------------------------------------------------------------
    def start(self) -> Deliverer:
        """Start delivering in the background (idempotent); pending rows from before a restart go first."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="droid-deliverer", daemon=True)
            self._thread.start()
        self.wake()
        return self

    def wake(self) -> None:
        """Look at the outbox now."""
        self._idle.clear()
        self._wake.set()

    def stop(self, drain: float = 0.0) -> None:
        """Stop the thread, after waiting up to `drain` seconds for the outbox to empty."""
        if drain:
            try:
                self.drain(drain)
            except sqlite3.ProgrammingError:   # the database is already closed: what is queued stays queued
                log.warning("outbox not drained: the database is closed")
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=self.client.timeout + 5)
            self._thread = None

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is left to deliver; False if rows are still pending after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread is not None and self._thread.is_alive():
            if not self.store.outbox.pending():
                return True
            self.wake()
            self._idle.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        return not self.store.outbox.pending()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                wait = self.run_once()
            except Exception:  # noqa: BLE001 — e.g. the database briefly unavailable: try again soon
                log.exception("deliverer round failed")
                wait = 1.0
            self._idle.set()
            self._wake.wait(wait)

    def run_once(self) -> float:
        """Deliver every row that is due; returns how long to sleep before the next round."""
        while not self._stop.is_set():
            if time.time() < self._paused_until:
                return self._paused_until - time.time()
            items = self.store.outbox.due()
            if not items:
                break
            for item in items:
                self.deliver(item)
                if time.time() < self._paused_until or self._stop.is_set():
                    break
        nxt = self.store.outbox.next_due_at()
        return 5.0 if nxt is None else min(5.0, max(0.01, nxt - time.time()))

    # -- one row ---------------------------------------------------------------------------
    def deliver(self, item: OutboxItem) -> bool:
        """Try one row once: settle it, or schedule its retry. True when it is settled."""
        opens_thread = toplevel.resolve(self.store, item)    # a ticket run's first post opens its thread
        if opens_thread:
            toplevel.name_the_ticket(self.store, item)
        try:
            sent_ts = self.send(item)
        except SlackApiError as exc:
            return self._failed(item, exc)
        except Exception as exc:  # noqa: BLE001 — connection errors, timeouts, a garbled 5xx page
            return self._retry(item, f"{type(exc).__name__}: {exc}")
        with self.store.database.transaction():
            self.store.outbox.delivered(item, sent_ts)
            if opens_thread and sent_ts:
                self.store.runs.open_thread(item.run_id, sent_ts)
        return True

    def send(self, item: OutboxItem) -> str | None:
        """Send one row to Slack (counting the attempt first); returns the ts of the message it made."""
        earlier = item.attempts
        item.attempts = self.store.outbox.claim(item.id)
        p = item.payload
        if item.kind == "post":
            if earlier and (found := self._find_sent(item)):
                log.info("outbox %s was delivered before a restart (ts %s); not posting again", item.id, found)
                return found
            self._token("chat.postMessage", item)
            return self.client.chat_postMessage(
                channel=item.channel, thread_ts=item.thread_ts or None, text=p["text"], blocks=p["blocks"],
                unfurl_links=False, unfurl_media=False, metadata=metadata(item))["ts"]
        if item.kind == "update":
            ts = p.get("ts") or self._ts_of(p.get("ts_of"))
            if ts:
                self._token("chat.update", item)
                self.client.chat_update(channel=item.channel, ts=ts, text=p["text"], blocks=p["blocks"])
            return ts
        if item.kind == "react":
            self._token("reactions.add", item)
            try:
                self.client.reactions_add(channel=item.channel, timestamp=p["ts"], name=p["name"])
            except SlackApiError as exc:
                if _error(exc) not in FINE:
                    raise
            return None
        if earlier and (found := self._find_sent(item)):
            return found
        content = base64.b64decode(p["content_b64"]) if "content_b64" in p else p["content"]
        self._token("files.getUploadURLExternal", item)
        self._token("files.completeUploadExternal", item)
        self.client.files_upload_v2(channel=item.channel, thread_ts=item.thread_ts or None, filename=p["filename"],
                                    content=content, title=p["title"])
        return None

    def _token(self, method: str, item: OutboxItem) -> None:
        """Wait for the limiter (bounded: after that, call anyway and let a 429 pause us)."""
        if not self.limiter.acquire(method, item.channel, timeout=30.0):
            log.warning("outbox %s: no %s token within 30s; sending anyway", item.id, method)

    def _ts_of(self, item_id: int | None) -> str | None:
        earlier = self.store.outbox.get(item_id) if item_id else None
        return earlier.sent_ts if earlier else None

    def _find_sent(self, item: OutboxItem) -> str | None:
        """The ts of this row's message if an earlier attempt reached the thread (by metadata or file name)."""
        if not item.thread_ts:
            return toplevel.find_in_channel(self.client, item, self._token, _is_row) if item.kind == "post" else None
        cursor = None
        while True:
            self._token("conversations.replies", item)
            try:
                page = self.client.conversations_replies(channel=item.channel, ts=item.thread_ts, cursor=cursor,
                                                         include_all_metadata=True, limit=200)
            except SlackApiError as exc:
                if _error(exc) == "thread_not_found":
                    return None
                raise
            for message in page.get("messages") or []:
                if _is_row(message, item):
                    return message.get("ts")
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None

    def _failed(self, item: OutboxItem, exc: SlackApiError) -> bool:
        status = getattr(exc.response, "status_code", 200)
        error = _error(exc)
        if status == 429 or error == "ratelimited":
            wait = _retry_after(exc)
            self.limiter.throttled_by_slack(METHODS.get(item.kind, "chat.postMessage"), item.channel, wait)
            self._paused_until = max(self._paused_until, time.time() + wait)
            log.warning("Slack rate-limited delivery; pausing %.1fs", wait)
            self.store.outbox.retry_later(item.id, f"ratelimited (Retry-After {wait:g}s)", time.time() + wait)
            return False
        if status < 500 and error in PERMANENT:
            log.error("run %s: outbox %s (%s) refused by Slack for good: %s", item.run_id, item.id, item.kind, error)
            self.store.events.append(item.run_id, "delivery_failed", outbox_id=item.id, kind=item.kind, error=error)
            self.store.outbox.delivered(item, None, error)
            if item.kind == "post" and not item.thread_ts and self.on_undeliverable is not None:
                self.on_undeliverable(item.run_id, error)     # nobody can see this run: say so where one can
            return True
        return self._retry(item, f"HTTP {status}: {error}")

    def _retry(self, item: OutboxItem, error: str) -> bool:
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, item.attempts - 1))
        log.warning("run %s: outbox %s not delivered (%s); retrying in %.1fs", item.run_id, item.id, error, delay)
        self.store.outbox.retry_later(item.id, error, time.time() + delay)
        return False


def metadata(item: OutboxItem) -> dict:
    """The Slack message metadata that names an outbox row."""
    return {"event_type": item.event_type, "event_payload": {"run_id": item.run_id, "outbox_id": item.id}}


def _is_row(message: dict, item: OutboxItem) -> bool:
    if item.kind == "upload":
        return any(f.get("name") == item.payload["filename"] for f in message.get("files") or [])
    payload = (message.get("metadata") or {}).get("event_payload") or {}
    return str(payload.get("outbox_id")) == str(item.id) and payload.get("run_id") == item.run_id


def _error(exc: SlackApiError) -> str:
    try:
        return str(exc.response.get("error") or "")
    except Exception:  # noqa: BLE001 — a body that was not JSON
        return ""


def _retry_after(exc: SlackApiError, default: float = 1.0) -> float:
    return ratelimit.retry_after(exc, default) or default


class _Plain:
    """No redaction (tests that build a deliverer without droid's redactor)."""

    def __call__(self, text: str) -> str:
        return text

    def data(self, value):
        return value
