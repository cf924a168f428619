"""Pausing an executing run for a decision: a budget reached (Extend / Stop) or a plan that widened.

A mixin of the Runner. Limits are cumulative over the run: what earlier executions spent is read back
from the event log (`_spent`), so Extend grants exactly what it adds.
"""

from __future__ import annotations

import dataclasses

from bot.execution.agent_loop import Spent
from bot.orchestration.status import StatusMessage
from bot.slack import blocks, mrkdwn
from skills.plan import Budget, Plan


class Pauses:
    """Budget pauses and re-approval of a widened plan."""

    def _pause_for_budget(self, run_id: str, plan: Plan, reason: str, status: StatusMessage) -> None:
        """At a limit the run pauses: a plan version whose budget adds to the approved total, as Extend / Stop.

        Limits are cumulative over the run (see `_spent`), so Extend grants exactly the added steps/tokens."""
        bigger = Plan.from_dict(plan.to_dict())
        more = Budget(max(5, plan.budget.steps // 2), max(50_000, plan.budget.tokens // 2),
                      round(max(1.0, self._cost_cap(plan) / 2), 2))
        bigger.budget = Budget(plan.budget.steps + more.steps, plan.budget.tokens + more.tokens,
                               round(self._cost_cap(plan) + more.cost_usd, 2))
        version = self.store.plans.add(run_id, bigger.to_dict())
        bigger.version = version
        self.store.events.append(run_id, "budget_reached", reason=reason, offered_version=version,
                                 offered=dataclasses.asdict(more), total=dataclasses.asdict(bigger.budget))
        self._ask_again(run_id, version, status, blocks.status_message(run_id, plan, f"⏸️ Paused: {reason}",
                                                                       running=False),
                        blocks.budget_message(run_id, bigger, reason))

    def _cost_cap(self, plan: Plan) -> float:
        """The run's cost limit: the configured maximum, or more once Extend has added to it."""
        return max(self.settings.max_cost_usd, plan.budget.cost_usd or 0.0)

    def _spent(self, run_id: str) -> Spent:
        """What earlier executions of this run used (model steps, executing tokens and cost), from its event log."""
        spent = Spent()
        for event in self.store.events.for_run(run_id):
            if event.kind == "model_reply":
                spent.steps += 1
            elif event.kind == "usage" and event.data.get("phase") == "executing":
                spent.usage.input_tokens += int(event.data.get("total_tokens") or 0)   # only the total is limited
                spent.usage.cost_usd += float(event.data.get("cost_usd") or 0.0)
        return spent

    def _pause_for_approval(self, run_id: str, control: dict, status: StatusMessage) -> None:
        proposed = Plan.from_dict(control["revise"])
        run = self.store.runs.get(run_id)
        banner = ("*Execution revealed the plan must change, and the change widens its scope* — "
                  + mrkdwn.one_line("; ".join(control.get("reasons") or [])) + ". Approve to continue.")
        with self.store.database.transaction():
            version = self.store.plans.add(run_id, proposed.to_dict())
            proposed.version = version
            self.store.events.append(run_id, "plan", version=version, plan=proposed.to_dict(),
                                     widens=control.get("reasons"))
            self._ask_again(run_id, version, status,
                            blocks.status_message(run_id, proposed, "⏸️ Paused: the revised plan needs approval.",
                                                  running=False),
                            blocks.plan_message(run_id, proposed, requester=run.requester, banner=banner))

    def _ask_again(self, run_id: str, version: int, status: StatusMessage, final_status: blocks.Message,
                   request: blocks.Message) -> None:
        """Pause for a decision on plan `version`: one transaction moves the run and queues the status edit,
        the closing of the previous plan message and the request itself."""
        with self.store.database.transaction():
            if not self.store.runs.transition(run_id, "executing", "awaiting_approval"):
                return
            run = self.store.runs.get(run_id)
            self._close_status(run, status, final_status)
            self._supersede(run, version)
            self.deliverer.post(run, request, "droid_plan", run_field="plan_ts", version=version)
