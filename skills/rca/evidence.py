"""Deterministic root-cause evidence for a Sentry error in a git repository.

`analyse(event, repo, first_seen)` answers, without a model:

- which code ran: the release's commit when the event's release/tags name one, else the
  default branch as of the event's time;
- where the error went through our code: in-app frames mapped to repository files, with the code
  around each frame line at that commit (and whether it matches what the event recorded);
- where the bug most likely is: functions ranked from the stack *and* beyond it — names in the
  exception message, functions called on the failing lines, where a wrongly-typed value came
  from, the constructor that should have set a missing attribute, callees of suspects, and
  recent changes (history before first-seen);
- which change most likely caused it: commits from `git blame` of the frame lines and of the
  suspect functions and from each file's history before first-seen (later commits cannot be
  the cause), each with its reasons;
- how bad it is: counts, first/last seen, release, environment, notable tags.

Every score comes with the reasons that produced it; every git command run is recorded.

The work is split by concept: `git` (access), `source` (definitions), `revision` (which code
ran), `frames` (frame mapping), `signals` and `locations` (location ranking), `blame` (history as
of first-seen), `commits` (commit ranking), `model` (result types) and `render` (Markdown).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.redact import Redactor
from integrations.sentry_model import ParsedEvent
from skills.rca.blame import BlameHistory
from skills.rca.callers import CallerBlame
from skills.rca.chains import ExceptionChains
from skills.rca.commits import CommitRanking
from skills.rca.frames import FrameMapping
from skills.rca.git import BlameLine, CommitInfo, Git, GitError, command_redactor
from skills.rca.locations import LocationRanking, _Cand
from skills.rca.model import Evidence, FrameEvidence, SuspectCommit, SuspectLocation
from skills.rca.paths import RepoFiles
from skills.rca.resolve import PythonResolver
from skills.rca.revision import resolve_commit
from skills.rca.signals import LocationSignals
from skills.rca.source import Definition, Source, extract_definitions
from skills.rca.under_test import UnderTest

__all__ = [
    "CommitInfo",
    "Definition",
    "Evidence",
    "FrameEvidence",
    "Git",
    "GitError",
    "Source",
    "SuspectCommit",
    "SuspectLocation",
    "analyse",
    "command_redactor",
    "extract_definitions",
    "resolve_commit",
]


class _Analysis(FrameMapping, LocationRanking, LocationSignals, ExceptionChains, CallerBlame,
                BlameHistory, CommitRanking, UnderTest):
    """One analysis: the shared state the mixins of each concept work on."""

    def __init__(self, git: Git, event: ParsedEvent, commit: str, files: RepoFiles,
                 first_seen: datetime | None):
        self.git = git
        self.event = event
        self.commit = commit
        self.files = files
        self.first_seen = first_seen
        self.frames: list[FrameEvidence] = []
        self.cands: dict[tuple[str, str, int], _Cand] = {}
        self.notes: list[str] = []
        self.app_roots: set[str] = set()
        self.languages: tuple[str, ...] = ()
        self.blame_base = commit  # blame where the code was as of first-seen (see set_base)
        self._maps: dict[str, Any] = {}
        self._exact: dict[str, dict[int, BlameLine | None]] = {}
        self.exception_types = {e.type for e in event.exceptions if e.type}
        self.listed_pending: list[tuple[str, Definition, float, str]] = []
        self.discarded: list[str] = []  # theories considered and dropped, with why



def _impact(event: ParsedEvent, first_seen: datetime | None) -> dict[str, Any]:
    boring = {"level", "environment", "release", "sentry:release", "handled", "mechanism",
              "server_name", "runtime.name", "os.name", "browser.name", "sentry:user",
              "transaction", "url", "dist", "sentry:dist"}
    primary = event.primary
    handled = None
    for exc in event.exceptions:
        if exc.handled is not None:
            handled = exc.handled
    if handled is None and event.tags.get("handled") in ("yes", "no"):
        handled = event.tags["handled"] == "yes"
    return {
        "event_count": event.count,
        "user_count": event.user_count,
        "first_seen": first_seen.isoformat() if first_seen else None,
        "last_seen": (event.last_seen or event.timestamp).isoformat()
        if (event.last_seen or event.timestamp) else None,
        "release": event.release,
        "environment": event.environment,
        "level": event.level,
        "handled": handled,
        "platform": event.platform,
        "exception": primary.qualified_type if primary else None,
        "transaction": event.transaction,
        "url": event.request_url,
        "server_name": event.server_name,
        "user": {k: v for k, v in event.user.items() if k in ("id", "username", "email",
                                                                "ip_address")} or None,
        "notable_tags": {k: v for k, v in sorted(event.tags.items()) if k not in boring},
    }


def _headline(event: ParsedEvent, locs: list[SuspectLocation],
              frames: list[FrameEvidence]) -> str:
    primary = event.primary
    what = primary.summary() if primary else (event.title or event.message or "error")
    inner = next((f for f in frames if f.weight > 0 and f.file), None)
    where = f" in {inner.scope or inner.function} ({inner.file}:{inner.line})" if inner else ""
    return f"{what.splitlines()[0][:200]}{where}"


def _exception_json(event: ParsedEvent) -> dict[str, Any]:
    primary = event.primary
    return {"type": primary.qualified_type if primary else None,
            "value": primary.value if primary else None,
            "chain": [{"type": e.type, "value": e.value} for e in event.exceptions],
            "title": event.title}


def analyse(event: ParsedEvent, repo: Path | str, first_seen: datetime | None = None,
            *, max_locations: int = 10, max_commits: int = 5,
            redact: Callable[[str], str] | None = None) -> Evidence:
    """Gather the deterministic root-cause evidence for `event` in the git repository `repo`.

    `first_seen` is when the issue was first seen (commits after it cannot be the cause);
    default: the event's issue first-seen, else the event's own time.
    """
    t0 = time.monotonic()
    git = Git(repo, redact=command_redactor(event, redact or Redactor()))
    first_seen = first_seen or event.first_seen or event.timestamp
    if first_seen is not None and first_seen.tzinfo is None:
        first_seen = first_seen.replace(tzinfo=UTC)
    commit, how = resolve_commit(git, event)
    if commit is None:
        return Evidence(None, how, first_seen, event.title or "", _exception_json(event), [], [], [],
                        _impact(event, first_seen), ["no commit to analyse"], git.commands,
                        time.monotonic() - t0)
    a = _Analysis(git, event, commit, RepoFiles(git.ls_files(commit)), first_seen)
    a.commit_reason = how
    a.set_base()
    a.collect_frames()
    a.reweigh_chain()
    a.detect_languages()
    a.resolver = PythonResolver(repo, commit, a.import_roots()) if ".py" in a.languages else None
    try:
        return _run(a, event, t0, max_locations, max_commits)
    finally:
        if a.resolver is not None:
            a.resolver.close()


def _run(a: _Analysis, event: ParsedEvent, t0: float, max_locations: int,
         max_commits: int) -> Evidence:
    git, commit, first_seen, how = a.git, a.commit, a.first_seen, a.commit_reason
    exc_json = _exception_json(event)
    a.add_stack()
    a.add_message()
    a.add_under_test()  # before add_callees: it adds the test's import roots
    a.add_callees()
    a.add_value_sources()
    a.add_hidden_cause()
    a.add_provenance()
    a.shift_to_caller()
    a.add_attribute()
    a.add_literals()
    a.apply_listed()
    a.add_callees_of_suspects()
    a.add_history()
    locs = a.locations(max_locations)
    commits = a.commits(locs, max_commits)
    if not any(fe.weight > 0 for fe in a.frames):
        a.notes.append("no in-app frame maps to the repository: ranking rests on the message, "
                       "the calling code and history")
    mismatched = [fe for fe in a.frames if fe.context_matches is False]
    if mismatched:
        a.notes.append(f"{len(mismatched)} frame line(s) differ from the event's recorded code: "
                       "the commit may not be exactly the one that ran")
    ev = Evidence(
        commit=commit, commit_reason=how, first_seen=first_seen,
        headline=_headline(event, locs, a.frames), exception=exc_json, frames=a.frames,
        suspect_locations=locs, suspect_commits=commits, impact=_impact(event, first_seen),
        notes=a.notes, commands=git.commands, seconds=time.monotonic() - t0,
        discarded=a.discarded)
    ev.rank_hypotheses()
    return ev
