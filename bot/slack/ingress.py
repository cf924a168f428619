"""Shape validation of Slack requests before Bolt sees them: a malformed request is a 4xx, never a crash.

Order: the signature first (an unsigned request is 401 whatever it holds), then the body is decoded
and parsed exactly as Bolt will parse it, then the fields Bolt and droid's listeners read are
checked for type. A request that passes cannot make Bolt's context building, matchers or droid's
listeners trip over a `null`, a list where an object belongs, or a nesting 10,000 levels deep.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier

log = logging.getLogger("droid.ingress")
MAX_BODY = 1024 * 1024   # bytes; Slack's own payloads stay far below this
MAX_DEPTH = 64           # nesting levels; Slack's deepest (Block Kit in a view) is under 15
NONE = type(None)
STR, OPT_STR = (str,), (str, NONE)
OBJ, OPT_OBJ = (dict,), (dict, NONE)

# key -> allowed types, for keys that may appear; REQUIRED lists the keys that must appear.
ENVELOPE = {"type": STR, "token": STR, "team_id": STR, "api_app_id": STR, "event_id": STR,
            "event_time": (int, float), "enterprise_id": OPT_STR, "event": OBJ, "authorizations": (list,),
            "is_ext_shared_channel": (bool,), "is_enterprise_install": (bool,), "challenge": STR,
            "enterprise": (str, dict, NONE), "team": (str, dict, NONE), "user": OBJ,
            "channel": (str, dict), "container": OBJ, "message": OBJ, "view": OBJ, "actions": (list,),
            "trigger_id": STR, "response_url": STR, "response_urls": (list,), "callback_id": STR,
            "function_data": OBJ, "previous_message": OBJ, "item": OBJ, "assistant_thread": OBJ}
EVENT = {"type": STR, "user": STR, "channel": (str, dict), "ts": STR, "thread_ts": STR, "text": OPT_STR,
         "subtype": OPT_STR, "bot_id": OPT_STR, "app_id": OPT_STR, "username": OPT_STR, "event_ts": STR,
         "team": STR, "user_team": STR, "item": OBJ, "message": OBJ, "previous_message": OBJ,
         "bot_profile": OPT_OBJ, "blocks": (list,), "attachments": (list,), "files": (list,)}
MESSAGE = {"type": STR, "ts": STR, "thread_ts": STR, "text": OPT_STR, "user": STR, "bot_id": OPT_STR,
           "app_id": OPT_STR, "username": OPT_STR, "subtype": OPT_STR, "bot_profile": OPT_OBJ,
           "blocks": (list,), "attachments": (list,)}
IDENTIFIED = {"id": STR, "type": STR, "team_id": STR, "channel_id": STR, "message_ts": STR, "thread_ts": STR,
              "callback_id": STR, "private_metadata": STR, "state": OBJ, "enterprise_id": OPT_STR}
ACTION = {"action_id": STR, "block_id": STR, "value": STR, "type": STR, "action_ts": STR}
REQUIRED = {"event_callback": ("team_id", "event_id", "event"), "url_verification": ("challenge",),
            "block_actions": ("user", "actions"), "view_submission": ("user", "view"), "view_closed": ("view",),
            "shortcut": ("user", "callback_id"), "message_action": ("user", "callback_id", "message"),
            "interactive_message": ("callback_id", "actions"), "workflow_step_edit": ("workflow_step",)}
VIEW_REQUIRED = ("id", "type", "callback_id")   # Bolt reads view.type of every submission


@dataclass(frozen=True)
class Rejection:
    """Why a request is refused, and with which HTTP status."""

    status: int
    reason: str


def check_slack(raw: bytes, headers: dict[str, str], signing_secret: str | None) -> Rejection | None:
    """None when Bolt may have this request; else the status and reason to answer with."""
    headers = {k.lower(): v for k, v in headers.items()}
    if len(raw) > MAX_BODY:
        return Rejection(413, f"body over {MAX_BODY} bytes")
    if signing_secret and not _signed(raw, headers, signing_secret):
        return Rejection(401, "invalid signature")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(400, "body is not UTF-8")
    try:
        body = parse(text, headers.get("content-type"))
    except (ValueError, RecursionError) as exc:
        return Rejection(400, f"body does not parse: {type(exc).__name__}")
    problem = shape_problem(body)
    return Rejection(400, problem) if problem else None


def _signed(raw: bytes, headers: dict[str, str], secret: str) -> bool:
    try:
        return SignatureVerifier(secret).is_valid(raw, headers.get("x-slack-request-timestamp"),
                                                  headers.get("x-slack-signature"))
    except (ValueError, TypeError):   # a timestamp that is not a number
        return False


def parse(text: str, content_type: str | None):
    """The body as Bolt parses it (slack_bolt.request.internals.parse_body), without its crashes."""
    content_type = (content_type or "").split(";")[0].strip()
    if not text:
        return {}
    if content_type == "application/json" or text.startswith("{"):
        return json.loads(text)
    params = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in text:
        return json.loads(params["payload"]) if "payload" in params else {}
    return params


def shape_problem(body) -> str | None:
    """What is wrong with a parsed body's shape, or None."""
    if not isinstance(body, dict):
        return f"body is {json_type(body)}, not an object"
    if depth(body) > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH} levels"
    if problem := _typed(body, ENVELOPE, ""):
        return problem
    kind = body.get("type")
    for key in REQUIRED.get(kind, ()):
        if key not in body:
            return f"{kind} without {key}"
    if kind in ("view_submission", "view_closed"):
        missing = [key for key in VIEW_REQUIRED if key not in body["view"]]
        if missing:
            return f"{kind} whose view has no {missing[0]}"
        if body["view"]["type"] == "workflow_step" and "workflow_step" not in body:
            return "workflow_step view without workflow_step"
    return _nested(body)


def _nested(body: dict) -> str | None:
    event = body.get("event")
    if event is not None:
        if "type" not in event:
            return "event without a type"
        if problem := _typed(event, EVENT, "event."):
            return problem
        if event["type"] in ("app_mention", "message") and not isinstance(event.get("channel", ""), str):
            return f"{event['type']} event whose channel is not a string"
        for key in ("message", "previous_message"):
            if problem := _typed(event.get(key) or {}, MESSAGE, f"event.{key}."):
                return problem
    for key in ("user", "team", "channel", "enterprise", "container", "view"):
        if isinstance(body.get(key), dict) and (problem := _typed(body[key], IDENTIFIED, f"{key}.")):
            return problem
    if "message" in body and (problem := _typed(body["message"], MESSAGE, "message.")):
        return problem
    if isinstance(body.get("user"), dict) and not isinstance(body["user"].get("id"), str):
        return "user without an id"
    return _lists(body)


def _lists(body: dict) -> str | None:
    if "actions" in body:
        actions = body["actions"]
        if not actions or not all(isinstance(a, dict) for a in actions):
            return "actions must be a non-empty list of objects"
        for action in actions:
            if problem := _typed(action, ACTION, "actions[]."):
                return problem
    for key in ("authorizations", "response_urls"):
        if not all(isinstance(item, dict) for item in body.get(key) or []):
            return f"{key} must be a list of objects"
    return None


def _typed(obj: dict, spec: dict, where: str) -> str | None:
    for key, kinds in spec.items():
        if key in obj and type(obj[key]) not in kinds:
            return f"{where}{key} is {json_type(obj[key])}"
    return None


def json_type(value) -> str:
    """The JSON name of a parsed value's type, for log lines."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", NONE: "null"}
    return names.get(type(value), "a number")


def depth(value) -> int:
    """How deeply a parsed JSON value nests (a scalar is 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            return level
        stack.extend((child, level + 1) for child in children)
    return deepest
