"""A thin typed wrapper over the `jira` library: read a ticket, comment on it, create one."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from integrations.redact import Redactor

log = logging.getLogger("droid.jira")

MESSAGE_MAX = 200
SEARCH_PAGE = 50     # issues per search request
SEARCH_FIELDS = ("summary", "description", "status", "labels", "components", "issuetype", "priority", "project",
                 "reporter", "assignee", "created", "updated")
BLOCK_TYPES = {"paragraph", "heading", "blockquote", "codeBlock", "listItem", "tableRow", "panel",
               "rule", "mediaSingle", "expand", "nestedExpand", "decisionItem", "taskItem"}


@dataclass
class TicketInfo:
    """What droid needs from a Jira ticket."""

    key: str
    summary: str
    description: str   # plain text (v2 wiki string as is; v3 ADF flattened)
    url: str           # <server>/browse/<key>
    status: str


class JiraError(Exception):
    """A Jira call failed; short message, safe to post."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def adf_to_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node: text nodes joined, blocks on their own lines."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(n) for n in node)
    if not isinstance(node, dict):
        return str(node)
    kind = node.get("type")
    attrs = node.get("attrs") or {}
    if kind == "text":
        return node.get("text") or ""
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return attrs.get("text") or "@" + str(attrs.get("id") or "someone")
    if kind in ("emoji",):
        return attrs.get("text") or attrs.get("shortName") or ""
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return attrs.get("url") or ""
    if kind == "date":
        return str(attrs.get("timestamp") or "")
    if kind == "status":
        return attrs.get("text") or ""
    inner = adf_to_text(node.get("content") or [])
    if kind == "listItem":
        return "- " + inner.strip("\n") + "\n"
    if kind == "tableCell" or kind == "tableHeader":
        return inner.strip("\n") + " | "
    if kind == "codeBlock":
        return "```\n" + inner + "\n```\n"
    if kind in BLOCK_TYPES:
        return inner.rstrip("\n") + "\n"
    return inner


def description_text(value: Any) -> str:
    """A description as plain text, whether a v2 string or a v3 ADF document."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = adf_to_text(value)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip("\n")


def _translate(exc: Exception, what: str) -> JiraError:
    from jira.exceptions import JIRAError
    if isinstance(exc, JIRAError):
        status = exc.status_code
        detail = ""
        response = getattr(exc, "response", None)
        try:
            data = response.json() if response is not None else {}
            messages = list(data.get("errorMessages") or []) + [f"{k}: {v}" for k, v in (data.get("errors") or {}).items()]
            detail = "; ".join(str(m) for m in messages)
        except Exception:
            detail = ""
        if status == 401:
            message = f"{what}: Jira rejected the credentials (401)"
        elif status == 403:
            message = f"{what}: not allowed (403{': ' + detail if detail else ''})"
        elif status == 404:
            message = f"{what}: not found (404{': ' + detail if detail else ''})"
        elif status == 429:
            message = f"{what}: Jira rate limit (429)"
        elif status and status >= 500:
            message = f"{what}: Jira server error ({status})"
        else:
            message = f"{what}: Jira answered {status}{': ' + detail if detail else ''}"
        return JiraError(_short(message), status)
    name = type(exc).__name__
    if "Timeout" in name or "Connection" in name:
        return JiraError(f"{what}: Jira unreachable ({name})")
    return JiraError(_short(f"{what}: {name}"))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


class JiraClient:
    """Jira through the `jira` library (REST v2), basic auth with a user and an API token."""

    def __init__(self, url: str, user: str, token: str, *, timeout: float = 15, max_retries: int = 0,
                 redact=None):
        from jira import JIRA
        self.url = (url or "").rstrip("/")
        self.redact = redact or Redactor([token])   # everything droid writes to Jira is redacted
        self._jira = JIRA(server=self.url, basic_auth=(user, token), get_server_info=False,
                          max_retries=max_retries, timeout=timeout)
        self._deployment: str | None = None     # "Cloud" or "Server", once search() asked

    def __repr__(self) -> str:
        return f"JiraClient({self.url!r})"

    def close(self) -> None:
        self._jira.close()

    def browse_url(self, key: str) -> str:
        return f"{self.url}/browse/{key}"

    def ticket(self, key: str) -> TicketInfo:
        """A ticket's summary, plain-text description and status."""
        try:
            issue = self._jira.issue(key)
        except Exception as exc:
            raise _translate(exc, f"reading {key}") from None
        return self._info(issue.raw)

    def search(self, jql: str, max_results: int = 100, *, expand: str = "changelog") -> list[dict]:
        """Issues matching `jql` as raw JSON (with their changelog), following pages up to `max_results`.

        Jira Cloud: the enhanced search (`search/jql`, `nextPageToken` / `isLast`); Jira Server/Data Center,
        which has no enhanced search: the classic `search` with `startAt` / `total`."""
        try:
            if self._is_cloud():
                return self._search_enhanced(jql, max_results, expand)
            return self._search_classic(jql, max_results, expand)
        except JiraError:
            raise
        except Exception as exc:
            raise _translate(exc, "searching Jira") from None

    def _is_cloud(self) -> bool:
        """Whether the server is Jira Cloud (asked once: serverInfo's deploymentType).

        The client is built with get_server_info=False (one call per read), which leaves the library's
        deploymentType unset and its @cloud_api methods (enhanced_search_issues) returning None: set it here."""
        if self._deployment is None:
            info = self._jira.server_info() or {}
            self._deployment = str(info.get("deploymentType") or "Server")
            self._jira.deploymentType = self._deployment
        return self._deployment == "Cloud"

    def _search_enhanced(self, jql: str, max_results: int, expand: str) -> list[dict]:
        issues: list[dict] = []
        token = None
        while len(issues) < max_results:
            page = self._jira.enhanced_search_issues(jql, nextPageToken=token, fields=list(SEARCH_FIELDS),
                                                     maxResults=min(SEARCH_PAGE, max_results - len(issues)),
                                                     expand=expand, json_result=True) or {}
            issues += page.get("issues") or []
            token = page.get("nextPageToken")
            if page.get("isLast", not token) or not token:
                break
        return issues[:max_results]

    def _search_classic(self, jql: str, max_results: int, expand: str) -> list[dict]:
        issues: list[dict] = []
        while len(issues) < max_results:
            page = self._jira.search_issues(jql, startAt=len(issues), fields=list(SEARCH_FIELDS), expand=expand,
                                            maxResults=min(SEARCH_PAGE, max_results - len(issues)), json_result=True)
            batch = page.get("issues") or []
            issues += batch
            if not batch or len(issues) >= int(page.get("total") or 0):
                break
        return issues[:max_results]

    def _info(self, raw: dict) -> TicketInfo:
        fields = raw.get("fields") or {}
        key = raw.get("key") or ""
        return TicketInfo(key=key, summary=fields.get("summary") or "",
                          description=description_text(fields.get("description")),
                          url=self.browse_url(key), status=(fields.get("status") or {}).get("name") or "")

    def comment(self, key: str, body: str) -> str:
        """Add a comment; its id."""
        try:
            comment = self._jira.add_comment(key, self.redact(body))
        except Exception as exc:
            raise _translate(exc, f"commenting on {key}") from None
        return str(comment.id)

    def create_ticket(self, project: str, summary: str, description: str, issue_type: str = "Bug") -> TicketInfo:
        """Create a ticket in `project` (a key) and return it as Jira stored it."""
        fields = {"project": {"key": project}, "summary": self.redact(summary), "description": self.redact(description),
                  "issuetype": {"name": issue_type}}
        try:
            issue = self._jira.create_issue(fields=fields)
        except Exception as exc:
            raise _translate(exc, f"creating a ticket in {project}") from None
        return self._info(issue.raw)
