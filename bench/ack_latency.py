"""Ack latency: time to HTTP 200 for signed app_mention deliveries, droid vs a bare Bolt app.

Both apps are served by the same threaded HTTP server on loopback; each delivery is a fresh
connection, as Slack's are. droid does its real work (dedupe, run creation in SQLite, planning on its
executor, posting to the Slack stand-in) while being measured.

    python bench/ack_latency.py [--n 1000] [--concurrency 8] [--rate 50]

The first half is sent one at a time (closed loop); the second half by `concurrency` senders on an
open-loop schedule of `rate` deliveries per second, latency counted from each scheduled send time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_bolt import App  # noqa: E402
from slack_sdk import WebClient  # noqa: E402

from bot import payloads  # noqa: E402
from bot.app import build_app, build_deps  # noqa: E402
from bot.http_server import DroidHTTPServer  # noqa: E402
from bot.serve import SWITCH_INTERVAL  # noqa: E402
from bot.settings import Settings  # noqa: E402

SECRET = "bench-signing-secret"


def bare_app(slack) -> App:
    """A Bolt app that only acknowledges mentions."""
    app = App(signing_secret=SECRET, client=WebClient(token="xoxb-bench", base_url=slack.api_url),
              token_verification_enabled=False)

    @app.event("app_mention")
    def noop() -> None:
        pass

    return app


def droid_app(slack, db: str):
    """droid as `serve` builds it, without a model."""
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_url=slack.api_url,
                        db_path=db, status_interval=2.0)
    deps = build_deps(settings)
    return build_app(settings, deps), deps


def deliveries(n: int, prefix: str) -> list[tuple[str, str]]:
    """n distinct app_mention bodies (distinct messages, distinct event ids)."""
    out = []
    for i in range(n):
        ts = f"{1700000000 + i}.{i:06d}"
        event = payloads.app_mention(user="UBENCH", text="<@UDROIDBOT> where is the config loaded?",
                                     channel="CBENCH", ts=ts)
        out.append(payloads.encode(payloads.event_callback(event, team="TBENCH", event_id=f"Ev{prefix}{i:07d}")))
    return out


def deliver(port: int, body: str, content_type: str) -> float:
    """POST one signed delivery; seconds until the 200 arrived."""
    headers = {"content-type": content_type, **payloads.sign(SECRET, body)}
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}")
    return elapsed


def measure(app: App, n: int, concurrency: int, prefix: str, rate: float) -> dict:
    """Serve `app`, send n deliveries (half one at a time, half from `concurrency` senders at `rate`/s)."""
    server = DroidHTTPServer(app, 0, host="127.0.0.1").start()
    bodies = deliveries(n, prefix)
    try:
        for body, ctype in bodies[:20]:       # warm-up: not counted
            deliver(server.port, body, ctype)
        timed = bodies[20:]
        half = len(timed) // 2
        sequential = [deliver(server.port, b, c) for b, c in timed[:half]]
        start = time.perf_counter() + 0.05

        def paced(item):   # open loop: latency counts from the scheduled send time (no coordinated omission)
            i, (body, ctype) = item
            due = start + i / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            late = max(0.0, time.perf_counter() - due)
            return late + deliver(server.port, body, ctype)

        with ThreadPoolExecutor(concurrency) as pool:
            concurrent = list(pool.map(paced, enumerate(timed[half:])))
    finally:
        server.shutdown()
    every = sequential + concurrent
    return {"n": len(every), "p50_ms": _pct(every, 50), "p99_ms": _pct(every, 99), "max_ms": round(max(every) * 1000, 2),
            "sequential_p99_ms": _pct(sequential, 99), "concurrent_p99_ms": _pct(concurrent, 99)}


def _pct(values: list[float], pct: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000, 2)


class RemoteStandIn:
    """The Slack stand-in in its own process: Slack's side must not share droid's CPU or GIL."""

    def __enter__(self):
        code = ("import sys; from bot.slack_standin import SlackStandIn; s = SlackStandIn().start(); "
                "print(s.api_url, flush=True); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(Path(__file__).resolve().parents[1]))
        self.api_url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(10)


def main() -> int:
    """Print {"droid": {...}, "bare_bolt": {...}, "p99_ratio": ...} as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0,
                        help="deliveries/s in the concurrent half; Slack's Events API cap is 30,000 per "
                             "workspace per hour (~8/s), so 50/s is ~6x what Slack can send")
    parser.add_argument("--switch-interval", type=float, default=SWITCH_INTERVAL,
                        help="sys.setswitchinterval for both apps (default: what droid serve sets)")
    args = parser.parse_args()
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    with RemoteStandIn() as slack, tempfile.TemporaryDirectory() as tmp:
        bare = measure(bare_app(slack), args.n + 20, args.concurrency, "bare", args.rate)
        app, deps = droid_app(slack, str(Path(tmp) / "bench.db"))
        ours = measure(app, args.n + 20, args.concurrency, "droid", args.rate)
        runs = deps.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        deps.runner.shutdown(wait=False)
    result = {"droid": ours, "bare_bolt": bare, "concurrency": args.concurrency, "rate_per_s": args.rate, "runs_created_by_end_of_measurement": runs,
              "p99_ratio": round(ours["p99_ms"] / bare["p99_ms"], 2),
              "target": "droid p99 < 50 ms and <= 1.5x bare Bolt"}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
