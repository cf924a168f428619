"""What a skill is: data, not a class tree."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from skills.plan import Plan
from skills.tools.base import Tool, ToolContext


@dataclass
class Outcome:
    """What a run produced: a title, a body for the thread, and whether it succeeded."""

    title: str
    body: str
    ok: bool = True


@dataclass(frozen=True)
class Skill:
    """A kind of task droid can do: its plan template, instructions, tools and limits."""

    name: str
    description: str
    template: Callable[[str], Plan]                      # task -> template plan
    instructions: str                                    # system prompt for the model
    planning_tools: Callable[[ToolContext], list[Tool]]  # read-only, while planning
    executing_tools: Callable[[ToolContext], list[Tool]]  # after approval
    without_model: Callable[[ToolContext, Plan, str], Outcome]  # what droid can do honestly with no model
    needs_approval: bool = True
    max_steps: int = 30
    workspace: bool = False   # works in an isolated checkout on a droid/ branch, shipped as a pull request
