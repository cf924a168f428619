"""Tickets as triggers, through the real app and HTTP server: Jira webhooks (Cloud signed, Server by URL token),
the JQL poll (real `jira` client against the stub), GitHub issue webhooks; one run per trigger event; the plan
posted top-level in the mapped channel and its thread the run's; requester by email or approvers only."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid

import pytest
import requests

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.tickets.jira_poll import poll_jira
from bot.tickets.routes import ticket_routes
from tests.harness import Droid, wait_for
from tests.stubs.jira_stub import JiraStub

JIRA_SECRET = "jira-cloud-webhook-secret-0123"
GITHUB_SECRET = "github-webhook-secret-0123"
SERVER_TOKEN = "srv-token-" + "a1b2c3d4e5f6a7b8"
USER, TOKEN = "droid@example.com", "jira-api-token-abcdef123"
REPORTER_EMAIL = "some-instance-test@gmail.com"       # the reporter in the Cloud webhook fixture
LABELLED = "jira/webhooks/cloud/jira_issue_updated.labels_changed.cloud.mattermost.json"


@pytest.fixture
def jira(fixtures_dir):
    with JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as stub:
        stub.deployment = "Cloud"
        yield stub


def routing(**extra) -> Routing:
    return Routing(approvers=("UBOSS",), jira_projects={"TES": "CPAY", "TEST": "CPAY", "BBCOM": "CPAY"},
                   github_repos={"CGH": "Codertocat/Hello-World"}, **extra)


@pytest.fixture
def droid(tmp_path, jira):
    d = Droid(tmp_path, routing=routing(), jira_url=jira.url, jira_user=USER, jira_token=TOKEN,
              jira_webhook_secret=JIRA_SECRET, github_webhook_secret=GITHUB_SECRET,
              jira_server_webhook_token=SERVER_TOKEN)
    server = DroidHTTPServer(d.app, 0, host="127.0.0.1", routes=ticket_routes(d.deps)).start()
    d.url = f"http://127.0.0.1:{server.port}"
    yield d
    server.shutdown()
    d.close()


def labelled_payload(fixtures_dir, history_id: str = "10233", key: str = "TES-41", project: str = "TES") -> dict:
    """The Cloud `jira:issue_updated` fixture, its label change adding `droid`."""
    payload = json.loads((fixtures_dir / LABELLED).read_text())
    payload["changelog"] = {"id": history_id, "items": [{"field": "labels", "fieldtype": "jira", "fieldId": "labels",
                                                         "from": None, "fromString": "bad test-label", "to": None,
                                                         "toString": "droid test-label"}]}
    payload["issue"]["fields"]["labels"] = ["droid", "test-label"]
    payload["issue"]["key"] = key
    payload["issue"]["fields"]["project"]["key"] = project
    return payload


def post(droid, path: str, payload: dict | bytes, headers: dict | None = None) -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return requests.post(droid.url + path, data=body, headers={"Content-Type": "application/json", **(headers or {})},
                         timeout=10)


def signed(secret: str, body: bytes, header: str = "X-Hub-Signature") -> dict:
    return {header: "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}


def jira_webhook(droid, payload: dict, identifier: str | None = None) -> requests.Response:
    body = json.dumps(payload).encode()
    extra = {"X-Atlassian-Webhook-Identifier": identifier} if identifier else {}
    return post(droid, "/jira/webhook", body, {**signed(JIRA_SECRET, body), **extra})


def runs_of(droid) -> list:
    return droid.store.runs.in_states("received", "planning", "awaiting_approval", "executing", "succeeded",
                                      "failed", "cancelled", "rejected", "expired")


def plan_posted(droid, channel: str = "CPAY", count: int = 1) -> list[dict]:
    """Wait for `count` plan messages in the channel; returns the top-level posts."""
    wait_for(lambda: len([p for p in droid.posts(channel) if "droid_approve" in droid.buttons(p)]) >= count,
             what=f"{count} plan(s) in {channel}")
    droid.deps.runner.deliverer.drain(5)
    return [p for p in droid.posts(channel) if not p.get("thread_ts")]


def awaiting(droid, count: int = 1) -> list:
    return wait_for(lambda: (r := droid.store.runs.in_states("awaiting_approval")) and len(r) >= count and r,
                    what=f"{count} run(s) awaiting approval")


# ---- Jira Cloud webhook -------------------------------------------------------------------------------------

def test_signed_cloud_webhook_posts_the_plan_top_level_and_its_thread_is_the_run(droid, fixtures_dir):
    response = jira_webhook(droid, labelled_payload(fixtures_dir), identifier=str(uuid.uuid4()))
    assert (response.status_code, response.text) == (200, "accepted")
    (run,) = awaiting(droid)
    (top,) = plan_posted(droid)
    assert "TES-41" in top["text"]
    run = droid.store.runs.get(run.run_id)
    message = next(m for m in droid.slack.messages["CPAY"] if "droid_approve" in json.dumps(m.get("blocks")))
    assert run.thread_ts == run.plan_ts == message["ts"] and "thread_ts" not in message
    assert (run.trigger_ts, run.skill) == ("ticket:TES-41:10233", "code_change")
    assert run.context["jira_key"] == "TES-41" and run.context["ticket"]["title"] == "Unit test summary 1"
    assert run.context["trigger"] == {"source": "jira_webhook", "id": "10233"}
    assert not droid.slack.calls_to("reactions.add")            # no Slack message to put 👀 on
    droid.click("droid_cancel", droid.buttons(message)["droid_cancel"], user="UBOSS", channel="CPAY",
                message_ts=message["ts"])
    droid.wait_state(run.run_id, "cancelled")
    wait_for(lambda: any(p.get("thread_ts") == run.thread_ts for p in droid.posts("CPAY")), what="reply in thread")


def test_replayed_webhook_does_nothing_and_a_resent_event_makes_no_second_run(droid, fixtures_dir):
    payload = labelled_payload(fixtures_dir)
    assert jira_webhook(droid, payload, identifier="wh-1").text == "accepted"
    awaiting(droid)
    assert jira_webhook(droid, payload, identifier="wh-1").text == "duplicate delivery ignored"
    assert jira_webhook(droid, payload).text == "duplicate delivery ignored"          # same body: same signature
    resent = copy.deepcopy(payload)
    resent["timestamp"] += 1000                         # Jira retried it: a new body, the same change
    assert jira_webhook(droid, resent, identifier="wh-2").text == "accepted"
    wait_for(lambda: len(droid.store.tickets.for_ticket("TES-41")) == 1, what="trigger recorded")
    droid.deps.runner.executor.submit(lambda: None).result()
    droid.deps.runner.deliverer.drain(5)
    assert len(runs_of(droid)) == 1 and len(plan_posted(droid)) == 1


@pytest.mark.parametrize("headers", [{}, {"X-Hub-Signature": "sha256=" + "0" * 64},
                                     {"X-Hub-Signature": "sha1=abc"}])
def test_unsigned_or_badly_signed_webhook_is_refused(droid, fixtures_dir, headers):
    response = post(droid, "/jira/webhook", labelled_payload(fixtures_dir), headers)
    assert response.status_code == 401
    assert not runs_of(droid) and not droid.slack.calls_to("chat.postMessage")


def test_the_poll_and_the_webhook_for_one_ticket_make_one_run(droid, jira, fixtures_dir):
    payload = labelled_payload(fixtures_dir)
    issue = copy.deepcopy(payload["issue"])
    issue["changelog"] = {"histories": [{"id": "10100", "created": "2019-02-15T19:05:00.000-0800", "items": [
                              {"field": "labels", "fromString": "", "toString": "droid"}]},
                          {"id": "10150", "created": "2019-02-15T20:00:00.000-0800", "items": [
                              {"field": "labels", "fromString": "droid", "toString": ""}]},
                          {"id": "10233", "created": "2019-02-16T13:12:10.065-0800",
                           "items": payload["changelog"]["items"]}]}
    jira.add_issue(issue)
    started = poll_jira(droid.deps)
    assert len(started) == 1
    assert jira_webhook(droid, payload).text == "accepted"
    assert poll_jira(droid.deps) == []
    awaiting(droid)
    wait_for(lambda: droid.store.tickets.for_ticket("TES-41"), what="trigger")
    droid.deps.runner.executor.submit(lambda: None).result()
    assert [(t.trigger, t.source) for t in droid.store.tickets.for_ticket("TES-41")] == [("10233", "jira_poll")]
    assert len(runs_of(droid)) == 1 and len(plan_posted(droid)) == 1
    (search,) = jira.requests_to(r"^/rest/api/\d/search/jql$")[:1]
    assert search.query["expand"] == ["changelog"]


def test_relabelling_after_the_run_ended_starts_a_new_run_but_not_while_it_is_active(droid, fixtures_dir):
    assert jira_webhook(droid, labelled_payload(fixtures_dir, "10233")).text == "accepted"
    (first,) = awaiting(droid)
    assert jira_webhook(droid, labelled_payload(fixtures_dir, "10240")).text == "accepted"   # relabelled, still active
    wait_for(lambda: len(droid.store.tickets.for_ticket("TES-41")) == 2, what="second trigger recorded")
    assert droid.store.tickets.for_ticket("TES-41")[1].run_id is None and len(runs_of(droid)) == 1
    message = next(p for p in droid.posts("CPAY") if "droid_cancel" in droid.buttons(p))
    ts = next(m["ts"] for m in droid.slack.messages["CPAY"] if m.get("blocks") == message["blocks"])
    droid.click("droid_cancel", droid.buttons(message)["droid_cancel"], user="UBOSS", channel="CPAY", message_ts=ts)
    droid.wait_state(first.run_id, "cancelled")
    again = labelled_payload(fixtures_dir, "10240")
    again["timestamp"] += 1                                                # Jira resent that event: consumed
    assert jira_webhook(droid, again).text == "accepted"
    assert jira_webhook(droid, labelled_payload(fixtures_dir, "10300")).text == "accepted"   # labelled again
    (second,) = awaiting(droid)
    assert second.run_id != first.run_id and second.trigger_ts == "ticket:TES-41:10300"
    assert len(plan_posted(droid, count=2)) == 2


def test_unmapped_project_posts_nothing(droid, jira, fixtures_dir):
    payload = labelled_payload(fixtures_dir, key="ZZZ-1", project="ZZZ")
    jira.add_issue(payload["issue"])
    assert poll_jira(droid.deps) == []
    assert jira_webhook(droid, payload).text == "accepted"          # handled before the 200: nothing to wait for
    assert not runs_of(droid) and not droid.slack.calls_to("chat.postMessage")
    assert not droid.store.tickets.for_ticket("ZZZ-1")          # recorded only once a channel takes it


# ---- Jira Server/DC: unsigned, only at the URL token ---------------------------------------------------------

def test_server_webhook_only_at_the_right_url_token(droid, fixtures_dir):
    payload = labelled_payload(fixtures_dir)
    assert post(droid, "/jira/webhook/wrong-token", payload).status_code == 401
    assert post(droid, "/jira/webhook/" + SERVER_TOKEN[:-1], payload).status_code == 401
    assert not runs_of(droid)
    response = post(droid, "/jira/webhook/" + SERVER_TOKEN, payload)
    assert (response.status_code, response.text) == (200, "accepted")
    (run,) = awaiting(droid)
    assert run.context["trigger"]["source"] == "jira_webhook"
    assert post(droid, "/jira/webhook/" + SERVER_TOKEN, payload).text == "duplicate delivery ignored"


def test_server_webhook_is_refused_when_no_token_is_set(tmp_path, jira, fixtures_dir):
    d = Droid(tmp_path, routing=routing(), jira_webhook_secret=JIRA_SECRET)
    server = DroidHTTPServer(d.app, 0, host="127.0.0.1", routes=ticket_routes(d.deps)).start()
    d.url = f"http://127.0.0.1:{server.port}"
    try:
        for path in ("/jira/webhook/", "/jira/webhook/x", "/jira/webhook/" + SERVER_TOKEN):
            assert post(d, path, labelled_payload(fixtures_dir)).status_code == 404
        assert not runs_of(d)
    finally:
        server.shutdown()
        d.close()


# ---- GitHub issues -------------------------------------------------------------------------------------------

def github_labeled(fixtures_dir, label: str = "droid") -> dict:
    payload = json.loads((fixtures_dir / "github" / "webhooks" / "issues.labeled.json").read_text())
    payload["label"]["name"] = label
    return payload


def github_webhook(droid, payload: dict, delivery: str, event: str = "issues") -> requests.Response:
    body = json.dumps(payload).encode()
    return post(droid, "/github/webhook", body, {**signed(GITHUB_SECRET, body, "X-Hub-Signature-256"),
                                                 "X-GitHub-Event": event, "X-GitHub-Delivery": delivery})


def test_github_issue_labelled_droid_starts_a_run(droid, fixtures_dir):
    assert github_webhook(droid, github_labeled(fixtures_dir, "bug"), "d-0").text.startswith("ignored")
    assert github_webhook(droid, github_labeled(fixtures_dir), "d-1").text == "accepted"
    (run,) = awaiting(droid)
    (top,) = plan_posted(droid, "CGH")
    assert "Codertocat/Hello-World#1" in top["text"]
    assert run.context["github_issue"] == {"repo": "Codertocat/Hello-World", "number": 1}
    assert run.trigger_ts == "ticket:Codertocat/Hello-World#1:labeled:d-1"
    assert github_webhook(droid, github_labeled(fixtures_dir), "d-1").text == "duplicate delivery ignored"
    unsigned = post(droid, "/github/webhook", github_labeled(fixtures_dir), {"X-GitHub-Event": "issues"})
    assert unsigned.status_code == 401 and len(runs_of(droid)) == 1


# ---- who may approve -----------------------------------------------------------------------------------------

def plan_message(droid, channel: str = "CPAY") -> tuple[dict, str]:
    plan_posted(droid, channel)
    message = next(m for m in droid.slack.messages[channel] if "droid_approve" in json.dumps(m.get("blocks")))
    return message, droid.buttons(message)["droid_approve"]


def test_reporter_whose_email_is_a_slack_user_is_the_requester(droid, fixtures_dir):
    droid.slack.register_email(REPORTER_EMAIL, "UREPORTER")
    jira_webhook(droid, labelled_payload(fixtures_dir))
    (run,) = awaiting(droid)
    assert run.requester == "UREPORTER"
    message, value = plan_message(droid)
    droid.click("droid_approve", value, user="UOUTSIDER", channel="CPAY", message_ts=message["ts"])
    wait_for(lambda: droid.store.events.for_run(run.run_id, "refused"), what="the outsider refused")
    assert droid.store.runs.get(run.run_id).state == "awaiting_approval"
    droid.click("droid_approve", value, user="UREPORTER", channel="CPAY", message_ts=message["ts"])
    wait_for(lambda: droid.store.runs.get(run.run_id).state != "awaiting_approval", what="approved")
    assert droid.store.runs.get(run.run_id).approved_by == "UREPORTER"


def test_without_a_slack_user_only_approvers_may_approve(droid, fixtures_dir):
    jira_webhook(droid, labelled_payload(fixtures_dir))            # the reporter's email is nobody in Slack
    (run,) = awaiting(droid)
    assert run.requester == ""
    message, value = plan_message(droid)
    droid.click("droid_approve", value, user="UOUTSIDER", channel="CPAY", message_ts=message["ts"])
    wait_for(lambda: droid.store.events.for_run(run.run_id, "refused"), what="the outsider refused")
    assert droid.store.runs.get(run.run_id).state == "awaiting_approval"
    assert [e.data["user"] for e in droid.store.events.for_run(run.run_id, "refused")] == ["UOUTSIDER"]
    note = wait_for(lambda: [e["text"] for e in droid.slack.ephemerals if e["user"] == "UOUTSIDER"], what="refusal")
    assert "UBOSS" in note[0] and "Nothing was changed" in note[0]
    droid.click("droid_approve", value, user="UBOSS", channel="CPAY", message_ts=message["ts"])
    wait_for(lambda: droid.store.runs.get(run.run_id).approved_by == "UBOSS", what="approved by the approver")


# ---- the poll ------------------------------------------------------------------------------------------------

def test_poll_follows_the_enhanced_search_pages(droid, jira, fixtures_dir):
    api = fixtures_dir / "jira" / "api"
    jira.script_search(json.loads((api / "search_jql.page1.jira-cli.json").read_text()),
                       json.loads((api / "search_jql.page2_last.jira-cli.json").read_text()))
    assert len(poll_jira(droid.deps)) == 3
    searches = jira.requests_to(r"^/rest/api/\d/search/jql$")
    assert [r.query.get("nextPageToken") for r in searches] == [None, ["token-page-2"]]
    assert not jira.requests_to(r"^/rest/api/\d/search$")              # never the removed classic search
    awaiting(droid, 3)
    assert sorted(r.context["jira_key"] for r in runs_of(droid)) == ["TEST-1", "TEST-2", "TEST-3"]
    assert poll_jira(droid.deps) == []                                  # the same triggers: nothing new
    assert len(plan_posted(droid, count=3)) == 3


def test_poll_on_jira_server_uses_the_classic_search(droid, jira, fixtures_dir):
    jira.deployment = "Server"
    issue = labelled_payload(fixtures_dir)["issue"]
    jira.add_issue(issue)
    assert len(poll_jira(droid.deps)) == 1
    assert jira.requests_to(r"^/rest/api/2/search$") and not jira.requests_to(r"^/rest/api/\d/search/jql$")
    (run,) = awaiting(droid)
    assert run.trigger_ts == "ticket:TES-41:created"                   # labelled with no history: created with it


def test_policy_with_no_requester_lets_only_approvers_act():
    from types import SimpleNamespace

    from bot.slack import policy
    run = SimpleNamespace(requester="", channel="CPAY", run_id="r1")
    assert not policy.may_act(routing(), run, "") and not policy.may_act(routing(), run, None)
    assert not policy.may_act(routing(), run, "UOUTSIDER") and policy.may_act(routing(), run, "UBOSS")
    assert policy.deciders(routing(), run) == "an approver (<@UBOSS>)".replace("<@UBOSS>", policy.mrkdwn.mention("UBOSS"))


def test_every_method_the_intake_calls_has_its_scope(droid, fixtures_dir):
    from tests.test_manifest import MANIFEST, METHOD_SCOPES
    droid.slack.register_email(REPORTER_EMAIL, "UREPORTER")
    jira_webhook(droid, labelled_payload(fixtures_dir))
    awaiting(droid)
    plan_posted(droid)
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    called = {c.method for c in droid.slack.calls}
    assert "users.lookupByEmail" in called
    assert all(METHOD_SCOPES[m] is None or METHOD_SCOPES[m] in scopes for m in called)


def test_github_issue_opened_with_the_label_and_its_labeled_event_make_one_run(droid, fixtures_dir):
    opened = json.loads((fixtures_dir / "github" / "webhooks" / "issues.opened.json").read_text())
    opened["issue"]["labels"][0]["name"] = "droid"
    assert github_webhook(droid, opened, "d-open").text == "accepted"
    (run,) = awaiting(droid)
    assert run.trigger_ts == "ticket:Codertocat/Hello-World#1:opened"
    assert github_webhook(droid, github_labeled(fixtures_dir), "d-label").text == "accepted"
    wait_for(lambda: len(droid.store.tickets.for_ticket("Codertocat/Hello-World#1")) == 2, what="second trigger")
    assert len(runs_of(droid)) == 1 and len(plan_posted(droid, "CGH")) == 1


def test_a_failing_jira_search_starts_nothing(droid, jira):
    jira.fail(r"^/rest/api/\d/search/jql$", 500, times=3)
    assert poll_jira(droid.deps) == []
    assert not runs_of(droid) and not droid.slack.calls_to("chat.postMessage")


def test_tickets_created_with_the_label_trigger_once_as_created(droid, fixtures_dir):
    webhooks = fixtures_dir / "jira" / "webhooks"
    cloud = json.loads((webhooks / "cloud" / "jira_issue_created.cloud.mattermost.json").read_text())
    assert jira_webhook(droid, cloud).text == "ignored: jira:issue_created"            # labels: test-label only
    cloud["issue"]["fields"]["labels"].append("droid")
    assert jira_webhook(droid, cloud).text == "accepted"
    server = json.loads((webhooks / "jira_issue_created.json").read_text())            # Jira Server's shape
    server["issue"]["fields"]["labels"] = ["droid"]
    assert post(droid, "/jira/webhook/" + SERVER_TOKEN, server).text == "accepted"
    runs = awaiting(droid, 2)
    assert sorted(r.trigger_ts for r in runs) == ["ticket:BBCOM-1398:created", "ticket:TES-41:created"]
    assert len(plan_posted(droid, count=2)) == 2
