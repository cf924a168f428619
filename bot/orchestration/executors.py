"""Where executions run: in the serve process (the default) or on `droid worker` processes via Celery.

`Runner.execute` does the control-plane part of an execution (checks, status message) and hands
the rest to `runner.remote` when DROID_BROKER_URL is set. `RemoteExecution` claims each attempt
with a compare-and-set on the run, sends the job, and runs one thread that records what workers
send back (acknowledging each message only after recording it), forwards Stop and steering
replies to Redis, and restarts — or fails, after DROID_MAX_ATTEMPTS — attempts whose worker died.
"""

from __future__ import annotations

import logging
import threading
import time

from bot.execution import events_channel
from bot.orchestration.status import StatusMessage
from bot.slack import blocks, mrkdwn
from skills.plan import Plan
from skills.skill import Outcome

log = logging.getLogger("droid.executors")
POISON_TRIES = 3
PAST_EVENTS = ("model_reply", "usage", "step_done", "tool_call")   # what a job needs of earlier executions


class BrokerUnavailable(Exception):
    """The Redis broker cannot be reached."""


def check_broker(url: str) -> None:
    """Raise BrokerUnavailable unless Redis at `url` answers a PING."""
    try:
        events_channel.connect(url).ping()
    except Exception as exc:  # noqa: BLE001 — any failure means: not usable
        raise BrokerUnavailable(f"cannot reach the broker at {url}: {type(exc).__name__}: {exc}") from None


def workers(settings, timeout: float = 1.0) -> list[str]:
    """The names of the `droid worker` processes that answer a ping within `timeout` (celery control ping)."""
    from bot.execution.worker import celery_app
    replies = celery_app(settings).control.ping(timeout=timeout) or []
    return sorted(name for reply in replies for name in reply)


class RemoteExecution:
    """Executions on Celery workers; the control plane records their events and endings."""

    def __init__(self, runner, settings):
        from bot.execution.worker import celery_app
        self.runner, self.settings = runner, settings
        check_broker(settings.broker_url)
        self.client = events_channel.connect(settings.broker_url)
        self.control = events_channel.ControlSide(self.client)
        self.celery = celery_app(settings)
        self.statuses: dict[str, StatusMessage] = {}
        self.forwarded: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self.inflight: dict[str, tuple] = {}   # run id -> (attempt, kind, state, feedback) awaited from workers
        for run in runner.store.runs.in_states("executing"):   # adopted after a control-plane restart
            if run.context.get("attempt"):
                self.inflight[run.run_id] = (int(run.context["attempt"]), "execute", "executing", None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="droid-control", daemon=True)

    def start(self) -> RemoteExecution:
        """Start recording worker messages (pending ones first: a restart loses none)."""
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the recording thread."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    # -- dispatch ---------------------------------------------------------------------------
    def dispatch(self, run, plan: Plan, status: StatusMessage | None) -> None:
        """Claim the next attempt at executing the run's approved plan and send it to the workers."""
        if status is not None:
            with self._lock:
                self.statuses[run.run_id] = status
        self._send(run.run_id, "execute", "executing", f"execute:{plan.version}")

    def dispatch_plan(self, run, feedback: str | None) -> None:
        """Claim the next attempt at drafting the run's plan and send it to the workers."""
        self._send(run.run_id, "plan", "planning", f"plan:{run.plan_version + 1}", feedback)

    def _send(self, run_id: str, kind: str, state: str, what: str, feedback: str | None = None) -> None:
        run = self.runner.store.runs.get(run_id)
        previous = int(run.context.get("attempt") or 0)
        tries = int(run.context.get("tries") or 0) if run.context.get("attempt_of") == what else 0
        if tries >= self.settings.max_attempts:
            return self.runner.fail(run_id, f"Run {run_id} was lost by its worker {tries} times "
                                            f"(DROID_MAX_ATTEMPTS), so droid stopped it. Its history is kept.")
        attempt = previous + 1
        if not self.runner.store.runs.claim_attempt(run_id, previous, attempt, what, state):
            return   # another dispatch won, or the run left `state`
        self.runner.store.runs.set_context_key(run_id, "tries", tries + 1)
        self.runner.store.events.append(run_id, "attempt", attempt=attempt, of=what, try_number=tries + 1)
        with self._lock:
            self.inflight[run_id] = (attempt, kind, state, feedback)
        self.control.claim(run_id, attempt)
        self.celery.send_task("droid.execute", args=[{**self._job(run_id, attempt), "kind": kind,
                                                      "feedback": feedback}])

    def _job(self, run_id: str, attempt: int) -> dict:
        from bot.execution.worker import job_settings
        store = self.runner.store
        run = store.runs.get(run_id)
        plans = {str(v): store.plans.get(run_id, v) for v in range(1, run.plan_version + 1)}
        events = [{"kind": e.kind, "data": e.data} for e in store.events.for_run(run_id) if e.kind in PAST_EVENTS]
        row = {f: getattr(run, f) for f in run.__dataclass_fields__}
        skill = self.runner.skills[run.skill]
        return {"run": row, "attempt": attempt, "plans": {k: v for k, v in plans.items() if v is not None},
                "events": events, "settings": job_settings(self.settings), "seal": mrkdwn.seal_key(),
                "permalink": self.runner._permalink(run) if skill.workspace and self.runner.llm else None}

    # -- the control thread -----------------------------------------------------------------
    def _loop(self) -> None:
        pending, last_watch = True, 0.0
        while not self._stop.is_set():
            try:
                for message_id, message in self.control.read(block_ms=300, pending=pending):
                    self._record_once(message_id, message)
                    self.control.ack(message_id)
                pending = False
                if time.monotonic() - last_watch >= 0.5:
                    self._watch()
                    last_watch = time.monotonic()
            except Exception as exc:  # noqa: BLE001 — Redis or the database hiccuped: retry, nothing acked
                log.warning("control loop: %s: %s", type(exc).__name__, exc)
                pending = True
                self._stop.wait(1.0)

    def _record_once(self, message_id: str, message: dict) -> None:
        """Record a message; one that fails to record three times is logged and dropped, not retried forever."""
        try:
            self._record(message)
        except Exception:
            self._failures[message_id] = self._failures.get(message_id, 0) + 1
            if self._failures[message_id] < POISON_TRIES:
                raise
            log.exception("run %s: dropped worker message %s after %d failures", message.get("run_id"), message_id,
                          POISON_TRIES)
        self._failures.pop(message_id, None)

    def _record(self, message: dict) -> None:
        """Record one worker message, unless it comes from a superseded attempt."""
        store, run_id, data = self.runner.store, message["run_id"], message["data"]
        run = store.runs.get(run_id)
        if run is None or int(run.context.get("attempt") or 0) != message["attempt"]:
            log.info("run %s: ignored %s from superseded attempt %s", run_id, message["kind"], message["attempt"])
            return
        kind = message["kind"]
        if kind == "event":
            store.events.append(run_id, data["event_kind"], **data["event"])
        elif kind == "plan":
            version = store.plans.add(run_id, data["plan"])
            if version != data["version"]:
                log.warning("run %s: worker numbered plan v%s, stored as v%s", run_id, data["version"], version)
        elif kind == "run_update":
            if "context" in data:
                keep = {k: run.context[k] for k in ("attempt", "attempt_of", "tries") if k in run.context}
                data = {**data, "context": {**data["context"], **keep}}
            store.runs.update(run_id, **data)
        elif kind == "status":
            if run.state == "executing":
                message_data = data["message"]
                file = tuple(message_data["file"]) if message_data.get("file") else None
                self._status(run).set(blocks.Message(message_data["text"], message_data["blocks"], file))
        elif kind == "end":
            self._end(run, data)

    def _status(self, run) -> StatusMessage:
        with self._lock:
            if run.run_id not in self.statuses:   # e.g. after a control-plane restart
                self.statuses[run.run_id] = StatusMessage(self.runner.poster, run.channel, run.status_ts,
                                                          self.settings.status_interval)
            return self.statuses[run.run_id]

    def _end(self, run, data: dict) -> None:
        from bot.execution.worker import loop_result
        status = self._status(run)
        with self._lock:
            self.statuses.pop(run.run_id, None)
            self.inflight.pop(run.run_id, None)
        if data["how"] == "planned":
            plan = Plan.from_dict(data["plan"])
            return self.runner.submit(self.runner.planned, run.run_id, plan, data.get("feedback"))
        if data["how"] == "plan_failed":
            return self.runner.planning_failed(run.run_id, data["message"])
        if data["how"] == "error":
            return self.runner.fail(run.run_id, f"droid hit an internal error on a worker ({data['error']}) and "
                                                "stopped this run. The run's history is kept.")
        plan = Plan.from_dict(data["plan"])
        plan.version = data["version"]
        if data["how"] == "outcome":
            outcome = Outcome(data["title"], data["body"], data["ok"], [tuple(f) for f in data["files"]],
                              [tuple(b) for b in data["buttons"]])
            return self.runner._conclude(run.run_id, outcome, plan, status)
        self.runner._after_loop(run.run_id, loop_result(data), plan, status, None)

    def _watch(self) -> None:
        """Forward Stop and steering replies; restart (or fail) attempts whose worker is gone."""
        store = self.runner.store
        with self._lock:
            inflight = dict(self.inflight)
        for run_id, (attempt, kind, state, feedback) in inflight.items():
            run = store.runs.get(run_id)
            if run.state != state:
                self.control.stop(run_id)
            elif kind == "execute":
                self._forward_steering(run)
            if self.control.alive(run_id, attempt):
                continue
            with self._lock:
                self.inflight.pop(run_id, None)
            if run.state == state and int(run.context.get("attempt") or 0) == attempt:
                store.events.append(run_id, "attempt_lost", attempt=attempt)
                log.warning("run %s: attempt %s lost its worker", run_id, attempt)
                if kind == "plan":
                    self.dispatch_plan(run, feedback)
                else:
                    self.dispatch(run, self.runner._plan(run), self.statuses.get(run_id))

    def _forward_steering(self, run) -> None:
        seen = self.forwarded.get(run.run_id, 0)
        for event in self.runner.store.events.for_run(run.run_id, "follow_up"):
            if event.id > seen:
                self.control.steer(run.run_id, event.data.get("text", ""))
                self.forwarded[run.run_id] = event.id
