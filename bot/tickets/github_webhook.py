"""`POST /github/webhook`: an issue labelled with the ticket label (or opened with it) becomes a run.

Verified by bot/slack/webhook_guard.py (`X-Hub-Signature-256`, HMAC-SHA256 of the raw body with
GITHUB_WEBHOOK_SECRET; a repeated signature or `X-GitHub-Delivery` is answered 200 and ignored).
"""

from __future__ import annotations

import logging

from bot.slack.webhook_guard import GITHUB, TEXT, delivery_key, verified_route
from bot.tickets.convert import MalformedTicket, github_ticket
from bot.tickets.intake import start_ticket_run
from bot.tickets.triggers import github_trigger

log = logging.getLogger("droid.tickets")
PATH = "/github/webhook"


def github_route(deps):
    """The handler for POST /github/webhook."""
    return verified_route(GITHUB, deps.settings.github_webhook_secret, deps.store.deliveries,
                          deps.settings.webhook_max_age_seconds,
                          "GitHub webhooks are not configured (GITHUB_WEBHOOK_SECRET)",
                          lambda payload, headers: accept(deps, headers.get("x-github-event", ""), payload,
                                                          headers.get("x-github-delivery", "")))


def accept(deps, event: str, payload: dict, delivery: str) -> tuple[int, dict, str]:
    """Create the issue's run (committed before the 200, so a crash after it leaves a run recovery plans)."""
    from bot.slack.middleware.sanitize import clean
    if event == "ping":
        return 200, TEXT, "pong"
    payload = clean(payload)
    trigger = github_trigger(event, payload, deps.settings.ticket_label, delivery_key(delivery) if delivery.strip() else "")
    repository = payload.get("repository")
    repo = repository.get("full_name") if isinstance(repository, dict) else None
    if trigger is None:
        action = payload.get("action")
        return 200, TEXT, f"ignored: {event[:40]} {action[:40] if isinstance(action, str) else ''}".strip()
    try:
        ticket = github_ticket(payload["issue"], repo)
    except MalformedTicket as exc:
        log.warning("GitHub webhook with a malformed issue refused (%s)", exc)
        return 400, TEXT, f"malformed issue ({exc})"
    channel = deps.settings.routing.channel_for_github_repo(repo)
    start_ticket_run(deps, ticket, trigger=trigger, source="github_webhook", channel=channel, github_repo=repo)
    return 200, TEXT, "accepted"
