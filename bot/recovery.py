"""On start-up: runs a previous process left half-done are resumed or failed, and their thread is told."""

from __future__ import annotations

import logging

from bot import blocks

log = logging.getLogger("droid.recovery")


def recover(deps) -> list[str]:
    """Resume runs left `received`/`planning` (planning is repeatable); fail runs left `executing`."""
    touched = []
    for run in deps.store.runs.in_states("received", "planning"):
        deps.store.events.append(run.run_id, "recovered", action="re-planning")
        _tell(deps, run, f"🔄 droid restarted while planning run {run.run_id}; planning it again.")
        deps.runner.submit(deps.runner.plan, run.run_id)
        touched.append(run.run_id)
    for run in deps.store.runs.in_states("executing"):
        deps.store.events.append(run.run_id, "recovered", action="failed")
        deps.runner.fail(run.run_id, f"droid restarted while run {run.run_id} was executing, so it was stopped "
                                     "part-way. Its history is kept; mention @droid again to start over.")
        touched.append(run.run_id)
    touched += redeliver(deps)
    return touched


def redeliver(deps) -> list[str]:
    """Post results that Slack refused last time (the result is kept in the run), once each."""
    done = []
    for run in deps.store.runs.in_states("succeeded", "failed"):
        events = deps.store.events.for_run(run.run_id)
        if not events or events[-1].kind != "delivery_failed" or not run.result:
            continue
        title = "Result (delivered late: Slack refused it earlier)"
        try:
            deps.poster.post(run.channel, run.thread_ts, blocks.result_message(title, run.result,
                                                                              filename=f"droid-{run.run_id}.md"))
        except Exception as exc:  # still down: leave it for the next start
            log.warning("run %s: result still not delivered: %s", run.run_id, exc)
            continue
        deps.store.events.append(run.run_id, "delivered", late=True)
        done.append(run.run_id)
    return done


def _tell(deps, run, text: str) -> None:
    try:
        deps.poster.post(run.channel, run.thread_ts, blocks.notice(text))
    except Exception as exc:
        log.warning("could not tell thread of run %s: %s", run.run_id, exc)
