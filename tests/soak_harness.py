"""A kill -9 soak: droid in a child process, SIGKILLed at seeded random points, restarted, and checked.

The Slack stand-in lives in the parent (it survives the kills and records what every thread got);
droid runs in a child built like tests/harness.py's `Droid` over a real SQLite file, reading signed
Slack payloads from its stdin. Runs use the ask skill without a model (template plan → Approve →
deterministic search result), so they finish quickly; half the runs click Revise first (plan v2).
Kills land at seeded points in the stream of Slack calls: half inside the next chat.postMessage,
before Slack answers (sent, but never known to droid to be sent), half a few ms after a call.

    python -m tests.soak_harness child --db PATH --slack URL --repo PATH    (the child; used below)
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.local.slack_standin import SlackStandIn
from bot.slack import payloads

SECRET = "soak-signing-secret-0123456789"
TEAM = "T0DROID"
CHANNEL = "CSOAK"
ROOT = Path(__file__).resolve().parents[1]
TERMINAL = ("succeeded", "failed", "cancelled", "rejected", "expired")
QUESTIONS = ("where is send_with_retries defined?", "where is the invoice total computed?",
             "where is the webhook payload posted?", "where is the retry backoff?", "where are invoices summed?",
             "where is the sample service readme?")


# -- the child -------------------------------------------------------------------------------
def child_main(argv: list[str]) -> int:
    """Build droid against the parent's stand-in, recover, then dispatch one signed payload per stdin line."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--slack", required=True)
    parser.add_argument("--repo", required=True)
    args = parser.parse_args(argv)
    from bot.orchestration.recovery import recover
    from bot.settings import Routing, Settings
    from bot.slack.app import build_app, build_deps
    settings = Settings(slack_bot_token="xoxb-000000000000-000000000000-soaktokensoak", slack_signing_secret=SECRET,
                        slack_api_url=args.slack, db_path=args.db, status_interval=0.05,
                        routing=Routing(default_repo=args.repo))
    deps = build_deps(settings)
    app = build_app(settings, deps)
    recover(deps)
    print("ready", flush=True)
    for line in sys.stdin:
        message = json.loads(line)
        response = app.dispatch(payloads.signed_request(message["body"], SECRET, message.get("headers")))
        print(f"ack {message['n']} {response.status}", flush=True)
    deps.runner.shutdown(wait=True)
    return 0


class Child:
    """One droid process and the acknowledgements it printed."""

    def __init__(self, db: Path, slack: SlackStandIn, repo: Path, log: Path):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env = {k: v for k, v in env.items() if not k.startswith(("ANTHROPIC_", "SLACK_"))}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.soak_harness", "child", "--db", str(db),
                                      "--slack", slack.api_url, "--repo", str(repo)], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log.open("ab"), text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.acked: set[int] = set()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put("eof")

    def wait_ready(self, timeout: float = 30) -> bool:
        """True once the child has recovered and reads payloads."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line == "ready":
                return True
            if line == "eof":
                return False
        return False

    def send(self, n: int, body: dict, headers: dict | None = None, timeout: float = 10) -> bool:
        """Deliver one payload; True when the child acknowledged it (as Slack would see an HTTP 200)."""
        try:
            self.proc.stdin.write(json.dumps({"n": n, "body": body, "headers": headers}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and n not in self.acked:
            try:
                line = self.lines.get(timeout=0.05)
            except queue.Empty:
                if self.proc.poll() is not None:
                    return False
                continue
            if line.startswith("ack "):
                self.acked.add(int(line.split()[1]))
            elif line == "eof":
                return False
        return n in self.acked

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind."""
        if self.alive:
            os.kill(self.proc.pid, signal.SIGKILL)

    def stop(self, timeout: float = 20) -> None:
        """End of input: the child finishes what it is doing and exits."""
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
            self.proc.wait()


# -- the parent ------------------------------------------------------------------------------
@dataclass
class Figures:
    """What one soak found."""

    runs: int = 0
    kills: int = 0
    kills_inside_post: int = 0      # SIGKILLs while Slack held a chat.postMessage droid never saw answered
    untold: int = 0
    duplicated: int = 0
    two_live_plans: int = 0
    unfinished: int = 0
    lost_mentions: int = 0
    unreacted: int = 0
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)


class Soak:
    """Drive `runs` runs through a droid that is killed `kills` times at seeded random points."""

    def __init__(self, workdir: Path, repo: Path, *, seed: int, runs: int = 6, kills: int = 3, deadline: float = 50):
        self.workdir, self.repo, self.seed = workdir, repo, seed
        self.rng = random.Random(seed)
        self.n_runs, self.n_kills, self.deadline = runs, kills, deadline
        self.db = workdir / f"soak-{seed}.db"
        self.log = workdir / f"soak-{seed}.log"
        self.slack = SlackStandIn(team=TEAM)
        self.child: Child | None = None
        self.kills_done = 0
        self.kills_inside_post = 0
        self._counter = 0
        self._sent = 0
        # kill on the k-th Slack call: inside the call (before Slack answers) or a few ms after it
        points = sorted(self.rng.sample(range(3, 5 * runs), kills))
        self.kill_at = {p: (self.rng.random() < 0.5, self.rng.uniform(0.0, 0.03)) for p in points}
        self.revising = {i for i in range(runs) if self.rng.random() < 0.5}   # these ask for plan v2 first
        self._lock = threading.Lock()
        self._armed = 0       # kills waiting for the next chat.postMessage
        self._after = 0       # kills waiting for the next call (then a few ms later)

    def _on_call(self, call, body) -> None:
        """Count Slack calls; at a kill point, kill inside the next post or a few ms after this call."""
        with self._lock:
            self._counter += 1
            plan = self.kill_at.pop(self._counter, None)
            if plan is not None:
                inside, delay = plan
                self._armed += inside
                self._after += not inside
            child = self.child
            if child is None or not child.alive:
                return
            if self._armed and call.method == "chat.postMessage":
                self._armed -= 1
                self.kills_inside_post += 1
                self.kills_done += 1
                child.kill()          # Slack has the message; droid never hears back
            elif self._after:
                self._after -= 1
                threading.Timer(self.rng.uniform(0.0, 0.03), self._kill, args=[child]).start()

    def _kill(self, child: Child) -> None:
        with self._lock:
            if child.alive:
                child.kill()
                self.kills_done += 1
            else:
                self._after += 1      # it died meanwhile: the next process takes this kill

    def _start_child(self) -> None:
        for _ in range(3 + self.n_kills):             # a kill may land during start-up (recovery talks to Slack)
            self.child = Child(self.db, self.slack, self.repo, self.log)
            if self.child.wait_ready():
                self._restarted = time.monotonic()
                return
            self.child.kill()
            if self.child.proc.wait() != -signal.SIGKILL:
                break
        raise RuntimeError(f"droid child did not start (exit {self.child.proc.returncode}); see {self.log}")

    def _send(self, body: dict, headers: dict | None = None) -> bool:
        self._sent += 1
        return self.child.send(self._sent, body, headers)

    def run(self) -> Figures:
        """Drive, kill, restart, then check every thread."""
        started = time.monotonic()
        self.slack.start()
        self.slack.listeners.append(self._on_call)
        try:
            return self._run(started)
        finally:
            if self.child is not None:
                self.child.kill()
            self.slack.stop()

    def _run(self, started: float) -> Figures:
        self._start_child()
        mentions = []
        for i in range(self.n_runs):
            text = f"<@UDROIDBOT> {QUESTIONS[i % len(QUESTIONS)]}"
            message = self.slack.add_user_message(CHANNEL, "UALICE", text)
            event = payloads.app_mention(user="UALICE", text=text, channel=CHANNEL, ts=message["ts"])
            mentions.append({"ts": message["ts"], "body": payloads.event_callback(event, team=TEAM), "acked": False,
                             "tries": 0, "revise": i in self.revising})
        clicked: dict[tuple[str, int], float] = {}
        end = started + self.deadline
        while time.monotonic() < end:
            if not self.child.alive:
                self._start_child()
                clicked.clear()                                     # clicks the dead process took may be lost
            for m in mentions:
                if not m["acked"]:
                    headers = {"x-slack-retry-num": str(m["tries"]), "x-slack-retry-reason": "http_error"} \
                        if m["tries"] else None
                    m["tries"] += 1
                    m["acked"] = self._send(m["body"], headers)
            runs = self._runs()
            revise = {m["ts"] for m in mentions if m["revise"]}
            for run in runs.values():
                if run["state"] == "awaiting_approval":
                    self._decide(run, clicked, run["thread_ts"] in revise and run["plan_version"] == 1)
            settled = all(m["acked"] for m in mentions) and all(r["state"] in TERMINAL for r in runs.values())
            everyone = len(runs) == len(mentions) or time.monotonic() - self._restarted > 3   # else: lost mentions
            if settled and everyone and self.child.alive and not self._pending():
                break
            time.sleep(0.05)
        self.child.stop()
        figures = self.check(self._runs(), mentions)
        figures.seconds = round(time.monotonic() - started, 1)
        return figures

    def _decide(self, run: dict, clicked: dict, revise: bool) -> None:
        """Approve the live plan, or (for runs that revise) ask for a new version through the Revise modal."""
        live = [m for m in self._plans(run) if m["version"] == run["plan_version"] and m["buttons"]]
        key = (run["run_id"], run["plan_version"])
        if not live or time.monotonic() - clicked.get(key, 0) < 2.0:
            return
        clicked[key] = time.monotonic()
        value = live[0]["buttons"]["droid_approve"]
        view = next((v for v in self.slack.views if v.get("private_metadata") == value), None)
        if revise and view is not None:
            self._send(payloads.view_submission(user="UALICE", team=TEAM, view=view,
                                                values={"feedback": {"text": "Look at the billing code too"}}))
            return
        body = payloads.block_action(user="UALICE", channel=CHANNEL, message_ts=live[0]["ts"],
                                     action_id="droid_revise" if revise else "droid_approve", value=value,
                                     team=TEAM, thread_ts=run["thread_ts"])
        self._send(body)
        if revise:
            clicked[key] = 0.0       # submit the modal on the next round, once it is open

    # -- reading what happened -----------------------------------------------------------------
    def _query(self, sql: str) -> list[tuple]:
        if not self.db.exists():
            return []
        try:
            conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            try:
                return conn.execute(sql).fetchall()
            finally:
                conn.close()
        except sqlite3.OperationalError:
            return []

    def _runs(self) -> dict[str, dict]:
        rows = self._query("SELECT run_id, state, plan_version, thread_ts, trigger_ts FROM runs")
        return {r[0]: dict(zip(("run_id", "state", "plan_version", "thread_ts", "trigger_ts"), r, strict=True))
                for r in rows}

    def _pending(self) -> int:
        rows = self._query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL")
        return rows[0][0] if rows else 1

    def _plans(self, run: dict) -> list[dict]:
        out = []
        for message in self.slack.thread(CHANNEL, run["thread_ts"]):
            if not message.get("text", "").startswith("Plan v"):
                continue
            buttons = {e["action_id"]: e["value"] for b in message.get("blocks") or [] if b.get("type") == "actions"
                       for e in b.get("elements", [])}
            version = int(message["text"].split()[1][1:])
            out.append({"ts": message["ts"], "version": version, "buttons": buttons})
        return out

    def check(self, runs: dict[str, dict], mentions: list[dict]) -> Figures:
        """Count untold, duplicated and doubly-live-planned runs, from what the threads show."""
        f = Figures(runs=len(runs), kills=self.kills_done, kills_inside_post=self.kills_inside_post)
        by_thread = {r["thread_ts"] for r in runs.values()}
        f.lost_mentions = sum(1 for m in mentions if m["ts"] not in by_thread)
        for run in runs.values():
            thread = self.slack.thread(CHANNEL, run["thread_ts"])
            ids = [(m.get("metadata") or {}).get("event_payload", {}).get("outbox_id") for m in thread]
            ids = [i for i in ids if i is not None]
            results = [m for m in thread if (m.get("metadata") or {}).get("event_type") == "droid_result"]
            if len(ids) != len(set(ids)) or len(results) > 1:
                f.duplicated += 1
                f.problems.append(f"{run['run_id']}: duplicated ({len(results)} results)")
            if run["state"] in TERMINAL and not results:
                f.untold += 1
                f.problems.append(f"{run['run_id']}: {run['state']} but untold")
            resumable = run["state"] == "awaiting_approval" and any(
                p["buttons"] and p["version"] == run["plan_version"] for p in self._plans(run))
            if run["state"] not in TERMINAL and not resumable:
                f.unfinished += 1
                f.problems.append(f"{run['run_id']}: left {run['state']}")
            if run["state"] in ("succeeded", "failed") and not ({"white_check_mark", "x"} & set(
                    thread[0].get("reactions", []))):
                f.unreacted += 1
            stale = [p for p in self._plans(run) if p["buttons"] and p["version"] != run["plan_version"]]
            live = [p for p in self._plans(run) if p["buttons"] and run["state"] == "awaiting_approval"]
            if stale or len(live) > 1:
                f.two_live_plans += 1
                f.problems.append(f"{run['run_id']}: live plan buttons on v{[p['version'] for p in stale]}")
        return f


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        sys.exit(child_main(sys.argv[2:]))
    sys.exit("usage: python -m tests.soak_harness child --db PATH --slack URL --repo PATH")
