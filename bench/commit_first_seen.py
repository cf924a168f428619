"""First-seen rules of the suspect-commit benchmark (`bench/rca_commits.py --first-seen`): when
the bug of a case would first have been seen, from the repository's history alone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from skills.rca.git import Git, first_release


def fix_minus_minute(git: Git, bic: str, fix_sha: str, fix_ct: int, msg: str = "",
                     ) -> tuple[datetime, str]:
    """The old rule: one minute before the fix was committed (knows far too much)."""
    return datetime.fromtimestamp(fix_ct - 60, tz=UTC), "fix - 1 min"


_ISSUE_REF = re.compile(r"(?i)(?:#|\bgh-|\bissue\s+|/issues/|/pull/)(\d{2,6})\b")


def reported_first_seen(git: Git, bic: str, fix_sha: str, fix_ct: int, msg: str = "",
                        ) -> tuple[datetime, str]:
    """Offline proxy of the issue's creation time (no network here): the earliest sign that
    someone knew of the bug, each taken only when it is later than the bug-inducing commit
    landed (an earlier one cannot be about this bug):

    - the fix's *author* date (written before it was reviewed and committed);
    - the earliest author date on the fix's branch, when it came in by a merge (the commits
      between the merge's first and second parent: the pull request's work began then);
    - the earliest commit, anywhere in history, that names an issue or pull-request number the
      fix names (`#123`, `gh-123`, `issues/123`): work on the report began then.

    Each is an upper bound of when the issue was filed, so the rule still knows a little more
    than a real first-seen, but far less than "a minute before the fix"."""
    landed = git.commit(bic).commit_time
    cands: list[tuple[datetime, str]] = [(datetime.fromtimestamp(fix_ct - 60, tz=UTC),
                                          "fix - 1 min")]
    info = git.commit(fix_sha)
    if info is not None:
        cands.append((info.author_time, "fix authored"))
    merges = (git.try_run("rev-list", "--merges", "--ancestry-path", "--first-parent",
                          f"{fix_sha}..HEAD", record=False) or "").split()
    if merges:
        m = merges[-1]
        on_mainline = git.try_run("merge-base", "--is-ancestor", fix_sha, f"{m}^1",
                                  record=False) is not None
        out = "" if on_mainline else git.try_run("log", "--format=%at", f"{m}^1..{m}^2", record=False) or ""
        times = [int(t) for t in out.split() if t.isdigit()]
        if times and len(times) <= 200:
            cands.append((datetime.fromtimestamp(min(times), tz=UTC), "fix branch began"))
    for num in sorted(set(_ISSUE_REF.findall(msg)))[:5]:
        out = git.try_run("log", "--all", "-E", f"--grep=(#|gh-|issues/|pull/){num}([^0-9]|$)",
                          f"--since={int(landed.timestamp())}", "--format=%at",
                          record=False) or ""
        times = [int(t) for t in out.split() if t.isdigit()]
        if times:
            cands.append((datetime.fromtimestamp(min(times), tz=UTC),
                          f"first commit naming #{num}"))
    cands = [c for c in cands if c[0] > landed]
    return min(cands) if cands else (datetime.fromtimestamp(fix_ct - 60, tz=UTC), "fix - 1 min")


def realistic_first_seen(git: Git, bic: str, fix_sha: str, fix_ct: int, msg: str = "",
                         ) -> tuple[datetime, str]:
    """When users would first have hit the bug: a day after the first release (tag) that
    shipped the bug-inducing commit, if that came before the fix; else a day after it landed on
    the fix's mainline (a development deploy); never later than a minute before the fix."""
    fix = datetime.fromtimestamp(fix_ct - 60, tz=UTC)
    release = first_release(git, bic)
    if release and release[1] < fix:
        return min(fix, release[1] + timedelta(days=1)), f"release {release[0]} + 1 day"
    out = git.try_run("rev-list", "--first-parent", "--ancestry-path", "--reverse",
                      f"{bic}..{fix_sha}", record=False) or ""
    first = out.split()[0] if out.split() else bic
    landed = max(git.commit(bic).commit_time, git.commit(first).commit_time
                 if first != fix_sha else git.commit(bic).commit_time)
    return min(fix, landed + timedelta(days=1)), "landed + 1 day (no release before the fix)"


FIRST_SEEN_RULES = {"fix-minute": fix_minus_minute, "release": realistic_first_seen,
                    "reported": reported_first_seen}
