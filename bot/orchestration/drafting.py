"""Drafting a run's plan: the repository, the tickets, the conventions and search results the planner sees.

A mixin of the Runner (and so of the worker's runner): `draft` is called on droid's executor or on a
`droid worker`, never on Bolt's threads.
"""

from __future__ import annotations

import json

from bot.orchestration import repo_choice, ticket_context
from bot.orchestration.planner import model_plan, template_plan
from skills import conventions
from skills.plan import Budget, Plan
from skills.skill import Skill
from skills.tools.base import ToolContext
from state.runs import Run


class Drafting:
    """What goes into a plan, and into the executing agent's first prompt."""

    def draft(self, run: Run, feedback: str | None) -> Plan:
        """The plan for a run (model or template); raises PlanError / LLMError."""
        skill = self.skills[run.skill]
        if skill.execute is None:
            ticket_context.read_tickets(self, run)     # first: a ticket's components may choose the repository
        choice = repo_choice.choose(self.settings, self.store, run, skill, feedback)   # several repos: which one
        previous = self._plan(run) if run.plan_version else None
        budget = Budget(min(skill.max_steps, self.settings.max_steps), self.settings.max_tokens)
        switched = choice is not None and choice.by == "revise"   # the feedback was the switch itself
        plan = self._draft(run, skill, budget, None if switched and self.llm is None else feedback, previous)
        repo_choice.annotate(plan, choice)
        return plan

    def _draft(self, run: Run, skill: Skill, budget: Budget, feedback: str | None, previous: Plan | None) -> Plan:
        if skill.execute is not None:      # a fixed procedure (e.g. the RCA): its template is the plan
            plan = skill.template(run.task)
            plan.source = "template"
            return plan
        if self.llm is None:
            plan = template_plan(skill, run.task, budget, ticket_context.primary(run))
            if skill.workspace:
                plan.note += "\n" + self._planning_context(run, skill)
                plan.note += conventions.plan_note(self.settings, self._tool_context(run).repo,
                                                   [plan.note, *plan.touches], self.redact)
            if feedback:
                plan.note += f" Your feedback was recorded but a template plan cannot change without a model: {feedback}"
            return ticket_context.attach(plan, run, self.settings)
        context = self._planning_context(run, skill)
        repo = self._tool_context(run).repo
        grounding = conventions.planning_text(self.settings, repo, [context], self.redact)
        plan, usage = model_plan(self.llm, skill, run.task, context + grounding, budget, feedback, previous,
                                 tickets=ticket_context.context_text(run),
                                 ticket_key=getattr(ticket_context.primary(run), "key", ""))
        plan.note = (plan.note + conventions.plan_note(self.settings, repo, [context, *plan.touches], self.redact)).strip()
        self._record_usage(run.run_id, "planning", usage)
        return ticket_context.attach(plan, run, self.settings)

    def _planning_context(self, run: Run, skill: Skill) -> str:
        ctx = self._tool_context(run)
        if ctx.repo is None:
            return "No repository is mapped to this channel."
        tools = {t.name: t for t in skill.planning_tools(ctx)}
        if "search_code" in tools:
            query, label = ticket_context.search_query(run)
            return f"{label}:\n" + tools["search_code"].call({"query": query, "top": 8}).text
        return ""

    def _task_prompt(self, run: Run, ctx: ToolContext) -> str:
        parts = [f"Task from Slack (untrusted user text):\n<task>\n{run.task}\n</task>"]
        if run.context.get("extra"):
            parts.append(f"Context (untrusted):\n{run.context['extra']}")
        if tickets := ticket_context.task_prompt_text(run):
            parts.append(tickets)
        grounding = conventions.task_text(self.settings, ctx.repo, ctx.allowed or [], self.redact)
        if grounding:
            parts.append(grounding)
        if ctx.allowed is not None:
            parts.append("Files and areas the approved plan allows you to edit: "
                         + (", ".join(ctx.allowed) or "none yet — call revise_plan to add them"))
        progress = self._progress(run.run_id)
        if progress:
            parts.append("Progress before this approval (your earlier work on this run):\n" + progress)
        return "\n\n".join(parts)

    def _progress(self, run_id: str, last: int = 15) -> str:
        """Steps completed and the latest tool calls of earlier executions of this run."""
        lines = []
        for event in self.store.events.for_run(run_id):
            if event.kind == "step_done":
                lines.append(f"- step {event.data.get('step')} done: {event.data.get('summary', '')}")
            elif event.kind == "tool_call":
                first = (event.data.get("result") or "").splitlines()[:1]
                lines.append(f"- {event.data.get('name')}({json.dumps(event.data.get('input'))[:200]}) → "
                             f"{first[0][:200] if first else ''}")
        return "\n".join(lines[-last:])
