"""An in-process stand-in for Jira Cloud's REST API (for `droid console` without JIRA_URL).

A real HTTP server on 127.0.0.1 that the real `jira` client talks to: serverInfo (Cloud), GET issue (v3 with
an Atlassian Document Format description, v2 with plain text), the enhanced JQL search (`search/jql`,
`nextPageToken`, `expand=changelog`), comments, transitions (list and perform) and remote links. It holds
the sample tickets below and what droid writes; `label()` labels a ticket as a person would in Jira.
"""

from __future__ import annotations

import base64
import copy
import dataclasses
import itertools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlparse

from bot.local.loopback import LoopbackServer
from integrations.jira_client import description_text

USER, TOKEN = "droid@console.invalid", "jira-console-token"
REPORTER = "you@console.invalid"           # the console user's email: the reporter of the samples
API = re.compile(r"^/rest/api/(?:2|3|latest)/(.+)$")
ISSUE = re.compile(r"^issue/([^/]+)(?:/(comment|transitions|remotelink))?$")
STATUSES = {"11": ("To Do", "new"), "21": ("In Progress", "indeterminate"), "31": ("In Review", "indeterminate"),
            "41": ("Done", "done")}
LABEL = re.compile(r"labels\s*=\s*\"?([\w-]+)\"?", re.I)


def _adf(*blocks: dict) -> dict:
    return {"type": "doc", "version": 1, "content": list(blocks)}


def _para(*parts) -> dict:
    return {"type": "paragraph", "content": [p if isinstance(p, dict) else {"type": "text", "text": p} for p in parts]}


SAMPLES = {
    "PAY-142": ("Webhook sender gives up after the first 5xx", "Bug", _adf(
        _para("Deliveries to merchant endpoints are dropped when the endpoint answers ",
              {"type": "text", "text": "503", "marks": [{"type": "code"}]}, " once; we should retry with backoff."),
        {"type": "heading", "attrs": {"level": 3}, "content": [{"type": "text", "text": "Acceptance criteria"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [_para("5xx and timeouts are retried up to 5 times")]},
            {"type": "listItem", "content": [_para("4xx responses are not retried")]}]},
        {"type": "codeBlock", "attrs": {"language": "python"},
         "content": [{"type": "text", "text": "send_with_retries(url, payload, attempts=5)"}]},
        _para("Runbook: ", {"type": "inlineCard", "attrs": {"url": "https://wiki.example.com/payments/webhooks"}}))),
    "PAY-143": ("Invoice totals ignore the discount line", "Bug", _adf(
        _para("The invoice total is computed before discounts are applied."),
        _para("Expected: total = sum(lines) - discount."))),
}


class JiraStandIn(LoopbackServer):
    """Jira Cloud, the parts droid uses, serving its sample tickets."""

    def __init__(self, user: str = USER, token: str = TOKEN):
        self.user, self.token = user, token
        self.issues: dict[str, dict] = {}
        self.comments: dict[str, list[dict]] = {}
        self.remote_links: dict[str, list[dict]] = {}
        self._ids = itertools.count(10001)
        self._lock = threading.RLock()

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return self.base

    # -- the tickets ---------------------------------------------------------------------------
    def add_samples(self, reporter: str = REPORTER) -> JiraStandIn:
        """Serve PAY-142 and PAY-143 (ADF descriptions, reported by `reporter`)."""
        for key, (summary, kind, description) in SAMPLES.items():
            self.add_issue(key, summary, description, kind=kind, reporter=reporter)
        return self

    def add_issue(self, key: str, summary: str, description: dict | str, *, kind: str = "Task",
                  reporter: str = REPORTER, labels: list[str] | None = None) -> dict:
        """Serve one ticket (To Do, no history)."""
        person = {"accountId": f"acc-{reporter.split('@')[0]}", "displayName": reporter.split("@")[0],
                  "emailAddress": reporter, "active": True}
        issue_id = str(next(self._ids))
        with self._lock:
            self.issues[key] = {"id": issue_id, "key": key, "self": f"{self.base}/rest/api/3/issue/{issue_id}",
                                "fields": {"summary": summary, "description": description,
                                           "issuetype": {"name": kind}, "priority": {"name": "High"},
                                           "project": {"key": key.split("-")[0], "name": key.split("-")[0]},
                                           "status": self._status("11"), "labels": list(labels or []),
                                           "components": [], "reporter": person, "assignee": None,
                                           "created": "2026-01-05T09:00:00.000+0000",
                                           "updated": "2026-01-05T09:00:00.000+0000"},
                                "changelog": {"histories": []}}
            return self.issues[key]

    def label(self, key: str, label: str = "droid") -> str:
        """Add `label` to a ticket, recording the change in its history; returns the history id ('' if unknown)."""
        with self._lock:
            issue = self.issues.get(key)
            if issue is None:
                return ""
            labels = issue["fields"]["labels"]
            before = " ".join(labels)
            if label not in labels:
                labels.append(label)
            history_id = str(next(self._ids))
            issue["changelog"]["histories"].append({
                "id": history_id, "created": "2026-01-05T10:00:00.000+0000",
                "items": [{"field": "labels", "fieldtype": "jira", "fieldId": "labels", "fromString": before,
                           "toString": " ".join(labels)}]})
            return history_id

    @staticmethod
    def _status(transition: str) -> dict:
        name, category = STATUSES[transition]
        return {"name": name, "statusCategory": {"key": category, "name": name}}

    # -- HTTP ----------------------------------------------------------------------------------
    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request as Jira Cloud would."""
        parsed = urlparse(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        params = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        if not self._authorised(request.headers.get("Authorization", "")):
            status, out = 401, {"errorMessages": ["You are not authenticated."], "errors": {}}
        else:
            with self._lock:
                status, out = self._answer(request.command, parsed.path, params, body,
                                           "/rest/api/2/" not in parsed.path)
        data = b"" if out is None else json.dumps(out).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _authorised(self, header: str) -> bool:
        if not header.lower().startswith("basic "):
            return False
        try:
            return base64.b64decode(header[6:].strip()).decode() == f"{self.user}:{self.token}"
        except ValueError:
            return False

    def _answer(self, method: str, path: str, params: dict, body: dict, v3: bool) -> tuple[int, object]:
        if path.startswith("/rest/applinks/"):      # the jira client looks for application links first
            return 200, []
        match = API.match(path)
        route = match.group(1) if match else ""
        if route == "serverInfo":
            return 200, {"baseUrl": self.base, "deploymentType": "Cloud", "version": "1001.0.0",
                         "versionNumbers": [1001, 0, 0], "serverTitle": "Jira (droid console stand-in)"}
        if route == "myself":
            return 200, {"accountId": "acc-droid", "emailAddress": self.user, "displayName": "droid", "active": True}
        if route == "field":
            return 200, [{"id": f, "name": f.title(), "clauseNames": [f]} for f in
                         ("summary", "description", "status", "labels", "components", "issuetype", "priority",
                          "project", "reporter", "assignee", "created", "updated")]
        if route == "search/jql":
            return self._search({**params, **(body if method == "POST" else {})}, v3)
        issue_match = ISSUE.match(route)
        issue = self.issues.get(issue_match.group(1)) if issue_match else None
        if issue_match and issue is None:
            issue = next((i for i in self.issues.values() if i["id"] == issue_match.group(1)), None)
        if issue is None:
            return 404, {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                         "errors": {}}
        part = issue_match.group(2)
        if part is None and method == "GET":
            return 200, self._render(issue, v3, "changelog" in params.get("expand", ""))
        if part == "comment":
            return self._comment(method, issue, body)
        if part == "transitions":
            return self._transition(method, issue, body)
        if part == "remotelink":
            return self._remote_link(method, issue, body)
        return 405, {"errorMessages": [f"{method} not supported here"], "errors": {}}

    def _render(self, issue: dict, v3: bool, changelog: bool) -> dict:
        out = copy.deepcopy(issue)
        if not changelog:
            out.pop("changelog", None)
        if not v3:
            out["fields"]["description"] = description_text(out["fields"]["description"])
        return out

    def _search(self, params: dict, v3: bool) -> tuple[int, dict]:
        wanted = LABEL.search(str(params.get("jql") or ""))
        found = [i for i in self.issues.values() if i["fields"]["status"]["statusCategory"]["key"] != "done"
                 and (not wanted or wanted.group(1) in i["fields"]["labels"])]
        token = str(params.get("nextPageToken") or "")
        start = int(token[1:]) if token.startswith("p") and token[1:].isdigit() else 0
        size = max(1, min(100, int(params.get("maxResults") or 50)))
        page = [self._render(i, v3, "changelog" in str(params.get("expand") or "")) for i in found[start:start + size]]
        last = start + size >= len(found)
        return 200, {"issues": page, "isLast": last, **({} if last else {"nextPageToken": f"p{start + size}"})}

    def _comment(self, method: str, issue: dict, body: dict) -> tuple[int, dict]:
        comments = self.comments.setdefault(issue["key"], [])
        if method == "GET":
            return 200, {"startAt": 0, "maxResults": len(comments), "total": len(comments), "comments": comments}
        if not body.get("body"):
            return 400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}
        cid = str(next(self._ids))
        comment = {"id": cid, "self": f"{self.base}/rest/api/3/issue/{issue['id']}/comment/{cid}",
                   "author": {"accountId": "acc-droid", "displayName": "droid"}, "body": body["body"],
                   "created": "2026-01-05T11:00:00.000+0000", "updated": "2026-01-05T11:00:00.000+0000"}
        comments.append(comment)
        return 201, comment

    def _transition(self, method: str, issue: dict, body: dict) -> tuple[int, dict | None]:
        if method == "GET":
            return 200, {"transitions": [{"id": tid, "name": name, "to": self._status(tid)}
                                         for tid, (name, _) in STATUSES.items()]}
        wanted = str((body.get("transition") or {}).get("id") or "")
        if wanted not in STATUSES:
            return 400, {"errorMessages": [f"Transition id '{wanted}' is not valid for this issue."], "errors": {}}
        issue["fields"]["status"] = self._status(wanted)
        return 204, None

    def _remote_link(self, method: str, issue: dict, body: dict) -> tuple[int, object]:
        links = self.remote_links.setdefault(issue["key"], [])
        if method == "GET":
            return 200, links
        if not (body.get("object") or {}).get("url"):
            return 400, {"errorMessages": [], "errors": {"object": "url is required"}}
        existing = next((x for x in links if body.get("globalId") and x.get("globalId") == body["globalId"]), None)
        if existing is not None:
            existing.update(body)
            return 200, {"id": existing["id"], "self": existing["self"]}
        lid = int(next(self._ids))
        links.append({**body, "id": lid, "self": f"{self.base}/rest/api/3/issue/{issue['key']}/remotelink/{lid}"})
        return 201, {"id": lid, "self": links[-1]["self"]}


def console_jira(settings, channel: str, slack=None):
    """For `droid console`: without JIRA_URL, a started stand-in and the settings pointing at it, its
    project PAY mapped to `channel` and its reporter's email to the console user; else (None, settings)."""
    if settings.jira_url:
        return None, settings
    jira = JiraStandIn().start().add_samples()
    if slack is not None:
        slack.register_email(REPORTER, "UYOU")
    routing = dataclasses.replace(settings.routing, jira_projects={"PAY": channel, **settings.routing.jira_projects})
    return jira, dataclasses.replace(settings, jira_url=jira.url, jira_user=USER, jira_token=TOKEN, routing=routing)
