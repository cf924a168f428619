"""A `Ticket` from the JSON a trigger carries: a Jira issue (webhook or search result) or a GitHub issue (webhook).

The intake checks the shape a run is built on, then builds the Ticket as `integrations/tickets.py` does for a read
(`from_jira`, `from_github`) from what the trigger already holds (no extra API call).
Every text field stays untrusted; the run store redacts the context it is kept in. The fields a run is
built on (the key, the project, the repository, the number, the title, the labels) must have their
exact shape and type, else `MalformedTicket` (a ValueError): no run starts from such a ticket.
"""

from __future__ import annotations

from urllib.parse import urlparse

from integrations.tickets import (
    Ticket,
    from_github,
    from_jira,
    is_github_repo,
    is_issue_number,
    is_jira_key,
)


class MalformedTicket(ValueError):
    """A trigger's issue JSON lacks the shape a run is built on (the message names the field)."""


def jira_ticket(raw: dict, jira_url: str = "") -> Ticket:
    """The ticket in a Jira issue's JSON (v2 or v3: an ADF description is rendered to text).

    Raises MalformedTicket when the key, fields, summary, labels, components or project are not what Jira sends."""
    _checked_jira(raw)
    base = (jira_url or _site(raw.get("self") if isinstance(raw.get("self"), str) else "")).rstrip("/")
    return from_jira(raw, f"{base}/browse/{raw['key']}" if base else "")


def jira_project(raw: dict) -> str:
    """The Jira project key of an issue: its key's prefix (a `project` field naming another is malformed)."""
    _checked_jira(raw)
    return raw["key"].rsplit("-", 1)[0]


def _checked_jira(raw) -> dict:
    """The issue's fields, once its load-bearing parts have Jira's shapes; else MalformedTicket."""
    if not isinstance(raw, dict) or not is_jira_key(raw.get("key")):
        raise MalformedTicket("key")
    fields = raw.get("fields")
    if not isinstance(fields, dict):
        raise MalformedTicket("fields")
    if not isinstance(fields.get("summary"), str):
        raise MalformedTicket("summary")
    if not _list_of(fields.get("labels"), str):
        raise MalformedTicket("labels")
    if not _list_of(fields.get("components"), (dict, str)):
        raise MalformedTicket("components")
    project = fields.get("project")
    if "project" in fields and (not isinstance(project, dict) or project.get("key") != raw["key"].rsplit("-", 1)[0]):
        raise MalformedTicket("project")
    return fields


def _list_of(value, kinds) -> bool:
    """True for a missing value or a list whose items are all of `kinds`."""
    return value is None or (isinstance(value, list) and all(isinstance(x, kinds) for x in value))


def github_ticket(issue: dict, repo: str) -> Ticket:
    """The ticket in a GitHub issue's JSON (from an `issues` webhook); MalformedTicket when its repository,
    number, title, body or labels are not what GitHub sends."""
    if not is_github_repo(repo):
        raise MalformedTicket("repository")
    if not isinstance(issue, dict) or not is_issue_number(issue.get("number")):
        raise MalformedTicket("number")
    for name, kinds in (("title", str), ("body", (str, type(None))), ("html_url", (str, type(None)))):
        if not isinstance(issue.get(name), kinds):
            raise MalformedTicket(name)
    if not _list_of(issue.get("labels"), dict):
        raise MalformedTicket("labels")
    return from_github(issue, [], repo=repo)


def _site(self_url: str) -> str:
    """https://acme.atlassian.net from https://acme.atlassian.net/rest/api/2/issue/10040."""
    parsed = urlparse(self_url)
    if not parsed.scheme or not parsed.netloc:
        return ""
    prefix = parsed.path.split("/rest/api/", 1)[0] if "/rest/api/" in parsed.path else ""
    return f"{parsed.scheme}://{parsed.netloc}{prefix}"
