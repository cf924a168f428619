"""The state façade: one object holding the run, plan, event, delivery, outbox and ticket-trigger stores."""

from __future__ import annotations

from dataclasses import dataclass

from state.db import Database
from state.deliveries import DeliveryLog
from state.events import EventLog
from state.outbox import OutboxStore
from state.plans import PlanStore
from state.runs import RunStore
from state.ticket_writes import TicketWrites
from state.tickets import TicketTriggers


@dataclass
class Store:
    """Everything droid keeps, in one SQLite file."""

    database: Database
    runs: RunStore
    plans: PlanStore
    events: EventLog
    deliveries: DeliveryLog
    outbox: OutboxStore
    ticket_writes: TicketWrites
    tickets: TicketTriggers

    @classmethod
    def open(cls, path: str, redact=None) -> Store:
        """Open (and migrate) the database at `path`."""
        database = Database(path)
        return cls(database, RunStore(database, redact), PlanStore(database, redact), EventLog(database, redact),
                   DeliveryLog(database, redact), OutboxStore(database, redact),
                   TicketWrites(database, redact), TicketTriggers(database))
