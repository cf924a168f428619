"""Slack delivery dedupe: each Events API `event_id` is processed once."""

from __future__ import annotations

import json
import sqlite3
import time

from state.db import NO_REDACTION, Database

NAMESPACED_KEEP = 30 * 24 * 3600     # webhook signatures and delivery ids: 30 days


class DeliveryLog:
    """Remembers which Slack event deliveries were already seen."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION     # a delivery's payload is at rest (WAL included) until handled: stored redacted

    def first_time(self, event_id: str) -> bool:
        """Record the event id; True only the first time it is seen."""
        try:
            with self.database.transaction() as db:
                db.execute("INSERT INTO slack_deliveries (event_id, received_at) VALUES (?, ?)", [event_id, time.time()])
            return True
        except sqlite3.IntegrityError:
            return False

    def record(self, event_id: str, payload: dict) -> bool:
        """Record a delivery with what it carries, to be handled (or, after a crash, replayed); True the first time."""
        payload = self.redact.data(payload)
        try:   # on the ack path: a connection of its own, never queued behind planners holding the shared lock
            with self.database.side_transaction() as db:
                db.execute("INSERT INTO slack_deliveries (event_id, received_at, payload) VALUES (?, ?, ?)",
                           [event_id, time.time(), json.dumps(payload)])
            return True
        except sqlite3.IntegrityError:
            return False

    def handled(self, event_id: str) -> None:
        """Mark a recorded delivery handled (and drop its payload); joins the caller's transaction."""
        with self.database.transaction() as db:
            db.execute("UPDATE slack_deliveries SET handled_at = ?, payload = NULL WHERE event_id = ? "
                       "AND handled_at IS NULL", [time.time(), event_id])

    def unhandled(self) -> list[tuple[str, dict]]:
        """Recorded deliveries a previous process acknowledged but never handled, oldest first."""
        with self.database.reading() as db:
            rows = db.execute("SELECT event_id, payload FROM slack_deliveries WHERE payload IS NOT NULL "
                              "AND handled_at IS NULL ORDER BY received_at").fetchall()
        return [(event_id, json.loads(payload)) for event_id, payload in rows]

    def forget_older_than(self, seconds: float, namespaced_seconds: float = NAMESPACED_KEEP) -> int:
        """Drop Slack event ids older than `seconds` (Slack's retry window) and namespaced ids (`sentry:sig:…`,
        kept longer: Sentry does not sign its timestamp, so a replay is caught by its signature) older than
        `namespaced_seconds`; returns how many."""
        now = time.time()
        with self.database.transaction() as db:
            cur = db.execute("DELETE FROM slack_deliveries WHERE (instr(event_id, ':') = 0 AND received_at < ?) "
                             "OR received_at < ?", [now - seconds, now - max(seconds, namespaced_seconds)])
            return cur.rowcount
