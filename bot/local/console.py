"""`droid console`: droid with no Slack workspace — type messages as a user, see what droid posts.

The same Bolt app, listeners, state and runner as `droid serve`; Slack's side is the in-process
stand-in (a real HTTP server the real WebClient talks to) and requests are signed like Slack's.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import secrets
import subprocess
import sys
import threading
import time
from pathlib import Path

from bot.cli import fail
from bot.local.slack_standin import BOT_USER, SlackStandIn
from bot.logs import configure
from bot.orchestration.recovery import recover
from bot.settings import Settings, SettingsError
from bot.slack import payloads
from bot.slack.app import build_app, build_deps

HELP = """Type a message as you would in Slack, e.g.  @droid where is the retry logic?
  <number>        click that button        /as USER   act as another user (refusals)
  /thread         toggle: post in the last thread (follow-ups)
  /runs           list runs                /help      this help      /quit   leave
  /label KEY      label a Jira ticket for droid (the stand-in's PAY-143, say), then poll Jira now"""


class Console:
    """A terminal session in one channel, rendering droid's posts readably."""

    def __init__(self, settings: Settings, slack: SlackStandIn, out=sys.stdout, channel: str = "CCONSOLE"):
        self.settings, self.slack, self.out, self.channel = settings, slack, out, channel
        self.user, self.thread_ts, self.in_thread = "UYOU", None, False
        self.choices: dict[int, tuple[str, str, str]] = {}
        self.jira = None            # the Jira stand-in (bot/local/jira_standin.py) when JIRA_URL is unset
        self._lock = threading.Lock()
        self.deps = build_deps(settings)
        self.app = build_app(settings, self.deps)
        slack.listeners.append(self.render)

    # -- what droid posts ------------------------------------------------------------------
    def render(self, call, response: dict) -> None:
        """Print a Web API call the way Slack would show it."""
        with self._lock:
            args, method = call.args, call.method
            if method == "chat.postMessage":
                self._print_message(args.get("username") or "droid", args, response.get("ts", ""))
            elif method == "chat.update":
                self._print_message("droid (edited)", args, args.get("ts", ""))
            elif method == "chat.postEphemeral":
                self._say(f"  [only visible to {args.get('user')}] {args.get('text')}")
            elif method == "reactions.add":
                self._say(f"  (droid reacted :{args.get('name')}:)")
            elif method == "files.completeUploadExternal":
                names = ", ".join(f.get("title") or f.get("id") for f in args.get("files") or [])
                self._say(f"  📎 droid uploaded {names} to the thread")

    def _print_message(self, who: str, args: dict, ts: str) -> None:
        lines = [f"\n── {who}" + (" · in thread" if args.get("thread_ts") else "") + " ──"]
        for block in args.get("blocks") or [{"type": "section", "text": {"text": args.get("text", "")}}]:
            lines += self._block_lines(block, ts)
        self._say("\n".join(lines))

    def _block_lines(self, block: dict, ts: str) -> list[str]:
        kind = block.get("type")
        if kind == "header":
            return [f"## {block['text']['text']}"]
        if kind == "section":
            return [block["text"]["text"]]
        if kind == "context":
            return ["  " + " ".join(e.get("text", "") for e in block.get("elements", []))]
        if kind == "actions":
            labels = []
            for element in block.get("elements", []):
                number = len(self.choices) + 1
                self.choices[number] = (element["action_id"], element["value"], ts)
                labels.append(f"[{number}] {element['text']['text']}")
            return ["  " + "   ".join(labels)]
        return []

    def _say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # -- what the user does ----------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Act on one input line; False to quit."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit"):
            return False
        if line == "/help":
            self._say(HELP)
        elif line.startswith("/as "):
            self.user = line.split(None, 1)[1].strip()
            self._say(f"(you are now {self.user})")
        elif line == "/thread":
            self.in_thread = not self.in_thread
            self._say(f"(posting {'in the last thread' if self.in_thread else 'in the channel'})")
        elif line == "/runs":
            for run in self.deps.store.runs.in_states("received", "planning", "awaiting_approval", "executing",
                                                      "succeeded", "failed", "cancelled", "rejected", "expired"):
                self._say(f"  {run.run_id}  {run.state:18} {run.task[:60]}")
        elif line.startswith("/label "):
            self.label(line.split(None, 1)[1].strip().upper())
        elif line.isdigit():
            self.click(int(line))
        else:
            self.post(line)
        self.wait_idle()
        return True

    def post(self, text: str) -> None:
        """Post as the user; `@droid` becomes a mention event."""
        text = text.replace("@droid", f"<@{BOT_USER}>")
        thread = self.thread_ts if self.in_thread else None
        message = self.slack.add_user_message(self.channel, self.user, text, thread)
        if thread is None:
            self.thread_ts = message["ts"]
        if f"<@{BOT_USER}>" not in text:
            self._say("(droid only acts when mentioned: start with @droid)")
            return
        event = payloads.app_mention(user=self.user, text=text, channel=self.channel, ts=message["ts"],
                                     thread_ts=thread)
        self._dispatch(payloads.event_callback(event, team=self.slack.team))

    def label(self, key: str) -> None:
        """Label a stand-in ticket for droid, as a person would in Jira, and run the Jira poll job now."""
        from bot.tickets.jira_poll import poll_jira
        if self.jira is None:
            self._say("(/label works on the Jira stand-in: start the console without JIRA_URL)")
            return
        if not self.jira.label(key, self.settings.ticket_label):
            self._say(f"(no ticket {key} in the Jira stand-in: {', '.join(self.jira.issues)})")
            return
        self._say(f"(labelled {key} `{self.settings.ticket_label}` in Jira; polling Jira now)")
        poll_jira(self.deps)

    def click(self, number: int) -> None:
        """Click a numbered button; Revise asks for feedback here instead of a modal."""
        if number not in self.choices:
            self._say(f"(no button [{number}])")
            return
        action_id, value, ts = self.choices[number]
        views_before = len(self.slack.views)
        self._dispatch(payloads.block_action(user=self.user, channel=self.channel, message_ts=ts,
                                             action_id=action_id, value=value, team=self.slack.team))
        if action_id == "droid_revise":
            self._wait(lambda: len(self.slack.views) > views_before, 5)
            if len(self.slack.views) > views_before:
                feedback = input("What should change in the plan? > ")
                view = self.slack.views[-1]
                self._dispatch(payloads.view_submission(user=self.user, team=self.slack.team, view=view,
                                                        values={"feedback": {"text": feedback}}))

    def _dispatch(self, payload: dict) -> None:
        response = self.app.dispatch(payloads.signed_request(payload, self.settings.slack_signing_secret))
        if response.status != 200:
            self._say(f"(Slack would have received HTTP {response.status}: {response.body})")

    def wait_idle(self, quiet: float = 0.4, timeout: float = 600) -> None:
        """Wait until droid has finished reacting (no job running, the outbox empty, Slack quiet for a moment)."""
        self._wait(lambda: not self.deps.runner.busy and not self.deps.store.outbox.pending()
                   and self._quiet_for(quiet), timeout)

    def _quiet_for(self, seconds: float) -> bool:
        last = self.slack.calls[-1].at if self.slack.calls else 0
        return time.time() - last >= seconds

    @staticmethod
    def _wait(predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not predicate():
            time.sleep(0.05)


def console_settings(repo: str | None, db: str | None, slack: SlackStandIn) -> Settings:
    """Settings from the environment, with Slack pointed at the stand-in and the repo mapped."""
    base = Settings.from_env()
    repo_path = repo or base.routing.default_repo or _git_root(Path.cwd())
    routing = dataclasses.replace(base.routing, default_repo=repo_path)
    values = {**{f: getattr(base, f) for f in base.__dataclass_fields__},
              "slack_api_url": slack.api_url, "slack_bot_token": "xoxb-console-" + secrets.token_hex(8),
              "slack_signing_secret": secrets.token_hex(16), "slack_app_token": "", "routing": routing,
              "db_path": db or base.db_path}
    return Settings(**values)


def _git_root(path: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def repo_problem(repo: str) -> str | None:
    """Why `--repo` cannot be worked on (a local path must be a git repository; a clone URL is taken as is)."""
    if "://" in repo or repo.startswith("git@"):
        return None
    path = Path(repo).expanduser()
    if not path.exists():
        return f"no repository at {repo}"
    if not path.is_dir():
        return f"{repo} is not a directory"
    if _git_root(path) is None:
        return f"{repo} is not a git repository"
    return None


def cli_main(argv: list[str]) -> int:
    """Run the console until /quit or end of input."""
    parser = argparse.ArgumentParser(prog="droid console")
    parser.add_argument("--repo", help="the repository droid works on (default: this git checkout)")
    parser.add_argument("--db", help="SQLite file (default: DROID_DB or droid.db)")
    args = parser.parse_args(argv)
    if args.repo is not None and (problem := repo_problem(args.repo)):
        return fail("droid console", problem)
    slack = SlackStandIn().start()
    try:
        settings = console_settings(args.repo, args.db, slack)
    except SettingsError as exc:
        slack.stop()
        return fail("droid console", str(exc))
    from bot.local.jira_standin import console_jira
    jira, settings = console_jira(settings, "CCONSOLE", slack)
    console = Console(settings, slack)
    console.jira = jira
    configure(console.deps.redact, logging.WARNING)
    model = (f"model {settings.anthropic_model}" if settings.has_model
             else "no model (set ANTHROPIC_API_KEY for plans and answers by a model)")
    repo = settings.routing.default_repo or "none (use --repo PATH)"
    tickets = f"Jira stand-in: {', '.join(jira.issues)}" if jira else f"Jira: {settings.jira_url or 'none'}"
    print(f"droid console · repo: {repo} · {model} · {tickets} · db: {settings.db_path}\n{HELP}", flush=True)
    recover(console.deps)
    interactive = sys.stdin.isatty()
    try:
        while True:
            try:
                line = input("you> " if interactive else "")
            except EOFError:
                break
            if not interactive and line.strip():
                print(f"you> {line}", flush=True)
            if not console.handle(line):
                break
    except KeyboardInterrupt:
        pass
    finally:
        console.wait_idle()
        console.deps.runner.shutdown(wait=True)
        slack.stop()
        if jira is not None:
            jira.stop()
    return 0
