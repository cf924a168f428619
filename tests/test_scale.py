"""Scale-out with real parts: a real redis-server, real `droid worker` (Celery) processes, the real app."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from bot.execution import events_channel
from bot.local.slack_standin import SlackStandIn
from bot.orchestration.recovery import recover
from bot.slack import ratelimit
from bot.slack.ratelimit import Limits, SlackLimiter
from integrations.llm import AnthropicLLM
from tests.harness import BOT_TOKEN, SECRET, TEAM, Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo
from tests.scale_harness import ROOT, RedisServer, Worker, free_port
from tests.stubs.anthropic_stub import AnthropicStub, Turn

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None,
                                reason="redis-server is not installed (apt-get install redis-server)")
KEY = "sk-ant-test-key-00000000000000000000"
PLAN = {"goal": "Explain where webhook retries happen", "steps": [{"title": "Answer"}],
        "touches": ["webhooks/"], "risks": ["none: read-only"]}


@pytest.fixture
def broker(tmp_path):
    server = RedisServer(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def workers(tmp_path, broker):
    started = []

    def start(name: str) -> Worker:
        worker = Worker(broker.url, name, tmp_path / f"{name}.log")
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def ready(*workers: Worker) -> None:
    for worker in workers:
        wait_for(worker.ready, 30, 0.1, what=f"{worker.name} ready: {worker.log.read_text()[-2000:]}")


def approve(droid: Droid, run_id: str) -> None:
    def plan_post():
        return next((p for p in droid.posts() if run_id in json.dumps(p.get("blocks"))
                     and "droid_approve" in droid.buttons(p)), None)
    droid.click("droid_approve", droid.buttons(wait_for(plan_post, what="plan"))["droid_approve"])


def started_on(droid: Droid, run_id: str) -> list[tuple[int, str]]:
    return [(e.data["attempt"], e.data["worker"]) for e in droid.store.events.for_run(run_id, "attempt_started")]


def test_runs_across_two_workers_all_finish_and_are_told(tmp_path, broker, workers):
    one, two = workers("one"), workers("two")
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    # 20 runs in one channel: Slack's posting rate (about one a second) is not what this test is about
    slack = SlackStandIn(team=TEAM).start()
    ratelimit.install(slack.api_url, BOT_TOKEN, SlackLimiter(Limits().scaled(20)))
    droid = Droid(tmp_path, repo=repo, broker_url=broker.url, standin=slack)
    try:
        ready(one, two)
        runs = []
        for i in range(20):
            _, ts = droid.mention(f"where is the retry logic for webhooks? ({i})")
            runs.append(droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval"))
        for run in runs:
            approve(droid, run.run_id)
        for run in runs:
            done = droid.wait_state(run.run_id, "succeeded", "failed", timeout=30)
            assert done.state == "succeeded", done.result
            assert "webhooks/sender.py" in done.result
            assert [a for a, _ in started_on(droid, run.run_id)] == [1, 2]   # planned, then executed
            assert done.context["attempt_of"] == "execute:1"
        told = wait_for(lambda: len([p for p in droid.posts() if "Search results" in p["text"]]) == 20 or None,
                        timeout=180, what="20 results posted")   # one deliverer thread: see README
        assert told
        assert not droid.store.outbox.pending() or wait_for(lambda: not droid.store.outbox.pending(), timeout=120)
    finally:
        droid.close()


@pytest.fixture
def stub():
    with AnthropicStub() as s:
        yield s


def model_droid(tmp_path, stub, broker, **overrides) -> Droid:
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=stub.url, max_retries=0)
    return Droid(tmp_path, repo=repo, llm=llm, anthropic_url=stub.url, broker_url=broker.url, **overrides)


def test_killed_worker_run_restarts_on_the_other_worker(tmp_path, broker, workers, stub):
    gate, asked = threading.Event(), threading.Event()

    def hold(body):
        asked.set()
        gate.wait(30)

    stub.add(Turn.tool_use("submit_plan", PLAN),
             Turn.tool_use("view_file", {"path": "webhooks/sender.py"}, expect=hold),      # attempt 1: dies here
             Turn.tool_use("final_answer", {"text": "Retries live in `webhooks/sender.py`."}))
    one, two = workers("one"), workers("two")
    droid = model_droid(tmp_path, stub, broker)
    try:
        ready(one, two)
        _, ts = droid.mention("where are webhook retries handled?")
        run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
        approve(droid, run.run_id)
        wait_for(asked.is_set, 20, what="attempt 1 asks the model")
        first = started_on(droid, run.run_id)
        assert [a for a, _ in first] == [1, 2]    # attempt 1 drafted the plan; 2 executes
        victim, survivor = (one, two) if first[1][1] == one.name else (two, one)
        victim.kill()
        gate.set()
        done = droid.wait_state(run.run_id, "succeeded", "failed", timeout=30)
        assert done.state == "succeeded", done.result
        assert started_on(droid, run.run_id)[1:] == [(2, victim.name), (3, survivor.name)]
        kinds = [e.kind for e in droid.store.events.for_run(run.run_id)]
        assert "attempt_lost" in kinds
        assert kinds.index("attempt_lost") < [i for i, k in enumerate(kinds) if k == "attempt_started"][2]
        wait_for(lambda: [p for p in droid.posts() if "webhooks/sender.py" in p["text"]], what="answer posted")
        stub.assert_done()
    finally:
        droid.close()


def test_a_lost_attempt_past_the_limit_fails_the_run_and_says_so(tmp_path, broker, workers, stub):
    gate, asked = threading.Event(), threading.Event()

    def hold(body):
        asked.set()
        gate.wait(30)

    stub.add(Turn.tool_use("submit_plan", PLAN), Turn.tool_use("view_file", {"path": "x"}, expect=hold))
    one = workers("one")
    droid = model_droid(tmp_path, stub, broker, max_attempts=1)
    try:
        ready(one)
        _, ts = droid.mention("where are webhook retries handled?")
        run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
        approve(droid, run.run_id)
        wait_for(asked.is_set, 20, what="attempt 1 asks the model")
        one.kill()
        gate.set()
        done = droid.wait_state(run.run_id, "failed", "succeeded", timeout=30)
        assert done.state == "failed" and "lost by its worker 1 times" in done.result
        wait_for(lambda: [p for p in droid.posts() if "lost by its worker" in p["text"]], what="failure told")
    finally:
        droid.close()


def test_stop_and_steering_reach_the_worker(tmp_path, broker, workers, stub):
    first, second, asked, steered = threading.Event(), threading.Event(), threading.Event(), []

    def hold(body):
        asked.set()
        first.wait(30)

    def sees_steering(body):
        steered.append(json.dumps(body["messages"]))
        second.wait(30)

    stub.add(Turn.tool_use("submit_plan", PLAN),
             Turn.tool_use("view_file", {"path": "webhooks/sender.py"}, expect=hold),
             Turn.tool_use("view_file", {"path": "webhooks/sender.py"}, expect=sees_steering))
    one = workers("one")
    droid = model_droid(tmp_path, stub, broker)
    remote = droid.deps.runner.remote
    try:
        ready(one)
        _, ts = droid.mention("where are webhook retries handled?")
        run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
        approve(droid, run.run_id)
        wait_for(asked.is_set, 20, what="the worker asks the model")
        droid.store.events.append(run.run_id, "follow_up", text="look at the backoff constant too")
        wait_for(lambda: remote.forwarded.get(run.run_id), what="steering forwarded")
        first.set()
        wait_for(lambda: steered, what="second model call")
        assert "look at the backoff constant too" in steered[0]
        status = wait_for(lambda: next((p for p in droid.posts() if "droid_stop" in droid.buttons(p)), None),
                          what="status with Stop")
        droid.click("droid_stop", droid.buttons(status)["droid_stop"])
        droid.wait_state(run.run_id, "cancelled")
        stopped = time.monotonic()
        wait_for(lambda: remote.client.get(events_channel.key(run.run_id, "stop")), 2, what="Stop reaches Redis")
        assert time.monotonic() - stopped < 2
        second.set()
        wait_for(lambda: run.run_id not in remote.inflight, 5, what="the worker's end of the stopped attempt")
        assert len(stub.requests) == 3   # the worker made no model call after the Stop
        stub.assert_done()
    finally:
        droid.close()


def test_serve_without_redis_says_so_and_doctor_reports_workers(tmp_path, broker, workers):
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SECRET, "PYTHONPATH": str(ROOT),
           "DROID_DB": str(tmp_path / "d.db"), "DROID_BROKER_URL": f"redis://127.0.0.1:{free_port()}/0",
           "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}
    env.pop("ANTHROPIC_API_KEY", None)
    serve = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=30)
    assert serve.returncode == 2
    assert serve.stderr.count("\n") == 1 and "cannot reach the broker" in serve.stderr, serve.stderr
    doctor = subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert doctor.returncode == 1 and "✗ Broker: cannot reach the broker" in doctor.stdout, doctor.stdout
    one = workers("one")
    ready(one)
    env["DROID_BROKER_URL"] = broker.url
    doctor = subprocess.run([sys.executable, "-m", "bot.cli", "doctor"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=30)
    assert f"✓ Broker: {broker.url}; 1 worker(s): {one.name}" in doctor.stdout, doctor.stdout


def test_control_plane_restart_mid_run_loses_no_worker_event(tmp_path, broker, workers, stub):
    gate, asked = threading.Event(), threading.Event()

    def hold(body):
        asked.set()
        gate.wait(30)

    stub.add(Turn.tool_use("submit_plan", PLAN),
             Turn.tool_use("view_file", {"path": "webhooks/sender.py"}, expect=hold),
             Turn.tool_use("final_answer", {"text": "Retries live in `webhooks/sender.py`."}))
    one = workers("one")
    first = model_droid(tmp_path, stub, broker)
    ready(one)
    _, ts = first.mention("where are webhook retries handled?")
    run = first.wait_state(first.run_for("CDEV", ts).run_id, "awaiting_approval")
    approve(first, run.run_id)
    wait_for(asked.is_set, 20, what="the worker asks the model")
    first.deps.runner.shutdown(wait=False)          # serve goes away mid-run (its Slack stays up)
    first.store.database.close()
    gate.set()                                      # the worker carries on and reports to nobody
    wait_for(lambda: broker_backlog(first.deps.runner.remote) >= 3, 20, what="worker messages waiting in Redis")
    llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=stub.url, max_retries=0)
    second = Droid(tmp_path, llm=llm, anthropic_url=stub.url, broker_url=broker.url, standin=first.slack,
                   db=tmp_path / "droid.db", routing=first.settings.routing)
    try:
        recover(second.deps)
        done = second.wait_state(run.run_id, "succeeded", "failed", timeout=20)
        assert done.state == "succeeded", done.result
        events = second.store.events.for_run(run.run_id)
        assert [e.data["name"] for e in events if e.kind == "tool_call"] == ["view_file", "final_answer"]
        assert "recovered" not in [e.kind for e in events]
        answers = wait_for(lambda: [p for p in second.posts() if "webhooks/sender.py`" in p["text"]],
                           what="answer posted")
        assert len(answers) == 1
        stub.assert_done()
    finally:
        second.close()


def broker_backlog(remote) -> int:
    """Messages in the event stream the control plane has not read yet."""
    groups = remote.client.xinfo_groups(events_channel.STREAM)
    return sum(int(g.get("lag") or 0) + int(g.get("pending") or 0) for g in groups)


def test_a_message_that_cannot_be_recorded_does_not_block_the_rest(tmp_path, broker):
    droid = Droid(tmp_path, broker_url=broker.url)
    try:
        run, _ = droid.store.runs.create(channel="CDEV", trigger_ts="1.1", thread_ts="1.1", requester="UALICE",
                                         skill="question", task="t")
        side = events_channel.WorkerSide(events_channel.connect(broker.url), run.run_id, 0)
        side.send("event", broken=True)                                   # no event kind: cannot be recorded
        side.send("event", event_kind="note", event={"text": "after"})
        wait_for(lambda: droid.store.events.for_run(run.run_id, "note"), 10, what="the later message recorded")
        wait_for(lambda: broker_backlog(droid.deps.runner.remote) == 0 or None, 5, what="both acknowledged")
    finally:
        droid.close()
