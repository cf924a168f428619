"""`droid worker`: a Celery worker that executes approved plans for a control plane (`droid serve`).

A job carries everything the execution needs (the run row, its plans, a digest of its event log,
the settings without Slack's tokens). The worker builds the workspace and runs the same agent loop
and tools as the embedded runner — `WorkerRunner` is the Runner with its store replaced by
`JobStore`, which reads from the job and sends every write to the control plane over Redis. The
worker never opens the database and never holds a Slack token.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import threading

from celery import Celery

from bot.execution import events_channel
from bot.execution.agent_loop import LoopResult
from bot.orchestration.planner import PlanError
from bot.orchestration.runner import Runner
from bot.settings import Routing, Settings, SettingsError
from bot.slack import mrkdwn
from integrations.llm import LLMError, RedactingLLM, Usage
from integrations.redact import Redactor
from skills.plan import Plan
from skills.registry import all_skills
from skills.skill import Outcome
from state.events import RunEvent
from state.runs import Run

log = logging.getLogger("droid.worker")
SLACK_FIELDS = ("slack_bot_token", "slack_signing_secret", "slack_app_token")
TASK = "droid.execute"
VISIBILITY_MARGIN = 600   # seconds beyond the longest allowed run before Redis hands a job out again


def celery_app(settings: Settings) -> Celery:
    """The Celery app on the configured Redis broker, with the crash semantics droid relies on."""
    app = Celery("droid", broker=settings.broker_url)
    app.conf.update(
        task_acks_late=True,                    # acknowledged after the attempt ends, not when it starts
        task_reject_on_worker_lost=True,        # a killed pool process puts the job back at once
        worker_prefetch_multiplier=1,           # a busy worker does not sit on queued jobs
        task_serializer="json", accept_content=["json"], task_ignore_result=True,
        broker_connection_retry_on_startup=False,
        broker_transport_options={"visibility_timeout": settings.max_wall_seconds + VISIBILITY_MARGIN},
        worker_hijack_root_logger=False,
    )
    app.task(name=TASK, bind=True)(_execute_task)
    return app


def job_settings(settings: Settings) -> dict:
    """The settings a job carries: all but Slack's tokens."""
    values = dataclasses.asdict(settings)
    for name in SLACK_FIELDS:
        values[name] = ""
    return values


def settings_from_job(values: dict) -> Settings:
    """Rebuild the Settings a job carries (tuples arrive as lists)."""
    routing = {k: tuple(v) if isinstance(v, list) else v for k, v in values["routing"].items()}
    routing["channel_approvers"] = {k: tuple(v) for k, v in routing.get("channel_approvers", {}).items()}
    plain = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k != "routing"}
    return Settings(**{**plain, **{f: "" for f in SLACK_FIELDS}}, routing=Routing(**routing))


def _execute_task(task, job: dict) -> None:
    """Celery task: run one attempt of one run's execution."""
    settings = dataclasses.replace(settings_from_job(job["settings"]), broker_url=task.app.conf.broker_url)
    side = events_channel.WorkerSide(events_channel.connect(settings.broker_url), job["run"]["run_id"],
                                     job["attempt"])
    if not side.current():   # superseded (e.g. redelivered after the control plane moved on): drop it
        log.info("run %s attempt %s is superseded; skipped", job["run"]["run_id"], job["attempt"])
        return
    side.started()
    side.send("event", event_kind="attempt_started", event={"attempt": job["attempt"],
                                                             "worker": task.request.hostname})
    WorkerRunner(settings, job, side).run()


class JobStore:
    """The store, as a worker sees it: reads come from the job, writes go to the control plane."""

    def __init__(self, job: dict, side: events_channel.WorkerSide):
        self.job, self.side = job, side
        self.runs, self.plans, self.events = self, _Plans(job, side), _Events(job, side)

    def get(self, run_id: str) -> Run:
        """The run as dispatched; state `cancelled` once this attempt may no longer run."""
        run = Run(**{**self.job["run"], "context": dict(self.job["run"]["context"])})
        if not self.side.current():
            run.state = "cancelled"
        return run

    def update(self, run_id: str, **fields) -> None:
        """Field updates (e.g. the workspace in the context) are recorded by the control plane."""
        if "context" in fields:
            self.job["run"]["context"] = fields["context"]
        self.side.send("run_update", **fields)


class _Plans:
    def __init__(self, job: dict, side):
        self.job, self.side = job, side

    def get(self, run_id: str, version: int) -> dict | None:
        return self.job["plans"].get(str(version))

    def add(self, run_id: str, plan: dict) -> int:
        version = max(int(v) for v in self.job["plans"]) + 1
        self.job["plans"][str(version)] = plan
        self.side.send("plan", version=version, plan=plan)
        return version


class _Events:
    def __init__(self, job: dict, side):
        self.job, self.side = job, side

    def append(self, run_id: str, kind: str, /, **data) -> None:
        self.side.send("event", event_kind=kind, event=data)

    def for_run(self, run_id: str, kind: str | None = None) -> list[RunEvent]:
        if kind == "follow_up":   # steering replies arrive through Redis while the loop runs
            received = self.job.setdefault("steering", [])
            received.extend(self.side.steering())
            return [RunEvent(i, run_id, 0.0, "follow_up", {"text": t}) for i, t in enumerate(received, 1)]
        return [RunEvent(i, run_id, 0.0, e["kind"], e["data"]) for i, e in enumerate(self.job["events"], 1)
                if kind is None or e["kind"] == kind]


class RemoteStatus:
    """The status message, from a worker: each state goes to the control plane, which edits Slack."""

    def __init__(self, side: events_channel.WorkerSide):
        self.side, self.ts = side, None

    def set(self, message) -> None:
        """Show this state (the control plane throttles the edits)."""
        self.side.send("status", message=dataclasses.asdict(message))

    def finish(self) -> float:
        """The control plane ends the edits."""
        return 0.0


class WorkerRunner(Runner):
    """The runner's execution half, on a worker: no database, no Slack, no thread pool."""

    def __init__(self, settings: Settings, job: dict, side: events_channel.WorkerSide):
        from bot.slack.app import build_llm
        self.settings, self.job, self.side = settings, job, side
        if job.get("seal"):          # droid's links in what it sends back must open in the control plane
            mrkdwn.use_seal_key(job["seal"])
        self.redact = Redactor(settings.secrets())
        llm = build_llm(settings)
        self.llm = RedactingLLM(llm, self.redact) if llm is not None else None
        self.skills, self.store = all_skills(), JobStore(job, side)
        self._inbox_seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def run(self) -> None:
        """Execute the approved plan; the ending goes back as one `end` message."""
        side, run = self.side, self.store.get(self.job["run"]["run_id"])
        stop = threading.Event()
        threading.Thread(target=self._beat, args=(stop,), daemon=True).start()
        try:
            self._run(run)
        except Exception as exc:  # noqa: BLE001 — the control plane fails the run and says why
            log.exception("run %s failed on the worker", run.run_id)
            side.send("end", how="error", error=f"{type(exc).__name__}: {str(exc)[:300]}")
        finally:
            stop.set()

    def _beat(self, stop: threading.Event) -> None:
        while not stop.wait(events_channel.HEARTBEAT_SECONDS):
            self.side.beat(force=True)

    def _run(self, run: Run) -> None:
        if self.job.get("kind") == "plan":
            return self._draft_plan(run)
        plan, skill, status = self._plan(run), self.skills[run.skill], RemoteStatus(self.side)
        if skill.execute is not None:
            outcome = skill.execute(self._services(run.run_id), run, plan)
            for step in plan.steps:
                step.status = "done" if outcome.ok else "skipped"
            return self._send_outcome(outcome, plan)
        if self.llm is None:
            return self._send_outcome(self._execute_without_model(run, skill, plan, self._tool_context(run), status),
                                      plan)
        try:
            ws = self._workspace(run) if skill.workspace else None
        except Exception as exc:  # noqa: BLE001 — WorkspaceMissing / WorkspaceError: say why in the thread
            self.store.events.append(run.run_id, "error", phase="workspace", message=str(exc)[:500])
            return self._send_outcome(Outcome("No workspace", f"droid could not prepare a checkout: {exc}", ok=False),
                                      plan)
        result = self._execute_with_model(run, skill, plan, self._tool_context(run, ws, plan), status)
        worked = result.control["plan"]
        if result.outcome == "final":
            for step in worked.steps:
                step.status = "done" if step.status in ("active", "done") else step.status
            outcome = self._finish(run.run_id, worked, ws, result.text)
            self._release(ws, failed=not outcome.ok)
            return self._send_outcome(outcome, worked)
        if result.outcome in ("cancelled", "error") or "tool errors" in result.text:
            self._release(ws, failed=True)
        control = {k: v for k, v in result.control.items() if k != "plan"}
        self.side.send("end", how="loop", outcome=result.outcome, text=result.text, control=control,
                       plan=worked.to_dict(), version=worked.version)

    def _draft_plan(self, run: Run) -> None:
        feedback = self.job.get("feedback")
        try:
            plan = self.draft(run, feedback)
        except (PlanError, LLMError) as exc:
            message = exc.message if isinstance(exc, LLMError) else str(exc)
            return self.side.send("end", how="plan_failed", message=message)
        self.side.send("end", how="planned", plan=plan.to_dict(), feedback=feedback)

    def _send_outcome(self, outcome: Outcome, plan: Plan) -> None:
        files = [(name, content.decode("utf-8", "replace") if isinstance(content, bytes) else content, title)
                 for name, content, title in outcome.files]
        self.side.send("end", how="outcome", title=outcome.title, body=outcome.body, ok=outcome.ok, files=files,
                       buttons=outcome.buttons, plan=plan.to_dict(), version=plan.version)

    def _permalink(self, run: Run) -> str | None:
        return self.job.get("permalink")


def loop_result(data: dict) -> LoopResult:
    """The LoopResult an `end` message of kind `loop` describes (plan included in its control)."""
    plan = Plan.from_dict(data["plan"])
    plan.version = data["version"]
    return LoopResult(data["outcome"], data["text"], Usage(), 0, control={**data["control"], "plan": plan})


def cli_main(argv: list[str]) -> int:
    """Run a Celery worker for the control plane on DROID_BROKER_URL."""
    parser = argparse.ArgumentParser(prog="droid worker")
    parser.add_argument("--concurrency", type=int, default=2, help="runs executed at once (default 2)")
    parser.add_argument("--name", default=None, help="worker name shown by `droid doctor` (default: celery's)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"droid worker: not configured: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    if not settings.broker_url:
        print("droid worker: DROID_BROKER_URL is not set (redis://host:6379/0): there is no queue to work from",
              file=sys.stderr)
        return 2
    try:
        events_channel.connect(settings.broker_url).ping()
    except Exception as exc:  # noqa: BLE001 — one line, not a traceback
        print(f"droid worker: cannot reach the broker at {settings.broker_url}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    options = ["worker", "--loglevel=INFO", f"--concurrency={max(1, args.concurrency)}", "--pool=threads",
               "--without-gossip", "--without-mingle"]
    if args.name:
        options.append(f"--hostname={args.name}")
    celery_app(settings).worker_main(options)
    return 0
