"""Webhooks are replay-safe: signed over the raw bytes, fresh, new, and a JSON object — or refused.

Sentry deliveries go through the real HTTP server and the real app into the Slack stand-in; the same
guard is checked against GitHub's published signing test vector and Jira's header shape.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid

import pytest

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.slack.sentry_webhook import sentry_route
from bot.slack.webhook_guard import GITHUB, JIRA, SENTRY, WebhookGuard
from state.db import Database
from state.deliveries import DeliveryLog
from tests.harness import Droid, wait_for

SECRET = "sentry-client-secret-0123456789"


def sign(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def issue_body(fixtures_dir) -> bytes:
    payload = json.loads((fixtures_dir / "sentry/webhooks/issue.created.json").read_text())
    return json.dumps(payload, separators=(",", ":")).encode()      # Sentry's compact encoding


@pytest.fixture
def served(tmp_path):
    droid = Droid(tmp_path, routing=Routing(alert_channels=("CALERTS",)), sentry_webhook_secret=SECRET)
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes={"/sentry/webhook": sentry_route(droid.deps)})
    server.start()
    url = f"http://127.0.0.1:{server.port}/sentry/webhook"

    def send(body: bytes, *, signature: str | None = None, timestamp: float | None = None,
             resource: str = "issue", request_id: str | None = None) -> tuple[int, str]:
        headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": resource,
                   "Request-ID": request_id or uuid.uuid4().hex,
                   "Sentry-Hook-Signature": sign(body) if signature is None else signature}
        if timestamp is not False:
            headers["Sentry-Hook-Timestamp"] = str(int(time.time() if timestamp is None else timestamp))
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    yield droid, send
    server.shutdown()
    droid.close()


def alert_posts(droid) -> list[dict]:
    return [p for p in droid.posts("CALERTS") if p["text"].startswith("🚨")]


def settled(droid) -> None:
    wait_for(lambda: not droid.deps.runner.busy, what="droid idle")


def test_fresh_signed_delivery_is_accepted_and_posted_once(served, issue_body):
    droid, send = served
    assert send(issue_body) == (200, "accepted")
    wait_for(lambda: alert_posts(droid), what="the alert post")
    settled(droid)
    assert len(alert_posts(droid)) == 1


def test_replayed_delivery_is_answered_200_and_ignored(served, issue_body):
    droid, send = served
    signature = sign(issue_body)
    assert send(issue_body, signature=signature) == (200, "accepted")
    wait_for(lambda: alert_posts(droid), what="the alert post")
    # the same body and signature again: a retry, or an attacker with a forged fresh timestamp and id
    assert send(issue_body, signature=signature) == (200, "duplicate delivery ignored")
    assert send(issue_body, signature=signature.upper(), request_id="f" * 32) == (200, "duplicate delivery ignored")
    settled(droid)
    assert len(alert_posts(droid)) == 1
    assert droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_replay_a_day_later_is_stale(served, issue_body):
    droid, send = served
    status, reason = send(issue_body, timestamp=time.time() - 24 * 3600)
    assert status == 401 and "stale" in reason
    assert send(issue_body, timestamp=time.time() + 3600)[0] == 401          # from the future: also refused
    assert send(issue_body, timestamp=time.time() - 301)[0] == 401           # just past the 300 s default
    assert send(issue_body, timestamp=False)[0] == 401                       # no timestamp at all
    settled(droid)
    assert alert_posts(droid) == []
    assert send(issue_body, timestamp=time.time() - 250) == (200, "accepted")  # inside the window


@pytest.mark.parametrize("body", [b'[{"action": "created"}]', b'"created"', b"42", b"null"])
def test_signed_json_that_is_not_an_object_is_400(served, body):
    droid, send = served
    status, reason = send(body)
    assert status == 400 and "JSON object" in reason
    assert send(b'{"action": ', signature=sign(b'{"action": '))[0] == 400
    settled(droid)
    assert alert_posts(droid) == []


def test_bad_signature_is_401_and_posts_nothing(served, issue_body):
    droid, send = served
    assert send(issue_body, signature="0" * 64)[0] == 401
    assert send(issue_body, signature=sign(issue_body, "another-secret"))[0] == 401
    assert send(issue_body, signature="")[0] == 401
    assert send(issue_body + b" ", signature=sign(issue_body))[0] == 401      # one byte more: not what was signed
    settled(droid)
    assert alert_posts(droid) == []
    # a bad signature is not remembered: the genuine delivery still gets through afterwards
    assert send(issue_body) == (200, "accepted")


def test_window_is_a_setting(tmp_path, issue_body):
    droid = Droid(tmp_path, routing=Routing(alert_channels=("CALERTS",)), sentry_webhook_secret=SECRET,
                  webhook_max_age_seconds=30)
    try:
        handle = sentry_route(droid.deps)
        headers = {"Sentry-Hook-Resource": "issue", "Sentry-Hook-Signature": sign(issue_body)}
        assert handle(issue_body, {**headers, "Sentry-Hook-Timestamp": str(int(time.time()) - 60)})[0] == 401
        assert handle(issue_body, {**headers, "Sentry-Hook-Timestamp": str(int(time.time()) - 10)})[0] == 200
    finally:
        droid.close()


def test_unconfigured_secret_is_503(tmp_path, issue_body):
    droid = Droid(tmp_path, routing=Routing(alert_channels=("CALERTS",)))
    try:
        assert sentry_route(droid.deps)(issue_body, {"Sentry-Hook-Signature": sign(issue_body)})[0] == 503
    finally:
        droid.close()


@pytest.fixture
def deliveries(tmp_path):
    database = Database(str(tmp_path / "guard.db"))
    yield DeliveryLog(database)
    database.close()


def test_github_spec_matches_githubs_test_vector(deliveries):
    guard = WebhookGuard(GITHUB, "It's a Secret to Everybody", deliveries, 300)
    vector = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert guard.signature(b"Hello, World!", vector) == vector.removeprefix("sha256=")
    assert guard.signature(b"Hello, World!", vector.removeprefix("sha256=")) is None   # the prefix is required
    body = b'{"action": "opened"}'
    good = "sha256=" + sign(body, "It's a Secret to Everybody")
    headers = {"X-Hub-Signature-256": good, "X-GitHub-Delivery": "d-1"}
    assert guard.check(body, headers).accepted
    assert guard.check(body, headers).status == 200 and not guard.check(body, headers).accepted
    # a new body redelivered under a delivery id already seen is the same delivery
    other = b'{"action": "closed"}'
    redelivered = {"X-Hub-Signature-256": "sha256=" + sign(other, "It's a Secret to Everybody"),
                   "X-GitHub-Delivery": "d-1"}
    assert guard.check(other, redelivered).reason == "duplicate delivery ignored"


def test_jira_spec_and_namespaces(deliveries):
    body = b'{"webhookEvent": "jira:issue_created"}'
    jira = WebhookGuard(JIRA, "jira-secret", deliveries, 300)
    sentry = WebhookGuard(SENTRY, "jira-secret", deliveries, 300)
    assert jira.check(body, {"x-hub-signature": "sha256=" + sign(body, "jira-secret")}).accepted
    # the same digest under another sender's namespace is a different delivery
    fresh = {"Sentry-Hook-Signature": sign(body, "jira-secret"), "Sentry-Hook-Timestamp": str(int(time.time()))}
    assert sentry.check(body, fresh).accepted
    assert jira.check(body, {"X-Hub-Signature": sign(body, "jira-secret")}).status == 401   # prefix missing


def test_clock_is_injectable_and_raw_bytes_are_what_is_signed(deliveries):
    now = 1_700_000_000.0
    guard = WebhookGuard(SENTRY, SECRET, deliveries, 300, clock=lambda: now)
    body = '{"action":"created","data":{"issue":{"title":"Café ☕"}}}'.encode()
    headers = {"Sentry-Hook-Signature": sign(body), "Sentry-Hook-Timestamp": str(int(now) - 299)}
    assert guard.check(body, headers).accepted
    reencoded = json.dumps(json.loads(body)).encode()        # what re-serialising would verify: not the same bytes
    assert guard.check(reencoded, {**headers, "Sentry-Hook-Signature": sign(body)}).status == 401


def test_webhook_signatures_outlive_slacks_retry_window(deliveries):
    guard = WebhookGuard(SENTRY, SECRET, deliveries, 300)
    body = b'{"action":"created"}'
    headers = {"Sentry-Hook-Signature": sign(body), "Sentry-Hook-Timestamp": str(int(time.time()))}
    assert guard.check(body, headers).accepted and deliveries.first_time("Ev0SLACKEVENT")
    with deliveries.database.transaction() as db:      # both a day and a bit old
        db.execute("UPDATE slack_deliveries SET received_at = received_at - 90000")
    assert deliveries.forget_older_than(24 * 3600) == 1                       # Slack's event id only
    assert guard.check(body, headers).reason == "duplicate delivery ignored"  # a forged fresh timestamp: caught
    assert deliveries.first_time("Ev0SLACKEVENT")


@pytest.mark.parametrize("stamp", ["nan", "NaN", "-nan", "inf", "1e400", "", "1700000000000"])
def test_a_timestamp_that_is_not_a_finite_time_in_the_window_is_refused(deliveries, stamp):
    now = 1_700_000_000.0
    guard = WebhookGuard(SENTRY, SECRET, deliveries, 300, clock=lambda: now)
    body = b'{"action":"created"}'
    verdict = guard.check(body, {"Sentry-Hook-Signature": sign(body), "Sentry-Hook-Timestamp": stamp})
    assert verdict.status == 401 and not verdict.accepted, verdict.reason
