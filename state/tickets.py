"""Ticket triggers: which (ticket, trigger event) pairs droid has seen, and the run each one started.

The intake (bot/tickets/intake.py) checks and records a trigger in the same transaction that creates its
run, so one trigger event makes at most one run however many times (and by however many paths, poll and
webhook) it is seen. A trigger seen while the ticket already has an active run is recorded with no run:
it is consumed, and does not start a second run when the first one ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from state.db import Database
from state.runs import ACTIVE


@dataclass
class TicketTrigger:
    """One trigger event of a ticket (`PAY-142` or `acme/pay#123`) and the run it started, if any."""

    ticket: str
    trigger: str
    source: str
    run_id: str | None
    created_at: float


class TicketTriggers:
    """Reads and records rows of `ticket_triggers`."""

    def __init__(self, database: Database):
        self.database = database

    def seen(self, ticket: str, trigger: str) -> bool:
        """True when this trigger event of this ticket was recorded before."""
        with self.database.reading() as db:
            row = db.execute("SELECT 1 FROM ticket_triggers WHERE ticket=? AND trigger=?", [ticket, trigger]).fetchone()
        return row is not None

    def active_run(self, ticket: str) -> str | None:
        """The id of an unfinished run on this ticket: one a trigger of it started, or one whose context names it
        (`jira_key`, or `github_issue` for `owner/name#N`: e.g. `@droid fix PAY-142`), if there is one."""
        marks = ",".join("?" * len(ACTIVE))
        repo, _, number = ticket.rpartition("#")
        if repo and number.isdigit():
            names = ("json_extract(r.context, '$.github_issue.repo') = ? AND "
                     "json_extract(r.context, '$.github_issue.number') = ?", [repo, int(number)])
        else:
            names = ("json_extract(r.context, '$.jira_key') = ?", [ticket])
        with self.database.reading() as db:
            row = db.execute(f"SELECT t.run_id FROM ticket_triggers t JOIN runs r ON r.run_id = t.run_id "
                             f"WHERE t.ticket=? AND r.state IN ({marks}) ORDER BY t.created_at DESC LIMIT 1",
                             [ticket, *ACTIVE]).fetchone()
            row = row or db.execute(f"SELECT r.run_id FROM runs r WHERE r.state IN ({marks}) AND {names[0]} "
                                    "ORDER BY r.created_at DESC LIMIT 1", [*ACTIVE, *names[1]]).fetchone()
        return row[0] if row else None

    def record(self, ticket: str, trigger: str, source: str, run_id: str | None) -> bool:
        """Record a trigger event (with the run it started); False when it was already recorded."""
        with self.database.transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO ticket_triggers (ticket, trigger, source, run_id, created_at) "
                                "VALUES (?,?,?,?,?)", [ticket, trigger, source, run_id, time.time()])
            return cursor.rowcount == 1

    def for_ticket(self, ticket: str) -> list[TicketTrigger]:
        """Every recorded trigger of a ticket, oldest first."""
        with self.database.reading() as db:
            rows = db.execute("SELECT ticket, trigger, source, run_id, created_at FROM ticket_triggers "
                              "WHERE ticket=? ORDER BY created_at, rowid", [ticket]).fetchall()
        return [TicketTrigger(*row) for row in rows]
