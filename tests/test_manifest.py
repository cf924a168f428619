"""manifest.yml is valid against Slack's schema and covers every event and Web API method droid uses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())

# The bot scope each Web API method needs (from Slack's method reference pages); None: no scope.
METHOD_SCOPES = {
    "auth.test": None,
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "chat.getPermalink": None,
    "reactions.add": "reactions:write",
    "reactions.remove": "reactions:write",
    "files.getUploadURLExternal": "files:write",
    "files.completeUploadExternal": "files:write",
    "views.open": None,
    "conversations.replies": "channels:history",
    "views.update": None,
    "conversations.history": "channels:history",
    "users.lookupByEmail": "users:read.email",
}
EVENT_SCOPES = {"app_mention": "app_mentions:read", "message.channels": "channels:history",
                "message.groups": "groups:history"}
# A Bolt `message` listener receives the message.* events for the conversation types subscribed.
EVENT_SUBSCRIPTIONS = {"app_mention": {"app_mention"}, "message": {"message.channels", "message.groups"}}


def test_manifest_matches_slack_schema(fixtures_dir: Path):
    schema = json.loads((fixtures_dir / "slack/manifest/manifest.schema.1.0.0.json").read_text())
    jsonschema.validate(MANIFEST, schema)


def test_schema_rejects_a_broken_manifest(fixtures_dir: Path):
    schema = json.loads((fixtures_dir / "slack/manifest/manifest.schema.1.0.0.json").read_text())
    broken = {**MANIFEST, "settings": {**MANIFEST["settings"], "event_subscriptions": {"bot_events": "app_mention"}}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def registered_events() -> set[str]:
    """Every event type a listener registers with @app.event("...")."""
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found |= set(re.findall(r"""app\.event\(\s*["']([a-z_.]+)["']""", path.read_text()))
    return found


def test_every_registered_event_is_subscribed_with_its_scope():
    events = registered_events()
    assert "app_mention" in events
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for event in events:
        assert EVENT_SUBSCRIPTIONS[event] <= subscribed, f"{event} is registered but not subscribed"
    for event in subscribed:
        assert EVENT_SCOPES[event] in scopes


def test_every_method_called_has_its_scope(tmp_path):
    """Drive a whole run (with a long answer, so a file upload happens) and check each method called."""
    droid = Droid(tmp_path, repo=make_repo(tmp_path / "repo", SERVICE_FILES))
    try:
        _, ts = droid.mention("where is the retry logic?")
        run = droid.wait_state(droid.run_for("CDEV", ts).run_id, "awaiting_approval")
        post = wait_for(lambda: next((p for p in droid.posts() if droid.buttons(p)), None), what="plan")
        droid.click("droid_approve", droid.buttons(post)["droid_approve"], user="UOTHER")
        droid.click("droid_approve", droid.buttons(post)["droid_approve"])
        droid.wait_state(run.run_id, "succeeded", "failed")
        droid.deps.poster.upload("CDEV", ts, "report.md", "x" * 20000)
        wait_for(lambda: droid.slack.ephemerals, what="ephemeral")
    finally:
        droid.close()
    called = {c.method for c in droid.slack.calls}
    shortcuts = {s["callback_id"] for s in MANIFEST["features"]["shortcuts"]}
    assert shortcuts == set(re.findall(r"""app\.shortcut\(\s*["']([a-z_]+)["']""",
                                       (ROOT / "bot/slack/listeners/alerts.py").read_text()))
    assert "commands" in set(MANIFEST["oauth_config"]["scopes"]["bot"])    # shortcuts need it
    assert {"chat.postMessage", "chat.update", "chat.postEphemeral", "reactions.add",
            "files.completeUploadExternal"} <= called
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    for method in called:
        assert method in METHOD_SCOPES, f"add {method} to METHOD_SCOPES with its scope"
        needed = METHOD_SCOPES[method]
        assert needed is None or needed in scopes, f"{method} needs {needed} in manifest.yml"
