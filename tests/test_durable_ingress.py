"""Nothing acknowledged is lost: mentions survive a crash right after the ack; plans close on the clicked message."""

from __future__ import annotations

import threading

import pytest

from bot.orchestration.recovery import recover
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo


class _DiesAfterAck:
    """Bolt's listener executor of a process killed right after it acknowledged: listeners never run."""

    def submit(self, fn, *args, **kwargs):
        return None


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "service", SERVICE_FILES)


def test_a_mention_acknowledged_before_a_crash_is_planned_after_the_restart(tmp_path, repo):
    first = Droid(tmp_path, repo=repo)
    first.app._listener_runner.listener_executor = _DiesAfterAck()
    response, ts = first.mention("where is send_with_retries defined?", event_id="Ev0DURABLE1")
    assert response.status == 200                      # Slack will never send this event again
    assert first.store.runs.latest_in_thread("CDEV", ts) is None
    first.deps.runner.shutdown(wait=True)
    first.store.database.close()

    again = Droid(tmp_path, repo=repo, standin=first.slack)
    try:
        recover(again.deps)
        run = wait_for(lambda: again.store.runs.latest_in_thread("CDEV", ts), what="the replayed mention's run")
        run = wait_for(lambda: (r := again.store.runs.get(run.run_id)) and r.plan_ts and r, what="its plan posted")
        assert run.state == "awaiting_approval" and run.task == "where is send_with_retries defined?"
        plans = [m for m in again.slack.thread("CDEV", ts) if m.get("text", "").startswith("Plan v")]
        assert len(plans) == 1
        recover(again.deps)                            # a second restart replays nothing
        assert again.store.deliveries.unhandled() == []
        assert len(again.store.runs.in_states("received", "planning", "awaiting_approval")) == 1
        again.dispatch(_retry_of(again, ts))           # a late retry of the same delivery: acknowledged, ignored
        assert len([m for m in again.slack.thread("CDEV", ts) if m.get("text", "").startswith("Plan v")]) == 1
    finally:
        again.close()


def _retry_of(droid: Droid, ts: str) -> dict:
    from bot.slack import payloads
    event = payloads.app_mention(user="UALICE", text="<@UDROIDBOT> where is send_with_retries defined?",
                                 channel="CDEV", ts=ts)
    return payloads.event_callback(event, team="T0DROID", event_id="Ev0DURABLE1")


def _hold_the_plan_answer(droid: Droid):
    """Slack takes the plan post but answers only once released: droid has not recorded the plan's ts meanwhile."""
    held, release = threading.Event(), threading.Event()

    def hold(call, body) -> None:
        if call.method == "chat.postMessage" and str(call.args.get("text", "")).startswith("Plan v") \
                and not held.is_set():
            held.set()
            release.wait(10)

    droid.slack.listeners.append(hold)
    return held, release


def _plan_message(droid: Droid, ts: str) -> dict:
    return next(m for m in droid.slack.thread("CDEV", ts) if m.get("text", "").startswith("Plan v"))


@pytest.mark.parametrize("decision", ["droid_approve", "droid_cancel"])
def test_a_decision_before_the_plan_ts_is_recorded_closes_the_clicked_plan(tmp_path, repo, decision):
    droid = Droid(tmp_path, repo=repo)
    held, release = _hold_the_plan_answer(droid)
    try:
        _, ts = droid.mention("where is send_with_retries defined?")
        assert held.wait(10), "the plan was never posted"
        run = droid.run_for("CDEV", ts)
        plan = _plan_message(droid, ts)
        assert droid.store.runs.get(run.run_id).plan_ts is None          # the gap
        droid.click(decision, droid.buttons(plan)[decision], message_ts=plan["ts"])
        release.set()
        droid.wait_state(run.run_id, "succeeded" if decision == "droid_approve" else "cancelled")
        closed = wait_for(lambda: (m := _plan_message(droid, ts)) and not droid.buttons(m) and m,
                          what="the clicked plan closed")
        assert ("Approved by" if decision == "droid_approve" else "Cancelled by") in str(closed["blocks"])
        if decision == "droid_cancel":        # the run's end is told through the outbox, once, with its metadata
            told = wait_for(lambda: [m for m in droid.slack.thread("CDEV", ts)
                                     if (m.get("metadata") or {}).get("event_type") == "droid_result"],
                            what="the cancel notice")
            assert len(told) == 1 and "cancelled by" in told[0]["text"]
            assert droid.deps.runner.deliverer.drain(5)
    finally:
        release.set()
        droid.close()


def test_a_status_message_slack_took_but_never_answered_is_not_left_working(tmp_path, repo):
    droid = Droid(tmp_path, repo=repo)
    dropped = threading.Event()

    def drop_the_answer(call, body) -> None:    # Slack stores the status message; droid never hears back
        if call.method == "chat.postMessage" and "Working" in str(call.args.get("text", "")) and not dropped.is_set():
            dropped.set()
            raise ConnectionAbortedError("the answer is lost")

    droid.slack.listeners.append(drop_the_answer)
    try:
        _, ts = droid.mention("where is send_with_retries defined?")
        run = droid.run_for("CDEV", ts)
        run = wait_for(lambda: (r := droid.store.runs.get(run.run_id)) and r.plan_ts and r, what="plan delivered")
        droid.click("droid_approve", droid.buttons(_plan_message(droid, ts))["droid_approve"], message_ts=run.plan_ts)
        droid.wait_state(run.run_id, "succeeded")
        assert droid.deps.runner.deliverer.drain(10)
        assert dropped.is_set()
        statuses = [m for m in droid.slack.thread("CDEV", ts) if m.get("text", "").startswith(f"run {run.run_id}: ")]
        assert len(statuses) == 1, [m["text"] for m in statuses]
        final = wait_for(lambda: (m := next(x for x in droid.slack.thread("CDEV", ts) if x["ts"] == statuses[0]["ts"]))
                         and "Done" in m["text"] and m, what="the status message edited to its end")
        assert not droid.buttons(final)
        assert droid.store.runs.get(run.run_id).status_ts == statuses[0]["ts"]
    finally:
        droid.close()


def test_the_status_message_learns_its_ts_outside_its_own_lock():
    """The runner holds the database's lock while it finishes the status; a flush reading the outbox must not
    hold the status's lock meanwhile (that was a deadlock: the soak's seed 5 hung)."""
    from bot.orchestration.status import StatusMessage
    from bot.slack.blocks import notice
    database, resolving = threading.Lock(), threading.Event()

    def resolve():
        resolving.set()
        with database:
            return "1.0"

    status = StatusMessage(None, "C", None, interval=0.0, resolve=resolve)
    with database:                                     # the runner, inside its transaction
        threading.Thread(target=status.set, args=[notice("step done")], daemon=True).start()
        assert resolving.wait(5)
        finishing = threading.Thread(target=status.finish, daemon=True)
        finishing.start()
        finishing.join(3)
        assert not finishing.is_alive(), "finish() waited on a flush that waits on the database"
