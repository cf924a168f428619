"""`droid doctor`: check the configuration and every configured service, with the fix for each problem."""

from __future__ import annotations

import json
import os
import socket
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


def check_tokens(settings: Settings) -> tuple[str, str]:
    """The Slack tokens `droid serve` needs in the mode it will run in (it refuses without them)."""
    missing = []
    if not settings.slack_bot_token:
        missing.append("SLACK_BOT_TOKEN (OAuth & Permissions → Bot User OAuth Token, xoxb-…)")
    if settings.slack_app_token:
        mode = "Socket Mode (SLACK_APP_TOKEN set)"
    else:
        mode = "HTTP mode (no SLACK_APP_TOKEN)"
        if not settings.slack_signing_secret:
            missing.append("SLACK_SIGNING_SECRET (Basic Information → App Credentials) — or set "
                           "SLACK_APP_TOKEN (xapp-…) for Socket Mode")
    if missing:
        return BAD, f"{mode}: droid serve will refuse to start; set {'; '.join(missing)}"
    return OK, mode


def check_repos(settings: Settings) -> tuple[str, str]:
    """Every mapped repository (channel mappings and the default) is a git repository droid can read."""
    from integrations.workspace import WorkspaceError, WorkspaceManager, _auth_config, _secrets_of

    mapped = {f"channel {ch}": repo for ch, repo in settings.routing.channel_repos.items()}
    for ch, repos in settings.routing.channel_repo_lists.items():     # every repository of a `repos:` list
        mapped.update({f"channel {ch} ({repo})": repo for repo in repos if repo not in mapped.values()})
    if settings.routing.default_repo:
        mapped["default_repo"] = settings.routing.default_repo
    if not mapped:
        return OFF, "no repository mapped (DROID_CONFIG: channels / default_repo): mentions get no run"
    manager = WorkspaceManager(Path(settings.workspace_dir), github_token=settings.github_token,
                               github_url=settings.github_url, network_timeout=15)
    problems = []
    for where, repo in mapped.items():
        local = Path(str(repo)).expanduser()
        looks_local = str(repo).startswith(("/", ".", "~")) or local.exists()
        if looks_local and not local.exists():
            problems.append(f"{where}: {repo} does not exist")
            continue
        try:
            source = manager._resolve(str(repo))
            if not looks_local:  # a remote: it must answer (with the GitHub token where it applies)
                manager._default_branch(source, _auth_config(source.auth_url, settings.github_token),
                                        _secrets_of(settings.github_token))
        except WorkspaceError as exc:
            problems.append(f"{where}: {exc}")
    if problems:
        return BAD, "; ".join(problems) + " — fix the path or URL in DROID_CONFIG (a local path must be a git repository)"
    return OK, f"{len(mapped)} mapped, all readable"


def check_database(settings: Settings) -> tuple[str, str]:
    """The database file can be created or written where DROID_DB says."""
    path = Path(settings.db_path).expanduser()
    folder = path.parent
    if not folder.is_dir():
        return BAD, f"the folder {folder} does not exist — create it or set DROID_DB to a file in an existing folder"
    if path.exists() and not (path.is_file() and os.access(path, os.R_OK | os.W_OK)):
        return BAD, f"{path} is not a writable file — fix its permissions or set DROID_DB"
    if not os.access(folder, os.W_OK | os.X_OK):
        return BAD, f"the folder {folder} is not writable — fix its permissions or set DROID_DB"
    return OK, f"{path} is writable"


def check_port(settings: Settings, port: int | None = None) -> tuple[str, str]:
    """The HTTP port is free on DROID_HOST (when serve listens: HTTP mode, or Sentry webhooks)."""
    from bot.tickets.routes import any_configured
    if settings.slack_app_token and not settings.sentry_webhook_secret and not any_configured(settings):
        return OFF, "Socket Mode without Sentry or ticket webhooks: no HTTP port needed"
    port = settings.port if port is None else port
    if port == 0:
        return OK, "port 0: serve picks a free port"
    try:
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        with socket.create_server((settings.host, port), family=family):
            pass
    except OSError as exc:
        return BAD, (f"cannot listen on {settings.host}:{port}: {exc.strerror or exc} — stop what uses it, "
                     "or set PORT / DROID_HOST")
    return OK, f"{settings.host}:{port} is free"


def check_tickets(settings: Settings) -> tuple[str, str]:
    """The routing of tickets: each `jira_projects` channel has a repository; each `ticket_repos` target is one."""
    from bot.orchestration.repo_choice import find_repo
    routing = settings.routing
    if not (routing.jira_projects or routing.ticket_repos):
        return OFF, "no jira_projects / ticket_repos in DROID_CONFIG: labelled Jira tickets start no run"
    problems = [f"jira_projects {project} → {channel}: that channel has no repository (channels / default_repo)"
                for project, channel in routing.jira_projects.items() if not routing.repos_for(channel)]
    every = [routing.repos_for(ch) for ch in {*routing.channel_repos, *routing.channel_repo_lists}]
    if routing.default_repo:
        every.append((routing.default_repo,))
    problems += [f"ticket_repos {value}: `{name}` is no channel's repository (its path, last part or GitHub name)"
                 for value, name in routing.ticket_repos.items() if not any(find_repo(routing, r, name) for r in every)]
    if problems:
        return BAD, "; ".join(problems) + " — fix DROID_CONFIG"
    return OK, f"{len(routing.jira_projects)} Jira project(s) mapped to channels, {len(routing.ticket_repos)} ticket mapping(s)"


def check_broker(settings: Settings) -> tuple[str, str]:
    """With DROID_BROKER_URL: Redis answers, and which `droid worker` processes answer a ping."""
    if not settings.broker_url:
        return OFF, "DROID_BROKER_URL not set: runs execute inside `droid serve` (set it to scale out to workers)"
    from bot.orchestration.executors import BrokerUnavailable, workers
    from bot.orchestration.executors import check_broker as ping_broker
    try:
        ping_broker(settings.broker_url)
    except BrokerUnavailable as exc:
        return BAD, f"{exc} — start Redis or fix DROID_BROKER_URL"
    seen = workers(settings)
    if not seen:
        return BAD, f"{settings.broker_url} answers, but no worker does — start `droid worker`"
    return OK, f"{settings.broker_url}; {len(seen)} worker(s): {', '.join(seen)}"


CHECKS: list[tuple[str, Callable[[Settings], tuple[str, str]]]] = [
    ("Slack tokens", check_tokens), ("Repositories", check_repos), ("Database", check_database),
    ("Port", check_port), ("Slack", check_slack), ("Model", check_model), ("GitHub", check_github),
    ("Jira", check_jira), ("Tickets", check_tickets), ("Sentry", check_sentry), ("Broker", check_broker),
]


def run_checks(settings: Settings, out=print, port: int | None = None) -> bool:
    """Print each check; True when nothing is broken."""
    healthy = True
    out(f"{OK} settings: database {settings.db_path}, repos {dict(settings.routing.channel_repos) or '-'}, "
        f"default repo {settings.routing.default_repo or '-'}")
    for name, check in CHECKS:
        try:
            mark, detail = check_port(settings, port) if check is check_port else check(settings)
        except Exception as exc:  # noqa: BLE001 — a check that breaks is reported, and counts as broken
            mark, detail = BAD, f"the check failed: {type(exc).__name__}: {exc}"
        healthy &= mark != BAD
        out(f"{mark} {name}: {detail}")
    return healthy


def port_number(text: str) -> int:
    """A TCP port: a whole number from 0 to 65535."""
    import argparse
    try:
        value = int(text, 10)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return value


def cli_main(argv: list[str]) -> int:
    """Exit 0 when `droid serve` can start and everything configured works, 1 otherwise."""
    from bot.cli import ArgParser, output_redactor

    parser = ArgParser(prog="droid doctor", description="Check everything droid serve needs.")
    parser.add_argument("--port", type=port_number, help="the port serve will be given (default: PORT or 3000)")
    args = parser.parse_args(argv)
    redact = output_redactor()

    def out(line: str) -> None:
        print(redact(line), flush=True)

    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        for problem in exc.problems:
            out(f"{BAD} settings: {problem}")
        return 1
    return 0 if run_checks(settings, out, args.port) else 1
