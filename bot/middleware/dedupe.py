"""Drop Events API deliveries already processed (Slack retries on slow or failed acks)."""

from __future__ import annotations

import logging

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from state.deliveries import DeliveryLog

log = logging.getLogger("droid.dedupe")


class DeliveryDedupe(Middleware):
    """Acknowledge a repeated `event_id` without running any listener again."""

    def __init__(self, deliveries: DeliveryLog):
        self.deliveries = deliveries

    def process(self, *, req: BoltRequest, resp: BoltResponse, next) -> BoltResponse:
        """Pass the first delivery of each event on; answer 200 to the repeats."""
        event_id = req.body.get("event_id") if req.body.get("type") == "event_callback" else None
        if event_id and not self.deliveries.first_time(event_id):
            retry = (req.headers.get("x-slack-retry-num") or [""])[0]
            log.info("duplicate delivery of %s (retry %s) ignored", event_id, retry or "-")
            return BoltResponse(status=200, body="")
        return next()
