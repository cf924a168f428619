"""`@droid <task>`: create the run (idempotent on the message) and plan it on droid's executor."""

from __future__ import annotations

import logging
import re

from bot.orchestration import ticket_context
from bot.slack import blocks, mrkdwn, policy
from bot.slack.middleware.dedupe import record_delivery
from skills.registry import choose

log = logging.getLogger("droid.mention")
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def task_text(text: str) -> str:
    """The task with the bot mention(s) removed."""
    return MENTION.sub("", text or "").strip()


def register(app, deps) -> None:
    """Listen for app mentions."""

    @app.event("app_mention", middleware=[record_delivery(deps.store.deliveries)])
    def on_mention(event: dict, body: dict) -> None:
        delivery = body.get("event_id")
        handle_delivery(deps, delivery if isinstance(delivery, str) else None, event, body.get("team_id", ""))


def handle_delivery(deps, delivery: str | None, event: dict, team: str) -> None:
    """Handle a recorded mention delivery; whatever happens, it is then marked handled (a run's creation marks
    it in its own transaction, so a crash before that leaves it for recovery to replay)."""
    try:
        handle_mention(deps, event, team, delivery)
    finally:
        if delivery:
            deps.store.deliveries.handled(delivery)


def replay_unhandled(deps) -> list[str]:
    """Mentions a previous process acknowledged but died before handling: handle them now; returns event ids."""
    replayed = []
    for delivery, payload in deps.store.deliveries.unhandled():
        event = payload.get("event")
        log.info("replaying mention delivery %s left unhandled by the previous process", delivery)
        handle_delivery(deps, delivery, event if isinstance(event, dict) else {}, payload.get("team_id") or "")
        replayed.append(delivery)
    return replayed


def handle_mention(deps, event: dict, team: str, delivery: str | None = None) -> None:
    """A mention starts a run, or is a follow-up to the active run of its thread."""
    user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
    if not (user and channel and ts):
        log.warning("app_mention without user/channel/ts ignored: %s", {k: event.get(k) for k in ("user", "channel", "ts")})
        return
    if event.get("bot_id") and channel not in deps.settings.routing.alert_channels:
        return
    thread_ts = event.get("thread_ts") or ts
    if not deps.settings.routing.acts_in(channel):
        deps.poster.post(channel, thread_ts, blocks.notice(policy.unmapped_notice(channel)))
        return
    task = task_text(event.get("text", ""))
    in_thread = bool(event.get("thread_ts"))
    active = deps.store.runs.active_in_thread(channel, thread_ts) if in_thread else None
    if active:
        return follow_up(deps, active, user, task)
    latest = deps.store.runs.latest_in_thread(channel, thread_ts) if in_thread else None
    if latest and latest.skill == "rca" and not _asks_for_change(task):
        return follow_up(deps, latest, user, task)
    if in_thread and not latest and channel in deps.settings.routing.alert_channels:
        if _analyse_thread_alert(deps, channel, thread_ts, user, team):
            return
    if not task:
        deps.poster.post(channel, thread_ts, blocks.notice(
            "What should I do? Mention me with a task, e.g. `@droid where is the retry logic for webhooks?`"))
        return
    skill = choose(task)
    routing = deps.settings.routing
    context = {"github_repo": routing.github_repo_for(channel)} if routing.github_repo_for(channel) else {}
    context.update(ticket_context.mention_context(deps, event, task))
    if skill.name == "code_change" and _ticket_taken(deps, channel, thread_ts, context):
        if delivery:
            deps.store.deliveries.handled(delivery)
        return
    with deps.store.database.transaction():   # the run (state `received`) and its delivery's mark: together
        run, created = deps.store.runs.create(channel=channel, trigger_ts=ts, thread_ts=thread_ts, requester=user,
                                              skill=skill.name, task=task, team=team,
                                              repo=routing.repo_for(channel), context=context)
        if created:
            deps.store.events.append(run.run_id, "created", user=user, task=task, skill=skill.name, repo=run.repo)
        if delivery:
            deps.store.deliveries.handled(delivery)
    if created:       # a crash from here on leaves a `received` run, which recovery plans
        deps.runner.submit(deps.runner.plan, run.run_id)


def _ticket_taken(deps, channel: str, thread_ts: str, context: dict) -> bool:
    """A change for a ticket that already has an unfinished run elsewhere: point there instead of a second PR."""
    issue = context.get("github_issue") or {}
    ticket = context.get("jira_key") or (f"{issue['repo']}#{issue['number']}" if issue else "")
    active = deps.store.runs.get(run_id) if ticket and (run_id := deps.store.tickets.active_run(ticket)) else None
    if active is None or (active.channel, active.thread_ts) == (channel, thread_ts):
        return False
    where = f"run {active.run_id}"
    try:
        if active.thread_ts:
            link = deps.client.chat_getPermalink(channel=active.channel, message_ts=active.thread_ts)["permalink"]
            where = mrkdwn.link(link, f"run {active.run_id}")
    except Exception as exc:  # noqa: BLE001 — the run id alone still says where
        log.info("no permalink for run %s: %s", active.run_id, exc)
    deps.poster.post(channel, thread_ts, blocks.notice(
        f"{ticket} already has an unfinished run: {where} ({active.state.replace('_', ' ')}). Follow it there, or "
        "cancel it before asking for another change."))
    return True


def _asks_for_change(task: str) -> bool:
    return choose(task).name == "code_change"


def _analyse_thread_alert(deps, channel: str, thread_ts: str, user: str, team: str) -> bool:
    """`@droid why?` under an alert nobody analysed yet: analyse the thread's parent message."""
    from bot.slack.listeners.alerts import start_rca
    from integrations.sentry_alert import alert_from_message
    try:
        parent = deps.client.conversations_replies(channel=channel, ts=thread_ts, limit=1)["messages"][0]
    except Exception as exc:  # noqa: BLE001 — without the parent there is nothing to analyse
        log.warning("could not read the alert thread's parent: %s", exc)
        return False
    alert = alert_from_message(parent, from_person=not parent.get("bot_id"))
    if alert is None:
        return False
    start_rca(deps, alert, channel=channel, ts=thread_ts, thread_ts=thread_ts, requester=user, team=team)
    return True


def follow_up(deps, run, user: str, text: str) -> None:
    """Record a follow-up; an executing agent gets it at its next step. Others' words are only comments."""
    if not policy.may_act(deps.settings.routing, run, user):
        return policy.comment(deps, run, user, text)
    deps.store.events.append(run.run_id, "follow_up", user=user, text=text)
    if run.skill == "rca" and not run.active:
        note = (f"Noted on the analysis (run {run.run_id}). The evidence above is all droid gathered without a model"
                + ("" if deps.settings.has_model else "; a written investigation needs ANTHROPIC_API_KEY")
                + ". Ask `@droid fix …` or click *Draft a fix* for a code-change plan.")
    elif run.state == "executing":
        note = f"Noted — I'll take this into account at my next step (run {run.run_id})."
    elif run.state == "awaiting_approval":
        note = f"Noted on run {run.run_id}. To change the plan, click *Revise* on plan v{run.plan_version}."
    else:
        note = f"Noted on run {run.run_id} ({run.state.replace('_', ' ')})."
    deps.poster.post(run.channel, run.thread_ts, blocks.notice(note))
