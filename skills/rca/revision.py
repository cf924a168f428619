"""Which code ran: the release's commit, else the default branch as of the event's time."""

from __future__ import annotations

import re

from integrations.sentry_model import ParsedEvent
from skills.rca.git import Git

_SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def resolve_commit(git: Git, event: ParsedEvent) -> tuple[str | None, str]:
    """The commit the event's code ran: the release's (tag or sha), else the default branch as
    of the event's time, else HEAD. Returns (sha, how it was found)."""
    releases: list[str] = []
    for r in (event.release, event.tags.get("sentry:release"), event.tags.get("release")):
        if r and r not in releases:
            releases.append(r)
    for release in releases:
        for cand in _release_candidates(release):
            sha = git.rev(cand)
            if sha:
                return sha, f"release {release!r} → {cand}"
    when = event.timestamp
    branch = _default_branch(git)
    if branch:
        if when is not None:
            out = git.try_run("rev-list", "-1", "--first-parent", f"--before={int(when.timestamp())}", branch)
            if out and out.strip():
                return out.strip(), (f"no release commit found; {branch} as of the event time "
                                     f"{when.isoformat()}")
        sha = git.rev(branch)
        if sha:
            return sha, f"no release commit found; tip of {branch}"
    return git.rev("HEAD"), "no release commit found; HEAD"


def _release_candidates(release: str) -> list[str]:
    out: list[str] = []

    def add(x: str) -> None:
        x = x.strip()
        if x and x not in out and not x.startswith("-"):
            out.append(x)

    versions = [release]
    if "@" in release:
        versions.append(release.rsplit("@", 1)[1])
    for v in list(versions):
        if "+" in v:  # semver build metadata often carries the sha
            base, build = v.split("+", 1)
            versions += [base, build]
    for v in versions:
        if _SHA.match(v):
            add(v)
        for tag in (v, f"v{v}", v[1:] if v[:1] in "vV" else ""):
            if tag:
                add(f"refs/tags/{tag}")
        if "-" in v and _SHA.match(v.rsplit("-", 1)[1].lstrip("g")):  # git describe
            add(v.rsplit("-", 1)[1].lstrip("g"))
    return out


def _default_branch(git: Git) -> str | None:
    out = git.try_run("symbolic-ref", "-q", "refs/remotes/origin/HEAD", record=False)
    if out and out.strip():
        return out.strip()
    for name in ("refs/heads/main", "refs/heads/master", "refs/remotes/origin/main",
                 "refs/remotes/origin/master", "HEAD"):
        if git.rev(name):
            return name
    return None

