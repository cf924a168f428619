"""The append-only event log per run: the transcript that shows the work."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from state.db import NO_REDACTION, Database

MAX_EVENT_CHARS = 20_000


@dataclass
class RunEvent:
    """One entry of a run's event log."""

    id: int
    run_id: str
    at: float
    kind: str
    data: dict


class EventLog:
    """Appends to and reads the run event log."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION

    def append(self, run_id: str, kind: str, /, **data) -> None:
        """Record one event; long payloads are bounded, secrets redacted."""
        # each string whole, before JSON escapes glue words together
        data = self.redact.data(json.loads(json.dumps(data, default=str)))
        text = self.redact(json.dumps(data, default=str))
        if len(text) > MAX_EVENT_CHARS:
            text = json.dumps({"truncated": True, "head": text[:MAX_EVENT_CHARS]})
        with self.database.transaction() as db:
            db.execute("INSERT INTO run_events (run_id, at, kind, data) VALUES (?, ?, ?, ?)",
                       [run_id, time.time(), kind, text])

    def for_run(self, run_id: str, kind: str | None = None) -> list[RunEvent]:
        """Every event of a run (optionally of one kind), oldest first."""
        sql, args = "SELECT id, run_id, at, kind, data FROM run_events WHERE run_id=?", [run_id]
        if kind:
            sql, args = sql + " AND kind=?", [*args, kind]
        with self.database.reading() as db:
            rows = db.execute(sql + " ORDER BY id", args).fetchall()
        return [RunEvent(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]
