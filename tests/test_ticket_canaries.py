"""Canary secrets in tickets that START runs (Jira webhook, GitHub issue webhook, Jira poll) reach no sink.

The canaries (tests/canaries.py) are planted in every text field a tracker sends: the summary, an ADF
description, labels, components, the reporter's display name, a GitHub issue's title and body, the
webhook's own envelope. The run goes all the way to a pull request with the scripted model; then every
sink is read: Slack calls, model requests, what droid wrote to Jira (comments, remote links) and GitHub
(PR title and body, comments), git (branch names, commit messages), the SQLite file and its WAL
(runs, events, ticket_triggers, ticket_writes, outbox), and the log, including webhooks that were refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging

import pytest
import requests

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.tickets.jira_poll import poll_jira
from bot.tickets.routes import ticket_routes
from integrations.llm import AnthropicLLM
from tests.canaries import CANARIES, leaks, planted
from tests.harness import Droid, wait_for
from tests.repos import git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub

JIRA_SECRET = "canary-jira-webhook-secret-0123"
GITHUB_SECRET = "canary-github-webhook-secret-0123"
MODEL_KEY = "sk-ant-test-key-00000000000000000000"
REPORTER = "reporter@example.com"
FILES = {"calc.py": "def add(a, b):\n    return a - b\n",
         "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
         "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n"}
PLAN = {"goal": "Make add() add", "steps": [{"title": "Fix add"}], "touches": ["calc.py"]}
ONE_LINE = CANARIES["github_pat"][0]            # a token that fits where no spaces may go (labels, names)


def edits():
    return (Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                        "new_str": "return a + b"}),
            Turn.tool_use("final_answer", {"text": "Fixed add()."}))


@pytest.fixture
def world(tmp_path, fixtures_dir, monkeypatch, caplog):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    caplog.set_level(logging.DEBUG)
    seed = make_repo(tmp_path / "seed", FILES)
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp_path / "gh") as github, \
            JiraStub(fixtures_dir / "jira" / "api") as jira:
        origin = github.host("acme/calc", seed, default_branch="main")
        jira.load("get_issue.v2.server.json", key="PAY-142")
        llm = AnthropicLLM(api_key=MODEL_KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
        routing = Routing(default_repo="acme/calc", approvers=("UBOSS",), jira_projects={"PAY": "CPAY"},
                          github_repos={"CPAY": "acme/calc"})
        droid = Droid(tmp_path, llm=llm, anthropic_url=model.url, routing=routing, github_token=github.token,
                      github_api_url=github.url, github_url=github.url, jira_url=jira.url, jira_user=jira.user,
                      jira_token=jira.token, workspace_dir=str(tmp_path / "workspaces"),
                      jira_webhook_secret=JIRA_SECRET, github_webhook_secret=GITHUB_SECRET)
        droid.slack.register_email(REPORTER, "UALICE")
        server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes=ticket_routes(droid.deps)).start()
        droid.url = f"http://127.0.0.1:{server.port}"
        try:
            yield droid, model, github, jira, origin, tmp_path
        finally:
            server.shutdown()
            with contextlib.suppress(Exception):
                droid.close()


def adf(text: str) -> dict:
    paragraphs = [{"type": "paragraph", "content": [{"type": "text", "text": line}]} for line in text.splitlines()]
    return {"type": "doc", "version": 1, "content": [
        *paragraphs, {"type": "codeBlock", "content": [{"type": "text", "text": planted()}]},
        {"type": "paragraph", "content": [{"type": "mention", "attrs": {"id": "x", "text": ONE_LINE}},
                                          {"type": "text", "text": "link", "marks": [
                                              {"type": "link", "attrs": {"href": CANARIES["slack_webhook"][0]}}]}]}]}


def jira_payload(fixtures_dir) -> dict:
    payload = json.loads((fixtures_dir / "jira/webhooks/cloud/jira_issue_updated.labels_changed.cloud.mattermost.json")
                         .read_text())
    fields = payload["issue"]["fields"]
    payload["issue"]["key"], fields["project"]["key"] = "PAY-142", "PAY"
    payload["changelog"] = {"id": "777", "items": [{"field": "labels", "fromString": "", "toString": "droid"}]}
    fields.update(labels=["droid", ONE_LINE], summary=f"add() subtracts {CANARIES['stripe'][0]}",
                  description=adf(planted()), components=[{"name": ONE_LINE}],
                  reporter={"displayName": f"Eve {CANARIES['aws_key_id'][0]}", "emailAddress": REPORTER})
    payload["user"] = {"displayName": planted(" ")}
    return payload


def post(droid, path: str, body: bytes, headers: dict) -> requests.Response:
    return requests.post(droid.url + path, data=body, headers={"Content-Type": "application/json", **headers}, timeout=15)


def signed(secret: str, body: bytes, header: str) -> dict:
    return {header: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def ship(droid, run_id: str, channel: str = "CPAY"):
    """Approve the ticket run's plan as its requester and wait for the end."""
    droid.wait_state(run_id, "awaiting_approval", timeout=30)
    plan = droid.plan_post(channel, timeout=10)
    message = next(m for m in droid.slack.messages[channel] if m.get("blocks") == plan.get("blocks"))
    droid.click("droid_approve", droid.buttons(plan)["droid_approve"], user="UALICE", channel=channel,
                message_ts=message["ts"])
    return droid.wait_state(run_id, "succeeded", "failed", timeout=90)


def sinks(droid, model, github, jira, origin, tmp_path, caplog) -> dict:
    """Everything droid wrote anywhere, as text."""
    droid.deps.runner.shutdown(wait=True)
    db = tmp_path / "droid.db"
    wal = db.with_name("droid.db-wal")
    refs = git(origin, "for-each-ref", "--format=%(refname)")
    return {
        "slack": json.dumps([c.args for c in droid.slack.calls], ensure_ascii=False),
        "model": json.dumps(model.requests, ensure_ascii=False),
        "jira writes": "\n".join(r.body.decode("utf-8", "replace") for r in jira.requests if r.method != "GET"),
        "github writes": "\n".join(r.body.decode("utf-8", "replace") for r in github.requests if r.method != "GET"),
        "git": refs + git(origin, "log", "--all", "--format=%s%n%b"),
        "database": db.read_bytes() + (wal.read_bytes() if wal.exists() else b""),
        "log": "\n".join(r.getMessage() + (str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records),
    }


def assert_no_leak(seen: dict) -> None:
    for name, text in seen.items():
        assert not leaks(text), f"{name} leaked {leaks(text)[:3]}"


def test_canaries_in_a_jira_webhook_ticket_reach_no_sink(world, fixtures_dir, caplog):
    droid, model, github, jira, origin, tmp_path = world
    model.add(Turn.tool_use("submit_plan", PLAN, expect="<ticket>"), *edits())
    body = json.dumps(jira_payload(fixtures_dir)).encode()
    # refused deliveries carrying the canaries first: a bad signature, a malformed issue, a replay
    assert post(droid, "/jira/webhook", body, {"X-Hub-Signature": "sha256=" + "0" * 64}).status_code == 401
    broken = json.loads(body)
    broken["issue"]["key"] = f"PAY-1 {planted(' ')}"
    raw = json.dumps(broken).encode()
    assert post(droid, "/jira/webhook", raw, signed(JIRA_SECRET, raw, "X-Hub-Signature")).status_code == 400
    headers = {**signed(JIRA_SECRET, body, "X-Hub-Signature"), "X-Atlassian-Webhook-Identifier": ONE_LINE}
    assert post(droid, "/jira/webhook", body, headers).text == "accepted"
    run = wait_for(lambda: droid.store.runs.in_states("received", "planning", "awaiting_approval"), what="the run")[0]
    assert run.requester == "UALICE"
    run = ship(droid, run.run_id)
    assert run.state == "succeeded", run.result
    pr = github.pulls["acme/calc"][0]
    assert pr["title"].startswith("PAY-142: ") and pr["head"]["ref"].startswith("droid/PAY-142-")
    wait_for(lambda: len(jira.comments.get("PAY-142", [])) >= 3, timeout=20, what="the ticket comments")
    wait_for(lambda: jira.remote_links.get("PAY-142"), what="the remote link")
    seen = sinks(droid, model, github, jira, origin, tmp_path, caplog)
    assert "[REDACTED]" in seen["model"] and "subtracts" in seen["model"]     # the ticket did reach the model
    assert_no_leak(seen)


def test_canaries_in_a_github_issue_reach_no_sink(world, fixtures_dir, caplog):
    droid, model, github, jira, origin, tmp_path = world
    model.add(Turn.tool_use("submit_plan", PLAN, expect="<ticket>"), *edits())
    payload = json.loads((fixtures_dir / "github/webhooks/issues.labeled.json").read_text())
    payload["label"]["name"] = "droid"
    payload["repository"]["full_name"] = "acme/calc"
    payload["issue"].update(number=12, title=f"add() subtracts {CANARIES['stripe'][0]}",
                            body=f"It subtracts.\n{planted()}", user={"login": ONE_LINE, "id": 1,
                                                                        "email": REPORTER})
    body = json.dumps(payload).encode()
    headers = {**signed(GITHUB_SECRET, body, "X-Hub-Signature-256"), "X-GitHub-Event": "issues",
               "X-GitHub-Delivery": CANARIES["npm"][0]}
    assert post(droid, "/github/webhook", body, headers).text == "accepted"
    run = wait_for(lambda: droid.store.runs.in_states("received", "planning", "awaiting_approval"), what="the run")[0]
    run = ship(droid, run.run_id)
    assert run.state == "succeeded", run.result
    pr = github.pulls["acme/calc"][0]
    assert "Fixes #12" in pr["body"] and pr["head"]["ref"].startswith("droid/issue-12-")
    seen = sinks(droid, model, github, jira, origin, tmp_path, caplog)
    assert "[REDACTED]" in seen["model"]
    assert_no_leak(seen)


def test_canaries_in_a_polled_ticket_reach_no_sink_until_the_plan(world, fixtures_dir, caplog):
    droid, model, github, jira, origin, tmp_path = world
    model.add(Turn.tool_use("submit_plan", PLAN, expect="<ticket>"))
    jira.deployment = "Cloud"
    issue = jira_payload(fixtures_dir)["issue"]
    issue["changelog"] = {"histories": [{"id": "9", "created": "2025-01-01T00:00:00.000+0000",
                                         "items": [{"field": "labels", "fromString": "", "toString": "droid"}]}]}
    jira.add_issue(issue, "PAY-142")
    (run_id,) = poll_jira(droid.deps)
    droid.wait_state(run_id, "awaiting_approval", timeout=30)
    wait_for(lambda: jira.comments.get("PAY-142"), timeout=20, what="the thread link on the ticket")
    assert_no_leak(sinks(droid, model, github, jira, origin, tmp_path, caplog))
