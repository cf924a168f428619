"""Which repository a run works on when its channel is mapped to several (`channels: {C: {repos: [a, b]}}`).

Order of precedence, first that answers wins:
1. Revise feedback naming one of the channel's repositories (`use b`, `repo: b`, its basename or GitHub name);
2. the requester naming one in the mention (`in repo b`, `repo: b`, `in the b repo`);
3. the ticket's components and labels mapped through `ticket_repos`, or a GitHub issue's own repository;
4. `locate` search scores of the task (and the ticket's title and description) in each repository: the best
   wins when it leads the next by at least MARGIN, else the channel's first repository, saying so.
Ticket TEXT never chooses: only its components/labels through the configured mapping (and where it lives).
A run from an RCA's "Draft a fix" keeps the repository the RCA's stack frames chose.

The choice is made on droid's executor while planning (`choose`), recorded in run.context["repo_choice"] and
as a `repo_choice` event, sets run.repo (the workspace is created from it) and run.context["github_repo"]
(where the pull request goes). An RCA picks by stack frames when it has its event (`repo_for_rca`).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from bot.orchestration.repo_scores import Candidate, frame_scores, search_scores

log = logging.getLogger("droid.repo_choice")
MARGIN = 0.15           # search: the best repository must lead the next by this much (scores 0..1; bench/repo_choice.py)
_NAME = r"`?([\w][\w./@:-]*?)`?"
_TAIL = r"(?=$|[\s.,;:!?)])"
# (pattern, whether an unknown name there is worth answering): the requester's words name a repository only in
# forms that say "repo"; an unknown name is answered only where the words clearly ask for a repository
REQUEST = [(re.compile(r"\b(?:repo|repository)\s*[:=]\s*" + _NAME + _TAIL, re.I), True),
           (re.compile(r"\b(?:use|using|in|on|against|switch\s+to)\s+(?:the\s+)?(?:repo|repository)\s+" + _NAME + _TAIL,
                       re.I), True),
           (re.compile(r"\b(?:repo|repository)\s+" + _NAME + _TAIL, re.I), False),
           (re.compile(r"\b(?:in|on|use|using|against)\s+(?:the\s+)?" + _NAME + r"\s+(?:repo|repository)\b", re.I), False)]
# Revise feedback may also say `use b` / `switch to b` (only a configured name counts then)
LOOSE = [(re.compile(r"\b(?:use|switch\s+to|move\s+to|try)\s+(?:the\s+)?" + _NAME
                     + r"(?=$|[.,;!?)]|\s+(?:instead|please)\b)", re.I), False)]


@dataclass
class Choice:
    """The repository chosen for a run, why, by what rule, and the candidates' scores."""

    repo: str
    why: str
    by: str                      # request | revise | ticket | search | default | rca | frames | kept
    candidates: list[Candidate] = field(default_factory=list)
    name: str = ""               # how the plan names it

    def to_dict(self) -> dict:
        """run.context["repo_choice"]: {repo, why, by, name, candidates: [{repo, score, detail}]}."""
        return {"repo": self.repo, "why": self.why, "by": self.by, "name": self.name,
                "candidates": [c.to_dict() for c in self.candidates]}

    @classmethod
    def from_dict(cls, data: dict) -> Choice:
        """Inverse of to_dict."""
        cands = [Candidate(c.get("repo", ""), c.get("score"), c.get("detail", "")) for c in data.get("candidates") or []]
        return cls(str(data.get("repo") or ""), str(data.get("why") or ""), str(data.get("by") or ""), cands,
                   str(data.get("name") or ""))


# -- names -------------------------------------------------------------------------------------------
def display_name(routing, repo: str) -> str:
    """How droid names a repository: its GitHub owner/name (configured, or the repo's own), else its last path part."""
    return _github(routing, repo) or _base(repo) or repo


def _github(routing, repo: str) -> str | None:
    from integrations.workspace import github_repo_of
    return routing.github_for_repo(repo) or github_repo_of(repo)


def _base(text: str) -> str:
    return re.sub(r"\.git$", "", str(text).rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])


def _names(routing, repo: str) -> set[str]:
    names = {repo, _base(repo)}
    github = _github(routing, repo)
    if github:
        names |= {github, _base(github)}
    return {n.lower() for n in names if n}


def find_repo(routing, repos, name: str) -> str | None:
    """The configured repository `name` refers to (full value, basename or GitHub name; any case), or None."""
    wanted = name.strip("`'\"").rstrip("/").lower()
    wanted = re.sub(r"\.git$", "", wanted)
    hits = [r for r in repos if wanted in _names(routing, r) or wanted + ".git" in _names(routing, r)]
    return hits[0] if len(hits) == 1 else None


def named_in(routing, repos, text: str, *, loose: bool = False) -> tuple[str | None, str | None]:
    """(the configured repository `text` asks for, or None; the unknown name it asked for, or None)."""
    unknown = None
    for pattern, answer_unknown in REQUEST + (LOOSE if loose else []):
        for match in pattern.finditer(text or ""):
            repo = find_repo(routing, repos, match.group(1))
            if repo:
                return repo, None
            if answer_unknown and unknown is None:
                unknown = match.group(1)
    if loose and find_repo(routing, repos, (text or "").strip().rstrip(".!")):
        return find_repo(routing, repos, text.strip().rstrip(".!")), None
    return None, unknown


def _listing(routing, repos) -> str:
    return ", ".join(f"`{display_name(routing, r)}`" for r in repos)


# -- the rules -----------------------------------------------------------------------------------------
def _by_ticket(routing, repos, ticket: dict | None) -> tuple[list[str], str]:
    """Repositories the ticket's components/labels map to (and a GitHub issue's own repository), and why."""
    if not ticket:
        return [], ""
    votes: dict[str, list[str]] = {}
    for kind in ("components", "labels"):
        for value in ticket.get(kind) or []:
            target = routing.ticket_repos.get(str(value))
            repo = find_repo(routing, repos, target) if target else None
            if repo:
                votes.setdefault(repo, []).append(f"{kind[:-1]} `{value}`")
    issue_repo = (ticket.get("ref") or {}).get("repo")
    if issue_repo and (repo := find_repo(routing, repos, issue_repo)):
        votes.setdefault(repo, []).append(f"the issue lives in `{issue_repo}`")
    if not votes:
        return [], ""
    most = max(len(v) for v in votes.values())
    chosen = [r for r in repos if len(votes.get(r, ())) == most]
    key = (ticket.get("ref") or {}).get("key", "the ticket")
    return chosen, f"ticket {key}: " + "; ".join(f"{', '.join(votes[r])} → `{display_name(routing, r)}`"
                                                 for r in chosen)


def _by_search(routing, repos, query: str) -> Choice:
    cands = search_scores(repos, query)
    scored = sorted((c for c in cands if c.score is not None), key=lambda c: -c.score)
    listing = "; ".join(f"`{display_name(routing, c.repo)}` {c.score:.2f}" for c in scored)
    if scored and scored[0].score > 0 and (len(scored) == 1 or scored[0].score - scored[1].score >= MARGIN):
        best = scored[0]
        return Choice(best.repo, f"its code matches the task best ({listing}; {best.detail})", "search", cands)
    why = (f"no repository's code clearly matches the task ({listing or 'none could be searched'}): "
           "the channel's first repository")
    return Choice(repos[0], why, "default", cands)


def _ticket(context: dict) -> dict | None:
    ticket = context.get("ticket")
    return ticket if isinstance(ticket, dict) else None


def _query(run, ticket: dict | None) -> str:
    if not ticket:
        return run.task
    from integrations.tickets import Ticket
    return Ticket.from_dict(ticket).query_text() + "\n" + run.task


def _from_requester(run) -> bool:
    """Whether run.task is the requester's own words (a mention), not a ticket's title from an intake."""
    return ((run.context.get("trigger") or {}).get("source") or "mention") == "mention"


def decide(routing, run, feedback: str | None) -> Choice | None:
    """The repository for `run` by the rules above; None when the channel has one repository."""
    repos = routing.repos_for(run.channel)
    if len(repos) < 2:
        return None
    ctx = run.context
    previous = Choice.from_dict(ctx["repo_choice"]) if isinstance(ctx.get("repo_choice"), dict) else None
    current = run.repo if run.repo in repos else (previous.repo if previous else repos[0])
    if feedback:
        named, unknown = named_in(routing, repos, feedback, loose=True)
        if named:
            return Choice(named, "switched on Revise: the feedback names it", "revise")
        if unknown:
            return Choice(current, f"`{unknown}` is not a repository of this channel (available: "
                          f"{_listing(routing, repos)}); staying on `{display_name(routing, current)}`", "kept")
    if previous and previous.repo in repos:
        ticketed, _ = _by_ticket(routing, repos, _ticket(ctx))
        if previous.by not in ("search", "default") or not ticketed or previous.repo in ticketed:
            return previous          # a ticket read after an automatic choice may still decide
    if ctx.get("from_rca") and run.repo in repos:
        return Choice(run.repo, "the analysed alert's stack frames are in this repository", "rca")
    if _from_requester(run):
        named, unknown = named_in(routing, repos, run.task)
        if named:
            return Choice(named, "the request names it", "request")
    ticketed, why = _by_ticket(routing, repos, _ticket(ctx))
    if len(ticketed) == 1:
        return Choice(ticketed[0], why, "ticket")
    choice = _by_search(routing, ticketed or repos, _query(run, _ticket(ctx)))
    if len(ticketed) > 1:
        choice.why = f"{why}; among those, {choice.why}"
    return choice


# -- applying it ------------------------------------------------------------------------------------------
def github_target(settings, channel: str, repo: str) -> str | None:
    """Where a pull request from `repo` goes: its configured GitHub name, itself when it is one, else the channel's."""
    from integrations.workspace import github_repo_of
    routing = settings.routing
    return (routing.github_for_repo(repo) or github_repo_of(repo, github_url=settings.github_url)
            or routing.github_repo_for(channel))


def choose(settings, store, run, skill, feedback: str | None = None) -> Choice | None:
    """At planning time: decide the run's repository, record it and set run.repo (in the store and on `run`)."""
    if skill.execute is not None or len(settings.routing.repos_for(run.channel)) < 2:
        return None                      # one repository; or a fixed procedure (the RCA) that chooses by its evidence
    fresh = store.runs.get(run.run_id) or run      # another planning hook may have added the ticket meanwhile
    try:
        choice = decide(settings.routing, fresh, feedback)
    except Exception:  # noqa: BLE001 — a failed choice leaves the channel's default repository, not a failed run
        log.exception("run %s: choosing the repository failed; keeping %s", run.run_id, run.repo)
        return None
    if choice is None:
        return None
    choice.name = display_name(settings.routing, choice.repo)
    _apply(settings, store.runs.update, lambda kind, **data: store.events.append(run.run_id, kind, **data),
           fresh, choice)
    run.repo, run.context = fresh.repo, fresh.context
    return choice


def _apply(settings, update, record, run, choice: Choice) -> None:
    """Store the choice on the run (repo, context) unless it is already the stored one."""
    if run.context.get("repo_choice") == choice.to_dict() and run.repo == choice.repo:
        return
    if choice.by == "kept":          # a refused switch: said on this plan and recorded, the choice stays
        return record("repo_choice", **choice.to_dict())
    context = {**run.context, "repo_choice": choice.to_dict()}
    github = github_target(settings, run.channel, choice.repo)
    if github:
        context["github_repo"] = github
    else:
        context.pop("github_repo", None)
    if run.repo != choice.repo:
        context.pop("workspace", None)     # a checkout of the previous repository is no use now
    run.repo, run.context = choice.repo, context
    update(run.run_id, repo=choice.repo, context=context)
    record("repo_choice", **choice.to_dict())


def annotate(plan, choice: Choice | None) -> None:
    """Name the repository and why on the plan (shown as one line of the plan message)."""
    if choice is not None:
        plan.repo, plan.repo_why = choice.name or choice.repo, choice.why


def repo_for_rca(services, run, event) -> Path | None:
    """The RCA's repository: in a channel with several, the one holding most of the stack's in-app frames."""
    repos = services.settings.routing.repos_for(run.channel)
    if len(repos) >= 2:
        cands = frame_scores(repos, event.frames)
        scored = sorted((c for c in cands if c.score is not None), key=lambda c: -c.score)
        if scored and scored[0].score > 0 and (len(scored) == 1 or scored[0].score > scored[1].score):
            choice = Choice(scored[0].repo, f"it holds the stack's files ({scored[0].detail})", "frames", cands)
        else:
            current = run.repo if run.repo in repos else repos[0]
            choice = Choice(current, "no repository holds more of the stack's files than the others: "
                            "the channel's first repository", "default", cands)
        choice.name = display_name(services.settings.routing, choice.repo)
        update = getattr(services, "update_run", None) or (lambda run_id, **fields: None)
        _apply(services.settings, update, services.record, run, choice)
    return Path(run.repo).expanduser() if run.repo else None
