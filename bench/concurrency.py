"""Many runs in flight: throughput, run time, control-plane overhead, Slack calls against the tiers, ack latency.

`--runs` (100) scripted model conversations go through the real app in-process: a signed mention,
a model-drafted plan, an approval click, then an agent loop (view_file, complete_step,
final_answer) against the Anthropic stub answering every call after `--latency` seconds. Slack
is the stand-in ENFORCING Slack's tiers and per-channel posting rate (answering 429 beyond them),
scaled by `--slack-scale` (1 = Slack's real figures). While the runs execute, signed empty
mentions (each answered with a hint) are timed from dispatch to ack, and the same before, idle.

    python bench/concurrency.py [--runs 100] [--latency 0.2] [--threads 16] [--channels 10] [--slack-scale 1]
                                [--workers N [--concurrency C]]

`--workers N` runs the executions on the Celery executor instead: a private redis-server on a free
port and N `droid worker --concurrency C` processes (C defaults to --threads), stopped at exit;
the control plane gets DROID_BROKER_URL and keeps Slack, the database and the approvals.
"worker_cpu_ms_per_run" is then the workers' CPU per run (the control plane's is "cpu_ms_per_run").
Prints JSON. "overhead" is droid's own CPU time per run (the whole process: control plane,
stand-ins included, so an upper bound) as a share of the model time per run; "wall_overhead"
is (approval → result delivered − model time) / model time, which also counts queueing for the
pool, the status throttle and waits for Slack's rate limits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.local.slack_standin import SlackStandIn  # noqa: E402
from bot.slack import ratelimit  # noqa: E402
from bot.slack.ratelimit import SPECIAL, Limits, SlackLimiter  # noqa: E402
from integrations.llm import AnthropicLLM  # noqa: E402
from tests.harness import BOT_TOKEN, TEAM, Droid, wait_for  # noqa: E402
from tests.repos import SERVICE_FILES, make_repo  # noqa: E402
from tests.scale_harness import RedisServer, Worker  # noqa: E402
from tests.stubs.anthropic_stub import AnthropicStub, Turn  # noqa: E402

KEY = "sk-ant-test-key-00000000000000000000"
PLAN = {"goal": "Explain where webhook retries happen",
        "steps": [{"title": "Read the retry code"}, {"title": "Answer with citations"}],
        "touches": ["webhooks/"], "risks": ["none: read-only"]}
LOOP = [Turn.tool_use("view_file", {"path": "webhooks/sender.py"}),
        Turn.tool_use("complete_step", {"summary": "found it"}),
        Turn.tool_use("final_answer", {"text": "Retries live in `webhooks/sender.py:6-12` (send_with_retries)."})]


def respond(body: dict) -> Turn:
    """The scripted conversation of every run: a plan, then three agent-loop turns."""
    if (body.get("tool_choice") or {}).get("name") == "submit_plan":
        return Turn.tool_use("submit_plan", PLAN)
    turns = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
    return LOOP[min(turns, len(LOOP) - 1)]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of values, in ms."""
    ordered = sorted(values)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1) if ordered else 0.0


def peak_per_minute(calls, scale: float) -> dict:
    """Per method: the most calls in any 60 s window (scaled back to Slack's clock) and its tier's limit."""
    times = defaultdict(list)
    for call in calls:
        times[call.method].append(call.at)
    out = {}
    window = 60.0 / scale
    for method, ts in sorted(times.items()):
        ts.sort()
        best, lo = 0, 0
        for hi, t in enumerate(ts):
            while t - ts[lo] > window:
                lo += 1
            best = max(best, hi - lo + 1)
        tier = Limits().tier(method)
        out[method] = {"peak_per_min": best, "tier": "special (1/s per channel)" if tier == SPECIAL else tier,
                       "tier_per_min": None if tier == SPECIAL else Limits().per_minute[tier]}
    return out


def time_acks(droid: Droid, n: int, gap: float, tag: str) -> list[float]:
    """Dispatch `n` signed empty mentions (in their own channels) and time each ack."""
    out = []
    for i in range(n):
        started = time.perf_counter()
        response, _ = droid.mention("", channel=f"CACK{tag}{i}")
        out.append(time.perf_counter() - started)
        assert response.status == 200
        time.sleep(gap)
    return out


class Pool:
    """The executor under test: nothing (in-process), or a private redis-server and N `droid worker` processes."""

    def __init__(self, workers: int, concurrency: int):
        self.workers, self.concurrency, self.redis, self.procs = workers, concurrency, None, []

    def settings(self) -> dict:
        """Settings overrides for the executor under test: {} runs in-process (the embedded default).

        With `workers` > 0: start a redis-server on a free port and that many `droid worker` processes
        on it (the same parts as tests/test_scale.py; each job carries the control plane's settings, the
        Anthropic stub's URL included, so the workers need only the broker URL), wait until each is
        consuming, and return the override that makes the control plane hand runs to them.
        """
        if not self.workers:
            return {}
        if shutil.which("redis-server") is None:
            raise SystemExit("--workers needs redis-server on PATH (apt-get install redis-server)")
        folder = Path(tempfile.mkdtemp(prefix="droid-bench-workers-"))
        self.redis = RedisServer(folder)
        self.procs = [Worker(self.redis.url, f"bench{i}", folder / f"bench{i}.log", concurrency=self.concurrency)
                      for i in range(self.workers)]
        for worker in self.procs:
            wait_for(lambda w=worker: w.ready() or w.process.poll() is not None, 60, 0.1, what=f"{worker.name} ready")
            if not worker.ready():
                raise SystemExit(f"{worker.name} exited: {worker.log.read_text()[-2000:]}")
        return {"broker_url": self.redis.url}

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the worker processes have used so far (0 in-process)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for worker in self.procs:
            fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick   # utime, stime
        return total

    def stop(self) -> None:
        """Stop the workers, then the redis-server."""
        for worker in self.procs:
            worker.stop()
        if self.redis is not None:
            self.redis.stop()


def main() -> int:
    """Run the benchmark and print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--latency", type=float, default=0.2, help="seconds per model call")
    ap.add_argument("--threads", type=int, default=16, help="in-process run pool (DROID_WORKERS)")
    ap.add_argument("--channels", type=int, default=10)
    ap.add_argument("--slack-scale", type=float, default=1.0, help="Slack's limits times this (1 = real)")
    ap.add_argument("--acks", type=int, default=40)
    ap.add_argument("--workers", type=int, default=0, help="`droid worker` processes on a private redis-server")
    ap.add_argument("--concurrency", type=int, default=0, help="runs at once per worker (default: --threads)")
    args = ap.parse_args()
    pool = Pool(args.workers, args.concurrency or args.threads)
    try:
        return bench(args, pool, pool.settings())
    finally:
        pool.stop()


def bench(args, pool: Pool, overrides: dict) -> int:
    """Drive `--runs` runs through the real app on the executor `overrides` selects; print JSON."""
    tmp = Path(tempfile.mkdtemp(prefix="droid-bench-concurrency-"))
    limits = Limits().scaled(args.slack_scale)
    standin = SlackStandIn(team=TEAM).start().enforce_limits(limits)
    limiter = ratelimit.install(standin.api_url, BOT_TOKEN, SlackLimiter(limits))
    stub = AnthropicStub(latency=args.latency, responder=respond).start()
    llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=stub.url, max_retries=2)
    droid = Droid(tmp, repo=make_repo(tmp / "service", SERVICE_FILES), llm=llm, anthropic_url=stub.url,
                  standin=standin, workers=args.threads, status_interval=2.0, **overrides)
    approved_at, delivered_at, mentioned_at = {}, {}, {}
    clicks: list[tuple[str, str]] = []
    lock = threading.Condition()

    def watch(call, body):
        meta = call.args.get("metadata") or {}
        kind = meta.get("event_type") if isinstance(meta, dict) else None
        if call.method == "chat.postMessage" and kind == "droid_plan" and body.get("ok"):
            with lock:
                clicks.append((call.args["channel"], call.args["thread_ts"], ))
                lock.notify()
        if call.method == "chat.postMessage" and kind == "droid_result":
            delivered_at.setdefault(call.args["thread_ts"], time.monotonic())
    standin.listeners.append(watch)

    def clicker():
        while True:
            with lock:
                lock.wait_for(lambda: clicks)
                channel, thread_ts = clicks.pop(0)
            if channel is None:
                return
            post = next(p for p in droid.posts(channel) if p.get("thread_ts") == thread_ts and droid.buttons(p))
            approved_at[thread_ts] = time.monotonic()
            droid.click("droid_approve", droid.buttons(post)["droid_approve"], channel=channel)
    threading.Thread(target=clicker, daemon=True).start()
    try:
        idle_acks = time_acks(droid, args.acks, 0.02, "idle")
        cpu0, wall0, wcpu0 = time.process_time(), time.monotonic(), pool.cpu_seconds()
        for i in range(args.runs):
            channel = f"C{i % args.channels:03d}"
            _, ts = droid.mention(f"where are webhook retries handled? #{i}", channel=channel)
            mentioned_at[ts] = time.monotonic()
        busy_acks = time_acks(droid, args.acks, 0.05, "busy")
        wait_for(lambda: len(delivered_at) >= args.runs, timeout=3600, interval=0.2, what="every result delivered")
        wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
        worker_cpu = pool.cpu_seconds() - wcpu0
        droid.deps.runner.deliverer.drain(60)
        runs = [droid.store.runs.latest_in_thread(f"C{i % args.channels:03d}", ts)
                for i, ts in enumerate(mentioned_at)]
        model_per_run = 4 * args.latency   # plan + three loop turns
        e2e = [delivered_at[ts] - mentioned_at[ts] for ts in mentioned_at]
        wall_overhead = [(delivered_at[ts] - approved_at[ts] - 3 * args.latency) / (3 * args.latency)
                         for ts in mentioned_at if ts in approved_at]
        report = {
            "command": " ".join(["python", "bench/concurrency.py", *sys.argv[1:]]),
            "mode": f"{args.workers} Celery workers" if args.workers else "in-process", "runs": args.runs, "succeeded": sum(1 for r in runs if r and r.state == "succeeded"),
            "threads": args.threads, "worker_concurrency": args.workers and pool.concurrency, "model_latency_s": args.latency, "slack_scale": args.slack_scale,
            "throughput_runs_per_min": round(args.runs / wall * 60, 1),
            "run_ms": {"p50": pct(e2e, 0.5), "p99": pct(e2e, 0.99)},
            "overhead_cpu_share_of_model_time": round(cpu / args.runs / model_per_run, 4),
            "cpu_ms_per_run": round(1000 * cpu / args.runs, 1),
            "worker_cpu_ms_per_run": round(1000 * worker_cpu / args.runs, 1),
            "wall_overhead_share": {"p50": round(statistics.median(wall_overhead), 3),
                                    "p99": round(sorted(wall_overhead)[int(0.99 * len(wall_overhead))], 3)},
            "slack": {"peak_calls_per_min": peak_per_minute(standin.calls, args.slack_scale),
                      "429_served": sum(standin.served_429.values()), "limiter": limiter.stats()},
            "ack_ms": {"idle_p50": pct(idle_acks, 0.5), "idle_p99": pct(idle_acks, 0.99),
                       "busy_p50": pct(busy_acks, 0.5), "busy_p99": pct(busy_acks, 0.99)},
            "model_calls": len(stub.requests), "stub_errors": stub.errors[:3],
            "status_edits": Counter(c.method for c in standin.calls)["chat.update"],
        }
        print(json.dumps(report, indent=2))
        return 0 if report["slack"]["429_served"] == 0 else 1
    finally:
        with lock:
            clicks.append((None, None))
            lock.notify()
        droid.close()
        stub.stop()


if __name__ == "__main__":
    sys.exit(main())
