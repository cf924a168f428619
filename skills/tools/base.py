"""What a tool is: a name, a description for the model, a JSON schema and a bounded function."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("droid.tools")
MAX_RESULT_CHARS = 12_000


@dataclass
class ToolResult:
    """A tool's answer: bounded text, whether it is an error, and an optional control signal."""

    text: str
    is_error: bool = False
    control: dict | None = None    # e.g. {"final": "..."} or {"revise": {...}} for the agent loop


@dataclass
class ToolContext:
    """What tools may see and touch.

    `repo` is the run's checkout (a workspace for skills that edit). `allowed` lists the files or
    areas the approved plan may change (None: anywhere in the repo); edits elsewhere are refused
    until a widened plan is approved. `artifacts` is where full tool outputs are kept for paging.
    """

    repo: Path | None
    redact: Callable[[str], str] = lambda text: text
    notes: dict = field(default_factory=dict)
    allowed: list[str] | None = None
    artifacts: Path | None = None
    secrets: list[str] = field(default_factory=list)


@dataclass
class Tool:
    """One tool the model can call."""

    name: str
    description: str
    schema: dict
    func: Callable[..., ToolResult]

    def spec(self) -> dict:
        """The Messages API tool definition."""
        return {"name": self.name, "description": self.description, "input_schema": self.schema}

    def call(self, arguments: dict) -> ToolResult:
        """Run the tool; never raises, always bounded and redacted."""
        try:
            result = self.func(**(arguments or {}))
        except TypeError as exc:
            result = ToolResult(f"Bad arguments for {self.name}: {exc}", is_error=True)
        except Exception as exc:  # a tool never raises into the loop
            log.exception("tool %s failed", self.name)
            result = ToolResult(f"{self.name} failed: {type(exc).__name__}: {exc}", is_error=True)
        text = result.text if result.text.strip() else "Ran successfully, no output."
        if len(text) > MAX_RESULT_CHARS:
            text = text[:MAX_RESULT_CHARS] + f"\n[... {len(text) - MAX_RESULT_CHARS} characters cut ...]"
        result.text = text
        return result


def inside(root: Path, relative: str) -> Path:
    """Resolve `relative` inside `root`, or raise ValueError if it escapes."""
    root = root.resolve()
    target = (root / relative).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"{relative!r} is outside the repository; paths must stay inside it")
    return target
