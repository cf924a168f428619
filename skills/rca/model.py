"""What an analysis returns: frames, suspect locations, suspect commits, the evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from integrations.sentry_model import Frame


@dataclass
class FrameEvidence:
    exception_index: int
    depth: int  # 0 = innermost frame of its exception
    function: str | None
    file: str | None  # repository-relative, None when not in the repository
    raw_path: str | None
    line: int | None
    in_app: bool
    is_test: bool
    weight: float  # stack weight used in ranking (0 for test/library frames)
    mapped_via: str | None = None
    scope: str | None = None  # qualified name of the enclosing definition at the commit
    code: list[tuple[int, str]] = field(default_factory=list)
    context_matches: bool | None = None
    last_change: dict[str, Any] | None = None
    frame: Frame | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "exception_index": self.exception_index, "depth": self.depth,
            "function": self.function, "file": self.file, "raw_path": self.raw_path,
            "line": self.line, "in_app": self.in_app, "is_test": self.is_test,
            "weight": round(self.weight, 3), "mapped_via": self.mapped_via, "scope": self.scope,
            "code": [{"line": n, "text": t} for n, t in self.code],
            "context_matches": self.context_matches, "last_change": self.last_change,
        }


@dataclass
class SuspectLocation:
    file: str
    function: str
    line: int
    score: float
    reasons: list[str]
    qualname: str = ""
    start: int = 0
    end: int = 0
    signals: dict[str, float] = field(default_factory=dict)
    in_stack: bool = False
    last_change: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "function": self.function, "line": self.line,
                "score": round(self.score, 3), "reasons": self.reasons,
                "qualname": self.qualname, "span": [self.start, self.end],
                "in_stack": self.in_stack,
                "signals": {k: round(v, 3) for k, v in self.signals.items()}}


@dataclass
class SuspectCommit:
    sha: str
    score: float
    reasons: list[str]
    author: str = ""
    email: str = ""
    date: datetime | None = None
    subject: str = ""
    age_before_first_seen: timedelta | None = None
    files: list[tuple[str, int, int]] = field(default_factory=list)
    meta: str | None = None  # the kind of meta-change (rename, formatting, ...), if it is one
    links: dict[str, float] = field(default_factory=dict)  # kind (frame/function/file) → points
    innermost: bool = False  # it changed the innermost in-app frame's line or function
    release: tuple[str, datetime] | None = None  # the first tag that contains it, and its date
    evidence: float = 0.0  # link points before the recency and size factors
    features: dict[str, Any] = field(default_factory=dict)  # what the score was computed from

    def to_json(self) -> dict[str, Any]:
        return {"sha": self.sha, "score": round(self.score, 3), "reasons": self.reasons,
                "author": self.author, "email": self.email,
                "date": self.date.isoformat() if self.date else None, "subject": self.subject,
                "hours_before_first_seen": (round(self.age_before_first_seen.total_seconds()
                                                  / 3600, 1)
                                            if self.age_before_first_seen is not None else None),
                "files": [{"path": p, "added": a, "deleted": d} for p, a, d in self.files],
                "meta_change": self.meta, "links": {k: round(v, 3) for k, v in self.links.items()},
                "innermost": self.innermost,
                "first_release": ({"name": self.release[0], "date": self.release[1].isoformat()}
                                  if self.release else None)}


@dataclass
class Evidence:
    """Everything `analyse` found. `suspect_locations` and `suspect_commits` are best first;
    `frames` are the frames in the repository (and unmapped in-app ones), innermost first
    (`depth` 0 = innermost of its exception), each with the code at `commit`."""

    commit: str | None
    commit_reason: str
    first_seen: datetime | None
    headline: str
    exception: dict[str, Any]
    frames: list[FrameEvidence]
    suspect_locations: list[SuspectLocation]
    suspect_commits: list[SuspectCommit]
    impact: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    seconds: float = 0.0
    discarded: list[str] = field(default_factory=list)  # theories considered and dropped
    hypotheses: list[Any] = field(default_factory=list)  # skills.rca.hypotheses.Hypothesis

    def rank_hypotheses(self) -> None:
        """Build the labelled hypotheses and the discarded theories from the evidence."""
        from skills.rca.hypotheses import build

        self.hypotheses, self.discarded = build(self)

    def to_json(self) -> dict[str, Any]:
        return {
            "headline": self.headline,
            "commit": self.commit,
            "commit_reason": self.commit_reason,
            "first_seen": self.first_seen.isoformat() if self.first_seen else None,
            "exception": self.exception,
            "suspect_locations": [s.to_json() for s in self.suspect_locations],
            "suspect_commits": [c.to_json() for c in self.suspect_commits],
            "frames": [f.to_json() for f in self.frames],
            "impact": self.impact,
            "hypotheses": [h.to_json() for h in self.hypotheses],
            "discarded": self.discarded,
            "notes": self.notes,
            "commands": self.commands,
            "seconds": round(self.seconds, 3),
        }


    def to_markdown(self) -> str:
        from skills.rca.render import markdown

        return markdown(self)
