"""Red team: secrets that travel *encoded* (JSON / Python escapes, percent-encoding, HTML entities as Slack
and web pages escape text) and in shapes the first canary pass did not plant (query-string parameters,
a URL whose user name is empty).

Unit attacks on the one redactor for every canary kind in every encoding, then one world through the
real app: a mention and a scripted model answer carrying the encoded canaries, with every sink that
world reaches (Slack calls, the database file and WAL, the model's requests) searched for the canary
parts after decoding what could hide them (tests/canaries.py `leaks` finds only the plain parts).
"""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import pytest

from bot.settings import Routing
from integrations.llm import AnthropicLLM
from integrations.redact import Redactor
from tests.canaries import CANARIES, SECRET_PARTS, leaks
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn

redact = Redactor()
KEY = "sk-ant-test-key-00000000000000000000"
ONE_LINE = {kind: text for kind, (text, _) in CANARIES.items() if kind != "private_key"}


def decoded_forms(text: str) -> list[str]:
    """`text` and what it reads as once unescaped by the standard library (three levels deep)."""
    forms, todo = {text}, [text]
    for _ in range(3):
        nxt = []
        for t in todo:
            for f in (unquote(t), html.unescape(t), _json_unescape(t)):
                if f not in forms:
                    forms.add(f)
                    nxt.append(f)
        todo = nxt
    return list(forms)


def _json_unescape(text: str) -> str:
    simple = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "/": "/", "\\": "\\"}
    return re.sub(r"\\(u[0-9a-fA-F]{4}|[ntr\"/\\])",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "u" else simple[m.group(1)], text)


def hidden_leaks(text: str) -> list[str]:
    """Canary parts in `text`, plain, behind any escape, or base64-encoded (a run, or lines of one)."""
    forms = decoded_forms(text)
    for run in re.findall(r"[A-Za-z0-9+/_\n-]{16,}", text):
        run = run.replace("\n", "").rstrip("=")
        try:
            forms.append(base64.b64decode(run.replace("-", "+").replace("_", "/") + "=" * (-len(run) % 4))
                         .decode("utf-8", "replace"))
        except ValueError:
            pass
    return sorted({part for form in forms for part in leaks(form)})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ENCODINGS = {
    # `base64 deploy/secrets.env` run by the agent, a k8s Secret's data, a token in a URL-safe cookie
    "base64_inline": lambda t: f"output: {_b64(t)} (exit 0)",
    "base64_wrapped": lambda t: "\n".join(_b64("config:\n" + t)[i:i + 76] for i in range(0, len(_b64("config:\n" + t)), 76)),
    "base64_urlsafe": lambda t: "session=" + base64.urlsafe_b64encode(t.encode()).decode().rstrip("="),
    # a JSON log line: the escaped line break glues `n` onto the token, so `\b` never fires
    "json_newline": lambda t: json.dumps({"level": "error", "msg": "deploy failed:\n" + t}),
    "json_tab": lambda t: json.dumps({"msg": "value:\t" + t}),
    "json_ascii": lambda t: json.dumps({"msg": t.replace("g", "\u0261g")}, ensure_ascii=True).replace("\\u0261", ""),
    "json_unicode_escaped": lambda t: "".join(f"\\u{ord(c):04x}" if c in "gpsxAe" else c for c in t),
    "json_in_json": lambda t: json.dumps({"body": json.dumps({"detail": "x\n" + t})}),
    "percent": lambda t: quote(t, safe=""),
    "percent_in_query": lambda t: "https://api.example.com/cb?state=" + quote(t, safe="") + "&x=1",
    "form_plus": lambda t: "note=" + quote_plus("see: " + t),
    "html_entities": lambda t: html.escape(t, quote=True),
    "slack_escaped": lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
    "html_numeric": lambda t: "".join(f"&#{ord(c)};" if c in "_-:=" else c for c in t),
}


@pytest.mark.parametrize("kind", sorted(ONE_LINE))
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_an_encoded_secret_is_masked(kind: str, encoding: str):
    document = ENCODINGS[encoding](ONE_LINE[kind])
    assert hidden_leaks(document), "the attack must carry the canary"
    out = redact(document)
    assert not hidden_leaks(out), out
    assert "[REDACTED]" in out


def test_an_encoded_private_key_is_masked():
    text = CANARIES["private_key"][0]
    for encoding in ("json_newline", "percent", "html_entities", "json_in_json"):
        assert not hidden_leaks(redact(ENCODINGS[encoding](text))), encoding


@pytest.mark.parametrize("text, secret", [
    ("GET /oauth/token?client_id=abc&client_secret=CanaryClientSecretValue HTTP/1.1", "CanaryClientSecretValue"),
    ("https://api.example.com/v1/items?api_key=CanaryQueryApiKeyValue&page=2", "CanaryQueryApiKeyValue"),
    ("wss://stream.example.com/feed?access_token=CanaryAccessTokenValue", "CanaryAccessTokenValue"),
    ("redis://:CanaryRedisPassw0rd@cache:6379/0", "CanaryRedisPassw0rd"),
    ("amqp://:CanaryAmqpPassw0rd@mq.internal/vhost", "CanaryAmqpPassw0rd"),
])
def test_query_parameters_and_password_only_urls_are_masked(text: str, secret: str):
    out = redact(text)
    assert secret not in out, out


@pytest.mark.parametrize("text", [
    "https://example.com/search?q=token&page=2",
    "?next_token=&limit=50",
    "printf(\"%d items\\n\", count); url = \"a%20b\"",
    "&lt;b&gt;bold&lt;/b&gt; &amp; more",
    "redis://cache:6379/0",
])
def test_ordinary_encoded_text_survives(text: str):
    assert redact(text) == text


def test_ordinary_base64_survives():
    """Base64 that decodes to bytes, or to text without a secret, is left alone (a line that is nothing but a long
    base64 run is another matter: it may be a private key's body line, and is masked as before)."""
    text = (f"img: data:image/png;base64,{base64.b64encode(bytes(range(256)) * 4).decode()} end\n"
            f"note: {_b64('hello world, nothing to see here')} (greeting)\n"
            "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n")
    assert redact(text) == text


def test_a_known_secret_escaped_is_masked():
    token = "xoxb-000000000000-000000000000-ownbottokenvalue"
    r = Redactor([token])
    for form in (json.dumps({"t": "\n" + token}), "".join(f"\\u{ord(c):04x}" for c in token),
                 html.escape(token).replace("-", "&#45;")):
        assert "ownbottokenvalue" not in html.unescape(_json_unescape(r(form))), form


def test_redaction_of_escaped_text_keeps_the_rest_and_is_idempotent():
    line = json.dumps({"msg": "start\n" + CANARIES["github_pat"][0] + "\nend", "n": 1})
    out = redact(line)
    assert out.startswith('{"msg": "start\\n') and out.endswith('\\nend", "n": 1}')
    assert redact(out) == out


# -- one world through the real app ---------------------------------------------------------------

PAYLOAD = "\n".join(ENCODINGS[e](ONE_LINE[k]) for e in ("json_newline", "percent", "slack_escaped", "html_entities")
                    for k in ("github_pat", "aws_key_id", "url_credentials", "json_password", "slack_bot", "jwt"))
PLAN = {"goal": "Explain the failing deploy", "steps": [{"title": "Read the log"}, {"title": "Answer"}],
        "touches": ["webhooks/"], "risks": ["none: read-only"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("encoded")
    repo = make_repo(tmp / "service", SERVICE_FILES)
    with AnthropicStub() as model:
        llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
        droid = Droid(tmp, llm=llm, anthropic_url=model.url, routing=Routing(channel_repos={"CDEV": str(repo)}))
        try:
            plan = {**PLAN, "goal": f"Explain the failing deploy {ONE_LINE['github_pat']!r}",
                    "risks": [ENCODINGS["json_newline"](ONE_LINE["stripe"])]}
            model.add(Turn.tool_use("submit_plan", plan),
                      Turn.tool_use("final_answer", {"text": "The log said:\n" + PAYLOAD}))
            _, ts = droid.mention("why did the deploy fail? log:\n" + PAYLOAD)
            run = droid.run_for("CDEV", ts)
            post = droid.plan_post()
            droid.click("droid_approve", droid.buttons(post)["droid_approve"])
            run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
            wait_for(lambda: not droid.store.outbox.pending(), what="outbox drained")
            path = Path(droid.settings.db_path)
            wal = Path(f"{path}-wal")
            yield {"run": run, "model": json.dumps(model.requests),
                   "slack": json.dumps([c.args for c in droid.slack.calls], ensure_ascii=False),
                   "database": (path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).decode("utf-8", "replace")}
        finally:
            droid.close()


@pytest.mark.parametrize("sink", ["model", "slack", "database"])
def test_encoded_canaries_reach_no_sink(world, sink):
    assert world["run"].state == "succeeded", world["run"].result
    text = world[sink]
    assert "[REDACTED]" in text, "the world must have carried the payload to this sink"
    assert not hidden_leaks(text), f"{sink} leaked {hidden_leaks(text)}"


def test_the_canary_parts_are_what_the_payload_carries():
    assert set(hidden_leaks(PAYLOAD)) <= set(SECRET_PARTS) and len(hidden_leaks(PAYLOAD)) >= 6
