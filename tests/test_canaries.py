"""No secret leaves droid: canaries planted in every input, looked for in every sink.

One world runs once per module, through the real app and the real clients:
- a code-change run whose repository holds every canary (a multi-line private key included), whose
  failing test prints them, whose environment carries one, whose mention and Revise feedback quote
  them, and whose scripted model echoes them back in its answer (it commits, pushes, opens a PR and
  comments on Jira);
- an alert RCA whose Sentry issue title, exception message, frame variables, context lines, tags and
  request data hold them (report, uploaded Markdown and timeline picture);
- `droid rca` on that event; a traceback whose exception message holds them; a badly signed request
  whose body holds them (Bolt logs such bodies).
Then each sink is searched for every canary part (tests/canaries.py): Slack calls and uploaded files,
the text drawn in images, the database file and its WAL, the log output, the model's received
requests, the GitHub and Jira stubs' received requests, commit messages and branch names, CLI output.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import RedactingFormatter
from bot.settings import Routing
from bot.slack import payloads
from integrations.llm import AnthropicLLM
from skills.rca.sample import build_repo, capture_event
from skills.rca.timeline import drawn_texts
from tests.canaries import CANARIES, leaks, planted
from tests.harness import TEAM, Droid, wait_for
from tests.repos import git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub
from tests.stubs.sentry_stub import SentryStub

KEY = "sk-ant-test-key-00000000000000000000"
BLOB = planted()
ONE_LINE = " ".join(text for kind, (text, _) in CANARIES.items() if kind != "private_key")
ENV_NAME, ENV_VALUE = "PAYMENTS_CLIENT_SECRET", CANARIES["env_secret"][0].split("=", 1)[1]
FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "deploy/secrets.env": BLOB + "\n",
    "tests/test_calc.py": ("import pathlib\nfrom calc import add\n\n\ndef test_add():\n"
                           "    print(pathlib.Path('deploy/secrets.env').read_text())\n    assert add(2, 3) == 5\n"),
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n",
}
PLAN = {"goal": "Make add() add", "steps": [{"title": "Read the config"}, {"title": "Fix add"}],
        "touches": ["calc.py"], "risks": ["none"]}


class Sinks:
    """Everything that left droid in the world's runs, by sink name."""

    def __init__(self):
        self.text: dict[str, list[str]] = {}

    def add(self, sink: str, value) -> None:
        """Record what reached a sink (text, bytes or JSON-able)."""
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif not isinstance(value, str):
            value = json.dumps(value, default=str, ensure_ascii=False)
        self.text.setdefault(sink, []).append(value)


SINK_NAMES = ["slack_calls", "slack_files", "image_text", "database", "database_wal", "logs", "model",
              "github", "jira", "commits_and_branches", "cli"]


@pytest.fixture(scope="module")
def sinks(tmp_path_factory, fixtures_dir):
    tmp = tmp_path_factory.mktemp("canaries")
    out = Sinks()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level, old_env = root.level, os.environ.get(ENV_NAME)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    os.environ[ENV_NAME] = ENV_VALUE
    try:
        droids = []
        code_change_world(tmp, fixtures_dir, out, droids, handler)
        rca_world(tmp, fixtures_dir, out, droids)
        for d in droids:
            d.close()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        os.environ.pop(ENV_NAME, None) if old_env is None else os.environ.update({ENV_NAME: old_env})
    out.add("logs", stream.getvalue())
    return out


def _collect_slack(droid, out: Sinks) -> None:
    out.add("slack_calls", [c.args for c in droid.slack.calls])
    for record in droid.slack.files.values():
        content = record.get("content") or b""
        if content.startswith(b"\x89PNG"):
            out.add("image_text", drawn_texts(content))
        else:
            out.add("slack_files", content)


def _collect_db(droid, out: Sinks) -> None:
    path = Path(droid.settings.db_path)
    out.add("database", path.read_bytes())
    wal = Path(f"{path}-wal")
    out.add("database_wal", wal.read_bytes() if wal.exists() else b"")


def code_change_world(tmp: Path, fixtures_dir: Path, out: Sinks, droids: list, handler) -> None:
    seed = make_repo(tmp / "seed", FILES)
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp / "gh") as github, \
            JiraStub(fixtures_dir / "jira" / "api") as jira:
        origin = github.host("acme/calc", seed, default_branch="main")
        jira.load("get_issue.v2.server.json", key="CALC-7")
        llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
        droid = Droid(tmp, llm=llm, anthropic_url=model.url, routing=Routing(default_repo="acme/calc"),
                      github_token=github.token, github_api_url=github.url, github_url=github.url,
                      jira_url=jira.url, jira_user=jira.user, jira_token=jira.token,
                      workspace_dir=str(tmp / "workspaces"), db_path=str(tmp / "code.db"))
        droids.append(droid)
        handler.setFormatter(RedactingFormatter(droid.deps.redact))
        model.add(
            Turn.tool_use("submit_plan", PLAN),
            Turn.tool_use("submit_plan", PLAN),
            Turn.tool_use("view_file", {"path": "deploy/secrets.env", "start_line": 4}),
            Turn.tool_use("run", {"command": "env; cat deploy/secrets.env; python -m pytest -q"}),
            Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                        "new_str": "return a + b"}),
            Turn.tool_use("final_answer", {"text": "Fixed add(). For the record:\n" + BLOB}),
        )
        _, ts = droid.mention(f"fix CALC-7 add() {ONE_LINE}\n{BLOB}")
        run = droid.run_for("CDEV", ts)
        plan = wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith("Plan v1 ")), None),
                        timeout=60, what="plan v1")
        droid.click("droid_revise", droid.buttons(plan)["droid_revise"])
        view = wait_for(lambda: droid.slack.views, timeout=30, what="revise modal")[0]
        droid.dispatch(payloads.view_submission(user="UALICE", team=TEAM, view=view,
                                                values={"feedback": {"text": f"also {ONE_LINE}"}}))
        plan2 = wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith("Plan v2 ")), None),
                         timeout=60, what="plan v2")
        droid.click("droid_approve", droid.buttons(plan2)["droid_approve"])
        run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=180)
        assert github.pulls.get("acme/calc"), f"no pull request was opened: {run.result}"
        wait_for(lambda: any(c.method == "reactions.add" for c in droid.slack.calls), what="final reaction")
        # an exception whose message holds secrets, logged with its traceback by a droid logger
        try:
            raise RuntimeError(f"deploy failed with {ONE_LINE}")
        except RuntimeError:
            logging.getLogger("droid.runner").exception("run %s: job failed", run.run_id)
        # a badly signed request whose body holds secrets: Bolt logs rejected bodies
        bad = payloads.signed_request(payloads.event_callback(
            payloads.app_mention(user="UEVE", text=ONE_LINE, channel="CDEV", ts="9.9"), team=TEAM), "wrong-secret")
        assert droid.app.dispatch(bad).status == 401
        out.add("model", model.requests)
        out.add("github", [vars(r) for r in github.requests])
        out.add("jira", [vars(r) for r in jira.requests])
        out.add("commits_and_branches", git(origin, "log", "--all", "--format=%B%n%D"))
        out.add("commits_and_branches", git(origin, "branch", "--list"))
        _collect_slack(droid, out)
        _collect_db(droid, out)


def _poisoned_event(event: dict) -> dict:
    event = copy.deepcopy(event)
    exc = event["exception"]["values"][-1]
    exc["value"] = f"{exc.get('value', '')} {ONE_LINE}"
    frames = exc["stacktrace"]["frames"]
    for frame in frames:
        frame.setdefault("vars", {})["credentials"] = BLOB
        frame["vars"]["db_url"] = CANARIES["url_credentials"][0]
    frames[-1]["context_line"] = f"    token = '{CANARIES['github_pat'][0]}'  # {CANARIES['aws_key_id'][0]}"
    frames[-1]["pre_context"] = [*frames[-1].get("pre_context", []), *BLOB.splitlines()]
    event["tags"] = [*(event.get("tags") or []), ["deploy_key", CANARIES["stripe"][0]]] \
        if isinstance(event.get("tags"), list) else {**(event.get("tags") or {}), "deploy_key": CANARIES["stripe"][0]}
    event["request"] = {"url": "https://shop.example/checkout", "method": "POST",
                        "data": {"card": "4242", "api_key": CANARIES["google"][0], "note": ONE_LINE},
                        "headers": {"Authorization": f"Bearer {CANARIES['jwt'][0]}"}}
    event["message"] = ONE_LINE
    return event


def rca_world(tmp: Path, fixtures_dir: Path, out: Sinks, droids: list) -> None:
    shas = build_repo(tmp / "shop")
    assert shas
    event = _poisoned_event(capture_event(tmp / "shop", "v1.2.0", "shop@1.2.0", tmp / "work"))
    with SentryStub(fixtures_dir / "sentry" / "api", org="baz") as sentry:
        issue = sentry.fixture("retrieve_an_issue")
        issue.update(id="1", shortId="BAR-1", title=f"AttributeError: {CANARIES['aws_key_id'][0]} {ONE_LINE}",
                     firstSeen=event["timestamp"], lastSeen=event["timestamp"], count="42", userCount=7)
        sentry.issues["1"] = sentry.issues["BAR-1"] = issue
        sentry.recommended_event["1"] = sentry.latest_event["1"] = event
        droid = Droid(tmp, routing=Routing(channel_repos={"CALERTS": str(tmp / "shop")}, alert_channels=("CALERTS",)),
                      sentry_url=sentry.url, sentry_token=sentry.token, sentry_org="baz", db_path=str(tmp / "rca.db"))
        droids.append(droid)
        body = json.loads((fixtures_dir / "sentry/slack_integration/issue_alert_block_kit_message.constructed.json")
                          .read_text())
        ts = droid.slack.new_ts()
        message = {"type": "message", "subtype": "bot_message", "bot_id": "BSENTRY", "username": "Sentry",
                   "bot_profile": {"name": "Sentry", "app_id": "ASENTRY"}, **body,
                   "channel": "CALERTS", "ts": ts, "event_ts": ts, "channel_type": "channel"}
        droid.slack.messages.setdefault("CALERTS", []).append(dict(message))
        assert droid.dispatch(payloads.event_callback(message, team=TEAM)).status == 200
        wait_for(lambda: next((p for p in droid.posts("CALERTS") if p["text"].startswith("Root-cause analysis")),
                              None), timeout=60, what="RCA report")
        wait_for(lambda: len(droid.slack.files) >= 2 and all("content" in f for f in droid.slack.files.values()),
                 timeout=30, what="report and timeline uploaded")
        _collect_slack(droid, out)
        _collect_db(droid, out)
    event_file = tmp / "event.json"
    event_file.write_text(json.dumps(event))
    for fmt in ("text", "md", "json"):
        done = subprocess.run([sys.executable, "-m", "bot.cli", "rca", "--event", str(event_file), "--repo",
                               str(tmp / "shop"), "--format", fmt], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[1])
        out.add("cli", done.stdout + done.stderr)


@pytest.mark.parametrize("sink", SINK_NAMES)
def test_no_canary_reaches_the_sink(sinks, sink):
    seen = sinks.text.get(sink)
    assert seen, f"nothing reached {sink}: the world did not exercise it"
    leaked = sorted({part for text in seen for part in leaks(text)})
    kinds = sorted({kind for kind, (_, parts) in CANARIES.items() if set(parts) & set(leaked)})
    assert not leaked, f"{sink} leaked {len(kinds)} canary kinds: {kinds}"


def test_the_world_really_carried_the_canaries(sinks):
    """The inputs were live: droid saw and handled the poisoned text (the masks are there)."""
    assert "[REDACTED]" in "".join(sinks.text["model"])
    assert "[REDACTED]" in "".join(sinks.text["slack_calls"])
    assert len(CANARIES) >= 12
