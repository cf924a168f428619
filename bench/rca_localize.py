"""Benchmark: fault localisation of `droid rca` on real crashes, against the stack-trace baseline.

    python bench/rca_localize.py --repos-dir DIR [--data ../shared/bench/rca-bugsinpy-dev]
                                 [--out FILE] [--commit-eval REPO ...] [--max-cases N]

Each data file holds a real Sentry event captured from a failing BugsInPy test and the faulty
files and functions (see the data folder's SOURCE.md). The repository each bug needs
(`repo`, e.g. `tqdm/tqdm`) is looked up in DIR as `owner+name/repo`, `owner+name`,
`owner/name` or `name` (bare or not). Figures: file- and function-level Acc@1/@3 of droid's
suspect locations and of the plain stack-trace baseline (in-app frames, innermost first), on
the crashing bugs and on all bugs, as one JSON document.

`--commit-eval REPO ...` adds the suspect-commit evaluation of `bench/rca_commits.py`
(see its docstring; that script also runs it alone, on named sets of mirrors).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rca_commits import FIRST_SEEN_RULES, commit_eval, commit_table  # noqa: E402
from integrations.sentry_event import parse_event  # noqa: E402
from skills.rca.evidence import Git, analyse  # noqa: E402
from skills.rca.paths import RepoFiles  # noqa: E402

KS = (1, 3)


def find_repo(repos_dir: Path, full_name: str) -> Path | None:
    owner, _, name = full_name.partition("/")
    moved = sorted(repos_dir.glob(f"*+{name}"))  # a repository that changed owner
    for cand in (repos_dir / f"{owner}+{name}" / "repo", repos_dir / f"{owner}+{name}",
                 repos_dir / owner / name, repos_dir / name, repos_dir / f"{name}.git",
                 *[m / "repo" for m in moved], *moved):
        if (cand / "HEAD").exists() or (cand / ".git").exists():
            return cand
    return None


def bug_split(bug: str) -> str:
    """Fixed half of a bug, decided before any tuning: "dev" or "held_out" (hash of its id)."""
    return "dev" if hashlib.sha256(bug.encode()).digest()[0] % 2 == 0 else "held_out"


def baseline(event, repo: Path, commit: str) -> list[tuple[str, str]]:
    """In-app frames mapped to repository files, innermost first: (file, function)."""
    files = RepoFiles(Git(repo).ls_files(commit))
    out: list[tuple[str, str]] = []
    for exc in reversed(event.exceptions):
        for fr in reversed(exc.frames):
            if fr.in_app is not True:
                continue
            m = files.match(fr)
            if m is None:
                continue
            key = (m.path, (fr.function or "").split(".")[-1])
            if key not in out:
                out.append(key)
    return out


def hits(ranking: list[tuple[str, str]], truth_files: set[str],
         truth_funcs: set[tuple[str, str]]) -> dict[str, int | None]:
    files: list[str] = []
    for f, _ in ranking:
        if f not in files:
            files.append(f)
    out: dict[str, int | None] = {}
    for k in KS:
        out[f"file@{k}"] = int(any(f in truth_files for f in files[:k]))
        out[f"function@{k}"] = (int(any(x in truth_funcs for x in ranking[:k]))
                                if truth_funcs else None)
    return out


def summarise(rows: list[dict], system: str) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for level in ("file", "function"):
        for k in KS:
            vals = [r[system][f"{level}@{k}"] for r in rows
                    if r[system][f"{level}@{k}"] is not None]
            out[f"{level}_acc@{k}"] = round(sum(vals) / len(vals), 3) if vals else 0.0
            out[f"{level}_hits@{k}"] = sum(vals)
        out[f"{level}_n"] = len([r for r in rows if r[system][f"{level}@1"] is not None])
    return out


def table(subsets: dict) -> str:
    """The figures side by side: droid vs the stack trace, file and function Acc@1/@3."""
    head = (f"{'subset':34} {'n':>3}  {'file@1':>13} {'file@3':>13} {'func@1':>13} "
            f"{'func@3':>13}   (droid / stack trace)")
    out = [head]
    for name, s in subsets.items():
        d, b = s["droid"], s["stack_baseline"]
        cells = [f"{d[f'{lv}_acc@{k}'] * 100:5.1f}/{b[f'{lv}_acc@{k}'] * 100:5.1f}"
                 for lv in ("file", "function") for k in KS]
        out.append(f"{name:34} {s['n']:>3}  " + " ".join(f"{c:>13}" for c in cells))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos-dir", required=True, type=Path)
    ap.add_argument("--data", type=Path,
                    default=ROOT.parent / "shared" / "bench" / "rca-bugsinpy-dev")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    ap.add_argument("--verbose", action="store_true", help="top suspects per bug on stderr")
    ap.add_argument("--commit-eval", nargs="*", type=Path, default=[],
                    help="repositories for the suspect-commit evaluation")
    ap.add_argument("--max-cases", type=int, default=60, help="per repository")
    ap.add_argument("--first-seen", choices=sorted(FIRST_SEEN_RULES), default="reported",
                    help="how a suspect-commit case's first-seen time is set (see the docstring)")
    ap.add_argument("--only-commits", action="store_true",
                    help="run only the suspect-commit evaluation")
    ap.add_argument("--split", choices=("dev", "held_out", "both"), default="both",
                    help="which half of the bugs to run (tune on dev only)")
    ap.add_argument("--baseline-only", action="store_true",
                    help="score only the stack-trace baseline; droid's analysis is not run "
                         "(its columns read 0)")
    args = ap.parse_args(argv)
    if not args.data.is_dir():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    rows: list[dict] = []
    skipped: list[dict] = []
    for path in sorted(args.data.glob("*.json")) if not args.only_commits else []:
        if path.name.startswith("_"):
            continue
        item = json.loads(path.read_text("utf-8"))
        if args.split != "both" and bug_split(item["bug"]) != args.split:
            continue
        repo = find_repo(args.repos_dir, item["repo"])
        if repo is None:
            skipped.append({"bug": item["bug"], "reason": f"repository {item['repo']} not found"})
            continue
        event = parse_event(item["event"])
        truth = item["truth"]
        truth_files = set(truth["files"])
        truth_funcs = {(f["file"], f["function"]) for f in truth.get("functions", [])}
        t0 = time.monotonic()
        ev = None if args.baseline_only else analyse(event, repo)
        seconds = time.monotonic() - t0
        ranking = [(s.file, s.function) for s in ev.suspect_locations] if ev else []
        base = baseline(event, repo, (ev.commit if ev else None) or item["buggy_commit"])
        row = {
            "bug": item["bug"], "project": item.get("project") or item["repo"],
            "split": bug_split(item["bug"]),
            "crashing": bool(item["exception"].get("crashing")),
            "commit_resolved": ev.commit == item["buggy_commit"] if ev else None,
            "droid": hits(ranking, truth_files, truth_funcs),
            "stack_baseline": hits(base, truth_files, truth_funcs),
            "droid_top3": [f"{f}::{fn}" for f, fn in ranking[:3]],
            "baseline_top3": [f"{f}::{fn}" for f, fn in base[:3]],
            "truth_functions": sorted(f"{f}::{fn}" for f, fn in truth_funcs),
            "seconds": round(seconds, 2),
        }
        rows.append(row)
        if args.verbose and ev:
            print(f"--- {item['bug']} truth={row['truth_functions'] or sorted(truth_files)}",
                  file=sys.stderr)
            for s in ev.suspect_locations[:5]:
                print(f"  {s.score:5.2f} {s.file}::{s.qualname}  {s.signals}", file=sys.stderr)
    subsets: dict[str, list[dict]] = {}
    for half in ("dev", "held_out", "both") if args.split == "both" else (args.split,):
        part = [r for r in rows if half == "both" or r["split"] == half]
        subsets[f"{half}/crashing"] = [r for r in part if r["crashing"]]
        subsets[f"{half}/all"] = part
        for project in sorted({r["project"] for r in part}):
            mine = [r for r in part if r["project"] == project]
            subsets[f"{half}/{project}/crashing"] = [r for r in mine if r["crashing"]]
            subsets[f"{half}/{project}/all"] = mine
    subsets = {k: v for k, v in subsets.items() if v}
    result = {
        "benchmark": "rca_localize",
        "data": str(args.data),
        "bugs": len(rows),
        "skipped": skipped,
        "subsets": {
            name: {"n": len(rs), "droid": summarise(rs, "droid"),
                   "stack_baseline": summarise(rs, "stack_baseline")}
            for name, rs in subsets.items()
        },
        "seconds": {"mean": round(sum(r["seconds"] for r in rows) / max(1, len(rows)), 2),
                    "max": max((r["seconds"] for r in rows), default=0.0)},
        "per_bug": rows,
    }
    if args.commit_eval:
        half = {"dev": "tuning", "held_out": "held_out"}.get(args.split, "both")
        result["suspect_commits"] = commit_eval(args.commit_eval, args.max_cases, half,
                                                args.first_seen)
        print(commit_table(result["suspect_commits"]), file=sys.stderr)
    text = json.dumps(result, indent=2)
    print(table(result["subsets"]), file=sys.stderr)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
