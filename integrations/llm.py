"""The LLM protocol droid's agent loop talks to, and its implementation on the `anthropic` SDK."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import anthropic

CACHE = {"type": "ephemeral"}

# USD per million tokens: (input, output). Cache reads cost 0.1x input, cache writes 1.25x input.
PRICES: dict[str, tuple[float, float]] = {
    "opus": (5.0, 25.0),
    "sonnet": (3.0, 15.0),
    "haiku": (1.0, 5.0),
}
# Older model names whose prices differ from their family's current one (substring -> prices).
LEGACY_PRICES: dict[str, tuple[float, float]] = {
    "claude-3-opus": (15.0, 75.0),
    "claude-opus-4-0": (15.0, 75.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-2025": (15.0, 75.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}
RETRYABLE_KINDS = {"overloaded", "rate_limited", "server", "connection"}
MAX_DETAIL = 200


@dataclass
class Usage:
    """Token counts and cost of one or more model calls."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, other: Usage) -> None:
        """Add another usage to this one, in place."""
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cost_usd += other.cost_usd

    @property
    def total_tokens(self) -> int:
        """All tokens: input, output, cache reads and cache writes."""
        return (
            self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
        )


@dataclass
class LLMReply:
    """One model response: content blocks as plain dicts, why it stopped, what it cost."""

    content: list[dict]
    stop_reason: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""

    @property
    def text(self) -> str:
        """All text blocks joined."""
        return "".join(b.get("text", "") for b in self.content if b.get("type") == "text")

    def tool_uses(self) -> list[dict]:
        """The tool_use blocks, in order."""
        return [b for b in self.content if b.get("type") == "tool_use"]


class LLMError(Exception):
    """A model call that failed for good; `message` is short and safe to show in Slack."""

    def __init__(
        self, kind: str, message: str, *, status: int | None = None, request_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status
        self.request_id = request_id


class LLM(Protocol):
    """What the agent loop needs from a model: one completion call."""

    model: str

    def complete(
        self,
        *,
        system: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        tool_choice: dict | None = None,
        max_tokens: int = 4096,
    ) -> LLMReply:
        """Send one request and return the model's reply."""
        ...


class RedactingLLM:
    """The model boundary: any LLM, with everything sent to it and every text it returns redacted.

    droid wraps every model it talks to in this (bot.slack.app.build_deps), so no tool, prompt or steering
    message can reach the model unredacted, whichever code path built it.
    """

    def __init__(self, llm: LLM, redact: Callable[[str], str]):
        self.llm, self.redact = llm, redact
        self.model = llm.model

    def complete(self, *, system: str, messages: list[dict], tools: list[dict] | None = None,
                 tool_choice: dict | None = None, max_tokens: int = 4096) -> LLMReply:
        """Redact the system prompt and every message (as whole texts), call the model, redact its text."""
        reply = self.llm.complete(system=self.redact(system) if system else system,
                                  messages=[_redacted_message(self.redact, m) for m in messages],
                                  tools=tools, tool_choice=tool_choice, max_tokens=max_tokens)
        reply.content = [_redacted_text(self.redact, b) for b in reply.content]
        return reply

    def __getattr__(self, name: str):
        return getattr(self.llm, name)


def _redacted_text(redact, block: dict) -> dict:
    """A reply block with its text redacted; tool inputs stay as the model wrote them (they act locally)."""
    return {**block, "text": redact(block["text"])} if isinstance(block.get("text"), str) else block


def _redacted_message(redact, message: dict) -> dict:
    """A Messages API message with every string it carries redacted, whatever its shape."""
    content = message.get("content")
    if isinstance(content, str):
        return {**message, "content": redact(content)}
    if isinstance(content, list):
        return {**message, "content": [_each_string(redact, b) for b in content]}
    return message


def _each_string(redact, value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_each_string(redact, v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("type", "id", "tool_use_id", "name") else _each_string(redact, v)
                for k, v in value.items()}
    return value


def _prices(model: str) -> tuple[float, float]:
    """(input, output) USD per million tokens for a model name; unknown -> sonnet."""
    name = model.lower()
    for key, prices in LEGACY_PRICES.items():
        if key in name:
            return prices
    family = next((f for f in PRICES if f in name), "sonnet")
    return PRICES[family]


def _as_usage(usage_or_tokens: Any) -> Usage:
    """Coerce a Usage, a mapping of its fields, an (input, output) pair or an input count."""
    if isinstance(usage_or_tokens, Usage):
        return usage_or_tokens
    if isinstance(usage_or_tokens, Mapping):
        keys = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
        return Usage(**{k: int(usage_or_tokens.get(k) or 0) for k in keys})
    if isinstance(usage_or_tokens, tuple | list):
        return Usage(input_tokens=int(usage_or_tokens[0]), output_tokens=int(usage_or_tokens[1]))
    return Usage(input_tokens=int(usage_or_tokens))


def estimate_cost(model: str, usage_or_tokens: Any) -> float:
    """Estimated USD cost of the given usage for a model, from the price table."""
    usage = _as_usage(usage_or_tokens)
    price_in, price_out = _prices(model)
    total = (
        usage.input_tokens * price_in
        + usage.output_tokens * price_out
        + usage.cache_read_tokens * price_in * 0.1
        + usage.cache_write_tokens * price_in * 1.25
    )
    return total / 1_000_000


def _block_to_dict(block: Any) -> dict:
    """A response content block as a plain dict (text and tool_use trimmed to their keys)."""
    data = block.model_dump(exclude_none=True) if hasattr(block, "model_dump") else dict(block)
    keys = {"text": ("type", "text"), "tool_use": ("type", "id", "name", "input")}.get(
        data.get("type", "")
    )
    return {k: data[k] for k in keys if k in data} if keys else data


def _usage_from(model: str, raw: Any) -> Usage:
    """Our Usage (with cost) from the SDK's usage object."""
    usage = Usage(
        input_tokens=raw.input_tokens or 0,
        output_tokens=raw.output_tokens or 0,
        cache_read_tokens=getattr(raw, "cache_read_input_tokens", None) or 0,
        cache_write_tokens=getattr(raw, "cache_creation_input_tokens", None) or 0,
    )
    usage.cost_usd = estimate_cost(model, usage)
    return usage


def _cached_tools(tools: list[dict]) -> list[dict]:
    """A copy of the tools with cache_control on the last one; the caller's list is untouched."""
    copied = [dict(t) for t in tools]
    copied[-1]["cache_control"] = dict(CACHE)
    return copied


def _error_kind(err: Exception) -> str:
    """Classify an SDK exception into one of LLMError's kinds."""
    status = getattr(err, "status_code", None)
    if isinstance(err, anthropic.APIConnectionError):  # includes APITimeoutError
        return "connection"
    if status == 529 or getattr(err, "type", None) == "overloaded_error":
        return "overloaded"
    if isinstance(err, anthropic.RateLimitError):
        return "rate_limited"
    if isinstance(err, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return "auth"
    if isinstance(status, int) and 400 <= status < 500:
        return "bad_request"
    if isinstance(status, int) and status >= 500:
        return "server"
    return "unknown"


_HEADLINES = {
    "overloaded": "The model API is overloaded",
    "rate_limited": "The model API is rate limiting us",
    "auth": "The model API rejected our credentials",
    "bad_request": "The model API rejected the request",
    "connection": "Could not reach the model API",
    "server": "The model API is returning server errors",
    "unknown": "The model call failed",
}


def _scrub(text: str, secret: str) -> str:
    """Text on one line, cut short, with the API key and anything key-shaped removed."""
    if secret:
        text = text.replace(secret, "***")
    text = " ".join(re.sub(r"sk-ant-[A-Za-z0-9_\-]+", "***", text).split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def _retries_taken(err: Exception, default: int) -> int:
    """How many retries the SDK made before giving up (it tells the server in a header)."""
    request = getattr(err, "request", None)
    header = request.headers.get("x-stainless-retry-count") if request is not None else None
    return int(header) if header and header.isdigit() else default


def _to_llm_error(err: Exception, *, api_key: str, max_retries: int, where: str) -> LLMError:
    """An LLMError with a short, secret-free message for an SDK exception."""
    kind = _error_kind(err)
    status = getattr(err, "status_code", None)
    message = _HEADLINES[kind]
    if kind == "connection":
        timed_out = isinstance(err, anthropic.APITimeoutError)
        message = f"The model API at {where} timed out" if timed_out else f"{message} at {where}"
    message += f" (HTTP {status})" if status else ""
    retries = _retries_taken(err, max_retries)
    if kind == "connection":
        message += f" (tried {retries + 1} times)" if retries > 0 else ""
    elif kind in RETRYABLE_KINDS and retries > 0:
        message += f" and still was after {retries} retries"
    detail = getattr(err, "api_message" if status else "message", None)
    if detail and kind not in ("connection", "overloaded"):
        message += f": {_scrub(str(detail), api_key)}"
    request_id = getattr(err, "request_id", None)
    return LLMError(kind, message.rstrip(".") + ".", status=status, request_id=request_id)


class AnthropicLLM:
    """The LLM protocol on the `anthropic` SDK, with retries and prompt caching."""

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_retries: int = 4,
        timeout: float = 120.0,
    ) -> None:
        self.model = model
        self.max_retries = max_retries
        self._api_key = api_key
        self._client = anthropic.Anthropic(
            api_key=api_key, base_url=base_url, max_retries=max_retries, timeout=timeout
        )

    def __repr__(self) -> str:
        return f"AnthropicLLM(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def _request(
        self,
        system: str,
        messages: list[dict],
        tools: list[dict] | None,
        tool_choice: dict | None,
        max_tokens: int,
    ) -> dict[str, Any]:
        """Keyword arguments for messages.create, with cache breakpoints on the stable prefix."""
        kwargs: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "messages": messages}
        if system:
            kwargs["system"] = [{"type": "text", "text": system, "cache_control": dict(CACHE)}]
        if tools:
            kwargs["tools"] = _cached_tools(tools)
        if tool_choice:
            kwargs["tool_choice"] = tool_choice
        return kwargs

    def complete(
        self,
        *,
        system: str,
        messages: list[dict],
        tools: list[dict] | None = None,
        tool_choice: dict | None = None,
        max_tokens: int = 4096,
    ) -> LLMReply:
        """Send one Messages API request; raises LLMError once the SDK's retries are spent."""
        kwargs = self._request(system, messages, tools, tool_choice, max_tokens)
        try:
            msg = self._client.messages.create(**kwargs)
        except anthropic.AnthropicError as err:
            raise self._error(err) from err
        model = msg.model or self.model
        return LLMReply(
            content=[_block_to_dict(b) for b in msg.content],
            stop_reason=msg.stop_reason or "",
            usage=_usage_from(model, msg.usage),
            model=model,
        )

    def check(self) -> str:
        """A cheap call proving the API is reachable with our key; returns a one-line description."""
        try:
            page = self._client.models.list(limit=1)
        except anthropic.AnthropicError as err:
            raise self._error(err) from err
        first = page.data[0].id if page.data else "none"
        return f"Anthropic API reachable at {self._client.base_url} (first model listed: {first}); using {self.model}"

    def _error(self, err: Exception) -> LLMError:
        """Map an SDK exception to LLMError."""
        url = self._client.base_url
        where = f"{url.host}:{url.port}" if url.port else url.host
        return _to_llm_error(err, api_key=self._api_key, max_retries=self.max_retries, where=where)
