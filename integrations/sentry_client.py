"""A thin typed client for the few Sentry REST API calls droid makes (stdlib `urllib` only).

- `SentryClient.issue / event / events / event_counts`: the org-scoped issue endpoints
  (`/api/0/organizations/{org}/issues/{id}/...`), Bearer token. Only GETs are retried: on 429
  (honouring `Retry-After`, up to `max_retry_wait`), on 5xx and on refused/reset connections,
  with exponential backoff. A timeout is not retried (it already cost `timeout` seconds).
- Every failure is a `SentryError` whose `kind` says what to tell people and whose `message` is
  short and safe to post (never the token, never a response dump).
- `parse_issue_url`: a Sentry issue link anywhere in a text (Slack's `<url|label>` too).
- `verify_webhook`: the integration platform's `Sentry-Hook-Signature` check.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from integrations.sentry_values import parse_timestamp

__all__ = ["SentryError", "SentryIssue", "SentryClient", "parse_issue_url", "verify_webhook"]

MESSAGE_MAX = 200
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


@dataclass
class SentryIssue:
    """What droid needs from a Sentry issue (group); `raw` is the API's JSON as received."""

    id: str
    short_id: str
    title: str
    culprit: str
    permalink: str
    project_slug: str
    level: str
    status: str
    first_seen: datetime | None
    last_seen: datetime | None
    count: int
    user_count: int
    release_first: str | None
    release_last: str | None
    raw: dict = field(repr=False, default_factory=dict)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> SentryIssue:
        project = data.get("project")
        slug = _text(project.get("slug") or project.get("name")) if isinstance(project, dict) else _text(project)
        return cls(
            id=_text(data.get("id")),
            short_id=_text(data.get("shortId")),
            title=_text(data.get("title")),
            culprit=_text(data.get("culprit")),
            permalink=_text(data.get("permalink")),
            project_slug=slug,
            level=_text(data.get("level")),
            status=_text(data.get("status")),
            first_seen=parse_timestamp(data.get("firstSeen")),
            last_seen=parse_timestamp(data.get("lastSeen")),
            count=_count(data.get("count")),
            user_count=_count(data.get("userCount")),
            release_first=_release(data.get("firstRelease")),
            release_last=_release(data.get("lastRelease")),
            raw=data,
        )


def _text(v: Any) -> str:
    return "" if v is None else str(v)


def _count(v: Any) -> int:
    """Sentry sends `count` as a string ("150") and `userCount` as an int."""
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return 0


def _release(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("version") or v.get("shortVersion")
    return str(v) if v not in (None, "") else None


def _short(text: str) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


_PERIOD = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _period_seconds(period: str) -> int | None:
    m = _PERIOD.match(period or "")
    return int(m.group(1)) * _UNITS[m.group(2)] if m else None


_LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[\w-]+="?[^";,]*"?\s*)*)')


def _next_link(header: str | None) -> str | None:
    """The `rel="next"` URL of a Sentry `Link` header, when it says `results="true"`."""
    for m in _LINK.finditer(header or ""):
        attrs = dict(re.findall(r'([\w-]+)="?([^";,]*)"?', m.group(2)))
        if attrs.get("rel") == "next" and attrs.get("results", "true") == "true":
            return m.group(1)
    return None


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


def _read_quietly(exc: urllib.error.HTTPError) -> bytes:
    try:
        return exc.read() or b""
    except Exception:
        return b""


def _detail(body: bytes) -> str:
    """Sentry's `{"detail": "..."}` (or `{"message": ...}`), shortened; '' when there is none."""
    try:
        data = json.loads(body or b"null")
    except ValueError:
        return ""
    if isinstance(data, dict):
        d = data.get("detail") or data.get("message") or ""
        if isinstance(d, dict):
            d = d.get("message") or ""
        return _short(str(d))[:120] if d else ""
    return ""


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _stats_series(issue: dict[str, Any], period: str) -> list[tuple[datetime, int]] | None:
    """`stats[period]` of an issue: [[epoch, count], ...] → [(datetime, count)]; None if absent."""
    stats = issue.get("stats")
    if not isinstance(stats, dict):
        return None
    points = stats.get(period)
    if points is None and len(stats) == 1:
        points = next(iter(stats.values()))
    if not isinstance(points, list) or not points:
        return None
    out: list[tuple[datetime, int]] = []
    for p in points:
        if isinstance(p, list | tuple) and len(p) >= 2:
            when = parse_timestamp(p[0])
            if when is not None:
                out.append((when, _count(p[1])))
    return sorted(out, key=lambda x: x[0]) or None


def bin_counts(times: list[datetime | None], step: int = 3600) -> list[tuple[datetime, int]]:
    """Timestamps → contiguous (bucket start, count) buckets of `step` seconds, oldest first."""
    stamps = [t for t in times if t is not None]
    if not stamps:
        return []
    buckets: dict[int, int] = {}
    for t in stamps:
        key = int(t.timestamp()) // step * step
        buckets[key] = buckets.get(key, 0) + 1
    first, last = min(buckets), max(buckets)
    return [(datetime.fromtimestamp(k, tz=UTC), buckets.get(k, 0)) for k in range(first, last + step, step)]


# ---------------------------------------------------------------------------------------------
# links


_URL = re.compile(r"https?://[^\s<>|\"'`()\[\]{}]+", re.IGNORECASE)
_ISSUE_ID = r"(\d+|[A-Z][A-Z0-9_]*(?:-[A-Z0-9_]+)*-[A-Z0-9]+)"
_ORG_PATH = re.compile(r"^/organizations/([^/]+)/issues/" + _ISSUE_ID + r"(?:/|$)")
_SUBDOMAIN_PATH = re.compile(r"^/issues/" + _ISSUE_ID + r"(?:/|$)")
_LEGACY_PATH = re.compile(r"^/([^/]+)/([^/]+)/issues/" + _ISSUE_ID + r"(?:/|$)")
_NOT_ORG_SUBDOMAINS = {"www", "us", "de", "o1", "app", "docs", "blog", "status"}
_RESERVED = {"organizations", "settings", "api", "issues", "auth", "account", "projects"}


def parse_issue_url(text: str) -> tuple[str | None, str] | None:
    """The first Sentry issue link in `text` → (org or None, issue id); None when there is none.

    Recognised: https://<org>.sentry.io/issues/<id>/ ; https://<host>/organizations/<org>/issues/
    <id>/ (sentry.io, a customer domain or self-hosted, any query or sub-page such as /events/..)
    and the legacy https://<host>/<org>/<project>/issues/<id>/ (only on hosts whose name contains
    "sentry", so a GitHub issue link is not mistaken for one). Slack's <url|label> form works.
    """
    if not text:
        return None
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?*_~")
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            continue
        host = (parts.hostname or "").lower()
        path = urllib.parse.unquote(parts.path or "/")
        if not host:
            continue
        hit = _ORG_PATH.match(path)
        if hit:
            return hit.group(1), hit.group(2)
        hit = _SUBDOMAIN_PATH.match(path)
        if hit and host.endswith(".sentry.io"):
            sub = host[: -len(".sentry.io")]
            org = sub if sub and "." not in sub and sub not in _NOT_ORG_SUBDOMAINS else None
            return org, hit.group(1)
        hit = _LEGACY_PATH.match(path)
        if hit and "sentry" in host and hit.group(1) not in _RESERVED:
            return hit.group(1), hit.group(3)
    return None


# ---------------------------------------------------------------------------------------------
# webhooks


def verify_webhook(body: bytes, signature: str | None, secret: str) -> bool:
    """True when `signature` (the Sentry-Hook-Signature header) is the hex HMAC-SHA256 of the raw
    request `body` keyed with the integration's client `secret`. Constant-time comparison."""
    if not signature or not secret:
        return False
    if isinstance(body, str):
        body = body.encode()
    expected = hmac.new(secret.encode(), body or b"", hashlib.sha256).hexdigest()
    given = signature.strip().lower()
    if given.startswith("sha256="):
        given = given[len("sha256="):]
    try:
        return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii"))
    except UnicodeEncodeError:
        return False

