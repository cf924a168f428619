"""Benchmark `droid locate` (skills.tools.search_code) on SWE-bench-style file localisation.

    python bench/locate.py --repos-dir /work/.mirror [--data ../shared/bench/swebench-lite-dev.jsonl]
                           [--limit N] [--repo OWNER/NAME] [--cache-dir DIR] [--verbose]

For every instance: check out `base_commit` of `repo` (a git directory found under --repos-dir as
`owner+name`, `owner+name/repo`, `owner__name`, `owner/name` or `name`, bare or not) into a
temporary shared clone, index it with `CodeIndex.open` (fresh cache unless --cache-dir), query
with the problem statement, and score file-level Acc@1/5/10 (a hit when any gold file is in the
top k). Side by side, in the same run and over the same files (the files droid indexed):

* `bm25_plain`  — classic Okapi BM25 (k1=1.2, b=0.75) over whole files, tokens = lower-cased
                  `[A-Za-z0-9_]+` words minus English stop words, query = the problem statement's
                  distinct tokens; no identifier splitting, no symbol/path boosts;
* `bm25_split`  — the same whole-file BM25 with droid's identifier tokenizer (camelCase /
                  snake_case splitting, whole identifiers, light stemming), to separate the gain
                  of tokenisation from the gain of ranking;
* `bm25_plain_code_only` — `bm25_plain` restricted to the files droid classifies as source code
                  (no tests, docs, examples, vendored copies): how much of the gain is file
                  filtering alone.

On the largest repository (most bytes in indexed files) it also reports index build time, query
latency and, for comparison, `grep -rn` over the work tree with the query's terms (rg is not
installed). Prints one JSON object to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from skills.tools.search_code import CodeIndex, analyse_query, tokenize  # noqa: E402

KS = (1, 5, 10)
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "swebench-lite-dev.jsonl"
ENGLISH_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else few for
from further had has have having he her here hers him his how i if in into is it its itself just
me more most my no nor not now of off on once only or other our ours out over own same she should
so some such than that the their theirs them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
""".split())
_WORD = re.compile(r"[A-Za-z0-9_]+")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def find_git_dir(repos_dir: Path, repo: str) -> Path | None:
    owner, name = repo.split("/", 1)
    for cand in (f"{owner}+{name}/repo", f"{owner}+{name}", f"{owner}__{name}", f"{owner}/{name}", name,
                 f"{owner}+{name}.git", f"{name}.git"):
        path = repos_dir / cand
        if path.is_dir() and subprocess.run(["git", "-C", str(path), "rev-parse", "--git-dir"],
                                            capture_output=True).returncode == 0:
            return path
    return None


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


# --- plain BM25 baseline -------------------------------------------------------------------------


class WholeFileBM25:
    """Okapi BM25 over whole files (k1=1.2, b=0.75), with a pluggable tokenizer."""

    def __init__(self, docs: dict[str, str], tokenizer, k1: float = 1.2, b: float = 0.75) -> None:
        self.tok, self.k1, self.b = tokenizer, k1, b
        self.tf: dict[str, Counter] = {}
        self.df: Counter = Counter()
        for path, text in docs.items():
            counts = Counter(tokenizer(text))
            self.tf[path] = counts
            self.df.update(counts.keys())
        self.len = {p: sum(c.values()) for p, c in self.tf.items()}
        self.avg = (sum(self.len.values()) / len(self.len)) if self.len else 1.0
        self.n = len(self.tf)
        self.postings: dict[str, list[str]] = defaultdict(list)
        for path, counts in self.tf.items():
            for term in counts:
                self.postings[term].append(path)

    def search(self, query: str, top: int = 10) -> list[str]:
        scores: dict[str, float] = defaultdict(float)
        for term in set(self.tok(query)):
            df = self.df.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            for path in self.postings[term]:
                tf = self.tf[path][term]
                norm = self.k1 * (1 - self.b + self.b * self.len[path] / self.avg)
                scores[path] += idf * tf * (self.k1 + 1) / (tf + norm)
        return [p for p, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def plain_tokens(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in ENGLISH_STOP and not w.isdigit()]


# --- scoring -----------------------------------------------------------------------------------------


def rank_of(ranked: list[str], gold: list[str]) -> int | None:
    for i, path in enumerate(ranked):
        if path in gold:
            return i + 1
    return None


def accuracy(ranks: list[int | None]) -> dict[str, float]:
    n = max(1, len(ranks))
    return {f"acc@{k}": round(100.0 * sum(1 for r in ranks if r is not None and r <= k) / n, 1) for k in KS}


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
    if not terms:
        return 0.0, 0
    args = ["grep", "-rnI", "--exclude-dir=.git"]
    for term in terms:
        args += ["-e", term]
    started = time.perf_counter()
    proc = subprocess.run(args + ["."], cwd=worktree, capture_output=True)
    return time.perf_counter() - started, proc.stdout.count(b"\n")


# --- main ------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos-dir", required=True, type=Path)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=0, help="first N instances only")
    parser.add_argument("--repo", default=None, help="only instances of this owner/name")
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse indexes here (default: a fresh temp dir)")
    parser.add_argument("--verbose", action="store_true", help="per-instance ranks on stderr")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep work trees here (same paths across runs, so --cache-dir indexes are reused)")
    parser.add_argument("--no-baselines", action="store_true", help="droid only (faster, for iterating)")
    args = parser.parse_args(argv)

    instances = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    if args.repo:
        instances = [i for i in instances if i["repo"] == args.repo]
    if args.limit:
        instances = instances[: args.limit]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="droid-bench-locate-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or (work / "cache")
    by_repo: dict[str, list[dict]] = defaultdict(list)
    for inst in instances:
        by_repo[inst["repo"]].append(inst)

    ranks: dict[str, dict[str, int | None]] = {"droid": {}, "bm25_plain": {}, "bm25_split": {},
                                               "bm25_plain_code_only": {}}
    per_instance: list[dict] = []
    repo_stats: dict[str, dict] = {}
    skipped: list[str] = []
    try:
        for repo, items in by_repo.items():
            git_dir = find_git_dir(args.repos_dir, repo)
            if git_dir is None:
                log(f"skip {repo}: no git directory under {args.repos_dir}")
                skipped += [i["instance_id"] for i in items]
                continue
            worktree = work / repo.replace("/", "+")
            if not (worktree / ".git").exists():
                git("clone", "--shared", "--no-checkout", "-q", str(git_dir), str(worktree))
            builds, queries, warm, greps, sizes, n_files = [], [], [], [], [], []
            for inst in items:
                iid = inst["instance_id"]
                try:
                    git("checkout", "-q", "-f", "--detach", inst["base_commit"], cwd=worktree)
                    git("clean", "-q", "-f", "-d", "-x", cwd=worktree)
                except subprocess.CalledProcessError as exc:
                    log(f"skip {iid}: cannot check out {inst['base_commit']}: {exc.stderr.strip()[:200]}")
                    skipped.append(iid)
                    continue
                started = time.perf_counter()
                index = CodeIndex.open(worktree, cache_dir=cache)
                build = time.perf_counter() - started
                if not index.reused:
                    builds.append(build)
                started = time.perf_counter()
                hits = index.search(inst["problem_statement"], top=max(KS))
                queries.append(time.perf_counter() - started)       # cold: loads the index tables
                started = time.perf_counter()
                index.search(inst["problem_statement"], top=max(KS))
                warm.append(time.perf_counter() - started)
                conn = sqlite3.connect(index.db_path)
                kinds = dict(conn.execute("SELECT path, kind FROM files"))
                paths = list(kinds)
                n_files.append(len(paths))
                conn.close()
                index.close()
                docs = {}
                for path in paths:
                    try:
                        docs[path] = (worktree / path).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        pass
                sizes.append(sum(len(t.encode("utf-8", "replace")) for t in docs.values()))
                if args.no_baselines:
                    plain = split = code_only = []
                else:
                    plain = WholeFileBM25(docs, plain_tokens).search(inst["problem_statement"], max(KS))
                    split = WholeFileBM25(docs, tokenize).search(inst["problem_statement"], max(KS))
                    code_docs = {p: t for p, t in docs.items() if kinds.get(p) == "code"}
                    code_only = WholeFileBM25(code_docs, plain_tokens).search(inst["problem_statement"], max(KS))
                gold = inst["gold_files"]
                row = {"instance_id": iid, "gold": gold,
                       "droid": rank_of([h.path for h in hits], gold),
                       "bm25_plain": rank_of(plain, gold), "bm25_split": rank_of(split, gold),
                       "bm25_plain_code_only": rank_of(code_only, gold)}
                for system in ranks:
                    ranks[system][iid] = row[system]
                seconds, n_lines = (0.0, 0) if args.no_baselines else run_grep(worktree, grep_terms(inst["problem_statement"]))
                greps.append((seconds, n_lines))
                row["droid_top3"] = [h.path for h in hits[:3]]
                per_instance.append(row)
                if args.verbose:
                    log(f"{iid:32} droid={row['droid']} plain={row['bm25_plain']} split={row['bm25_split']} "
                        f"gold={gold} top3={row['droid_top3']}")
            repo_stats[repo] = {
                "instances": len(items), "files_median": int(statistics.median(n_files)) if n_files else 0,
                "bytes_median": int(statistics.median(sizes)) if sizes else 0,
                "index_build_seconds_median": round(statistics.median(builds), 3) if builds else None,
                "query_seconds_median": round(statistics.median(queries), 4) if queries else None,
                "query_seconds_warm_median": round(statistics.median(warm), 4) if warm else None,
                "grep_seconds_median": round(statistics.median(g[0] for g in greps), 4) if greps else None,
                "grep_output_lines_median": int(statistics.median(g[1] for g in greps)) if greps else None,
                "acc": {s: accuracy([ranks[s][i["instance_id"]] for i in items if i["instance_id"] in ranks[s]])
                        for s in ranks},
            }
            log(f"{repo}: {json.dumps(repo_stats[repo]['acc'])}")
            if not args.work_dir:
                shutil.rmtree(worktree, ignore_errors=True)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    largest = max(repo_stats, key=lambda r: repo_stats[r]["bytes_median"], default=None)
    all_queries = [r for r in repo_stats.values() if r["query_seconds_median"] is not None]
    result = {
        "data": str(args.data),
        "instances": len(per_instance),
        "skipped": skipped,
        "droid": accuracy(list(ranks["droid"].values())),
        "bm25_plain": accuracy(list(ranks["bm25_plain"].values())),
        "bm25_split": accuracy(list(ranks["bm25_split"].values())),
        "bm25_plain_code_only": accuracy(list(ranks["bm25_plain_code_only"].values())),
        "largest_repo": ({"repo": largest, **{k: v for k, v in repo_stats[largest].items() if k != "acc"}}
                         if largest else None),
        "query_seconds_median_by_repo": {r: s["query_seconds_median"] for r, s in repo_stats.items()},
        "index_build_seconds_median_by_repo": {r: s["index_build_seconds_median"] for r, s in repo_stats.items()},
        "per_repo_acc": {r: s["acc"] for r, s in repo_stats.items()},
        "ranks": {row["instance_id"]: [row["droid"], row["bm25_plain"]] for row in per_instance},
        "misses_at_1": sorted(i for i, r in ranks["droid"].items() if r != 1),
        "note": (f"{len(all_queries)} repositories; ranks = [droid, bm25_plain] rank of the first gold file "
                 "(null: not in the top 10); query_seconds = first search after open (loads the index "
                 "tables), warm = the same search again; grep = `grep -rnI -e TERM... .` with up to 20 "
                 "query terms"),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
