"""Slack delivery dedupe: each Events API `event_id` is processed once."""

from __future__ import annotations

import sqlite3
import time

from state.db import Database


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

    def forget_older_than(self, seconds: float) -> int:
        """Drop ids older than Slack's retry window; returns how many."""
        with self.database.transaction() as db:
            cur = db.execute("DELETE FROM slack_deliveries WHERE received_at < ?", [time.time() - seconds])
            return cur.rowcount
