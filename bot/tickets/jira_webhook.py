"""`POST /jira/webhook` (Jira Cloud admin webhooks, signed) and `POST /jira/webhook/<token>` (Server/DC, unsigned).

Jira Cloud: HMAC-SHA256 of the raw body with JIRA_WEBHOOK_SECRET in `X-Hub-Signature: sha256=…`, checked by
bot/slack/webhook_guard.py; a repeat (same signature, or same `X-Atlassian-Webhook-Identifier`) is answered
200 and ignored. Jira Server/Data Center webhooks carry no signature: they are accepted only at
`/jira/webhook/<JIRA_SERVER_WEBHOOK_TOKEN>` (constant-time compare), never when that token is unset, and a
repeated body is ignored. Either way the trigger table makes one run per trigger event.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import logging

from bot.slack.webhook_guard import JIRA, TEXT, delivery_key, verified_route
from bot.tickets.convert import MalformedTicket, jira_project, jira_ticket
from bot.tickets.intake import start_ticket_run
from bot.tickets.triggers import jira_webhook_trigger

log = logging.getLogger("droid.tickets")
CLOUD_PATH = "/jira/webhook"
SERVER_PREFIX = "/jira/webhook/"
JIRA_CLOUD = dataclasses.replace(JIRA, delivery_header="X-Atlassian-Webhook-Identifier")


def jira_route(deps):
    """The handler for POST /jira/webhook (Jira Cloud, signed)."""
    return verified_route(JIRA_CLOUD, deps.settings.jira_webhook_secret, deps.store.deliveries,
                          deps.settings.webhook_max_age_seconds,
                          "Jira webhooks are not configured (JIRA_WEBHOOK_SECRET)",
                          lambda payload, headers: accept(deps, payload))


def jira_server_route(deps):
    """The handler for POST /jira/webhook/<token> (Jira Server/Data Center, unsigned)."""

    def handle(body: bytes | str, headers: dict, path: str) -> tuple[int, dict, str]:
        expected = deps.settings.jira_server_webhook_token
        if not expected:
            return 404, TEXT, "not found"
        given = path[len(SERVER_PREFIX):]
        if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
            log.warning("Jira Server webhook with a wrong URL token refused")
            return 401, TEXT, "bad token"
        raw = body if isinstance(body, bytes) else body.encode()
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return 400, TEXT, "malformed JSON"
        if not isinstance(payload, dict):
            return 400, TEXT, "the body must be a JSON object"
        if not _first_time(deps, raw, headers):
            return 200, TEXT, "duplicate delivery ignored"
        return accept(deps, payload)

    handle.wants_bytes = True
    handle.wants_path = True
    return handle


def _first_time(deps, raw: bytes, headers: dict) -> bool:
    keys = [f"jira-server:body:{hashlib.sha256(raw).hexdigest()}"]
    identifier = {k.lower(): v for k, v in headers.items()}.get("x-atlassian-webhook-identifier")
    if identifier:
        keys.append(f"jira-server:id:{delivery_key(identifier)}")
    return all([deps.store.deliveries.first_time(key) for key in keys])


def accept(deps, payload: dict) -> tuple[int, dict, str]:
    """Create the ticket's run (committed before the 200, so a crash after it leaves a run recovery plans)."""
    from bot.slack.middleware.sanitize import clean
    payload = clean(payload)
    trigger = jira_webhook_trigger(payload, deps.settings.ticket_label)
    issue = payload.get("issue")
    if trigger is None or not isinstance(issue, dict) or not issue.get("key"):
        event = payload.get("webhookEvent")
        return 200, TEXT, f"ignored: {event[:60] if isinstance(event, str) else 'event'}"
    try:
        ticket, project = jira_ticket(issue, deps.settings.jira_url), jira_project(issue)
    except MalformedTicket as exc:
        log.warning("Jira webhook with a malformed issue refused (%s)", exc)
        return 400, TEXT, f"malformed issue ({exc})"
    channel = deps.settings.routing.channel_for_jira_project(project)
    start_ticket_run(deps, ticket, trigger=trigger, source="jira_webhook", channel=channel)
    return 200, TEXT, "accepted"
