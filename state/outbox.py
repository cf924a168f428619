"""The outbox: messages a person must see, stored in the same transaction as the state change they report.

Rows are delivered by one deliverer (bot/orchestration/deliverer.py), oldest first within each run. A row is
`claim`ed (its attempt counted and committed) before each send, so after a crash a row with
attempts > 0 may already be in Slack: the deliverer looks for it there before sending again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from state.db import NO_REDACTION, Database

KINDS = ("post", "update", "react", "upload")
RUN_FIELDS = ("plan_ts", "status_ts")      # what a delivered post may record on its run


@dataclass
class OutboxItem:
    """One message waiting for (or done with) delivery."""

    id: int
    run_id: str
    kind: str
    channel: str
    thread_ts: str | None
    event_type: str
    payload: dict
    created_at: float
    not_before: float
    attempts: int
    last_error: str | None
    sent_ts: str | None
    delivered_at: float | None


class OutboxStore:
    """Adds, hands out and settles outbox rows."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION   # what waits to be sent is at rest too: stored redacted (binary content aside)

    def add(self, run_id: str, kind: str, channel: str, thread_ts: str | None, event_type: str, payload: dict,
            not_before: float = 0.0) -> int:
        """Queue one message; inside a caller's transaction it commits (or not) with the caller's changes."""
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}")
        payload = {k: v if k == "content_b64" else self.redact.data(v) for k, v in payload.items()}
        with self.database.transaction() as db:
            cursor = db.execute("INSERT INTO outbox (run_id, kind, channel, thread_ts, event_type, payload, created_at, "
                                "not_before) VALUES (?,?,?,?,?,?,?,?)",
                                [run_id, kind, channel, thread_ts, event_type, json.dumps(payload), time.time(),
                                 not_before])
            return cursor.lastrowid

    def due(self, now: float | None = None, limit: int = 50) -> list[OutboxItem]:
        """The oldest undelivered row of each run, when its time has come (per-run order is kept)."""
        now = time.time() if now is None else now
        return self._select("WHERE o.delivered_at IS NULL AND o.not_before <= ? AND o.id = (SELECT MIN(id) FROM outbox "
                            "WHERE run_id = o.run_id AND delivered_at IS NULL) ORDER BY o.id LIMIT ?", [now, limit])

    def next_due_at(self) -> float | None:
        """When the earliest run's next row may be tried, or None when nothing waits."""
        with self.database.reading() as db:
            row = db.execute("SELECT MIN(o.not_before) FROM outbox o WHERE o.delivered_at IS NULL AND o.id = "
                             "(SELECT MIN(id) FROM outbox WHERE run_id = o.run_id AND delivered_at IS NULL)").fetchone()
        return row[0]

    def pending(self, run_id: str | None = None) -> list[OutboxItem]:
        """Every undelivered row (of one run), oldest first."""
        if run_id is None:
            return self._select("WHERE o.delivered_at IS NULL ORDER BY o.id", [])
        return self._select("WHERE o.delivered_at IS NULL AND o.run_id = ? ORDER BY o.id", [run_id])

    def for_run(self, run_id: str) -> list[OutboxItem]:
        """Every row of a run, delivered or not, oldest first."""
        return self._select("WHERE o.run_id = ? ORDER BY o.id", [run_id])

    def get(self, item_id: int) -> OutboxItem | None:
        """One row."""
        rows = self._select("WHERE o.id = ?", [item_id])
        return rows[0] if rows else None

    def latest(self, run_id: str, event_type: str) -> OutboxItem | None:
        """The newest row of a run with this event type."""
        rows = self._select("WHERE o.run_id = ? AND o.event_type = ? ORDER BY o.id DESC LIMIT 1", [run_id, event_type])
        return rows[0] if rows else None

    def claim(self, item_id: int) -> int:
        """Count an attempt before sending (committed first, so a crash mid-send is visible); returns attempts."""
        with self.database.transaction() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = ?", [item_id])
            return db.execute("SELECT attempts FROM outbox WHERE id = ?", [item_id]).fetchone()[0]

    def delivered(self, item: OutboxItem, sent_ts: str | None, error: str | None = None) -> None:
        """Settle a row; a post that names a run field (e.g. plan_ts) records its ts there in the same commit."""
        field = item.payload.get("run_field")
        with self.database.transaction() as db:
            db.execute("UPDATE outbox SET sent_ts = ?, delivered_at = ?, last_error = ? WHERE id = ?",
                       [sent_ts, time.time(), error, item.id])
            if sent_ts and field in RUN_FIELDS:
                db.execute(f"UPDATE runs SET {field} = ?, updated_at = ? WHERE run_id = ?",
                           [sent_ts, time.time(), item.run_id])

    def retry_later(self, item_id: int, error: str, not_before: float) -> None:
        """Leave a row undelivered until `not_before`, noting why."""
        with self.database.transaction() as db:
            db.execute("UPDATE outbox SET last_error = ?, not_before = ? WHERE id = ?", [error[:500], not_before, item_id])

    def _select(self, where: str, args: list) -> list[OutboxItem]:
        with self.database.reading() as db:
            rows = db.execute(f"SELECT o.* FROM outbox o {where}", args).fetchall()
        items = []
        for row in rows:
            item = OutboxItem(*row)
            item.payload = json.loads(item.payload)
            items.append(item)
        return items
