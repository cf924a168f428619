"""Whole-app scenarios with a model: the real anthropic SDK against the scripted Messages API stub."""

from __future__ import annotations

import json
import threading

import pytest
from slack_sdk.models.blocks import Block

from bot.orchestration.recovery import recover
from integrations.llm import AnthropicLLM
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn

KEY = "sk-ant-test-key-00000000000000000000"
PLAN = {"goal": "Explain where webhook retries happen",
        "steps": [{"title": "Search for the retry code"}, {"title": "Answer with citations"}],
        "touches": ["webhooks/"], "risks": ["none: read-only"]}


@pytest.fixture
def stub():
    with AnthropicStub() as s:
        yield s


@pytest.fixture
def droid(tmp_path, stub):
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=stub.url, max_retries=2)
    d = Droid(tmp_path, repo=repo, llm=llm, anthropic_url=stub.url)
    yield d
    d.close()


def plan_buttons(droid, version=1):
    post = wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith(f"Plan v{version} ")
                                  and droid.buttons(p)), None), what=f"plan v{version}")
    return post, droid.buttons(post)


def start(droid, text="where are webhook retries handled?"):
    _, ts = droid.mention(text)
    run = droid.run_for("CDEV", ts)
    return droid.wait_state(run.run_id, "awaiting_approval", "failed"), ts


def test_model_plan_then_cited_answer(droid, stub):
    stub.add(Turn.tool_use("submit_plan", PLAN, expect="webhook retries"),
             Turn.tool_use("view_file", {"path": "webhooks/sender.py"}),
             Turn.tool_use("complete_step", {"summary": "found it"}, expect="send_with_retries"),
             Turn.tool_use("final_answer", {"text": "Retries live in `webhooks/sender.py:6-12` (send_with_retries)."}))
    run, ts = start(droid)
    assert run.state == "awaiting_approval"
    post, buttons = plan_buttons(droid)
    text = json.dumps(post["blocks"])
    assert "Search for the retry code" in text and "drafted by the model" in text and "est." in text
    droid.click("droid_approve", buttons["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.state == "succeeded", run.result
    answer = wait_for(lambda: [p for p in droid.posts() if "webhooks/sender.py:6-12" in p["text"]], what="answer")
    assert answer[0]["thread_ts"] == ts
    stub.assert_done()
    # the plan request forced the structured tool; every request cached the stable prefix
    assert stub.requests[0]["tool_choice"] == {"type": "tool", "name": "submit_plan"}
    assert all(r["system"][0].get("cache_control") for r in stub.requests)
    kinds = [e.kind for e in droid.store.events.for_run(run.run_id)]
    assert {"tool_call", "model_reply", "step_done", "usage", "succeeded"} <= set(kinds)
    edits = droid.slack.calls_to("chat.update")
    assert any("✅ 1." in json.dumps(c.args.get("blocks"), ensure_ascii=False) for c in edits)


def test_invalid_plan_is_retried(droid, stub):
    stub.add(Turn.tool_use("submit_plan", {"goal": "", "steps": []}), Turn.tool_use("submit_plan", PLAN))
    run, _ = start(droid)
    assert run.state == "awaiting_approval" and run.plan_version == 1
    stub.assert_done()


def test_overloaded_then_recovered(droid, stub):
    stub.add(Turn.error(529, "overloaded_error"), Turn.tool_use("submit_plan", PLAN))
    run, _ = start(droid)
    assert run.state == "awaiting_approval"
    assert len(stub.requests) == 2
    stub.assert_done()


def test_model_keeps_failing(droid, stub):
    stub.add(*[Turn.error(529, "overloaded_error") for _ in range(3)])
    run, ts = start(droid)
    assert run.state == "failed"
    notice = wait_for(lambda: [p for p in droid.posts() if "Planning failed" in p["text"]], what="failure notice")
    assert "overloaded" in notice[0]["text"] and notice[0]["thread_ts"] == ts
    assert KEY not in json.dumps([c.args for c in droid.slack.calls])
    stub.assert_done()


def test_stop_during_execution(droid, stub):
    reached, release = threading.Event(), threading.Event()

    def hold(body):
        reached.set()
        assert release.wait(10)

    stub.add(Turn.tool_use("submit_plan", PLAN), Turn.tool_use("view_file", {"path": "README.md"}, expect=hold))
    run, ts = start(droid)
    _, buttons = plan_buttons(droid)
    droid.click("droid_approve", buttons["droid_approve"])
    assert reached.wait(10)
    status = wait_for(lambda: [p for p in droid.posts() if droid.buttons(p).get("droid_stop")], what="status")
    droid.click("droid_stop", droid.buttons(status[0])["droid_stop"])
    droid.wait_state(run.run_id, "cancelled")
    release.set()
    wait_for(lambda: [p for p in droid.posts() if "stopped. Nothing more" in p["text"]], what="stopped notice")
    assert len(stub.requests) == 2   # no model call after the stop
    stub.assert_done()


def test_widening_revision_pauses_for_approval(droid, stub):
    wider = {"steps": ["Read the billing code too"], "reason": "retries also in billing",
             "touches": ["webhooks/", "billing/"]}
    stub.add(Turn.tool_use("submit_plan", PLAN), Turn.tool_use("revise_plan", wider),
             Turn.tool_use("final_answer", {"text": "Both `webhooks/sender.py:6` and `billing/invoice.py:4`."}))
    run, _ = start(droid)
    _, buttons = plan_buttons(droid)
    droid.click("droid_approve", buttons["droid_approve"])
    run = droid.wait_state(run.run_id, "awaiting_approval", "failed")
    while run.plan_version < 2:
        run = droid.wait_state(run.run_id, "awaiting_approval")
    post, v2 = plan_buttons(droid, 2)
    assert "widens its scope" in json.dumps(post["blocks"]) and "billing/" in json.dumps(post["blocks"])
    assert len(stub.requests) == 2       # nothing more happened before re-approval
    droid.click("droid_approve", v2["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.state == "succeeded" and run.approved_version == 2
    stub.assert_done()


def test_long_reply_is_split_or_uploaded(droid, stub):
    long_text = "\n".join(f"Line {i}: `webhooks/sender.py:{i}` " + "detail " * 20 for i in range(400))
    stub.add(Turn.tool_use("submit_plan", PLAN), Turn.tool_use("final_answer", {"text": long_text}))
    run, _ = start(droid)
    _, buttons = plan_buttons(droid)
    droid.click("droid_approve", buttons["droid_approve"])
    droid.wait_state(run.run_id, "succeeded")
    completed = wait_for(lambda: droid.slack.calls_to("files.completeUploadExternal"), what="file upload")
    file_id = completed[0].args["files"][0]["id"]
    assert droid.slack.files[file_id]["content"].decode().count("Line ") == 400
    for post in droid.posts():
        assert len(post["blocks"]) <= 50 and len(post["text"]) <= 4000
        for block in post["blocks"]:
            Block.parse(block).validate_json()


def test_restart_while_executing_tells_the_thread(tmp_path, stub):
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    db = tmp_path / "shared.db"
    first = Droid(tmp_path, repo=repo, db=db)
    run, _ = first.store.runs.create(channel="CDEV", trigger_ts="100.1", thread_ts="100.1", requester="UALICE",
                                     skill="ask", task="where?")
    for a, b in (("received", "planning"), ("planning", "awaiting_approval"), ("awaiting_approval", "executing")):
        assert first.store.runs.transition(run.run_id, a, b)
    first.deps.runner.shutdown()
    first.store.database.close()
    second = Droid(tmp_path, repo=repo, db=db, standin=first.slack)
    try:
        assert recover(second.deps) == [run.run_id]
        second.wait_state(run.run_id, "failed")
        told = wait_for(lambda: [p for p in second.posts() if "restarted" in p["text"]], what="thread told")
        assert told[0]["thread_ts"] == "100.1"
    finally:
        second.close()


def test_slack_rate_limit_is_retried(droid, stub):
    droid.slack.fail_next("chat.postMessage", 429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "1"})
    stub.add(Turn.tool_use("submit_plan", PLAN))
    run, _ = start(droid)
    assert run.state == "awaiting_approval"
    wait_for(lambda: len(droid.slack.calls_to("chat.postMessage")) == 2, what="plan post retried")
    first, second = droid.slack.calls_to("chat.postMessage")
    assert second.at - first.at >= 0.9                  # Retry-After: 1 was honoured
    assert droid.deps.runner.deliverer.drain(5)
    assert len([m for m in droid.slack.thread("CDEV", run.thread_ts) if m["text"].startswith("Plan v1")]) == 1
