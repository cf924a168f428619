"""Slack request bodies as Slack sends them, signed: used by `droid console`, tests and benchmarks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import quote

from slack_bolt.request import BoltRequest

_ids = itertools.count(1)


def sign(secret: str, body: str, timestamp: str | None = None) -> dict[str, str]:
    """Headers Slack would send with this body (X-Slack-Signature over v0:{ts}:{body})."""
    timestamp = timestamp or str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": timestamp, "x-slack-signature": f"v0={digest}"}


def event_callback(event: dict, *, team: str, api_app_id: str = "A0DROID", event_id: str | None = None) -> dict:
    """Wrap an event in the Events API envelope."""
    return {
        "token": "verification-token-unused", "team_id": team, "api_app_id": api_app_id,
        "event": event, "type": "event_callback",
        "event_id": event_id or f"Ev{int(time.time())}{next(_ids):06d}",
        "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UDROIDBOT", "is_bot": True}],
    }


def app_mention(*, user: str, text: str, channel: str, ts: str, thread_ts: str | None = None) -> dict:
    """An `app_mention` event."""
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel,
             "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def block_action(*, user: str, channel: str, message_ts: str, action_id: str, value: str,
                 team: str, thread_ts: str | None = None) -> dict:
    """A `block_actions` payload for a button click on a bot message."""
    message = {"type": "message", "ts": message_ts, "bot_id": "BDROIDBOT", "text": ""}
    if thread_ts:
        message["thread_ts"] = thread_ts
    return {
        "type": "block_actions", "user": {"id": user, "username": user, "team_id": team},
        "api_app_id": "A0DROID", "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": f"{next(_ids)}.{int(time.time())}.trigger", "team": {"id": team, "domain": "console"},
        "channel": {"id": channel, "name": channel}, "message": message,
        "response_url": "https://hooks.slack.invalid/actions/unused",
        "actions": [{"action_id": action_id, "block_id": "run_actions", "type": "button",
                     "value": value, "action_ts": str(time.time()),
                     "text": {"type": "plain_text", "text": action_id}}],
    }


def view_submission(*, user: str, team: str, view: dict, values: dict) -> dict:
    """A `view_submission` payload for a modal droid opened; `values` is {block_id: {action_id: text}}."""
    state = {block: {action: {"type": "plain_text_input", "value": text} for action, text in actions.items()}
             for block, actions in values.items()}
    return {
        "type": "view_submission", "team": {"id": team, "domain": "console"},
        "user": {"id": user, "username": user, "team_id": team}, "api_app_id": "A0DROID",
        "token": "verification-token-unused", "trigger_id": f"{next(_ids)}.trigger",
        "view": {**view, "state": {"values": state}, "team_id": team, "type": "modal"},
    }


def encode(payload: dict) -> tuple[str, str]:
    """The body and content type Slack uses for this payload."""
    if payload.get("type") in ("event_callback", "url_verification"):
        return json.dumps(payload), "application/json"
    return "payload=" + quote(json.dumps(payload)), "application/x-www-form-urlencoded"


def signed_request(payload: dict, secret: str, extra_headers: dict | None = None) -> BoltRequest:
    """A BoltRequest exactly as Slack would deliver `payload`, signed with `secret`."""
    body, content_type = encode(payload)
    headers = {"content-type": content_type, **sign(secret, body), **(extra_headers or {})}
    return BoltRequest(body=body, headers=headers)
