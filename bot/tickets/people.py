"""Who asked: a ticket's reporter, else its assignee, when their email is a Slack user (`users.lookupByEmail`).

Nobody found means no requester: only the configured approvers may then decide on the run
(bot/slack/policy.py refuses everyone else). Text in the ticket never names who approves.
A lookup failure that is not about the one email (rate limit, missing scope, bad token, Slack down) pauses
lookups for that workspace (its Retry-After, else PAUSE_SECONDS) and is logged once, not once per ticket.
"""

from __future__ import annotations

import logging
import time

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from integrations.tickets import Ticket

log = logging.getLogger("droid.tickets")
LOOKUP_TIMEOUT = 3     # seconds per lookup, no retries: a webhook waits for it (GitHub gives up after 10 s)
PAUSE_SECONDS = 60.0   # no lookups for this long after a workspace-wide failure
PER_EMAIL = {"users_not_found", "user_not_found", "invalid_email"}
_paused_until: dict[str, float] = {}      # Slack API base URL -> monotonic time lookups resume


def requester_for(client, ticket: Ticket) -> str:
    """The Slack user id of the ticket's reporter, else its assignee, by email; "" when neither maps."""
    client = WebClient(token=client.token, base_url=client.base_url, timeout=LOOKUP_TIMEOUT, retry_handlers=[])
    if time.monotonic() < _paused_until.get(client.base_url, 0.0):
        return ""
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
        error = str(exc.response.get("error") or "") if exc.response is not None else ""
        if error not in PER_EMAIL:
            _pause(client, error or type(exc).__name__, _retry_after(exc.response))
        return None
    except Exception as exc:  # noqa: BLE001 — no requester is the safe answer: approvers decide
        _pause(client, type(exc).__name__, None)
        return None
    if user.get("deleted") or user.get("is_bot") or not user.get("id"):
        return None
    return str(user["id"])


def _pause(client, error: str, retry_after: float | None) -> None:
    """Stop looking people up in this workspace for a while; say so once."""
    seconds = retry_after if retry_after is not None else PAUSE_SECONDS
    _paused_until[client.base_url] = time.monotonic() + seconds
    log.warning("users.lookupByEmail failed (%s): no lookups for %d s; runs started meanwhile have no requester "
                "(only approvers may decide)", error[:80], seconds)


def _retry_after(response) -> float | None:
    try:
        headers = {str(k).lower(): v for k, v in response.headers.items()}
        return max(1.0, min(float(headers.get("retry-after")), 3600.0))
    except (AttributeError, TypeError, ValueError):
        return None
