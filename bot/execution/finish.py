"""Shipping a code change: run the tests, commit, push the droid/ branch, open the PR.

The run's ticket (Jira or GitHub issue) names the PR (`PAY-142: …`, `Fixes #123`); what droid writes on the
ticket itself is bot/tickets/writeback.py's, once the run has concluded.

Guardrails live in integrations/workspace.py (never the default or a protected branch, never
force); this module never merges. Everything that leaves is redacted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from skills.plan import Plan
from skills.skill import Outcome

log = logging.getLogger("droid.finish")


@dataclass
class TestRun:
    """What droid ran before shipping, and what came of it."""

    command: str | None
    exit_code: int | None = None
    summary: dict | None = None
    tail: str = ""

    def describe(self) -> str:
        """One line for Slack and the PR body."""
        if not self.command:
            return "No test command found in the repository (looked for pytest, tox, make test, npm test, …)."
        verdict = "passed" if self.exit_code == 0 else f"failed (exit {self.exit_code})"
        counts = ", ".join(f"{v} {k}" for k, v in (self.summary or {}).items() if v)
        return f"`{self.command}` {verdict}" + (f": {counts}" if counts else "")


def run_tests(settings, ws, secrets: list[str]) -> TestRun:
    """The repository's own tests in the workspace: the command its conventions state (nearest AGENTS.md to the
    changed files first), else the one discovered from the repo."""
    from integrations.workspace import changed_files
    from skills.tools.condense import condense
    from skills.tools.run import run_command, scrubbed_env
    from skills.tools.test_command import parse_test_summary, preferred_test_command
    chosen = preferred_test_command(ws.path, changed_files(ws), settings.conventions_file)
    if chosen is None:
        return TestRun(None)
    command = chosen.command
    result = run_command(command, ws.path / chosen.cwd, timeout=settings.test_timeout, env=scrubbed_env(secrets=secrets))
    tail = condense(result.output, max_lines=40).text
    return TestRun(command, result.exit_code, parse_test_summary(result.output), tail)


def ship(settings, run, plan: Plan, ws, summary: str, redact, record, thread_link: str | None) -> Outcome:
    """Tests → commit → push → pull request (when GitHub is configured)."""
    from bot.tickets.writeback_text import fixes_line, pr_title
    from integrations.workspace import (
        GuardrailError,
        WorkspaceError,
        changed_files,
        commit_all,
        diff_stat,
        github_repo_of,
        push_branch,
    )
    files = changed_files(ws)
    if not files:
        return Outcome("No change made", redact(summary or "The agent finished without changing any file."), ok=False)
    tests = run_tests(settings, ws, settings.secrets())
    record("tests", command=tests.command, exit_code=tests.exit_code, summary=tests.summary)
    title = pr_title(run, _title(run.task), plan.goal)
    message = redact(f"{title}\n\n{summary}\n\nTests: {tests.describe()}\nRun {run.run_id} by droid, approved by "
                     f"{run.approved_by} (plan v{plan.version}).")
    target = run.context.get("github_repo") or ws.source
    remote = push_target(settings, ws, target)
    try:
        sha = commit_all(ws, message)
        push_branch(remote, protected=settings.protected_branches, token=settings.github_token)
    except GuardrailError as exc:
        record("guardrail", message=str(exc))
        return Outcome("Not pushed", f"A guardrail stopped the push: {exc}", ok=False)
    except WorkspaceError as exc:
        return Outcome("Push failed", f"The branch could not be pushed: {exc}", ok=False)
    record("pushed", branch=ws.branch, commit=sha, files=files)
    stat = diff_stat(ws)
    fixes = fixes_line(run, github_repo_of(target, github_url=settings.github_url))
    body = pr_body(run, plan, summary, files, stat, tests, thread_link, fixes)
    pr_url = _open_pr(settings, target, ws, title, body, redact, record)
    from bot.slack import mrkdwn
    where = mrkdwn.link(pr_url, "Pull request") if pr_url else \
        f"Branch {mrkdwn.code(ws.branch)} pushed to {mrkdwn.code(ws.source if remote is ws else remote.remote_url)}"
    text = (f"{where} — {len(files)} file(s) changed.\n*Tests:* {tests.describe()}\n\n"
            f"{mrkdwn.from_model(summary, mrkdwn.allowed_hosts(settings))}\n{mrkdwn.code_block(stat)}")
    return Outcome("Change ready for review" if tests.exit_code in (0, None) else "Change pushed; tests fail",
                   redact(text), ok=True)


def push_target(settings, ws, target: str):
    """Where the branch is pushed: the workspace's source, unless the pull request goes to a GitHub repository the
    source is not (a local checkout or a mirror with a `github:` name): then to that repository, which needs it."""
    from integrations.workspace import github_repo_of, toward_github
    name = github_repo_of(target, github_url=settings.github_url)
    here = github_repo_of(ws.remote_url or ws.source, github_url=settings.github_url)
    if not name or not settings.github_token or (here or "").lower() == name.lower():
        return ws
    return toward_github(ws, name, settings.github_url)


def pr_body(run, plan: Plan, summary: str, files: list[str], stat: str, tests: TestRun, thread_link: str | None,
            fixes: str | None = None) -> str:
    """Summary, the approved plan, what changed, tests, risks, links back (and `Fixes #123` for a GitHub issue)."""
    from bot.tickets.writeback_text import inert_pr
    steps = "\n".join(f"{i}. {s.title}" for i, s in enumerate(plan.steps, 1))
    links = [f"- Slack thread: {thread_link}" if thread_link else f"- Slack run `{run.run_id}`"]
    if run.context.get("jira_key"):
        links.append(f"- Jira: {run.context.get('jira_url') or run.context['jira_key']}")
    body = inert_pr(   # what the model and the ticket wrote may neither page a team nor close an issue
        f"## Summary\n{summary}\n\n## Approved plan (v{plan.version}, approved by {run.approved_by})\n{steps}\n\n"
        f"## What changed\n```\n{stat}\n```\n\n## Tests\n{tests.describe()}\n\n"
        + (f"```\n{tests.tail}\n```\n\n" if tests.exit_code not in (0, None) else "")
        + "## Risks\n" + "\n".join(f"- {r}" for r in plan.risks or ["none noted"]) + "\n\n## Links\n"
        + "\n".join(links))
    return body + (f"\n- {fixes}" if fixes else "") + "\n\n_Opened by droid. Review before merging: droid never merges._\n"


def _open_pr(settings, target: str, ws, title: str, body: str, redact, record) -> str | None:
    from integrations.github_client import GitHubClient, GitHubError
    from integrations.workspace import github_repo_of
    repo = github_repo_of(target, github_url=settings.github_url)
    if not (settings.github_token and repo):
        return None
    try:
        pr = GitHubClient(settings.github_token, settings.github_api_url, redact=redact).open_pull_request(
            repo, head=ws.branch, base=ws.base_branch, title=title, body=body)
    except GitHubError as exc:
        record("error", phase="pull_request", message=str(exc))
        return None
    record("pull_request", number=pr.number, url=pr.url, title=pr.title)
    return pr.url


def _title(task: str) -> str:
    first = task.strip().splitlines()[0] if task.strip() else "droid change"
    return (first[:1].upper() + first[1:])[:72]
