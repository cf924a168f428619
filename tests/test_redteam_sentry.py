"""Red team: credentials in the structured parts of a Sentry event the first canary pass did not shape.

Sentry sends request headers, cookies and query strings as lists of `[name, value]` pairs, cookies as one
`name=value; …` string, OpenTelemetry-style header keys in `contexts`, `sys.argv` in `extra`, session ids
under `session` keys. None of those values is a provider-format token, so only the name next to them
says it is a credential. Unit attacks on `Redactor.data`, then the whole alert → RCA flow through the
real app: a signed event-alert webhook whose event is stored (database, WAL) and posted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.slack.sentry_webhook import sentry_route
from integrations.redact import MASK, Redactor
from tests.harness import Droid, wait_for

redact = Redactor()
HOOK_SECRET = "sentry-client-secret-redteam-0123"
# Opaque session-like values: no provider prefix, no name in the value itself.
V = {c: f"q8Zt3Vw1Canary9xLmN0pQr7a{c}" for c in "ABCDEFGHIJKLMN"}


def poisoned_request() -> dict:
    return {
        "url": "https://shop.example/checkout", "method": "POST",
        "headers": [["Authorization", f"Bearer {V['A']}"], ["Cookie", f"sessionid={V['B']}; theme=dark"],
                    ["X-Api-Key", V["C"]], ["X-Auth-Token", V["D"]], ["User-Agent", "curl/8.4"]],
        "cookies": f"sessionid={V['E']}; csrftoken={V['F']}",
        "query_string": [["access_token", V["G"]], ["page", "2"]],
        "data": {"session": V["H"], "card": "4242"},
        "env": {"REMOTE_ADDR": "10.0.0.1"},
    }


def poisoned_extras() -> dict:
    return {"extra": {"sys.argv": ["manage.py", "runserver", "--api-key", V["I"]]},
            "contexts": {"trace": {"data": {"http.request.header.authorization": f"Bearer {V['J']}",
                                             "http.request.header.cookie": f"JSESSIONID={V['K']}"}}},
            "breadcrumbs": {"values": [{"category": "httplib", "type": "http",
                                        "data": {"url": f"https://api.example.com/v1?token={V['L']}", "method": "GET"}},
                                       {"category": "http", "message": f"set-cookie: session={V['M']}; Path=/; HttpOnly"}]},
            "user": {"id": "42", "cookies": [["sid", V["N"]]]}}


def leaked(text: str) -> list[str]:
    return sorted(k for k, v in V.items() if v in text)


def test_pairs_cookies_argv_and_header_contexts_are_masked():
    event = {"request": poisoned_request(), **poisoned_extras()}
    out = redact.data(event)
    assert leaked(json.dumps(out)) == []
    assert out["request"]["headers"][4] == ["User-Agent", "curl/8.4"], "ordinary headers survive"
    assert out["request"]["headers"][1] == ["Cookie", f"sessionid={MASK}; theme={MASK}"], "cookie names survive"
    assert out["request"]["query_string"][1] == ["page", "2"]
    assert out["extra"]["sys.argv"][:3] == ["manage.py", "runserver", "--api-key"]
    assert out["request"]["data"]["card"] == "4242" and out["user"]["id"] == "42"


@pytest.mark.parametrize("value", [
    [["file.py", "12"], ["other.py", "30"]],
    ["pytest", "-q", "--tb", "short", "tests/"],
    {"session_count": 3, "sid_label": "blue"},
    ("a", "b"),
])
def test_ordinary_lists_and_pairs_survive(value):
    assert redact.data(value) == value


@pytest.fixture(scope="module")
def world(tmp_path_factory, fixtures_dir):
    """An event alert webhook (Sentry's real shape: headers as pairs) carrying the poisoned request."""
    tmp = tmp_path_factory.mktemp("sentry_redteam")
    payload = json.loads((fixtures_dir / "sentry/webhooks/event_alert.issue_alert_triggered.json").read_text())
    payload["data"]["event"]["request"] = poisoned_request()
    payload["data"]["event"].update(poisoned_extras())
    body = json.dumps(payload, separators=(",", ":")).encode()
    droid = Droid(tmp, routing=Routing(alert_channels=("CALERTS",)), sentry_webhook_secret=HOOK_SECRET)
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes={"/sentry/webhook": sentry_route(droid.deps)})
    server.start()
    try:
        headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "event_alert",
                   "Request-ID": uuid.uuid4().hex, "Sentry-Hook-Timestamp": str(int(time.time())),
                   "Sentry-Hook-Signature": hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()}
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/sentry/webhook", data=body, method="POST",
                                         headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        wait_for(lambda: droid.posts("CALERTS"), timeout=30, what="the alert post")
        wait_for(lambda: not droid.deps.runner.busy and not droid.store.outbox.pending(), what="droid idle")
        droid.store.database.db.execute("PRAGMA wal_checkpoint(FULL)")
        path = Path(droid.settings.db_path)
        wal = Path(f"{path}-wal")
        return {"slack": json.dumps([c.args for c in droid.slack.calls]),
                "database": (path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).decode("utf-8", "replace")}
    finally:
        server.shutdown()
        droid.close()


@pytest.mark.parametrize("sink", ["slack", "database"])
def test_the_poisoned_event_leaks_into_no_sink(world, sink):
    assert world[sink].strip(), f"nothing reached {sink}"
    assert leaked(world[sink]) == [], f"{sink} leaked {leaked(world[sink])}"


def test_the_alert_was_really_handled(world):
    assert "chat.postMessage" not in world["slack"] or '"CALERTS"' in world["slack"]
    assert "sentry:" in world["database"], "the delivery was recorded (its payload at rest, redacted)"
