"""The runner: droid's own bounded executor, where planning and execution happen (never Bolt's threads)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.execution.agent_loop import Limits, LoopResult, run_loop
from bot.orchestration import ticket_context
from bot.orchestration.deliverer import Deliverer
from bot.orchestration.drafting import Drafting
from bot.orchestration.pauses import Pauses
from bot.orchestration.plan_tools import plan_tools
from bot.orchestration.planner import PlanError
from bot.orchestration.status import StatusMessage
from bot.slack import blocks, mrkdwn
from bot.slack.poster import SlackPoster
from bot.tickets.triggers import synthetic
from bot.tickets.writeback import TicketWriteback
from bot.tickets.writeback_text import branch_naming
from integrations.llm import LLM, LLMError, Usage
from skills.plan import Plan
from skills.registry import all_skills
from skills.skill import Outcome, Skill
from skills.tools.base import Tool, ToolContext
from state.runs import Run
from state.store import Store

log = logging.getLogger("droid.runner")


@dataclass
class Services:
    """What a skill's own executor may use."""

    settings: object
    llm: LLM | None
    redact: object
    record: object
    agent: object = None      # (system, prompt, tools, limits) -> LoopResult, when a model is configured
    update_run: object = None  # (run_id, **fields) -> None: e.g. the RCA's repository chosen by its stack frames


class WorkspaceMissing(Exception):
    """The run needs a repository and none is mapped."""


class Runner(Drafting, Pauses):
    """Plans and executes runs on a bounded thread pool; every failure ends in a message in the thread."""

    def __init__(self, settings, store: Store, poster: SlackPoster, llm: LLM | None, redact):
        self.settings, self.store, self.poster, self.llm, self.redact = settings, store, poster, llm, redact
        self.skills = all_skills()
        self.executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="droid-run")
        self._inbox_seen: dict[str, int] = {}
        self._lock = threading.Lock()
        self._busy = 0
        self.deliverer = Deliverer(store, poster.client, redact)
        self.deliverer.on_undeliverable = self.undeliverable
        self.deliverer.start()
        self.tickets = TicketWriteback(self)     # what droid writes back to the run's Jira ticket / GitHub issue
        self.remote = None    # with DROID_BROKER_URL: executions run on `droid worker` processes
        if settings.broker_url:
            from bot.orchestration.executors import RemoteExecution
            self.remote = RemoteExecution(self, settings).start()

    # -- entry points (called from listeners; return at once) --------------------------------
    def submit(self, job, run_id: str, *args) -> Future:
        """Run `job(run_id, *args)` on droid's executor; an exception fails the run, with a message."""
        with self._lock:
            self._busy += 1
        return self.executor.submit(self._guarded, job, run_id, *args)

    @property
    def busy(self) -> bool:
        """True while any job is queued or running."""
        return self._busy > 0

    def shutdown(self, wait: bool = True) -> None:
        """Stop taking work; wait for what is running (and, briefly, for the outbox to empty)."""
        self.executor.shutdown(wait=wait, cancel_futures=not wait)
        if self.remote is not None:
            self.remote.close()
        self.deliverer.stop(drain=2.0 if wait else 0.0)

    def _guarded(self, job, run_id: str, *args) -> None:
        try:
            job(run_id, *args)
        except Exception as exc:  # noqa: BLE001
            log.exception("run %s: %s failed", run_id, job.__name__)
            self.fail(run_id, f"droid hit an internal error ({type(exc).__name__}) and stopped this run. "
                              "The error is in droid's log; the run's history is kept.")
        finally:
            with self._lock:
                self._busy -= 1

    # -- planning --------------------------------------------------------------------------
    def plan(self, run_id: str, feedback: str | None = None) -> None:
        """Draft a plan (model or template), store the version, post it with buttons."""
        run = self.store.runs.get(run_id)
        if run.state == "received":
            if not self.store.runs.transition(run_id, "received", "planning"):
                return
            if not synthetic(run.trigger_ts):     # a ticket's run has no Slack message to react to
                self.poster.react(run.channel, run.trigger_ts, "eyes")
        elif run.state != "planning":
            return
        if self.remote is not None:
            return self.remote.dispatch_plan(run, feedback)
        try:
            plan = self.draft(run, feedback)
        except (PlanError, LLMError) as exc:
            return self.planning_failed(run_id, exc.message if isinstance(exc, LLMError) else str(exc))
        self.planned(run_id, plan, feedback)

    def planning_failed(self, run_id: str, message: str) -> None:
        """Planning could not produce a plan: the run fails and the thread is told why."""
        self.store.events.append(run_id, "error", phase="planning", message=message)
        self._finish_failed(run_id, "planning", f"Planning failed: {message}")

    def planned(self, run_id: str, plan: Plan, feedback: str | None) -> None:
        """Store a drafted plan as the next version; post it for approval, or execute it at once (auto)."""
        run = self.store.runs.get(run_id)
        skill = self.skills[run.skill]
        banner = f"*Revised* after feedback: _{mrkdwn.one_line(feedback)}_" if feedback else ""
        auto = not (skill.needs_approval or (skill.name == "rca" and self.settings.rca_needs_approval))
        with self.store.database.transaction():   # the version, the closing of the old one and the new post: together
            version = self.store.plans.add(run_id, plan.to_dict())
            plan.version = version
            self.store.events.append(run_id, "plan", version=version, plan=plan.to_dict())
            if auto:
                if not self.store.runs.transition(run_id, "planning", "executing", approved_version=version,
                                                  approved_by="auto"):
                    return
            else:
                if not self.store.runs.transition(run_id, "planning", "awaiting_approval"):
                    return
                self._supersede(self.store.runs.get(run_id), version)
                self.deliverer.post(run, blocks.plan_message(run_id, plan, requester=run.requester, banner=banner),
                                    "droid_plan", run_field="plan_ts", version=version)
        if auto:
            return self.execute(run_id)
        self.tickets.plan_posted(run_id)

    def _supersede(self, run: Run, version: int) -> None:
        """Queue the closing of the run's live plan message (if any): it was superseded by `version`."""
        outcome = f"Superseded by plan v{version}."
        if run.approved_by and run.approved_version == self._shown_version(run, version - 1):
            outcome = f"✅ Approved by {mrkdwn.mention(run.approved_by)}; superseded by plan v{version}."
        self.close_plan(run, outcome, unless_version=version)

    def close_plan(self, run: Run, outcome: str, unless_version: int | None = None) -> None:
        """Queue an edit of the run's latest plan message: same plan, its buttons replaced by `outcome`.

        Call inside the transaction of the state change; the message may itself still be in the outbox.
        """
        shown = self.store.outbox.latest(run.run_id, "droid_plan")
        if shown is None and not run.plan_ts:
            return
        old = self._shown_version(run, run.plan_version if unless_version is None else unless_version - 1)
        data = self.store.plans.get(run.run_id, old) if old else None
        if data is None or old == unless_version:
            return
        previous = Plan.from_dict(data)
        previous.version = old
        message = blocks.plan_closed_message(run.run_id, previous, outcome)
        if shown is None:    # posted before the outbox existed
            self.deliverer.update(run, message, ts=run.plan_ts, event_type="droid_plan_closed")
        else:
            self.deliverer.update(run, message, ts=shown.sent_ts, ts_of=shown.id, event_type="droid_plan_closed")

    def _shown_version(self, run: Run, fallback: int) -> int | None:
        """The plan version the run's latest plan message shows."""
        shown = self.store.outbox.latest(run.run_id, "droid_plan")
        return shown.payload.get("version") if shown is not None else (run.approved_version or fallback)

    # -- execution -------------------------------------------------------------------------
    def execute(self, run_id: str) -> None:
        """Work through the approved plan; post progress in one status message and the result in the thread."""
        run = self.store.runs.get(run_id)
        if run.state != "executing":
            return
        self.tickets.approved(run_id)
        plan = self._plan(run)
        skill = self.skills[run.skill]
        status = self._status(run, plan)
        if self.remote is not None:
            return self.remote.dispatch(run, plan, status)
        if skill.execute is not None:
            outcome = skill.execute(self._services(run_id), run, plan)
            for step in plan.steps:
                step.status = "done" if outcome.ok else "skipped"
            return self._conclude(run_id, outcome, plan, status)
        if self.llm is None:
            outcome = self._execute_without_model(run, skill, plan, self._tool_context(run), status)
            return self._conclude(run_id, outcome, plan, status)
        try:
            ws = self._workspace(run) if skill.workspace else None
        except Exception as exc:  # noqa: BLE001 — WorkspaceMissing / WorkspaceError: say why in the thread
            self.store.events.append(run_id, "error", phase="workspace", message=str(exc)[:500])
            return self._conclude(run_id, Outcome("No workspace", f"droid could not prepare a checkout: {exc}",
                                                  ok=False), plan, status)
        ctx = self._tool_context(run, ws, plan)
        result = self._execute_with_model(run, skill, plan, ctx, status)
        self._after_loop(run_id, result, plan, status, ws)

    def _status(self, run: Run, plan: Plan) -> StatusMessage:
        """Queue the status message through the outbox (exactly once, whatever crashes); live edits start once
        it is in Slack."""
        headline = "⏳ Working on the approved plan…" if run.approved_by != "auto" else "⏳ Working…"
        with self.store.database.transaction():
            item = self.deliverer.post(run, blocks.status_message(run.run_id, plan, headline, running=True),
                                       "droid_status", run_field="status_ts")
        return StatusMessage(self.poster, run.channel, None, self.settings.status_interval,
                             resolve=lambda: self._sent_ts(item), outbox_id=item)

    def _sent_ts(self, item_id: int) -> str | None:
        item = self.store.outbox.get(item_id)
        return item.sent_ts if item is not None else None

    def _execute_without_model(self, run: Run, skill: Skill, plan: Plan, ctx: ToolContext,
                               status: StatusMessage) -> Outcome:
        plan.steps[0].status = "active"
        status.set(blocks.status_message(run.run_id, plan, "⏳ Searching (no model configured)…", running=True))
        outcome = skill.without_model(ctx, plan, ticket_context.search_query(run)[0])
        self.store.events.append(run.run_id, "deterministic_result", title=outcome.title, ok=outcome.ok)
        for step in plan.steps:
            step.status = "done" if outcome.ok and step is plan.steps[0] else "skipped"
        return outcome

    def _execute_with_model(self, run: Run, skill: Skill, plan: Plan, ctx: ToolContext,
                            status: StatusMessage) -> LoopResult:
        approved = plan
        plan = Plan.from_dict(plan.to_dict())
        plan.version = approved.version
        current = plan.current_step()
        if current is not None:
            plan.steps[current].status = "active"
        tools = skill.executing_tools(ctx) + plan_tools(self.store, run, approved, plan, status)
        system = skill.instructions + "\n\nThe approved plan:\n" + "\n".join(
            f"{i}. [{s.status}] {s.title}" for i, s in enumerate(plan.steps, 1))
        messages = [{"role": "user", "content": self._task_prompt(run, ctx)}]
        limits = Limits(plan.budget.steps, plan.budget.tokens, self._cost_cap(plan),
                        self.settings.max_wall_seconds, self.settings.max_tool_errors)
        status.set(blocks.status_message(run.run_id, plan, "⏳ Working on the approved plan…", running=True))
        result = run_loop(self.llm, system=system, messages=messages, tools=tools, limits=limits,
                          should_stop=lambda: self.store.runs.get(run.run_id).state != "executing",
                          record=lambda kind, /, **data: self.store.events.append(run.run_id, kind, **data),
                          inbox=lambda: self._inbox(run.run_id), spent=self._spent(run.run_id))
        self._record_usage(run.run_id, "executing", result.usage)
        result.control = {**(result.control or {}), "plan": plan}
        return result

    def _after_loop(self, run_id: str, result: LoopResult, approved: Plan, status: StatusMessage, ws) -> None:
        plan = result.control["plan"]
        if result.outcome == "final":
            for step in plan.steps:
                step.status = "done" if step.status in ("active", "done") else step.status
            outcome = self._finish(run_id, plan, ws, result.text)
            return self._conclude(run_id, outcome, plan, status, ws)
        if result.outcome == "revise":
            return self._pause_for_approval(run_id, result.control, status)
        if result.outcome == "limit" and "tool errors" not in result.text:
            return self._pause_for_budget(run_id, plan, result.text, status)
        if result.outcome == "cancelled":
            run = self.store.runs.get(run_id)
            with self.store.database.transaction():
                self._close_status(run, status, blocks.status_message(run_id, plan, "⏹️ Stopped on request.",
                                                                      running=False))
                self.deliverer.post(run, blocks.notice(f"⏹️ Run {run_id} stopped. Nothing more will happen on it."),
                                    "droid_notice")
            return self._release(ws, failed=True)
        message = (f"Stopped: {result.text}" if result.outcome == "limit" else f"The model failed: {result.text}")
        self._conclude(run_id, Outcome("Run failed", message, ok=False), plan, status, ws)

    def _finish(self, run_id: str, plan: Plan, ws, summary: str) -> Outcome:
        if ws is None:
            return Outcome("Answer", mrkdwn.from_model(summary, mrkdwn.allowed_hosts(self.settings)) or "(the model gave no text)")
        from bot.execution.finish import ship
        run = self.store.runs.get(run_id)
        return ship(self.settings, run, plan, ws, summary, self.redact,
                    lambda kind, /, **data: self.store.events.append(run_id, kind, **data), self._permalink(run))

    # -- endings ---------------------------------------------------------------------------
    def _conclude(self, run_id: str, outcome: Outcome, plan: Plan, status: StatusMessage, ws=None) -> None:
        final_state = "succeeded" if outcome.ok else "failed"
        body = self.redact(outcome.body)
        self._release(ws, failed=not outcome.ok)
        headline = "✅ Done." if outcome.ok else "❌ Failed."
        message = blocks.result_message(outcome.title, body, filename=f"droid-{run_id}.md",
                                        buttons=outcome.buttons, value=blocks.button_value(run_id, plan.version))
        with self.store.database.transaction():   # the end state and everything that tells the thread: together
            if not self.store.runs.transition(run_id, "executing", final_state, result=body):
                status.finish()
                return  # cancelled meanwhile: the Stop handler has told the thread
            run = self.store.runs.get(run_id)
            self.store.events.append(run_id, final_state, title=outcome.title)
            self._close_status(run, status, blocks.status_message(run_id, plan, headline, running=False))
            self.deliverer.post(run, message, "droid_result")
            for filename, content, title in outcome.files:
                self.deliverer.upload(run, filename, content, title)
            self.deliverer.react(run, run.trigger_ts, "white_check_mark" if outcome.ok else "x")
        self.tickets.concluded(run_id, outcome.ok)

    def _close_status(self, run: Run, status: StatusMessage | None, message: blocks.Message) -> None:
        """Queue the status message's final edit (after the throttle interval), ending live edits.

        The message may itself still wait in the outbox (then the edit names its row: per-run order posts it first)."""
        not_before = status.finish() if status is not None else time.time() + self.settings.status_interval
        posted = self.store.outbox.latest(run.run_id, "droid_status") if status is None else None
        ts_of = status.outbox_id if status is not None else (posted.id if posted is not None else None)
        ts = (status.ts if status is not None else None) or (None if ts_of else run.status_ts)
        if ts or ts_of:
            self.deliverer.update(run, message, ts=ts, ts_of=None if ts else ts_of, event_type="droid_status_edit",
                                  not_before=not_before)

    def fail(self, run_id: str, message: str) -> None:
        """Move an unfinished run to failed and say why in its thread."""
        run = self.store.runs.get(run_id)
        if run is None or not run.active:
            return
        self._finish_failed(run_id, run.state, message)

    def undeliverable(self, run_id: str, error: str) -> None:
        """A ticket run's plan could not open its thread (the channel refused it for good): the run fails, and the
        ticket — the one place its requester can see — is told why."""
        run = self.store.runs.get(run_id)
        if run is None or run.thread_ts or not synthetic(run.trigger_ts) or not run.active:
            return
        message = (f"droid could not post this ticket's plan in Slack channel {run.channel} ({error}). Invite droid "
                   "to the channel, or map the project to another one (jira_projects in DROID_CONFIG).")
        with self.store.database.transaction():
            if not self.store.runs.transition(run_id, run.state, "failed", result=message):
                return
            self.store.events.append(run_id, "failed", message=message)
        self.tickets.failed(run_id)

    def _finish_failed(self, run_id: str, from_state: str, message: str) -> None:
        with self.store.database.transaction():
            if not self.store.runs.transition(run_id, from_state, "failed", result=message):
                return
            run = self.store.runs.get(run_id)
            self.store.events.append(run_id, "failed", message=message)
            if from_state == "executing" and (run.status_ts or self.store.outbox.latest(run_id, "droid_status")):
                # e.g. after a restart: the status message (maybe still queued) says working
                plan = self._plan(run)
                self._close_status(run, None, blocks.status_message(run_id, plan, "❌ Failed.", running=False))
            if from_state == "awaiting_approval":
                self.close_plan(run, "❌ This run failed; nothing is left to decide.")
            self.deliverer.post(run, blocks.notice(f"❌ {message}"), "droid_result")
            self.deliverer.react(run, run.trigger_ts, "x")
        self.tickets.failed(run_id)

    def _services(self, run_id: str) -> Services:
        def record(kind, /, **data):
            self.store.events.append(run_id, kind, **data)

        def agent(system: str, prompt: str, tools: list[Tool], limits: Limits) -> LoopResult:
            return run_loop(self.llm, system=system, messages=[{"role": "user", "content": prompt}], tools=tools,
                            limits=limits, should_stop=lambda: self.store.runs.get(run_id).state != "executing",
                            record=record)

        return Services(self.settings, self.llm, self.redact, record, agent if self.llm else None,
                        update_run=self.store.runs.update)

    # -- helpers ---------------------------------------------------------------------------
    def _plan(self, run: Run) -> Plan:
        version = run.approved_version or run.plan_version
        plan = Plan.from_dict(self.store.plans.get(run.run_id, version))
        plan.version = version
        return plan

    def _tool_context(self, run: Run, ws=None, plan: Plan | None = None) -> ToolContext:
        if ws is not None:
            artifacts = Path(ws.path).parent / f"{Path(ws.path).name}-artifacts"
            artifacts.mkdir(parents=True, exist_ok=True)
            return ToolContext(repo=Path(ws.path), redact=self.redact, allowed=list(plan.touches) if plan else [],
                               artifacts=artifacts, secrets=self.settings.secrets())
        repo = Path(run.repo).expanduser() if run.repo and Path(run.repo).expanduser().is_dir() else None
        return ToolContext(repo=repo, redact=self.redact, secrets=self.settings.secrets())

    def _workspaces(self):
        from integrations.workspace import WorkspaceManager
        return WorkspaceManager(Path(self.settings.workspace_dir).expanduser(), github_token=self.settings.github_token,
                                github_url=self.settings.github_url)

    def _workspace(self, run: Run):
        """The run's isolated checkout: created on first execution, reused after a re-approval."""
        from integrations.workspace import Workspace
        saved = run.context.get("workspace")
        if saved and Path(saved["path"]).is_dir():
            return Workspace(**{**saved, "path": Path(saved["path"])})
        if not run.repo:
            raise WorkspaceMissing("No repository is mapped to this channel (DROID_CONFIG channels → repo).")
        ws = self._workspaces().create(run.repo, run.run_id, **branch_naming(run))
        saved = {**dataclasses.asdict(ws), "path": str(ws.path)}
        self.store.runs.update(run.run_id, context={**run.context, "workspace": saved})
        self.store.events.append(run.run_id, "workspace", **saved)
        return ws

    def _release(self, ws, *, failed: bool) -> None:
        if ws is None:
            return
        try:
            self._workspaces().cleanup(ws, failed=failed)
        except Exception as exc:  # noqa: BLE001 — cleanup is housekeeping
            log.warning("workspace cleanup failed: %s", exc)

    def _permalink(self, run: Run) -> str | None:
        try:
            return self.poster.client.chat_getPermalink(channel=run.channel, message_ts=run.thread_ts)["permalink"]
        except Exception:  # noqa: BLE001 — a link is nice to have
            return None

    def _inbox(self, run_id: str) -> list[str]:
        events = self.store.events.for_run(run_id, "follow_up")
        with self._lock:
            seen = self._inbox_seen.get(run_id, 0)
            self._inbox_seen[run_id] = max([seen, *(e.id for e in events)])
        return [e.data.get("text", "") for e in events if e.id > seen]

    def _record_usage(self, run_id: str, phase: str, usage) -> None:
        if isinstance(usage, Usage):
            self.store.events.append(run_id, "usage", phase=phase, input_tokens=usage.input_tokens,
                                     output_tokens=usage.output_tokens, cache_read_tokens=usage.cache_read_tokens,
                                     total_tokens=usage.total_tokens, cost_usd=round(usage.cost_usd, 6))
