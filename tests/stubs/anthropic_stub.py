"""A scripted stub of the Anthropic Messages API, for pointing the real `anthropic` SDK at in tests.

Each POST /v1/messages consumes the next scripted `Turn`. A request that breaks its turn's
expectation, is malformed, or arrives after the script ran out is recorded in `errors` and
answered with HTTP 500 ("stub: conversation diverged from script: ..."), so `assert_done()`
fails the test.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Expect = Callable[[dict], None] | str | None

DEFAULT_ERROR_MESSAGES = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "invalid_request_error": "Invalid request",
    "not_found_error": "Not found",
    "api_error": "Internal server error",
}
MODELS = [
    {
        "type": "model",
        "id": "claude-sonnet-4-5-20250929",
        "display_name": "Claude Sonnet 4.5",
        "created_at": "2025-09-29T00:00:00Z",
        "lifecycle": "active",
    }
]
MAX_CACHE_BREAKPOINTS = 4
SNIPPET = 300


def _new_id(prefix: str) -> str:
    """An id shaped like the API's, e.g. msg_01ab..."""
    return f"{prefix}_01{uuid.uuid4().hex[:22]}"


def _snip(text: str) -> str:
    """Text cut to a readable length for divergence messages."""
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "…"


@dataclass
class Turn:
    """One scripted response: a message (status 200) or an API error."""

    content: list[dict] = field(default_factory=list)
    stop_reason: str = "end_turn"
    expect: Expect = None
    status: int = 200
    error_type: str | None = None
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int = 100
    output_tokens: int = 20
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    @staticmethod
    def text(
        text: str,
        *,
        expect: Expect = None,
        input_tokens: int = 100,
        output_tokens: int = 20,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
    ) -> Turn:
        """A plain text answer that ends the turn."""
        return Turn(
            content=[{"type": "text", "text": text}],
            expect=expect,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cache_read_tokens=cache_read_tokens,
            cache_write_tokens=cache_write_tokens,
        )

    @staticmethod
    def tool_use(
        name: str,
        input: dict,  # noqa: A002 - mirrors the API's field name
        *,
        expect: Expect = None,
        tool_id: str | None = None,
        text: str | None = None,
    ) -> Turn:
        """A call of one tool (optionally preceded by some text), stop_reason "tool_use"."""
        block = {"type": "tool_use", "id": tool_id or _new_id("toolu"), "name": name, "input": input}
        content = ([{"type": "text", "text": text}] if text else []) + [block]
        return Turn(content=content, stop_reason="tool_use", expect=expect)

    @staticmethod
    def error(
        status: int,
        error_type: str,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        expect: Expect = None,
    ) -> Turn:
        """An API error; gets a tiny retry-after-ms unless the headers set a retry-after."""
        headers = dict(headers or {})
        if not {"retry-after", "retry-after-ms"} & {k.lower() for k in headers}:
            headers["retry-after-ms"] = "5"
        message = message or DEFAULT_ERROR_MESSAGES.get(error_type, "Error")
        return Turn(
            status=status, error_type=error_type, message=message, headers=headers, expect=expect
        )


def last_user_text(body: dict) -> str:
    """The last user message's text and tool_result content, flattened to one string."""
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return _flatten(users[-1].get("content")) if users else ""


def _flatten(content: Any) -> str:
    """Text of a content value: a string, or blocks of text / tool_result (nested)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_flatten(block.get("content")))
    return "\n".join(parts)


def _blocks(content: Any) -> list[dict]:
    """A message's content as a list of blocks."""
    return [] if isinstance(content, str) else list(content or [])


def _tool_pairing_problem(messages: list[dict]) -> str | None:
    """What the real API would reject about tool_use / tool_result pairing, if anything."""
    for i, msg in enumerate(messages):
        results = {b.get("tool_use_id") for b in _blocks(msg.get("content")) if b.get("type") == "tool_result"}
        if msg.get("role") != "assistant":
            prev = messages[i - 1] if i > 0 else {}
            uses = {b.get("id") for b in _blocks(prev.get("content")) if b.get("type") == "tool_use"}
            if results - uses:
                return f"messages[{i}] has tool_result for unknown tool_use ids {sorted(results - uses)}"
            continue
        uses = {b.get("id") for b in _blocks(msg.get("content")) if b.get("type") == "tool_use"}
        nxt = messages[i + 1] if i + 1 < len(messages) else None
        answered = {
            b.get("tool_use_id") for b in _blocks((nxt or {}).get("content")) if b.get("type") == "tool_result"
        }
        if nxt is not None and uses - answered:
            return f"tool_use ids {sorted(uses - answered)} in messages[{i}] have no tool_result right after"
    return None


def _count_cache_breakpoints(body: dict) -> int:
    """How many blocks carry cache_control (the API allows at most 4)."""
    system = body.get("system")
    blocks = list(body.get("tools") or []) + (system if isinstance(system, list) else [])
    for msg in body.get("messages") or []:
        blocks += _blocks(msg.get("content"))
    return sum(1 for b in blocks if isinstance(b, dict) and b.get("cache_control"))


def validate_request(body: dict) -> str | None:
    """A minimal check of a Messages API request body; returns the problem, or None."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "request has no model"
    if not isinstance(body.get("max_tokens"), int) or body["max_tokens"] < 1:
        return "request has no positive integer max_tokens"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "request has no messages"
    if any(m.get("role") not in ("user", "assistant") for m in messages):
        return "a message has a role other than user/assistant"
    tool_names = [t.get("name") for t in body.get("tools") or []]
    choice = body.get("tool_choice")
    if choice and choice.get("type") == "tool" and choice.get("name") not in tool_names:
        return f"tool_choice names {choice.get('name')!r}, not among the tools {tool_names}"
    if choice and choice.get("type") in ("any", "tool") and not tool_names:
        return "tool_choice requires a tool but the request has no tools"
    if _count_cache_breakpoints(body) > MAX_CACHE_BREAKPOINTS:
        return f"more than {MAX_CACHE_BREAKPOINTS} blocks carry cache_control"
    return _tool_pairing_problem(messages)


def _check_turn(turn: Turn, body: dict) -> str | None:
    """Why this request does not fit the scripted turn, or None."""
    tool_names = {t.get("name") for t in body.get("tools") or []}
    for block in turn.content:
        if block.get("type") == "tool_use" and block["name"] not in tool_names:
            return f"script answers with tool {block['name']!r}, but the request offers {sorted(tool_names)}"
    if turn.expect is None:
        return None
    if isinstance(turn.expect, str):
        got = last_user_text(body)
        if turn.expect not in got:
            return f"expected the last user message to contain {turn.expect!r}; it was {_snip(got)!r}"
        return None
    try:
        turn.expect(body)
    except AssertionError as err:
        return f"expectation failed: {err}"
    return None


def message_body(turn: Turn, model: str) -> dict:
    """A Messages API response body for a scripted turn."""
    return {
        "id": _new_id("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": turn.content,
        "stop_reason": turn.stop_reason,
        "stop_sequence": None,
        "usage": {
            "input_tokens": turn.input_tokens,
            "output_tokens": turn.output_tokens,
            "cache_creation_input_tokens": turn.cache_write_tokens,
            "cache_read_input_tokens": turn.cache_read_tokens,
        },
    }


def error_body(error_type: str, message: str) -> dict:
    """An API error response body."""
    return {"type": "error", "error": {"type": error_type, "message": message}}


class AnthropicStub:
    """A scripted Messages API server on 127.0.0.1, port 0, in a background thread."""

    def __init__(self, script: list[Turn] | None = None, *, latency: float = 0.0,
                 responder: Callable[[dict], Turn] | None = None) -> None:
        """`latency`: seconds each answer takes (like a model thinking); `responder(body)` answers
        instead of the script, for many conversations at once (benchmarks)."""
        self.latency, self.responder = latency, responder
        self.script: list[Turn] = list(script or [])
        self.requests: list[dict] = []
        self.errors: list[str] = []
        self.url = ""
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> AnthropicStub:
        """Bind and serve in a daemon thread; sets `url`."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> AnthropicStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, *turns: Turn) -> None:
        """Append turns to the script."""
        with self._lock:
            self.script.extend(turns)

    def assert_done(self) -> None:
        """Fail if a divergence was recorded or scripted turns were never requested."""
        with self._lock:
            if self.errors:
                raise AssertionError("stub: conversation diverged from script:\n" + "\n".join(self.errors))
            if self.script:
                raise AssertionError(f"stub: {len(self.script)} scripted turn(s) never requested")

    def handle_messages(self, body: dict, headers: dict[str, str]) -> tuple[int, dict, dict[str, str]]:
        """Answer one POST /v1/messages: (status, body, extra headers)."""
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            self.requests.append(body)
            n = len(self.requests)
            if self.responder is not None:
                turn = self.responder(body)
            else:
                turn = self.script.pop(0) if self.script else None
            problem = self._problem(body, headers, turn)
            if problem:
                self.errors.append(f"request #{n}: {problem}")
        if problem:
            message = f"stub: conversation diverged from script: request #{n}: {problem}"
            return 500, error_body("api_error", message), {"x-should-retry": "false"}
        assert turn is not None
        if turn.error_type:
            return turn.status, error_body(turn.error_type, turn.message), turn.headers
        return 200, message_body(turn, body.get("model", "")), turn.headers

    def _problem(self, body: dict, headers: dict[str, str], turn: Turn | None) -> str | None:
        """Why this request diverges from the script, or None."""
        if not headers.get("x-api-key") and not headers.get("authorization"):
            return "request carries no x-api-key"
        if turn is None:
            return f"request arrived after the script was exhausted (last user message: {_snip(last_user_text(body))!r})"
        return validate_request(body) or _check_turn(turn, body)


def _make_handler(stub: AnthropicStub) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one stub."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Keep test output quiet."""

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.send_header("request-id", _new_id("req"))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.split("?")[0].rstrip("/") == "/v1/models":
                page = {"data": MODELS, "has_more": False, "first_id": MODELS[0]["id"], "last_id": MODELS[-1]["id"]}
                self._send(200, page)
            else:
                self._send(404, error_body("not_found_error", f"stub: no route GET {self.path}"))

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path.split("?")[0] != "/v1/messages":
                self._send(404, error_body("not_found_error", f"stub: no route POST {self.path}"))
                return
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = {}
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._send(*stub.handle_messages(body, headers))

    return Handler
