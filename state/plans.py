"""Versioned plans: every plan a run had, each version kept."""

from __future__ import annotations

import json
import time

from state.db import NO_REDACTION, Database


class PlanStore:
    """Stores plan versions as JSON documents."""

    def __init__(self, database: Database, redact=None):
        self.database = database
        self.redact = redact or NO_REDACTION

    def add(self, run_id: str, plan: dict) -> int:
        """Store a new version of the run's plan and return its version number."""
        with self.database.transaction() as db:
            row = db.execute("SELECT COALESCE(MAX(version), 0) FROM plans WHERE run_id=?", [run_id]).fetchone()
            version = row[0] + 1
            plan = {**self.redact.data(plan), "version": version}
            db.execute("INSERT INTO plans (run_id, version, data, created_at) VALUES (?, ?, ?, ?)",
                       [run_id, version, json.dumps(plan), time.time()])
            db.execute("UPDATE runs SET plan_version=?, updated_at=? WHERE run_id=?",
                       [version, time.time(), run_id])
        return version

    def get(self, run_id: str, version: int) -> dict | None:
        """One version of a run's plan."""
        with self.database.reading() as db:
            row = db.execute("SELECT data FROM plans WHERE run_id=? AND version=?", [run_id, version]).fetchone()
        return json.loads(row[0]) if row else None
