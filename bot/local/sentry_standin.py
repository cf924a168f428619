"""An in-process stand-in for the Sentry issue API, serving the events it is given (for `droid demo`).

A real HTTP server on 127.0.0.1 that the real SentryClient talks to; it holds issues built from
real events (captured by sentry-sdk) and nothing else.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler

from bot.local.loopback import LoopbackServer

ROUTE = re.compile(r"^/api/0/organizations/([^/]+)/issues/([^/]+)/(?:events/([^/]+)/)?$")


class SentryStandIn(LoopbackServer):
    """Serves `issues/<id>/` and `issues/<id>/events/<latest|recommended|oldest>/` for one organisation."""

    def __init__(self, org: str, token: str):
        self.org, self.token = org, token
        self.issues: dict[str, dict] = {}
        self.events: dict[str, dict] = {}

    def add_issue(self, issue_id: str, short_id: str, event: dict, *, project: str) -> dict:
        """Register an issue whose only event is `event` (first and last seen at its time)."""
        exc = (event.get("exception") or {}).get("values", [{}])[-1]
        title = f"{exc.get('type', 'Error')}: {exc.get('value', '')}".strip(": ")
        self.issues[issue_id] = {
            "id": issue_id, "shortId": short_id, "title": title, "culprit": event.get("transaction") or "",
            "permalink": f"{self.url}/organizations/{self.org}/issues/{issue_id}/", "level": event.get("level", "error"),
            "status": "unresolved", "firstSeen": event.get("timestamp"), "lastSeen": event.get("timestamp"),
            "count": "1", "userCount": 1, "project": {"slug": project, "id": "1", "name": project},
            "firstRelease": {"version": event.get("release")}, "lastRelease": {"version": event.get("release")},
            "stats": {},
        }
        self.events[issue_id] = event
        self.issues[short_id] = self.issues[issue_id]
        self.events[short_id] = event
        return self.issues[issue_id]

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return self.base

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one GET."""
        status, body = self._answer(request.path.split("?")[0], request.headers.get("Authorization", ""))
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    def _answer(self, path: str, auth: str) -> tuple[int, dict]:
        if auth != f"Bearer {self.token}":
            return 401, {"detail": "Invalid token"}
        match = ROUTE.match(path)
        if not match or match.group(1) != self.org or match.group(2) not in self.issues:
            return 404, {"detail": "The requested resource does not exist"}
        issue_id, which = match.group(2), match.group(3)
        if which is None:
            return 200, self.issues[issue_id]
        return 200, {**self.events[issue_id], "groupID": self.issues[issue_id]["id"]}
