"""Events API deliveries are processed once per `event_id` (Slack retries slow or failed acks).

`once_per_delivery` checks in the listener thread, after the ack: global middleware runs before the
ack, and a SQLite write there would sit on every delivery's path to HTTP 200. Mentions cannot wait
that long: Slack never re-sends an acknowledged event, so a crash between the ack and the run's
creation would lose the request. `record_delivery` (listener middleware, only on the mention
listener) stores the event before the ack; its handler marks it handled in the transaction that
creates the run, and recovery replays what a dead process left unhandled.
"""

from __future__ import annotations

import functools
import logging

from slack_bolt import BoltResponse

from state.deliveries import DeliveryLog

log = logging.getLogger("droid.dedupe")


def once_per_delivery(deliveries: DeliveryLog):
    """Decorate an event listener taking `body`: repeated deliveries of an event_id are dropped."""

    def decorate(listener):
        @functools.wraps(listener)
        def wrapper(*args, body: dict, **kwargs):
            event_id = body.get("event_id")
            if event_id and not deliveries.first_time(event_id):
                log.info("duplicate delivery of %s ignored", event_id)
                return None
            return listener(*args, body=body, **kwargs)

        return wrapper

    return decorate


def record_delivery(deliveries: DeliveryLog):
    """Listener middleware, run before the ack: store a first delivery with its event; acknowledge repeats at once."""

    def middleware(body: dict, next):  # noqa: A002 — Bolt injects `next` by name
        event_id = body.get("event_id") if isinstance(body.get("event_id"), str) else None
        if event_id and not deliveries.record(event_id, {"event": body.get("event"), "team_id": body.get("team_id")}):
            log.info("duplicate delivery of %s ignored", event_id)
            return BoltResponse(status=200, body="")
        return next()

    return middleware
