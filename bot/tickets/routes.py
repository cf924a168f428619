"""The ticket webhooks' HTTP routes, for bot/slack/http_server.py."""

from __future__ import annotations

from bot.tickets.github_webhook import PATH as GITHUB_PATH
from bot.tickets.github_webhook import github_route
from bot.tickets.jira_webhook import CLOUD_PATH, SERVER_PREFIX, jira_route, jira_server_route


def ticket_routes(deps) -> dict:
    """POST /jira/webhook, /jira/webhook/<token> and /github/webhook."""
    return {CLOUD_PATH: jira_route(deps), SERVER_PREFIX: jira_server_route(deps), GITHUB_PATH: github_route(deps)}


def any_configured(settings) -> bool:
    """True when some ticket webhook can be accepted (so the HTTP server is needed in Socket Mode too)."""
    return bool(settings.jira_webhook_secret or settings.jira_server_webhook_token or settings.github_webhook_secret)
