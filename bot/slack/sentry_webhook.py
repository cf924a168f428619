"""Sentry's integration-platform webhooks on `droid serve`: verified, then posted and analysed in a channel."""

from __future__ import annotations

import logging

from bot.slack import blocks, mrkdwn
from bot.slack.webhook_guard import SENTRY, TEXT, verified_route
from integrations.sentry_alert import AlertRef

log = logging.getLogger("droid.sentry_webhook")
RESOURCES = {"event_alert": ("triggered",), "error": ("created",), "issue": ("created", "unresolved")}


def sentry_route(deps):
    """The handler for POST /sentry/webhook: (raw body, headers) -> (status, headers, body).

    Verified, fresh, new and a JSON object (bot/slack/webhook_guard.py), or refused with the matching status."""
    def accept(payload: dict, headers: dict) -> tuple[int, dict, str]:
        resource = headers.get("sentry-hook-resource", "")
        if payload.get("action") not in RESOURCES.get(resource, ()):
            return 200, TEXT, f"ignored: {resource} {payload.get('action')}"
        deps.runner.executor.submit(_guarded, deps, payload)
        return 200, TEXT, "accepted"

    return verified_route(SENTRY, deps.settings.sentry_webhook_secret, deps.store.deliveries,
                          deps.settings.webhook_max_age_seconds,
                          "Sentry webhooks are not configured (SENTRY_WEBHOOK_SECRET)", accept)


def _guarded(deps, payload: dict) -> None:
    try:
        deliver(deps, payload)
    except Exception:  # noqa: BLE001 — logged; the webhook was already acknowledged
        log.exception("Sentry webhook not delivered")


def deliver(deps, payload: dict) -> None:
    """Post the alert in the project's channel and start the RCA in its thread."""
    from bot.slack.listeners.alerts import start_rca
    from bot.slack.middleware.sanitize import clean
    from integrations.sentry_event import parse_event
    from integrations.sentry_links import parse_issue_url
    payload = clean(payload)   # lone surrogates / NULs from JSON escapes would fail SQLite and Slack later
    event = parse_event(payload)
    routing = deps.settings.routing
    project = str(event.project or "")
    channel = routing.sentry_projects.get(project) or (routing.alert_channels[0] if len(routing.alert_channels) == 1
                                                       else None)
    if not channel:
        log.warning("Sentry webhook for project %r: no channel configured (sentry_projects in DROID_CONFIG)", project)
        return
    data = payload.get("data") or {}
    inner = data.get("event") or data.get("error") or data.get("issue") or {}
    url = inner.get("web_url") or inner.get("permalink") or ""
    parsed = parse_issue_url(url) if url else None
    issue_id = event.issue_id or (parsed[1] if parsed else None)
    title = event.title or "Sentry alert"
    link = f" · {mrkdwn.link(url, 'open in Sentry')}" if url else ""     # the rest is raw: blocks escapes it
    text = f"🚨 *Sentry:* {title}\n{event.culprit or ''}{' · ' + event.short_id if event.short_id else ''}{link}"
    ts = deps.poster.post(channel, None, blocks.notice(text))
    alert = AlertRef("webhook", issue_id, event.short_id, parsed[0] if parsed else None, title, url or None)
    has_frames = bool(event.frames)
    start_rca(deps, alert, channel=channel, ts=ts, thread_ts=ts, requester="sentry", team="",
              event_payload=payload if has_frames else None)
