"""`droid demo`: droid's main job with no accounts at all — a real alert, a real RCA, in a Slack thread.

It builds a small service repository with a realistic history (several authors, releases, one
regression), runs the release's code so the real sentry-sdk captures the crash, posts the alert the
way Sentry's Slack integration does into an alert channel of the Slack stand-in, and shows the
thread droid writes — through the same Bolt app, listeners, runner and RCA pipeline as `droid serve`.
Sentry's API is played by an in-process stand-in serving only the captured event.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bot.local.console import Console
from bot.local.slack_standin import SlackStandIn
from bot.settings import Routing, Settings, SettingsError
from bot.slack import payloads

CHANNEL, ISSUE_ID, SHORT_ID, PROJECT, ORG = "CALERTS", "4711", "SHOP-1", "shop", "demo"


def sentry_alert(issue: dict) -> dict:
    """The message Sentry's Slack integration posts for an issue alert (its Block Kit shape)."""
    title, url = issue["title"], issue["permalink"] + "?referrer=slack"
    return {
        "type": "message", "subtype": "bot_message", "bot_id": "BSENTRY", "username": "Sentry",
        "bot_profile": {"name": "Sentry", "app_id": "ASENTRY"}, "text": f"[{PROJECT}] {title}",
        "blocks": [
            {"type": "section", "block_id": json.dumps({"issue": int(issue["id"])}, separators=(",", ":")),
             "text": {"type": "mrkdwn", "text": f":red_circle: <{url}|*{title.split(':')[0]}*>"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"```{title.split(': ', 1)[-1]}```"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "State: *New*   First Seen: *Just now*"}]},
            {"type": "context", "elements": [{"type": "mrkdwn",
                                              "text": f"Project: {PROJECT}    Short ID: {issue['shortId']}"}]},
        ],
    }


MARKER = ".droid-demo"  # in a --dir the demo has used: running it there again rebuilds the sample
OWNED = ("shop", "running-v1.2.0", "capture-running-v1.2.0.py",
         "demo.db", "demo.db-wal", "demo.db-shm", "demo.db-journal")


class DemoError(Exception):
    """The demo cannot run where it was asked to; the message says why."""


def prepare(root: Path) -> None:
    """Make `root` ready for a fresh run: create it, or clear what an earlier demo left there
    (only that: a folder holding other things under the demo's names is refused)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot create {root}: {exc.strerror or exc}") from None
    if not root.is_dir():
        raise DemoError(f"{root} is not a folder")
    left = [name for name in OWNED if (root / name).exists() or (root / name).is_symlink()]
    marker = root / MARKER
    if left and not marker.is_file():
        raise DemoError(f"{root} already holds {', '.join(left)}, not made by droid demo: choose another --dir")
    for name in left:
        path = root / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    for saved in root.glob("rca-*"):  # the files the last run saved from its thread
        if saved.is_file() and marker.is_file():
            saved.unlink()
    marker.write_text("made by droid demo: running it again into this folder rebuilds the sample here\n")


def cli_main(argv: list[str]) -> int:
    """Run the demo and print the alert thread as it would appear in Slack."""
    from bot.cli import ArgParser, fail

    parser = ArgParser(prog="droid demo")
    parser.add_argument("--dir", help="where to build the sample repository (default: a temporary folder); "
                        "running again into the same folder rebuilds it")
    args = parser.parse_args(argv)
    from bot.local.sentry_standin import SentryStandIn
    from skills.rca.sample import build_repo, capture_event
    root = Path(args.dir or tempfile.mkdtemp(prefix="droid-demo-")).expanduser().resolve()
    try:
        prepare(root)
    except (DemoError, OSError) as exc:
        return fail("droid demo", str(exc))
    print(f"Building the sample service (several authors, releases, one regression) in {root}/shop …", flush=True)
    shas = build_repo(root / "shop")
    print("Running release shop@1.2.0 under sentry-sdk: checkout without a discount code …", flush=True)
    event = capture_event(root / "shop", "v1.2.0", "shop@1.2.0", root / "running-v1.2.0")
    sentry = SentryStandIn(ORG, secrets.token_hex(12)).start()
    issue = sentry.add_issue(ISSUE_ID, SHORT_ID, event, project=PROJECT)
    slack = SlackStandIn().start()
    try:
        settings = demo_settings(slack, sentry, root)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    console = Console(settings, slack, channel=CHANNEL)
    print(f"\nThe sentry-sdk captured {issue['title']!r}. Sentry's Slack integration posts it in #alerts:\n", flush=True)
    message = slack.add_user_message(CHANNEL, "", "")          # reserve the ts, then fill in Sentry's message
    message.clear()
    alert = {**sentry_alert(issue), "channel": CHANNEL, "ts": slack.new_ts()}
    alert["event_ts"] = alert["ts"]
    message.update(alert)
    console.render(type("Call", (), {"method": "chat.postMessage", "args": {**alert, "user": "Sentry"}})(),
                   {"ts": alert["ts"]})
    started = time.monotonic()
    console._dispatch(payloads.event_callback(alert, team=slack.team))
    console.wait_idle(quiet=1.0, timeout=120)
    elapsed = time.monotonic() - started
    saved = save_files(slack, root)
    top = top_suspect(console.deps.store)
    console.deps.runner.shutdown(wait=True)
    slack.stop()
    sentry.stop()
    guilty = shas["dave"]
    verdict = ("droid's top suspect is that commit" if top == guilty
               else f"droid's top suspect is {top[:10] if top else 'none'}, not that commit")
    print(f"\n(alert → RCA posted in {elapsed:.1f} s. The sample's regression was built into Dave's commit "
          f"{guilty[:10]}; {verdict} — found from the stack trace and git history, with no model and no accounts.)")
    for path in saved:
        print(f"  file in the thread saved to {path}")
    return 0


def top_suspect(store) -> str | None:
    """The first suspect commit the RCA recorded in its event log."""
    for run in store.runs.in_states("succeeded", "failed"):
        for event in store.events.for_run(run.run_id, "rca_evidence"):
            commits = event.data.get("top_commits") or []
            return commits[0] if commits else None
    return None


def demo_settings(slack: SlackStandIn, sentry, root: Path) -> Settings:
    """Settings from the environment, with Slack and Sentry pointed at the stand-ins."""
    base = Settings.from_env()
    routing = dataclasses.replace(base.routing if isinstance(base.routing, Routing) else Routing(),
                                  channel_repos={CHANNEL: str(root / "shop")}, alert_channels=(CHANNEL,))
    return dataclasses.replace(
        base, slack_api_url=slack.api_url, slack_bot_token="xoxb-demo-" + secrets.token_hex(8),
        slack_signing_secret=secrets.token_hex(16), slack_app_token="", sentry_url=sentry.url,
        sentry_token=sentry.token, sentry_org=ORG, db_path=str(root / "demo.db"), routing=routing,
        status_interval=0.5)


def save_files(slack: SlackStandIn, root: Path) -> list[Path]:
    """Write the files droid uploaded to the thread next to the sample repo."""
    out = []
    for record in slack.files.values():
        if "content" in record and record.get("name"):
            path = root / record["name"]
            path.write_bytes(record["content"])
            out.append(path)
    return out
