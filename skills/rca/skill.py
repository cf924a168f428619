"""The alert RCA skill: read-only, deterministic evidence first, a model's narrative only when configured."""

from __future__ import annotations

import logging
from pathlib import Path

from skills.plan import Budget, Plan, Step
from skills.rca import report
from skills.skill import Outcome, Skill

log = logging.getLogger("droid.rca")

INSTRUCTIONS = """You explain production errors from the evidence droid gathered. Every sentence you write must
cite at least one evidence item by its id in brackets, e.g. [E2]; claims you cannot tie to an item are not
allowed. Say what broke in terms of the system, and which change most likely caused it. Be brief."""


def template(task: str) -> Plan:
    """The RCA's fixed plan."""
    return Plan(goal=f"Root-cause analysis: {task}",
                steps=[Step("Fetch the issue and its event from Sentry"),
                       Step("Map in-app frames to the repository at the release's commit"),
                       Step("Blame and history: suspect commits before first-seen"),
                       Step("Post the report, the full evidence and the timeline")],
                risks=["Read-only: nothing is changed."], budget=Budget(steps=10, tokens=60_000), actions=["read"])


def execute(services, run, plan: Plan) -> Outcome:
    """Fetch → analyse → report. Every failure is a short, specific message."""
    from integrations.sentry_event import parse_event
    ctx = run.context
    fetched = _fetch(services, ctx)
    if isinstance(fetched, Outcome):
        return fetched
    payload, issue, counts = fetched
    # Redacted before anything reads it: search terms, quoted lines and titles come from this text.
    payload, issue = services.redact.data(payload), services.redact.data(issue)
    event = parse_event(payload)
    _merge_issue(event, issue)
    from bot.orchestration.repo_choice import repo_for_rca
    repo = repo_for_rca(services, run, event)      # several repositories: the one holding the stack's files
    if repo is None or not (repo / ".git").exists() and not (repo / "HEAD").exists():
        return Outcome("RCA: no repository", f"{report_title(event)}\nNo git repository is mapped to this channel, "
                       "so droid cannot map the stack to code. Map one in DROID_CONFIG.", ok=False)
    from skills.rca.evidence import analyse
    evidence = analyse(event, repo, event.first_seen, redact=services.redact)
    services.record("rca_evidence", commit=evidence.commit, top_locations=[s.to_json() for s in evidence.suspect_locations[:3]],
                    top_commits=[c.sha for c in evidence.suspect_commits[:3]], seconds=round(evidence.seconds, 3))
    narrative = _narrative(services, evidence, repo)
    title = report_title(event)
    pulls = _pull_requests(services, run, evidence)
    body = report.summary(evidence, pulls=pulls, narrative=narrative)
    body += "\n\n_" + ("Evidence gathered deterministically; the narrative above is the model's, checked for citations."
                       if narrative else "Evidence gathered deterministically (git, Sentry); no model was used"
                       + ("" if services.llm else " — set ANTHROPIC_API_KEY for a written investigation") + ".") + "_"
    files = [(f"rca-{ctx.get('sentry_issue') or run.run_id}.md", report.full_markdown(
        evidence, title, event.permalink, pulls=pulls, narrative=narrative), "Full RCA report")]
    picture = _timeline(evidence, counts, event, services.redact)
    if picture:
        files.append((f"rca-{ctx.get('sentry_issue') or run.run_id}-timeline.png", picture, "Timeline"))
    return Outcome(f"Root-cause analysis: {title}", body, ok=True, files=files,
                   buttons=[("Draft a fix", "droid_rca_fix"), ("Create Jira ticket", "droid_rca_jira")])


def report_title(event) -> str:
    """The issue's title, short."""
    return (event.title or (event.primary.summary() if event.primary else "") or "error")[:120]


def _fetch(services, ctx: dict):
    """(event payload, issue dict or None, counts) from the alert itself or the Sentry API."""
    settings, issue_id = services.settings, ctx.get("sentry_issue")
    if ctx.get("event"):
        return ctx["event"], ctx.get("issue"), []
    if not issue_id:
        return Outcome("RCA: nothing to analyse", "The alert names no Sentry issue droid could find.", ok=False)
    if not (settings.sentry_token and (ctx.get("sentry_org") or settings.sentry_org)):
        return Outcome("RCA: Sentry not configured", f"Sentry issue {issue_id}: droid needs SENTRY_AUTH_TOKEN and "
                       "SENTRY_ORG to fetch its stack trace. Set them and run `droid doctor`.", ok=False)
    from integrations.sentry_client import SentryClient, SentryError
    client = SentryClient(settings.sentry_url, settings.sentry_token, ctx.get("sentry_org") or settings.sentry_org)
    try:
        issue = client.issue(issue_id)
        payload = client.event(issue_id)
    except SentryError as exc:
        services.record("error", phase="sentry", kind=exc.kind, message=exc.message)
        hint = {"not_found": "the issue does not exist or the token cannot see it",
                "auth": "the token was refused", "rate_limited": "Sentry is rate-limiting droid; try again shortly",
                "server": "Sentry is failing", "connection": "Sentry cannot be reached"}.get(exc.kind, exc.message)
        return Outcome("RCA: Sentry unavailable", f"Could not fetch Sentry issue {issue_id}: {hint}. "
                       "The alert is recorded; mention @droid in this thread to retry.", ok=False)
    try:
        counts = client.event_counts(issue_id)
    except SentryError:
        counts = []
    return payload, issue.raw, counts


def _merge_issue(event, issue: dict | None) -> None:
    """Issue-level facts (counts, first seen, permalink) into the parsed event."""
    if not issue:
        return
    from integrations.sentry_values import parse_timestamp
    event.issue_id = event.issue_id or str(issue.get("id") or "") or None
    event.short_id = event.short_id or issue.get("shortId")
    event.permalink = event.permalink or issue.get("permalink")
    event.count = event.count or _int(issue.get("count"))
    event.user_count = event.user_count or _int(issue.get("userCount"))
    event.first_seen = event.first_seen or parse_timestamp(issue.get("firstSeen"))
    event.last_seen = event.last_seen or parse_timestamp(issue.get("lastSeen"))
    event.title = event.title or issue.get("title")


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _timeline(evidence, counts, event, redact) -> bytes | None:
    try:
        from skills.rca.timeline import render_timeline
    except ImportError:
        return None
    marks = [(c.date, "commit", f"#{i} {c.sha[:7]} {c.author}")
             for i, c in enumerate(evidence.suspect_commits[:3], 1) if c.date]
    releases = {c.release for c in evidence.suspect_commits[:3] if getattr(c, "release", None)}
    marks += [(when, "release", name) for name, when in sorted(releases, key=lambda r: r[1])]
    if evidence.first_seen:
        marks.append((evidence.first_seen, "first_seen", "first seen"))
    if not counts and event.timestamp:
        counts = [(event.timestamp, event.count or 1)]
    try:
        return render_timeline(counts, marks=marks, title=report_title(event), redact=redact)
    except Exception as exc:  # noqa: BLE001 — a picture is a nice-to-have; the report stands without it
        log.warning("timeline not rendered: %s", exc)
        return None


def _narrative(services, evidence, repo: Path) -> str:
    """With a model: it investigates with read-only tools (bounded) and writes an explanation whose every
    sentence cites an evidence item; sentences that cite none are marked as speculation."""
    if services.agent is None:
        return ""
    from bot.execution.agent_loop import Limits
    from skills.ask import read_tools
    from skills.tools.base import Tool, ToolContext, ToolResult
    items = evidence_items(evidence)
    listing = "\n".join(f"[{key}] {text}" for key, text in items.items())
    finish = Tool("final_answer", "Finish with the explanation (every sentence cites [E#]).",
                  {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
                  lambda text: ToolResult("Recorded.", control={"final": text}))
    tools = [*read_tools(ToolContext(repo=repo, redact=services.redact)), finish]
    result = services.agent(INSTRUCTIONS, f"Evidence items:\n{listing}\n\nInvestigate with the read-only tools if "
                            "needed, then call final_answer with the most likely root cause.", tools,
                            Limits(max_steps=8, max_tokens=80_000, max_cost_usd=1.0, max_wall_seconds=120))
    if result.outcome != "final" or not result.text:
        services.record("narrative_skipped", outcome=result.outcome, reason=result.text[:300])
        return ""
    return cited_only(result.text, set(items))


def _pull_requests(services, run, evidence) -> dict[str, str]:
    """Pull requests of the top suspect commits, from GitHub when configured."""
    settings = services.settings
    repo = run.context.get("github_repo") or settings.routing.github_repo_for(run.channel)
    if not (settings.github_token and repo):
        return {}
    from bot.slack import mrkdwn
    from integrations.github_client import GitHubClient, GitHubError
    client, out = GitHubClient(settings.github_token, settings.github_api_url), {}
    for suspect in evidence.suspect_commits[:3]:
        try:
            pulls = client.pulls_for_commit(repo, suspect.sha)
        except GitHubError as exc:
            services.record("error", phase="github_pulls", message=str(exc)[:300])
            break
        if pulls:
            out[suspect.sha] = f"{mrkdwn.link(pulls[0].url, f'PR #{pulls[0].number}')} by {pulls[0].author}"
    return out


def evidence_items(evidence) -> dict[str, str]:
    """Numbered evidence the model may cite."""
    items, n = {}, 0
    for loc in evidence.suspect_locations[:5]:
        n += 1
        items[f"E{n}"] = f"suspect location {loc.file}:{loc.line} {loc.function}: {'; '.join(loc.reasons[:3])}"
    for c in evidence.suspect_commits[:5]:
        n += 1
        items[f"E{n}"] = f"suspect commit {c.sha[:10]} by {c.author} '{c.subject}': {'; '.join(c.reasons[:3])}"
    n += 1
    items[f"E{n}"] = f"exception {evidence.exception}"
    return items


def cited_only(text: str, keys: set[str]) -> str:
    """Keep sentences that cite a known evidence item; mark the rest as speculation."""
    import re
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+", text.strip()):
        cites = set(re.findall(r"\[(E\d+)\]", sentence))
        if cites and cites <= keys:
            out.append(sentence)
        elif sentence:
            out.append(f"_(speculation, no evidence cited: {sentence})_")
    return " ".join(out)


SKILL = Skill(
    name="rca",
    description="Root-cause analysis of a Sentry alert (read-only)",
    template=template,
    instructions=INSTRUCTIONS,
    needs_approval=False,
    max_steps=10,
    execute=execute,
)

