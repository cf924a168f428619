"""A thin typed wrapper over PyGithub: the few GitHub calls droid makes, with errors it can post.

droid never merges: there is no merge call here, on purpose.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from urllib3.util.retry import Retry

from integrations.redact import Redactor

log = logging.getLogger("droid.github")

MAX_LISTED = 100
MESSAGE_MAX = 200


@dataclass
class PullRequestInfo:
    """What droid needs to know about a pull request."""

    number: int
    url: str                       # html_url: the page a person opens
    title: str
    state: str                     # "open" | "closed"
    merged: bool
    author: str
    merge_commit_sha: str | None
    head: str = ""                 # head branch name
    base: str = ""                 # base branch name
    draft: bool = False


class GitHubError(Exception):
    """A GitHub call failed. `kind`: auth | not_found | rate_limited | invalid | server | unknown."""

    def __init__(self, message: str, kind: str = "unknown", status: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.status = status


def _short(text: str) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def _details(data) -> str:
    """GitHub's message plus the errors[] messages of a 422 ("A pull request already exists …")."""
    if not isinstance(data, dict):
        return ""
    parts = [str(data.get("message") or "")]
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            parts.append(str(err.get("message") or " ".join(str(err.get(k, "")) for k in ("field", "code")).strip()))
        else:
            parts.append(str(err))
    return ": ".join(p for p in parts if p)


def _translate(exc: Exception, what: str) -> GitHubError:
    """A PyGithub / transport exception as a GitHubError with a short message (no token, no dump)."""
    from github import GithubException
    from github.GithubException import (
        BadCredentialsException,
        RateLimitExceededException,
        UnknownObjectException,
    )
    if isinstance(exc, GithubException):
        status = exc.status
        detail = _details(exc.data)
        if isinstance(exc, BadCredentialsException) or status == 401:
            return GitHubError(f"{what}: GitHub rejected the token (401 {detail or 'Bad credentials'})", "auth", status)
        if isinstance(exc, RateLimitExceededException) or status == 429:
            return GitHubError(_short(f"{what}: GitHub rate limit exceeded ({detail})"), "rate_limited", status)
        if isinstance(exc, UnknownObjectException) or status == 404:
            return GitHubError(f"{what}: not found (404) — check the repository name and the token's access",
                               "not_found", status)
        if status == 403:
            return GitHubError(_short(f"{what}: forbidden (403 {detail})"), "auth", status)
        if status == 422:
            return GitHubError(_short(f"{what}: {detail or 'validation failed'} (422)"), "invalid", status)
        if status and status >= 500:
            return GitHubError(f"{what}: GitHub server error ({status})", "server", status)
        return GitHubError(_short(f"{what}: GitHub answered {status} {detail}"), "unknown", status)
    name = type(exc).__name__
    if "Timeout" in name or "Connection" in name or "Retry" in name:
        return GitHubError(f"{what}: GitHub unreachable ({name})", "server")
    return GitHubError(_short(f"{what}: {name}"), "unknown")


def _pr_info(pr) -> PullRequestInfo:
    """From attributes present in both list and single responses (so PyGithub fetches nothing more)."""
    return PullRequestInfo(
        number=int(pr.number), url=pr.html_url or pr.url or "", title=pr.title or "", state=pr.state or "",
        merged=pr.merged_at is not None, author=pr.user.login if pr.user else "",
        merge_commit_sha=pr.merge_commit_sha or None, head=pr.head.ref if pr.head else "",
        base=pr.base.ref if pr.base else "", draft=bool(pr.draft))


class GitHubClient:
    """GitHub through PyGithub; every base URL configurable (GitHub Enterprise, test stubs)."""

    def __init__(self, token: str, base_url: str = "https://api.github.com", retries: int = 2, *,
                 timeout: int = 15, backoff: float = 0.5, redact=None):
        from github import Auth, Github
        self.redact = redact or Redactor([token])   # everything droid writes to GitHub is redacted
        # Retries: idempotent requests on 5xx and connection errors only (never a POST, so a PR is
        # never opened twice); rate limits are reported, not slept through.
        retry = Retry(total=retries, connect=retries, read=retries, status=retries, backoff_factor=backoff,
                      status_forcelist=(500, 502, 503, 504), raise_on_status=False,
                      respect_retry_after_header=False)
        self._gh = Github(base_url=(base_url or "https://api.github.com").rstrip("/"), auth=Auth.Token(token),
                          retry=retry, timeout=int(timeout), per_page=MAX_LISTED)

    def __repr__(self) -> str:
        return "GitHubClient(...)"

    def close(self) -> None:
        self._gh.close()

    def _repo(self, repo: str):
        return self._gh.get_repo(repo, lazy=True)

    def default_branch(self, repo: str) -> str:
        """The repository's default branch."""
        try:
            return self._gh.get_repo(repo).default_branch
        except Exception as exc:
            raise _translate(exc, f"reading {repo}") from None

    def protected_branches(self, repo: str) -> set[str]:
        """Names of protected branches; best effort (empty when the token may not see them)."""
        from github.Branch import Branch
        from github.PaginatedList import PaginatedList
        try:
            r = self._repo(repo)
            branches = PaginatedList(Branch, r.requester, f"{r.url}/branches", {"protected": "true"})
            names = set()
            for i, branch in enumerate(branches):
                if i >= 10 * MAX_LISTED:
                    break
                if branch.raw_data.get("protected", True):
                    names.add(branch.name)
            return names
        except Exception as exc:
            err = _translate(exc, f"listing branches of {repo}")
            if err.status in (403, 404):
                return set()
            raise err from None

    def open_pull_request(self, repo: str, *, head: str, base: str, title: str, body: str,
                          draft: bool = False) -> PullRequestInfo:
        """Open a pull request from `head` into `base` (never merges). If one is already open for
        that head and base, it is returned instead of failing."""
        r = self._repo(repo)
        title, body = self.redact(title), self.redact(body)
        try:
            pr = r.create_pull(base=base, head=head, title=title, body=body, draft=draft)
        except Exception as exc:
            err = _translate(exc, f"opening a pull request on {repo}")
            if err.kind == "invalid" and "already exists" in str(err):
                existing = self._open_pull(repo, head, base)
                if existing:
                    return existing
            raise err from None
        info = _pr_info(pr)
        log.info("opened %s", info.url)
        return info

    def _open_pull(self, repo: str, head: str, base: str) -> PullRequestInfo | None:
        owner = repo.split("/")[0]
        try:
            for pr in self._repo(repo).get_pulls(state="open", head=f"{owner}:{head}", base=base):
                return _pr_info(pr)
        except Exception:
            return None
        return None

    def issue(self, repo: str, number: int, comments: int = 5) -> tuple[dict, list[dict]]:
        """An issue's JSON and its newest `comments` comments' JSON, oldest first (at most two pages read)."""
        try:
            data = dict(self._repo(repo).get_issue(int(number)).raw_data)
            total = int(data.get("comments") or 0)
            latest: list[dict] = []
            last = (total - 1) // MAX_LISTED + 1      # GitHub's pages count from 1
            for page in (last, last - 1) if total and comments > 0 else ():
                if page < 1 or len(latest) >= comments:
                    break
                # raw pages: PyGithub's comment objects would each be re-fetched to give their raw_data
                _, items = self._gh.requester.requestJsonAndCheck(
                    "GET", f"/repos/{repo}/issues/{int(number)}/comments", parameters={"per_page": MAX_LISTED,
                                                                                        "page": page})
                latest = list(items or []) + latest
            return data, latest[-comments:] if comments > 0 else []
        except Exception as exc:
            raise _translate(exc, f"reading issue {repo}#{number}") from None

    def pulls_for_commit(self, repo: str, sha: str) -> list[PullRequestInfo]:
        """Pull requests associated with a commit (GET /repos/{repo}/commits/{sha}/pulls)."""
        try:
            pulls = self._repo(repo).get_commit(sha).get_pulls()
            out = []
            for i, pr in enumerate(pulls):
                if i >= MAX_LISTED:
                    break
                out.append(_pr_info(pr))
            return out
        except Exception as exc:
            raise _translate(exc, f"pull requests of {sha[:12]} in {repo}") from None

    def commit_author(self, repo: str, sha: str) -> str | None:
        """The GitHub login of a commit's author, else the git author name, else None."""
        try:
            commit = self._repo(repo).get_commit(sha)
            if commit.author is not None and commit.author.login:
                return commit.author.login
            git_author = commit.commit.author
            return (git_author.name if git_author else None) or None
        except Exception as exc:
            raise _translate(exc, f"commit {sha[:12]} in {repo}") from None

    # -- the write side on issues: what droid writes back to a GitHub issue (bot/tickets/writeback.py) --
    def comment_on_issue(self, repo: str, number: int, body: str) -> str:
        """Comment on an issue (never retried: a POST); the comment's html_url."""
        try:
            comment = self._repo(repo).get_issue(int(number)).create_comment(self.redact(body))
        except Exception as exc:
            raise _translate(exc, f"commenting on {repo}#{number}") from None
        return comment.html_url or ""

    def issue_comments(self, repo: str, number: int, n: int = 30, since=None) -> list[dict]:
        """Up to `n` comments of an issue (updated after `since`, a datetime, when given): [{"id", "url", "text"}]."""
        try:
            issue = self._repo(repo).get_issue(int(number))
            found = issue.get_comments(since=since) if since is not None else issue.get_comments()
            out = []
            for i, comment in enumerate(found):
                if i >= n:
                    break
                out.append({"id": str(comment.id), "url": comment.html_url or "", "text": comment.body or ""})
            return out
        except Exception as exc:
            raise _translate(exc, f"reading the comments of {repo}#{number}") from None
