"""Alerts: Sentry messages in alert channels, "Analyse with droid" on any message, and the RCA buttons."""

from __future__ import annotations

import logging
import time

from bot.slack import blocks, mrkdwn, policy
from bot.slack.middleware.dedupe import once_per_delivery
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
        if not deps.settings.routing.acts_in(channel):
            return deps.poster.ephemeral(channel, user, policy.unmapped_notice(channel))
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
    """A reply (without a mention) in an executing run's thread: from the requester or an approver it is
    handed to the agent; from anyone else it is kept as a comment the agent never sees."""
    thread_ts, user, text = event.get("thread_ts"), event.get("user"), event.get("text") or ""
    if not (thread_ts and user) or event.get("bot_id") or event.get("subtype") or "<@" in text:
        return False
    run = deps.store.runs.active_in_thread(event["channel"], thread_ts)
    if run is None or run.state != "executing":
        return False
    if not policy.may_act(deps.settings.routing, run, user):
        policy.comment(deps, run, user, text)
        return True
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
    if rca is None or not policy.allow(deps, rca, user, "draft_fix", channel):
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
    """File one Jira ticket per run with the RCA summary and links; a second click links the same ticket."""
    rca, user, channel = _clicked_run(deps, body)
    if rca is None or not policy.allow(deps, rca, user, "create_ticket", channel):
        return
    settings = deps.settings
    project = settings.routing.jira_project
    if not (settings.jira_url and project):
        return deps.poster.ephemeral(channel, user, "Jira is not configured: set JIRA_URL, JIRA_USER, JIRA_API_TOKEN "
                                     "and `jira_project` in DROID_CONFIG.", rca.thread_ts)
    if not deps.store.runs.claim(rca.run_id, TICKET_KEY, {"by": user, "at": time.time()}):
        return _existing_ticket(deps, rca.run_id, channel, user)
    from integrations.jira_client import JiraError
    try:
        ticket = _file_ticket(deps, rca, project)
    except BaseException as exc:
        deps.store.runs.set_context_key(rca.run_id, TICKET_KEY, None)     # release the claim: a retry may file it
        if not isinstance(exc, JiraError):
            raise
        return deps.poster.post(channel, rca.thread_ts, blocks.notice(f"❌ Could not create the Jira ticket: {exc}"))
    deps.store.runs.set_context_key(rca.run_id, TICKET_KEY, {"key": ticket.key, "url": ticket.url, "by": user})
    deps.store.events.append(rca.run_id, "jira_ticket", key=ticket.key, user=user)
    deps.poster.post(channel, rca.thread_ts, blocks.notice(
        f"🎫 {mrkdwn.link(ticket.url, ticket.key)} created by {mrkdwn.mention(user)}."))


TICKET_KEY = "jira_ticket"


def _file_ticket(deps, rca, project: str):
    from integrations.jira_client import JiraClient
    settings = deps.settings
    link = _permalink(deps, rca.channel, rca.thread_ts)
    description = deps.redact(f"{mrkdwn.plain(rca.result or '')}\n\nSlack thread: {link or rca.run_id}\n"
                              f"Sentry: {rca.context.get('issue_url') or rca.context.get('sentry_issue')}")
    return JiraClient(settings.jira_url, settings.jira_user, settings.jira_token).create_ticket(
        project, deps.redact(rca.task)[:250], description)


def _existing_ticket(deps, run_id: str, channel: str, user: str) -> None:
    """The run already has its ticket (or one is being filed): point at it instead of filing another."""
    run = deps.store.runs.get(run_id)
    ticket = run.context.get(TICKET_KEY) or {}
    if ticket.get("key"):
        text = f"This analysis already has its Jira ticket: {mrkdwn.link(ticket['url'], ticket['key'])}."
    else:
        text = f"{mrkdwn.mention(ticket.get('by') or '')} is filing the Jira ticket for this analysis right now."
    deps.store.events.append(run_id, "jira_ticket_linked", key=ticket.get("key"), user=user)
    deps.poster.ephemeral(channel, user, text, run.thread_ts)


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


