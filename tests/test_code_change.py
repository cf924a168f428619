"""The code-change droid end to end: a scripted model fixes a failing test; droid tests, pushes, opens the PR.

Real git (a bare repository as origin), the real PyGithub and jira clients against stub servers, the
real anthropic SDK against the scripted Messages API stub, the real Bolt app with signed requests.
"""

from __future__ import annotations

import json

import pytest

from integrations.llm import AnthropicLLM
from tests.harness import Droid, wait_for
from tests.repos import git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub

PLANTED = "xoxb-998877665544-plantedsecretvalue"
FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    "other.py": "VALUE = 1\n",
    "tests/test_calc.py": ("from calc import add\n\n\ndef test_add():\n"
                           f"    print('debug token {PLANTED}')\n    assert add(2, 3) == 5\n"),
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n",
}
PLAN = {"goal": "Make add() add", "steps": [{"title": "Locate add"}, {"title": "Fix it"}, {"title": "Run the tests"}],
        "touches": ["calc.py"], "risks": ["small change"]}
KEY = "sk-ant-test-key-00000000000000000000"


@pytest.fixture
def world(tmp_path, fixtures_dir, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    seed = make_repo(tmp_path / "seed", FILES)
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp_path / "gh") as github, \
            JiraStub(fixtures_dir / "jira" / "api") as jira:
        origin = github.host("acme/calc", seed, default_branch="main")
        jira.load("get_issue.v2.server.json", key="CALC-7")
        llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
        from bot.settings import Routing
        droid = Droid(tmp_path, llm=llm, anthropic_url=model.url,
                      routing=Routing(default_repo="acme/calc"),
                      github_token=github.token, github_api_url=github.url, github_url=github.url,
                      jira_url=jira.url, jira_user=jira.user, jira_token=jira.token,
                      workspace_dir=str(tmp_path / "workspaces"))
        droid.deps.redact.add(PLANTED)
        yield droid, model, github, jira, origin
        droid.close()


def approve(droid, version=1):
    post = wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith(f"Plan v{version} ")
                                  and droid.buttons(p)), None), what=f"plan v{version}")
    droid.click("droid_approve", droid.buttons(post)["droid_approve"])
    return post


def start(droid, text):
    _, ts = droid.mention(text)
    run = droid.run_for("CDEV", ts)
    return droid.wait_state(run.run_id, "awaiting_approval", "failed"), ts


def test_scripted_agent_fixes_a_failing_test_and_opens_the_pr(world):
    droid, model, github, jira, origin = world
    model.add(
        Turn.tool_use("submit_plan", PLAN, expect="CALC-7"),
        Turn.tool_use("search_code", {"query": "add function"}),
        Turn.tool_use("run", {"command": "python -m pytest -q"}, expect="calc.py"),
        Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                    "new_str": "return a + b"}, expect="1 failed"),
        Turn.tool_use("run", {"command": "python -m pytest -q"}, expect="a + b"),
        Turn.tool_use("final_answer", {"text": "Fixed add(): it subtracted (`calc.py:2`)."}, expect="1 passed"),
    )
    run, ts = start(droid, "fix CALC-7: add() returns the wrong result")
    assert run.skill == "code_change" and run.context["jira_key"] == "CALC-7"
    approve(droid)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    model.assert_done()

    pr = github.pulls["acme/calc"][0]
    assert pr["head"]["ref"].startswith("droid/CALC-7-") and pr["head"]["ref"].endswith(f"-{run.run_id}")
    assert pr["base"]["ref"] == "main" and pr["title"].startswith("CALC-7: ")
    body = pr["body"]
    assert "Approved plan (v1" in body and "Locate add" in body and "passed" in body and "calc.py" in body
    link = wait_for(lambda: [p for p in droid.posts() if pr["html_url"] in p["text"]], what="PR link in thread")
    assert link[0]["thread_ts"] == ts
    branches = git(origin, "branch", "--list")
    assert pr["head"]["ref"] in branches
    assert "return a - b" in git(origin, "show", "main:calc.py")          # default branch untouched
    assert "return a + b" in git(origin, "show", f"{pr['head']['ref']}:calc.py")
    wait_for(lambda: pr["html_url"] in json.dumps(jira.comments.get("CALC-7")), what="PR link on the ticket")
    # the planted token printed by the failing test reached neither the model, Slack, the PR nor Jira
    assert PLANTED not in json.dumps(model.requests)
    assert PLANTED not in json.dumps([c.args for c in droid.slack.calls])
    assert PLANTED not in body and PLANTED not in json.dumps(jira.comments)
    assert PLANTED not in git(origin, "log", "--all", "--format=%B")
    kinds = [e.kind for e in droid.store.events.for_run(run.run_id)]
    assert {"workspace", "tool_call", "tests", "pushed", "pull_request", "ticket_write"} <= set(kinds)


def test_widening_revision_waits_and_touches_nothing_outside_the_plan(world):
    droid, model, github, jira, origin = world
    model.add(
        Turn.tool_use("submit_plan", PLAN),
        Turn.tool_use("edit_file", {"path": "other.py", "command": "str_replace", "old_str": "VALUE = 1",
                                    "new_str": "VALUE = 2"}),
        Turn.tool_use("revise_plan", {"steps": ["Also update other.py"], "reason": "VALUE must change too",
                                      "touches": ["calc.py", "other.py"]}, expect="outside the approved plan"),
    )
    run, _ = start(droid, "fix add and VALUE")
    approve(droid)
    run = droid.wait_state(run.run_id, "awaiting_approval")
    while run.plan_version < 2:
        run = droid.wait_state(run.run_id, "awaiting_approval")
    workspace = droid.store.runs.get(run.run_id).context["workspace"]["path"]
    from pathlib import Path
    assert (Path(workspace) / "other.py").read_text() == "VALUE = 1\n"     # the refused edit changed nothing
    model.add(
        Turn.tool_use("edit_file", {"path": "other.py", "command": "str_replace", "old_str": "VALUE = 1",
                                    "new_str": "VALUE = 2"}, expect="other.py"),
        Turn.tool_use("final_answer", {"text": "VALUE updated."}),
    )
    approve(droid, 2)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    assert "VALUE = 2" in git(origin, "show", f"{github.pulls['acme/calc'][0]['head']['ref']}:other.py")
    model.assert_done()


def test_budget_reached_pauses_with_extend_and_stop(world):
    droid, model, github, jira, origin = world
    droid.deps.runner.settings = droid.settings = _with(droid.settings, max_steps=2)
    model.add(
        Turn.tool_use("submit_plan", PLAN),
        Turn.tool_use("view_file", {"path": "calc.py"}),
        Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                    "new_str": "return a + b"}),
    )
    run, _ = start(droid, "fix add")
    approve(droid)
    paused = wait_for(lambda: [p for p in droid.posts() if "paused at the step limit" in p["text"]], what="pause")
    assert set(droid.buttons(paused[0])) == {"droid_approve", "droid_cancel"}
    assert [e["text"]["text"] for b in paused[0]["blocks"] if b["type"] == "actions" for e in b["elements"]] == [
        "Extend", "Stop"]
    run = droid.wait_state(run.run_id, "awaiting_approval")
    model.add(Turn.tool_use("final_answer", {"text": "add() fixed."}, expect="Progress"))
    droid.click("droid_approve", droid.buttons(paused[0])["droid_approve"])
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    assert "return a + b" in git(origin, "show", f"{github.pulls['acme/calc'][0]['head']['ref']}:calc.py")


def _with(settings, **changes):
    import dataclasses
    return dataclasses.replace(settings, **changes)


def test_reply_in_the_thread_steers_the_running_agent(world):
    droid, model, github, jira, origin = world
    import threading
    reached, release = threading.Event(), threading.Event()

    def hold(body):
        reached.set()
        assert release.wait(10)

    model.add(
        Turn.tool_use("submit_plan", PLAN),
        Turn.tool_use("view_file", {"path": "calc.py"}, expect=hold),
        Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                    "new_str": "return a + b"}, expect="keep the signature"),
        Turn.tool_use("final_answer", {"text": "Done, signature kept."}),
    )
    run, ts = start(droid, "fix add")
    approve(droid)
    assert reached.wait(10)
    from bot.slack import payloads
    reply = droid.slack.add_user_message("CDEV", "UALICE", "please keep the signature of add()", ts)
    event = {**reply, "channel": "CDEV", "channel_type": "channel", "event_ts": reply["ts"]}
    assert droid.dispatch(payloads.event_callback(event, team="T0DROID")).status == 200
    wait_for(lambda: droid.store.events.for_run(run.run_id, "follow_up"), what="steering recorded")
    release.set()
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    model.assert_done()
    assert any(c.args.get("timestamp") == reply["ts"] for c in droid.slack.calls_to("reactions.add"))
