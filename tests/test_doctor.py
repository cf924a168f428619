"""`droid doctor` against the Slack stand-in and the Anthropic stub: it fails exactly when serve would."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from bot.doctor import run_checks
from bot.local.slack_standin import SlackStandIn
from bot.settings import Routing, Settings
from tests.repos import SERVICE_FILES, git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _settings(tmp_path: Path, slack: SlackStandIn, **changes) -> Settings:
    repo = make_repo(tmp_path / "svc", SERVICE_FILES)
    values = dict(slack_bot_token="xoxb-1-2-abcdefghijkl", slack_signing_secret="s" * 32, slack_api_url=slack.api_url,
                  db_path=str(tmp_path / "d.db"), host="127.0.0.1", port=_free_port(),
                  routing=Routing(channel_repos={"CDEV": str(repo)}))
    return Settings(**{**values, **changes})


def _check(settings: Settings) -> tuple[bool, str]:
    lines: list[str] = []
    healthy = run_checks(settings, lines.append)
    return healthy, "\n".join(lines)


def test_doctor_reports_working_and_missing_services(tmp_path):
    with SlackStandIn() as slack, AnthropicStub() as stub:
        settings = _settings(tmp_path, slack, anthropic_api_key="sk-ant-test-000000000000000000",
                             anthropic_base_url=stub.url)
        healthy, text = _check(settings)
    assert healthy, text
    assert "✓ Slack: team Console" in text and "✓ Model:" in text
    assert "✓ Slack tokens: HTTP mode" in text and "✓ Repositories: 1 mapped" in text
    assert "✓ Database:" in text and f"✓ Port: 127.0.0.1:{settings.port} is free" in text
    assert "– GitHub: GITHUB_TOKEN not set" in text and "– Sentry" in text


def test_doctor_flags_unreachable_slack(tmp_path):
    settings = Settings(slack_bot_token="xoxb-1-2-abcdefghijkl", slack_app_token="xapp-1-abcdefghijkl",
                        slack_api_url="http://127.0.0.1:9/api/", db_path=str(tmp_path / "d.db"))
    healthy, text = _check(settings)
    assert not healthy
    assert "✗ Slack: cannot reach" in text
    assert "✓ Slack tokens: Socket Mode" in text and "– Port: Socket Mode" in text


def test_doctor_fails_when_serve_would_refuse_for_want_of_a_token(tmp_path):
    with SlackStandIn() as slack:
        healthy, text = _check(_settings(tmp_path, slack, slack_signing_secret=""))
        assert not healthy
        assert "✗ Slack tokens: HTTP mode (no SLACK_APP_TOKEN): droid serve will refuse to start" in text
        assert "SLACK_SIGNING_SECRET" in text and "SLACK_APP_TOKEN" in text
        healthy, text = _check(_settings(tmp_path / "b", slack, slack_bot_token="", slack_app_token="xapp-1-x"))
        assert not healthy and "✗ Slack tokens: Socket Mode" in text and "set SLACK_BOT_TOKEN" in text


def test_doctor_checks_every_mapped_repository(tmp_path):
    good = make_repo(tmp_path / "good", SERVICE_FILES)
    bare = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(good), str(bare))
    plain = tmp_path / "plain"
    plain.mkdir()
    routing = Routing(channel_repos={"CGOOD": str(good), "CMISSING": str(tmp_path / "gone"), "CPLAIN": str(plain),
                                     "CURL": bare.as_uri()},
                      default_repo=(tmp_path / "nowhere.git").as_uri())
    with SlackStandIn() as slack:
        healthy, text = _check(_settings(tmp_path, slack, routing=routing))
    assert not healthy
    line = next(s for s in text.splitlines() if "Repositories" in s)
    assert line.startswith("✗ Repositories:")
    assert f"channel CMISSING: {tmp_path / 'gone'} does not exist" in line
    assert "channel CPLAIN:" in line and "is not a git repository" in line
    assert "default_repo:" in line and "nowhere.git" in line
    assert "CGOOD" not in line and "CURL" not in line
    assert "fix the path or URL in DROID_CONFIG" in line


def test_doctor_checks_the_database_folder_and_the_port(tmp_path):
    with SlackStandIn() as slack, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        healthy, text = _check(_settings(tmp_path, slack, db_path=str(tmp_path / "no" / "such" / "d.db"), port=busy))
    assert not healthy
    assert f"✗ Database: the folder {tmp_path / 'no' / 'such'} does not exist" in text
    assert f"✗ Port: cannot listen on 127.0.0.1:{busy}" in text and "set PORT / DROID_HOST" in text


def test_doctor_command_exit_codes(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SLACK_", "SENTRY_", "DROID_",
                                                                   "GITHUB_", "JIRA_", "PORT"))}
    with SlackStandIn() as slack:
        base = {**env, "SLACK_BOT_TOKEN": "xoxb-1-2-abcdefghijkl", "SLACK_API_URL": slack.api_url,
                "DROID_DB": str(tmp_path / "d.db"), "DROID_HOST": "127.0.0.1", "PORT": str(_free_port())}

        def doctor(extra: dict, *args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "bot.cli", "doctor", *args], capture_output=True, text=True,
                                  timeout=60, env={**base, **extra}, cwd=REPO)
        refused = doctor({})
        assert refused.returncode == 1 and "✗ Slack tokens" in refused.stdout, refused.stdout
        fine = doctor({"SLACK_SIGNING_SECRET": "s" * 32})
        assert fine.returncode == 0, fine.stdout + fine.stderr
        broken = doctor({"DROID_MAX_STEPS": "many"})
        assert broken.returncode == 1 and "✗ settings: DROID_MAX_STEPS='many'" in broken.stdout
        bad_port = doctor({}, "--port", "-1")
        assert bad_port.returncode == 2 and bad_port.stderr.count("\n") == 1 and "Traceback" not in bad_port.stderr
