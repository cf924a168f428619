"""Unit tests of the small pieces: settings, redactor, signing, Block Kit limits, state, throttling."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

from bot.local.slack_standin import SlackStandIn
from bot.orchestration.status import StatusMessage
from bot.settings import Settings, SettingsError
from bot.slack import blocks, payloads
from bot.slack.poster import SlackPoster
from integrations.redact import MASK, Redactor
from skills.plan import Budget, Plan, Step, widening
from state.runs import IllegalTransition
from state.store import Store


def test_signing_matches_slacks_test_vector(fixtures_dir):
    vector = json.loads((fixtures_dir / "slack/signing_test_vector.json").read_text())
    headers = payloads.sign(vector["signing_secret"], vector["body"], vector["x_slack_request_timestamp"])
    assert headers["x-slack-signature"] == vector["x_slack_signature"]
    verifier = SignatureVerifier(vector["signing_secret"], clock=type("C", (), {"now": lambda self: float(
        vector["x_slack_request_timestamp"])})())
    assert verifier.is_valid(vector["body"], vector["x_slack_request_timestamp"], headers["x-slack-signature"])


def test_settings_list_every_problem_and_mask_secrets(tmp_path):
    with pytest.raises(SettingsError) as err:
        Settings.from_env({"PORT": "eighty", "SLACK_API_URL": "slack.com", "JIRA_URL": "https://jira.example.com",
                           "SENTRY_AUTH_TOKEN": "sntrys_abc"}, require_slack=True)
    text = str(err.value)
    for expected in ("PORT", "SLACK_API_URL", "JIRA_USER", "SENTRY_ORG", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        assert expected in text
    config = tmp_path / "droid.yml"
    config.write_text("channels:\n  CDEV: {repo: /srv/repo}\nalert_channels: [CALERT]\napprovers: [UBOSS]\n")
    settings = Settings.from_env({"SLACK_BOT_TOKEN": "xoxb-1-2-supersecretvalue", "SLACK_SIGNING_SECRET": "sig",
                                  "DROID_CONFIG": str(config), "ANTHROPIC_API_KEY": "sk-ant-zzzzzzzzzzzzzzzzzzzz"})
    assert "supersecretvalue" not in repr(settings) and "zzzz" not in repr(settings) and "***" in repr(settings)
    assert settings.routing.repo_for("CDEV") == "/srv/repo" and settings.routing.approvers == ("UBOSS",)
    assert settings.routing.alert_channels == ("CALERT",) and settings.has_model


def test_redactor_masks_known_values_and_shapes():
    redact = Redactor(["my-jira-password-123"])
    text = ("jira my-jira-password-123 slack xoxb-123456789012-abcdefghijkl gh ghp_" + "a" * 36 +
            " Authorization: Bearer abcdefgh12345678 password=hunter2hunter2")
    out = redact(text)
    assert "my-jira-password-123" not in out and "xoxb-" not in out and "ghp_" not in out
    assert "abcdefgh12345678" not in out and "hunter2hunter2" not in out and out.count(MASK) == 5
    assert redact.data({"a": ["xoxb-123456789012-abcdefghijkl"]}) == {"a": [MASK]}


def test_block_kit_limits_are_enforced(fixtures_dir):
    limits = {item["what"]: item for item in json.loads((fixtures_dir / "slack/block_kit_limits.json").read_text())["limits"]}
    assert limits["section block `text`"]["max_chars"] == blocks.MAX_SECTION
    assert limits["blocks per message"]["max"] == blocks.MAX_BLOCKS
    plan = Plan(goal="g" * 5000, steps=[Step(f"step {i} " + "x" * 400) for i in range(12)],
                touches=[f"f{i}.py" for i in range(100)], risks=["r" * 4000], version=3)
    for message in (blocks.plan_message("abcd1234", plan, requester="U1"),
                    blocks.result_message("Answer", "word " * 20000, filename="a.md"),
                    blocks.result_message("Answer", "\n".join("line" for _ in range(3000)), filename="b.md"),
                    blocks.status_message("abcd1234", plan, "working", running=True)):
        assert len(message.blocks) <= 50 and len(message.text) <= 4000
        for block in message.blocks:
            Block.parse(block).validate_json()
        assert sum(len(json.dumps(b)) for b in message.blocks) < 16000
    long_result = blocks.result_message("Answer", "word " * 20000, filename="a.md")
    assert long_result.file and long_result.file[1].count("word") == 20000
    assert blocks.plan_message("abcd1234", plan, requester="U1").blocks[-1]["type"] == "actions"


def test_button_values_carry_only_run_and_version():
    value = blocks.button_value("abcd1234", 2)
    assert json.loads(value) == {"run_id": "abcd1234", "v": 2}
    for bad in ("x", "[]", '{"run_id": 1, "v": 1}', '{"run_id": "a"}'):
        with pytest.raises(ValueError):
            blocks.parse_button_value(bad)


def test_state_machine_and_append_only_log(tmp_path):
    store = Store.open(str(tmp_path / "s.db"))
    run, created = store.runs.create(channel="C", trigger_ts="1.1", thread_ts="1.1", requester="U", skill="ask",
                                     task="t")
    assert created and not store.runs.create(channel="C", trigger_ts="1.1", thread_ts="1.1", requester="U",
                                             skill="ask", task="t")[1]
    with pytest.raises(IllegalTransition):
        store.runs.transition(run.run_id, "received", "succeeded")
    assert store.runs.transition(run.run_id, "received", "planning")
    assert not store.runs.transition(run.run_id, "received", "planning")   # compare-and-set lost
    store.events.append(run.run_id, "note", token="xoxb-123456789012-abcdefghijkl")
    with pytest.raises(sqlite3.DatabaseError):
        store.database.db.execute("UPDATE run_events SET kind='x'")
    assert store.database.schema_version() == 4
    reopened = Store.open(str(tmp_path / "s.db"))
    assert reopened.runs.get(run.run_id).state == "planning"


def test_redacted_event_log(tmp_path):
    store = Store.open(str(tmp_path / "s.db"), Redactor())
    run, _ = store.runs.create(channel="C", trigger_ts="1", thread_ts="1", requester="U", skill="ask", task="t")
    store.events.append(run.run_id, "tool_call", result="token xoxb-123456789012-abcdefghijkl")
    assert "xoxb" not in json.dumps(store.events.for_run(run.run_id)[0].data)


def test_widening_detects_new_areas_and_riskier_actions():
    approved = Plan(goal="g", steps=[Step("a")], touches=["webhooks/"], budget=Budget(10, 1000))
    inside = Plan(goal="g", steps=[Step("b")], touches=["webhooks/sender.py"], budget=Budget(10, 1000))
    assert widening(approved, inside) == []
    outside = Plan(goal="g", steps=[Step("b")], touches=["billing/x.py"], actions=["read", "edit"],
                   budget=Budget(20, 1000))
    reasons = widening(approved, outside)
    assert len(reasons) == 3 and "billing/x.py" in reasons[0]


def test_status_edits_are_throttled_and_end_on_the_latest_state():
    with SlackStandIn() as slack:
        from slack_sdk import WebClient
        poster = SlackPoster(WebClient(token="xoxb-x", base_url=slack.api_url), Redactor())
        ts = poster.post("C", None, blocks.notice("start"))
        status = StatusMessage(poster, "C", ts, interval=0.3)
        for i in range(20):
            status.set(blocks.notice(f"state {i}"))
            time.sleep(0.02)
        status.close(blocks.notice("final"))
        edits = slack.calls_to("chat.update")
        assert 1 <= len(edits) <= 3 and edits[-1].args["text"] == "final"
        gaps = [b.at - a.at for a, b in zip(edits, edits[1:], strict=False)]
        assert all(gap >= 0.25 for gap in gaps)
        assert slack.thread("C", ts)[0]["text"] == "final"
