"""Alert-channel RCA through the real app: Sentry alerts in Slack and by webhook, against a Sentry API stub."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.slack.sentry_webhook import sentry_route
from skills.rca.sample import GUILTY_SUBJECT, build_repo, capture_event
from tests.harness import TEAM, Droid, wait_for
from tests.stubs.sentry_stub import SentryStub

WEBHOOK_SECRET = "sentry-client-secret-0123456789"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shop")
    shas = build_repo(root / "repo")
    event = capture_event(root / "repo", "v1.2.0", "shop@1.2.0", root / "work")
    return {"repo": root / "repo", "shas": shas, "event": event}


@pytest.fixture
def sentry(shop, fixtures_dir):
    with SentryStub(fixtures_dir / "sentry" / "api", org="baz") as stub:
        issue = stub.fixture("retrieve_an_issue")
        issue.update(id="1", shortId="BAR-1", title="AttributeError: 'NoneType' object has no attribute 'strip'",
                     firstSeen=shop["event"]["timestamp"], lastSeen=shop["event"]["timestamp"], count="42",
                     userCount=7)
        stub.issues["1"] = issue
        stub.issues["BAR-1"] = issue
        stub.recommended_event["1"] = stub.latest_event["1"] = shop["event"]
        yield stub


@pytest.fixture
def droid(tmp_path, shop, sentry):
    d = Droid(tmp_path, routing=Routing(channel_repos={"CALERTS": str(shop["repo"]), "CDEV": str(shop["repo"])},
                                        alert_channels=("CALERTS",), sentry_projects={"1": "CALERTS"},
                                        channel_approvers={"CALERTS": ("UONCALL",)}),
              sentry_url=sentry.url, sentry_token=sentry.token, sentry_org="baz",
              sentry_webhook_secret=WEBHOOK_SECRET)
    yield d
    d.close()


def sentry_message(fixtures_dir, name="issue_alert_block_kit_message.constructed.json", **extra) -> dict:
    body = json.loads((fixtures_dir / "sentry/slack_integration" / name).read_text())
    return {"type": "message", "subtype": "bot_message", "bot_id": "BSENTRY", "username": "Sentry",
            "bot_profile": {"name": "Sentry", "app_id": "ASENTRY"}, **body, **extra}


def post_alert(droid, message: dict, channel="CALERTS") -> str:
    ts = droid.slack.new_ts()
    event = {**message, "channel": channel, "ts": ts, "event_ts": ts, "channel_type": "channel"}
    droid.slack.messages.setdefault(channel, []).append(dict(event))   # Slack has the message before the event
    from bot.slack import payloads
    assert droid.dispatch(payloads.event_callback(event, team=TEAM)).status == 200
    return ts


def rca_reply(droid, channel="CALERTS"):
    return wait_for(lambda: next((p for p in droid.posts(channel) if p["text"].startswith("Root-cause analysis")),
                                 None), timeout=30, what="RCA report")


def test_block_kit_alert_gets_an_rca_in_its_thread(droid, fixtures_dir, shop, sentry):
    ts = post_alert(droid, sentry_message(fixtures_dir))
    report = rca_reply(droid)
    assert report["thread_ts"] == ts
    text = json.dumps(report["blocks"], ensure_ascii=False)
    guilty = shop["shas"]["dave"]
    assert guilty[:10] in text and GUILTY_SUBJECT in text and "Dave" in text
    assert "shop/pricing.py" in text and "AttributeError" in text and "Hypothesis" in text
    assert "42 events" in text and "7 users" in text
    assert "no model was used" in text
    assert {b["action_id"] for blk in report["blocks"] if blk["type"] == "actions" for b in blk["elements"]} == {
        "droid_rca_fix", "droid_rca_jira"}
    uploads = wait_for(lambda: droid.slack.calls_to("files.completeUploadExternal")
                       if len(droid.slack.calls_to("files.completeUploadExternal")) >= 2 else None, what="uploads")
    titles = {f["title"] for call in uploads for f in call.args["files"]}
    assert titles == {"Full RCA report", "Timeline"}
    png = next(f for f in droid.slack.files.values() if f.get("title") == "Timeline")
    assert png["content"].startswith(b"\x89PNG") and png["thread_ts"] == ts
    markdown = next(f for f in droid.slack.files.values() if f.get("title") == "Full RCA report")
    assert guilty[:10].encode() in markdown["content"] and b"Suspect" in markdown["content"]
    assert any(r.path.endswith("/issues/1/") for r in sentry.requests)
    run = droid.store.runs.latest_in_thread("CALERTS", ts)
    assert run.skill == "rca" and run.state == "succeeded" and run.approved_by == "auto"


def test_legacy_attachment_alert(droid, fixtures_dir, sentry):
    message = sentry_message(fixtures_dir, "issue_alert_legacy_attachment_message.json")
    message["attachments"][0]["footer"] = message["attachments"][0]["footer"].replace("NODE-F", "BAR-1")
    ts = post_alert(droid, message)
    assert rca_reply(droid)["thread_ts"] == ts
    assert any("BAR-1" in r.path for r in sentry.requests)


def test_same_issue_within_the_cooldown_gets_one_rca(droid, fixtures_dir):
    first = post_alert(droid, sentry_message(fixtures_dir))
    rca_reply(droid)
    second = post_alert(droid, sentry_message(fixtures_dir))
    repeat = wait_for(lambda: [p for p in droid.posts("CALERTS") if p.get("thread_ts") == second], what="repeat note")
    assert "Same Sentry issue" in repeat[0]["text"]
    runs = droid.store.database.db.execute("SELECT COUNT(*) FROM runs WHERE skill='rca'").fetchone()[0]
    assert runs == 1 and first != second


def test_alert_outside_alert_channels_is_ignored(droid, fixtures_dir):
    post_alert(droid, sentry_message(fixtures_dir), channel="CDEV")
    post_alert(droid, {"type": "message", "user": "UALICE", "text": "lunch?"})
    import time
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:      # nothing may happen: poll for a while that nothing does
        assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        time.sleep(0.05)


def test_person_pasting_a_sentry_link_starts_an_rca(droid):
    ts = post_alert(droid, {"type": "message", "user": "UALICE",
                            "text": "checkout is broken: <https://baz.sentry.io/issues/1/|BAR-1>"})
    assert rca_reply(droid)["thread_ts"] == ts


@pytest.mark.parametrize("status,expected", [(404, "does not exist"), (500, "Sentry is failing")])
def test_sentry_down_or_missing_gives_a_short_message(droid, fixtures_dir, sentry, status, expected):
    sentry.fail(r"/issues/1/", status, times=10)
    ts = post_alert(droid, sentry_message(fixtures_dir))
    notice = wait_for(lambda: [p for p in droid.posts("CALERTS") if p.get("thread_ts") == ts
                               and "RCA: Sentry unavailable" in p["text"]], timeout=30, what="short message")
    assert expected in notice[0]["text"]
    run = droid.store.runs.latest_in_thread("CALERTS", ts)
    assert run.state == "failed" and [e.kind for e in droid.store.events.for_run(run.run_id)].count("error") == 1


def test_mention_in_the_alert_thread_is_a_follow_up(droid, fixtures_dir):
    ts = post_alert(droid, sentry_message(fixtures_dir))
    rca_reply(droid)
    droid.mention("why did this start?", channel="CALERTS", thread_ts=ts, user="UONCALL")
    run = droid.store.runs.latest_in_thread("CALERTS", ts)
    wait_for(lambda: droid.store.events.for_run(run.run_id, "follow_up"), what="follow-up on the RCA run")
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_draft_a_fix_starts_a_code_change_plan(droid, fixtures_dir):
    ts = post_alert(droid, sentry_message(fixtures_dir))
    report = rca_reply(droid)
    value = next(b["value"] for blk in report["blocks"] if blk["type"] == "actions" for b in blk["elements"]
                 if b["action_id"] == "droid_rca_fix")
    droid.click("droid_rca_fix", value, user="UONCALL", channel="CALERTS")
    fix = wait_for(lambda: next((r for r in droid.store.runs.in_states("awaiting_approval")
                                 if r.skill == "code_change"), None), timeout=20, what="fix plan")
    assert fix.thread_ts == ts and fix.requester == "UONCALL" and "AttributeError" in fix.context["extra"]
    plan = wait_for(lambda: [p for p in droid.posts("CALERTS") if p["text"].startswith("Plan v1")
                             and p.get("thread_ts") == ts], what="plan in the alert thread")
    assert droid.buttons(plan[0])["droid_approve"]


def _signed(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_valid_and_invalid_signature(droid, fixtures_dir, shop):
    payload = json.loads((fixtures_dir / "sentry/webhooks/event_alert.issue_alert_triggered.json").read_text())
    payload = copy.deepcopy(payload)
    keep = {k: payload["data"]["event"][k] for k in ("web_url", "issue_url", "issue_id", "project", "url")
            if k in payload["data"]["event"]}
    payload["data"]["event"] = {**shop["event"], **keep}   # the real event our sample service raised
    body = json.dumps(payload).encode()
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes={"/sentry/webhook": sentry_route(droid.deps)})
    server.start()
    try:
        url = f"http://127.0.0.1:{server.port}/sentry/webhook"

        def send(signature):
            request = urllib.request.Request(url, data=body, method="POST", headers={
                "Content-Type": "application/json", "Sentry-Hook-Resource": "event_alert",
                "Sentry-Hook-Timestamp": str(int(time.time())), "Sentry-Hook-Signature": signature})
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return response.status
            except urllib.error.HTTPError as err:
                return err.code

        assert send("0" * 64) == 401
        assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
        assert send(_signed(body, WEBHOOK_SECRET)) == 200
        alert = wait_for(lambda: [m for m in droid.slack.messages.get("CALERTS", []) if m["text"].startswith("🚨")],
                         what="alert post")
        report = rca_reply(droid)
        assert report["thread_ts"] == alert[0]["ts"]
        assert shop["shas"]["dave"][:10] in json.dumps(report["blocks"])
    finally:
        server.shutdown()


def test_with_a_model_the_narrative_cites_evidence_and_prs_are_linked(tmp_path, shop, sentry, fixtures_dir):
    from integrations.llm import AnthropicLLM
    from tests.stubs.anthropic_stub import AnthropicStub, Turn
    from tests.stubs.github_stub import GitHubStub
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest") as github:
        github.add_repo("acme/shop")
        model.add(Turn.tool_use("view_file", {"path": "shop/pricing.py"}, expect="[E1]"),
                  Turn.tool_use("final_answer", {"text": "The crash comes from the new normalisation [E1]. "
                                                         "It is probably cosmic rays."}, expect="strip"))
        llm = AnthropicLLM(api_key="sk-ant-test-key-00000000000000000000", model="claude-sonnet-4-5",
                           base_url=model.url, max_retries=1)
        droid = Droid(tmp_path, llm=llm, anthropic_url=model.url,
                      routing=Routing(channel_repos={"CALERTS": str(shop["repo"])}, alert_channels=("CALERTS",),
                                      default_github_repo="acme/shop"),
                      sentry_url=sentry.url, sentry_token=sentry.token, sentry_org="baz",
                      github_token=github.token, github_api_url=github.url)
        try:
            post_alert(droid, sentry_message(fixtures_dir))
            text = json.dumps(rca_reply(droid)["blocks"], ensure_ascii=False)
        finally:
            droid.close()
        model.assert_done()
    assert "The crash comes from the new normalisation [E1]." in text
    assert "speculation, no evidence cited: It is probably cosmic rays." in text
    assert "the narrative above is the model's" in text
    assert "PR #" in text and github.requests_to(f"^/repos/acme/shop/commits/{shop['shas']['dave']}/pulls")


def test_alert_storm_is_queued_not_dropped(droid, fixtures_dir, sentry):
    for issue_id in range(101, 109):
        sentry.issues[str(issue_id)] = {**sentry.issues["1"], "id": str(issue_id)}
        sentry.recommended_event[str(issue_id)] = sentry.recommended_event["1"]
    threads = []
    for issue_id in range(101, 109):
        message = sentry_message(fixtures_dir)
        message["blocks"][0]["block_id"] = json.dumps({"issue": issue_id})
        threads.append(post_alert(droid, message))
    reports = wait_for(lambda: (r := [p for p in droid.posts("CALERTS") if p["text"].startswith("Root-cause")])
                       and len(r) == 8 and r, timeout=90, what="8 RCAs")
    assert {r["thread_ts"] for r in reports} == set(threads)
