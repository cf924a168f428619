"""Sentry issue links in text (Slack messages, alerts): which organisation and issue they name."""

from __future__ import annotations

import re
import urllib.parse

__all__ = ["parse_issue_url"]


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
