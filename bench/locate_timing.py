"""bench/locate.py's timing: a cold build, a warm open + query on a moved HEAD, and `git grep` next to them."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

from bench.locate_bm25 import _WORD, ENGLISH_STOP
from bench.locate_data import git
from skills.tools.search_code import CodeIndex, analyse_query

TOP = 10


def grep_terms(query: str, limit: int = 20) -> list[str]:
    """The query's terms for grep: its identifiers first, then its other words, longest first."""
    q = analyse_query(query)
    idents = sorted(q.idents, key=lambda t: -q.idents[t])
    words = [w for w in dict.fromkeys(_WORD.findall(query)) if w.lower() not in ENGLISH_STOP and len(w) > 3]
    out: list[str] = []
    for word in [w for w in words if w.lower().replace("_", "") in idents[:limit]] + sorted(words, key=len, reverse=True):
        if word not in out:
            out.append(word)
        if len(out) >= limit:
            break
    return out


def run_grep(worktree: Path, terms: list[str]) -> tuple[float, int]:
    """Seconds and matching lines of `git grep -n -I -e TERM...` in `worktree`."""
    if not terms:
        return 0.0, 0
    args = ["git", "grep", "-n", "-I"]
    for term in terms:
        args += ["-e", term]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=worktree, capture_output=True)
    return time.perf_counter() - started, proc.stdout.count(b"\n")


def time_moved_head(worktree: Path, items: list[dict], cache_root: Path, n: int = 5) -> dict:
    """Cold build (fresh cache) at a base commit, then open + query after HEAD moves to its parent; git grep."""
    cold, moved, moved_query, moved_indexed, greps = [], [], [], [], []
    for k, inst in enumerate(items[:n]):
        cache = cache_root / f"timing-{k}"
        git("checkout", "-q", "-f", "--detach", inst["base_commit"], cwd=worktree)
        started = time.perf_counter()
        CodeIndex.open(worktree, cache_dir=cache).close()
        cold.append(time.perf_counter() - started)
        git("checkout", "-q", "-f", "--detach", inst["base_commit"] + "~1", cwd=worktree)
        started = time.perf_counter()
        index = CodeIndex.open(worktree, cache_dir=cache)
        opened = time.perf_counter() - started
        index.search(inst["problem_statement"], top=TOP)
        moved.append(time.perf_counter() - started)
        moved_query.append(moved[-1] - opened)
        moved_indexed.append(len(index.indexed))
        index.close()
        greps.append(run_grep(worktree, grep_terms(inst["problem_statement"]))[0])
        shutil.rmtree(cache, ignore_errors=True)
    med = lambda xs: round(statistics.median(xs), 3) if xs else None  # noqa: E731
    return {"runs": len(cold), "cold_build_seconds_median": med(cold),
            "moved_head_open_and_query_seconds_median": med(moved),
            "moved_head_query_only_seconds_median": med(moved_query),
            "moved_head_blobs_indexed_median": med(moved_indexed),
            "git_grep_seconds_median": med(greps)}
