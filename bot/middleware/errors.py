"""Bolt's global error handler: a listener that fails after the ack ends with a message in its thread.

One log line per failure (the error, the request type; never the body, which holds people's text),
and a short notice in the thread the request came from, so nobody waits on a silent bot. Before the
ack, the request is answered 200: a retry of a deterministic failure would only fail again.
"""

from __future__ import annotations

import logging

from slack_bolt.response import BoltResponse

from bot import blocks

log = logging.getLogger("droid.errors")
NOTICE = ("⚠️ droid hit an error while handling this and stopped (ref `{ref}`). Please try again; "
          "if it happens again, tell droid's operators the ref.")


def register(app, deps) -> None:
    """Install the handler on `app`."""

    @app.error
    def on_error(error: Exception, body: dict, response: BoltResponse | None = None):
        kind = _kind(body)
        ref = f"{type(error).__name__}-{id(error) % 100000:05d}"
        log.error("listener failed on %s: %s: %s (ref %s)", kind, type(error).__name__, str(error)[:200], ref)
        place = thread_of(body, deps.settings.routing.alert_channels)
        if place:
            try:
                deps.poster.post(place[0], place[1], blocks.notice(NOTICE.format(ref=ref)))
            except Exception as exc:  # noqa: BLE001 — Slack itself may be the failure
                log.warning("could not post the failure notice (ref %s): %s", ref, type(exc).__name__)
        if response is not None:   # not acknowledged yet
            return BoltResponse(status=200, body="")
        return None


def _kind(body) -> str:
    if not isinstance(body, dict):
        return "?"
    event = body.get("event")
    inner = event.get("type") if isinstance(event, dict) else None
    return f"{body.get('type')}/{inner}" if inner else str(body.get("type") or body.get("command") or "?")


def thread_of(body, alert_channels=()) -> tuple[str, str] | None:
    """(channel, thread ts) a request came from, when it names one people are waiting in."""
    if not isinstance(body, dict):
        return None
    event = body.get("event")
    if isinstance(event, dict):
        channel, ts = event.get("channel"), event.get("thread_ts") or event.get("ts")
        if event.get("type") == "message" and channel not in alert_channels:
            return None   # other people's chatter: a notice there would be noise
        return (channel, ts) if isinstance(channel, str) and isinstance(ts, str) else None
    channel = body.get("channel") if isinstance(body.get("channel"), dict) else {}
    container = body.get("container") if isinstance(body.get("container"), dict) else {}
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    channel_id = channel.get("id") or container.get("channel_id")
    ts = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
    return (channel_id, ts) if isinstance(channel_id, str) and isinstance(ts, str) else None
