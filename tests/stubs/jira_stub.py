"""A stub of the Jira REST API (v2, and v3 issue reads) for pointing the real `jira` library at.

Serves what droid's JiraClient calls: GET /rest/api/{2,3}/issue/{key}, POST .../issue/{key}/comment,
POST .../issue, plus /rest/api/2/serverInfo and /rest/api/2/myself. Issues come from
`../shared/fixtures/jira/api/` (`load()`), or are created through the API. Requires HTTP Basic
auth with the configured user and token. Records every request; failures are scriptable with
`stub.fail(path, status, times=N)` (see tests/stubs/github_stub.StubServer).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
from pathlib import Path
from typing import Any

from tests.stubs.http_stub import Request, Response, StubServer

ISSUE = re.compile(r"^/rest/api/(2|3|latest)/issue/([^/]+)$")
COMMENT = re.compile(r"^/rest/api/(2|3|latest)/issue/([^/]+)/comment$")
CREATE = re.compile(r"^/rest/api/(2|3|latest)/issue/?$")
TRANSITIONS = re.compile(r"^/rest/api/(2|3|latest)/issue/([^/]+)/transitions$")
REMOTELINK = re.compile(r"^/rest/api/(2|3|latest)/issue/([^/]+)/remotelink$")
SEARCH_JQL = re.compile(r"^/rest/api/(2|3|latest)/search/jql$")        # Jira Cloud's enhanced search
SEARCH_CLASSIC = re.compile(r"^/rest/api/(2|latest)/search$")          # Server/DC (gone from Cloud)
LABEL_CLAUSE = re.compile(r"labels\s*=\s*\"?([\w-]+)\"?", re.I)


def _default_fixtures() -> Path:
    shared = Path(os.environ.get("DROID_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
    return shared / "fixtures" / "jira" / "api"


class JiraStub(StubServer):
    """Jira Server/Cloud REST, the parts droid uses."""

    def __init__(self, fixtures: Path | None = None, *, user: str = "droid@example.com",
                 token: str = "jira-stub-token-123456") -> None:
        super().__init__()
        self.fixtures = Path(fixtures) if fixtures else _default_fixtures()
        self.user = user
        self.token = token
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self._next_id = 10000
        self.remote_links: dict[str, list[dict]] = {}   # key -> links, in creation order
        self.workflow: list[dict] | None = None         # the transitions offered (default: the v2 server fixture)
        self.versions = {"2", "3"}        # REST versions served ("2" only: a Jira Server/DC without v3)
        self.embedded_comments = 50       # at most this many comments come inside an issue's `comment` field
        self.field_names: dict[str, str] = {}   # extra field id -> name, for `expand=names`
        self.deployment = "Server"              # serverInfo's deploymentType ("Cloud" serves the enhanced search)
        self.search_pages: list[dict] = []      # scripted enhanced-search pages (script_search)

    # ---- setup

    def load(self, fixture: str, key: str | None = None) -> dict:
        """Serve a fixture issue (file name under fixtures/jira/api), optionally under another key."""
        raw = json.loads((self.fixtures / fixture).read_text())
        return self.add_issue(raw, key)

    def add_issue(self, raw: dict, key: str | None = None) -> dict:
        raw = copy.deepcopy(raw)
        if key:
            raw["key"] = key
        raw.setdefault("id", str(self._new_id()))
        raw["self"] = f"{self.url}/rest/api/2/issue/{raw['id']}"
        self.issues[raw["key"]] = raw
        return raw

    def load_adf(self, key: str, summary: str, adf: str = "rich_description.jira-cli.adf.json", **fields) -> dict:
        """A Cloud v3 issue whose description is an ADF document from fixtures/jira/adf (or `fields` as given)."""
        raw = json.loads((self.fixtures / "get_issue.v3.adf.minimal.jira-cli.json").read_text())
        raw["fields"]["summary"] = summary
        raw["fields"]["description"] = json.loads((self.fixtures.parent / "adf" / adf).read_text())
        raw["fields"].update(fields)
        return self.add_issue(raw, key)

    def add_comment(self, key: str, body, author: str = "Example User", created: str = "") -> dict:
        """A comment already on an issue (a string for v2, an ADF document for v3)."""
        cid = str(self._new_id())
        comment = {"self": f"{self.url}/rest/api/2/issue/{key}/comment/{cid}", "id": cid,
                   "author": {"displayName": author, "accountId": f"acc-{author.lower().replace(' ', '-')}"},
                   "body": body, "created": created or f"2025-01-01T00:00:{len(self.comments.get(key, [])):02d}.000+0000"}
        self.comments.setdefault(key, []).append(comment)
        return comment

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ---- routing

    def failure_body(self, status: int) -> Any:
        messages = {401: "You are not authenticated. Authentication required to perform this operation.",
                    403: "You do not have permission to perform this operation.",
                    404: "Issue does not exist or you do not have permission to see it.",
                    429: "Rate limit exceeded."}
        return {"errorMessages": [messages.get(status, "Internal server error")], "errors": {}}

    def _authorised(self, req: Request) -> bool:
        auth = req.header("Authorization")
        if not auth.lower().startswith("basic "):
            return False
        try:
            return base64.b64decode(auth[6:].strip()).decode() == f"{self.user}:{self.token}"
        except ValueError:
            return False

    def route(self, req: Request) -> Response:
        if not self._authorised(req):
            return 401, self.failure_body(401), {"WWW-Authenticate": 'Basic realm="protected-area"'}
        if req.method == "GET" and req.path == "/rest/api/2/serverInfo":
            return 200, {"baseUrl": self.url, "version": "9.12.0", "versionNumbers": [9, 12, 0],
                         "deploymentType": self.deployment, "buildNumber": 9120000, "serverTitle": "Jira stub"}, {}
        if req.method == "GET" and req.path == "/rest/api/2/myself":
            return 200, {"self": f"{self.url}/rest/api/2/user?username=droid", "name": "droid", "key": "droid",
                         "accountId": "droid-account", "emailAddress": self.user, "displayName": "droid",
                         "active": True, "timeZone": "UTC"}, {}
        if (answer := self.writeback_route(req)) is not None:
            return answer
        if (searched := self.route_search(req)) is not None:
            return searched
        if (m := COMMENT.match(req.path)) and req.method == "POST":
            return self._add_comment(req, m.group(2))
        version = (ISSUE.match(req.path) or COMMENT.match(req.path) or CREATE.match(req.path))
        if version and version.group(1) not in self.versions | {"latest"}:
            return 404, {"errorMessages": ["null for uri: " + req.path], "errors": {}}, {}
        if (m := COMMENT.match(req.path)) and req.method == "GET":
            return self._comment_page(req, m.group(2))
        if (m := ISSUE.match(req.path)) and req.method == "GET":
            issue = self._find(m.group(2))
            return (200, self._issue_view(req, issue), {}) if issue else (404, self.failure_body(404), {})
        if CREATE.match(req.path) and req.method == "POST":
            return self._create(req)
        return 404, {"errorMessages": ["null for uri: " + req.path], "errors": {}}, {}

    # ---- what droid writes back: transitions and remote links

    def writeback_route(self, req: Request) -> Response | None:
        """Transitions (GET/POST), remote links (POST upserts by globalId; GET) and the applinks list."""
        if req.method == "GET" and req.path == "/rest/applinks/latest/listApplicationlinks":
            return 200, {"list": []}, {}
        if m := TRANSITIONS.match(req.path):
            issue = self._find(m.group(2))
            if not issue:
                return 404, self.failure_body(404), {}
            return self._transitions(issue) if req.method == "GET" else self._transition(req, issue)
        if m := REMOTELINK.match(req.path):
            issue = self._find(m.group(2))
            if not issue:
                return 404, self.failure_body(404), {}
            if req.method == "GET":
                return 200, self.remote_links.get(issue["key"], []), {}
            return self._remote_link(req, issue)
        return None

    def offered(self, issue: dict) -> list[dict]:
        """The workflow's transitions that leave the issue's current status."""
        if self.workflow is None:
            self.workflow = json.loads((self.fixtures / "get_transitions.v2.server.json").read_text())["transitions"]
        status = ((issue.get("fields") or {}).get("status") or {}).get("name")
        return [t for t in self.workflow if t["to"]["name"] != status]

    def _transitions(self, issue: dict) -> Response:
        return 200, {"expand": "transitions", "transitions": self.offered(issue)}, {}

    def _transition(self, req: Request, issue: dict) -> Response:
        wanted = str(((req.json or {}).get("transition") or {}).get("id") or "")
        match = next((t for t in self.offered(issue) if str(t["id"]) == wanted), None)
        if match is None:
            return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."], "errors": {}}, {}
        issue.setdefault("fields", {})["status"] = copy.deepcopy(match["to"])
        return 204, None, {}

    def _remote_link(self, req: Request, issue: dict) -> Response:
        data = req.json or {}
        if not (data.get("object") or {}).get("url") or not (data.get("object") or {}).get("title"):
            return 400, {"errorMessages": [], "errors": {"object": "url and title are required"}}, {}
        links = self.remote_links.setdefault(issue["key"], [])
        existing = next((x for x in links if data.get("globalId") and x.get("globalId") == data["globalId"]), None)
        if existing is not None:
            existing.update({k: v for k, v in data.items() if k not in ("id", "self")})
            return 200, {"id": existing["id"], "self": existing["self"]}, {}
        lid = self._new_id()
        link = {**data, "id": lid, "self": f"{self.url}/rest/api/2/issue/{issue['key']}/remotelink/{lid}"}
        links.append(link)
        return 201, {"id": lid, "self": link["self"]}, {}
    def _issue_view(self, req: Request, issue: dict) -> dict:
        """The issue with its comments embedded (bounded, as Jira does) and `names` when expanded."""
        issue = copy.deepcopy(issue)
        items = self.comments.get(issue["key"], [])
        if items or "comment" not in issue["fields"]:
            shown = items[:self.embedded_comments]
            issue["fields"]["comment"] = {"comments": shown, "maxResults": len(shown), "total": len(items),
                                          "startAt": 0}
        if "names" in ",".join(req.query.get("expand", [])):
            names = {k: k.capitalize() for k in issue["fields"]}
            issue["names"] = {**names, **issue.get("names", {}), **self.field_names}
        return issue

    def _comment_page(self, req: Request, key: str) -> Response:
        if key not in self.issues:
            return 404, self.failure_body(404), {}
        items = list(self.comments.get(key, []))
        if (req.query.get("orderBy") or [""])[0] == "-created":
            items.reverse()
        start = int((req.query.get("startAt") or ["0"])[0])
        size = int((req.query.get("maxResults") or ["50"])[0])
        page = items[start:start + size]
        return 200, {"startAt": start, "maxResults": size, "total": len(items), "comments": page}, {}

    def _find(self, key_or_id: str) -> dict | None:
        return self.issues.get(key_or_id) or next(
            (i for i in self.issues.values() if str(i.get("id")) == key_or_id), None)

    def _add_comment(self, req: Request, key: str) -> Response:
        issue = self._find(key)
        if not issue:
            return 404, self.failure_body(404), {}
        body = (req.json or {}).get("body")
        if not body:
            return 400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, {}
        cid = str(self._new_id())
        author = {"self": f"{self.url}/rest/api/2/user?username=droid", "name": "droid", "key": "droid",
                  "displayName": "droid", "active": True}
        comment = {"self": f"{self.url}/rest/api/2/issue/{issue['id']}/comment/{cid}", "id": cid,
                   "author": author, "body": body, "updateAuthor": author,
                   "created": "2025-01-01T00:00:00.000+0000", "updated": "2025-01-01T00:00:00.000+0000"}
        self.comments.setdefault(issue["key"], []).append(comment)
        return 201, comment, {}

    def _create(self, req: Request) -> Response:
        fields = (req.json or {}).get("fields") or {}
        errors = {}
        project = fields.get("project") or {}
        project_key = project.get("key") or project.get("id")
        if not project_key:
            errors["project"] = "project is required"
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if not (fields.get("issuetype") or {}).get("name") and not (fields.get("issuetype") or {}).get("id"):
            errors["issuetype"] = "issue type is required"
        if errors:
            return 400, {"errorMessages": [], "errors": errors}, {}
        number = 1 + sum(1 for k in self.issues if k.startswith(f"{project_key}-"))
        key = f"{project_key}-{number}"
        raw = json.loads((self.fixtures / "get_issue.v2.minimal.jira-cli.json").read_text())
        raw["fields"].update(summary=fields["summary"], description=fields.get("description"),
                             issuetype={"name": fields["issuetype"].get("name") or "Bug"},
                             project={"key": project_key}, status={"name": "To Do"})
        issue = self.add_issue(raw, key)
        return 201, {"id": issue["id"], "key": key, "self": issue["self"]}, {}


    # ---- search (Cloud enhanced /search/jql with nextPageToken; Server/DC classic /search with startAt)

    def script_search(self, *pages: dict) -> None:
        """Serve these enhanced-search pages in order (each names the next by its `nextPageToken`)."""
        self.deployment = "Cloud"
        self.search_pages = [copy.deepcopy(p) for p in pages]

    def route_search(self, req: Request) -> Response | None:
        """The search routes, or None when `req` is not a search."""
        if req.method == "GET" and re.match(r"^/rest/api/(2|3|latest)/field$", req.path):
            return 200, [{"id": f, "name": f.title(), "clauseNames": [f]} for f in
                         ("summary", "description", "status", "labels", "components", "issuetype", "priority",
                          "project", "reporter", "assignee", "created", "updated")], {}
        params = {**{k: v[-1] for k, v in req.query.items()}, **(req.json or {} if req.method == "POST" else {})}
        if SEARCH_JQL.match(req.path):
            if self.deployment != "Cloud":
                return 404, {"errorMessages": ["null for uri: " + req.path], "errors": {}}, {}
            return self._search_enhanced(params)
        if SEARCH_CLASSIC.match(req.path):
            if self.deployment == "Cloud":
                return 410, {"errorMessages": ["The requested API has been removed. Please migrate to the "
                                               "/rest/api/3/search/jql API."], "errors": {}}, {}
            return self._search_classic(params)
        return None

    def _matching(self, jql: str, expand: str) -> list[dict]:
        label = LABEL_CLAUSE.search(jql or "")
        out = []
        for issue in self.issues.values():
            if label and label.group(1) not in ((issue.get("fields") or {}).get("labels") or []):
                continue
            issue = copy.deepcopy(issue)
            if "changelog" not in (expand or ""):
                issue.pop("changelog", None)
            out.append(issue)
        return out

    def _search_enhanced(self, params: dict) -> Response:
        token = params.get("nextPageToken") or ""
        if self.search_pages:
            tokens = [""] + [p.get("nextPageToken") or "" for p in self.search_pages[:-1]]
            if token not in tokens:
                return 400, {"errorMessages": ["Invalid nextPageToken"], "errors": {}}, {}
            return 200, self.search_pages[tokens.index(token)], {}
        found = self._matching(params.get("jql", ""), params.get("expand", ""))
        start, size = int(token[1:] or 0) if token.startswith("t") else 0, int(params.get("maxResults") or 50)
        page = found[start:start + size]
        last = start + size >= len(found)
        return 200, {"issues": page, "isLast": last, **({} if last else {"nextPageToken": f"t{start + size}"})}, {}

    def _search_classic(self, params: dict) -> Response:
        found = self._matching(params.get("jql", ""), params.get("expand", ""))
        start, size = int(params.get("startAt") or 0), int(params.get("maxResults") or 50)
        return 200, {"startAt": start, "maxResults": size, "total": len(found), "issues": found[start:start + size]}, {}
