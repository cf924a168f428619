"""The JQL poll: every DROID_JIRA_POLL_SECONDS, issues matching DROID_JIRA_JQL become runs (once per trigger).

Run by APScheduler (bot/orchestration/schedules.py). Jira Cloud is searched with its enhanced search
(`search/jql`, token pagination), Server/Data Center with the classic search (integrations/jira_client.py).
"""

from __future__ import annotations

import logging
import time

from bot.tickets.convert import MalformedTicket, jira_project, jira_ticket
from bot.tickets.intake import start_ticket_run
from bot.tickets.triggers import poll_trigger

log = logging.getLogger("droid.tickets")
POLL_MAX = 200      # issues read per poll
_resume_at: dict[str, float] = {}     # Jira URL -> monotonic time before which a rate-limited poll does not search


def poll_enabled(settings) -> bool:
    """True when Jira is configured, a JQL is set and the interval is not 0."""
    return bool(settings.jira_url and settings.jira_jql and settings.jira_poll_seconds > 0)


def poll_jira(deps, jira=None) -> list[str]:
    """Search the JQL once and start a run for each new trigger; returns the ids of the runs started."""
    from integrations.jira_client import JiraClient, JiraError
    settings = deps.settings
    if time.monotonic() < _resume_at.get(settings.jira_url, 0.0):
        return []                         # Jira asked to wait (Retry-After): this tick does not ask again
    client = jira or JiraClient(settings.jira_url, settings.jira_user, settings.jira_token, redact=deps.redact)
    try:
        issues = client.search(settings.jira_jql, POLL_MAX)
    except JiraError as exc:
        wait = f"; Jira asked to wait {exc.retry_after:.0f} s" if exc.retry_after else ""
        if exc.retry_after:
            _resume_at[settings.jira_url] = time.monotonic() + exc.retry_after
        log.warning("Jira poll failed: %s%s", exc, wait)
        return []
    finally:
        if jira is None:
            client.close()
    started, skipped = [], []
    for raw in issues:
        try:
            run = _start(deps, raw)
        except MalformedTicket as exc:        # one odd issue never stops the others (nor floods the log)
            skipped.append(f"malformed {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 — e.g. the database: the next tick sees the issue again
            skipped.append(type(exc).__name__)
            continue
        if run is not None:
            started.append(run.run_id)
    if skipped:
        log.warning("Jira poll: %d issue(s) skipped (%s)", len(skipped), ", ".join(sorted(set(skipped))[:5]))
    return started


def _start(deps, raw):
    """The run for one issue the search found (None when nothing starts); MalformedTicket for a bad issue."""
    from bot.slack.middleware.sanitize import clean
    settings = deps.settings
    raw = clean(raw)              # lone surrogates and NULs, as webhooks get at ingress: SQLite and Slack refuse them
    ticket = jira_ticket(raw, settings.jira_url)
    channel = settings.routing.channel_for_jira_project(jira_project(raw))
    return start_ticket_run(deps, ticket, trigger=poll_trigger(raw, settings.ticket_label), source="jira_poll",
                            channel=channel)


def poll_safely(deps) -> None:
    """The scheduled job: one poll, never raising into the scheduler."""
    try:
        poll_jira(deps)
    except Exception:  # noqa: BLE001 — the next interval tries again
        log.exception("Jira poll failed")
