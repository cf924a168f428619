"""The SQLite database: opening it, versioned schema migrations, one lock for all threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils

# Each migration runs once, in order; the applied version is stored in `schema_version`.
MIGRATIONS: list[tuple[int, str]] = [
    (1, """
    CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        team TEXT NOT NULL DEFAULT '',
        channel TEXT NOT NULL,
        thread_ts TEXT NOT NULL,
        trigger_ts TEXT NOT NULL,
        requester TEXT NOT NULL,
        skill TEXT NOT NULL,
        task TEXT NOT NULL,
        repo TEXT,
        state TEXT NOT NULL,
        plan_version INTEGER NOT NULL DEFAULT 0,
        approved_version INTEGER,
        approved_by TEXT,
        plan_ts TEXT,
        status_ts TEXT,
        result TEXT,
        context TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        UNIQUE (channel, trigger_ts)
    );
    CREATE INDEX runs_thread ON runs (channel, thread_ts);
    CREATE INDEX runs_state ON runs (state);
    CREATE TABLE plans (
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        version INTEGER NOT NULL,
        data TEXT NOT NULL,
        created_at REAL NOT NULL,
        PRIMARY KEY (run_id, version)
    );
    CREATE TABLE run_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL REFERENCES runs(run_id),
        at REAL NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX run_events_run ON run_events (run_id, id);
    CREATE TRIGGER run_events_append_only_u BEFORE UPDATE ON run_events
        BEGIN SELECT RAISE(ABORT, 'run_events is append-only'); END;
    CREATE TRIGGER run_events_append_only_d BEFORE DELETE ON run_events
        BEGIN SELECT RAISE(ABORT, 'run_events is append-only'); END;
    CREATE TABLE slack_deliveries (
        event_id TEXT PRIMARY KEY,
        received_at REAL NOT NULL
    );
    """),
    (2, """
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        channel TEXT NOT NULL,
        thread_ts TEXT,
        event_type TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at REAL NOT NULL,
        not_before REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        sent_ts TEXT,
        delivered_at REAL
    );
    CREATE INDEX outbox_pending ON outbox (delivered_at, id);
    CREATE INDEX outbox_run ON outbox (run_id, id);
    """),
    (3, """
    ALTER TABLE slack_deliveries ADD COLUMN payload TEXT;
    ALTER TABLE slack_deliveries ADD COLUMN handled_at REAL;
    """),
    (4, """
    CREATE TABLE ticket_triggers (
        ticket TEXT NOT NULL,
        trigger TEXT NOT NULL,
        source TEXT NOT NULL,
        run_id TEXT,
        created_at REAL NOT NULL,
        PRIMARY KEY (ticket, trigger)
    );
    CREATE INDEX ticket_triggers_run ON ticket_triggers (run_id);
    CREATE TABLE ticket_writes (
        run_id TEXT NOT NULL,
        purpose TEXT NOT NULL,
        ticket TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (run_id, purpose)
    );
    """),
]


class NoRedaction:
    """The redactor of a store opened without one (a script or a test): text passes unchanged."""

    def __call__(self, text):
        return text

    def data(self, value):
        return value


NO_REDACTION = NoRedaction()


class Database:
    """A sqlite-utils database shared by droid's threads behind one lock."""

    def __init__(self, path: str):
        conn = sqlite3.connect(path, check_same_thread=False, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across process crashes, one fsync per checkpoint
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=30000")
        self.path = path
        self.db = sqlite_utils.Database(conn)
        self._lock = threading.RLock()
        self._depth = 0          # transaction nesting, guarded by the lock (only its holder touches it)
        self._side: sqlite3.Connection | None = None
        self._side_lock = threading.Lock()
        self.migrate()

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock and run the block in one IMMEDIATE transaction.

        Nested use on the same thread joins the outer transaction (as a savepoint), so several
        stores' writes — a state transition and its outbox messages — commit or roll back together.
        """
        with self._lock:
            if self._depth:
                yield from self._savepoint()
                return
            self.db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            finally:
                self._depth -= 1
            self.db.execute("COMMIT")

    def _savepoint(self) -> Iterator[sqlite_utils.Database]:
        name = f"sp{self._depth}"
        self.db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield self.db
        except BaseException:
            self.db.execute(f"ROLLBACK TO {name}")
            self.db.execute(f"RELEASE {name}")
            raise
        finally:
            self._depth -= 1
        self.db.execute(f"RELEASE {name}")

    @contextmanager
    def side_transaction(self) -> Iterator[sqlite3.Connection]:
        """One short IMMEDIATE transaction on a second connection that never waits for the shared lock.

        For the write on Slack's ack path: planners and the deliverer hold the shared lock for reads
        too, and an ack must not queue behind them. SQLite itself still serialises writers (WAL,
        busy_timeout), which costs only the length of another write, not of another thread's work.
        It cannot join the caller's transaction: use it only for a write that stands alone.
        """
        with self._side_lock:
            if self._side is None:
                self._side = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
                self._side.execute("PRAGMA busy_timeout=30000")
                self._side.execute("PRAGMA synchronous=NORMAL")
            conn = self._side
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite_utils.Database]:
        """Hold the lock for a read."""
        with self._lock:
            yield self.db

    def schema_version(self) -> int:
        """The highest migration applied."""
        with self.reading() as db:
            if "schema_version" not in db.table_names():
                return 0
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            return row[0] or 0

    def migrate(self) -> None:
        """Apply every migration newer than the stored schema version."""
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at REAL)")
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in _statements(sql):
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version VALUES (?, strftime('%s','now'))", [version])

    def close(self) -> None:
        """Close the connections."""
        with self._lock, self._side_lock:
            self.db.conn.close()
            if self._side is not None:
                self._side.close()


def _statements(sql: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    out, buf = [], []
    for line in sql.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    if "\n".join(buf).strip():
        out.append("\n".join(buf).strip())
    return out
