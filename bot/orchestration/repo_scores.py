"""How well each repository of a channel fits a run: `locate` search scores for a text, stack frames for an RCA.

Search scores are made comparable across repositories (the ranking normalises its lexical part per
repository, so raw top scores are not): a repository's score is 0.75 x the share of the query's
weighted terms its code contains (terms no repository contains are left out) + 0.25 x its top
`locate` score relative to the best repository's. Frame scores count the in-app frames whose file
exists in the repository at HEAD (matched by path suffix, skills/rca/paths.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger("droid.repo_scores")

W_COVERAGE, W_TOP = 0.75, 0.25


@dataclass
class Candidate:
    """One repository's score (None: it could not be scored) and what the score is made of."""

    repo: str
    score: float | None
    detail: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-able form (kept in run.context["repo_choice"])."""
        data = asdict(self)
        data["score"] = None if self.score is None else round(self.score, 3)
        return data


def local_dir(repo: str) -> Path | None:
    """The repository's local directory, when it is one (URLs and owner/name are not searchable here)."""
    path = Path(repo).expanduser()
    return path if path.is_dir() else None


def search_scores(repos: tuple[str, ...] | list[str], query: str) -> list[Candidate]:
    """Each repository's fit for `query` (see the module docstring); unsearchable ones score None."""
    from skills.tools.search.index import CodeIndex
    from skills.tools.search.query import analyse_query
    q = analyse_query(query)
    weights = {t: (1 + math.log(w)) if w >= 1 else w for t, w in q.terms.items() if w > 0}
    found: dict[str, tuple[set[str], float, str]] = {}
    out: dict[str, Candidate] = {}
    for repo in repos:
        path = local_dir(repo)
        if path is None:
            out[repo] = Candidate(repo, None, "not a local checkout: not searched")
            continue
        try:
            index = CodeIndex.open(path)
            try:
                present = {t for t, n in index.term_counts(sorted(weights)).items() if n > 0}
                hits = index.search(query, top=1)
            finally:
                index.close()
        except Exception as exc:  # noqa: BLE001 — one unreadable repository must not stop the choice
            log.warning("search of %s failed: %s", repo, exc)
            out[repo] = Candidate(repo, None, f"search failed ({type(exc).__name__})")
            continue
        found[repo] = (present, hits[0].score if hits else 0.0, hits[0].path if hits else "")
    relevant = {t for present, _, _ in found.values() for t in present}
    total = sum(weights[t] for t in relevant) or 1.0
    best_top = max((top for _, top, _ in found.values()), default=0.0) or 1.0
    for repo, (present, top, path) in found.items():
        coverage = sum(weights[t] for t in present) / total
        score = W_COVERAGE * coverage + W_TOP * top / best_top if relevant else 0.0
        detail = f"{len(present)}/{len(relevant)} of the task's terms" + (f"; top file {path}" if path else "")
        out[repo] = Candidate(repo, score, detail)
    return [out[r] for r in repos]


def frame_scores(repos: tuple[str, ...] | list[str], frames: list) -> list[Candidate]:
    """Each repository's count of in-app stack frames whose file it holds at HEAD (None: not a local git repo)."""
    from skills.rca.paths import RepoFiles, frame_is_library, list_files
    app = [f for f in frames if f.in_app is not False and not frame_is_library(f)]
    out = []
    for repo in repos:
        path = local_dir(repo)
        try:
            files = RepoFiles(list_files(path, "HEAD")) if path is not None else None
        except Exception as exc:  # noqa: BLE001 — not a git repository, or no commit yet
            log.info("cannot list %s at HEAD: %s", repo, exc)
            files = None
        if files is None:
            out.append(Candidate(repo, None, "not a local git repository: frames not matched"))
            continue
        matched = [m for m in (files.match(f) for f in app) if m is not None]
        out.append(Candidate(repo, float(len(matched)),
                             f"{len(matched)}/{len(app)} in-app frames found"
                             + (f", e.g. {matched[0].path}" if matched else "")))
    return out
