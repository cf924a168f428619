"""Property-based fuzzing of the ticket webhooks through the real HTTP server (Hypothesis).

Seeds are the real Jira Cloud and GitHub webhook payloads in ../shared/fixtures, made to hand a ticket to
droid. Each example mutates one: a value of another JSON type (nulls, arrays, numbers as strings), a
dropped key, deep nesting, hostile text (surrogates, NUL, mentions, 100 kB strings) — then signs it as
Jira or GitHub would. Properties, for every example: an answer below 500 with no traceback in it; a run
exactly when the payload is a well-formed ticket hand-over (`well_formed`, the spec written out here,
independent of droid's code); the server keeps serving. Then: bad signatures, bad Server-webhook URLs
and replays make nothing.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import http.client
import itertools
import json
import re
import threading
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import Routing
from bot.slack.http_server import DroidHTTPServer
from bot.tickets.routes import ticket_routes
from tests.harness import Droid, wait_for
from tests.json_paths import get, paths, put

JIRA_SECRET = "fuzz-jira-webhook-secret-0123"
GITHUB_SECRET = "fuzz-github-webhook-secret-0123"
SERVER_TOKEN = "srv-" + "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]{0,6}", re.ASCII)
REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}", re.ASCII)
HOSTILE = ["\ud800", "\x00", "<!channel>", "<@U0BOSS>", "<https://evil.example|click>", "\u202e", "\u200b",
           "```", "PAY-1..", "x" * 100_000, "١٢", "1e999"]
CONFUSIONS = [None, 0, -1, 1.5, True, "", "7", [], {}, ["droid"], {"name": "droid"}, "droid"]
# Paths whose value decides whether (and which) run is made; the rest is free text and must never matter.
JIRA_FOCUS = [("webhookEvent",), ("issue",), ("issue", "key"), ("issue", "fields"), ("issue", "fields", "labels"),
              ("issue", "fields", "summary"), ("issue", "fields", "project"), ("issue", "fields", "project", "key"),
              ("issue", "fields", "components"), ("issue", "fields", "description"), ("issue", "fields", "reporter"),
              ("changelog",), ("changelog", "id"), ("changelog", "items"), ("changelog", "items", 0, "toString")]
GITHUB_FOCUS = [("action",), ("issue",), ("issue", "number"), ("issue", "title"), ("issue", "body"),
                ("issue", "labels"), ("issue", "user"), ("label",), ("label", "name"), ("repository",),
                ("repository", "full_name")]
_serial = itertools.count(100)


@pytest.fixture(scope="module")
def served(tmp_path_factory, shared_dir):
    tmp = tmp_path_factory.mktemp("fuzz-tickets")
    routing = Routing(approvers=("UBOSS",), jira_projects={"TES": "CPAY"},
                      github_repos={"CGH": "Codertocat/Hello-World"})
    droid = Droid(tmp, routing=routing, jira_webhook_secret=JIRA_SECRET, github_webhook_secret=GITHUB_SECRET,
                  jira_server_webhook_token=SERVER_TOKEN)
    server = DroidHTTPServer(droid.app, 0, host="127.0.0.1", routes=ticket_routes(droid.deps)).start()
    yield droid, server, seeds(shared_dir / "fixtures")
    server.shutdown()
    droid.close()


def seeds(fixtures: Path) -> dict:
    jira = json.loads((fixtures / "jira/webhooks/cloud/jira_issue_updated.labels_changed.cloud.mattermost.json")
                      .read_text())
    jira["changelog"]["items"][0]["toString"] = "droid test-label"
    jira["issue"]["fields"]["labels"] = ["droid", "test-label"]
    github = json.loads((fixtures / "github/webhooks/issues.labeled.json").read_text())
    github["label"]["name"] = "droid"
    return {"jira": jira, "github": github}


def fresh(seed: dict, kind: str) -> dict:
    """The seed for a new ticket (a unique key / number, a unique changelog id), so no dedupe hides a run."""
    payload, n = copy.deepcopy(seed), next(_serial)
    if kind == "jira":
        payload["issue"]["key"], payload["changelog"]["id"] = f"TES-{n}", str(50_000 + n)
    else:
        payload["issue"]["number"] = n
    return payload


# ---- the spec: what a well-formed hand-over is (written from Jira's and GitHub's documentation) -------------

def well_formed(kind: str, p) -> bool:
    """Whether this payload hands a ticket to droid: a run must exist exactly then."""
    return _jira_ok(p) if kind == "jira" else _github_ok(p)


def _jira_ok(p) -> bool:
    issue = p.get("issue") if isinstance(p, dict) else None
    fields = issue.get("fields") if isinstance(issue, dict) else None
    if not isinstance(fields, dict) or not (isinstance(issue.get("key"), str) and KEY.fullmatch(issue["key"])):
        return False
    labels, changelog = fields.get("labels"), p.get("changelog")
    project, components = fields.get("project", {"key": issue["key"].split("-")[0]}), fields.get("components", [])
    items = changelog.get("items") if isinstance(changelog, dict) else None
    history = changelog.get("id") if isinstance(changelog, dict) else None
    return (p.get("webhookEvent") == "jira:issue_updated" and isinstance(labels, list) and "droid" in labels
            and all(isinstance(x, str) for x in labels) and isinstance(fields.get("summary"), str)
            and isinstance(project, dict) and project.get("key") == issue["key"].split("-")[0]
            and (components is None or isinstance(components, list) and all(isinstance(c, (dict, str)) for c in components))
            and (isinstance(history, str) and re.fullmatch(r"[0-9A-Za-z_.:-]{1,100}", history, re.ASCII) is not None
                 or type(history) is int and history > 0)
            and isinstance(items, list) and any(
                isinstance(i, dict) and str(i.get("field") or i.get("fieldId") or "").lower() == "labels"
                and isinstance(i.get("toString"), str) and "droid" in i["toString"].split()
                and "droid" not in (i.get("fromString") if isinstance(i.get("fromString"), str) else "").split()
                for i in items))


def _github_ok(p) -> bool:
    issue, repo = p.get("issue"), p.get("repository")
    label = p.get("label")
    if not isinstance(issue, dict) or not isinstance(repo, dict) or p.get("action") != "labeled":
        return False
    number, labels = issue.get("number"), issue.get("labels", [])
    return (isinstance(label, dict) and label.get("name") == "droid" and type(number) is int and 0 < number < 10**7
            and repo.get("full_name") == "Codertocat/Hello-World" and isinstance(issue.get("title"), str)
            and isinstance(issue.get("body"), (str, type(None))) and isinstance(issue.get("html_url"), (str, type(None)))
            and (labels is None or isinstance(labels, list) and all(isinstance(x, dict) for x in labels)))


# ---- mutations ------------------------------------------------------------------------------------------------

def exists(value, path) -> bool:
    try:
        get(value, path)
        return True
    except (KeyError, IndexError, TypeError):
        return False


@st.composite
def mutations(draw, payload, focus):
    """(mutated payload, the ops, nestings spliced in as text)."""
    value, ops, nests = payload, [], {}
    for _ in range(draw(st.integers(1, 3))):
        candidates = [p for p in focus if exists(value, p)]
        path = draw(st.sampled_from(candidates) if candidates and draw(st.booleans())
                    else st.sampled_from(list(paths(value))[1:200]))
        node = get(value, path)
        op = draw(st.sampled_from(["retype", "drop", "nest", "hostile", "adf"]))
        if op == "retype":
            new = draw(st.sampled_from([c for c in CONFUSIONS if type(c) is not type(node) or c != node]))
        elif op == "drop":
            del get(value, path[:-1])[path[-1]]
            ops.append(("drop", path))
            continue
        elif op == "nest":      # as text: too deep for json.dumps (and for a recursive renderer)
            levels = draw(st.sampled_from([50, 300, 20_000]))
            marker = f"@nest{len(nests)}@"
            nests[marker] = ('{"type":"doc","content":[' * levels + '{"type":"text","text":"deep"}'
                             + "]}" * levels) if draw(st.booleans()) else "[" * levels + json.dumps(node) + "]" * levels
            new = marker
        elif op == "hostile" and isinstance(node, str):
            at = draw(st.integers(0, len(node)))
            new = node[:at] + draw(st.sampled_from(HOSTILE)) + node[at:]
        elif op == "adf":
            new = draw(st.sampled_from(ODD_ADF))
        else:
            continue
        value = put(value, path, new)
        ops.append((op, path))
    return value, ops, nests


ODD_ADF = [{"type": "doc", "content": [{"type": "text", "text": ["a list"]}]},
           {"type": "doc", "content": [{"type": "mention", "attrs": "a string"}, {"type": "emoji", "attrs": {"text": [1]}}]},
           {"type": "doc", "content": [{"type": "text", "text": "x", "marks": ["bold", {"type": "link", "attrs": 5}]}]},
           {"type": "doc", "content": [{"type": "orderedList", "attrs": {"order": "x"}, "content": "not a list"}]},
           {"type": "doc", "content": [{"type": "table", "content": [1, "x", {"content": {"type": "tableCell"}}]}]},
           {"type": "doc", "content": [{"type": "futureNode", "content": [{"type": "text", "text": "<!here>"}]}]}]


def encode(value, nests: dict) -> bytes:
    text = json.dumps(value)
    for marker, nested in nests.items():
        text = text.replace(json.dumps(marker), nested)
    return text.encode("utf-8", "surrogatepass")


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send(port: int, path: str, body: bytes, headers: dict, method: str = "POST") -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def deliver(port: int, kind: str, body: bytes, delivery: str | None = None) -> tuple[int, str]:
    delivery = delivery or str(uuid.uuid4())
    if kind == "jira":
        return send(port, "/jira/webhook", body, {"X-Hub-Signature": sign(JIRA_SECRET, body),
                                                  "X-Atlassian-Webhook-Identifier": delivery})
    return send(port, "/github/webhook", body, {"X-Hub-Signature-256": sign(GITHUB_SECRET, body),
                                                "X-GitHub-Event": "issues", "X-GitHub-Delivery": delivery})


def parse(body: bytes):
    """The body's JSON as a server thread parses it (a fresh, shallow stack), or None when nested too deep."""
    out = []
    thread = threading.Thread(target=lambda: out.append(_loads(body)))
    thread.start()
    thread.join()
    return out[0]


def _loads(body: bytes):
    try:
        return json.loads(body)
    except RecursionError:       # nested beyond what a JSON parser takes: malformed by definition
        return None


def trigger_key(kind: str, original: dict) -> str:
    """The ticket a run from this example would be for."""
    if kind == "jira":
        return original["issue"]["key"]
    return f"Codertocat/Hello-World#{original['issue']['number']}"


def run_count(droid) -> int:
    """Every run droid has (a ticket run is committed before its webhook is answered)."""
    with droid.store.database.reading() as db:
        return db.execute("SELECT count(*) FROM runs").fetchone()[0]


def runs_for(droid, ticket: str) -> list[str]:
    with droid.store.database.reading() as db:
        return [r["run_id"] for r in db.query("SELECT run_id FROM runs WHERE trigger_ts LIKE ?", [f"ticket:{ticket}:%"])]


def fuzz(served, kind: str) -> Counter:
    droid, server, all_seeds = served
    statuses: Counter = Counter()
    focus = JIRA_FOCUS if kind == "jira" else GITHUB_FOCUS
    expected, forbidden = [], []

    @FUZZ
    @given(st.data())
    def example(data):
        original = fresh(all_seeds[kind], kind)
        value, ops, nests = data.draw(mutations(copy.deepcopy(original), focus), label="mutation")
        body = encode(value, nests)
        before = run_count(droid)
        status, text = deliver(server.port, kind, body)
        assert status < 500 and "Traceback" not in text and 'File "' not in text, (status, text, ops)
        statuses[status] += 1
        parsed = parse(body)
        ok = parsed is not None and well_formed(kind, parsed)
        assert run_count(droid) - before == ok, (ok, status, text, ops)      # no run for a malformed hand-over
        (expected if ok else forbidden).append((trigger_key(kind, original), ops))

    example()
    for ticket, ops in expected:
        assert wait_for(lambda t=ticket: runs_for(droid, t), what=f"the run of {ticket}"), ops
    for ticket, ops in forbidden:
        assert not runs_for(droid, ticket), f"a run was made for a malformed hand-over: {ticket} {ops}"
    print(f"fuzz {kind}: statuses {dict(statuses)}; {len(expected)} well-formed, {len(forbidden)} malformed")
    assert expected and forbidden and set(statuses) >= {200, 400}, statuses
    return statuses


def still_serving(served, kind: str) -> None:
    droid, server, all_seeds = served
    payload = fresh(all_seeds[kind], kind)
    assert deliver(server.port, kind, json.dumps(payload).encode())[0] == 200
    wait_for(lambda: runs_for(droid, trigger_key(kind, payload)), what="a run after the fuzz")


def test_fuzz_jira_cloud_webhook(served):
    fuzz(served, "jira")
    still_serving(served, "jira")


def test_fuzz_github_webhook(served):
    fuzz(served, "github")
    still_serving(served, "github")


# ---- authentication: signatures, Server-webhook URL tokens, methods ---------------------------------------

def test_bad_signatures_and_urls_are_refused_and_make_nothing(served):
    droid, server, all_seeds = served
    payload = fresh(all_seeds["jira"], "jira")
    body = json.dumps(payload).encode()
    good = sign(JIRA_SECRET, body)
    for header in [None, "", good[7:], good.upper().replace("SHA256=", "sha1="), "sha256=" + "0" * 64,
                   good[:-1], good + "0", sign(GITHUB_SECRET, body), "sha256=" + "é" * 64, good + "\u00e9"]:
        headers = {} if header is None else {"X-Hub-Signature": header.encode("utf-8").decode("latin-1")}
        status, text = send(server.port, "/jira/webhook", body, headers)
        assert status == 401, (header, status, text)
    token = SERVER_TOKEN
    for path in ["/jira/webhook/", "/jira/webhook//" + token, "/jira/webhook/" + token[:-1], "/jira/webhook/" + token + "x",
                 "/jira/webhook/" + token + "/", "/jira/webhook/" + token[:8], "/jira/webhook/" + "a" * 20_000,
                 "/jira/webhook/" + token + "%00", "/jira/webhook/" + token + "%2F..", "/jira/webhook/..%2F" + token,
                 "/jira/webhook/" + quote(token.upper()), "/jira/webhook/%ff%fe", "/jira/webhookx/" + token]:
        status, text = send(server.port, path, body, {})
        assert status in (401, 404), (path[:80], status, text)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        assert send(server.port, "/jira/webhook/" + token, body, {}, method)[0] in (404, 405)
        assert send(server.port, "/github/webhook", body, {"X-Hub-Signature-256": sign(GITHUB_SECRET, body)},
                    method)[0] in (404, 405)
    assert not runs_for(droid, payload["issue"]["key"])
    assert send(server.port, "/jira/webhook/" + token, body, {})[0] == 200        # the exact token works
    wait_for(lambda: runs_for(droid, payload["issue"]["key"]), what="the Server webhook's run")


def test_replays_are_ignored(served):
    droid, server, all_seeds = served
    for kind in ("jira", "github"):
        payload = fresh(all_seeds[kind], kind)
        body = json.dumps(payload).encode()
        assert deliver(server.port, kind, body, "delivery-1-" + kind) == (200, "accepted")
        ticket = trigger_key(kind, payload)
        (run,) = wait_for(lambda t=ticket: runs_for(droid, t), what="the first run")
        assert deliver(server.port, kind, body, "delivery-2-" + kind)[1] == "duplicate delivery ignored"   # same body
        spaced = json.dumps(payload, indent=1).encode()          # re-signed, same delivery id
        assert deliver(server.port, kind, spaced, "delivery-1-" + kind)[1] == "duplicate delivery ignored"
        if kind == "jira":                                       # a new delivery of the same change (same changelog)
            assert deliver(server.port, kind, json.dumps(payload, indent=2).encode())[0] == 200
        assert runs_for(droid, ticket) == [run]


KEY_INJECTIONS = ["PAY-1..", "TES-1;rm -rf /", "TES-١٢", "TES-1/../../rest/api/2/myself", "TES-01", "tes-1", "TES-1 ",
                  "TES-1\n", "TES-" + "1" * 5000, "TES-1?expand=x", "TES-1%2F..", "ＴＥＳ-1", "TES-1\u200b"]


@pytest.mark.parametrize("kind", ["jira", "github"])
def test_every_load_bearing_field_of_the_wrong_type_or_shape(served, kind):
    """The systematic complement of the fuzz: each field a run is built on, dropped, of each wrong type, or
    (a key, a repository) an injection — a run exactly when the spec says the hand-over is well formed."""
    droid, server, all_seeds = served
    focus = JIRA_FOCUS if kind == "jira" else GITHUB_FOCUS
    checked = Counter()
    for path in focus:
        for new in [*CONFUSIONS, *HOSTILE, *(KEY_INJECTIONS if path[-1] in ("key", "full_name") else ()), "drop"]:
            original = fresh(all_seeds[kind], kind)
            value = copy.deepcopy(original)
            if not exists(value, path) or (new != "drop" and type(new) is type(get(value, path)) and new == get(value, path)):
                continue
            if new == "drop":
                del get(value, path[:-1])[path[-1]]
            else:
                put(value, path, new)
            before = run_count(droid)
            status, text = deliver(server.port, kind, encode(value, {}))
            assert status < 500 and "Traceback" not in text, (path, new, status, text)
            ticket = trigger_key(kind, original)
            assert run_count(droid) - before == well_formed(kind, value), (path, repr(new)[:60], status, text)
            if well_formed(kind, value):
                wait_for(lambda t=ticket: runs_for(droid, t), what=f"the run of {ticket} ({path} = {new!r:.40})")
                checked["run"] += 1
            else:
                assert not runs_for(droid, ticket), (path, repr(new)[:60])
                checked["refused"] += 1
    assert checked["run"] and checked["refused"] > 100, checked
