"""The ticket write ledger: each write droid makes to a Jira or GitHub ticket, claimed before and settled after.

One row per (run_id, purpose). `claim` commits before the write leaves, so a crash between the write and
`done` leaves a `claimed` row: the next attempt knows the write may have landed and checks the ticket first
(bot/tickets/writeback_once.py). The row keeps the write itself (`spec`), so a later process can finish it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from state.db import NO_REDACTION, Database

STATES = ("claimed", "done", "failed", "skipped")
RETRY_FOR = 7 * 24 * 3600      # a write still unsettled after a week is left alone (a ticket update that late is noise)


@dataclass
class TicketWrite:
    """One ledger row: what was (or is to be) written, and what came of it."""

    run_id: str
    purpose: str
    ticket: str
    state: str                                   # claimed | done | failed | skipped
    spec: dict = field(default_factory=dict)     # the write: {"op": ..., "args": {...}}
    outcome: dict = field(default_factory=dict)  # what the tracker answered, or why it was skipped / failed
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def settled(self) -> bool:
        """True when nothing is left to do for this write."""
        return self.state in ("done", "skipped")


class TicketWrites:
    """Claims, settles and lists ticket writes."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION   # what is written to trackers is at rest here too: stored redacted

    def claim(self, run_id: str, purpose: str, ticket: str, spec: dict) -> tuple[TicketWrite, bool]:
        """Claim a write before making it; (row, True) the first time, (the existing row, False) after."""
        now = time.time()
        body = json.dumps({"spec": self.redact.data(spec)})
        with self.database.transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO ticket_writes (run_id, purpose, ticket, state, result, "
                                "created_at, updated_at) VALUES (?,?,?,?,?,?,?)",
                                [run_id, purpose, ticket, "claimed", body, now, now])
            fresh = cursor.rowcount == 1
            row = self.get(run_id, purpose)
        return row, fresh

    def settle(self, run_id: str, purpose: str, state: str, outcome: dict | None = None,
               spec: dict | None = None) -> None:
        """Record how a write ended (`done`, `skipped`, `failed`), or note more of its spec while `claimed`."""
        if state not in STATES:
            raise ValueError(f"unknown ticket write state {state!r}")
        with self.database.transaction() as db:
            current = self.get(run_id, purpose)
            if current is None:
                return
            body = {"spec": self.redact.data(spec) if spec is not None else current.spec,
                    "outcome": self.redact.data(outcome or {})}
            db.execute("UPDATE ticket_writes SET state = ?, result = ?, updated_at = ? WHERE run_id = ? AND purpose = ?",
                       [state, json.dumps(body), time.time(), run_id, purpose])

    def get(self, run_id: str, purpose: str) -> TicketWrite | None:
        """One row, or None."""
        rows = self._select("WHERE run_id = ? AND purpose = ?", [run_id, purpose])
        return rows[0] if rows else None

    def for_run(self, run_id: str) -> list[TicketWrite]:
        """Every write of a run, oldest first."""
        return self._select("WHERE run_id = ? ORDER BY created_at, rowid", [run_id])

    def unsettled(self, max_age: float = RETRY_FOR) -> list[TicketWrite]:
        """Writes claimed or failed and never settled (a crash, a tracker that was down) in the last `max_age`
        seconds, oldest first."""
        return self._select("WHERE state IN ('claimed', 'failed') AND created_at >= ? ORDER BY created_at, rowid",
                            [time.time() - max_age])

    def _select(self, where: str, args: list) -> list[TicketWrite]:
        with self.database.reading() as db:
            rows = db.execute("SELECT run_id, purpose, ticket, state, result, created_at, updated_at "
                              f"FROM ticket_writes {where}", args).fetchall()
        out = []
        for run_id, purpose, ticket, state, result, created, updated in rows:
            data = json.loads(result or "{}")
            out.append(TicketWrite(run_id, purpose, ticket, state, data.get("spec") or {}, data.get("outcome") or {},
                                   created, updated))
        return out
