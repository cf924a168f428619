"""A listener that fails ends with a message in its thread and an answer to Slack, never a 500 or silence.

Two layers:
- every registered listener is guarded: an exception is reported (one log line, a notice in the
  thread) and does not reach Bolt. Bolt's threaded runner, on an exception after `ack()`, rebinds
  the shared response to a 500 and then to None while the request thread is reading it: the request
  got a 500, or waited the full 3 s and fell through to the next listener. The guard also acks a
  request its listener failed before acknowledging.
- Bolt's global `app.error` handler reports what happens outside listeners (global middleware) the
  same way and answers 200: a retry of a deterministic failure would only fail again.
Log lines carry the error and the request type, never the body (it holds people's text).
"""

from __future__ import annotations

import itertools
import logging

from slack_bolt.response import BoltResponse

from bot.slack import blocks

log = logging.getLogger("droid.errors")
NOTICE = ("⚠️ droid hit an error while handling this and stopped (ref `{ref}`). Please try again; "
          "if it happens again, tell droid's operators the ref.")
_refs = itertools.count(1)


def register(app, deps) -> None:
    """Install the global error handler on `app`."""

    @app.error
    def on_error(error: Exception, body: dict, response: BoltResponse | None = None):
        report(deps, error, body)
        return BoltResponse(status=200, body="") if response is not None else None


def guard_listeners(app, deps) -> None:
    """Wrap every listener registered so far (call after registering them)."""
    listeners = getattr(app, "_listeners", None)
    if listeners is None:
        raise RuntimeError("slack_bolt.App has no _listeners: update bot.slack.middleware.errors for this Bolt")
    for listener in listeners:
        _guard(listener, deps)


def _guard(listener, deps) -> None:
    original, names = listener.ack_function, list(listener.arg_names)

    def guarded(**kwargs):
        try:
            return original(**{k: v for k, v in kwargs.items() if k in names})
        except Exception as error:  # noqa: BLE001 — reported in the thread and the log
            report(deps, error, kwargs.get("body"))
            ack = kwargs.get("ack")
            if ack is not None and not listener.auto_acknowledgement and ack.response is None:
                ack()
            return None

    guarded.__name__ = getattr(original, "__name__", "listener")
    listener.ack_function = guarded
    listener.arg_names = names + [name for name in ("ack", "body") if name not in names]


def report(deps, error: Exception, body) -> str:
    """Log one line and post a notice where the request came from; returns the reference."""
    ref = f"E{next(_refs):04d}-{type(error).__name__}"
    log.error("listener failed on %s: %s: %s (ref %s)", _kind(body), type(error).__name__,
              " ".join(str(error).split())[:200], ref)
    log.debug("traceback for ref %s", ref, exc_info=error)   # for operators who turn DEBUG on
    place = thread_of(body, deps.settings.routing.alert_channels)
    if place:
        try:
            deps.poster.post(place[0], place[1], blocks.notice(NOTICE.format(ref=ref)))
        except Exception as exc:  # noqa: BLE001 — Slack itself may be the failure
            log.warning("could not post the failure notice (ref %s): %s", ref, type(exc).__name__)
    return ref


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
