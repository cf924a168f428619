"""Runs: one delegated task each, with a compare-and-set state machine."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

from state.db import NO_REDACTION, Database

ACTIVE = ("received", "planning", "awaiting_approval", "executing")
TERMINAL = ("succeeded", "failed", "cancelled", "rejected", "expired")

# from-state -> states it may move to
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "received": ("planning", "failed", "cancelled"),
    "planning": ("awaiting_approval", "executing", "failed", "cancelled"),
    "awaiting_approval": ("executing", "planning", "cancelled", "rejected", "expired", "failed"),
    "executing": ("succeeded", "failed", "cancelled", "awaiting_approval", "planning"),
}


class IllegalTransition(ValueError):
    """A transition the state machine does not allow."""


@dataclass
class Run:
    """One delegated task, keyed by (team, channel, thread_ts)."""

    run_id: str
    team: str
    channel: str
    thread_ts: str
    trigger_ts: str
    requester: str
    skill: str
    task: str
    state: str
    repo: str | None = None
    plan_version: int = 0
    approved_version: int | None = None
    approved_by: str | None = None
    plan_ts: str | None = None
    status_ts: str | None = None
    result: str | None = None
    context: dict = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0

    @property
    def active(self) -> bool:
        """True while the run is not finished."""
        return self.state in ACTIVE

    @classmethod
    def from_row(cls, row: dict) -> Run:
        """Build from a database row."""
        row = dict(row)
        row["context"] = json.loads(row.get("context") or "{}")
        return cls(**row)


class RunStore:
    """Creates runs, reads them, and moves them between states."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION

    def create(self, *, channel: str, trigger_ts: str, thread_ts: str, requester: str, skill: str,
               task: str, team: str = "", repo: str | None = None, context: dict | None = None
               ) -> tuple[Run, bool]:
        """Create the run for a triggering message, or return the existing one: (run, created)."""
        now = time.time()
        task, context = self.redact(task), self.redact.data(context or {})  # stored redacted, at rest too
        with self.database.transaction() as db:
            existing = _one(db.execute("SELECT * FROM runs WHERE channel=? AND trigger_ts=?", [channel, trigger_ts]))
            if existing:
                return existing, False
            run = Run(run_id=secrets.token_hex(4), team=team, channel=channel, thread_ts=thread_ts,
                      trigger_ts=trigger_ts, requester=requester, skill=skill, task=task, state="received",
                      repo=repo, context=context or {}, created_at=now, updated_at=now)
            db.execute("INSERT INTO runs (run_id, team, channel, thread_ts, trigger_ts, requester, skill, task, repo, "
                       "state, context, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       [run.run_id, team, channel, thread_ts, trigger_ts, requester, skill, task, repo, "received",
                        json.dumps(run.context), now, now])
            return run, True

    def get(self, run_id: str) -> Run | None:
        """The run with this id, or None."""
        with self.database.reading() as db:
            return _one(db.execute("SELECT * FROM runs WHERE run_id=?", [run_id]))

    def active_in_thread(self, channel: str, thread_ts: str) -> Run | None:
        """The newest unfinished run in a thread, if any."""
        marks = ",".join("?" * len(ACTIVE))
        with self.database.reading() as db:
            return _one(db.execute(
                f"SELECT * FROM runs WHERE channel=? AND thread_ts=? AND state IN ({marks}) "
                "ORDER BY created_at DESC LIMIT 1", [channel, thread_ts, *ACTIVE]))

    def latest_in_thread(self, channel: str, thread_ts: str) -> Run | None:
        """The newest run in a thread, finished or not."""
        with self.database.reading() as db:
            return _one(db.execute("SELECT * FROM runs WHERE channel=? AND thread_ts=? "
                                   "ORDER BY created_at DESC LIMIT 1", [channel, thread_ts]))

    def recent_with(self, key: str, value: str, since: float) -> Run | None:
        """The newest run created after `since` whose context has `key` == `value` (e.g. a Sentry issue)."""
        with self.database.reading() as db:
            return _one(db.execute("SELECT * FROM runs WHERE json_extract(context, ?) = ? AND created_at >= ? "
                                   "ORDER BY created_at DESC LIMIT 1", [f"$.{key}", value, since]))

    def in_states(self, *states: str) -> list[Run]:
        """Every run currently in one of these states."""
        marks = ",".join("?" * len(states))
        with self.database.reading() as db:
            return _all(db.execute(f"SELECT * FROM runs WHERE state IN ({marks}) ORDER BY created_at", list(states)))

    def transition(self, run_id: str, from_state: str, to_state: str, **changes) -> bool:
        """Compare-and-set: move from `from_state` to `to_state`; False if the run was not there."""
        if to_state not in TRANSITIONS.get(from_state, ()):
            raise IllegalTransition(f"{from_state} → {to_state} is not a legal transition")
        sets = {"state": to_state, "updated_at": time.time(), **_encode(self.redact.data(changes))}
        assignments = ", ".join(f"{k}=?" for k in sets)
        with self.database.transaction() as db:
            cursor = db.execute(f"UPDATE runs SET {assignments} WHERE run_id=? AND state=?",
                                [*sets.values(), run_id, from_state])
            return cursor.rowcount == 1

    def claim(self, run_id: str, key: str, value) -> bool:
        """Compare-and-set on one context key: write `value` only if `key` is unset; True if this call won."""
        with self.database.transaction() as db:
            cursor = db.execute("UPDATE runs SET context=json_set(context, ?, json(?)), updated_at=? "
                                "WHERE run_id=? AND json_type(context, ?) IS NULL",
                                [f"$.{key}", json.dumps(value), time.time(), run_id, f"$.{key}"])
            return cursor.rowcount == 1

    def claim_attempt(self, run_id: str, expected: int, attempt: int, of: str, state: str) -> bool:
        """Compare-and-set on the run's worker attempt: `expected` → `attempt` (at `of`, e.g. "execute:2"),
        only while the run is in `state`; True if this call won."""
        with self.database.transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET context=json_set(context, '$.attempt', ?, '$.attempt_of', ?), updated_at=? "
                "WHERE run_id=? AND state=? AND COALESCE(json_extract(context, '$.attempt'), 0)=?",
                [attempt, of, time.time(), run_id, state, expected])
            return cursor.rowcount == 1

    def set_context_key(self, run_id: str, key: str, value) -> None:
        """Set (or, with None, remove) one context key in place, leaving the others as they are."""
        with self.database.transaction() as db:
            if value is None:
                db.execute("UPDATE runs SET context=json_remove(context, ?), updated_at=? WHERE run_id=?",
                           [f"$.{key}", time.time(), run_id])
            else:
                db.execute("UPDATE runs SET context=json_set(context, ?, json(?)), updated_at=? WHERE run_id=?",
                           [f"$.{key}", json.dumps(value), time.time(), run_id])

    def open_thread(self, run_id: str, thread_ts: str) -> bool:
        """Compare-and-set: give a run created without a thread (a ticket's) the thread its first post opened."""
        with self.database.transaction() as db:
            cursor = db.execute("UPDATE runs SET thread_ts=?, updated_at=? WHERE run_id=? AND thread_ts=''",
                                [thread_ts, time.time(), run_id])
            return cursor.rowcount == 1

    def update(self, run_id: str, **changes) -> None:
        """Set fields that are not the state (message timestamps, context, result)."""
        if "state" in changes:
            raise IllegalTransition("use transition() to change state")
        sets = {"updated_at": time.time(), **_encode(self.redact.data(changes))}
        assignments = ", ".join(f"{k}=?" for k in sets)
        with self.database.transaction() as db:
            db.execute(f"UPDATE runs SET {assignments} WHERE run_id=?", [*sets.values(), run_id])



def _all(cursor) -> list[Run]:
    names = [d[0] for d in cursor.description]
    return [Run.from_row(dict(zip(names, row, strict=True))) for row in cursor.fetchall()]


def _one(cursor) -> Run | None:
    runs = _all(cursor)
    return runs[0] if runs else None


def _encode(changes: dict) -> dict:
    return {k: json.dumps(v) if k == "context" else v for k, v in changes.items()}
