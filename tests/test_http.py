"""One path through the real HTTP server: signed requests over a socket, as Slack sends them."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from bot import payloads
from bot.http_server import DroidHTTPServer
from tests.harness import SECRET, Droid
from tests.repos import SERVICE_FILES, make_repo


@pytest.fixture
def served(tmp_path):
    droid = Droid(tmp_path, repo=make_repo(tmp_path / "repo", SERVICE_FILES))
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1").start()
    yield droid, f"http://127.0.0.1:{server.port}"
    server.shutdown()
    droid.close()


def post(url: str, body: str, headers: dict) -> int:
    request = urllib.request.Request(url + "/slack/events", data=body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_mention_over_http(served):
    droid, url = served
    message = droid.slack.add_user_message("CDEV", "UALICE", "<@UDROIDBOT> where is retry?")
    body, content_type = payloads.encode(payloads.event_callback(
        payloads.app_mention(user="UALICE", text=message["text"], channel="CDEV", ts=message["ts"]), team="T0DROID"))
    assert post(url, body, {"content-type": content_type, **payloads.sign(SECRET, body)}) == 200
    run = droid.run_for("CDEV", message["ts"])
    assert droid.wait_state(run.run_id, "awaiting_approval")
    assert post(url, body, {"content-type": content_type, **payloads.sign("wrong", body)}) == 401
    assert post(url, "{broken", {"content-type": "application/json", **payloads.sign(SECRET, "{broken")}) == 400
    with urllib.request.urlopen(url + "/health", timeout=10) as response:
        assert json.loads(response.read()) == {"ok": True}


def test_url_verification_over_http(served, fixtures_dir):
    _, url = served
    body = (fixtures_dir / "slack/events/url_verification.json").read_text()
    request = urllib.request.Request(url + "/slack/events", data=body.encode(), method="POST",
                                     headers={"content-type": "application/json", **payloads.sign(SECRET, body)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert json.loads(body)["challenge"] in response.read().decode()
