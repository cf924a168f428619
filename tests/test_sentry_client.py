"""SentryClient against a local stub serving Sentry's own API response examples; links; webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from integrations.sentry_client import SentryClient, SentryError
from integrations.sentry_counts import bin_counts
from integrations.sentry_event import parse_event
from integrations.sentry_issue import SentryIssue
from integrations.sentry_links import parse_issue_url
from integrations.sentry_signature import verify_webhook
from tests.stubs.sentry_stub import SentryStub

SHARED = Path(os.environ.get("DROID_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
API = SHARED / "fixtures" / "sentry" / "api"
WEBHOOKS = SHARED / "fixtures" / "sentry" / "webhooks"
ORG, TOKEN = "acme", "sntrys_test_token_abcdef0123456789"
ISSUE_PATH = f"/api/0/organizations/{ORG}/issues/1/"


@pytest.fixture
def stub():
    if not API.is_dir():
        pytest.skip(f"Sentry API fixtures not found at {API} (set DROID_SHARED to ../shared)")
    with SentryStub(API, org=ORG, token=TOKEN) as server:
        yield server


class Sleeps(list):
    """A `sleep` that records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(stub, sleeps) -> SentryClient:
    return SentryClient(stub.url, TOKEN, ORG, timeout=5, sleep=sleeps)


# ---------------------------------------------------------------------------------------- calls


def test_issue_is_parsed_from_the_api_shape(client, stub):
    issue = client.issue("1")
    assert isinstance(issue, SentryIssue)
    assert (issue.id, issue.short_id, issue.project_slug) == ("1", "PUMP-STATION-1", "pump-station")
    assert issue.title == "This is an example Python exception"
    assert issue.culprit == "raven.scripts.runner in main"
    assert issue.permalink == "https://sentry.io/the-interstellar-jurisdiction/pump-station/issues/1/"
    assert (issue.level, issue.status) == ("error", "unresolved")
    assert issue.count == 150 and issue.user_count == 12          # count arrives as the string "150"
    assert issue.first_seen == datetime(2018, 11, 6, 21, 19, 55, tzinfo=UTC)
    assert issue.last_seen == datetime(2018, 12, 6, 21, 19, 55, tzinfo=UTC)
    assert issue.release_first == "17642328ead24b51867165985996d04b29310337"
    assert issue.release_last is None
    assert issue.raw["metadata"]["title"] == issue.title
    [req] = stub.requests
    assert (req.method, req.path) == ("GET", ISSUE_PATH)
    assert req.header("Authorization") == f"Bearer {TOKEN}"


def test_issue_overrides_and_short_ids(client, stub):
    raw = stub.fixture("retrieve_an_issue")
    raw.update(id="42", shortId="BACKEND-7", count="3", firstRelease=None, lastRelease={"version": "2.0"})
    stub.issues["BACKEND-7"] = raw
    issue = client.issue("BACKEND-7")
    assert (issue.id, issue.short_id, issue.count) == ("42", "BACKEND-7", 3)
    assert (issue.release_first, issue.release_last) == (None, "2.0")


def test_latest_event_parses_with_frames(client, stub):
    ev = client.event("1", "latest")
    assert ev["eventID"] == "9999aaaaca8b46d797c23c6077c6ff01" and ev["groupID"] == "1"
    parsed = parse_event(ev)
    assert parsed.issue_id == "1"
    assert parsed.frames, "the API event's exception entry must give frames"
    assert parsed.primary.type == "ForbiddenError"
    assert parsed.primary.value == "GET /organizations/hellboy-meowmeow/users/ 403"
    assert any(f.lineno == 71 and f.function == "ignoreOnError" for f in parsed.frames)
    assert stub.requests[-1].path == ISSUE_PATH + "events/latest/"


def test_recommended_event_is_the_default_and_falls_back_to_latest(client, stub):
    client.event("1")
    assert [r.path for r in stub.requests] == [ISSUE_PATH + "events/recommended/"]
    stub.has_recommended = False
    custom = stub.fixture("retrieve_an_issue_event_latest")
    custom["eventID"] = "ab" * 16
    stub.latest_event["1"] = custom
    ev = client.event("1")
    assert ev["eventID"] == "ab" * 16
    assert [r.path for r in stub.requests[1:]] == [ISSUE_PATH + "events/recommended/",
                                                   ISSUE_PATH + "events/latest/"]


def test_oldest_and_by_id(client, stub):
    old = stub.fixture("retrieve_an_issue_event_latest")
    old["eventID"] = "cd" * 16
    stub.oldest_event["1"] = old
    assert client.event("1", "oldest")["eventID"] == "cd" * 16
    assert client.event("1", "cd" * 16)["eventID"] == "cd" * 16
    with pytest.raises(SentryError) as err:
        client.event("1", "ef" * 16)       # an unknown event id is not silently replaced
    assert err.value.kind == "not_found"


def test_events_list_and_pagination(client, stub):
    [ev] = client.events("1")
    assert ev["eventID"] == "9fac2ceed9344f2bbfdd1fdacb0ed9b1"
    assert ev["groupID"] == "1" and ev["dateCreated"] == "2020-09-11T17:46:36Z"

    template = stub.fixture("list_an_issues_events")[0]
    stub.issue_events["7"] = [{**template, "eventID": f"{i:032x}"} for i in range(250)]
    stub.requests.clear()
    got = client.events("7", limit=230)
    assert [e["eventID"] for e in got] == [f"{i:032x}" for i in range(230)]
    assert len(stub.requests) == 3                              # 100 + 100 + 100 (cut to 230)
    assert all(r.header("Authorization") == f"Bearer {TOKEN}" for r in stub.requests)
    assert len(client.events("7", limit=5)) == 5


def test_event_counts_from_issue_stats(client, stub):
    counts = client.event_counts("1", "24h")
    assert counts == [(datetime.fromtimestamp(1541451600, UTC), 557),
                      (datetime.fromtimestamp(1541455200, UTC), 473)]
    assert stub.requests[-1].query["statsPeriod"] == ["24h"]
    assert [c for _, c in client.event_counts("1", "30d")] == [565, 12862]


def test_event_counts_fall_back_to_binned_events(client, stub):
    raw = stub.fixture("retrieve_an_issue")
    del raw["stats"]
    stub.issues["9"] = raw
    template = stub.fixture("list_an_issues_events")[0]
    stamps = ["2024-05-01T10:05:00Z", "2024-05-01T10:59:59Z", "2024-05-01T13:00:00Z"]
    stub.issue_events["9"] = [{**template, "dateCreated": s} for s in stamps]
    counts = client.event_counts("9", "24h")
    hour = [datetime(2024, 5, 1, h, tzinfo=UTC) for h in (10, 11, 12, 13)]
    assert counts == list(zip(hour, [2, 0, 0, 1], strict=True))
    assert stub.requests[-1].path == f"/api/0/organizations/{ORG}/issues/9/events/"
    assert stub.requests[-1].query["statsPeriod"] == ["24h"]
    # a period the server refuses (400) is binned from the events too, daily when > 2 days
    stub.fail(r"/issues/9/$", 400, body={"detail": "Invalid stats_period."})
    assert client.event_counts("9", "7d") == [(datetime(2024, 5, 1, tzinfo=UTC), 3)]


def test_bin_counts_edges():
    assert bin_counts([]) == [] and bin_counts([None]) == []
    t = datetime(2024, 1, 1, 0, 30, tzinfo=UTC)
    assert bin_counts([t], 3600) == [(datetime(2024, 1, 1, tzinfo=UTC), 1)]


# --------------------------------------------------------------------------------------- errors


def test_wrong_token_is_an_auth_error_without_the_token(stub):
    bad = "sntrys_wrong_token_999999999999"
    with pytest.raises(SentryError) as err:
        SentryClient(stub.url, bad, ORG).issue("1")
    assert err.value.kind == "auth" and err.value.status == 401
    assert bad not in err.value.message and bad not in str(err.value) and bad not in repr(err.value)
    assert len(stub.requests) == 1                    # 401 is never retried
    assert bad not in repr(SentryClient(stub.url, bad, ORG))


def test_not_found(client, stub):
    stub.serve_unknown = False
    with pytest.raises(SentryError) as err:
        client.issue("404404")
    assert err.value.kind == "not_found" and err.value.status == 404
    with pytest.raises(SentryError) as err:
        SentryClient(stub.url, TOKEN, "other-org").issue("1")     # wrong organisation
    assert err.value.kind == "not_found"


def test_rate_limit_is_retried_after_retry_after(client, stub, sleeps):
    stub.fail(r"/issues/1/$", 429, times=2, headers={"Retry-After": "1"})
    assert client.issue("1").id == "1"
    assert sleeps == [1.0, 1.0]
    assert len(stub.requests_to(ISSUE_PATH)) == 3


def test_rate_limit_retry_really_waits_retry_after_zero(stub):
    stub.fail(r"/events/latest/$", 429, times=1, headers={"Retry-After": "0"})
    ev = SentryClient(stub.url, TOKEN, ORG).event("1", "latest")
    assert ev["groupID"] == "1"
    assert len(stub.requests) == 2


def test_rate_limit_beyond_the_retries_or_too_long(client, stub, sleeps):
    stub.fail(r"/issues/1/$", 429, times=3, headers={"Retry-After": "0"})
    with pytest.raises(SentryError) as err:
        client.issue("1")
    assert err.value.kind == "rate_limited" and len(sleeps) == 2
    stub.fail(r"/issues/1/$", 429, times=1, headers={"Retry-After": "3600"})
    with pytest.raises(SentryError) as err:
        client.issue("1")                              # an hour is not waited for
    assert err.value.kind == "rate_limited" and "3600" in err.value.message
    assert len(sleeps) == 2


def test_server_errors_are_retried_with_backoff_then_reported(client, stub, sleeps):
    stub.fail(r"/issues/1/$", 500, times=100)
    with pytest.raises(SentryError) as err:
        client.issue("1")
    assert err.value.kind == "server" and err.value.status == 500
    assert len(stub.requests_to(ISSUE_PATH)) == 3      # 1 + retries=2
    assert sleeps == [0.5, 1.0]


def test_a_transient_502_is_survived(client, stub, sleeps):
    stub.fail(r"/issues/1/events/$", 502, times=1)
    assert len(client.events("1")) == 1 and sleeps == [0.5]


def test_only_gets_are_retried(client, stub, sleeps):
    stub.fail(r"/issues/1/$", 503, times=5, method="PUT")
    with pytest.raises(SentryError) as err:
        client._request("PUT", ISSUE_PATH, body={"status": "resolved"})
    assert err.value.kind == "server" and len(stub.requests) == 1 and sleeps == []


def test_connection_refused(sleeps):
    with socket.socket() as s:          # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = SentryClient(f"http://127.0.0.1:{port}", TOKEN, ORG, timeout=2, sleep=sleeps)
    with pytest.raises(SentryError) as err:
        client.issue("1")
    assert err.value.kind == "connection"
    assert TOKEN not in err.value.message
    assert len(sleeps) == 2                            # refused connections are retried too


def test_non_json_answer_is_unknown(client, stub):
    stub.fail(r"/issues/1/$", 200, body="<html>login</html>")
    with pytest.raises(SentryError) as err:
        client.issue("1")
    assert err.value.kind == "unknown"


def test_base_url_forms(stub):
    for base in (stub.url + "/", stub.url + "/api/0", stub.url + "/api/0/"):
        assert SentryClient(base, TOKEN, ORG).issue("1").id == "1"


# ---------------------------------------------------------------------------------------- links


@pytest.mark.parametrize("text, expected", [
    ("https://acme.sentry.io/issues/4509812/", ("acme", "4509812")),
    ("see https://acme.sentry.io/issues/4509812/?project=2&query=is%3Aunresolved now", ("acme", "4509812")),
    ("https://sentry.io/organizations/acme/issues/123/", ("acme", "123")),
    ("https://sentry.io/organizations/acme/issues/123/events/abcdef0123/?project=5", ("acme", "123")),
    ("https://sentry.example.com/organizations/the-org/issues/77/?project=3&referrer=slack",
     ("the-org", "77")),
    ("http://localhost:9000/organizations/sentry/issues/5", ("sentry", "5")),
    ("https://sentry.io/the-interstellar-jurisdiction/pump-station/issues/1/",
     ("the-interstellar-jurisdiction", "1")),
    ("*<https://acme.sentry.io/issues/99/?alert_rule_id=1|ZeroDivisionError: division by zero>*",
     ("acme", "99")),
    ("alert: <https://sentry.io/organizations/baz/issues/1/?referrer=slack|*N+1 Query*>", ("baz", "1")),
    ("https://us.sentry.io/issues/555/", (None, "555")),
    ("https://acme.sentry.io/issues/PUMP-STATION-1/", ("acme", "PUMP-STATION-1")),
    ("first https://github.com/o/r/issues/12 then https://acme.sentry.io/issues/8/", ("acme", "8")),
])
def test_parse_issue_url(text, expected):
    assert parse_issue_url(text) == expected


@pytest.mark.parametrize("text", [
    "", "no link here", "https://github.com/owner/repo/issues/42",
    "https://acme.sentry.io/issues/?query=is:unresolved", "https://sentry.io/organizations/acme/issues/",
    "https://acme.sentry.io/alerts/rules/", "https://example.com/a/b/issues/3/",
])
def test_parse_issue_url_no_match(text):
    assert parse_issue_url(text) is None


def test_parse_issue_url_on_the_fixture_permalinks():
    if not API.is_dir():
        pytest.skip(f"Sentry API fixtures not found at {API}")
    issue = json.loads((API / "retrieve_an_issue.response.json").read_text())
    assert parse_issue_url(issue["permalink"]) == ("the-interstellar-jurisdiction", issue["id"])


# -------------------------------------------------------------------------------------- webhooks


def test_verify_webhook():
    path = WEBHOOKS / "event_alert.issue_alert_triggered.json"
    if not path.is_file():
        pytest.skip(f"Sentry webhook fixtures not found at {WEBHOOKS} (set DROID_SHARED to ../shared)")
    body = path.read_bytes()
    secret = "a1b2c3d4e5f6-client-secret"
    good = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert verify_webhook(body, good, secret)
    assert verify_webhook(body, good.upper(), secret)              # hex case does not matter
    assert not verify_webhook(body, good, "another-secret")
    assert not verify_webhook(body + b" ", good, secret)            # the raw bytes, not re-serialised JSON
    assert not verify_webhook(body, "0" * 64, secret)
    assert not verify_webhook(body, None, secret)
    assert not verify_webhook(body, "", secret)
    assert not verify_webhook(body, good, "")
    assert not verify_webhook(body, "é" * 64, secret)              # non-ASCII header: False, no crash
