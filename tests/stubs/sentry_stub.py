"""A stub of the Sentry REST API (the org-scoped issue endpoints droid reads).

Bound to 127.0.0.1 on a free port, in a background thread (see `tests.stubs.github_stub.StubServer`
for the recording and failure-scripting machinery). Responses have the real shapes: they are the
OpenAPI examples in `../shared/fixtures/sentry/api/`.

Served (GET only), under `/api/0/organizations/<org>/`:
- `issues/<id>/`                   → `stub.issues[id]`, else the "Retrieve an Issue" fixture with
                                     `id` set to <id>; `?statsPeriod=P` keeps only `stats[P]`
                                     (when the issue has it), as Sentry does.
- `issues/<id>/events/latest/`     → `stub.latest_event[id]`, else the "Retrieve an Issue Event"
  `.../events/oldest/`               fixture with `groupID` set; `oldest` and `recommended` read
  `.../events/recommended/`          `stub.oldest_event` / `stub.recommended_event` first, then
                                     fall back to the latest. `stub.has_recommended = False` makes
                                     `recommended` answer 404, like Sentry before that endpoint.
- `issues/<id>/events/<event_id>/` → the event with that id among the ones above, else 404.
- `issues/<id>/events/`            → `stub.issue_events[id]`, else the "List an Issue's Events"
                                     fixture; paginated with `per_page` and Sentry's `Link` cursor
                                     header.
- `issues/`                        → the "List an Organization's Issues" fixture.
Set `stub.serve_unknown = False` to answer 404 for issues that are not in `stub.issues`.

A request without `Authorization: Bearer <stub.token>` gets 401 `{"detail": "Invalid token"}`; a
wrong organisation gets 404. `stub.fail(path_regex, status, times=1, headers=None)` scripts
failures (the regex is searched in the path; e.g. `stub.fail(r"/issues/1/$", 429,
headers={"Retry-After": "0"})`).
"""

from __future__ import annotations

import copy
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.stubs.http_stub import Request, Response, StubServer

ISSUE = re.compile(r"^/api/0/organizations/([^/]+)/issues/([^/]+)/$")
EVENT = re.compile(r"^/api/0/organizations/([^/]+)/issues/([^/]+)/events/([^/]+)/$")
EVENTS = re.compile(r"^/api/0/organizations/([^/]+)/issues/([^/]+)/events/$")
ISSUES = re.compile(r"^/api/0/organizations/([^/]+)/issues/$")

NOT_FOUND = {"detail": "The requested resource does not exist"}


def _default_fixtures() -> Path:
    shared = Path(os.environ.get("DROID_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
    return shared / "fixtures" / "sentry" / "api"


class SentryStub(StubServer):
    """Sentry's issue API for one organisation and one token."""

    def __init__(self, fixtures: Path | None = None, *, org: str = "acme",
                 token: str = "sntrys_stub_token_0000000000000000") -> None:
        super().__init__()
        self.fixtures = Path(fixtures) if fixtures else _default_fixtures()
        self.org = org
        self.token = token
        self.issues: dict[str, dict] = {}
        self.latest_event: dict[str, dict] = {}
        self.oldest_event: dict[str, dict] = {}
        self.recommended_event: dict[str, dict] = {}
        self.issue_events: dict[str, list[dict]] = {}
        self.has_recommended = True
        self.serve_unknown = True
        self._cache: dict[str, Any] = {}

    # ---- fixtures

    def fixture(self, name: str) -> Any:
        """A fresh copy of fixtures/sentry/api/<name>.response.json."""
        if name not in self._cache:
            self._cache[name] = json.loads((self.fixtures / f"{name}.response.json").read_text())
        return copy.deepcopy(self._cache[name])

    # ---- scripting

    def fail(self, path: str, status: int, *, times: int = 1, method: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> None:
        """The next `times` requests whose path matches the regex `path` (searched) answer `status`."""
        super().fail(path if path.startswith("^") else "^.*" + path, status, times=times, method=method,
                     body=body, headers=headers)

    def failure_body(self, status: int) -> Any:
        return {"detail": f"stub failure {status}"}

    # ---- routing

    def route(self, req: Request) -> Response:
        if req.header("Authorization") != f"Bearer {self.token}":
            return 401, {"detail": "Invalid token"}, {}
        if req.method != "GET":
            return 405, {"detail": f'Method "{req.method}" not allowed.'}, {}
        for pattern, handler in ((ISSUE, self._issue), (EVENT, self._event), (EVENTS, self._events),
                                 (ISSUES, self._issues)):
            m = pattern.match(req.path)
            if m:
                if m.group(1) != self.org:
                    return 404, NOT_FOUND, {}
                return handler(req, *m.groups()[1:])
        return 404, NOT_FOUND, {}

    def _issue_data(self, issue_id: str) -> dict | None:
        if issue_id in self.issues:
            return copy.deepcopy(self.issues[issue_id])
        if not self.serve_unknown:
            return None
        data = self.fixture("retrieve_an_issue")
        data["id"] = issue_id
        return data

    def _issue(self, req: Request, issue_id: str) -> Response:
        data = self._issue_data(issue_id)
        if data is None:
            return 404, NOT_FOUND, {}
        period = (req.query.get("statsPeriod") or [None])[0]
        stats = data.get("stats")
        if period is not None and isinstance(stats, dict):
            data["stats"] = {period: stats[period]} if period in stats else {}
        return 200, data, {}

    def _latest(self, issue_id: str) -> dict:
        if issue_id in self.latest_event:
            return copy.deepcopy(self.latest_event[issue_id])
        data = self.fixture("retrieve_an_issue_event_latest")
        data["groupID"] = issue_id
        return data

    def _event(self, req: Request, issue_id: str, which: str) -> Response:
        if self._issue_data(issue_id) is None:
            return 404, NOT_FOUND, {}
        if which == "latest":
            return 200, self._latest(issue_id), {}
        if which == "oldest":
            return 200, copy.deepcopy(self.oldest_event.get(issue_id) or self._latest(issue_id)), {}
        if which == "recommended":
            if not self.has_recommended:
                return 404, NOT_FOUND, {}
            return 200, copy.deepcopy(self.recommended_event.get(issue_id) or self._latest(issue_id)), {}
        for ev in (self.latest_event.get(issue_id), self.oldest_event.get(issue_id),
                   self.recommended_event.get(issue_id), self._latest(issue_id)):
            if ev and which in (ev.get("eventID"), ev.get("id")):
                return 200, copy.deepcopy(ev), {}
        return 404, NOT_FOUND, {}

    def _events(self, req: Request, issue_id: str) -> Response:
        if self._issue_data(issue_id) is None:
            return 404, NOT_FOUND, {}
        if issue_id in self.issue_events:
            events = copy.deepcopy(self.issue_events[issue_id])
        else:
            events = self.fixture("list_an_issues_events")
            for ev in events:
                ev["groupID"] = issue_id
        per_page = max(1, min(100, int((req.query.get("per_page") or ["100"])[0])))
        cursor = (req.query.get("cursor") or ["0:0:0"])[0]
        try:
            offset = int(cursor.split(":")[1])
        except (IndexError, ValueError):
            return 400, {"detail": "Invalid cursor parameter."}, {}
        page = events[offset: offset + per_page]
        more = offset + per_page < len(events)
        params = {k: v[0] for k, v in req.query.items() if k != "cursor"}
        base = f"{self.url}{req.path}"

        def link(rel: str, off: int, results: bool) -> str:
            q = urlencode({**params, "cursor": f"0:{off}:{1 if rel == 'previous' else 0}"})
            return (f'<{base}?{q}>; rel="{rel}"; results="{"true" if results else "false"}"; '
                    f'cursor="0:{off}:{1 if rel == "previous" else 0}"')

        header = ", ".join([link("previous", max(0, offset - per_page), offset > 0),
                            link("next", offset + per_page, more)])
        return 200, page, {"Link": header}

    def _issues(self, req: Request) -> Response:
        return 200, self.fixture("list_organization_issues"), {}
