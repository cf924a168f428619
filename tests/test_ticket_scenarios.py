"""Tickets end to end, across the parts: intake → context → repository choice → conventions → plan → approval →
the change → the pull request → write-back, then the poll and a restart seeing the same ticket.

The real Bolt app (signed requests) and HTTP server (signed webhooks), the real `jira`, PyGithub and anthropic
clients against the stubs, real git (the GitHub stub's bare repositories as origins), real SQLite; the routing
is read from a YAML file exactly as `DROID_CONFIG` is.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path

import pytest
import requests

from bot.orchestration.recovery import recover
from bot.settings import Settings
from bot.slack.http_server import DroidHTTPServer
from bot.tickets.jira_poll import poll_jira
from bot.tickets.routes import ticket_routes
from integrations.llm import AnthropicLLM
from tests.harness import Droid, wait_for
from tests.repos import git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub

JIRA_SECRET = "jira-cloud-webhook-secret-0123"
GITHUB_SECRET = "github-webhook-secret-0123"
USER, TOKEN = "droid@example.com", "jira-api-token-abcdef123"
KEY = "sk-ant-test-key-00000000000000000000"
REPORTER = "dana@acme.example"
LABELLED = "jira/webhooks/cloud/jira_issue_updated.labels_changed.cloud.mattermost.json"
ACCEPTANCE_FIELD = "customfield_10042"

PAYMENTS = {
    "payments/refunds.py": "def issue_refund(charge, amount):\n    return (charge, -amount)\n",
    "README.md": "# payments service\n",
}
WEB_AGENTS = """# Storefront agent guide

Labels are sentence case.

## Testing
Run `python -m pytest -q tests/web_checks` before you finish.
"""
WEB = {
    "AGENTS.md": WEB_AGENTS,
    "storefront/checkout_label.py": ("def checkout_label(items):\n"
                                     "    \"\"\"The checkout button's label for an empty or full basket.\"\"\"\n"
                                     "    return 'Proceed to checkout' if items else 'Your basket is empty'\n"),
    "tests/web_checks/test_label.py": ("from storefront.checkout_label import checkout_label\n\n\n"
                                       "def test_empty():\n    assert checkout_label([]) == 'Your cart is empty'\n"),
    "tests/test_everything_else.py": "def test_never_run_by_droid():\n    raise SystemExit('discovery ran')\n",
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n",
}
DESCRIPTION_PHRASE = "customers in the UK call it a cart, not a basket"
ACCEPTANCE = "An empty cart shows 'Your cart is empty'"


def adf(*paragraphs: str) -> dict:
    return {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs]}


def routing_yaml(pay: Path, web: Path) -> str:
    """The routing file of the README's Tickets example, with this test's paths."""
    return f"""
channels:
  CPAY:
    repos: [{pay}, {{repo: {web}, github: acme/web}}]
    approvers: [ULEAD]
  CWEB: {{repo: {web}, github: acme/web}}
jira_projects: {{PAY: CPAY}}
ticket_repos: {{Storefront: web, Refunds: payments}}
approvers: [UBOSS]
"""


@pytest.fixture
def world(tmp_path, fixtures_dir, monkeypatch):
    """make(**settings) → a Droid with its HTTP server; model, github, jira stubs; the two repositories."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    made: list = []
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp_path / "gh") as github, \
            JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as jira:
        jira.deployment = "Cloud"
        jira.field_names = {ACCEPTANCE_FIELD: "Acceptance Criteria"}
        pay = make_repo(tmp_path / "srv" / "payments", PAYMENTS)
        origin = github.host("acme/web", make_repo(tmp_path / "seed", WEB), default_branch="main")
        web = tmp_path / "srv" / "web"          # droid's local checkout of acme/web, cloned from GitHub
        git(tmp_path, "clone", "-q", str(origin), str(web))
        config = tmp_path / "droid.yml"
        config.write_text(routing_yaml(pay, web))
        routing = Settings.from_env({"DROID_CONFIG": str(config)}).routing

        def make(standin=None, **overrides):
            llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
            values = dict(llm=llm, anthropic_url=model.url, routing=routing, github_token=github.token,
                          github_api_url=github.url, github_url=github.url, jira_url=jira.url, jira_user=USER,
                          jira_token=TOKEN, jira_webhook_secret=JIRA_SECRET, github_webhook_secret=GITHUB_SECRET,
                          workspace_dir=str(tmp_path / "workspaces"), db=tmp_path / "droid.db", standin=standin)
            droid = Droid(tmp_path, **{**values, **overrides})
            droid.server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes=ticket_routes(droid.deps)).start()
            droid.url = f"http://127.0.0.1:{droid.server.port}"
            made.append(droid)
            return droid

        yield make, model, github, jira, {"payments": pay, "web": web, "origin": origin}
        for droid in made:
            stop(droid, slack=True)


def stop(droid, slack: bool = False) -> None:
    """Stop one droid process (its HTTP server, runner, database); the Slack workspace lives on unless `slack`."""
    if getattr(droid, "stopped", False):
        return
    droid.stopped = True
    droid.server.shutdown()
    droid.deps.runner.shutdown(wait=True)
    droid.store.database.close()
    if slack:
        droid.slack.stop()


def pay_142(jira, history: str = "20001") -> dict:
    """PAY-142 as Jira Cloud serves it (v3: ADF description, acceptance criteria in a custom field)."""
    raw = json.loads((jira.fixtures / "get_issue.v3.adf.minimal.jira-cli.json").read_text())
    raw["fields"].update(
        summary="Checkout button says basket", labels=["droid"], project={"key": "PAY", "name": "Payments"},
        components=[{"name": "Storefront"}], status={"name": "To Do"},
        description=adf("The empty checkout button reads 'Your basket is empty'.",
                        f"Product: {DESCRIPTION_PHRASE}."),
        reporter={"displayName": "Dana", "emailAddress": REPORTER, "accountId": "acc-dana"},
        **{ACCEPTANCE_FIELD: adf(ACCEPTANCE)})
    raw["changelog"] = {"histories": [{"id": history, "created": "2026-12-01T10:00:00.000+0000",
                                       "items": [{"field": "labels", "fromString": "", "toString": "droid"}]}]}
    return jira.add_issue(raw, "PAY-142")


def labelled(fixtures_dir, issue: dict, history: str = "20001") -> dict:
    """Jira Cloud's `jira:issue_updated` for the label change; its issue in the webhook's own (v2) shape."""
    payload = json.loads((fixtures_dir / LABELLED).read_text())
    sent = copy.deepcopy(issue)
    sent.pop("changelog", None)
    sent["fields"]["description"] = "The empty checkout button reads 'Your basket is empty'. Product: " \
                                    f"{DESCRIPTION_PHRASE}."
    sent["fields"].pop(ACCEPTANCE_FIELD, None)           # webhooks carry no field names: it is just a custom field
    payload["issue"] = sent
    payload["changelog"] = {"id": history, "items": [{"field": "labels", "fieldtype": "jira", "fieldId": "labels",
                                                      "fromString": "", "toString": "droid"}]}
    return payload


def signed_post(droid, path: str, payload: dict, secret: str, header: str, extra: dict | None = None):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return requests.post(droid.url + path, data=body, timeout=10,
                         headers={"Content-Type": "application/json", header: signature, **(extra or {})})


def all_runs(droid) -> list:
    return droid.store.runs.in_states("received", "planning", "awaiting_approval", "executing", "succeeded",
                                      "failed", "cancelled", "rejected", "expired")


def plan_message(droid, channel: str) -> dict:
    """The top-level plan message in Slack (with its ts), once posted."""
    return wait_for(lambda: next((m for m in droid.slack.messages.get(channel, [])
                                  if "droid_approve" in json.dumps(m.get("blocks")) and not m.get("thread_ts")), None),
                    what=f"a top-level plan in {channel}")


def click(droid, message: dict, action: str, user: str, channel: str) -> None:
    droid.click(action, droid.buttons(message)[action], user=user, channel=channel, message_ts=message["ts"])


def context_lines(message: dict) -> str:
    return "\n".join(e.get("text", "") for b in message.get("blocks") or [] if b["type"] == "context"
                     for e in b["elements"])


def settled(droid, run_id: str, *purposes: str, timeout: float = 15) -> dict:
    def ready():
        rows = {w.purpose: w for w in droid.store.ticket_writes.for_run(run_id)}
        return all(p in rows and rows[p].state != "claimed" for p in purposes) and rows
    return wait_for(ready, timeout, what=f"ticket writes {purposes}")


def with_marker(jira, key: str, purpose: str) -> list[dict]:
    return [c for c in jira.comments.get(key, []) if c["body"].endswith(f"· {purpose}]")]


PLAN = {"goal": "Say cart, not basket, on the empty checkout button",
        "steps": [{"title": "Change the label in storefront/checkout_label.py"}, {"title": "Run the web checks"}],
        "touches": ["storefront/checkout_label.py"], "risks": ["copy change only"]}
EDIT = Turn.tool_use("edit_file", {"path": "storefront/checkout_label.py", "command": "str_replace",
                                   "old_str": "Your basket is empty", "new_str": "Your cart is empty"},
                     expect="Labels are sentence case")
DONE = Turn.tool_use("final_answer", {"text": "The empty basket label now says cart."})


def expects_ticket(body: dict) -> None:
    """The planning request carries the ticket: its description (from ADF), acceptance criteria, conventions."""
    text = json.dumps(body)
    assert DESCRIPTION_PHRASE in text, "the description"
    assert ACCEPTANCE.replace("'", "\\u0027") in text or ACCEPTANCE in text, "the acceptance criteria"
    assert "Labels are sentence case" in text, "repo b's AGENTS.md"


# ---- 1. the issue's scenario: a signed Jira Cloud webhook → a PR on repo b, the ticket told each step ----------

def test_jira_webhook_to_pull_request_across_every_part(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make(jira_transition_on_approve="close issue", jira_transition_on_review="qa review")
    droid.slack.register_email(REPORTER, "UDANA")
    issue = pay_142(jira)
    model.add(Turn.tool_use("submit_plan", PLAN, expect=expects_ticket), EDIT, DONE)

    response = signed_post(droid, "/jira/webhook", labelled(fixtures_dir, issue), JIRA_SECRET, "X-Hub-Signature",
                           {"X-Atlassian-Webhook-Identifier": "wh-1"})
    assert (response.status_code, response.text) == (200, "accepted")
    plan = plan_message(droid, "CPAY")
    (run,) = all_runs(droid)
    run = droid.wait_state(run.run_id, "awaiting_approval")
    assert run.requester == "UDANA" and run.thread_ts == run.plan_ts == plan["ts"]
    # the plan names the ticket (key, title, link), repo b and why, and the conventions file it read
    shown = json.dumps(plan["blocks"])
    assert "PAY-142" in plan["text"] and "Checkout button says basket" in shown
    assert f"{jira.url}/browse/PAY-142" in shown
    lines = context_lines(plan)
    assert "`acme/web`" in lines and "component `Storefront`" in lines
    assert "Conventions read: AGENTS.md" in shown
    assert run.repo == str(repos["web"]) and run.context["github_repo"] == "acme/web"
    # the webhook's copy of the ticket was read in full while planning (ADF, the acceptance-criteria field)
    assert [e.data["ok"] for e in droid.store.events.for_run(run.run_id, "ticket_read")] == [True]
    assert run.context["ticket"]["acceptance"] == ACCEPTANCE

    # Jira: one comment linking the thread (the top-level plan message's permalink)
    settled(droid, run.run_id, "thread")
    permalink = f"https://droid-console.slack.com/archives/CPAY/p{plan['ts'].replace('.', '')}"
    (thread,) = jira.comments["PAY-142"]
    assert permalink in thread["body"]

    click(droid, plan, "droid_approve", "UDANA", "CPAY")
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    model.assert_done()
    (tests,) = [e.data for e in droid.store.events.for_run(run.run_id, "tests")]
    assert tests["command"] == "python -m pytest -q tests/web_checks" and tests["exit_code"] == 0
    (pr,) = github.pulls["acme/web"]
    assert pr["head"]["ref"].startswith("droid/PAY-142-") and pr["title"] == "PAY-142: Checkout button says basket"
    assert "Your cart is empty" in git(repos["origin"], "show", f"{pr['head']['ref']}:storefront/checkout_label.py")

    rows = settled(droid, run.run_id, "thread", "transition_approve", "approved", "pull_request", "remote_link",
                   "transition_review")
    assert {p: w.state for p, w in rows.items()} == dict.fromkeys(rows, "done")
    assert [c["body"].rsplit("· ", 1)[1] for c in jira.comments["PAY-142"]] == ["thread]", "approved]",
                                                                                "pull_request]"]
    assert pr["html_url"] in with_marker(jira, "PAY-142", "pull_request")[0]["body"]
    (link,) = jira.remote_links["PAY-142"]
    assert link["globalId"] == pr["html_url"]
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/transitions", "POST")) == 2
    assert jira.issues["PAY-142"]["fields"]["status"]["name"] == "Closed"
    result = wait_for(lambda: [m for m in droid.slack.messages["CPAY"]
                               if m.get("thread_ts") == plan["ts"] and pr["html_url"] in m.get("text", "")],
                      what="the PR in the thread")
    assert len(result) == 1

    # the poll sees the same ticket (the same label change): no second run
    assert poll_jira(droid.deps) == []
    assert len(all_runs(droid)) == 1
    # a restart: a second droid on the same database and the same Slack workspace
    droid.deps.runner.deliverer.drain(5)
    posts, writes = len(droid.slack.calls_to("chat.postMessage")), len(jira.requests)
    jira_writes = [r for r in jira.requests if r.method in ("POST", "PUT")]
    stop(droid)
    again = make(standin=droid.slack, jira_transition_on_approve="close issue", jira_transition_on_review="qa review")
    recover(again.deps)
    assert poll_jira(again.deps) == []
    again.deps.runner.executor.submit(lambda: None).result()
    again.deps.runner.deliverer.drain(5)
    assert len(again.slack.calls_to("chat.postMessage")) == posts
    assert [r for r in jira.requests if r.method in ("POST", "PUT")] == jira_writes
    assert len(jira.requests) >= writes and len(all_runs(again)) == 1


# ---- 2. the same from a GitHub issue labelled `droid` -----------------------------------------------------------

def test_github_issue_webhook_to_pull_request_that_fixes_it(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make()
    issue = github.add_issue("acme/web", 7, comments=[], html_host=github.url, title="Checkout button says basket",
                             body=f"The empty checkout button reads 'Your basket is empty'; {DESCRIPTION_PHRASE}.")
    payload = json.loads((fixtures_dir / "github" / "webhooks" / "issues.labeled.json").read_text())
    payload["issue"].update(number=7, title=issue["title"], body=issue["body"], html_url=issue["html_url"])
    payload["repository"].update(full_name="acme/web", name="web")
    payload["label"]["name"] = "droid"
    model.add(Turn.tool_use("submit_plan", PLAN, expect=lambda body: DESCRIPTION_PHRASE in json.dumps(body)), EDIT, DONE)

    response = signed_post(droid, "/github/webhook", payload, GITHUB_SECRET, "X-Hub-Signature-256",
                           {"X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1"})
    assert (response.status_code, response.text) == (200, "accepted")
    plan = plan_message(droid, "CWEB")               # the channel whose `github:` is acme/web
    (run,) = all_runs(droid)
    assert "acme/web#7" in plan["text"] and f"{github.url}/acme/web/issues/7" in json.dumps(plan["blocks"])
    assert run.requester == "" and not droid.posts("CPAY")
    click(droid, plan, "droid_approve", "UBOSS", "CWEB")
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    (pr,) = github.pulls["acme/web"]
    assert "Fixes #7" in pr["body"] and pr["head"]["ref"].startswith("droid/issue-7-")
    settled(droid, run.run_id, "thread", "approved", "pull_request")
    comments = [c["body"] for c in github.issue_comments[("acme/web", 7)]]
    assert len(comments) == 3 and [c for c in comments if pr["html_url"] in c] == [comments[-1]]
    assert not jira.comments


# ---- 3. a mention in a thread that links the ticket, with no model ---------------------------------------------

def test_mention_with_the_ticket_in_the_thread_and_no_model(world):
    make, model, github, jira, repos = world
    droid = make(llm=None, anthropic_url=None)
    pay_142(jira)
    parent = droid.slack.add_user_message("CPAY", "UALICE", f"Can someone look at <{jira.url}/browse/PAY-142>?")
    droid.mention("fix PAY-142", channel="CPAY", thread_ts=parent["ts"])
    run = droid.wait_state(droid.run_for("CPAY", parent["ts"]).run_id, "awaiting_approval", "failed")
    assert run.state == "awaiting_approval", run.result
    plan = wait_for(lambda: next((p for p in droid.posts("CPAY") if p["text"].startswith("Plan v1")), None),
                    what="the plan")
    shown = json.dumps(plan["blocks"])
    assert "PAY-142" in shown and "Checkout button says basket" in shown and f"{jira.url}/browse/PAY-142" in shown
    assert "Search results for PAY-142" in shown and "storefront/checkout_label.py" in shown
    assert "PAY-142 asks: The empty checkout button reads" in shown        # the description (ADF), first step
    assert f"Acceptance criteria: {ACCEPTANCE}" in shown                  # on the testing step
    assert "Conventions read: AGENTS.md" in shown and "`acme/web`" in context_lines(plan)
    assert run.repo == str(repos["web"]) and run.context["repo_choice"]["by"] == "ticket"
    droid.click("droid_approve", droid.buttons(plan)["droid_approve"], channel="CPAY")
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    result = wait_for(lambda: [p["text"] for p in droid.posts("CPAY") if p.get("thread_ts") == parent["ts"]
                               and "ANTHROPIC_API_KEY" in p["text"]], what="the no-model result")
    assert "ANTHROPIC_API_KEY" in result[0] and not github.pulls["acme/web"]


# ---- 4. approvers only, when the reporter is nobody in Slack ----------------------------------------------------

def test_reporter_without_a_slack_user_leaves_the_decision_to_approvers(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make(llm=None, anthropic_url=None)          # the reporter's email is not registered in Slack
    issue = pay_142(jira)
    signed_post(droid, "/jira/webhook", labelled(fixtures_dir, issue), JIRA_SECRET, "X-Hub-Signature")
    plan = plan_message(droid, "CPAY")
    (run,) = all_runs(droid)
    run = droid.wait_state(run.run_id, "awaiting_approval")
    assert run.requester == ""
    assert "requested by PAY-142 (its reporter is nobody in Slack: an approver decides)" in context_lines(plan)
    from bot.orchestration.schedules import remind_pending_plans
    assert remind_pending_plans(droid.deps, 0, now=run.updated_at + 1) == [run.run_id]
    nudge = wait_for(lambda: [p["text"] for p in droid.posts("CPAY") if p["text"].startswith("⏰")], what="reminder")
    assert "UBOSS" in nudge[0] and "ULEAD" in nudge[0] and "someone" not in nudge[0]
    click(droid, plan, "droid_approve", "UOUTSIDER", "CPAY")
    refusal = wait_for(lambda: [e["text"] for e in droid.slack.ephemerals if e["user"] == "UOUTSIDER"],
                       what="the outsider's refusal")
    assert "Nothing was changed" in refusal[0] and droid.store.runs.get(run.run_id).state == "awaiting_approval"
    click(droid, plan, "droid_approve", "ULEAD", "CPAY")       # the channel's approver
    run = droid.wait_state(run.run_id, "succeeded", "failed")
    assert run.approved_by == "ULEAD"
    assert [e.data["user"] for e in droid.store.events.for_run(run.run_id, "refused")] == ["UOUTSIDER"]


# ---- 5. Jira's workflow without the transitions; Jira down for the whole run ------------------------------------

def test_transitions_the_workflow_lacks_are_skipped(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make(jira_transition_on_approve="Start Progress", jira_transition_on_review="In Review")
    droid.slack.register_email(REPORTER, "UDANA")
    issue = pay_142(jira)
    model.add(Turn.tool_use("submit_plan", PLAN), EDIT, DONE)
    signed_post(droid, "/jira/webhook", labelled(fixtures_dir, issue), JIRA_SECRET, "X-Hub-Signature")
    plan = plan_message(droid, "CPAY")
    (run,) = all_runs(droid)
    droid.wait_state(run.run_id, "awaiting_approval")
    click(droid, plan, "droid_approve", "UDANA", "CPAY")
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    rows = settled(droid, run.run_id, "transition_approve", "approved", "pull_request", "remote_link",
                   "transition_review")
    assert (rows["transition_approve"].state, rows["transition_review"].state) == ("skipped", "skipped")
    assert rows["pull_request"].state == rows["remote_link"].state == "done"
    assert not jira.requests_to("/rest/api/2/issue/PAY-142/transitions", "POST")
    assert jira.issues["PAY-142"]["fields"]["status"]["name"] == "To Do"


def test_jira_down_for_the_whole_run_then_the_writes_resume_on_restart(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make(jira_transition_on_approve="close issue")
    droid.slack.register_email(REPORTER, "UDANA")
    issue = pay_142(jira)
    jira.fail("^/rest/", 503, times=100_000)
    model.add(Turn.tool_use("submit_plan", PLAN, expect=lambda body: DESCRIPTION_PHRASE in json.dumps(body)),
              EDIT, DONE)
    signed_post(droid, "/jira/webhook", labelled(fixtures_dir, issue), JIRA_SECRET, "X-Hub-Signature")
    plan = plan_message(droid, "CPAY")
    (run,) = all_runs(droid)
    droid.wait_state(run.run_id, "awaiting_approval")
    assert "PAY-142" in plan["text"] and "not read" not in json.dumps(plan["blocks"])
    click(droid, plan, "droid_approve", "UDANA", "CPAY")
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    rows = settled(droid, run.run_id, "thread", "transition_approve", "approved", "pull_request", "remote_link")
    assert {w.state for w in rows.values()} == {"failed"} and not jira.comments
    (pr,) = github.pulls["acme/web"]
    wait_for(lambda: [m for m in droid.slack.messages["CPAY"] if pr["html_url"] in m.get("text", "")], what="result")
    droid.deps.runner.deliverer.drain(5)
    said = [c.args.get("text", "") for c in droid.slack.calls if c.method in ("chat.postMessage", "chat.update")]
    assert not [t for t in said if "Jira" in t or "❌" in t or "not read" in t or "failed" in t.lower()]
    # Jira is back; droid restarts: each write is made once
    stop(droid)
    jira.failures.clear()
    again = make(standin=droid.slack, jira_transition_on_approve="close issue")
    recover(again.deps)
    wait_for(lambda: all(w.state == "done" for w in again.store.ticket_writes.for_run(run.run_id)), 15,
             what="the writes made after the restart")
    assert [len(with_marker(jira, "PAY-142", p)) for p in ("thread", "approved", "pull_request")] == [1, 1, 1]
    assert len(jira.remote_links["PAY-142"]) == 1
    assert jira.issues["PAY-142"]["fields"]["status"]["name"] != "To Do"


def test_a_ticket_run_whose_planning_fails_says_which_ticket_top_level(world, fixtures_dir):
    make, model, github, jira, repos = world
    droid = make()
    issue = pay_142(jira)
    model.add(Turn.error(400, "invalid_request_error", "prompt is too long"))
    signed_post(droid, "/jira/webhook", labelled(fixtures_dir, issue), JIRA_SECRET, "X-Hub-Signature")
    (run,) = wait_for(lambda: all_runs(droid), timeout=30, what="the run")      # generous: CI machines are loaded
    run = droid.wait_state(run.run_id, "failed", timeout=30)
    (top,) = wait_for(lambda: [m for m in droid.slack.messages.get("CPAY", []) if not m.get("thread_ts")],
                      timeout=30, what="the top-level failure")
    assert top["text"].startswith("PAY-142 — Checkout button says basket: ") and "Planning failed" in top["text"]
    assert "PAY-142" in json.dumps(top["blocks"]) and droid.store.runs.get(run.run_id).thread_ts == top["ts"]
    settled(droid, run.run_id, "failed")
    (failed,) = with_marker(jira, "PAY-142", "failed")
    assert f"archives/CPAY/p{top['ts'].replace('.', '')}" in failed["body"]
