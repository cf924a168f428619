"""A thin typed wrapper over the `jira` library: read a ticket, comment on it, create one."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from integrations.adf import adf_to_text, description_text  # noqa: F401 (re-exported)
from integrations.redact import Redactor

log = logging.getLogger("droid.jira")

MESSAGE_MAX = 200
# A full ticket read: every field but the heavy ones, the field names (to find acceptance criteria).
READ_FIELDS = "*all,-attachment,-worklog,-watches,-votes,-timetracking,-aggregateprogress,-progress"
READ_EXPAND = "names"
COMMENTS_READ = 5
V3_BASE = "{server}/rest/api/3/{path}"
SEARCH_PAGE = 50     # issues per search request
SEARCH_FIELDS = ("summary", "description", "status", "labels", "components", "issuetype", "priority", "project",
                 "reporter", "assignee", "created", "updated")


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

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after      # seconds Jira asked droid to wait (429/503 Retry-After), when it did


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
        return JiraError(_short(message), status, _retry_after(response))
    name = type(exc).__name__
    if "Timeout" in name or "Connection" in name:
        return JiraError(f"{what}: Jira unreachable ({name})")
    return JiraError(_short(f"{what}: {name}"))


def _retry_after(response) -> float | None:
    """A Retry-After header in seconds (bounded to an hour), or None."""
    try:
        return max(0.0, min(float(response.headers.get("Retry-After")), 3600.0))
    except (AttributeError, TypeError, ValueError):
        return None


def _no_such_api(exc: Exception) -> bool:
    """True for a 404 from Jira's REST layer for an unknown path (no REST v3 on Jira Server/DC)."""
    from jira.exceptions import JIRAError
    return isinstance(exc, JIRAError) and exc.status_code == 404 and "null for uri" in str(exc.text or "")


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

    def issue_raw(self, key: str, comments: int = COMMENTS_READ) -> dict:
        """A ticket as Jira sends it (Cloud: REST v3 with ADF; Server/DC: v2), with `names` expanded and
        `fields.comment.comments` holding at most the newest `comments` comments, oldest first."""
        params = {"fields": READ_FIELDS, "expand": READ_EXPAND}
        try:
            try:
                raw, base = self._jira._get_json(f"issue/{key}", params=params, base=V3_BASE), V3_BASE
            except Exception as exc:  # Jira Server/DC has no v3: its REST layer says "null for uri"
                if not _no_such_api(exc):
                    raise
                raw, base = self._jira.issue(key, fields=READ_FIELDS, expand=READ_EXPAND).raw, self._jira.JIRA_BASE_URL
            block = (raw.get("fields") or {}).get("comment") or {}
            listed = list(block.get("comments") or [])
            if int(block.get("total") or 0) > len(listed) and comments > 0:
                listed = self._newest_comments(raw.get("key") or key, comments, base)
            if isinstance(raw.get("fields"), dict):
                raw["fields"]["comment"] = {**block, "comments": listed[-comments:] if comments > 0 else []}
        except Exception as exc:
            raise _translate(exc, f"reading {key}") from None
        return raw

    def _newest_comments(self, key: str, count: int, base: str) -> list[dict]:
        """The newest `count` comments, oldest first (one page, ordered newest first by Jira)."""
        page = self._jira._get_json(f"issue/{key}/comment", params={"orderBy": "-created", "maxResults": count},
                                    base=base)
        return list(reversed((page or {}).get("comments") or []))[-count:]

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

    # -- the write side: what droid writes back to a ticket (bot/tickets/writeback.py) ----------
    def status(self, key: str) -> str:
        """The ticket's current status name."""
        try:
            issue = self._jira.issue(key, fields="status")
        except Exception as exc:
            raise _translate(exc, f"reading {key}") from None
        return ((issue.raw.get("fields") or {}).get("status") or {}).get("name") or ""

    def transitions(self, key: str) -> list[dict]:
        """The transitions the ticket's workflow offers now: [{"id", "name", "to"}] (`to`: the target status name)."""
        try:
            found = self._jira.transitions(key)
        except Exception as exc:
            raise _translate(exc, f"reading the transitions of {key}") from None
        return [{"id": str(t.get("id")), "name": t.get("name") or "", "to": (t.get("to") or {}).get("name") or ""}
                for t in found]

    def transition(self, key: str, name: str) -> bool:
        """Apply the transition called `name` (case-insensitive); False when the workflow offers none by that name."""
        wanted = (name or "").strip().casefold()
        match = next((t for t in self.transitions(key) if t["name"].strip().casefold() == wanted), None)
        if match is None:
            return False
        try:
            self._jira.transition_issue(key, match["id"])
        except Exception as exc:
            raise _translate(exc, f"moving {key} through {match['name']!r}") from None
        return True

    def remote_link(self, key: str, url: str, title: str, global_id: str) -> str:
        """Create or update (Jira upserts by `global_id`) a link on the ticket to `url`; the link's id."""
        destination = {"url": url, "title": self.redact(title)[:255],
                       "icon": {"url16x16": "https://github.com/favicon.ico", "title": "Pull request"}}
        try:
            link = self._jira.add_remote_link(key, destination, globalId=global_id,
                                              application={"type": "com.github", "name": "GitHub"},
                                              relationship="pull request")
        except Exception as exc:
            raise _translate(exc, f"linking {key}") from None
        return str(getattr(link, "id", "") or "")

    def recent_comments(self, key: str, n: int = 20) -> list[dict]:
        """The ticket's latest `n` comments, newest first: [{"id", "text"}] (v3 ADF bodies flattened)."""
        try:
            found = self._jira.comments(key, max_results=n, order_by="-created")
        except Exception as exc:
            raise _translate(exc, f"reading the comments of {key}") from None
        out = [{"id": str(c.raw.get("id") or ""), "text": description_text(c.raw.get("body"))} for c in found]
        return sorted(out, key=lambda c: int(c["id"]) if c["id"].isdigit() else 0, reverse=True)[:n]
