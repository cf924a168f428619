"""Commit ranking: suspect commits from blame of frame lines and suspect functions, and file history."""

from __future__ import annotations

from datetime import timedelta

from skills.rca.blame import _ago, _commit_brief, _ordinal
from skills.rca.git import first_release
from skills.rca.meta import META_FACTOR, meta_change
from skills.rca.model import SuspectCommit, SuspectLocation
from skills.rca.weights import (
    COMMIT_MORE_LINKS,
    COMMIT_RECENCY_DAYS,
    COMMIT_RECENCY_POWER,
    COMMIT_SIZE_FILES,
    COMMIT_SIZE_POWER,
    FUNCTION_LOG_COMMITS,
    MIN_DIRECT_FUNCTION,
    W_COMMIT_FILE,
    W_COMMIT_FRAME_LINE,
    W_COMMIT_FUNCTION,
    W_COMMIT_FUNCTION_LOG,
)


def commit_recency(age: float, youngest: float) -> float:
    """Weight of a commit `age` days before first-seen when the youngest direct suspect is
    `youngest` days old: 1 for it (and younger ones), decaying with the *ratio* of the ages."""
    ratio = (youngest + COMMIT_RECENCY_DAYS) / (max(age, youngest) + COMMIT_RECENCY_DAYS)
    return ratio ** COMMIT_RECENCY_POWER


class CommitRanking:
    """Mixin of the analysis: ranks the commits that wrote the suspect code."""

    def commits(self, locs: list[SuspectLocation], limit: int) -> list[SuspectCommit]:
        points: dict[str, dict[str, float]] = {}
        reasons: dict[str, dict[str, str]] = {}
        excluded: set[str] = set()

        groups: dict[str, str] = {}  # link key → the location it is about

        def credit(sha: str, kind: str, pts: float, reason: str, group: str) -> None:
            if self._valid(sha) is None:
                excluded.add(sha)
                return
            bucket = points.setdefault(sha, {})
            rs = reasons.setdefault(sha, {})
            key = f"{kind}:{reason}"
            groups[key] = group
            if pts > bucket.get(key, 0):
                bucket[key] = pts
                rs[key] = reason

        # Suspect functions with evidence of their own (not only "changed recently", which
        # would credit the same commits twice).
        top = [loc for loc in locs[:6]
               if set(loc.signals) - {"history", "same_file_recent", "callee_of_suspect"}][:5]
        needed: dict[str, set[int]] = {}
        for fe in self.frames:
            if fe.weight > 0 and fe.file and fe.line:
                needed.setdefault(fe.file, set()).add(fe.line)
        for loc in top:
            needed.setdefault(loc.file, set()).update(range(loc.start, loc.end + 1))
        for path, lines in needed.items():  # one exact blame per file
            self.blame_lines(path, sorted(lines))
        for fe in self.frames:
            if fe.weight <= 0 or not fe.file or not fe.line:
                continue
            b = self.blame_line(fe.file, fe.line)
            if b is None:
                continue
            info = self.git.commit(b.sha)
            fe.last_change = _commit_brief(info) if info else None
            code = fe.frame.context_line.strip() if fe.frame and fe.frame.context_line else ""
            around = min((loc for loc in top if loc.file == fe.file
                          and loc.start <= fe.line <= loc.end),
                         key=lambda loc: loc.end - loc.start, default=None)
            credit(b.sha, "frame", W_COMMIT_FRAME_LINE * fe.weight,
                   f"last changed frame line {fe.file}:{fe.line} ({fe.scope or fe.function})"
                   + (f": `{code[:70]}`" if code else ""),
                   f"{fe.file}:{around.start}" if around else f"{fe.file}:{fe.line}")
        best = max((loc.score for loc in top), default=1.0) or 1.0
        for loc in top:
            counts: dict[str, int] = {}
            for ln in range(loc.start, loc.end + 1):
                b = self.blame_line(loc.file, ln)
                if b:
                    counts[b.sha] = counts.get(b.sha, 0) + 1
            span = max(1, loc.end - loc.start + 1)
            for sha, n in counts.items():
                # The root of the share: one changed line in a suspect function is much of
                # the evidence that many lines are (a bug is often one line).
                credit(sha, "function", W_COMMIT_FUNCTION * (loc.score / best) * (n / span) ** 0.5,
                       f"wrote {n} of {span} lines of {loc.qualname} ({loc.file}), "
                       f"suspect location #{locs.index(loc) + 1}", f"{loc.file}:{loc.start}")
        files = []
        for fe in self.frames:
            if fe.weight > 0 and fe.file and fe.file not in files:
                files.append(fe.file)
        for loc in top:
            if loc.file not in files:
                files.append(loc.file)
        for path in files[:6]:
            for i, info in enumerate(self.git.file_log(self.blame_base, path, self.first_seen,
                                                       limit=10)):
                credit(info.sha, "file", W_COMMIT_FILE / (1 + i),
                       f"changed {path} ({_ordinal(i + 1)} most recent change before first seen)",
                       f"file {path}")
        self._function_history(credit, points, groups)
        out = []
        ages = {sha: self._age_days(info.commit_time) for sha in points
                if (info := self.git.commit(sha)) is not None}
        # Recency is measured from the youngest commit with a direct link (it wrote a frame
        # line, or a real share of a suspect function), so that a younger commit that merely
        # touched the file does not push the direct links down.
        # Any change to the innermost frame's function counts as direct too: summing an old
        # commit's links over many frames must not outweigh a much more recent change where
        # the error happened.
        inner = self._innermost_group()
        direct = [a for sha, a in ages.items() if a is not None and any(
            k.startswith("frame:") or (k.startswith("function:") and (
                v >= MIN_DIRECT_FUNCTION or groups.get(k) == inner))
            for k, v in points[sha].items())]
        youngest = min(direct or [a for a in ages.values() if a is not None], default=0.0)
        for sha, bucket in points.items():
            info = self.git.commit(sha)
            if info is None:
                continue
            age = ages.get(sha)
            # Evidence decays with how much older the commit is than the youngest candidate:
            # the change closest to first-seen needs the least evidence to be the cause.
            recency = commit_recency(age, youngest) if age is not None else 1.0
            # Links about the same location add up (the commit that wrote the frame line *and*
            # most of the function around it beats one that touched that line alone); the
            # strongest location counts fully, further ones with diminishing weight (a commit
            # that wrote a whole module links to every frame, which says little).
            by_loc: dict[str, float] = {}
            for k, v in bucket.items():
                by_loc[groups[k]] = by_loc.get(groups[k], 0.0) + v
            strongest = max(by_loc.values())
            total = (strongest + COMMIT_MORE_LINKS * (sum(by_loc.values()) - strongest)) * recency
            rs = [reasons[sha][k] for k in sorted(bucket, key=lambda k: -bucket[k])]
            if age is not None:
                rs.append(f"committed {_ago(age)} before first seen")
            links: dict[str, float] = {}
            for k, v in bucket.items():
                kind = k.split(":", 1)[0]
                links[kind] = max(links.get(kind, 0.0), v)
            per_group: dict[str, dict[str, float]] = {}
            for k, v in bucket.items():
                kind = k.split(":", 1)[0]
                g = per_group.setdefault(groups[k], {})
                g[kind] = g.get(kind, 0.0) + v
            feats = {"by_loc": per_group, "age": age, "youngest": youngest,
                     "innermost_group": inner, "recency": recency}
            out.append(SuspectCommit(sha=sha, score=total, features=feats, reasons=rs,
                                     author=info.author,
                                     email=info.email, date=info.commit_time,
                                     subject=info.subject,
                                     age_before_first_seen=(timedelta(days=age)
                                                            if age is not None else None),
                                     links=links, evidence=strongest + COMMIT_MORE_LINKS * (
                                         sum(by_loc.values()) - strongest),
                                     innermost=any(groups.get(k) == inner and not
                                                   k.startswith(("file:", "history:"))
                                                   for k in bucket)))
        out = self._size_penalty(out, limit)
        for c in out[:3]:
            c.release = first_release(self.git, c.sha)
            if c.release:
                c.reasons.append(f"first released in {c.release[0]} "
                                 f"({c.release[1].date().isoformat()})")
        for c in out:
            c.files = self.git.commit_files(c.sha)
            if c.files:
                shown = ", ".join(f"{p} (+{a} −{d})" for p, a, d in c.files[:6])
                more = f" and {len(c.files) - 6} more" if len(c.files) > 6 else ""
                c.reasons.append(f"changed {len(c.files)} file(s): {shown}{more}")
            c.reasons.append(f"by {c.author} — {c.subject[:100]}")
        if excluded:
            self.notes.append(f"{len(excluded)} commit(s) after first seen excluded from suspects")
        return out


    def _function_history(self, credit, points: dict[str, dict[str, float]],
                          groups: dict[str, str]) -> None:
        """Credit the last commits before first-seen that changed the innermost frame's function
        (`git log -L` over its lines) without writing any line of it that is left: a commit that
        only deleted lines (a guard, a call) is invisible to blame, and one of a busy file may be
        older than the file's last few changes."""
        fe = self._innermost_frame()
        src = self.git.source(self.commit, fe.file) if fe else None
        d = src.scope(fe.line) if src else None
        if d is None or d.kind != "function":
            return
        lo, hi = self.base_line(fe.file, d.start), self.base_line(fe.file, d.end)
        if lo is None or hi is None or hi < lo:
            return
        group = f"{fe.file}:{d.start}"
        for i, info in enumerate(self.git.file_log(self.blame_base, fe.file, self.first_seen,
                                                   limit=FUNCTION_LOG_COMMITS, lines=(lo, hi))):
            if any(groups.get(k) == group and not k.startswith("file:")
                   for k in points.get(info.sha, {})):
                continue  # blame already links it to this function
            credit(info.sha, "history", W_COMMIT_FUNCTION_LOG / (1 + i),
                   f"changed {d.qualname} ({fe.file}) but wrote none of its lines left "
                   f"({_ordinal(i + 1)} most recent change of it before first seen)", group)

    def _innermost_frame(self):
        """The innermost in-app frame of the primary exception that maps to a file line."""
        primary = len(self.event.exceptions) - 1
        return next((f for f in self.frames if f.weight > 0 and f.file and f.line
                     and f.exception_index == primary), None)

    def _innermost_group(self) -> str | None:
        """The link group (`file:start`) of the innermost app frame's function."""
        fe = self._innermost_frame()
        src = self.git.source(self.commit, fe.file) if fe else None
        return f"{fe.file}:{src.scope(fe.line).start}" if fe and src else None

    def _size_penalty(self, scored: list[SuspectCommit], limit: int) -> list[SuspectCommit]:
        """The best `limit` commits once each is discounted by how many files it changed
        (a wide commit — a rename, reformatting, copyright years — explains any one line less
        than a focused one). The discount never raises a score, so commits are sized lazily,
        best first, until no unsized one can still make the cut."""
        scored.sort(key=lambda c: (-c.score, -(c.date.timestamp() if c.date else 0)))
        done: list[SuspectCommit] = []
        for c in scored:
            if len(done) >= limit and c.score <= sorted(d.score for d in done)[-limit]:
                break
            n = len(self.git.commit_files(c.sha))
            factor = (1 + n / COMMIT_SIZE_FILES) ** -COMMIT_SIZE_POWER
            if factor < 0.8:
                c.reasons.append(f"a wide commit ({n} files changed): weight x{factor:.2f}")
            c.meta = meta_change(self.git, c.sha, c.subject)
            c.features.update(files=n, meta=bool(c.meta))
            if c.meta:
                factor *= META_FACTOR
                c.reasons.append(f"a meta-change ({c.meta}): weight x{META_FACTOR}")
            c.score *= factor
            done.append(c)
        done.sort(key=lambda c: (-c.score, -(c.date.timestamp() if c.date else 0)))
        return done[:limit]

