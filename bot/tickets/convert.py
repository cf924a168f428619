"""A `Ticket` from the JSON a trigger carries: a Jira issue (webhook or search result) or a GitHub issue (webhook).

The intake's own converter: it reads only what the trigger already holds (no extra API call), bounded.
Every text field stays untrusted; the run store redacts the context it is kept in.
"""

from __future__ import annotations

from urllib.parse import urlparse

from integrations.jira_client import description_text
from integrations.tickets import DESCRIPTION_MAX, Ticket, TicketRef, bounded

TITLE_MAX = 300


def jira_ticket(raw: dict, jira_url: str = "") -> Ticket:
    """The ticket in a Jira issue's JSON (v2 or v3: an ADF description is rendered to text)."""
    fields = raw.get("fields") or {}
    key = str(raw.get("key") or "")
    base = (jira_url or _site(raw.get("self") or "")).rstrip("/")
    url = f"{base}/browse/{key}" if base else ""
    return Ticket(ref=TicketRef("jira", key, url=url), title=bounded(str(fields.get("summary") or ""), TITLE_MAX),
                  description=bounded(description_text(fields.get("description")), DESCRIPTION_MAX), url=url,
                  status=_name(fields.get("status")), type=_name(fields.get("issuetype")),
                  priority=_name(fields.get("priority")), labels=[str(x) for x in fields.get("labels") or []][:30],
                  components=[_name(c) for c in fields.get("components") or []][:30],
                  reporter=_jira_person(fields.get("reporter")), assignee=_jira_person(fields.get("assignee")))


def jira_project(raw: dict) -> str:
    """The Jira project key of an issue (its `project` field, else the key's prefix)."""
    project = ((raw.get("fields") or {}).get("project") or {}).get("key")
    return str(project or str(raw.get("key") or "").rsplit("-", 1)[0])


def github_ticket(issue: dict, repo: str) -> Ticket:
    """The ticket in a GitHub issue's JSON (from an `issues` webhook)."""
    number = int(issue.get("number") or 0)
    key = f"{repo}#{number}"
    url = str(issue.get("html_url") or "")
    return Ticket(ref=TicketRef("github", key, url=url, repo=repo, number=number),
                  title=bounded(str(issue.get("title") or ""), TITLE_MAX),
                  description=bounded(str(issue.get("body") or ""), DESCRIPTION_MAX), url=url,
                  status=str(issue.get("state") or ""), type="issue",
                  labels=[_name(x) for x in issue.get("labels") or []][:30],
                  reporter=_github_person(issue.get("user")),
                  assignee=_github_person(issue.get("assignee")))


def _name(value) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("value") or "")
    return str(value or "")


def _jira_person(person) -> dict:
    if not isinstance(person, dict):
        return {}
    return {"name": str(person.get("displayName") or person.get("name") or ""),
            "email": str(person.get("emailAddress") or ""),
            "id": str(person.get("accountId") or person.get("name") or person.get("key") or "")}


def _github_person(person) -> dict:
    if not isinstance(person, dict):
        return {}
    return {"name": str(person.get("login") or ""), "email": str(person.get("email") or ""),
            "id": str(person.get("id") or "")}


def _site(self_url: str) -> str:
    """https://acme.atlassian.net from https://acme.atlassian.net/rest/api/2/issue/10040."""
    parsed = urlparse(self_url)
    if not parsed.scheme or not parsed.netloc:
        return ""
    prefix = parsed.path.split("/rest/api/", 1)[0] if "/rest/api/" in parsed.path else ""
    return f"{parsed.scheme}://{parsed.netloc}{prefix}"
