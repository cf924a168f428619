"""The ticket follows the work: what droid writes to a run's Jira ticket or GitHub issue, and when.

The runner calls one hook per moment (a line each); every hook returns at once and queues its writes
on droid's own executor, in order per run (the thread link before the approval, before the PR):
- `plan_posted`: a comment linking the Slack thread (once the plan message is in Slack: its ts is
  waited for, with a deadline);
- `approved`: the optional `jira_transition_on_approve`, and a comment with the plan's goal and steps;
- `concluded` / `failed`: the pull request (a Jira comment, a remote link, the optional
  `jira_transition_on_review`; a GitHub issue comment), or a short comment saying the run failed and
  where its thread is.
Each write goes through `write_once` (bot/tickets/writeback_once.py): idempotent across retries and
restarts, and never an exception into the run. Nothing here posts in Slack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

from bot.tickets import writeback_text as text
from bot.tickets.writeback_once import Trackers, write_once

log = logging.getLogger("droid.tickets")

PLAN_TS_WAIT = 60.0      # seconds to wait for the plan message to reach Slack before linking the thread anyway
POLL = 0.1


class TicketWriteback:
    """Queues and makes a runner's ticket writes."""

    def __init__(self, runner):
        self.runner = runner
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {}
        self._draining: set[str] = set()

    # -- hooks (called by the runner; return at once) ----------------------------------------
    def plan_posted(self, run_id: str) -> None:
        """The run's plan was queued for Slack: link the thread on the ticket (once per run)."""
        self._queue(run_id, self._thread_link)

    def approved(self, run_id: str) -> None:
        """Execution of an approved plan starts: the optional transition, then the plan's summary."""
        self._queue(run_id, self._approved)

    def concluded(self, run_id: str, ok: bool) -> None:
        """The run ended: the pull request on the ticket, or what went wrong."""
        self._queue(run_id, self._shipped if ok else self._failed)

    def failed(self, run_id: str) -> None:
        """The run failed (planning, a crash, a restart): say so on the ticket."""
        self._queue(run_id, self._failed)

    def resume(self) -> int:
        """Queue again the writes a previous process claimed and never settled; how many."""
        rows = self.runner.store.ticket_writes.unsettled()
        for row in rows:
            self._queue(row.run_id, lambda run, row=row: self._write(run, row.purpose, row.ticket, row.spec))
        return len(rows)

    # -- the per-run queue ------------------------------------------------------------------
    def _queue(self, run_id: str, step) -> None:
        run = self.runner.store.runs.get(run_id)
        if run is None or _ticket(run, self.runner.settings) is None:
            return
        with self._lock:
            self._queues.setdefault(run_id, deque()).append(step)
        try:
            self.runner.submit(self._drain, run_id)
        except RuntimeError:        # shutting down: the ledger still has what was claimed
            log.info("run %s: ticket writes not queued (shutting down)", run_id)

    def _drain(self, run_id: str) -> None:
        with self._lock:
            if run_id in self._draining:
                return             # the thread draining this run's queue takes it
            self._draining.add(run_id)
        while True:
            with self._lock:
                queue = self._queues.get(run_id)
                if not queue:
                    self._queues.pop(run_id, None)
                    self._draining.discard(run_id)
                    return
                step = queue.popleft()
            try:
                step(self.runner.store.runs.get(run_id))
            except Exception:  # noqa: BLE001 — a ticket write never fails the run
                log.exception("run %s: ticket write-back failed", run_id)

    # -- the writes -------------------------------------------------------------------------
    def _thread_link(self, run) -> None:
        done = self.runner.store.ticket_writes.get(run.run_id, "thread")
        if done is not None and done.settled:
            return                 # a revised plan: the thread was linked already
        link = self._permalink(run, self._plan_ts(run.run_id, PLAN_TS_WAIT))
        if not link:
            self.runner.store.events.append(run.run_id, "ticket_skipped", purpose="thread",
                                            reason="no link to the Slack thread")
            return
        self._comment(run, "thread", text.thread_comment(run, link))

    def _approved(self, run) -> None:
        if not run.approved_by or run.approved_by == "auto":
            return
        name = self.runner.settings.jira_transition_on_approve
        if name and self._uses_jira(run):
            self._write(run, "transition_approve", text.jira_key(run),
                        {"op": "jira_transition", "args": {"key": text.jira_key(run), "name": name}})
        plan = self.runner._plan(run)
        self._comment(run, "approved", text.approval_comment(run, plan))

    def _shipped(self, run) -> None:
        events = self.runner.store.events.for_run(run.run_id)
        pr = next((e.data for e in reversed(events) if e.kind == "pull_request"), None)
        pushed = next((e.data for e in reversed(events) if e.kind == "pushed"), None)
        if pr is None and pushed is None:
            return                 # an answer, a report: nothing was shipped
        tests = next((e.data for e in reversed(events) if e.kind == "tests"), None)
        url = (pr or {}).get("url")
        self._comment(run, "pull_request", text.pull_request_comment(url, (pushed or {}).get("branch"),
                                                                     _describe(tests)))
        key = text.jira_key(run)
        if key and url and self._uses_jira(run):
            title = text.one_line(f"Pull request #{pr.get('number')}: {pr.get('title') or text.ticket_title(run)}", 250)
            self._write(run, "remote_link", key, {"op": "jira_link", "args": {"key": key, "url": url, "title": title}})
        name = self.runner.settings.jira_transition_on_review
        if key and url and name and self._uses_jira(run):
            self._write(run, "transition_review", key, {"op": "jira_transition", "args": {"key": key, "name": name}})

    def _failed(self, run) -> None:
        if run.state != "failed":
            return
        plan = self.runner.store.outbox.latest(run.run_id, "droid_plan")
        refused = plan is not None and plan.delivered_at and not plan.sent_ts    # Slack refused it: no thread will come
        ts = (self._plan_ts(run.run_id, 0) or run.plan_ts or run.thread_ts
              or (None if refused else self._thread_ts(run.run_id, PLAN_TS_WAIT)))
        reason = self.runner.redact(run.result or "the run stopped")
        self._comment(run, "failed", text.failure_comment(run, reason, self._permalink(run, ts)))

    # -- helpers ----------------------------------------------------------------------------
    def _comment(self, run, purpose: str, body: str) -> None:
        ticket = _ticket(run, self.runner.settings)
        body = text.with_marker(body, run.run_id, purpose)
        if ticket[0] == "jira":
            spec = {"op": "jira_comment", "args": {"key": ticket[1], "body": body}}
        else:
            spec = {"op": "github_comment", "args": {"repo": ticket[1], "number": ticket[2], "body": body}}
        self._write(run, purpose, _label(ticket), spec)

    def _write(self, run, purpose: str, ticket: str, spec: dict) -> None:
        trackers = Trackers(self.runner.settings, self.runner.redact)
        try:
            write_once(self.runner.store, trackers, run.run_id, purpose, ticket, spec)
        finally:
            trackers.close()

    def _uses_jira(self, run) -> bool:
        return (_ticket(run, self.runner.settings) or ("",))[0] == "jira"

    def _plan_ts(self, run_id: str, wait: float) -> str | None:
        """The ts of the run's latest plan message once Slack has it (waiting up to `wait` seconds), else None."""
        deadline = time.monotonic() + wait
        while True:
            item = self.runner.store.outbox.latest(run_id, "droid_plan")
            if item is not None and (item.sent_ts or item.delivered_at):
                return item.sent_ts
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL)

    def _thread_ts(self, run_id: str, wait: float) -> str | None:
        """A ticket run's thread once its first post (e.g. a planning failure) opened it, waiting up to `wait` s."""
        deadline = time.monotonic() + wait
        while not (run := self.runner.store.runs.get(run_id)) or not run.thread_ts:
            if time.monotonic() >= deadline:
                return None
            time.sleep(POLL)
        return run.thread_ts

    def _permalink(self, run, ts: str | None) -> str | None:
        if not ts:
            return None
        try:
            return self.runner.poster.client.chat_getPermalink(channel=run.channel, message_ts=ts)["permalink"]
        except Exception as exc:  # noqa: BLE001 — without a link the comment says where else to look
            log.warning("run %s: no permalink: %s", run.run_id, exc)
            return None


def _ticket(run, settings) -> tuple | None:
    """("jira", key) or ("github", owner/name, number): the ticket droid writes to, when its tracker is configured."""
    if (key := text.jira_key(run)) and settings.jira_url:
        return ("jira", key)
    if (issue := text.github_issue(run)) and settings.github_token:
        return ("github", *issue)
    return None


def _label(ticket: tuple) -> str:
    return ticket[1] if ticket[0] == "jira" else f"{ticket[1]}#{ticket[2]}"


def _describe(tests: dict | None) -> str | None:
    if not tests:
        return None
    from bot.execution.finish import TestRun
    return TestRun(tests.get("command"), tests.get("exit_code"), tests.get("summary")).describe()
