"""An in-process stand-in for the Slack Web API: a real HTTP server on 127.0.0.1, port 0.

`droid console` points the real `slack_sdk.WebClient` at it, and the tests use it to record every
call droid makes and to script failures (429 with Retry-After, 5xx, `ok: false` errors), one call
at a time (`fail_next`) or for a while (`outage`). Like Slack, it keeps message `metadata` and
returns it from `conversations.replies` only when `include_all_metadata` is set, and a file shared
into a thread appears there as a message carrying `files`.

`enforce_limits()` makes it hold droid to Slack's rate limits: each method's tier and about one post
a second per channel (bot/slack/ratelimit.py `Limits`), answering 429 with Retry-After beyond them and
counting what it refused in `served_429`. Off by default.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl

from bot.local.loopback import LoopbackServer
from bot.slack.ratelimit import SPECIAL, Bucket, Limits

BOT_USER = "UDROIDBOT"
BOT_ID = "BDROIDBOT"
SCOPES = ("app_mentions:read,chat:write,reactions:write,files:write,channels:history,"
          "groups:history,commands,users:read,users:read.email")


@dataclass
class Call:
    """One Web API call as the stand-in received it."""

    method: str
    args: dict
    at: float = field(default_factory=time.time)


@dataclass
class Failure:
    """A scripted failure for the next call(s) to a method."""

    status: int = 200
    body: dict | None = None
    headers: dict = field(default_factory=dict)
    times: int = 1


class SlackStandIn(LoopbackServer):
    """A Slack Web API server that keeps channel history in memory."""

    def __init__(self, team: str = "T0DROID"):
        self.team = team
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict]] = {}
        self.ephemerals: list[dict] = []
        self.views: list[dict] = []
        self.files: dict[str, dict] = {}
        self.listeners: list[Callable[[Call, dict], None]] = []
        self.emails: dict[str, str] = {}          # email (lower case) -> user id, for users.lookupByEmail
        self._failures: dict[str, list[Failure]] = {}
        self._outage: tuple[float, Failure, tuple[str, ...] | None] | None = None
        self._lock = threading.RLock()
        self._ts = itertools.count(1)
        self.limits: Limits | None = None
        self.served_429: dict[str, int] = {}
        self._buckets: dict[tuple, Bucket] = {}

    @property
    def api_url(self) -> str:
        """The base URL for `WebClient(base_url=...)`."""
        return self.base + "/api/"

    # -- scripting and inspection ------------------------------------------------------------
    def fail_next(self, method: str, status: int = 200, body: dict | None = None,
                  headers: dict | None = None, times: int = 1) -> None:
        """Make the next `times` calls to `method` fail this way."""
        with self._lock:
            self._failures.setdefault(method, []).append(Failure(status, body, headers or {}, times))

    def outage(self, seconds: float, status: int = 503, body: dict | None = None, headers: dict | None = None,
               methods: tuple[str, ...] | None = None) -> None:
        """Fail every call (or calls to `methods`) this way for `seconds`; `seconds=0` ends an outage now."""
        failure = Failure(status, body or {"ok": False, "error": "service_unavailable" if status >= 500
                                           else "ratelimited"}, headers or {}, 0)
        with self._lock:
            self._outage = (time.monotonic() + seconds, failure, methods) if seconds > 0 else None

    def enforce_limits(self, limits: Limits | None = None) -> SlackStandIn:
        """Answer 429 + Retry-After to calls beyond Slack's tier limits and per-channel posting rate."""
        with self._lock:
            self.limits, self._buckets = limits or Limits(), {}
        return self

    def _over_limit(self, method: str, args: dict) -> float:
        """Seconds the caller must wait (0: within the limits); takes a token when within."""
        if self.limits is None:
            return 0.0
        with self._lock:
            now, lim = time.monotonic(), self.limits
            tier = lim.tier(method)
            keys = [] if tier == SPECIAL else [(("method", method), lim.per_minute[tier] / 60.0, lim.burst[tier])]
            channel = args.get("channel") or args.get("channel_id")
            if method == "chat.postMessage" and channel:   # Slack: ~1 message a second per channel
                keys.append((("channel", channel), lim.post_per_second, lim.post_burst))
            buckets = [self._buckets.setdefault(key, Bucket(rate, burst, now)) for key, rate, burst in keys]
            wait = max((b.wait(now) for b in buckets), default=0.0)
            if wait > 0:
                self.served_429[method] = self.served_429.get(method, 0) + 1
                return wait
            for bucket in buckets:
                bucket.tokens -= 1
            return 0.0

    def calls_to(self, method: str) -> list[Call]:
        """Every recorded call to one method."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def thread(self, channel: str, thread_ts: str) -> list[dict]:
        """The messages of a thread, parent first."""
        with self._lock:
            return [m for m in self.messages.get(channel, [])
                    if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts]

    def new_ts(self) -> str:
        """A fresh, increasing message timestamp."""
        return f"{int(time.time())}.{next(self._ts):06d}"

    def register_email(self, email: str, user: str) -> None:
        """Make `users.lookupByEmail` find `user` by `email`."""
        with self._lock:
            self.emails[email.strip().lower()] = user

    def add_user_message(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> dict:
        """Record a message a person posted (as Slack would before sending the event)."""
        message = {"type": "message", "user": user, "text": text, "ts": self.new_ts()}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._lock:
            self.messages.setdefault(channel, []).append(message)
        return message

    # -- the HTTP side ---------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one Web API call (or a file upload)."""
        path = request.path.split("?")[0]
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        if path.startswith("/upload/"):
            self._upload(path.rsplit("/", 1)[-1], raw)
            return self._reply(request, 200, f"OK - {len(raw)}", {})
        method = path.rsplit("/", 1)[-1]
        args = _parse_args(raw, request.headers.get("Content-Type", ""), request.path)
        failure = self._take_failure(method)
        call = Call(method, args)
        with self._lock:
            self.calls.append(call)
        if not failure and (wait := self._over_limit(method, args)):
            return self._reply(request, 429, {"ok": False, "error": "ratelimited"},
                               {"Retry-After": max(1, math.ceil(wait))})
        if failure and failure.status != 200:
            return self._reply(request, failure.status, failure.body or {"ok": False}, failure.headers)
        body = failure.body if failure else self._dispatch(method, args)
        for listener in list(self.listeners):
            listener(call, body)
        headers = {"x-oauth-scopes": SCOPES} if method == "auth.test" else {}
        self._reply(request, 200, body, headers)

    def _reply(self, request, status: int, body, headers: dict) -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in headers.items():
            request.send_header(key, str(value))
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        try:
            request.wfile.write(data)
        except OSError:      # the caller went away (e.g. a droid killed mid-call); the call still happened
            pass

    def _take_failure(self, method: str) -> Failure | None:
        with self._lock:
            if self._outage and time.monotonic() < self._outage[0] and (
                    self._outage[2] is None or method in self._outage[2]):
                return self._outage[1]
            queue = self._failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            failure.times -= 1
            if failure.times <= 0:
                queue.pop(0)
            return failure

    def _dispatch(self, method: str, args: dict) -> dict:
        handler = HANDLERS.get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        with self._lock:
            return handler(self, args)

    def _upload(self, file_id: str, raw: bytes) -> None:
        with self._lock:
            self.files.setdefault(file_id, {})["content"] = raw

    def _find(self, channel: str, ts: str) -> dict | None:
        return next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)


def _parse_args(raw: bytes, content_type: str, path: str) -> dict:
    args: dict = dict(parse_qsl(path.split("?", 1)[1])) if "?" in path else {}
    text = raw.decode("utf-8", "replace")
    if "json" in content_type and text:
        args.update(json.loads(text))
    elif text:
        args.update(dict(parse_qsl(text, keep_blank_values=True)))
    for key in ("blocks", "attachments", "view", "files"):
        if isinstance(args.get(key), str):
            try:
                args[key] = json.loads(args[key])
            except ValueError:
                pass
    return args


def _post_message(s: SlackStandIn, args: dict) -> dict:
    channel = args.get("channel")
    if not channel:
        return {"ok": False, "error": "channel_not_found"}
    if not args.get("text") and not args.get("blocks"):
        return {"ok": False, "error": "no_text"}
    message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": s.new_ts(),
               "text": args.get("text", ""), "blocks": args.get("blocks") or []}
    if args.get("thread_ts"):
        message["thread_ts"] = args["thread_ts"]
    if isinstance(args.get("metadata"), str):
        try:
            args["metadata"] = json.loads(args["metadata"])
        except ValueError:
            return {"ok": False, "error": "invalid_metadata_format"}
    if args.get("metadata"):
        meta = args["metadata"]
        if not (isinstance(meta, dict) and isinstance(meta.get("event_type"), str)
                and isinstance(meta.get("event_payload"), dict)):
            return {"ok": False, "error": "invalid_metadata_schema"}
        message["metadata"] = meta
    s.messages.setdefault(channel, []).append(message)
    return {"ok": True, "channel": channel, "ts": message["ts"], "message": _without_metadata(message)}


def _without_metadata(message: dict) -> dict:
    return {k: v for k, v in message.items() if k != "metadata"}


def _update(s: SlackStandIn, args: dict) -> dict:
    message = s._find(args.get("channel", ""), args.get("ts", ""))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    message.update({"text": args.get("text", message["text"]), "blocks": args.get("blocks") or [],
                    "edited": {"user": BOT_USER, "ts": s.new_ts()}})
    return {"ok": True, "channel": args["channel"], "ts": message["ts"], "text": message["text"]}


def _reaction(s: SlackStandIn, args: dict, add: bool) -> dict:
    message = s._find(args.get("channel", ""), args.get("timestamp", ""))
    if message is None:
        return {"ok": False, "error": "message_not_found"}
    names = message.setdefault("reactions", [])
    name = args.get("name", "")
    if add and name in names:
        return {"ok": False, "error": "already_reacted"}
    if add:
        names.append(name)
    elif name in names:
        names.remove(name)
    return {"ok": True}


def _ephemeral(s: SlackStandIn, args: dict) -> dict:
    s.ephemerals.append(dict(args))
    return {"ok": True, "message_ts": s.new_ts()}


def _views_open(s: SlackStandIn, args: dict) -> dict:
    view = {**(args.get("view") or {}), "id": f"V{len(s.views) + 1:08d}"}
    s.views.append(view)
    return {"ok": True, "view": view}


def _replies(s: SlackStandIn, args: dict) -> dict:
    messages = s.thread(args.get("channel", ""), args.get("ts", ""))
    if not messages:
        return {"ok": False, "error": "thread_not_found"}
    if str(args.get("include_all_metadata", "")).lower() not in ("1", "true"):
        messages = [_without_metadata(m) for m in messages]
    return {"ok": True, "messages": [dict(m) for m in messages], "has_more": False}


def _history(s: SlackStandIn, args: dict) -> dict:
    """Top-level messages of a channel, newest first, from `oldest` on."""
    oldest = float(args.get("oldest") or 0)
    messages = [m for m in s.messages.get(args.get("channel", ""), [])
                if not m.get("thread_ts") or m.get("thread_ts") == m["ts"]]
    messages = [m if str(args.get("include_all_metadata", "")).lower() in ("1", "true") else _without_metadata(m)
                for m in reversed(messages) if float(m["ts"]) >= oldest]
    return {"ok": True, "messages": [dict(m) for m in messages], "has_more": False}


def _lookup_by_email(s: SlackStandIn, args: dict) -> dict:
    user = s.emails.get(str(args.get("email") or "").strip().lower())
    if user is None:
        return {"ok": False, "error": "users_not_found"}
    return {"ok": True, "user": {"id": user, "name": user, "is_bot": False, "deleted": False,
                                 "profile": {"email": args.get("email")}}}


def _get_upload_url(s: SlackStandIn, args: dict) -> dict:
    file_id = f"F{len(s.files) + 1:08d}"
    s.files[file_id] = {"id": file_id, "name": args.get("filename"), "length": args.get("length")}
    return {"ok": True, "upload_url": f"{s.base}/upload/{file_id}", "file_id": file_id}


def _complete_upload(s: SlackStandIn, args: dict) -> dict:
    shared = []
    for item in args.get("files") or []:
        record = s.files.get(item.get("id"))
        if record is None or "content" not in record:
            return {"ok": False, "error": "file_not_found"}
        record.update(title=item.get("title"), channel=args.get("channel_id"),
                      thread_ts=args.get("thread_ts"), initial_comment=args.get("initial_comment"))
        shared.append({"id": record["id"], "name": record.get("name"), "title": item.get("title")})
    if shared and args.get("channel_id"):     # Slack shows the share as a message in the channel or thread
        message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": s.new_ts(),
                   "text": args.get("initial_comment") or "", "files": shared, "upload": True}
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        s.messages.setdefault(args["channel_id"], []).append(message)
    return {"ok": True, "files": shared}


HANDLERS: dict[str, Callable[[SlackStandIn, dict], dict]] = {
    "auth.test": lambda s, a: {"ok": True, "url": "https://droid-console.slack.com/", "team": "Console",
                               "user": "droid", "team_id": s.team, "user_id": BOT_USER, "bot_id": BOT_ID},
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _ephemeral,
    "chat.getPermalink": lambda s, a: {"ok": True, "channel": a.get("channel"),
                                       "permalink": f"https://droid-console.slack.com/archives/"
                                                    f"{a.get('channel')}/p{a.get('message_ts', '').replace('.', '')}"},
    "reactions.add": lambda s, a: _reaction(s, a, True),
    "reactions.remove": lambda s, a: _reaction(s, a, False),
    "views.open": _views_open,
    "conversations.replies": _replies,
    "conversations.history": _history,
    "users.lookupByEmail": _lookup_by_email,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
    "users.info": lambda s, a: {"ok": True, "user": {"id": a.get("user"), "name": a.get("user"),
                                                     "is_bot": False}},
}
