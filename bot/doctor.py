"""`droid doctor`: check the configuration and every configured service, with the fix for each problem."""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.settings import Settings, SettingsError

OK, BAD, OFF = "✓", "✗", "–"


def manifest_scopes() -> set[str]:
    """The bot scopes manifest.yml asks for (empty if it is not next to the code)."""
    path = Path(__file__).resolve().parents[1] / "manifest.yml"
    if not path.is_file():
        return set()
    return set(yaml.safe_load(path.read_text())["oauth_config"]["scopes"]["bot"])


def check_slack(settings: Settings) -> tuple[str, str]:
    """auth.test, and the token's scopes against manifest.yml."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    if not settings.slack_bot_token:
        return BAD, "SLACK_BOT_TOKEN is not set — install the app (manifest.yml) and copy its Bot User OAuth Token"
    try:
        response = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url).auth_test()
    except SlackApiError as exc:
        return BAD, f"auth.test failed: {exc.response.get('error')} — check SLACK_BOT_TOKEN"
    except Exception as exc:  # noqa: BLE001 — any transport failure is reported, not raised
        return BAD, f"cannot reach {settings.slack_api_url}: {exc} — check SLACK_API_URL and the network"
    granted = {s.strip() for s in (response.headers.get("x-oauth-scopes") or "").split(",") if s.strip()}
    missing = manifest_scopes() - granted
    team = f"team {response.get('team')} as {response.get('user')}"
    if missing:
        return BAD, f"{team}; missing scopes {', '.join(sorted(missing))} — add them and reinstall the app"
    return OK, team


def check_model(settings: Settings) -> tuple[str, str]:
    """A cheap call to the model API."""
    if not settings.anthropic_api_key:
        return OFF, "ANTHROPIC_API_KEY not set: template plans and search results only (set it for model work)"
    from integrations.llm import AnthropicLLM, LLMError
    try:
        return OK, AnthropicLLM(api_key=settings.anthropic_api_key, model=settings.anthropic_model,
                                base_url=settings.anthropic_base_url, max_retries=1).check()
    except LLMError as exc:
        return BAD, f"{exc.message} — check ANTHROPIC_API_KEY / ANTHROPIC_BASE_URL"


def check_github(settings: Settings) -> tuple[str, str]:
    """Who the GitHub token is."""
    if not settings.github_token:
        return OFF, "GITHUB_TOKEN not set (needed to open pull requests)"
    from github import Auth, Github
    try:
        login = Github(base_url=settings.github_api_url, auth=Auth.Token(settings.github_token), retry=0).get_user().login
        return OK, f"authenticated as {login}"
    except Exception as exc:  # noqa: BLE001
        return BAD, f"{type(exc).__name__}: {str(exc)[:200]} — check GITHUB_TOKEN / GITHUB_API_URL"


def check_jira(settings: Settings) -> tuple[str, str]:
    """Who the Jira credentials are."""
    if not settings.jira_url:
        return OFF, "JIRA_URL not set (needed for tickets)"
    from jira import JIRA
    try:
        client = JIRA(server=settings.jira_url, basic_auth=(settings.jira_user, settings.jira_token),
                      max_retries=0, timeout=15, get_server_info=False)
        return OK, f"authenticated as {client.myself().get('displayName', settings.jira_user)}"
    except Exception as exc:  # noqa: BLE001
        return BAD, f"{type(exc).__name__}: {str(exc)[:200]} — check JIRA_URL / JIRA_USER / JIRA_API_TOKEN"


def check_sentry(settings: Settings) -> tuple[str, str]:
    """The Sentry organisation is readable with the token."""
    if not settings.sentry_token:
        return OFF, "SENTRY_AUTH_TOKEN not set (needed for alert RCAs)"
    url = f"{settings.sentry_url.rstrip('/')}/api/0/organizations/{settings.sentry_org}/"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {settings.sentry_token}"})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return OK, f"organisation {json.loads(response.read()).get('slug', settings.sentry_org)}"
    except Exception as exc:  # noqa: BLE001
        return BAD, f"{exc} — check SENTRY_URL / SENTRY_AUTH_TOKEN / SENTRY_ORG"


CHECKS: list[tuple[str, Callable[[Settings], tuple[str, str]]]] = [
    ("Slack", check_slack), ("Model", check_model), ("GitHub", check_github),
    ("Jira", check_jira), ("Sentry", check_sentry),
]


def run_checks(settings: Settings, out=print) -> bool:
    """Print each check; True when nothing is broken."""
    healthy = True
    out(f"{OK} settings: database {settings.db_path}, repos {dict(settings.routing.channel_repos) or '-'}, "
        f"default repo {settings.routing.default_repo or '-'}")
    for name, check in CHECKS:
        mark, detail = check(settings)
        healthy &= mark != BAD
        out(f"{mark} {name}: {detail}")
    return healthy


def cli_main(argv: list[str]) -> int:
    """Exit 0 when everything configured works, 1 otherwise."""
    argparse.ArgumentParser(prog="droid doctor").parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"{BAD} settings: {exc}")
        return 1
    return 0 if run_checks(settings) else 1
