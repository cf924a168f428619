"""`droid doctor` against the Slack stand-in and the Anthropic stub."""

from __future__ import annotations

from bot.doctor import run_checks
from bot.settings import Settings
from bot.slack_standin import SlackStandIn
from tests.stubs.anthropic_stub import AnthropicStub


def test_doctor_reports_working_and_missing_services(tmp_path):
    with SlackStandIn() as slack, AnthropicStub() as stub:
        settings = Settings(slack_bot_token="xoxb-1-2-abcdefghijkl", slack_api_url=slack.api_url,
                            anthropic_api_key="sk-ant-test-000000000000000000", anthropic_base_url=stub.url,
                            db_path=str(tmp_path / "d.db"))
        lines: list[str] = []
        assert run_checks(settings, lines.append)
    text = "\n".join(lines)
    assert "✓ Slack: team Console" in text and "✓ Model:" in text
    assert "– GitHub: GITHUB_TOKEN not set" in text and "– Sentry" in text


def test_doctor_flags_unreachable_slack(tmp_path):
    settings = Settings(slack_bot_token="xoxb-1-2-abcdefghijkl", slack_api_url="http://127.0.0.1:9/api/",
                        db_path=str(tmp_path / "d.db"))
    lines: list[str] = []
    assert not run_checks(settings, lines.append)
    assert any(line.startswith("✗ Slack: cannot reach") for line in lines)
