"""One authorisation policy: every verb on a run asks here, and so does every mention (where droid acts at all).

Who may act on a run: its requester, the configured `approvers`, and the approvers the routing file adds
for the run's channel (`channels: {C1: {repo: ..., approvers: [U1]}}`). Anyone else's attempt changes
nothing: it is recorded in the run's event log and the person is told privately (chat.postEphemeral).
Their replies in the thread are kept as `comment` events, which never reach the agent.
"""

from __future__ import annotations

from bot.slack import mrkdwn

# verb -> how the refusal names it
VERBS = {
    "approve": "approve", "revise": "revise", "cancel": "cancel", "stop": "stop", "extend": "extend",
    "steer": "steer", "draft_fix": "draft a fix for", "create_ticket": "file a Jira ticket for",
}


def may_act(routing, run, user: str | None) -> bool:
    """True when `user` is the run's requester or an approver (global or of the run's channel)."""
    return bool(user) and (user == run.requester or user in routing.approvers_for(run.channel))


def allow(deps, run, user: str, verb: str, channel: str | None = None) -> bool:
    """Ask the policy; on a refusal record a `refused` event, tell `user` privately, and return False.

    `channel` is where the click came from: droid's buttons live in the run's own thread, so a click that
    names another channel is refused whoever sent it (it would act, or post, where the run does not live)."""
    elsewhere = bool(channel) and channel != run.channel
    if not elsewhere and may_act(deps.settings.routing, run, user):
        return True
    deps.store.events.append(run.run_id, "refused", user=user, action=verb, **({"channel": channel} if elsewhere else {}))
    text = (f"That button belongs to run {run.run_id} in another channel. Nothing was changed." if elsewhere
            else refusal(deps.settings.routing, run, verb))
    deps.poster.ephemeral(channel or run.channel, user, text, run.thread_ts if not elsewhere else None)
    return False


def refusal(routing, run, verb: str) -> str:
    """The private refusal: who may act instead, and that nothing changed."""
    who, action = deciders(routing, run), VERBS.get(verb, verb)
    if not who:
        return (f"Nobody may {action} run {run.run_id} yet: ask an admin to add approvers in DROID_CONFIG "
                "(`approvers`, or `channels: {CHANNEL: {approvers: [...]}}`). Nothing was changed.")
    return f"Only {who} can {action} run {run.run_id}. Nothing was changed."


def deciders(routing, run) -> str:
    """"<@requester> or an approver (<@U1>, <@U2>)", naming only people (not a bot that raised an alert)."""
    approvers = ", ".join(mrkdwn.mention(u) for u in routing.approvers_for(run.channel))
    requester = mrkdwn.mention(run.requester) if run.requester[:1] in ("U", "W") else ""
    return " or ".join(p for p in (requester, f"an approver ({approvers})" if approvers else "") if p)


def comment(deps, run, user: str, text: str) -> None:
    """Someone else's words in a run's thread: kept as a `comment`, never handed to the agent; told once."""
    deps.store.events.append(run.run_id, "comment", user=user, text=text)
    if deps.store.deliveries.first_time(f"comment-note:{run.run_id}:{user}"):     # atomic: replies race
        who = deciders(deps.settings.routing, run) or "its approvers"
        deps.poster.ephemeral(run.channel, user, f"Your message is kept with run {run.run_id} as a comment, but "
                              f"droid takes direction on this run only from {who}.", run.thread_ts)


def unmapped_notice(channel: str) -> str:
    """The one reply to a mention in a channel droid does not act in."""
    return (f"droid does not act in this channel yet: no repository is mapped to it. Ask an admin to add it to "
            f"DROID_CONFIG, e.g. `channels: {{{channel}: {{repo: /path/or/url}}}}` (or set `default_repo`, "
            "or list it in `alert_channels`).")
