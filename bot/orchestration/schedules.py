"""Scheduled jobs: remind about and expire plans nobody decided on; poll Jira (APScheduler, droid's own thread).

A plan waiting a quarter of the expiry time gets one reminder per version; at the expiry time it expires.
The Jira JQL poll (bot/tickets/jira_poll.py) runs every DROID_JIRA_POLL_SECONDS when Jira is configured.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from bot.slack import blocks, mrkdwn, policy
from bot.tickets.jira_poll import poll_enabled, poll_safely

log = logging.getLogger("droid.schedules")
JIRA_POLL = "jira_poll"


def expire_stale_plans(deps, max_age_seconds: float, now: float | None = None) -> list[str]:
    """Plans awaiting approval for longer than `max_age_seconds` expire; their thread is told."""
    now = now or time.time()
    expired = []
    for run in deps.store.runs.in_states("awaiting_approval"):
        if now - run.updated_at < max_age_seconds:
            continue
        hours = max_age_seconds / 3600
        with deps.store.database.transaction():   # the expiry and the notice that tells the thread: together
            if not deps.store.runs.transition(run.run_id, "awaiting_approval", "expired"):
                continue
            deps.store.events.append(run.run_id, "expired", after_seconds=round(now - run.updated_at))
            deps.runner.close_plan(run, f"⌛ Expired after {hours:g} h without a decision.")
            deps.runner.deliverer.post(run, blocks.notice(
                f"⌛ Plan v{run.plan_version} of run {run.run_id} expired after {hours:g} h without a decision. "
                "Mention @droid again to start over."), "droid_result")
        expired.append(run.run_id)
    return expired


def remind_pending_plans(deps, after_seconds: float, now: float | None = None) -> list[str]:
    """Once per plan version, nudge the requester about a plan waiting longer than `after_seconds`."""
    now = now or time.time()
    reminded = []
    for run in deps.store.runs.in_states("awaiting_approval"):
        if now - run.updated_at < after_seconds:
            continue
        if any(e.data.get("version") == run.plan_version for e in deps.store.events.for_run(run.run_id, "reminded")):
            continue
        deps.store.events.append(run.run_id, "reminded", version=run.plan_version)
        who = mrkdwn.mention(run.requester) if run.requester else \
            (policy.deciders(deps.settings.routing, run) or "approvers")     # a ticket's run with nobody in Slack
        try:
            deps.poster.post(run.channel, run.thread_ts, blocks.notice(
                f"⏰ {who}, plan v{run.plan_version} of run {run.run_id} is waiting for a decision "
                "(Approve, Revise or Cancel above)."))
        except Exception as exc:  # noqa: BLE001 — a nudge is best effort
            log.warning("run %s: reminder not posted: %s", run.run_id, exc)
        reminded.append(run.run_id)
    return reminded


def start_scheduler(deps, expire_after_hours: float = 24.0) -> BackgroundScheduler:
    """Start the background jobs; call .shutdown() on the result to stop them."""
    scheduler = BackgroundScheduler(daemon=True)
    scheduler.add_job(expire_stale_plans, "interval", minutes=10, args=[deps, expire_after_hours * 3600],
                      id="expire_stale_plans", max_instances=1, coalesce=True)
    scheduler.add_job(remind_pending_plans, "interval", minutes=10, args=[deps, expire_after_hours * 3600 / 4],
                      id="remind_pending_plans", max_instances=1, coalesce=True)
    scheduler.add_job(deps.store.deliveries.forget_older_than, "interval", hours=1, args=[24 * 3600],
                      id="forget_deliveries", max_instances=1, coalesce=True)
    if poll_enabled(deps.settings):
        scheduler.add_job(poll_safely, "interval", seconds=deps.settings.jira_poll_seconds, args=[deps],
                          id=JIRA_POLL, max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
    scheduler.start()
    return scheduler


def poll_now(scheduler: BackgroundScheduler) -> bool:
    """Run the Jira poll job at once (e.g. after labelling a ticket); False when the job is not scheduled."""
    job = scheduler.get_job(JIRA_POLL)
    if job is None:
        return False
    job.modify(next_run_time=datetime.now(UTC))
    scheduler.wakeup()
    return True
