"""Alerts: Sentry messages in alert channels, "Analyse with droid" on any message, and the RCA buttons."""

from __future__ import annotations

import logging
import time

from bot import blocks, mrkdwn
from bot.middleware.dedupe import once_per_delivery
from integrations.sentry_alert import AlertRef, alert_from_message

log = logging.getLogger("droid.alerts")


def register(app, deps) -> None:
    """Listen for channel messages (alert channels only), the message shortcut and the RCA buttons."""

    @app.event("message")
    @once_per_delivery(deps.store.deliveries)
    def on_message(event: dict, body: dict) -> None:
        handle_message(deps, event, body.get("team_id", ""))

    @app.shortcut("droid_analyse")
    def on_shortcut(ack, body: dict) -> None:
        ack()
        message, channel, user = body.get("message") or {}, (body.get("channel") or {}).get("id"), body["user"]["id"]
        alert = alert_from_message(message, from_person=not message.get("bot_id"))
        if alert is None or not channel:
            return deps.poster.ephemeral(channel, user, "That message links no Sentry issue droid can analyse.")
        start_rca(deps, alert, channel=channel, ts=message.get("ts"), thread_ts=message.get("thread_ts") or message.get("ts"),
                  requester=user, team=(body.get("team") or {}).get("id", ""))

    @app.action("droid_rca_fix")
    def on_draft_fix(ack, body: dict) -> None:
        ack()
        draft_fix(deps, body)

    @app.action("droid_rca_jira")
    def on_jira(ack, body: dict) -> None:
        ack()
        create_ticket(deps, body)


def handle_message(deps, event: dict, team: str) -> None:
    """A reply in a running run's thread steers it; in alert channels, a Sentry alert starts an RCA."""
    channel = event.get("channel")
    routing = deps.settings.routing
    if steer(deps, event):
        return
    if channel not in routing.alert_channels or event.get("subtype") not in (None, "bot_message"):
        return
    from_bot = bool(event.get("bot_id") or event.get("subtype") == "bot_message")
    if from_bot and not routing.reads_alerts_from(event):
        return
    if not from_bot and "<@" in (event.get("text") or ""):
        return  # a mention: the app_mention listener handles it
    alert = alert_from_message(event, from_person=not from_bot)
    if alert is None:
        return
    start_rca(deps, alert, channel=channel, ts=event["ts"], thread_ts=event.get("thread_ts") or event["ts"],
              requester=event.get("user") or event.get("bot_id") or "sentry", team=team)


def steer(deps, event: dict) -> bool:
    """A person's reply (without a mention) in the thread of an executing run is handed to its agent."""
    thread_ts, user, text = event.get("thread_ts"), event.get("user"), event.get("text") or ""
    if not (thread_ts and user) or event.get("bot_id") or event.get("subtype") or "<@" in text:
        return False
    run = deps.store.runs.active_in_thread(event["channel"], thread_ts)
    if run is None or run.state != "executing":
        return False
    deps.store.events.append(run.run_id, "follow_up", user=user, text=text)
    deps.poster.react(event["channel"], event["ts"], "eyes")     # quiet acknowledgement: no extra message
    return True


def start_rca(deps, alert: AlertRef, *, channel: str, ts: str, thread_ts: str, requester: str, team: str,
              event_payload: dict | None = None):
    """Create the RCA run (or point at the recent one for the same issue) and start it on the executor."""
    key = alert.key
    cooldown = deps.settings.rca_cooldown_minutes * 60
    recent = deps.store.runs.recent_with("sentry_issue", key, time.time() - cooldown) if key else None
    if recent and recent.trigger_ts != ts:
        link = _permalink(deps, recent.channel, recent.thread_ts)
        minutes = max(1, int((time.time() - recent.created_at) // 60))
        deps.poster.post(channel, thread_ts, blocks.notice(
            f"Same Sentry issue as an alert {minutes} min ago — see the analysis there: {mrkdwn.link(link) if link else recent.run_id} "
            f"(state: {recent.state.replace('_', ' ')}). droid skips repeats for "
            f"{int(deps.settings.rca_cooldown_minutes)} min."))
        return recent
    context = {"sentry_issue": key, "sentry_org": alert.org, "alert_source": alert.source,
               "issue_url": alert.url}
    if event_payload:
        context["event"] = event_payload
    run, created = deps.store.runs.create(channel=channel, trigger_ts=ts, thread_ts=thread_ts, requester=requester,
                                          skill="rca", task=alert.title or f"Sentry issue {key}", team=team,
                                          repo=deps.settings.routing.repo_for(channel),
                                          context={k: v for k, v in context.items() if v})
    if created:
        deps.store.events.append(run.run_id, "created", user=requester, task=run.task, skill="rca",
                                 alert=alert.source, sentry_issue=key)
        deps.runner.submit(deps.runner.plan, run.run_id)
    return run


def draft_fix(deps, body: dict) -> None:
    """Start a code-change run in the thread with the RCA as context: a plan to approve."""
    rca, user, channel = _clicked_run(deps, body)
    if rca is None:
        return
    task = f"Draft a fix for: {rca.task}"
    trigger = f"{rca.trigger_ts}-fix-{user}"
    run, created = deps.store.runs.create(channel=channel, trigger_ts=trigger, thread_ts=rca.thread_ts,
                                          requester=user, skill="code_change", task=task, team=rca.team,
                                          repo=rca.repo, context={"extra": mrkdwn.plain(rca.result or "")[:6000],
                                                                  "from_rca": rca.run_id})
    if created:
        deps.store.events.append(run.run_id, "created", user=user, task=task, skill="code_change", from_rca=rca.run_id)
        deps.runner.submit(deps.runner.plan, run.run_id)
    else:
        deps.poster.ephemeral(channel, user, f"A fix run already exists: {run.run_id} ({run.state}).", rca.thread_ts)


def create_ticket(deps, body: dict) -> None:
    """File a Jira ticket with the RCA summary and links; reply with its key."""
    rca, user, channel = _clicked_run(deps, body)
    if rca is None:
        return
    settings = deps.settings
    project = settings.routing.jira_project
    if not (settings.jira_url and project):
        return deps.poster.ephemeral(channel, user, "Jira is not configured: set JIRA_URL, JIRA_USER, JIRA_API_TOKEN "
                                     "and `jira_project` in DROID_CONFIG.", rca.thread_ts)
    from integrations.jira_client import JiraClient, JiraError
    link = _permalink(deps, rca.channel, rca.thread_ts)
    description = deps.redact(f"{mrkdwn.plain(rca.result or '')}\n\nSlack thread: {link or rca.run_id}\n"
                              f"Sentry: {rca.context.get('issue_url') or rca.context.get('sentry_issue')}")
    try:
        ticket = JiraClient(settings.jira_url, settings.jira_user, settings.jira_token).create_ticket(
            project, deps.redact(rca.task)[:250], description)
    except JiraError as exc:
        return deps.poster.post(channel, rca.thread_ts, blocks.notice(f"❌ Could not create the Jira ticket: {exc}"))
    deps.store.events.append(rca.run_id, "jira_ticket", key=ticket.key, user=user)
    deps.poster.post(channel, rca.thread_ts, blocks.notice(
        f"🎫 {mrkdwn.link(ticket.url, ticket.key)} created by {mrkdwn.mention(user)}."))


def _clicked_run(deps, body: dict):
    try:
        run_id, _ = blocks.parse_button_value(body["actions"][0]["value"])
        user = body["user"]["id"]
        channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
    except (KeyError, IndexError, TypeError, ValueError):
        log.warning("malformed RCA button payload ignored")
        return None, None, None
    run = deps.store.runs.get(run_id)
    return run, user, channel


def _permalink(deps, channel: str, ts: str) -> str | None:
    try:
        return deps.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
    except Exception:  # noqa: BLE001 — a link is nice to have
        return None


