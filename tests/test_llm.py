"""Contract tests: the real AnthropicLLM (the real `anthropic` SDK) against the scripted stub."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from integrations.llm import AnthropicLLM, LLMError, LLMReply, Usage, estimate_cost
from tests.stubs.anthropic_stub import AnthropicStub, Turn

API_KEY = "sk-ant-test-SECRET-0123456789"
MODEL = "claude-sonnet-4-5"
TOOLS = [
    {"name": "read_file", "description": "Read a file.", "input_schema": {"type": "object"}},
    {"name": "search", "description": "Search the repo.", "input_schema": {"type": "object"}},
]
USER = [{"role": "user", "content": "fix PAY-142"}]


@pytest.fixture
def stub() -> Iterator[AnthropicStub]:
    with AnthropicStub() as s:
        yield s


def make_llm(stub: AnthropicStub, **kwargs) -> AnthropicLLM:
    return AnthropicLLM(api_key=API_KEY, model=MODEL, base_url=stub.url, **kwargs)


def test_text_reply_usage_and_cost(stub: AnthropicStub) -> None:
    stub.add(Turn.text("Here is the plan.", expect="PAY-142", input_tokens=1000,
                       output_tokens=200, cache_read_tokens=5000, cache_write_tokens=400))
    reply = make_llm(stub).complete(system="You are droid.", messages=USER)
    stub.assert_done()
    assert isinstance(reply, LLMReply)
    assert reply.text == "Here is the plan."
    assert reply.content == [{"type": "text", "text": "Here is the plan."}]
    assert reply.stop_reason == "end_turn" and reply.tool_uses() == []
    assert reply.model == MODEL
    assert reply.usage.input_tokens == 1000 and reply.usage.output_tokens == 200
    assert reply.usage.cache_read_tokens == 5000 and reply.usage.cache_write_tokens == 400
    assert reply.usage.total_tokens == 6600
    # sonnet: $3 in, $15 out, cache read 0.1x, cache write 1.25x per million
    expected = (1000 * 3 + 200 * 15 + 5000 * 0.3 + 400 * 3.75) / 1e6
    assert reply.usage.cost_usd == pytest.approx(expected)


def test_tool_use_reply(stub: AnthropicStub) -> None:
    stub.add(Turn.tool_use("read_file", {"path": "app.py"}, tool_id="toolu_1", text="Looking."))
    reply = make_llm(stub).complete(system="s", messages=USER, tools=TOOLS)
    stub.assert_done()
    assert reply.stop_reason == "tool_use"
    assert reply.text == "Looking."
    assert reply.tool_uses() == [
        {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "app.py"}}
    ]


def test_tool_result_round_trip(stub: AnthropicStub) -> None:
    stub.add(Turn.tool_use("search", {"q": "retry"}, tool_id="toolu_9"),
             Turn.text("Found it.", expect="webhook.py:12"))
    llm = make_llm(stub)
    first = llm.complete(system="s", messages=USER, tools=TOOLS)
    messages = [*USER, {"role": "assistant", "content": first.content},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                              "content": "webhook.py:12: def send()"}]}]
    assert llm.complete(system="s", messages=messages, tools=TOOLS).text == "Found it."
    stub.assert_done()


def test_request_caches_stable_prefix_without_mutating_tools(stub: AnthropicStub) -> None:
    tools = [dict(t) for t in TOOLS]
    before = [dict(t) for t in tools]
    stub.add(Turn.text("ok"))
    make_llm(stub).complete(system="You are droid.", messages=USER, tools=tools,
                            tool_choice={"type": "tool", "name": "search"}, max_tokens=123)
    stub.assert_done()
    sent = stub.requests[0]
    assert sent["model"] == MODEL and sent["max_tokens"] == 123
    assert sent["system"] == [
        {"type": "text", "text": "You are droid.", "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" not in sent["tools"][0]
    assert sent["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert sent["tool_choice"] == {"type": "tool", "name": "search"}
    assert tools == before


def test_overloaded_then_success(stub: AnthropicStub) -> None:
    stub.add(Turn.error(529, "overloaded_error"), Turn.text("recovered"))
    assert make_llm(stub).complete(system="s", messages=USER).text == "recovered"
    assert len(stub.requests) == 2
    stub.assert_done()


def test_rate_limited_then_success(stub: AnthropicStub) -> None:
    stub.add(Turn.error(429, "rate_limit_error", headers={"retry-after-ms": "10"}),
             Turn.text("recovered"))
    assert make_llm(stub).complete(system="s", messages=USER).text == "recovered"
    assert len(stub.requests) == 2
    stub.assert_done()


def test_always_overloaded_gives_up(stub: AnthropicStub) -> None:
    stub.add(*[Turn.error(529, "overloaded_error", f"Overloaded {API_KEY}") for _ in range(3)])
    with pytest.raises(LLMError) as info:
        make_llm(stub, max_retries=2).complete(system="s", messages=USER)
    stub.assert_done()
    err = info.value
    assert err.kind == "overloaded" and err.status == 529
    assert "overloaded" in err.message and "2 retries" in err.message
    assert API_KEY not in err.message and API_KEY not in str(err)
    assert len(stub.requests) == 3


def test_server_error_exhausted(stub: AnthropicStub) -> None:
    stub.add(Turn.error(500, "api_error"), Turn.error(500, "api_error"))
    with pytest.raises(LLMError) as info:
        make_llm(stub, max_retries=1).complete(system="s", messages=USER)
    stub.assert_done()
    assert info.value.kind == "server"


def test_auth_error_is_not_retried(stub: AnthropicStub) -> None:
    stub.add(Turn.error(401, "authentication_error", f"invalid x-api-key {API_KEY}"))
    with pytest.raises(LLMError) as info:
        make_llm(stub).complete(system="s", messages=USER)
    stub.assert_done()
    assert info.value.kind == "auth" and info.value.status == 401
    assert "invalid x-api-key" in info.value.message and API_KEY not in info.value.message
    assert len(stub.requests) == 1


def test_bad_request(stub: AnthropicStub) -> None:
    stub.add(Turn.error(400, "invalid_request_error", "messages: text content blocks must be non-empty"))
    with pytest.raises(LLMError) as info:
        make_llm(stub).complete(system="s", messages=USER)
    assert info.value.kind == "bad_request" and "non-empty" in info.value.message


def test_connection_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    llm = AnthropicLLM(api_key=API_KEY, model=MODEL, base_url=f"http://127.0.0.1:{port}",
                       max_retries=0, timeout=5)
    with pytest.raises(LLMError) as info:
        llm.complete(system="s", messages=USER)
    assert info.value.kind == "connection"
    assert API_KEY not in info.value.message
    with pytest.raises(LLMError) as info:
        llm.check()
    assert info.value.kind == "connection"


def test_divergent_expectation_fails_assert_done(stub: AnthropicStub) -> None:
    stub.add(Turn.text("never sent", expect="something else"))
    with pytest.raises(LLMError) as info:
        make_llm(stub).complete(system="s", messages=USER)
    assert "diverged from script" in info.value.message
    assert len(stub.requests) == 1  # the divergence is not retried
    with pytest.raises(AssertionError, match="something else"):
        stub.assert_done()


def test_callable_expectation_and_exhausted_script(stub: AnthropicStub) -> None:
    def expect_tools(body: dict) -> None:
        assert body.get("tools"), "tools were not sent"

    stub.add(Turn.text("one", expect=expect_tools))
    llm = make_llm(stub)
    with pytest.raises(LLMError):
        llm.complete(system="s", messages=USER)
    with pytest.raises(LLMError):
        llm.complete(system="s", messages=USER, tools=TOOLS)
    with pytest.raises(AssertionError) as info:
        stub.assert_done()
    assert "tools were not sent" in str(info.value)
    assert "script was exhausted" in str(info.value)


def test_unconsumed_turns_fail_assert_done(stub: AnthropicStub) -> None:
    stub.add(Turn.text("one"), Turn.text("two"))
    make_llm(stub).complete(system="s", messages=USER)
    with pytest.raises(AssertionError, match="1 scripted turn"):
        stub.assert_done()


def test_stub_validates_requests(stub: AnthropicStub) -> None:
    stub.add(Turn.text("x"), Turn.text("y"))
    llm = make_llm(stub)
    with pytest.raises(LLMError):
        llm.complete(system="s", messages=USER, tools=TOOLS, tool_choice={"type": "tool", "name": "nope"})
    dangling = [*USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_x", "name": "search", "input": {}}]},
        {"role": "user", "content": "no result"}]
    with pytest.raises(LLMError):
        llm.complete(system="s", messages=dangling, tools=TOOLS)
    errors = "\n".join(stub.errors)
    assert "'nope'" in errors and "toolu_x" in errors


def test_check_against_stub(stub: AnthropicStub) -> None:
    description = make_llm(stub).check()
    assert "reachable" in description and MODEL in description
    assert API_KEY not in description


def test_usage_add_and_estimate_cost() -> None:
    total = Usage()
    total.add(Usage(input_tokens=10, output_tokens=5, cost_usd=0.5))
    total.add(Usage(cache_read_tokens=3, cache_write_tokens=2, cost_usd=0.25))
    assert total == Usage(10, 5, 3, 2, 0.75) and total.total_tokens == 20
    million = Usage(input_tokens=1_000_000)
    assert estimate_cost("claude-opus-4-5", million) > estimate_cost("claude-sonnet-4-5", million)
    assert estimate_cost("claude-haiku-4-5", million) < estimate_cost("claude-sonnet-4-5", million)
    assert estimate_cost("some-unknown-model", million) == estimate_cost("claude-sonnet-4-5", million)
    assert estimate_cost("claude-sonnet-4-5", (1_000_000, 0)) == pytest.approx(3.0)
