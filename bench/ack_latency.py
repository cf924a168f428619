"""Ack latency: time to HTTP 200 for signed app_mention deliveries, droid vs a bare Bolt app, same server.

Both apps are served by droid's production server (`bot.slack.http_server.DroidHTTPServer`: waitress and
Bolt's WSGI adapter) on loopback, one after the other in the same run. The load comes from a
separate process (so the client does not share the server's GIL): `--n` deliveries from
`--concurrency` senders, each delivery on a FRESH TCP connection, as Slack's are. droid does its
real work while measured (ingress checks, dedupe, run creation in SQLite, planning on its executor,
posting to the Slack stand-in, itself in a third process).

    python bench/ack_latency.py [--n 500] [--concurrency 20]

Prints JSON: p50/p99/max for both apps, the p99 ratio, errors (non-200 or dropped connections).
Target: droid p99 < 50 ms and <= 1.5x bare Bolt.
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
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.slack import payloads  # noqa: E402

SECRET = "bench-signing-secret"


def bare_app(api_url: str):
    """A Bolt app that only acknowledges mentions."""
    from slack_bolt import App
    from slack_sdk import WebClient
    app = App(signing_secret=SECRET, client=WebClient(token="xoxb-bench", base_url=api_url),
              token_verification_enabled=False)

    @app.event("app_mention")
    def noop() -> None:
        pass

    return app


def droid_app(api_url: str, db: str):
    """droid as `serve` builds it, without a model."""
    from bot.settings import Settings
    from bot.slack.app import build_app, build_deps
    settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret=SECRET, slack_api_url=api_url,
                        db_path=db, status_interval=2.0)
    deps = build_deps(settings)
    return build_app(settings, deps), deps


# ---- the load generator (runs in its own process: `--load PORT`) ----

def deliveries(n: int, prefix: str) -> list[str]:
    """n distinct app_mention bodies (distinct messages, distinct event ids)."""
    out, base = [], 1_700_000_000 + zlib.crc32(prefix.encode()) % 100_000_000
    for i in range(n):
        ts = f"{base + i}.{i:06d}"
        event = payloads.app_mention(user="UBENCH", text="<@UDROIDBOT> where is the config loaded?",
                                     channel="CBENCH", ts=ts)
        out.append(json.dumps(payloads.event_callback(event, team="TBENCH", event_id=f"Ev{prefix}{i:07d}")))
    return out


def deliver(port: int, body: str) -> float | None:
    """POST one signed delivery on a fresh connection; seconds until the 200, None on failure."""
    headers = {"content-type": "application/json", **payloads.sign(SECRET, body)}
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/slack/events", body=body.encode(), headers=headers)
        response = conn.getresponse()
        response.read()
        ok = response.status == 200
    except OSError:
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - start if ok else None


def load(port: int, n: int, concurrency: int, prefix: str) -> list[float | None]:
    """Warm up, then send n deliveries from `concurrency` senders; seconds each (None: failed)."""
    bodies = deliveries(n + 20, prefix)
    for body in bodies[:20]:
        deliver(port, body)
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(lambda body: deliver(port, body), bodies[20:]))


def summary(results: list[float | None]) -> dict:
    """n, errors and p50/p99/max in ms."""
    ok = [r for r in results if r is not None]
    return {"n": len(results), "errors": len(results) - len(ok), "p50_ms": _pct(ok, 50), "p99_ms": _pct(ok, 99),
            "max_ms": round(max(ok) * 1000, 2) if ok else None}


def _pct(values: list[float], pct: int) -> float | None:
    if len(values) < 2:
        return None
    return round(statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000, 2)


# ---- the server side ----

def measure(server, n: int, concurrency: int, prefix: str) -> list[float | None]:
    """Drive a running server from a separate load process."""
    out = subprocess.run([sys.executable, __file__, "--load", str(server.port), "--n", str(n),
                          "--concurrency", str(concurrency), "--prefix", prefix],
                         capture_output=True, text=True, check=True, cwd=str(ROOT))
    return json.loads(out.stdout)


def settle(deps, timeout: float = 120.0) -> None:
    """Wait until droid has planned every run it was given (so the next round starts from idle)."""
    deadline = time.monotonic() + timeout
    while deps.store.runs.in_states("received", "planning") and time.monotonic() < deadline:
        time.sleep(0.05)


class RemoteStandIn:
    """The Slack stand-in in its own process: Slack's side must not share droid's CPU or GIL."""

    def __enter__(self):
        code = ("import sys; from bot.local.slack_standin import SlackStandIn; s = SlackStandIn().start(); "
                "print(s.api_url, flush=True); sys.stdin.read()")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, cwd=str(ROOT))
        self.api_url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(10)


def main() -> int:
    """Print {"droid": {...}, "bare_bolt": {...}, "p99_ratio": ...} as JSON."""
    from bot.serve import SWITCH_INTERVAL
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5,
                        help="bare Bolt and droid alternate in this many rounds of n/rounds deliveries each, so "
                             "load from other processes on a shared machine falls on both alike")
    parser.add_argument("--switch-interval", type=float, default=SWITCH_INTERVAL,
                        help="sys.setswitchinterval for both apps (default: what droid serve sets)")
    parser.add_argument("--load", type=int, help=argparse.SUPPRESS)     # internal: be the load process
    parser.add_argument("--prefix", default="x", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        print(json.dumps(load(args.load, args.n, args.concurrency, args.prefix)))
        return 0
    if args.switch_interval:
        sys.setswitchinterval(args.switch_interval)
    from bot.slack.http_server import DroidHTTPServer
    with RemoteStandIn() as slack, tempfile.TemporaryDirectory() as tmp:
        app, deps = droid_app(slack.api_url, str(Path(tmp) / "bench.db"))
        servers = {"bare": DroidHTTPServer(bare_app(slack.api_url), 0, host="127.0.0.1").start(),
                   "droid": DroidHTTPServer(app, 0, host="127.0.0.1").start()}
        latencies: dict[str, list] = {"bare": [], "droid": []}
        try:
            for round_ in range(args.rounds):
                for name, server in servers.items():
                    latencies[name] += measure(server, args.n // args.rounds, args.concurrency, f"{name}{round_}-")
                    settle(deps)
        finally:
            for server in servers.values():
                server.shutdown()
        runs = deps.store.database.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        deps.runner.shutdown(wait=False)
    bare, ours = summary(latencies["bare"]), summary(latencies["droid"])
    ratio = round(ours["p99_ms"] / bare["p99_ms"], 2) if ours["p99_ms"] and bare["p99_ms"] else None
    result = {"server": "waitress via bot.slack.http_server", "n": args.n, "concurrency": args.concurrency, "rounds": args.rounds,
              "fresh_connection_per_request": True, "droid": ours, "bare_bolt": bare, "p99_ratio": ratio,
              "runs_created_by_end_of_measurement": runs,
              "target": "droid p99 < 50 ms and <= 1.5x bare Bolt",
              "met": bool(ratio and ours["p99_ms"] < 50 and ratio <= 1.5 and not ours["errors"])}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
