"""The plan tools: how the agent moves through its approved plan (mark a step done, revise the remaining steps
within the approved scope or pause for approval when a revision widens it, finish with an answer)."""

from __future__ import annotations

from bot.orchestration.status import StatusMessage
from bot.slack import blocks
from skills.plan import Plan, widening
from skills.tools.base import Tool, ToolResult


def plan_tools(store, run, approved: Plan, plan: Plan, status: StatusMessage) -> list[Tool]:
    """The tools the agent moves through the approved plan with: complete a step, revise the rest, finish."""
    def complete_step(summary: str = "") -> ToolResult:
        index = plan.current_step()
        if index is None:
            return ToolResult("All steps are already complete; call final_answer.")
        plan.steps[index].status = "done"
        if index + 1 < len(plan.steps):
            plan.steps[index + 1].status = "active"
        store.events.append(run.run_id, "step_done", step=index + 1, summary=summary)
        status.set(blocks.status_message(run.run_id, plan, f"⏳ Step {index + 1} done.", running=True))
        following = plan.current_step()
        return ToolResult(f"Step {index + 1} done." + (
            f" Next: {plan.steps[following].title}" if following is not None else " All steps done."))

    def revise_plan(steps: list, reason: str, touches: list | None = None) -> ToolResult:
        done = [s for s in plan.steps if s.status == "done"]
        proposed = Plan.from_dict({**plan.to_dict(), "steps": [s.__dict__ for s in done] + [
            {"title": str(t)} for t in steps], "touches": list(touches or plan.touches)})
        reasons = widening(approved, proposed)
        if reasons:
            return ToolResult("The revision widens the approved scope; pausing for approval.",
                              control={"revise": proposed.to_dict(), "reasons": reasons})
        plan.steps = proposed.steps
        version = store.plans.add(run.run_id, proposed.to_dict())
        store.events.append(run.run_id, "plan", version=version, reason=reason, within_scope=True)
        return ToolResult(f"Plan revised (v{version}, within the approved scope). Continue.")

    def final_answer(text: str) -> ToolResult:
        return ToolResult("Answer recorded.", control={"final": text})

    return [
        Tool("complete_step", "Mark the current plan step complete.",
             {"type": "object", "properties": {"summary": {"type": "string"}}}, complete_step),
        Tool("revise_plan", "Replace the remaining steps when what you observed shows the plan is wrong.",
             {"type": "object", "properties": {"steps": {"type": "array", "items": {"type": "string"}},
                                               "reason": {"type": "string"},
                                               "touches": {"type": "array", "items": {"type": "string"}}},
              "required": ["steps", "reason"]}, revise_plan),
        Tool("final_answer", "Finish: the answer or result to post in the thread.",
             {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}, final_answer),
    ]
