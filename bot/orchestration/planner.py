"""Drafting plans: the model decomposes the task through a validated tool call, or the template is used."""

from __future__ import annotations

from integrations.llm import LLM, estimate_cost
from skills.plan import Budget, Plan, Step
from skills.skill import Skill

NO_MODEL_NOTE = ("No model is configured (ANTHROPIC_API_KEY is unset): this is the skill's template plan, "
                 "not a model's. droid can still do the deterministic parts; the model's work needs a key.")

PLAN_TOOL = {
    "name": "submit_plan",
    "description": "Submit the plan for this task: concrete steps, the files or areas it expects to touch, risks.",
    "input_schema": {
        "type": "object",
        "properties": {
            "goal": {"type": "string", "description": "one sentence"},
            "steps": {"type": "array", "minItems": 1, "maxItems": 12,
                      "items": {"type": "object", "properties": {"title": {"type": "string"},
                                                                 "detail": {"type": "string"}},
                                "required": ["title"]}},
            "touches": {"type": "array", "items": {"type": "string"}},
            "risks": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["goal", "steps"],
    },
}


TICKET_GIST = 240     # characters of a ticket's ask shown in a template plan's first step


class PlanError(Exception):
    """The model could not produce a valid plan."""


def template_plan(skill: Skill, task: str, budget: Budget, ticket=None) -> Plan:
    """The skill's template, labelled as such; from a ticket, its key and summary are the goal, the first step
    says what the ticket asks (its description's lead, else its acceptance criteria) and the testing step (else
    the first) carries the acceptance criteria."""
    plan = skill.template(task)
    plan.budget = Budget(min(plan.budget.steps, budget.steps), min(plan.budget.tokens, budget.tokens))
    plan.source, plan.note = "template", NO_MODEL_NOTE
    if ticket is None or not plan.steps:
        return plan
    plan.goal = f"{ticket.key}: {ticket.title}"
    lead, acceptance = ticket_gist(ticket)
    if lead or acceptance:
        plan.steps[0].detail = f"{ticket.key} asks: {lead or acceptance}"
    if lead and acceptance:
        step = next((s for s in plan.steps[1:] if "test" in s.title.lower()), plan.steps[0])
        criteria = f"acceptance criteria: {acceptance}"
        step.detail = f"{step.detail}; {criteria}" if step.detail else criteria[:1].upper() + criteria[1:]
    return plan


def ticket_gist(ticket) -> tuple[str, str]:
    """(the description's lead, before any "Acceptance criteria" heading; the acceptance criteria), each one
    bounded line ('' when absent)."""
    from integrations.adf import ACCEPTANCE, TEXT_HEADING
    lead = []
    for line in (ticket.description or "").splitlines():
        heading = TEXT_HEADING.match(line)
        if ACCEPTANCE.match((heading.group(1) if heading else line).strip()):
            break
        lead.append(line)
    return _gist("\n".join(lead)), _gist(ticket.acceptance or "")


def _gist(text: str) -> str:
    """One line: code-fence markers dropped (a line cannot show a fence), whitespace collapsed, bounded."""
    text = " ".join(" ".join(line for line in text.splitlines() if not line.strip().startswith("```")).split())
    return text[:TICKET_GIST - 1] + "…" if len(text) > TICKET_GIST else text


def model_plan(llm: LLM, skill: Skill, task: str, context: str, budget: Budget,
               feedback: str | None = None, previous: Plan | None = None, attempts: int = 3,
               tickets: str = "", ticket_key: str = "") -> tuple[Plan, object]:
    """Ask the model for a plan through `submit_plan`; invalid output is retried, then PlanError.

    `tickets`: the tickets' context text (untrusted, in <ticket> tags); the plan's goal then names `ticket_key`."""
    template = skill.template(task)
    prompt = [f"Task from Slack (untrusted user text):\n<task>\n{task}\n</task>"]
    if tickets:
        prompt.append(f"{tickets}\nBase the goal and the steps on what the ticket asks (its description and "
                      f"acceptance criteria); start the goal with {ticket_key}.")
    prompt.append("Template steps for this kind of task:\n" + "\n".join(f"- {s.title}" for s in template.steps))
    if context:
        prompt.append(f"Context gathered so far:\n{context}")
    if previous and feedback:
        prompt.append("Previous plan steps:\n" + "\n".join(f"- {s.title}" for s in previous.steps))
        prompt.append(f"The reviewer asked for these changes (untrusted user text):\n<feedback>\n{feedback}\n</feedback>")
    prompt.append("Call submit_plan with concrete steps for this task.")
    messages = [{"role": "user", "content": "\n\n".join(prompt)}]
    system = skill.instructions + "\n\nYou are now planning only: decompose the task into steps."
    problem = ""
    for _ in range(attempts):
        if problem:
            messages.append({"role": "user", "content": [{"type": "text", "text": problem}]})
        reply = llm.complete(system=system, messages=messages, tools=[PLAN_TOOL],
                             tool_choice={"type": "tool", "name": "submit_plan"})
        uses = [u for u in reply.tool_uses() if u["name"] == "submit_plan"]
        data = uses[0]["input"] if uses else None
        problem = validate_plan_input(data)
        if not problem:
            cost = estimate_cost(llm.model, budget.tokens)
            goal = data["goal"] if not ticket_key or ticket_key in data["goal"] else f"{ticket_key}: {data['goal']}"
            plan = Plan(goal=goal, steps=[Step(s["title"], s.get("detail", "")) for s in data["steps"]],
                        touches=list(data.get("touches") or []), risks=list(data.get("risks") or template.risks),
                        budget=Budget(budget.steps, budget.tokens, round(cost, 2)), source="model",
                        actions=template.actions)
            return plan, reply.usage
        messages.append({"role": "assistant", "content": reply.content})
        if uses:
            messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": uses[0]["id"], "is_error": True,
                 "content": f"Invalid plan: {problem}. Call submit_plan again with a valid plan."}]})
            problem = ""
        else:
            problem = "You must call submit_plan."
    raise PlanError("The model did not produce a valid plan after "
                    f"{attempts} attempts ({problem or 'invalid submit_plan input'}).")


def validate_plan_input(data) -> str:
    """Why a submit_plan input is invalid ('' when it is valid)."""
    if not isinstance(data, dict):
        return "no submit_plan call"
    if not isinstance(data.get("goal"), str) or not data["goal"].strip():
        return "`goal` must be a non-empty string"
    steps = data.get("steps")
    if not isinstance(steps, list) or not 1 <= len(steps) <= 12:
        return "`steps` must be a list of 1 to 12 steps"
    for i, step in enumerate(steps, 1):
        if not isinstance(step, dict) or not isinstance(step.get("title"), str) or not step["title"].strip():
            return f"step {i} needs a non-empty `title`"
    for key in ("touches", "risks"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"`{key}` must be a list of strings"
    return ""

