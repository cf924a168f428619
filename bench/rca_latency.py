"""Time from a Sentry alert in Slack to the RCA posted in its thread, without a model.

Runs the real pipeline (Bolt app, listener, runner, Sentry client, evidence, report, uploads) with the
Slack and Sentry stand-ins, on (1) the demo's sample service with a real sentry-sdk event and (2) a large
real repository given by --repo, with an event whose frames point at real functions of that repository
at HEAD (synthetic frames over real code and history). Side by side: the time `analyse()` alone takes.

    python bench/rca_latency.py [--repo /path/to/large/repo(.git)] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.local.demo import sentry_alert  # noqa: E402
from bot.local.sentry_standin import SentryStandIn  # noqa: E402
from bot.local.slack_standin import SlackStandIn  # noqa: E402
from bot.settings import Routing, Settings  # noqa: E402
from bot.slack import payloads  # noqa: E402
from bot.slack.app import build_app, build_deps  # noqa: E402
from integrations.sentry_event import parse_event  # noqa: E402
from skills.rca.evidence import analyse  # noqa: E402
from skills.rca.sample import build_repo, capture_event  # noqa: E402

CHANNEL = "CALERTS"


def large_repo_event(repo: Path, frames: int = 3) -> dict:
    """An SDK-shaped event whose in-app frames sit on real function lines of the repo's largest Python files."""
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "-l", "HEAD"], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    py = sorted(((int(p.split()[3]), p.split("\t")[1]) for p in files if p.endswith(".py") and "test" not in p),
                reverse=True)[:frames]
    out = []
    for _, path in py:
        text = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], capture_output=True, text=True).stdout
        lines = text.splitlines()
        line = next((i for i, t in enumerate(lines, 1) if t.lstrip().startswith("def ")), 1) + 2
        func = lines[line - 3].split("def ", 1)[-1].split("(")[0] if line > 2 else "?"
        out.append({"filename": path, "abs_path": f"/srv/app/{path}", "function": func, "lineno": line,
                    "in_app": True, "context_line": lines[line - 1] if line <= len(lines) else ""})
    return {"event_id": secrets.token_hex(16), "platform": "python", "level": "error",
            "timestamp": datetime.now(UTC).isoformat(),
            "exception": {"values": [{"type": "KeyError", "value": "'name'", "stacktrace": {"frames": out}}]}}


def alert_to_rca(repo: Path, event: dict, issue_id: str) -> float:
    """Seconds from the alert's delivery to the RCA report posted in its thread."""
    with SlackStandIn() as slack, tempfile.TemporaryDirectory() as tmp:
        sentry = SentryStandIn("bench", secrets.token_hex(8)).start()
        issue = sentry.add_issue(issue_id, f"BENCH-{issue_id}", event, project="bench")
        settings = Settings(slack_bot_token="xoxb-bench", slack_signing_secret="bench-secret", slack_api_url=slack.api_url,
                            sentry_url=sentry.url, sentry_token=sentry.token, sentry_org="bench",
                            db_path=str(Path(tmp) / "bench.db"), status_interval=0.5,
                            routing=Routing(channel_repos={CHANNEL: str(repo)}, alert_channels=(CHANNEL,)))
        deps = build_deps(settings)
        app = build_app(settings, deps)
        alert = {**sentry_alert(issue), "channel": CHANNEL, "ts": slack.new_ts()}
        slack.messages.setdefault(CHANNEL, []).append(alert)
        start = time.perf_counter()
        app.dispatch(payloads.signed_request(payloads.event_callback(alert, team="TBENCH"), "bench-secret"))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(c.args.get("text", "").startswith(("Root-cause analysis", "RCA:"))
                   for c in slack.calls_to("chat.postMessage")):
                break
            time.sleep(0.01)
        elapsed = time.perf_counter() - start
        deps.runner.shutdown(wait=True)
        sentry.stop()
        return elapsed


def measure(name: str, repo: Path, event: dict, runs: int) -> dict:
    """End to end and analyse() alone, `runs` times each."""
    end_to_end = [alert_to_rca(repo, event, str(4000 + i)) for i in range(runs)]
    parsed = parse_event(event)
    alone = []
    for _ in range(runs):
        t = time.perf_counter()
        analyse(parsed, repo, parsed.timestamp)
        alone.append(time.perf_counter() - t)
    commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--count", "HEAD"], capture_output=True,
                                 text=True).stdout.strip() or 0)
    return {"repo": name, "commits": commits, "alert_to_rca_s": {"p50": round(statistics.median(end_to_end), 2),
                                                                  "max": round(max(end_to_end), 2)},
            "analyse_only_s": {"p50": round(statistics.median(alone), 2), "max": round(max(alone), 2)}}


def main() -> int:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", help="a large real git repository (work tree or bare)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        build_repo(Path(tmp) / "shop")
        event = capture_event(Path(tmp) / "shop", "v1.2.0", "shop@1.2.0", Path(tmp) / "work")
        results.append(measure("demo sample service (real sentry-sdk event)", Path(tmp) / "shop", event, args.runs))
    if args.repo:
        repo = Path(args.repo)
        results.append(measure(f"{repo} (synthetic frames on real code)", repo, large_repo_event(repo), args.runs))
    print(json.dumps({"target": "alert → RCA posted < 10 s without a model", "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
