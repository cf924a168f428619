"""A thin typed client for the few Sentry REST API calls droid makes (stdlib `urllib` only).

- `SentryClient.issue / event / events / event_counts`: the org-scoped issue endpoints
  (`/api/0/organizations/{org}/issues/{id}/...`), Bearer token. Only GETs are retried: on 429
  (honouring `Retry-After`, up to `max_retry_wait`), on 5xx and on refused/reset connections,
  with exponential backoff. A timeout is not retried (it already cost `timeout` seconds).
- Every failure is a `SentryError` whose `kind` says what to tell people and whose `message` is
  short and safe to post (never the token, never a response dump).

Issue links in text are read by sentry_links.py, webhook signatures checked by
sentry_signature.py.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from integrations.sentry_counts import _period_seconds, _stats_series, bin_counts
from integrations.sentry_issue import SentryIssue
from integrations.sentry_responses import _detail, _next_link, _read_quietly, _retry_after, _short
from integrations.sentry_values import parse_timestamp

__all__ = ["SentryError", "SentryClient"]

PAGE_SIZE = 100           # Sentry's maximum page size
USER_AGENT = "droid-sentry-client/0.1"
WHICH_EVENTS = ("latest", "oldest", "recommended")


class SentryError(Exception):
    """A Sentry call failed.

    `kind`: auth | not_found | rate_limited | server | connection | unknown.
    `message`: short, safe for Slack. `status`: the HTTP status when there was one.
    """

    def __init__(self, message: str, kind: str = "unknown", status: int | None = None):
        super().__init__(message)
        self.message = message
        self.kind = kind
        self.status = status

    def __repr__(self) -> str:
        return f"SentryError({self.kind!r}, {self.message!r})"


class SentryClient:
    """Sentry's REST API for one organisation. `base_url`: https://sentry.io, a region
    (https://us.sentry.io) or a self-hosted server (a trailing /api/0 is accepted)."""

    def __init__(self, base_url: str, token: str, org: str, timeout: float = 15, retries: int = 2, *,
                 backoff: float = 0.5, max_retry_wait: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep):
        base = (base_url or "https://sentry.io").strip().rstrip("/")
        if base.endswith("/api/0"):
            base = base[: -len("/api/0")]
        self.base_url = base
        self.org = org
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_retry_wait = float(max_retry_wait)
        self._token = token or ""
        self._sleep = sleep

    def __repr__(self) -> str:  # never the token
        return f"SentryClient({self.base_url!r}, org={self.org!r})"

    # ---- the calls

    def _issue_path(self, issue_id: str) -> str:
        org = urllib.parse.quote(str(self.org), safe="")
        return f"/api/0/organizations/{org}/issues/{urllib.parse.quote(str(issue_id), safe='')}/"

    def issue(self, issue_id: str) -> SentryIssue:
        """The issue (numeric id, or short id such as PROJ-12)."""
        data, _ = self._get(self._issue_path(issue_id), what=f"Sentry issue {issue_id}")
        if not isinstance(data, dict):
            raise SentryError(f"Sentry issue {issue_id}: unexpected response", "unknown")
        return SentryIssue.from_api(data)

    def event(self, issue_id: str, which: str = "recommended") -> dict:
        """One event of the issue as the API returns it (`entries`, camelCase frames):
        `which` is "latest", "oldest", "recommended" or an event id. "recommended" falls back to
        "latest" on 404 (Sentry versions before the recommended-event endpoint)."""
        what = f"Sentry event {which} of issue {issue_id}"
        path = self._issue_path(issue_id) + f"events/{urllib.parse.quote(str(which), safe='')}/"
        try:
            data, _ = self._get(path, what=what)
        except SentryError as exc:
            if exc.kind != "not_found" or which != "recommended":
                raise
            return self.event(issue_id, "latest")
        if not isinstance(data, dict):
            raise SentryError(f"{what}: unexpected response", "unknown")
        return data

    def events(self, issue_id: str, limit: int = 100, *, period: str | None = None,
               full: bool = False) -> list[dict]:
        """Up to `limit` events of the issue, newest first, following Sentry's cursor pagination.
        `period` (e.g. "24h", "14d") becomes `statsPeriod`; `full=True` asks for whole events."""
        what = f"Sentry events of issue {issue_id}"
        params: dict[str, str] = {"per_page": str(max(1, min(PAGE_SIZE, int(limit))))}
        if period:
            params["statsPeriod"] = period
        if full:
            params["full"] = "true"
        url: str | None = self._url(self._issue_path(issue_id) + "events/", params)
        out: list[dict] = []
        while url and len(out) < limit:
            data, headers = self._get(url, what=what)
            if not isinstance(data, list):
                raise SentryError(f"{what}: unexpected response", "unknown")
            if not data:
                break
            out.extend(d for d in data if isinstance(d, dict))
            url = _next_link(headers.get("Link"))
        return out[:limit]

    def event_counts(self, issue_id: str, period: str = "24h") -> list[tuple[datetime, int]]:
        """Events per time bucket over `period`, oldest first, as (bucket start UTC, count).

        Source: the issue's own `stats` (GET the issue with `?statsPeriod=<period>`): hourly
        buckets for "24h", daily for "14d"/"30d" — Sentry's exact counts. When the server gives no
        stats for that period (or refuses the period), the issue's events (up to 100, same
        `statsPeriod`) are binned by `dateCreated` instead: hourly when the period is 2 days or
        less, daily otherwise, empty buckets filled with 0 — then the counts are of a sample.
        """
        what = f"Sentry event counts of issue {issue_id}"
        try:
            data, _ = self._get(self._issue_path(issue_id), {"statsPeriod": period}, what=what)
        except SentryError as exc:
            if exc.kind in ("auth", "not_found", "rate_limited", "connection") or exc.status is None:
                raise
            data = None  # e.g. 400 "Invalid stats_period": bin the events instead
        series = _stats_series(data, period) if isinstance(data, dict) else None
        if series is not None:
            return series
        events = self.events(issue_id, PAGE_SIZE, period=period)
        seconds = _period_seconds(period)
        step = 3600 if seconds is None or seconds <= 2 * 86400 else 86400
        return bin_counts([parse_timestamp(e.get("dateCreated") or e.get("dateReceived")) for e in events], step)

    # ---- transport

    def _url(self, path: str, params: dict[str, str] | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params)
        return url

    def _get(self, path: str, params: dict[str, str] | None = None, *, what: str) -> tuple[Any, Any]:
        return self._request("GET", path, params, what=what)

    def _request(self, method: str, path: str, params: dict[str, str] | None = None, body: Any = None,
                 *, what: str = "Sentry request") -> tuple[Any, Any]:
        """(decoded JSON, response headers). Retries only GETs (see the module docstring)."""
        url = self._url(path, params)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json",
                   "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        attempts = 1 + (self.retries if method.upper() == "GET" else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            req = urllib.request.Request(url, data=data, method=method.upper(), headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
                    resp_headers = resp.headers
            except urllib.error.HTTPError as exc:
                status = exc.code
                err_body = _read_quietly(exc)
                retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
                exc.close()
                if not last and (status == 429 or status >= 500):
                    wait = retry_after if status == 429 and retry_after is not None else self._backoff(attempt)
                    if wait <= self.max_retry_wait:
                        self._sleep(wait)
                        continue
                raise self._http_error(status, err_body, retry_after, what) from None
            except TimeoutError:
                raise SentryError(f"{what}: Sentry did not answer within {self.timeout:g} s",
                                  "connection") from None
            except (urllib.error.URLError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError):
                    raise SentryError(f"{what}: Sentry did not answer within {self.timeout:g} s",
                                      "connection") from None
                if not last and isinstance(reason, ConnectionRefusedError | ConnectionResetError):
                    self._sleep(self._backoff(attempt))
                    continue
                raise SentryError(self._scrub(f"{what}: cannot reach Sentry at {self.base_url} "
                                              f"({type(reason).__name__})"), "connection") from None
            if not raw.strip():
                return None, resp_headers
            try:
                return json.loads(raw), resp_headers
            except ValueError:
                raise SentryError(f"{what}: Sentry answered with something that is not JSON",
                                  "unknown") from None
        raise SentryError(f"{what}: gave up", "unknown")  # not reached: the last attempt raises

    def _backoff(self, attempt: int) -> float:
        return self.backoff * (2 ** attempt)

    def _scrub(self, text: str) -> str:
        if self._token and len(self._token) >= 4:
            text = text.replace(self._token, "[REDACTED]")
        return _short(text)

    def _http_error(self, status: int, body: bytes, retry_after: float | None, what: str) -> SentryError:
        detail = _detail(body)
        if status in (401, 403):
            text = "Sentry rejected the token" if status == 401 else "the token may not read this"
            return SentryError(self._scrub(f"{what}: {text} ({status}{': ' + detail if detail else ''})"),
                               "auth", status)
        if status == 404:
            return SentryError(self._scrub(f"{what}: not found (404) — check the id, the organisation "
                                           f"'{self.org}' and the token's access"), "not_found", status)
        if status == 429:
            later = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            return SentryError(f"{what}: Sentry rate limit reached (429{later})", "rate_limited", status)
        if status >= 500:
            return SentryError(f"{what}: Sentry server error ({status})", "server", status)
        return SentryError(self._scrub(f"{what}: Sentry answered {status}{': ' + detail if detail else ''}"),
                           "unknown", status)
