"""The real HTTP server (waitress + Bolt's WSGI adapter): signed requests over a socket, as Slack sends them."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from bot.settings import Routing
from bot.slack import payloads
from bot.slack.http_server import DroidHTTPServer
from bot.slack.ingress import MAX_BODY
from bot.slack.sentry_webhook import sentry_route
from tests.harness import SECRET, Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEBHOOK_SECRET = "sentry-webhook-secret-for-tests"


@pytest.fixture
def served(tmp_path):
    droid = Droid(tmp_path, repo=make_repo(tmp_path / "repo", SERVICE_FILES), sentry_webhook_secret=WEBHOOK_SECRET,
                  routing=Routing(default_repo=str(tmp_path / "repo"), alert_channels=("CALERTS",)))
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes={"/sentry/webhook": sentry_route(droid.deps)},
                             channel_timeout=2).start()
    yield droid, server
    server.shutdown()
    droid.close()


def post(port: int, body: str | bytes, headers: dict, path: str = "/slack/events") -> tuple[int, str]:
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def signed(body: str, content_type: str = "application/json") -> dict:
    return {"content-type": content_type, **payloads.sign(SECRET, body)}


def mention_body(droid: Droid, text: str) -> tuple[str, str]:
    message = droid.slack.add_user_message("CDEV", "UALICE", f"<@UDROIDBOT> {text}")
    event = payloads.app_mention(user="UALICE", text=message["text"], channel="CDEV", ts=message["ts"])
    return json.dumps(payloads.event_callback(event, team="T0DROID")), message["ts"]


def run_count(droid: Droid) -> int:
    return droid.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]


def raw_exchange(port: int, data: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes; everything the server answered until it closed the connection (or the timeout)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_mention_over_http(served):
    droid, server = served
    body, ts = mention_body(droid, "where is retry?")
    assert post(server.port, body, signed(body))[0] == 200
    run = droid.run_for("CDEV", ts)
    assert droid.wait_state(run.run_id, "awaiting_approval")
    assert post(server.port, body, {"content-type": "application/json", **payloads.sign("wrong", body)})[0] == 401
    assert post(server.port, "{broken", signed("{broken"))[0] == 400
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=10) as response:
        assert json.loads(response.read()) == {"ok": True}


def test_url_verification_over_http(served, fixtures_dir):
    _, server = served
    body = (fixtures_dir / "slack/events/url_verification.json").read_text()
    status, text = post(server.port, body, signed(body))
    assert status == 200 and json.loads(body)["challenge"] in text


MALFORMED = {
    "null": "null", "list": "[1, 2]", "number": "42", "string": '"hi"',
    "event is a list": '{"type": "event_callback", "team_id": "T0DROID", "event_id": "Ev1", "event": []}',
    "event.type is a number": '{"type": "event_callback", "team_id": "T0DROID", "event_id": "Ev1", '
                              '"event": {"type": 7, "user": "U1", "channel": "CDEV", "ts": "1.0"}}',
    "empty actions": '{"type": "block_actions", "user": {"id": "U1"}, "actions": []}',
    "deep nesting": '{"type": "event_callback", "x": ' + "[" * 100 + "]" * 100 + "}",
    "very deep nesting": "[" * 100_000 + "]" * 100_000,
    "user is a number": '{"type": "block_actions", "user": 5, "actions": [{"action_id": "droid_approve"}]}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_signed_malformed_json_is_400_and_unsigned_is_401(served, name):
    droid, server = served
    body = MALFORMED[name]
    assert post(server.port, body, signed(body))[0] == 400
    assert post(server.port, body, {"content-type": "application/json"})[0] == 401
    assert run_count(droid) == 0


@pytest.mark.parametrize("payload", ["[1]", "null", "not json", '{"type": "block_actions", "actions": {}}'])
def test_form_payload_that_is_not_an_object_is_400(served, payload):
    droid, server = served
    from urllib.parse import quote
    body = "payload=" + quote(payload)
    assert post(server.port, body, signed(body, "application/x-www-form-urlencoded"))[0] == 400


def test_lone_surrogate_and_nul_in_a_mention_still_create_the_run(served):
    droid, server = served
    body, ts = mention_body(droid, "where is retry? \ud800 and \x00 here")
    assert "\\ud800" in body and "\\u0000" in body
    assert post(server.port, body, signed(body))[0] == 200
    run = droid.run_for("CDEV", ts)
    assert run.task == "where is retry? \ufffd and \ufffd here"


def test_bad_content_length_is_400_at_once(served):
    _, server = served
    for value in (b"abc", b"-1"):
        answer = raw_exchange(server.port, b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Content-Length: " + value + b"\r\n\r\n{}")
        assert answer.startswith(b"HTTP/1.1 400"), (value, answer[:80])


def test_body_over_the_bound_is_413_before_it_is_read(served):
    _, server = served
    answer = raw_exchange(server.port, b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: " + str(MAX_BODY + 1).encode() + b"\r\n\r\n{")
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_client_that_stalls_mid_body_is_disconnected(served):
    _, server = served   # channel_timeout=2: a lying Content-Length cannot hold the connection for long
    answer = raw_exchange(server.port, b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
                          timeout=15)
    assert answer == b""   # closed by the server well before our 15 s timeout


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs `ss` (iproute2) to read the listen backlog")
def test_listen_backlog_is_at_least_128(served):
    _, server = served
    lines = subprocess.run(["ss", "-ltnH", f"sport = :{server.port}"], capture_output=True, text=True).stdout.split()
    assert lines, "ss found no listening socket"
    # ss -ltn: State Recv-Q Send-Q Local Peer; for a listening socket Send-Q is the backlog
    assert int(lines[2]) >= 128


def test_a_listener_error_after_the_ack_ends_with_a_notice_in_the_thread(served, caplog):
    droid, server = served
    body, ts = mention_body(droid, "where is retry?")
    droid.store.database.close()   # the database goes away under the listener
    assert post(server.port, body, signed(body))[0] == 200
    notice = wait_for(lambda: [p for p in droid.posts() if p.get("thread_ts") == ts and "⚠️" in p["text"]],
                      what="failure notice in the thread")
    assert len(notice) == 1
    failures = [r for r in caplog.records if r.name == "droid.errors"]
    assert len(failures) == 1 and "where is retry" not in failures[0].getMessage()


def test_a_button_listener_error_is_acknowledged_at_once_with_a_notice(served):
    droid, server = served
    from bot.slack import blocks
    droid.store.database.close()   # the click's listener fails after its ack()
    body, content_type = payloads.encode(payloads.block_action(
        user="UALICE", channel="CDEV", message_ts="1700000000.000100", action_id="droid_approve",
        value=blocks.button_value("r-none", 1), team="T0DROID"))
    started = time.monotonic()
    assert post(server.port, body, signed(body, content_type))[0] == 200
    assert time.monotonic() - started < 1.5   # not Bolt's 3 s wait for an ack that was reset
    wait_for(lambda: [p for p in droid.posts() if p.get("thread_ts") == "1700000000.000100" and "⚠️" in p["text"]],
             what="failure notice under the clicked message")


def sentry_headers(body: bytes) -> dict:
    return {"content-type": "application/json", "sentry-hook-resource": "event_alert",
            "sentry-hook-timestamp": str(int(time.time())), "sentry-hook-signature": hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()}


def test_sentry_alert_with_a_lone_surrogate_is_analysed(served, fixtures_dir):
    droid, server = served
    payload = json.loads((fixtures_dir / "sentry/webhooks/event_alert.issue_alert_triggered.json").read_text())
    payload["data"]["event"]["title"] = "Bad \ud800 byte\x00 in title"
    body = json.dumps(payload).encode()
    assert post(server.port, body, sentry_headers(body), "/sentry/webhook")[0] == 200
    alert = wait_for(lambda: [m for m in droid.slack.messages.get("CALERTS", []) if m["text"].startswith("🚨")],
                     what="alert posted")
    assert "Bad \ufffd byte\ufffd in title" in alert[0]["text"]
    run = wait_for(lambda: droid.store.runs.latest_in_thread("CALERTS", alert[0]["ts"]), what="RCA run")
    assert run.skill == "rca"
    assert droid.wait_state(run.run_id, "succeeded", "failed", "awaiting_approval", timeout=30)


def test_signed_sentry_webhook_that_is_not_an_object_is_400(served):
    droid, server = served
    for body in (b"[]", b"null", b"[" * 50_000 + b"]" * 50_000):
        assert post(server.port, body, sentry_headers(body), "/sentry/webhook")[0] == 400
    assert post(server.port, b"[]", {"sentry-hook-signature": "0" * 64}, "/sentry/webhook")[0] == 401


def serve_process(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", *args], cwd=REPO_ROOT, text=True,
                            env={"PATH": os.environ["PATH"], **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_serve_port_0_picks_a_free_port_and_logs_it(tmp_path):
    proc = serve_process({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DROID_HOST": "127.0.0.1",
                          "DROID_DB": str(tmp_path / "d.db")}, "--port", "0")
    try:
        line = wait_for(lambda: next((x for x in iter(proc.stderr.readline, "") if "serving HTTP on" in x), None),
                        timeout=30, what="the serving line")
        port = int(line.split("127.0.0.1:")[1].split()[0])
        assert port not in (0, 3000)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as response:
            assert response.status == 200
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0   # SIGTERM shuts down like Ctrl-C


@pytest.mark.parametrize("case", ["no tokens", "database", "port in use", "socket mode"])
def test_serve_start_up_failures_are_one_line_and_exit_2(tmp_path, case):
    from bot.local.slack_standin import SlackStandIn
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "DROID_DB": str(tmp_path / "d.db"),
           "DROID_HOST": "127.0.0.1"}
    busy, standin = socket.socket(), None
    args = []
    if case == "no tokens":
        env = {"DROID_DB": env["DROID_DB"]}
    elif case == "database":
        env["DROID_DB"] = str(tmp_path / "missing" / "dir" / "d.db")
    elif case == "port in use":
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        args = ["--port", str(busy.getsockname()[1])]
    else:   # Slack refuses apps.connections.open
        standin = SlackStandIn().start()
        env.update(SLACK_APP_TOKEN="xapp-1-bad", SLACK_API_URL=standin.api_url)
    try:
        proc = serve_process(env, *args)
        _, err = proc.communicate(timeout=60)
    finally:
        busy.close()
        if standin:
            standin.stop()
    assert proc.returncode == 2
    ours = [line for line in err.splitlines() if line.startswith("droid serve:")]
    assert len(ours) == 1 and "Traceback" not in err, err


def test_a_route_gets_text_or_when_it_asks_the_raw_bytes():
    seen = []

    def text_route(body, headers):
        seen.append(body)
        return 200, {}, "ok"

    def bytes_route(body, headers):
        seen.append(body)
        return 200, {}, "ok"

    bytes_route.wants_bytes = True
    server = DroidHTTPServer(None, 0, host="127.0.0.1", routes={"/text": text_route, "/raw": bytes_route}).start()
    try:
        assert post(server.port, b"\xff\xfe raw", {}, "/raw")[0] == 200
        assert post(server.port, b"\xff\xfe raw", {}, "/text")[0] == 400
        assert post(server.port, "caf\u00e9".encode(), {}, "/text")[0] == 200
        assert post(server.port, b"{}", {}, "/slack/events")[0] == 404   # no Slack app on this server
    finally:
        server.shutdown()
    assert seen == [b"\xff\xfe raw", "caf\u00e9"]


def test_shutdown_stops_the_server_even_when_its_wake_up_pipe_is_gone():
    server = DroidHTTPServer(None, 0, host="127.0.0.1", routes={}).start()
    assert post(server.port, b"{}", {}, "/nowhere")[0] == 404
    os.close(server.server.trigger.trigger)     # what a double close elsewhere in the process does to it
    server.shutdown()
    assert not server._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
