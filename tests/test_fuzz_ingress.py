"""Property-based fuzzing of the real HTTP server with correctly signed, hostile requests (Hypothesis).

Seeds are the real payloads in ../shared/fixtures (Slack events, interactivity, slash commands,
Sentry webhooks). Each example mutates one: a value of another JSON type, a dropped or duplicated
key, deep nesting, a lone surrogate or NUL in a string. Properties, for every example: an HTTP
answer below 500 within Slack's 3 s (no dropped connection), the server keeps serving, no run is
created from a request whose load-bearing fields were broken, and a mention whose only oddity is a
strange character still creates its run with the character replaced.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import json
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.slack import payloads
from bot.slack.http_server import DroidHTTPServer
from bot.slack.sentry_webhook import sentry_route
from tests.harness import SECRET, Droid, wait_for
from tests.json_paths import get, paths, put
from tests.repos import SERVICE_FILES, make_repo

WEBHOOK_SECRET = "fuzz-sentry-webhook-secret"
EXAMPLES = int(os.environ.get("DROID_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=3), derandomize=not os.environ.get("DROID_FUZZ_RANDOM"),
                database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ODD = ["\ud800", "\udfff", "\ud83d", "\x00", "\x00\ud800"]
# Where a broken value must stop a mention from creating a run.
LOAD_BEARING = {(), ("type",), ("team_id",), ("event_id",), ("event",), ("event", "type"), ("event", "user"),
                ("event", "channel"), ("event", "ts"), ("event", "text")}
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=6)


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_dir):
    tmp = tmp_path_factory.mktemp("fuzz")
    droid = Droid(tmp, repo=make_repo(tmp / "repo", SERVICE_FILES), sentry_webhook_secret=WEBHOOK_SECRET)
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1",
                             routes={"/sentry/webhook": sentry_route(droid.deps)}).start()
    yield droid, server, seeds(shared_dir / "fixtures")
    server.shutdown()
    droid.close()


def seeds(fixtures: Path) -> dict[str, dict]:
    """name -> {"kind": events|interactivity|commands|sentry, "payload": ..., ...} from the real fixtures."""
    out = {}
    for path in sorted((fixtures / "slack/events").glob("event_callback_*.json")):
        out[path.stem] = {"kind": "events", "payload": json.loads(path.read_text())}
    for name in ("block_actions_button", "block_actions_button_on_bot_message", "view_submission",
                 "interactive_message_attachment_action"):
        out[name] = {"kind": "interactivity", "payload": json.loads((fixtures / f"slack/interactivity/{name}.json").read_text())}
    clicked = out["block_actions_button"]["payload"]
    mention = out["event_callback_app_mention"]["payload"]["event"]
    for kind in ("shortcut", "message_action"):   # derived: Slack's shortcut shapes around the real user/team
        shortcut = {"type": kind, "token": clicked["token"], "action_ts": "1595926230.0096", "team": clicked["team"],
                    "user": clicked["user"], "callback_id": "droid_analyse", "trigger_id": clicked["trigger_id"]}
        if kind == "message_action":
            shortcut.update(channel=clicked["channel"], message_ts=mention["ts"], response_url=clicked["response_url"],
                            message={"type": "message", "user": mention["user"], "ts": mention["ts"], "text": mention["text"]})
        out[kind] = {"kind": "interactivity", "payload": shortcut}
    for path in sorted((fixtures / "slack/slash_commands").glob("*.txt")):
        out[path.stem] = {"kind": "commands", "payload": dict(parse_qsl(path.read_text().strip()))}
    for path in sorted((fixtures / "sentry/webhooks").glob("*.json")):
        resource = path.name.split(".")[0]
        out[path.stem] = {"kind": "sentry", "payload": json.loads(path.read_text()), "resource": resource}
    return out


def other_type(draw, old):
    """A JSON value of a different type than `old`."""
    return draw(JSONISH.filter(lambda v: type(v) is not type(old)))


@st.composite
def mutations(draw, kind: str, payload):
    """(mutated payload, the ops applied as (op, path), duplicated key to append or None, nestings)."""
    value, ops, duplicate, nests = copy.deepcopy(payload), [], None, {}
    if draw(st.integers(0, 3)) == 0:   # only strange characters: the request stays well-formed
        strings = [p for p in paths(value) if isinstance(get(value, p), str)]
        text = [p for p in strings if p == ("event", "text")]
        path = draw(st.sampled_from(text) if text and draw(st.booleans()) else st.sampled_from(strings))
        node = get(value, path)
        at = draw(st.integers(0, len(node)))
        return put(value, path, node[:at] + draw(st.sampled_from(ODD)) + node[at:]), [("inject", path)], None, {}
    for _ in range(draw(st.integers(1, 3))):
        every = list(paths(value))
        focus = [p for p in every if p[:2] in LOAD_BEARING or p[:1] in (("actions",), ("user",), ("data",))]
        path = draw(st.sampled_from(focus) if focus and draw(st.booleans()) else st.sampled_from(every))
        node = get(value, path)
        op = draw(st.sampled_from(["retype", "drop", "nest", "inject", "duplicate"]))
        if op == "retype" and kind != "commands":
            value = put(value, path, other_type(draw, node))
        elif op == "drop" and path:
            del get(value, path[:-1])[path[-1]]
        elif op == "nest" and kind != "commands":   # spliced in as text: too deep for json.dumps
            levels = draw(st.sampled_from([65, 300, 5000, 60000]))
            marker = f"@nest{len(ops)}@"
            nests[marker] = "[" * levels + json.dumps(node) + "]" * levels
            value = put(value, path, marker)
        elif op == "inject" and isinstance(node, str):
            at = draw(st.integers(0, len(node)))
            value = put(value, path, node[:at] + draw(st.sampled_from(ODD)) + node[at:])
        elif op == "duplicate" and isinstance(value, dict) and value and kind != "commands":
            key = draw(st.sampled_from(sorted(value)))
            duplicate = (key, other_type(draw, value[key]))   # the last occurrence wins in json.loads
            path = (duplicate[0],)
        else:
            continue
        ops.append((op, path))
    return value, ops, duplicate, nests


def encode(seed: dict, value, duplicate, nests: dict) -> tuple[bytes, dict]:
    """The body and signed headers, as Slack (or Sentry) would send it."""
    kind = seed["kind"]
    if kind == "commands":
        body = urlencode(value, quote_via=lambda s, *a, **k: quote(s, safe="", errors="surrogatepass"))
        ctype = "application/x-www-form-urlencoded"
    else:
        text = json.dumps(value)
        for marker, nested in nests.items():
            text = text.replace(json.dumps(marker), nested)
        if duplicate and text.endswith("}") and text != "{}":
            text = text[:-1] + f", {json.dumps(duplicate[0])}: {json.dumps(duplicate[1])}}}"
        body = text if kind in ("events", "sentry") else "payload=" + quote(text, safe="")
        ctype = "application/json" if kind in ("events", "sentry") else "application/x-www-form-urlencoded"
    if kind == "sentry":
        raw = body.encode()
        return raw, {"content-type": ctype, "sentry-hook-resource": seed["resource"],
                     "sentry-hook-timestamp": str(int(time.time())),
                     "sentry-hook-signature": hmac.new(WEBHOOK_SECRET.encode(), raw, hashlib.sha256).hexdigest()}
    return body.encode(), {"content-type": ctype, **payloads.sign(SECRET, body)}


def send(port: int, path: str, body: bytes, headers: dict) -> int:
    """One request on a fresh connection; a dropped connection raises."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


class Ledger:
    """Which trigger timestamps must, and must not, have produced a run."""

    def __init__(self):
        self.counter = 0
        self.forbidden: set[str] = set()
        self.expected: dict[str, str] = {}
        self.statuses: Counter = Counter()

    def fresh(self, seed: dict):
        """The seed's payload with a unique event id and message ts (so dedupe cannot hide a run)."""
        self.counter += 1
        payload = copy.deepcopy(seed["payload"])
        event = payload.get("event")
        if seed["kind"] == "events" and isinstance(event, dict):
            payload["event_id"] = f"EvFuzz{self.counter:06d}-{time.monotonic_ns()}"
            event["ts"] = f"{1_800_000_000 + self.counter}.{time.monotonic_ns() % 1_000_000:06d}"
            event.pop("thread_ts", None)
        return payload


def fuzz(served, kinds: tuple[str, ...], ledger: Ledger):
    droid, server, all_seeds = served
    names = sorted(n for n, s in all_seeds.items() if s["kind"] in kinds)

    @FUZZ
    @given(st.data())
    def example(data):
        seed = all_seeds[data.draw(st.sampled_from(names), label="seed")]
        original = ledger.fresh(seed)
        value, ops, duplicate, nests = data.draw(mutations(seed["kind"], original), label="mutation")
        body, headers = encode(seed, value, duplicate, nests)
        path = "/sentry/webhook" if seed["kind"] == "sentry" else "/slack/events"
        started = time.monotonic()
        status = send(server.port, path, body, headers)
        assert status < 500 and time.monotonic() - started < 3, (status, ops)
        ledger.statuses[status] += 1
        _expect(ledger, original, value, ops)

    example()
    print(f"fuzz {kinds}: HTTP statuses {dict(ledger.statuses)}; {len(ledger.forbidden)} broken mentions, "
          f"{len(ledger.expected)} odd-character mentions")
    assert sum(ledger.statuses.values()) >= EXAMPLES and set(ledger.statuses) >= {200, 400}, ledger.statuses
    return droid, server


def _expect(ledger: Ledger, original, value, ops) -> None:
    event = original.get("event") if isinstance(original, dict) else None
    if not (isinstance(event, dict) and event.get("type") == "app_mention"):
        return
    if any(op != "inject" and path[:2] in LOAD_BEARING for op, path in ops):
        ledger.forbidden.add(event["ts"])
    elif ops and all(op == "inject" and path == ("event", "text") for op, path in ops):
        ledger.expected[event["ts"]] = value["event"]["text"]


def still_serving(droid: Droid, server: DroidHTTPServer, ledger: Ledger) -> None:
    """A well-formed mention afterwards still creates its run; the ledger's promises hold."""
    message = droid.slack.add_user_message("CDEV", "UALICE", "<@UDROIDBOT> where is retry?")
    body = json.dumps(payloads.event_callback(payloads.app_mention(user="UALICE", text=message["text"], channel="CDEV",
                                                                   ts=message["ts"]), team="T0DROID"))
    assert send(server.port, "/slack/events", body.encode(), {"content-type": "application/json",
                                                              **payloads.sign(SECRET, body)}) == 200
    droid.run_for("CDEV", message["ts"])
    for ts, text in ledger.expected.items():
        run = wait_for(lambda ts=ts: _run_with_ts(droid, ts), what=f"run for the mention at {ts}")
        assert "\ufffd" in run["task"] and not any(c in run["task"] for c in ODD), (text, run["task"])
    with droid.store.database.reading() as db:     # droid's connection is shared: take its lock like droid does
        made = {row["trigger_ts"] for row in db.query("SELECT trigger_ts FROM runs")}
    assert not made & ledger.forbidden, "a run was created from a malformed request"


def _run_with_ts(droid: Droid, ts: str):
    with droid.store.database.reading() as db:
        return next(db.query("SELECT task FROM runs WHERE trigger_ts = ?", [ts]), None)


def no_listener_failed(caplog) -> None:
    """Whatever ingress let through, droid's listeners handled without an exception."""
    failures = [r.getMessage() for r in caplog.records if r.name == "droid.errors"]
    assert not failures, failures[:5]


def test_fuzz_slack_events(served, caplog):
    ledger = Ledger()
    droid, server = fuzz(served, ("events",), ledger)
    still_serving(droid, server, ledger)
    no_listener_failed(caplog)


def test_fuzz_interactivity_and_commands(served, caplog):
    ledger = Ledger()
    droid, server = fuzz(served, ("interactivity", "commands"), ledger)
    still_serving(droid, server, ledger)
    no_listener_failed(caplog)


def test_fuzz_sentry_webhooks(served, caplog):
    ledger = Ledger()
    droid, server = fuzz(served, ("sentry",), ledger)
    still_serving(droid, server, ledger)
    no_listener_failed(caplog)


def test_mention_with_odd_characters_creates_its_run(served):
    """The positive half of the property, not left to chance."""
    droid, server, _ = served
    ledger = Ledger()
    for odd in ODD:
        message = droid.slack.add_user_message("CDEV", "UALICE", f"<@UDROIDBOT> check the {odd} retry")
        body = json.dumps(payloads.event_callback(payloads.app_mention(
            user="UALICE", text=message["text"], channel="CDEV", ts=message["ts"]), team="T0DROID"))
        assert send(server.port, "/slack/events", body.encode(), {"content-type": "application/json",
                                                                  **payloads.sign(SECRET, body)}) == 200
        ledger.expected[message["ts"]] = message["text"]
    still_serving(droid, server, ledger)


CONFUSIONS = [None, 0, 1.5, True, "", [], {}, ["x"], {"id": "x"}]


def test_every_load_bearing_field_of_a_mention_of_the_wrong_type(served, caplog):
    """The systematic complement of the fuzz: each field droid relies on, dropped or of each wrong type."""
    droid, server, all_seeds = served
    ledger = Ledger()
    seed = all_seeds["event_callback_app_mention"]
    for path in sorted(LOAD_BEARING - {()}):
        for new in [*CONFUSIONS, "drop"]:
            original = ledger.fresh(seed)
            value = copy.deepcopy(original)
            if new == "drop":
                del get(value, path[:-1])[path[-1]]
            elif type(new) is type(get(value, path)):
                continue
            else:
                put(value, path, new)
            body, headers = encode(seed, value, None, {})
            assert send(server.port, "/slack/events", body, headers) < 500, (path, new)
            ledger.forbidden.add(original["event"]["ts"])
    still_serving(droid, server, ledger)
    no_listener_failed(caplog)
