"""The Sentry event parser over every real payload shape in ../shared/fixtures/sentry, plus an
event produced by the real sentry-sdk, validated against Relay's event schema."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from integrations.sentry_event import parse_event
from integrations.sentry_model import ParsedEvent
from integrations.sentry_values import parse_timestamp

SHARED = Path(os.environ.get("DROID_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
SENTRY = SHARED / "fixtures" / "sentry"
PAYLOAD_DIRS = ("events", "webhooks", "api")

# Fixtures that are whole events as an SDK sends them (modern keys): validated as they are.
FULL_SDK_EVENTS = ("events/java-chained.grouping-input.json",
                   "events/chained-exception-in-app.grouping-input.json")
# Keys Sentry's server adds to stored events (not sent by SDKs, so not in Relay's input schema).
SERVER_ADDED = ("key_id", "metadata", "received", "_ref", "_ref_version", "datetime",
                "grouping_config", "hashes", "issue_id", "issue_url", "location", "message",
                "project", "title", "url", "web_url")
SERVER_ADDED_FRAME = ("data", "errors", "trust")
LEGACY_KEYS = {"sentry.interfaces.Exception": "exception",
               "sentry.interfaces.Breadcrumbs": "breadcrumbs",
               "sentry.interfaces.Http": "request", "sentry.interfaces.User": "user",
               "sentry.interfaces.Message": "logentry"}


def _need_shared() -> None:
    if not SENTRY.is_dir():
        pytest.skip(f"../shared fixtures not found at {SENTRY} (set DROID_SHARED)")


def _load(rel: str):
    _need_shared()
    return json.loads((SENTRY / rel).read_text("utf-8"))


def _all_payload_files() -> list[str]:
    if not SENTRY.is_dir():
        return []
    return sorted(str(p.relative_to(SENTRY)) for d in PAYLOAD_DIRS
                  for p in (SENTRY / d).glob("*.json"))


@pytest.fixture(scope="module")
def validator():
    schema = _load("schema/relay_event.schema.json")
    return jsonschema.Draft7Validator(schema)


def _without_server_fields(event: dict) -> dict:
    """An event as stored by Sentry, minus what the server added (top level, frames, sdk)."""
    event = {k: copy.deepcopy(v) for k, v in event.items() if k not in SERVER_ADDED}
    exc = event.get("exception")
    for value in (exc.get("values") or []) if isinstance(exc, dict) else []:
        for frame in ((value.get("stacktrace") or {}).get("frames") or []):
            for key in SERVER_ADDED_FRAME:
                frame.pop(key, None)
    if isinstance(event.get("sdk"), dict):
        event["sdk"].pop("client_ip", None)
    return event


def _errors(validator, event) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(event)]


# ---------------------------------------------------------------------------------------------
# every fixture parses


@pytest.mark.parametrize("rel", _all_payload_files() or ["(missing)"])
def test_every_fixture_parses(rel):
    data = _load(rel) if rel != "(missing)" else _need_shared()
    items = data if isinstance(data, list) else [data]
    assert items
    for item in items:
        ev = parse_event(item)
        assert isinstance(ev, ParsedEvent)
        assert ev.title or ev.message or ev.exceptions, rel
        for exc in ev.exceptions:
            for fr in exc.frames:
                assert fr.lineno is None or isinstance(fr.lineno, int)
                assert fr.in_app in (True, False, None)
                assert isinstance(fr.pre_context, list) and isinstance(fr.vars, dict)
        json.dumps(ev.extra, default=str)  # extra stays serialisable


def test_fixture_list_is_complete():
    _need_shared()
    names = _all_payload_files()
    assert len(names) >= 14, names


# ---------------------------------------------------------------------------------------------
# shapes


def test_python_modern_event():
    ev = parse_event(_load("events/python-modern.json"))
    assert ev.platform == "python" and ev.level == "error" and ev.environment == "production"
    assert ev.timestamp == datetime.fromtimestamp(1751006912.86742, tz=UTC)
    assert ev.tags["server_name"] == "web01.example.org"
    exc = ev.primary
    assert exc.type == "Exception" and exc.value == "This is an example Python exception"
    assert exc.mechanism == "excepthook" and exc.handled is False
    assert [f.function for f in exc.frames] == ["<module>", "main"]  # innermost last
    inner = exc.frames[-1]
    assert inner.abs_path == "/Users/user/test/main.py" and inner.lineno == 26
    assert inner.in_app is True
    assert inner.context_line.strip().startswith("raise Exception")
    assert inner.vars["int_var"] == "1" and len(inner.pre_context) == 5


def test_javascript_legacy_interface_keys():
    ev = parse_event(_load("events/javascript.json"))
    exc = ev.primary
    assert exc.type == "TypeError" and "updateFrom" in exc.value
    assert [f.function for f in exc.frames] == ["member", "merge", "poll", "apply"]
    first = exc.frames[0]
    assert first.filename == "../../sentry/scripts/views.js" and first.colno == 50
    assert first.module is None and first.in_app is True
    assert exc.frames[-1].in_app is False
    assert ev.user["email"] == "mail@example.org"
    assert ev.title.startswith("TypeError: Object [object Object]")


def test_java_legacy_event_with_tags_and_release():
    ev = parse_event(_load("events/java.json"))
    assert ev.platform == "java" and ev.release == "3.0.2" and ev.environment == "production"
    assert ev.message == "Authentication failed, token expired!"
    assert ev.request_url == "http://localhost:8080/"
    exc = ev.primary
    assert exc.type == "ApiException" and exc.module == "io.sentry.example"
    assert exc.qualified_type == "io.sentry.example.ApiException"
    assert len(exc.frames) == 57
    assert [f.function for f in exc.frames[-3:]] == ["home", "fetch", "perform"]
    assert all(f.in_app for f in exc.frames[-3:])
    assert exc.frames[-2].module == "io.sentry.example.Sidebar"
    no_line = [f for f in exc.frames if f.function == "invoke0"]
    assert no_line and no_line[0].lineno is None


def test_java_chained_keeps_sentry_order():
    ev = parse_event(_load("events/java-chained.grouping-input.json"))
    assert [e.type for e in ev.exceptions] == ["BindException", "LifecycleException",
                                               "LifecycleException"]
    assert ev.primary.value == "Failed to start component [Connector[HTTP/1.1-8080]]"
    assert ev.message == "Failed to start connector [Connector[HTTP/1.1-8080]]"
    assert ev.release is None and ev.event_id == "0c958c4b7c5f447eb54b4656198d8d5a"
    assert all(len(e.frames) > 5 for e in ev.exceptions)
    assert len(ev.frames) == sum(len(e.frames) for e in ev.exceptions)


def test_chained_with_null_frames():
    ev = parse_event(_load("events/chained-exception-in-app.grouping-input.json"))
    assert [e.type for e in ev.exceptions] == ["RemoteException",
                                               "OnErrorNotImplementedException"]
    assert ev.exceptions[0].frames == []
    assert "Remote stack trace" in ev.exceptions[0].value
    (frame,) = ev.primary.frames
    assert frame.module == "com.example.MainActivity" and frame.lineno == 9 and frame.in_app


def test_partial_fragments():
    chained = parse_event(_load("events/partial_exception_chained.docs.json"))
    assert [e.type for e in chained.exceptions] == ["Exception", "ValueError"]
    assert chained.primary.value == "chained exception"
    assert all(e.frames == [] for e in chained.exceptions)
    flat = parse_event(_load("events/partial_exception_flat_list.docs.json"))
    assert [e.type for e in flat.exceptions] == ["Error"]
    assert flat.primary.mechanism == "generic" and flat.primary.handled is False
    assert flat.title == "Error: An error occurred"


def test_webhook_error_created():
    ev = parse_event(_load("webhooks/error.created.json"))
    assert ev.event_id == "bb78c1407cea4519aa397afc059c793d" and ev.issue_id == "1170820242"
    assert ev.title == "ReferenceError: blooopy is not defined"
    assert ev.platform == "javascript" and ev.release is None
    assert ev.timestamp == datetime.fromtimestamp(1566248317.391, tz=UTC)
    assert ev.request_url == "https://null.jsbin.com/runner"
    assert ev.tags["browser"] == "Chrome 75.0.3770"
    (frame,) = ev.primary.frames
    assert frame.abs_path == "https://null.jsbin.com/runner" and frame.function is None
    assert frame.pre_context == ["<!doctype html>", "<html>"]
    assert ev.permalink.endswith("/events/bb78c1407cea4519aa397afc059c793d/")


def test_webhook_event_alert():
    ev = parse_event(_load("webhooks/event_alert.issue_alert_triggered.json"))
    assert ev.issue_id == "1117540176" and ev.primary.type == "ReferenceError"
    assert len(ev.primary.frames) == 3 and ev.primary.frames[-1].abs_path == "<anonymous>"
    assert ev.extra["triggered_rule"] == "Very Important Alert Rule!"


def test_webhook_issue_created_has_issue_facts_without_frames():
    ev = parse_event(_load("webhooks/issue.created.json"))
    assert ev.exceptions == [] and ev.event_id is None
    assert ev.issue_id == "1170820242" and ev.short_id == "FRONT-END-9"
    assert ev.count == 1 and ev.user_count == 1 and ev.project == "front-end"
    assert ev.first_seen == datetime(2019, 8, 19, 20, 58, 37, 391000, tzinfo=UTC)
    assert ev.title == "ReferenceError: blooopy is not defined"


def test_api_event_with_entries_and_camel_case_frames():
    ev = parse_event(_load("api/retrieve_an_issue_event_latest.response.json"))
    assert ev.event_id == "9999aaaaca8b46d797c23c6077c6ff01" and ev.issue_id == "1341191803"
    assert ev.release == "b65bc521378269d3eaefdc964f8ef56621414943"  # API release object
    assert ev.environment == "prod" and ev.tags["handled"] == "yes"
    assert ev.timestamp == datetime(2020, 6, 17, 22, 26, 56, 98086, tzinfo=UTC)
    assert ev.request_url == "https://sentry.io/organizations/hellboy-meowmeow/issues/"
    exc = ev.primary
    assert exc.type == "ForbiddenError" and exc.frames
    f0 = exc.frames[0]
    assert f0.abs_path.startswith("webpack:////usr/src/getsentry") and f0.lineno == 71
    assert f0.colno == 23 and f0.in_app is False
    # API context [[lineno, text], ...] split around the frame's line
    assert f0.context_line.strip() == "return fn.apply(this, wrappedArguments);"
    assert len(f0.pre_context) == 5 and len(f0.post_context) == 5


def test_api_issue_and_issue_lists():
    issue = parse_event(_load("api/retrieve_an_issue.response.json"))
    assert issue.issue_id == "1" and issue.count == 150 and issue.user_count == 12
    assert issue.first_seen == datetime(2018, 11, 6, 21, 19, 55, tzinfo=UTC)
    assert issue.last_seen == datetime(2018, 12, 6, 21, 19, 55, tzinfo=UTC)
    assert issue.release == "17642328ead24b51867165985996d04b29310337"  # firstRelease
    assert issue.permalink.startswith("https://sentry.io/") and issue.exceptions == []
    (listed,) = _load("api/list_organization_issues.response.json")
    assert parse_event(listed).short_id == "PUMP-STATION-1"
    (event,) = _load("api/list_an_issues_events.response.json")
    ev = parse_event(event)
    assert ev.event_id == "9fac2ceed9344f2bbfdd1fdacb0ed9b1" and ev.issue_id == "1889724436"
    assert ev.release == "17642328ead24b51867165985996d04b29310337" and ev.level == "fatal"


# ---------------------------------------------------------------------------------------------
# schema: the parser reads what Relay accepts


@pytest.mark.parametrize("rel", FULL_SDK_EVENTS)
def test_full_sdk_events_are_valid(validator, rel):
    assert _errors(validator, _load(rel)) == []


def test_stored_events_are_valid_once_server_fields_are_dropped(validator):
    for rel, path in (("events/python-modern.json", None),
                      ("webhooks/error.created.json", ("data", "error")),
                      ("webhooks/event_alert.issue_alert_triggered.json", ("data", "event"))):
        event = _load(rel)
        for key in path or ():
            event = event[key]
        assert _errors(validator, event), "as stored, the event carries server fields"
        assert _errors(validator, _without_server_fields(event)) == [], rel


def _drop_nulls(v):
    if isinstance(v, dict):
        return {k: _drop_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [_drop_nulls(x) for x in v]
    return v


def test_legacy_exception_interface_is_valid_under_the_modern_key(validator):
    """`sentry.interfaces.Exception` holds the shape of `exception` (old serialisers wrote
    explicit nulls for absent fields); the parser reads both keys the same way."""
    for rel in ("events/javascript.json", "events/java.json"):
        legacy = _load(rel)
        assert _errors(validator, legacy), "Relay rejects the legacy key itself"
        modern = _without_server_fields(
            {"exception": _drop_nulls(legacy["sentry.interfaces.Exception"])})
        assert _errors(validator, modern) == [], rel
        assert parse_event(modern).exceptions == parse_event(legacy).exceptions


def test_flat_list_form_is_parsed_though_schema_wants_values(validator):
    flat = _load("events/partial_exception_flat_list.docs.json")
    wrapped = {"exception": {"values": flat["exception"]}}
    assert _errors(validator, wrapped) == []
    assert parse_event(flat).exceptions == parse_event(wrapped).exceptions


def test_bench_events_are_valid_and_parse(validator):
    data = SHARED / "bench" / "rca-bugsinpy-dev"
    if not data.is_dir():
        pytest.skip(f"no bench data at {data}")
    files = sorted(p for p in data.glob("*.json") if not p.name.startswith("_"))
    assert files
    for p in files:
        item = json.loads(p.read_text("utf-8"))
        # `_meta` is the SDK's trimming annotation: Relay reads it beside the event, the event
        # schema does not list it.
        bare = {k: v for k, v in item["event"].items() if k != "_meta"}
        assert _errors(validator, bare) == [], p.name
        ev = parse_event(item["event"])
        assert ev.release == item["buggy_commit"] and ev.primary.frames
        assert parse_event(item).event_id == ev.event_id  # the wrapper file parses too


_SDK_SCRIPT = textwrap.dedent("""
    import json, sys
    import sentry_sdk
    from sentry_sdk.transport import Transport

    events = []

    class Keep(Transport):
        def capture_envelope(self, envelope):
            event = envelope.get_event()
            if event:
                events.append(event)

    client = sentry_sdk.Client(dsn="https://public@example.invalid/1", transport=Keep,
                               default_integrations=False, release="shop@1.2.0",
                               environment="staging", in_app_include=["__main__"])

    class Cart:
        def total(self, prices):
            return sum(p["amount"] for p in prices)

    def checkout(prices):
        try:
            return Cart().total(prices)
        except TypeError as e:
            raise ValueError("cannot total the cart") from e

    try:
        checkout([{"amount": 3}, None])
    except ValueError as e:
        with sentry_sdk.isolation_scope() as scope:
            scope.set_client(client)
            scope.set_tag("tenant", "acme")
            scope.capture_exception(e)
    client.flush(timeout=5)
    print(json.dumps(events[0], default=str))
""")


def test_event_from_the_real_sdk(validator, tmp_path):
    script = tmp_path / "shop_app.py"
    script.write_text(_SDK_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    event = json.loads(out)
    assert _errors(validator, event) == []
    ev = parse_event(event)
    assert ev.release == "shop@1.2.0" and ev.environment == "staging"
    assert ev.tags["tenant"] == "acme" and isinstance(ev.timestamp, datetime)
    assert [e.type for e in ev.exceptions] == ["TypeError", "ValueError"]  # cause first
    cause = ev.exceptions[0]
    assert cause.value == "'NoneType' object is not subscriptable"
    assert [f.function for f in cause.frames][-2:] == ["total", "<genexpr>"]
    inner = cause.frames[-1]
    assert inner.abs_path == str(script) and inner.in_app is True
    assert 'p["amount"]' in inner.context_line
    assert inner.lineno == script.read_text().splitlines().index(
        inner.context_line.rstrip("\n")) + 1


# ---------------------------------------------------------------------------------------------
# robustness


@pytest.mark.parametrize("payload", [
    {},
    {"exception": None},
    {"exception": {"values": None}},
    {"exception": {"values": [None, 3, "x", {"stacktrace": None}]}},
    {"exception": {"values": [{"type": 1, "value": {"a": 1},
                               "stacktrace": {"frames": [None, {"lineno": "12"}, 5]}}]}},
    {"exception": [{"type": "E", "stacktrace": {"frames": [{"in_app": "yes"}]}}]},
    {"sentry.interfaces.Exception": [{"type": "E"}], "tags": "nonsense"},
    {"tags": [["a"], ["b", "c", "d"], {"key": "k"}, ["k", None], 7]},
    {"timestamp": "not a time", "level": 3, "release": {"version": "1.0"}},
    {"entries": [None, {"type": "exception"}, {"type": "exception", "data": []}]},
    {"entries": [{"type": "stacktrace", "data": {"frames": [{"function": "f"}]}}]},
    {"threads": {"values": [{"crashed": True, "stacktrace": {"frames": [{"function": "t"}]}}]}},
    {"data": {"event": None, "issue": "x"}, "action": "created"},
    {"data": "x"},
    {"unknown_field": {"deeply": ["nested"]}, "another": 1},
])
def test_never_crashes(payload):
    ev = parse_event(copy.deepcopy(payload))
    assert isinstance(ev, ParsedEvent)


def test_shapes_without_exception_use_stacktrace_or_threads():
    ev = parse_event({"threads": {"values": [
        {"current": True, "stacktrace": {"frames": [{"function": "a"}]}},
        {"crashed": True, "stacktrace": {"frames": [{"function": "b"}, {"function": "c"}]}},
    ]}})
    assert [f.function for f in ev.frames] == ["b", "c"]
    ev = parse_event({"sentry.interfaces.Stacktrace": {"frames": [{"function": "x"}]}})
    assert [f.function for f in ev.frames] == ["x"]
    assert parse_event({"frames": 1, "exception": {"values": [{"type": "E", "raw_stacktrace": {
        "frames": [{"function": "raw"}]}}]}}).primary.frames[0].function == "raw"


def test_non_dict_input():
    assert parse_event([]).exceptions == []  # type: ignore[arg-type]


def test_parse_timestamp_forms():
    want = datetime(2020, 6, 17, 22, 26, 56, 98086, tzinfo=UTC)
    assert parse_timestamp("2020-06-17T22:26:56.098086Z") == want
    assert parse_timestamp("2020-06-17T22:26:56.0980860Z") == want  # 7 fraction digits
    assert parse_timestamp(want.timestamp()) == want
    assert parse_timestamp(str(want.timestamp())) == want
    assert parse_timestamp("2019-02-03T22:53:51Z") == datetime(2019, 2, 3, 22, 53, 51, tzinfo=UTC)
    assert parse_timestamp("2019-02-03T22:53:51") == datetime(2019, 2, 3, 22, 53, 51, tzinfo=UTC)
    assert parse_timestamp(True) is None and parse_timestamp("soon") is None
