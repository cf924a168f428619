"""Slack delivery dedupe: each Events API `event_id` is processed once."""

from __future__ import annotations

import sqlite3
import time

from state.db import Database

NAMESPACED_KEEP = 30 * 24 * 3600     # webhook signatures and delivery ids: 30 days


class DeliveryLog:
    """Remembers which Slack event deliveries were already seen."""

    def __init__(self, database: Database):
        self.database = database

    def first_time(self, event_id: str) -> bool:
        """Record the event id; True only the first time it is seen."""
        try:
            with self.database.transaction() as db:
                db.execute("INSERT INTO slack_deliveries VALUES (?, ?)", [event_id, time.time()])
            return True
        except sqlite3.IntegrityError:
            return False

    def forget_older_than(self, seconds: float, namespaced_seconds: float = NAMESPACED_KEEP) -> int:
        """Drop Slack event ids older than `seconds` (Slack's retry window) and namespaced ids (`sentry:sig:…`,
        kept longer: Sentry does not sign its timestamp, so a replay is caught by its signature) older than
        `namespaced_seconds`; returns how many."""
        now = time.time()
        with self.database.transaction() as db:
            cur = db.execute("DELETE FROM slack_deliveries WHERE (instr(event_id, ':') = 0 AND received_at < ?) "
                             "OR received_at < ?", [now - seconds, now - max(seconds, namespaced_seconds)])
            return cur.rowcount
