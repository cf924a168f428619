"""The agent loop: one loop, hard limits checked before every model call, cancellation between steps."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from integrations.llm import LLM, LLMError, Usage
from skills.tools.base import Tool, ToolResult


@dataclass
class Limits:
    """Hard limits for one loop."""

    max_steps: int = 30
    max_tokens: int = 400_000
    max_cost_usd: float = 5.0
    max_wall_seconds: float = 1800
    max_tool_errors: int = 5


@dataclass
class Spent:
    """What earlier executions of the same run already used: a resumed loop's limits count from here."""

    steps: int = 0
    usage: Usage = field(default_factory=Usage)


@dataclass
class LoopResult:
    """How the loop ended: final | revise | limit | cancelled | error."""

    outcome: str
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    control: dict | None = None


def limit_reached(limits: Limits, steps: int, usage: Usage, started: float, tool_errors: int) -> str | None:
    """The limit that stops the loop now, if any."""
    if steps >= limits.max_steps:
        return f"the step limit ({limits.max_steps} steps)"
    if usage.total_tokens >= limits.max_tokens:
        return f"the token budget ({limits.max_tokens:,} tokens)"
    if usage.cost_usd >= limits.max_cost_usd:
        return f"the cost budget (${limits.max_cost_usd:.2f})"
    if time.monotonic() - started >= limits.max_wall_seconds:
        return f"the time limit ({int(limits.max_wall_seconds)} s)"
    if tool_errors >= limits.max_tool_errors:
        return f"{tool_errors} consecutive tool errors"
    return None


def run_loop(llm: LLM, *, system: str, messages: list[dict], tools: list[Tool], limits: Limits,
             should_stop: Callable[[], bool], record: Callable[..., None],
             inbox: Callable[[], list[str]] = lambda: [], spent: Spent | None = None) -> LoopResult:
    """Call the model and its tools until it finishes, asks to re-plan, or a limit or stop intervenes.

    Step, token and cost limits count `spent` (earlier executions of the run) plus this loop; the result
    reports this loop's own steps and usage."""
    by_name = {t.name: t for t in tools}
    before = spent or Spent()
    usage, steps, tool_errors, started = Usage(), 0, 0, time.monotonic()
    while True:
        if should_stop():
            return LoopResult("cancelled", "Stopped on request.", usage, steps)
        so_far = Usage()
        so_far.add(before.usage)
        so_far.add(usage)
        if reason := limit_reached(limits, before.steps + steps, so_far, started, tool_errors):
            return LoopResult("limit", f"Stopped at {reason}.", usage, steps)
        _deliver_steering(messages, inbox(), record)
        try:
            reply = llm.complete(system=system, messages=messages, tools=[t.spec() for t in tools])
        except LLMError as exc:
            record("model_error", error_kind=exc.kind, message=exc.message)
            return LoopResult("error", exc.message, usage, steps)
        steps += 1
        usage.add(reply.usage)
        record("model_reply", step=before.steps + steps, text=reply.text[:4000], tools=[u["name"] for u in reply.tool_uses()],
               input_tokens=reply.usage.input_tokens, output_tokens=reply.usage.output_tokens,
               cost_usd=round(reply.usage.cost_usd, 6))
        messages.append({"role": "assistant", "content": reply.content})
        uses = reply.tool_uses()
        if not uses:
            return LoopResult("final", reply.text, usage, steps)
        results, control = [], None
        for use in uses:
            result = _call(by_name, use)
            tool_errors = tool_errors + 1 if result.is_error else 0
            record("tool_call", name=use["name"], input=use.get("input"), result=result.text[:4000],
                   is_error=result.is_error)
            results.append({"type": "tool_result", "tool_use_id": use["id"], "content": result.text,
                            "is_error": result.is_error})
            control = control or result.control
        messages.append({"role": "user", "content": results})
        if control and ("final" in control or "revise" in control):
            outcome = "final" if "final" in control else "revise"
            return LoopResult(outcome, control.get("final", ""), usage, steps, control)


def _call(by_name: dict[str, Tool], use: dict) -> ToolResult:
    tool = by_name.get(use["name"])
    if tool is None:
        return ToolResult(f"There is no tool named {use['name']!r}. Tools: {', '.join(by_name)}.", is_error=True)
    return tool.call(use.get("input") or {})


def _deliver_steering(messages: list[dict], notes: list[str], record) -> None:
    if not notes:
        return
    text = "\n".join(f"- {n}" for n in notes)
    record("steering", notes=notes)
    note = {"type": "text", "text": f"Messages from the thread since your last step (untrusted user input):\n{text}"}
    last = messages[-1] if messages else None
    if last and last["role"] == "user" and isinstance(last["content"], list):
        last["content"].append(note)
    else:
        messages.append({"role": "user", "content": [note]})
