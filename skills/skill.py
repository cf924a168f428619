"""What a skill is: data, not a class tree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from skills.plan import Plan
from skills.tools.base import Tool, ToolContext


@dataclass
class Outcome:
    """What a run produced: a title, a body for the thread, whether it succeeded, files and buttons."""

    title: str
    body: str
    ok: bool = True
    files: list[tuple[str, bytes | str, str]] = field(default_factory=list)   # (filename, content, title)
    buttons: list[tuple[str, str]] = field(default_factory=list)              # (label, action_id)


@dataclass(frozen=True)
class Skill:
    """A kind of task droid can do: its plan template, instructions, tools and limits."""

    name: str
    description: str
    template: Callable[[str], Plan]                      # task -> template plan
    instructions: str                                    # system prompt for the model
    planning_tools: Callable[[ToolContext], list[Tool]] = lambda ctx: []   # read-only, while planning
    executing_tools: Callable[[ToolContext], list[Tool]] = lambda ctx: []  # after approval
    without_model: Callable[[ToolContext, Plan, str], Outcome] | None = None  # honest work with no model
    needs_approval: bool = True
    max_steps: int = 30
    workspace: bool = False   # works in an isolated checkout on a droid/ branch, shipped as a pull request
    execute: Callable[..., Outcome] | None = None   # a skill's own executor (services, run, plan) -> Outcome
