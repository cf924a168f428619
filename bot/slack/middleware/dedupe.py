"""Events API deliveries are processed once per `event_id` (Slack retries slow or failed acks).

The durable check runs in the listener thread, after the ack: global middleware runs before the
ack, and a SQLite write there would sit on every delivery's path to HTTP 200.
"""

from __future__ import annotations

import functools
import logging

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
