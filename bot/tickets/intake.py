"""Start a run from a ticket: once per trigger event, never while the ticket has an active run.

The run has no Slack trigger message: its trigger "ts" is synthetic (`ticket:PAY-142:<trigger>`) and its
thread is empty until the deliverer posts its first plan top-level in the mapped channel and records
that message as the thread (bot/tickets/toplevel.py). The trigger check, the run and the trigger's record
commit in one transaction; a crash after it leaves a `received` run, which recovery plans.
"""

from __future__ import annotations

import logging

from bot.orchestration.ticket_context import TRIGGER_COPY
from bot.tickets import people
from bot.tickets.triggers import trigger_ts
from integrations.tickets import Ticket
from state.runs import Run

log = logging.getLogger("droid.tickets")
SKILL = "code_change"      # a ticket handed to droid asks for a change: no classifier guess on its title
_unmapped_told: set[str] = set()
UNMAPPED_TOLD_MAX = 1000


def start_ticket_run(deps, ticket: Ticket, *, trigger: str, source: str, channel: str | None,
                     github_repo: str | None = None) -> Run | None:
    """Create (and queue the planning of) the run for one trigger event of a ticket; None when nothing starts."""
    key = ticket.key
    if not channel:
        where = ticket.ref.repo if ticket.ref.system == "github" else key.rsplit("-", 1)[0]
        if where not in _unmapped_told and len(_unmapped_told) < UNMAPPED_TOLD_MAX:   # once per project, not per issue
            _unmapped_told.add(where)
            log.warning("%s (%s, first seen: %s): no channel is mapped to this %s; nothing posted (jira_projects / "
                        "channels in DROID_CONFIG)", where, source, key,
                        "repository" if ticket.ref.system == "github" else "project")
        return None
    if deps.store.tickets.seen(key, trigger):
        return None
    requester = people.requester_for(deps.client, ticket)     # a Slack call: outside the transaction
    routing = deps.settings.routing
    repo = _repo(routing, channel, github_repo)
    task = f"{key}: {ticket.title}".strip()
    context = _context(ticket, trigger, source, github_repo or routing.github_for_repo(repo)
                       or routing.github_repo_for(channel))
    with deps.store.database.transaction():   # the check, the run and the trigger's record: together
        if deps.store.tickets.seen(key, trigger):
            return None
        if active := deps.store.tickets.active_run(key):
            deps.store.tickets.record(key, trigger, source, None)
            deps.store.events.append(active, "ticket_trigger_ignored", trigger=trigger, source=source,
                                     reason="the ticket already has an active run")
            log.info("%s: trigger %s (%s) ignored: run %s is still active", key, trigger, source, active)
            return None
        run, created = deps.store.runs.create(channel=channel, trigger_ts=trigger_ts(key, trigger), thread_ts="",
                                              requester=requester, skill=SKILL, task=task, repo=repo, context=context)
        deps.store.tickets.record(key, trigger, source, run.run_id)
        if created:
            deps.store.events.append(run.run_id, "created", user=requester or source, task=task, skill=SKILL,
                                     repo=repo, ticket=key, trigger=trigger, source=source)
    if created:
        log.info("%s: run %s started by %s (%s) in %s", key, run.run_id, source, trigger, channel)
        deps.runner.submit(deps.runner.plan, run.run_id)
    return run if created else None


def _repo(routing, channel: str, github_repo: str | None) -> str | None:
    """The channel's repository; for a GitHub issue, the one of the channel's repositories that is that repo."""
    if github_repo:
        for repo in routing.repos_for(channel):
            if (routing.github_for_repo(repo) or "").lower() == github_repo.lower():
                return repo
    return routing.repo_for(channel)


def _context(ticket: Ticket, trigger: str, source: str, github_repo: str | None) -> dict:
    # the trigger's copy of the ticket (no comments, links, acceptance-criteria field names): planning reads it in
    # full through the API (bot/orchestration/ticket_context.py), and keeps this copy if the tracker cannot answer
    context: dict = {"ticket": ticket.to_dict(), "ticket_refs": [ticket.ref.to_dict()], TRIGGER_COPY: True,
                     "trigger": {"source": source, "id": trigger}}
    if ticket.ref.system == "jira":
        context["jira_key"] = ticket.key
    else:
        context["github_issue"] = {"repo": ticket.ref.repo, "number": ticket.ref.number}
    if github_repo:
        context["github_repo"] = github_repo
    return context
