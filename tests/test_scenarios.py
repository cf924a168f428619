"""Whole-app scenarios without a model: signed requests through the real Bolt app, real SQLite, real git."""

from __future__ import annotations

import json
import threading

import pytest

from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "service", SERVICE_FILES)


@pytest.fixture
def droid(tmp_path, repo):
    d = Droid(tmp_path, repo=repo, approvers=("UCAROL",))
    yield d
    d.close()


def plan_post(droid: Droid, version: int = 1) -> dict:
    """The plan message with buttons for a version, once posted."""
    def find():
        for post in droid.posts():
            if post["text"].startswith(f"Plan v{version} ") and droid.buttons(post):
                return post
        return None
    return wait_for(find, what=f"plan v{version} posted")


def start(droid: Droid, text="where is the retry logic for webhooks?", **kw):
    response, ts = droid.mention(text, **kw)
    assert response.status == 200
    run = droid.run_for(kw.get("channel", "CDEV"), ts)
    return droid.wait_state(run.run_id, "awaiting_approval"), ts


def test_mention_plan_approve_answer(droid: Droid):
    run, ts = start(droid)
    post = plan_post(droid)
    assert post["thread_ts"] == ts
    text = json.dumps(post["blocks"])
    assert "No model is configured" in text and "ANTHROPIC_API_KEY" in text
    assert set(droid.buttons(post)) == {"droid_approve", "droid_revise", "droid_cancel"}
    assert json.loads(droid.buttons(post)["droid_approve"]) == {"run_id": run.run_id, "v": 1}
    assert any(c.args.get("name") == "eyes" for c in droid.slack.calls_to("reactions.add"))

    droid.click("droid_approve", droid.buttons(post)["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.state == "succeeded", run.result
    assert "webhooks/sender.py" in run.result and "not an answer" in run.result
    wait_for(lambda: any(c.args.get("name") == "white_check_mark" for c in droid.slack.calls_to("reactions.add")),
             what="✅ reaction")
    result = wait_for(lambda: [p for p in droid.posts() if "Search results" in p["text"]], what="result post")
    assert result[0]["thread_ts"] == ts
    kinds = [e.kind for e in droid.store.events.for_run(run.run_id)]
    assert kinds[:2] == ["created", "plan"] and "approved" in kinds and "succeeded" in kinds


def test_approval_by_someone_else_is_refused(droid: Droid):
    run, _ = start(droid)
    value = droid.buttons(plan_post(droid))["droid_approve"]
    assert droid.click("droid_approve", value, user="UMALLORY").status == 200
    wait_for(lambda: droid.slack.ephemerals, what="ephemeral refusal")
    refusal = droid.slack.ephemerals[0]
    assert refusal["user"] == "UMALLORY" and "Only <@UALICE>" in refusal["text"] and "<@UCAROL>" in refusal["text"]
    assert droid.store.runs.get(run.run_id).state == "awaiting_approval"
    assert [e.kind for e in droid.store.events.for_run(run.run_id)][-1] == "refused"


def test_configured_approver_may_approve(droid: Droid):
    run, _ = start(droid)
    droid.click("droid_approve", droid.buttons(plan_post(droid))["droid_approve"], user="UCAROL")
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.approved_by == "UCAROL"


def test_retried_delivery_creates_one_run(droid: Droid):
    response, ts = droid.mention("where is invoice total computed?", event_id="Ev0001")
    assert response.status == 200
    message = droid.slack.thread("CDEV", ts)[0]
    from bot.slack import payloads
    event = payloads.app_mention(user="UALICE", text=message["text"], channel="CDEV", ts=ts)
    for retry in ("1", "2"):
        again = droid.dispatch(payloads.event_callback(event, team="T0DROID", event_id="Ev0001"),
                               {"x-slack-retry-num": retry, "x-slack-retry-reason": "http_timeout"})
        assert again.status == 200
    # a different event_id for the same message (e.g. a replay) is still one run: idempotent on (channel, ts)
    droid.dispatch(payloads.event_callback(event, team="T0DROID", event_id="Ev0002"))
    run = droid.run_for("CDEV", ts)
    droid.wait_state(run.run_id, "awaiting_approval")
    rows = droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert rows == 1
    assert droid.deps.runner.deliverer.drain(10)         # the plan is posted after the state change commits
    assert len([p for p in droid.posts() if p["text"].startswith("Plan v1")]) == 1


def test_concurrent_approvals_execute_once(droid: Droid):
    run, _ = start(droid)
    value = droid.buttons(plan_post(droid))["droid_approve"]
    barrier = threading.Barrier(2)

    def click(user):
        barrier.wait()
        droid.click("droid_approve", value, user=user)

    threads = [threading.Thread(target=click, args=(u,)) for u in ("UALICE", "UCAROL")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    approvals = droid.store.events.for_run(run.run_id, "approved")
    assert len(approvals) == 1
    loser = wait_for(lambda: [e for e in droid.slack.ephemerals if "already approved" in e["text"]],
                     what="loser told")
    assert f"<@{run.approved_by}>" in loser[0]["text"] and loser[0]["user"] != run.approved_by
    assert len([p for p in droid.posts() if "Working on the approved plan" in p["text"]]) == 1


def test_revise_makes_plan_v2_and_v1_buttons_are_stale(droid: Droid):
    run, _ = start(droid)
    v1 = droid.buttons(plan_post(droid))
    droid.click("droid_revise", v1["droid_revise"])
    view = wait_for(lambda: droid.slack.views, what="modal opened")[0]
    from bot.slack import payloads
    submission = payloads.view_submission(user="UALICE", team="T0DROID", view=view,
                                          values={"feedback": {"text": "Focus on the backoff"}})
    assert droid.dispatch(submission).status == 200
    post = plan_post(droid, version=2)
    assert "Focus on the backoff" in json.dumps(post["blocks"])
    run = droid.wait_state(run.run_id, "awaiting_approval")
    assert run.plan_version == 2
    droid.click("droid_approve", v1["droid_approve"])
    stale = wait_for(lambda: [e for e in droid.slack.ephemerals if "plan v1" in e["text"]], what="stale refusal")
    assert "v2" in stale[0]["text"]
    assert droid.store.runs.get(run.run_id).state == "awaiting_approval"
    superseded = wait_for(lambda: [c for c in droid.slack.calls_to("chat.update") if "Superseded" in json.dumps(c.args)],
                          what="v1 marked superseded")
    assert superseded


def test_cancel_before_execution(droid: Droid):
    run, ts = start(droid)
    droid.click("droid_cancel", droid.buttons(plan_post(droid))["droid_cancel"])
    droid.wait_state(run.run_id, "cancelled")
    wait_for(lambda: [p for p in droid.posts() if "cancelled by <@UALICE>" in p["text"]], what="cancel notice")


def test_bad_signature_is_401(droid: Droid):
    from slack_bolt.request import BoltRequest

    from bot.slack import payloads
    body, content_type = payloads.encode(payloads.event_callback(
        payloads.app_mention(user="U1", text="<@UDROIDBOT> hi", channel="CDEV", ts="1.1"), team="T0DROID"))
    wrong = payloads.sign("not-the-secret", body)
    assert droid.app.dispatch(BoltRequest(body=body, headers={"content-type": content_type, **wrong})).status == 401
    stale = payloads.sign("test-signing-secret-0123456789", body, timestamp="1531420618")
    assert droid.app.dispatch(BoltRequest(body=body, headers={"content-type": content_type, **stale})).status == 401
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize("payload", [
    {"type": "event_callback", "team_id": "T0DROID", "event_id": "Ev9", "event": {"type": "app_mention"}},
    {"type": "event_callback", "team_id": "T0DROID", "event_id": "Ev10", "event": {"type": "pin_added", "user": "U1"}},
    {"type": "block_actions", "team": {"id": "T0DROID"}, "user": {"id": "U1"},
     "actions": [{"action_id": "droid_approve", "value": "not json"}], "container": {"channel_id": "C1"}},
    {"type": "block_actions", "team": {"id": "T0DROID"}, "user": {"id": "U1"},
     "actions": [{"action_id": "someone_elses_button", "value": "x"}]},
])
def test_malformed_payloads_are_acknowledged(droid: Droid, payload):
    assert droid.dispatch(payload).status == 200
    # the app keeps serving
    run, _ = start(droid)
    assert run.state == "awaiting_approval"


def test_garbage_body_does_not_crash(droid: Droid):
    from bot.slack import payloads
    from bot.slack.http_server import dispatch_raw
    body = "this is not json {"
    headers = {"content-type": "application/json", **payloads.sign("test-signing-secret-0123456789", body)}
    status, _, _ = dispatch_raw(droid.app, body, headers)
    assert status == 400
    run, _ = start(droid)
    assert run.state == "awaiting_approval"


def test_follow_up_mention_in_thread_is_not_a_second_run(droid: Droid):
    run, ts = start(droid)
    droid.mention("also check the billing code", thread_ts=ts)
    wait_for(lambda: droid.store.events.for_run(run.run_id, "follow_up"), what="follow-up recorded")
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    wait_for(lambda: [p for p in droid.posts() if "click *Revise*" in p["text"]], what="follow-up reply")


def test_empty_mention_gets_a_hint(droid: Droid):
    droid.mention("")
    wait_for(lambda: [p for p in droid.posts() if "What should I do?" in p["text"]], what="hint")
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


def test_slack_outage_at_the_end_loses_nothing(droid: Droid):
    run, ts = start(droid)
    droid.slack.fail_next("chat.postMessage", 503, {"ok": False, "error": "service_unavailable"}, times=4)
    droid.click("droid_approve", droid.buttons(plan_post(droid))["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert "webhooks/sender.py" in run.result           # the result is kept, and queued with the state change
    result = wait_for(lambda: [p for p in droid.posts() if "Search results" in p["text"]], what="result once Slack is back")
    assert result[0]["thread_ts"] == ts and "webhooks/sender.py" in result[0]["text"]
    assert result[0]["metadata"]["event_type"] == "droid_result"
    assert droid.deps.runner.deliverer.drain(10) and len(result) == 1


def test_slack_server_error_is_retried(droid: Droid):
    droid.slack.fail_next("chat.postMessage", 500, {"ok": False, "error": "internal_error"})
    run, _ = start(droid)
    wait_for(lambda: len(droid.slack.calls_to("chat.postMessage")) == 2, what="plan post retried")
    plans = wait_for(lambda: [m for m in droid.slack.thread("CDEV", run.thread_ts) if m["text"].startswith("Plan v1")],
                     what="plan in the thread")
    assert len(plans) == 1 and droid.deps.runner.deliverer.drain(5)
    assert droid.store.runs.get(run.run_id).plan_ts == plans[0]["ts"]


def test_stale_plans_expire_and_the_thread_is_told(droid: Droid):
    import time

    from bot.orchestration.schedules import expire_stale_plans
    run, ts = start(droid)
    assert expire_stale_plans(droid.deps, 3600) == []
    assert expire_stale_plans(droid.deps, 3600, now=time.time() + 7200) == [run.run_id]
    assert droid.store.runs.get(run.run_id).state == "expired"
    notice = wait_for(lambda: [p for p in droid.posts() if "expired after 1 h" in p["text"]], what="expiry notice")
    assert notice[0]["thread_ts"] == ts
    closed = wait_for(lambda: [c for c in droid.slack.calls_to("chat.update") if "Expired after 1 h" in json.dumps(c.args)],
                      what="plan message closed")
    assert closed[0].args["ts"] == droid.store.runs.get(run.run_id).plan_ts and not droid.buttons(closed[0].args)
    droid.click("droid_approve", droid.buttons(plan_post(droid))["droid_approve"])
    wait_for(lambda: [e for e in droid.slack.ephemerals if "is expired" in e["text"]], what="late click refused")


def test_waiting_plans_get_one_reminder_per_version(droid: Droid):
    import time

    from bot.orchestration.schedules import remind_pending_plans
    run, ts = start(droid)
    assert remind_pending_plans(droid.deps, 3600) == []
    later = time.time() + 7200
    assert remind_pending_plans(droid.deps, 3600, now=later) == [run.run_id]
    assert remind_pending_plans(droid.deps, 3600, now=later) == []
    nudge = wait_for(lambda: [p for p in droid.posts() if "is waiting for a decision" in p["text"]], what="reminder")
    assert nudge[0]["thread_ts"] == ts and "<@UALICE>" in nudge[0]["text"]


def test_restart_while_planning_plans_again(tmp_path, repo):
    db = tmp_path / "restart.db"
    first = Droid(tmp_path, repo=repo, db=db)
    run, _ = first.store.runs.create(channel="CDEV", trigger_ts="200.1", thread_ts="200.1", requester="UALICE",
                                     skill="ask", task="where is total computed?")
    assert first.store.runs.transition(run.run_id, "received", "planning")
    first.deps.runner.shutdown()
    first.store.database.close()
    second = Droid(tmp_path, repo=repo, db=db, standin=first.slack)
    try:
        from bot.orchestration.recovery import recover
        assert recover(second.deps) == [run.run_id]
        second.wait_state(run.run_id, "awaiting_approval")
        assert wait_for(lambda: [p for p in second.posts() if "planning it again" in p["text"]], what="told")
    finally:
        second.close()


def test_code_change_without_a_model_says_what_needs_a_key(droid: Droid):
    run, ts = start(droid, text="add jitter to the webhook retries")
    assert run.skill == "code_change"
    post = plan_post(droid)
    text = json.dumps(post["blocks"])
    assert "Commit, push the branch and open a pull request" in text and "webhooks/sender.py" in text
    assert "No model is configured" in text
    droid.click("droid_approve", droid.buttons(post)["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.state == "failed" and "Writing code needs a model" in run.result
    notice = wait_for(lambda: [p for p in droid.posts() if "Needs a model" in p["text"]], what="needs-a-model reply")
    assert notice[0]["thread_ts"] == ts
