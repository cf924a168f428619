"""A ticket is context: the refs a mention carries, reading them while planning, and what the model sees.

The listener only finds references (`mention_context`); the tickets are read on droid's executor
(`read_tickets`, called while drafting a plan), once per run: a re-plan reuses what was read. Ticket
text is untrusted: `fetch` bounds and redacts it; the planner and the agent get it inside <ticket>
tags labelled as facts, never instructions; nothing here lets it choose the repository, the branch
or the approvers (those come from routing and settings only).
"""

from __future__ import annotations

import logging
from urllib.parse import urlparse

from integrations.tickets import Ticket, TicketError, TicketRef, fetch, find_refs

log = logging.getLogger("droid.tickets")

MAX_TICKETS = 3          # tickets read for one run
MAX_REFS = 10            # refs kept in a run's context
THREAD_MESSAGES = 50     # messages of a thread looked at for refs (the parent and the latest before the mention)
THREAD_CHARS = 4000      # characters of each message looked at
TRIGGER_COPY = "ticket_from_trigger"   # run-context flag: `ticket` is only what a webhook or the poll carried


def refs_in(settings, text: str) -> list[TicketRef]:
    """Ticket references in `text`, as configured (Jira host, GitHub host, routing.jira_projects)."""
    return find_refs(text, jira_url=settings.jira_url, github_url=settings.github_url,
                     jira_projects=tuple(settings.routing.jira_projects))


def thread_refs(client, settings, channel: str, thread_ts: str, before_ts: str) -> list[TicketRef]:
    """Refs in a thread's earlier messages (conversations.replies, one bounded call); [] when unreadable."""
    try:
        messages = client.conversations_replies(channel=channel, ts=thread_ts, limit=THREAD_MESSAGES)["messages"]
    except Exception as exc:  # noqa: BLE001 — the thread is extra context, not required
        log.warning("could not read thread %s for ticket refs: %s", thread_ts, exc)
        return []
    earlier = [m for m in messages or [] if _ts(m.get("ts")) < _ts(before_ts)]
    earlier = earlier[:1] + earlier[1:][-(THREAD_MESSAGES - 1):]
    return refs_in(settings, "\n".join(str(m.get("text") or "")[:THREAD_CHARS] for m in earlier))


def mention_context(deps, event: dict, task: str) -> dict:
    """Run-context keys for a mention: `ticket_refs` (the mention's first, then its thread's), `jira_key`
    (the first Jira ref), `github_issue` (the first GitHub ref)."""
    refs = refs_in(deps.settings, task)
    if event.get("thread_ts"):
        refs += thread_refs(deps.client, deps.settings, event.get("channel", ""), event["thread_ts"],
                            event.get("ts", ""))
    unique: dict[str, TicketRef] = {}
    for ref in refs:
        unique.setdefault(ref.key, ref)
    refs = list(unique.values())[:MAX_REFS]
    context: dict = {"ticket_refs": [r.to_dict() for r in refs]} if refs else {}
    if jira := next((r for r in refs if r.system == "jira"), None):
        context["jira_key"] = jira.key
    if github := next((r for r in refs if r.system == "github"), None):
        context["github_issue"] = {"repo": github.repo, "number": github.number}
    return context


def read_tickets(deps, run) -> list[Ticket]:
    """Read the run's tickets on droid's executor (never on the ack path) and keep them in its context.

    `deps` needs settings, store and redact (the runner has them). A ticket that cannot be read is an
    event and a note on the plan, never a crash. Read once: a re-plan reuses the stored tickets. A ticket run's
    copy from its trigger (TRIGGER_COPY) is read in full here; if that read fails the copy is kept, with no note."""
    partial = bool(run.context.get(TRIGGER_COPY))
    if ("ticket" in run.context and not partial) or "ticket_errors" in run.context:
        return stored(run)
    refs = [TicketRef.from_dict(r) for r in run.context.get("ticket_refs") or []]
    if not refs:     # e.g. "Draft a fix" from an analysis: its text, then the alert it analysed
        refs = refs_in(deps.settings, f"{run.task}\n{run.context.get('extra') or ''}")
    if not refs and run.context.get("from_rca"):
        refs = alert_refs(deps, run)
    if not refs:
        return []
    tickets, errors = [], []
    for ref in refs[:MAX_TICKETS]:
        if reason := refusal(deps.settings, ref):
            errors.append(reason)
            deps.store.events.append(run.run_id, "ticket_read", key=ref.key, system=ref.system, ok=False,
                                     error=reason)
            continue
        try:
            ticket = fetch(deps.settings, ref, deps.redact)
        except TicketError as exc:
            errors.append(str(exc))
            deps.store.events.append(run.run_id, "ticket_read", key=ref.key, system=ref.system, ok=False,
                                     error=str(exc))
            continue
        except Exception as exc:  # noqa: BLE001 — a tracker's surprise must not cost the plan
            log.exception("run %s: reading %s failed", run.run_id, ref.key)
            errors.append(f"{ref.key}: could not be read ({type(exc).__name__})")
            deps.store.events.append(run.run_id, "ticket_read", key=ref.key, system=ref.system, ok=False,
                                     error=type(exc).__name__)
            continue
        tickets.append(ticket)
        deps.store.events.append(run.run_id, "ticket_read", key=ticket.key, system=ref.system, ok=True,
                                 title=ticket.title, comments=len(ticket.comments))
    found = {"ticket": tickets[0].to_dict(), TRIGGER_COPY: False} if tickets else {}
    if len(tickets) > 1:
        found["related_tickets"] = [t.to_dict() for t in tickets[1:]]
    if errors and not (partial and not tickets):
        found["ticket_errors"] = errors
    # a ticket run whose tracker did not answer keeps the trigger's copy (and tries again on a re-plan)
    fresh = deps.store.runs.get(run.run_id)
    deps.store.runs.update(run.run_id, context={**(fresh.context if fresh else run.context), **found})
    run.context.update(deps.store.runs.get(run.run_id).context)
    return stored(run)


def refusal(settings, ref: TicketRef) -> str | None:
    """Why droid will not read this ticket for a channel, or None: once the routing names droid's Jira
    projects or GitHub repositories, only those are read (a guest in a channel cannot have droid
    quote a private ticket of another team's project)."""
    routing = settings.routing
    if ref.system == "jira":
        projects = set(routing.jira_projects) | ({routing.jira_project} if routing.jira_project else set())
        if projects and ref.key.split("-")[0] not in projects:
            return f"{ref.key}: not one of droid's Jira projects ({', '.join(sorted(projects))}), not read"
        return None
    repos = known_github_repos(settings)
    if repos and ref.repo.lower() not in repos:
        return f"{ref.key}: not one of droid's GitHub repositories, not read"
    return None


def known_github_repos(settings) -> set[str]:
    """Every GitHub owner/name the routing mentions (lower case)."""
    from integrations.workspace import github_repo_of
    routing = settings.routing
    names = {*routing.github_repos.values(), *routing.repo_github.values(), routing.default_github_repo or ""}
    sources = {*routing.channel_repos.values(), *(r for repos in routing.channel_repo_lists.values() for r in repos),
               routing.default_repo or ""}
    names |= {github_repo_of(s, github_url=settings.github_url) or "" for s in sources}
    return {n.lower() for n in names if n}


def alert_refs(deps, run) -> list[TicketRef]:
    """Refs in the alert that starts the run's thread (its text, blocks and attachments): a ticket it links."""
    client = getattr(getattr(deps, "poster", None), "client", None)
    if client is None:
        return []
    try:
        parent = client.conversations_replies(channel=run.channel, ts=run.thread_ts, limit=1)["messages"][0]
    except Exception as exc:  # noqa: BLE001 — the alert is extra context
        log.warning("could not read the alert of run %s: %s", run.run_id, exc)
        return []
    return refs_in(deps.settings, "\n".join(_strings(parent))[:THREAD_CHARS * 4])


def _strings(value, depth: int = 0) -> list[str]:
    """Every string in a Slack message (text, blocks, attachments), bounded in depth."""
    if isinstance(value, str):
        return [value]
    if depth > 8:
        return []
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return [s for item in items for s in _strings(item, depth + 1)]


def stored(run) -> list[Ticket]:
    """The tickets read for a run (the primary first)."""
    data = ([run.context["ticket"]] if run.context.get("ticket") else []) + list(run.context.get("related_tickets") or [])
    return [Ticket.from_dict(d) for d in data]


def primary(run) -> Ticket | None:
    """The run's main ticket, once read."""
    return Ticket.from_dict(run.context["ticket"]) if run.context.get("ticket") else None


def search_query(run) -> tuple[str, str]:
    """What to rank files for while planning, and how to label the results."""
    ticket = primary(run)
    if ticket is None:
        return run.task, "Search results for the task"
    return ticket.query_text(), f"Search results for {ticket.key}'s summary and description (not a diagnosis)"


def context_text(run) -> str:
    """The tickets as the model sees them (each inside <ticket> tags, labelled untrusted); '' without one."""
    return "\n\n".join(t.context_text() for t in stored(run))


def task_prompt_text(run) -> str:
    """What the executing agent is told about the tickets ('' without one)."""
    text = context_text(run)
    return f"The ticket this task comes from:\n{text}" if text else ""


def attach(plan, run, settings):
    """Put the ticket header (key, title, link to the configured tracker host only) and any read failure on
    the plan; returns the plan."""
    ticket = primary(run)
    if ticket is not None:
        url = ticket.url if _on_host(ticket.url, settings.jira_url if ticket.ref.system == "jira"
                                     else settings.github_url) else ""
        plan.ticket = {"key": ticket.key, "title": ticket.title, "url": url, "system": ticket.ref.system}
    for error in run.context.get("ticket_errors") or []:
        plan.note = (plan.note + "\n" if plan.note else "") + f"⚠️ Ticket not read: {error}. The plan is drafted " \
                                                              "from the message alone."
    return plan


def _on_host(url: str, configured: str) -> bool:
    host = (urlparse(url or "").hostname or "").lower()
    return bool(host) and host == (urlparse(configured or "").hostname or "").lower()


def _ts(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0
