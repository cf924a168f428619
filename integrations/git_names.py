"""The names droid gives and reads in git: its branch names, and a GitHub owner/name from an address.

Branch names are public (pushed, shown on pull requests and in Jira's development panel): every part
is sanitised, and the slug redacted. Addresses may carry credentials: what is shown never does.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from integrations.redact import MASK, Redactor

BRANCH_PREFIX = "droid/"
SLUG_MAX = 40
KEY_MAX = 24          # a ticket key at the front of a branch name (PAY-142, issue-123)


class InvalidName(ValueError):
    """A name droid cannot build a branch from."""


def sanitize_slug(slug: str) -> str:
    """Lowercase, [a-z0-9-] only, no doubled or edge dashes, at most 40 characters; never empty."""
    text = re.sub(r"[^a-z0-9]+", "-", (slug or "").lower()).strip("-")
    text = text[:SLUG_MAX].rstrip("-")
    return text or "task"


def safe_run_id(run_id: str) -> str:
    """The run id as a branch and directory name part; InvalidName when nothing of it is left."""
    text = re.sub(r"[^A-Za-z0-9_-]+", "-", run_id or "").strip("-_")[:40]
    if not text:
        raise InvalidName("invalid run id")
    return text


def branch_name(run_id: str, slug: str, key: str = "") -> str:
    """droid/<run_id>-<slug>, or droid/<key>-<slug>-<run_id> for a ticket (the key first: Jira links the branch by
    it); every part sanitised (and the slug redacted: branch names are public)."""
    clean = sanitize_slug(Redactor()(slug or '').replace(MASK, ' '))
    key = re.sub(r"[^A-Za-z0-9]+", "-", key or "").strip("-")[:KEY_MAX].strip("-")
    if key:
        return f"{BRANCH_PREFIX}{key}-{clean}-{safe_run_id(run_id)}"
    return f"{BRANCH_PREFIX}{safe_run_id(run_id)}-{clean}"


OWNER_NAME = re.compile(r"^([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/([A-Za-z0-9._-]{1,100}?)(?:\.git)?/?$")


def github_repo_of(url_or_source: str, *, github_url: str = "") -> str | None:
    """"owner/name" of a GitHub repository given as a URL, an scp-style address or "owner/name".

    Recognises github.com (https, http, ssh, git@github.com:...) and, when given, the host of
    `github_url` (GitHub Enterprise or a test server). Anything else — local paths, other hosts — is None.
    """
    text = (url_or_source or "").strip()
    if not text:
        return None
    hosts = {"github.com", "www.github.com"}
    if github_url:
        hosts.add((urlsplit(github_url).hostname or "").lower())
    scp = re.match(r"^[\w.-]+@([\w.-]+):(?!//)(.+)$", text)
    if scp:
        host, path = scp.group(1).lower(), scp.group(2)
    elif "://" in text:
        parts = urlsplit(text)
        host, path = (parts.hostname or "").lower(), parts.path
        if github_url:  # GitHub Enterprise lives under a path prefix sometimes
            prefix = urlsplit(github_url).path.rstrip("/")
            if prefix and path.startswith(prefix + "/"):
                path = path[len(prefix):]
    elif text.startswith(("/", ".", "~")) or "\\" in text:
        return None
    else:
        host, path = "github.com", text
    if host not in hosts:
        return None
    match = OWNER_NAME.match(path.lstrip("/"))
    if not match or match.group(2) in (".", ".."):
        return None
    return f"{match.group(1)}/{match.group(2)}"


def _is_url(source: str) -> bool:
    return "://" in source or bool(re.match(r"^[\w.-]+@[\w.-]+:", source))


def _strip_userinfo(url: str) -> str:
    """The URL without an embedded user:password (used for what is shown, never for what is stored)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def _url_prefix_of(url: str) -> str:
    """scheme://host[:port]/ of an http(s) URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}/"
