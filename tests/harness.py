"""A whole droid for tests: the real Bolt app, real WebClient against the Slack stand-in, real SQLite."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from bot.local.slack_standin import SlackStandIn
from bot.settings import Routing, Settings
from bot.slack import payloads
from bot.slack.app import build_app, build_deps

SECRET = "test-signing-secret-0123456789"
BOT_TOKEN = "xoxb-000000000000-000000000000-testtokentesttoken"
TEAM = "T0DROID"
_ts = itertools.count(1)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, what: str = "condition"):
    """Poll until `predicate()` is truthy (returning it), failing after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Droid:
    """droid wired to a Slack stand-in, with helpers to act as Slack users."""

    def __init__(self, tmp: Path, *, repo: Path | None = None, approvers=(), llm=None, anthropic_url=None,
                 db: Path | None = None, standin: SlackStandIn | None = None, **overrides):
        self.slack = standin or SlackStandIn(team=TEAM).start()
        routing = Routing(default_repo=str(repo) if repo else None, approvers=tuple(approvers))
        values = dict(slack_bot_token=BOT_TOKEN, slack_signing_secret=SECRET, slack_api_url=self.slack.api_url,
                      db_path=str(db or tmp / "droid.db"), status_interval=0.05, routing=routing)
        if anthropic_url:
            values.update(anthropic_api_key="sk-ant-test-key-00000000000000000000", anthropic_base_url=anthropic_url)
        self.settings = Settings(**{**values, **overrides})
        self.deps = build_deps(self.settings, llm=llm)
        self.app = build_app(self.settings, self.deps)
        self.store = self.deps.store

    def close(self) -> None:
        """Stop the runner and the stand-in."""
        self.deps.runner.shutdown(wait=True)
        self.slack.stop()
        self.store.database.close()

    def dispatch(self, payload: dict, headers: dict | None = None):
        """Deliver a payload to the real app, signed as Slack signs it."""
        return self.app.dispatch(payloads.signed_request(payload, SECRET, headers))

    def mention(self, text: str, *, user: str = "UALICE", channel: str = "CDEV", thread_ts: str | None = None,
                event_id: str | None = None, headers: dict | None = None):
        """A person posts `@droid text`; returns (response, message ts)."""
        message = self.slack.add_user_message(channel, user, f"<@UDROIDBOT> {text}", thread_ts)
        event = payloads.app_mention(user=user, text=message["text"], channel=channel, ts=message["ts"],
                                     thread_ts=thread_ts)
        body = payloads.event_callback(event, team=TEAM, event_id=event_id)
        return self.dispatch(body, headers), message["ts"]

    def click(self, action_id: str, value: str, *, user: str = "UALICE", channel: str = "CDEV",
              message_ts: str = "1.0"):
        """A person clicks one of droid's buttons."""
        body = payloads.block_action(user=user, channel=channel, message_ts=message_ts, action_id=action_id,
                                     value=value, team=TEAM)
        return self.dispatch(body)

    def run_for(self, channel: str, ts: str):
        """The run created by a message, once it exists."""
        return wait_for(lambda: self.store.runs.latest_in_thread(channel, ts), what="run created")

    def wait_state(self, run_id: str, *states: str, timeout: float = 10.0):
        """Wait until the run is in one of `states`."""
        return wait_for(lambda: (r := self.store.runs.get(run_id)) and r.state in states and r,
                        timeout, what=f"run {run_id} in {states}")

    def posts(self, channel: str = "CDEV"):
        """Every chat.postMessage droid made in a channel."""
        return [c.args for c in self.slack.calls_to("chat.postMessage") if c.args.get("channel") == channel]

    def plan_post(self, channel: str = "CDEV", timeout: float = 30.0) -> dict:
        """The first message droid posted in a channel with an Approve button, once there is one."""
        return wait_for(lambda: next((p for p in self.posts(channel) if self.buttons(p).get("droid_approve")), None),
                        timeout=timeout, what="plan")

    def buttons(self, message: dict) -> dict[str, str]:
        """action_id -> value of the buttons in a posted message."""
        out = {}
        for block in message.get("blocks") or []:
            for element in block.get("elements", []) if block.get("type") == "actions" else []:
                out[element["action_id"]] = element["value"]
        return out
