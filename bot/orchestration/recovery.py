"""On start-up: runs a previous process left half-done are resumed or failed, and the outbox is drained.

Everything a thread must be told (results, final status edits, reactions, reports, plans) sits in
the outbox from the moment its state change committed; the deliverer sends what a crash left
there, checking the thread first for messages that were sent but not marked.
"""

from __future__ import annotations

import logging

from bot.slack import blocks
from bot.slack.listeners.mention import replay_unhandled

log = logging.getLogger("droid.recovery")


def recover(deps) -> list[str]:
    """Resume runs left `received`/`planning` (planning is repeatable); handle mentions acknowledged but never
    handled; fail runs left `executing`; drain the outbox."""
    touched = []
    for run in deps.store.runs.in_states("received", "planning"):
        with deps.store.database.transaction():
            deps.store.events.append(run.run_id, "recovered", action="re-planning")
            if run.thread_ts:     # a ticket's run has no thread before its plan: nobody to tell
                deps.runner.deliverer.post(run, blocks.notice(
                    f"🔄 droid restarted while planning run {run.run_id}; planning it again."), "droid_notice")
        deps.runner.submit(deps.runner.plan, run.run_id)
        touched.append(run.run_id)
    for run in deps.store.runs.in_states("executing"):
        if deps.runner.remote is not None and run.context.get("attempt"):
            continue   # on a worker: its messages wait in Redis, and a lost attempt is restarted
        deps.store.events.append(run.run_id, "recovered", action="failed")
        deps.runner.fail(run.run_id, f"droid restarted while run {run.run_id} was executing, so it was stopped "
                                     "part-way. Its history is kept; mention @droid again to start over.")
        touched.append(run.run_id)
    replay_unhandled(deps)     # after the re-planning above, so a replayed run is planned once
    deps.runner.tickets.resume()   # ticket writes a crash left claimed: each checked on the ticket, then made once
    touched += queue_undelivered(deps)
    pending = deps.store.outbox.pending()
    if pending:
        log.info("delivering %d queued message(s) left by the previous process", len(pending))
    deps.runner.deliverer.start()
    return touched


def queue_undelivered(deps) -> list[str]:
    """Results an older droid (before the outbox) failed to deliver: queued once, as they were kept in the run."""
    queued = []
    for run in deps.store.runs.in_states("succeeded", "failed"):
        events = deps.store.events.for_run(run.run_id)
        if not events or events[-1].kind != "delivery_failed" or not run.result:
            continue
        with deps.store.database.transaction():
            deps.store.events.append(run.run_id, "redelivery_queued")
            deps.runner.deliverer.post(run, blocks.result_message(
                "Result (delivered late: Slack refused it earlier)", run.result, filename=f"droid-{run.run_id}.md"),
                "droid_result")
        queued.append(run.run_id)
    return queued
