"""One ticket write, made at most once across retries and restarts.

`write_once` claims (run_id, purpose) in the ledger (state/ticket_writes.py) before the write leaves and
settles it after. A retry of a write claimed earlier but never settled first asks the tracker whether the
earlier attempt landed:
- a comment (Jira or GitHub) ends with a marker (`[droid run abc123 · approved]`) looked for in the
  ticket's recent comments;
- a Jira remote link carries `globalId` = the PR URL, so Jira itself updates instead of adding one;
- a transition is skipped whenever the ticket is already in its target status.
Tracker errors become `error` events (phase `ticket_<purpose>`), never exceptions: a run never fails
because a ticket could not be updated.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field

from bot.tickets.writeback_text import marker

log = logging.getLogger("droid.tickets")

RECENT_COMMENTS = 30
SINCE_SLACK = 300.0      # seconds before the claim: clocks differ; GitHub's `since` is the comment's update time


@dataclass
class Trackers:
    """The Jira and GitHub clients a write needs, built on first use (None when not configured)."""

    settings: object
    redact: object
    _made: dict = field(default_factory=dict)

    def jira(self):
        """A JiraClient, or None without JIRA_URL."""
        if "jira" not in self._made:
            from integrations.jira_client import JiraClient
            s = self.settings
            self._made["jira"] = JiraClient(s.jira_url, s.jira_user, s.jira_token, redact=self.redact) \
                if s.jira_url else None
        return self._made["jira"]

    def github(self):
        """A GitHubClient, or None without a token."""
        if "github" not in self._made:
            from integrations.github_client import GitHubClient
            s = self.settings
            self._made["github"] = GitHubClient(s.github_token, s.github_api_url, redact=self.redact) \
                if s.github_token else None
        return self._made["github"]

    def close(self) -> None:
        """Close what was opened."""
        for client in self._made.values():
            if client is not None:
                client.close()
        self._made.clear()


def write_once(store, trackers: Trackers, run_id: str, purpose: str, ticket: str, spec: dict) -> dict | None:
    """Make the write `spec` ({"op", "args"}) for (run_id, purpose) unless it was made; its outcome, or None
    when it failed (recorded as an `error` event)."""
    from integrations.github_client import GitHubError
    from integrations.jira_client import JiraError

    def record(kind, /, **data):
        store.events.append(run_id, kind, purpose=purpose, ticket=ticket, **data)

    row, fresh = store.ticket_writes.claim(run_id, purpose, ticket, spec)
    if row.settled:
        return row.outcome
    spec = row.spec                     # a retry repeats the first attempt exactly (same text, same marker)
    try:
        if not fresh and (found := _landed(trackers, run_id, purpose, row)) is not None:
            found = {**found, "found": True}
            store.ticket_writes.settle(run_id, purpose, "done", found)
            record("ticket_write", op=spec.get("op"), already=True)
            return found
        outcome = _perform(store, trackers, run_id, purpose, spec, row)
    except Exception as exc:  # noqa: BLE001 — a ticket write never fails the run; JiraError/GitHubError are short
        message = str(exc) if isinstance(exc, (JiraError, GitHubError)) else f"unexpected {type(exc).__name__}"
        if not isinstance(exc, (JiraError, GitHubError)):
            log.exception("run %s: ticket write %s failed", run_id, purpose)
        store.ticket_writes.settle(run_id, purpose, "failed", {"error": message})
        record("error", phase=f"ticket_{purpose}", message=message)
        return None
    if outcome.get("skipped"):
        store.ticket_writes.settle(run_id, purpose, "skipped", outcome)
        record("ticket_skipped", op=spec.get("op"), reason=outcome["skipped"])
    else:
        store.ticket_writes.settle(run_id, purpose, "done", outcome)
        record("ticket_write", op=spec.get("op"), **{k: v for k, v in outcome.items() if k in ("id", "url", "to")})
    return outcome


def _landed(trackers: Trackers, run_id: str, purpose: str, row) -> dict | None:
    """Did an earlier attempt of this write reach the tracker? Its trace there, or None."""
    op, args, tag = row.spec.get("op"), row.spec.get("args") or {}, marker(run_id, purpose)
    if op == "jira_comment":
        for comment in _need(trackers.jira(), "Jira").recent_comments(args["key"], RECENT_COMMENTS):
            if tag in comment["text"]:
                return {"id": comment["id"]}
    elif op == "github_comment":
        since = datetime.datetime.fromtimestamp(row.created_at - SINCE_SLACK, tz=datetime.UTC)
        for comment in _need(trackers.github(), "GitHub").issue_comments(args["repo"], args["number"],
                                                                           RECENT_COMMENTS, since=since):
            if tag in comment["text"]:
                return {"id": comment["id"], "url": comment["url"]}
    return None      # remote links upsert by globalId; transitions check the status whenever they run


def _perform(store, trackers: Trackers, run_id: str, purpose: str, spec: dict, row) -> dict:
    op, args = spec.get("op"), spec.get("args") or {}
    if op == "jira_comment":
        return {"id": _need(trackers.jira(), "Jira").comment(args["key"], args["body"])}
    if op == "jira_link":
        link_id = _need(trackers.jira(), "Jira").remote_link(args["key"], args["url"], args["title"], args["url"])
        return {"id": link_id, "url": args["url"]}
    if op == "jira_transition":
        return _transition(store, _need(trackers.jira(), "Jira"), run_id, purpose, spec, row)
    if op == "github_comment":
        return {"url": _need(trackers.github(), "GitHub").comment_on_issue(args["repo"], args["number"], args["body"])}
    return {"skipped": f"unknown write {op!r}"}


def _transition(store, jira, run_id: str, purpose: str, spec: dict, row) -> dict:
    """Move the ticket through the transition named in the spec, unless it is already where that leads."""
    key, name = spec["args"]["key"], spec["args"]["name"]
    status = jira.status(key)
    match = next((t for t in jira.transitions(key) if t["name"].strip().casefold() == name.strip().casefold()), None)
    target = (match or {}).get("to") or spec.get("to") or ""
    if status.casefold() in {target.casefold(), name.strip().casefold()}:
        return {"to": status, "already": True}
    if match is None:
        return {"skipped": f"the workflow offers no transition named {name!r} from {status!r}"}
    store.ticket_writes.settle(run_id, purpose, "claimed", spec={**spec, "to": target})   # a retry knows the target
    if not jira.transition(key, name):
        return {"skipped": f"the transition {name!r} disappeared from {key}"}
    return {"to": target}


def _need(client, name: str):
    if client is None:
        from integrations.jira_client import JiraError
        raise JiraError(f"{name} is not configured")
    return client
