"""Approve / Revise / Cancel / Stop / Extend: ask the policy who clicked, check the plan version, one CAS transition."""

from __future__ import annotations

import logging

from bot.slack import blocks, mrkdwn, policy
from skills.plan import Plan

log = logging.getLogger("droid.decisions")


def register(app, deps) -> None:
    """Listen for droid's buttons and the Revise modal."""
    for action_id, decide in (("droid_approve", approve), ("droid_cancel", cancel),
                              ("droid_revise", revise), ("droid_stop", stop)):
        app.action(action_id)(_button(deps, decide))

    @app.view("droid_revise_submit")
    def on_revise_submit(ack, body: dict) -> None:
        ack()
        revise_submitted(deps, body)


def _button(deps, decide):
    def listener(ack, body: dict) -> None:
        ack()
        click = Click.parse(body)
        if click is None:
            log.warning("droid button with a malformed payload ignored")
            return _unreadable(deps, body)
        run = deps.store.runs.get(click.run_id)
        if run is None:
            return deps.poster.ephemeral(click.channel, click.user, "That run no longer exists.")
        if not policy.allow(deps, run, click.user, verb(deps, run, click, decide.__name__), click.channel):
            return
        decide(deps, run, click, body)

    listener.__name__ = f"on_{decide.__name__}"
    return listener


def _unreadable(deps, body: dict) -> None:
    """Tell whoever clicked a button droid cannot read (an old message's, a tampered one) that nothing changed."""
    user, channel = body.get("user"), body.get("channel") or body.get("container")
    user = user.get("id") if isinstance(user, dict) else None
    channel = (channel.get("id") or channel.get("channel_id")) if isinstance(channel, dict) else None
    if isinstance(user, str) and isinstance(channel, str) and user and channel:
        deps.poster.ephemeral(channel, user, "droid could not read that button (it may belong to an older message). "
                              "Nothing was changed: use the buttons on the run's latest message.")


class Click:
    """Who clicked which droid button where."""

    def __init__(self, user: str, channel: str, run_id: str, version: int, trigger_id: str,
                 message_ts: str | None = None):
        self.user, self.channel, self.run_id, self.version, self.trigger_id = user, channel, run_id, version, trigger_id
        self.message_ts = message_ts      # the message whose button was clicked

    @classmethod
    def parse(cls, body: dict):
        """From a block_actions payload; None if it is not a well-formed droid button."""
        try:
            run_id, version = blocks.parse_button_value(body["actions"][0]["value"])
            channel = (body.get("channel") or {}).get("id") or body["container"]["channel_id"]
            message_ts = (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
            return cls(body["user"]["id"], channel, run_id, version, body.get("trigger_id", ""),
                       message_ts if isinstance(message_ts, str) else None)
        except (KeyError, IndexError, TypeError, ValueError):
            return None


def verb(deps, run, click, name: str) -> str:
    """The verb a click means: the Approve/Cancel buttons of a budget pause are Extend/Stop."""
    if name in ("approve", "cancel") and any(e.data.get("offered_version") == click.version
                                             for e in deps.store.events.for_run(run.run_id, "budget_reached")):
        return "extend" if name == "approve" else "stop"
    return name


def _stale(deps, run, click) -> bool:
    if click.version == run.plan_version:
        return False
    deps.poster.ephemeral(click.channel, click.user, f"That button belongs to plan v{click.version}, but run "
                          f"{run.run_id} is on plan v{run.plan_version} now. Use the buttons on v{run.plan_version}.",
                          run.thread_ts)
    return True


def _not_awaiting(deps, run, click) -> bool:
    if run.state == "awaiting_approval":
        return False
    if run.approved_by and run.approved_version == click.version:
        text = f"Plan v{click.version} was already approved by {mrkdwn.mention(run.approved_by)}."
    else:
        text = f"Run {run.run_id} is {run.state.replace('_', ' ')}; there is nothing to decide."
    deps.poster.ephemeral(click.channel, click.user, text, run.thread_ts)
    return True


def approve(deps, run, click, body) -> None:
    """Approve the current plan version: exactly one approval wins."""
    if _stale(deps, run, click) or _not_awaiting(deps, run, click):
        return
    with deps.store.database.transaction():     # the approval and the closing of its plan message: together
        won = deps.store.runs.transition(run.run_id, "awaiting_approval", "executing",
                                         approved_version=click.version, approved_by=click.user)
        if won:
            deps.store.events.append(run.run_id, "approved", user=click.user, version=click.version)
            _close_plan(deps, run, click, f"✅ Approved by {mrkdwn.mention(click.user)}.")
    if not won:
        return _not_awaiting(deps, deps.store.runs.get(run.run_id), click)
    deps.runner.submit(deps.runner.execute, run.run_id)


def cancel(deps, run, click, body) -> None:
    """Cancel a plan awaiting approval."""
    if _stale(deps, run, click) or _not_awaiting(deps, run, click):
        return
    with deps.store.database.transaction():     # the end state and what tells the thread: together
        won = deps.store.runs.transition(run.run_id, "awaiting_approval", "cancelled")
        if won:
            deps.store.events.append(run.run_id, "cancelled", user=click.user)
            _close_plan(deps, run, click, f"🚫 Cancelled by {mrkdwn.mention(click.user)}.")
            deps.runner.deliverer.post(run, blocks.notice(
                f"🚫 Run {run.run_id} cancelled by {mrkdwn.mention(click.user)}."), "droid_result")
    if not won:
        return _not_awaiting(deps, deps.store.runs.get(run.run_id), click)


def revise(deps, run, click, body) -> None:
    """Open the modal asking what to change."""
    if _stale(deps, run, click) or _not_awaiting(deps, run, click):
        return
    deps.client.views_open(trigger_id=click.trigger_id, view=blocks.revise_modal(run.run_id, click.version))


def stop(deps, run, click, body) -> None:
    """Stop an executing run; the agent stops before its next step."""
    if run.state != "executing":
        return deps.poster.ephemeral(click.channel, click.user,
                                     f"Run {run.run_id} is {run.state.replace('_', ' ')}; nothing to stop.")
    with deps.store.database.transaction():
        if deps.store.runs.transition(run.run_id, "executing", "cancelled"):
            deps.store.events.append(run.run_id, "stopped", user=click.user)
            deps.runner.deliverer.post(run, blocks.notice(
                f"⏹️ Stop requested by {mrkdwn.mention(click.user)}: run {run.run_id} stops before its next step."),
                "droid_result")


def revise_submitted(deps, body: dict) -> None:
    """The Revise modal was submitted: re-plan with the feedback (a new version)."""
    try:
        run_id, version = blocks.parse_button_value(body["view"]["private_metadata"])
        user = body["user"]["id"]
        feedback = body["view"]["state"]["values"]["feedback"]["text"]["value"] or ""
    except (KeyError, TypeError, ValueError):
        log.warning("malformed revise submission ignored")
        return
    run = deps.store.runs.get(run_id)
    if run is None or not policy.allow(deps, run, user, "revise") or version != run.plan_version:
        return
    if deps.store.runs.transition(run_id, "awaiting_approval", "planning"):
        deps.store.events.append(run_id, "revise_requested", user=user, version=version, feedback=feedback)
        deps.runner.submit(deps.runner.plan, run_id, feedback.strip())


def _close_plan(deps, run, click, outcome: str) -> None:
    """Queue (in the caller's transaction) the edit closing the clicked plan message: the plan, `outcome` for buttons.

    The clicked message's ts comes with the click, so this works before droid has recorded the plan's ts."""
    if not click.message_ts:
        return deps.runner.close_plan(run, outcome)
    data = deps.store.plans.get(run.run_id, click.version)
    if data:
        plan = Plan.from_dict(data)
        plan.version = click.version
        deps.runner.deliverer.update(run, blocks.plan_closed_message(run.run_id, plan, outcome), ts=click.message_ts,
                                     event_type="droid_plan_closed")
