"""Who asked: a ticket's reporter, else its assignee, when their email is a Slack user (`users.lookupByEmail`).

Nobody found means no requester: only the configured approvers may then decide on the run
(bot/slack/policy.py refuses everyone else). Text in the ticket never names who approves.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.tickets import Ticket

log = logging.getLogger("droid.tickets")
LOOKUP_TIMEOUT = 3     # seconds per lookup, no retries: a webhook waits for it (GitHub gives up after 10 s)


def requester_for(client, ticket: Ticket) -> str:
    """The Slack user id of the ticket's reporter, else its assignee, by email; "" when neither maps."""
    client = WebClient(token=client.token, base_url=client.base_url, timeout=LOOKUP_TIMEOUT, retry_handlers=[])
    for role, person in (("reporter", ticket.reporter), ("assignee", ticket.assignee)):
        email = str((person or {}).get("email") or "").strip()
        if not email or "@" not in email:
            continue
        user = slack_user(client, email)
        if user:
            log.info("%s: requester is the %s (%s)", ticket.key, role, user)
            return user
    return ""


def slack_user(client, email: str) -> str | None:
    """The id of the active, human Slack user with this email, or None."""
    try:
        user = client.users_lookupByEmail(email=email).get("user") or {}
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else ""
        if error != "users_not_found":
            log.warning("users.lookupByEmail failed: %s", error or exc)
        return None
    except Exception as exc:  # noqa: BLE001 — no requester is the safe answer: approvers decide
        log.warning("users.lookupByEmail failed: %s", type(exc).__name__)
        return None
    if user.get("deleted") or user.get("is_bot") or not user.get("id"):
        return None
    return str(user["id"])
