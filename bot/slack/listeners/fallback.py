"""Everything droid does not handle is acknowledged and logged, never left to a 404 and a retry."""

from __future__ import annotations

import logging
import re

log = logging.getLogger("droid.fallback")
ANY = re.compile(".*")


def register(app) -> None:
    """Register last: catch-alls for events, actions, views, shortcuts and commands."""

    @app.event(ANY)
    def any_event(event: dict) -> None:
        log.debug("event %s ignored", event.get("type"))

    @app.action(ANY)
    def any_action(ack, body: dict) -> None:
        ack()
        log.info("action %s ignored", [a.get("action_id") for a in body.get("actions") or []])

    @app.view(ANY)
    def any_view(ack) -> None:
        ack()

    @app.shortcut(ANY)
    def any_shortcut(ack) -> None:
        ack()

    @app.command(ANY)
    def any_command(ack) -> None:
        ack("droid has no slash commands; mention @droid with a task instead.")
