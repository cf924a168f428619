"""What droid writes on a ticket, and how a ticket names the work: branch key, PR title, `Fixes #123`.

Pure functions of a run (usable on a worker too). Ticket text is untrusted: a key only reaches a branch
name when it has the exact shape of a Jira key or a GitHub issue number; everything else is bounded
here and redacted by the clients that send it.
"""

from __future__ import annotations

import re

from integrations.tickets import JIRA_KEY, is_github_repo, is_issue_number, is_jira_key

COMMENT_MAX = 2000
STEP_MAX = 200
STEPS_SHOWN = 10
REASON_MAX = 300
TITLE_MAX = 72
_KEY_IN_TEXT = re.compile(JIRA_KEY.pattern + r"\s*[:\-–]?")
# What notifies people when droid writes it on a tracker: GitHub `@user` / `@org/team`, Jira wiki `[~user]` /
# `[~accountid:…]`. A zero-width space after the sigil keeps the text readable and notifies nobody.
_MENTION = re.compile(r"(?<![\w.+-])@(?=[A-Za-z0-9])|\[(?=~)")
_ZWSP = "\u200b"


def marker(run_id: str, purpose: str) -> str:
    """The short tag that identifies one write of one run in the ticket's own text (found again after a crash)."""
    return f"[droid run {run_id} · {purpose}]"


def jira_key(run) -> str | None:
    """The run's Jira key, when it has exactly a Jira key's shape."""
    key = str((run.context or {}).get("jira_key") or "")
    return key if is_jira_key(key) else None


def github_issue(run) -> tuple[str, int] | None:
    """(owner/name, number) of the run's GitHub issue, when well-formed."""
    issue = (run.context or {}).get("github_issue") or {}
    repo, number = str(issue.get("repo") or ""), issue.get("number")
    if not is_github_repo(repo) or not is_issue_number(number):
        return None
    return repo, number


def branch_key(run) -> str:
    """What the branch name starts with: `PAY-142`, `issue-123`, or "" for a run without a ticket."""
    if key := jira_key(run):
        return key
    if issue := github_issue(run):
        return f"issue-{issue[1]}"
    return ""


def ticket_title(run) -> str:
    """The ticket's title when droid read it, else the task with the ticket's key taken out (one line)."""
    title = str(((run.context or {}).get("ticket") or {}).get("title") or "")
    if not title:
        title = _KEY_IN_TEXT.sub(" ", run.task or "")
    first = next((line for line in title.strip().splitlines() if line.strip()), "")
    return " ".join(first.split()).strip(" :-–") or "droid change"


def pr_title(run, default: str, goal: str = "") -> str:
    """`PAY-142: <title>` for a Jira ticket (the development panel links it by key; the title is the ticket's, else
    the plan's goal); the issue's title as is for a GitHub issue; `default` otherwise."""
    if key := jira_key(run):
        has_title = ((run.context or {}).get("ticket") or {}).get("title")
        title = ticket_title(run) if has_title or not goal.strip() else one_line(goal, TITLE_MAX)
        return f"{key}: {title[:1].upper() + title[1:]}"[:TITLE_MAX]
    if github_issue(run) and ((run.context or {}).get("ticket") or {}).get("title"):
        return ticket_title(run)[:TITLE_MAX]
    return default


def fixes_line(run, pr_repo: str | None) -> str | None:
    """`Fixes #123` (same repository) or `Fixes acme/pay#123` (the PR goes elsewhere), for a GitHub-issue run."""
    issue = github_issue(run)
    if issue is None:
        return None
    repo, number = issue
    same = pr_repo is not None and pr_repo.lower() == repo.lower()
    return f"Fixes #{number}" if same else f"Fixes {repo}#{number}"


def one_line(text: str, limit: int) -> str:
    """Untrusted text as one bounded line."""
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# What renders as nothing a reviewer reads (`<!-- … -->`), or fetches a URL when the page is viewed (images,
# media, frames: the URL's query can carry what the model read). Shown as text instead.
_HIDDEN_HTML = re.compile(r"(?i)<(?=!--|/?(?:img|picture|source|video|audio|iframe|object|embed|svg|style)\b)")
_IMAGE = re.compile(r"!(?=\[[^\]\n]*\]\s*[(\[])")


def inert(text: str) -> str:
    """Text droid writes on a ticket with its mentions disarmed (`@team`, `[~user]`): a ticket's title or the
    model echoing it must not page a GitHub team or a Jira user; hidden comments and auto-loading images are
    shown as text."""
    return _MENTION.sub(lambda m: m.group(0) + _ZWSP, _IMAGE.sub("", _HIDDEN_HTML.sub("&lt;", text)))


# What GitHub reads as an issue after a closing keyword: `#1`, `o/r#1`, `GH-1`, or the issue's URL.
_CLOSING = re.compile(
    r"(?i)\b(close[sd]?|fix(?:e[sd])?|resolve[sd]?)(?=\s*:?\s+(?:(?:[\w.-]+/[\w.-]+)?#\d|gh-\d|"
    r"<?https?://[^\s/]+/[\w.-]+/[\w.-]+/(?:issues|pull)/\d))")


def inert_pr(text: str) -> str:
    """PR text droid did not choose (the model's summary and steps, ticket titles) made `inert`, with
    closing keywords broken: only droid's own `Fixes #123` line may close an issue on merge."""
    return _CLOSING.sub(lambda m: m.group(1)[0] + _ZWSP + m.group(1)[1:], inert(text))


def with_marker(text: str, run_id: str, purpose: str) -> str:
    """The comment, bounded, mentions disarmed, ending with its marker on its own line."""
    text = inert(text.strip())
    if len(text) > COMMENT_MAX:
        text = text[: COMMENT_MAX - 1].rstrip() + "…"
    return f"{text}\n\n{marker(run_id, purpose)}"


def thread_comment(run, link: str) -> str:
    """The comment pointing to the run's Slack thread."""
    return f"droid drafted a plan for this ticket in Slack; it waits for approval there: {link}"


def approval_comment(run, plan) -> str:
    """The plan's summary once approved: goal and steps, bounded."""
    steps = [f"{i}. {one_line(s.title, STEP_MAX)}" for i, s in enumerate(plan.steps[:STEPS_SHOWN], 1)]
    if len(plan.steps) > STEPS_SHOWN:
        steps.append(f"… and {len(plan.steps) - STEPS_SHOWN} more step(s)")
    return "\n".join([f"droid's plan v{plan.version} was approved in Slack; droid is working on it.",
                      f"Goal: {one_line(plan.goal, 500)}", "Steps:", *steps])


def pull_request_comment(pr_url: str | None, branch: str | None, tests: str | None) -> str:
    """The comment announcing the pull request (or, without GitHub, the pushed branch)."""
    head = f"droid opened a pull request for this ticket: {pr_url}" if pr_url else \
        f"droid pushed the branch {branch} for this ticket (no pull request: GitHub is not configured)."
    return head + (f"\nTests: {one_line(tests, 300)}" if tests else "")


def failure_comment(run, reason: str, link: str | None) -> str:
    """What happened, short, and where the thread is."""
    where = f"The Slack thread: {link}" if link else f"See run {run.run_id} in Slack."
    return f"droid's run {run.run_id} on this ticket failed: {one_line(reason, REASON_MAX)}\n{where}"


def branch_naming(run) -> dict:
    """`slug` and `key` for the run's branch (integrations/workspace.py): the ticket's key first, then its title."""
    key = branch_key(run)
    return {"slug": ticket_title(run) if key else run.task, "key": key}
