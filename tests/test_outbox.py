"""The outbox: results survive Slack outages and crashes, arrive in order, and are seen exactly once."""

from __future__ import annotations

import json
import time

import pytest

from bot.orchestration.recovery import recover
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "service", SERVICE_FILES)


@pytest.fixture
def droid(tmp_path, repo):
    d = Droid(tmp_path, repo=repo)
    yield d
    d.close()


def awaiting(droid: Droid, text: str, channel: str = "CDEV"):
    """Mention droid; return the run once its plan v1 is in the thread (and its ts recorded)."""
    _, ts = droid.mention(text, channel=channel)
    run = droid.run_for(channel, ts)
    return wait_for(lambda: (r := droid.store.runs.get(run.run_id)) and r.plan_ts and r, what="plan v1 delivered")


def approve(droid: Droid, run) -> None:
    plan = next(m for m in droid.slack.thread(run.channel, run.thread_ts) if m.get("ts") == run.plan_ts)
    droid.click("droid_approve", droid.buttons(plan)["droid_approve"], channel=run.channel, message_ts=run.plan_ts)


def results(droid: Droid, run) -> list[dict]:
    """The result messages in the run's thread (as the stand-in holds it), told apart by their metadata."""
    return [m for m in droid.slack.thread(run.channel, run.thread_ts) if (m.get("metadata") or {}).get("event_type") == "droid_result"
            and m["metadata"]["event_payload"]["run_id"] == run.run_id]


def order_of_calls(droid: Droid, run) -> list[str]:
    """What reached Slack for a run after approval, successful calls only, in order."""
    out = []
    for call in droid.slack.calls:
        args = call.args
        if call.method == "chat.postMessage" and (args.get("metadata") or {}).get("event_type") == "droid_result" \
                and args["metadata"]["event_payload"]["run_id"] == run.run_id:
            out.append("result")
        elif call.method == "reactions.add" and args.get("timestamp") == run.trigger_ts \
                and args.get("name") in ("white_check_mark", "x"):
            out.append("reaction")
    return out


def test_slack_down_then_rate_limited_results_arrive_once_in_order(droid: Droid):
    deliverer = droid.deps.runner.deliverer
    deliverer.base_delay, deliverer.max_delay = 0.05, 0.2          # retry 5xx often, so a 429's pause shows
    runs = [awaiting(droid, f"where is {what} computed?") for what in ("the invoice total", "the retry delay",
                                                                       "the login check")]
    droid.slack.outage(60, 503)                                  # Slack is down while the runs finish
    for run in runs:
        approve(droid, run)
    for run in runs:
        assert droid.wait_state(run.run_id, "succeeded", "failed").state == "succeeded"
    assert all(droid.store.outbox.pending(r.run_id) for r in runs)   # queued, with the state change
    wait_for(lambda: any("HTTP 503" in (i.last_error or "") for i in droid.store.outbox.pending()), what="a 5xx retry")
    assert not any(results(droid, r) for r in runs)

    limited_at = time.time()
    droid.slack.outage(1.5, 429, headers={"Retry-After": "1"})    # back, but rate-limiting for a while
    for run in runs:
        wait_for(lambda r=run: results(droid, r), timeout=20, what=f"result of {run.run_id}")
    assert deliverer.drain(10)
    first_429 = next(c for c in droid.slack.calls if c.at >= limited_at)
    assert not [c for c in droid.slack.calls if first_429.at < c.at < first_429.at + 0.9], "Retry-After ignored"
    for run in runs:
        assert len(results(droid, run)) == 1
        assert order_of_calls(droid, run)[-2:] == ["result", "reaction"]
        assert "white_check_mark" in droid.slack.thread(run.channel, run.thread_ts)[0].get("reactions", [])
        assert all(i.sent_ts for i in droid.store.outbox.for_run(run.run_id) if i.kind == "post")
    assert not droid.store.outbox.pending()


def test_crash_between_send_and_mark_does_not_duplicate(tmp_path, repo):
    db = tmp_path / "crash.db"
    first = Droid(tmp_path, repo=repo, db=db)
    run = awaiting(first, "where is send_with_retries defined?")
    first.deps.runner.deliverer.stop()                           # nothing is delivered from here on
    approve(first, run)
    first.wait_state(run.run_id, "succeeded")
    queued = first.store.outbox.pending(run.run_id)
    result = next(i for i in queued if i.event_type == "droid_result")
    for item in queued:
        if item.id == result.id:
            sent_ts = first.deps.runner.deliverer.send(item)     # sent to Slack ...
            break                                                # ... and the process dies before marking it
        assert first.deps.runner.deliverer.deliver(item)
    assert len(results(first, run)) == 1
    first.deps.runner.executor.shutdown()
    first.store.database.close()

    second = Droid(tmp_path, repo=repo, db=db, standin=first.slack)   # the restart
    try:
        recover(second.deps)
        assert second.deps.runner.deliverer.drain(10)
        assert [m["ts"] for m in results(second, run)] == [sent_ts]
        assert second.store.outbox.get(result.id).sent_ts == sent_ts
        assert any(c.args.get("include_all_metadata") for c in second.slack.calls_to("conversations.replies"))
        assert "white_check_mark" in second.slack.thread(run.channel, run.thread_ts)[0].get("reactions", [])
    finally:
        second.close()


def test_upload_sent_but_not_marked_is_not_uploaded_again(droid: Droid):
    run = awaiting(droid, "where is the retry delay computed?")
    deliverer = droid.deps.runner.deliverer
    deliverer.stop()
    with droid.store.database.transaction():
        deliverer.upload(run, f"report-{run.run_id}.md", "# Report\n\nall good\n", "Report")
    item = droid.store.outbox.pending(run.run_id)[0]
    deliverer.send(item)                                         # uploaded, not marked
    deliverer.start()
    assert deliverer.drain(10)
    assert len(droid.slack.calls_to("files.completeUploadExternal")) == 1


def test_state_change_and_outbox_commit_together(droid: Droid):
    run, _ = droid.store.runs.create(channel="CDEV", trigger_ts="300.1", thread_ts="300.1", requester="UALICE",
                                     skill="ask", task="t")
    droid.deps.runner.deliverer.stop()
    from bot.slack import blocks
    with pytest.raises(RuntimeError), droid.store.database.transaction():
        assert droid.store.runs.transition(run.run_id, "received", "failed", result="x")
        droid.deps.runner.deliverer.post(run, blocks.notice("❌ x"), "droid_result")
        raise RuntimeError("crash before commit")
    assert droid.store.runs.get(run.run_id).state == "received" and not droid.store.outbox.pending()
    with droid.store.database.transaction():
        assert droid.store.runs.transition(run.run_id, "received", "failed", result="x")
        droid.deps.runner.deliverer.post(run, blocks.notice("❌ x"), "droid_result")
    assert droid.store.runs.get(run.run_id).state == "failed" and len(droid.store.outbox.pending()) == 1


def live_plans(droid: Droid, run) -> list[str]:
    """Plan messages in the thread that still have buttons."""
    return [m["text"] for m in droid.slack.thread(run.channel, run.thread_ts)
            if m["text"].startswith("Plan v") and droid.buttons(m)]


def test_restart_during_replanning_closes_the_old_plan_first(tmp_path, repo):
    db = tmp_path / "replan.db"
    first = Droid(tmp_path, repo=repo, db=db)
    run = awaiting(first, "where is the invoice total computed?")
    assert first.store.runs.transition(run.run_id, "awaiting_approval", "planning")   # Revise submitted, then:
    first.deps.runner.shutdown()                                                    # the process dies mid-planning
    first.store.database.close()

    second = Droid(tmp_path, repo=repo, db=db, standin=first.slack)
    try:
        assert recover(second.deps) == [run.run_id]
        run = wait_for(lambda: (r := second.store.runs.get(run.run_id)).plan_version == 2 and r.plan_ts != run.plan_ts
                       and r, what="plan v2 delivered")
        assert second.deps.runner.deliverer.drain(10)
        assert [t.split(" for")[0] for t in live_plans(second, run)] == ["Plan v2"]
        closing = next(c for c in second.slack.calls_to("chat.update") if "Superseded by plan v2" in json.dumps(c.args))
        v2_post = next(c for c in second.slack.calls_to("chat.postMessage") if c.args["text"].startswith("Plan v2"))
        assert closing.at <= v2_post.at
    finally:
        second.close()


def test_results_an_older_droid_failed_to_deliver_are_queued_once(droid: Droid):
    run, _ = droid.store.runs.create(channel="CDEV", trigger_ts="400.1", thread_ts="400.1", requester="UALICE",
                                     skill="ask", task="t")
    for a, b in (("received", "planning"), ("planning", "awaiting_approval"), ("awaiting_approval", "executing")):
        assert droid.store.runs.transition(run.run_id, a, b)
    assert droid.store.runs.transition(run.run_id, "executing", "succeeded", result="the kept answer")
    droid.store.events.append(run.run_id, "delivery_failed", error="service_unavailable")   # as before the outbox
    assert recover(droid.deps) == [run.run_id]
    assert recover(droid.deps) == []
    assert droid.deps.runner.deliverer.drain(10)
    late = [p for p in droid.posts() if "delivered late" in p["text"]]
    assert len(late) == 1 and "the kept answer" in late[0]["text"] and late[0]["thread_ts"] == "400.1"


def test_nested_transactions_are_savepoints(tmp_path):
    from state.store import Store
    store = Store.open(str(tmp_path / "nested.db"))
    assert store.deliveries.first_time("Ev1")
    with store.database.transaction():
        run, _ = store.runs.create(channel="C1", trigger_ts="1.1", thread_ts="1.1", requester="U1", skill="ask",
                                   task="t")
        assert not store.deliveries.first_time("Ev1")    # the inner failure rolls back to its savepoint only
    assert store.runs.get(run.run_id) is not None
    store.database.close()
