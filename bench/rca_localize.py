"""Benchmark: fault localisation of `droid rca` on real crashes, against the stack-trace baseline.

    python bench/rca_localize.py --repos-dir DIR [--data ../shared/bench/rca-bugsinpy-dev]
                                 [--out FILE] [--commit-eval REPO ...] [--max-cases N]

Each data file holds a real Sentry event captured from a failing BugsInPy test and the faulty
files and functions (see the data folder's SOURCE.md). The repository each bug needs
(`repo`, e.g. `tqdm/tqdm`) is looked up in DIR as `owner+name/repo`, `owner+name`,
`owner/name` or `name` (bare or not). Figures: file- and function-level Acc@1/@3 of droid's
suspect locations and of the plain stack-trace baseline (in-app frames, innermost first), on
the crashing bugs and on all bugs, as one JSON document.

`--commit-eval REPO ...` adds the suspect-commit evaluation, built from each repository's own
history: every fix commit whose message names the commit that introduced the bug (kernel-style
`Fixes: <sha>`, "regression introduced by/in <sha>", "broken by <sha>", "caused by <sha>"),
where that commit is an ancestor of the fix and the fix deletes or modifies lines of non-test
Python files. The faulty lines are those lines that hold code (blank, comment-only and
docstring lines are left out: no frame can sit on them, and SZZ variants ignore them), numbered
in the fix's parent, the code that ran. First-seen (`--first-seen`) is, by default
(`reported`), an offline proxy of the linked issue's creation time: the earliest of the fix's
author date, the start of the fix's merged branch and the first commit naming an issue number
the fix names (`reported_first_seen`); `release` is a day after the first tag that shipped the
bug-inducing commit; `fix-minute`, the old rule, one minute before the fix was committed. droid gets an event whose frames sit on the first faulty line of each changed hunk,
one frame per function as in a real stack (the innermost on the first hunk, at most 8),
released at the fix's parent. Its top suspect
commit is compared with two baselines, each given two ways: with *all* faulty lines (as the
issue defines them) and with only the frame lines droid was given (the same information):
"blame the faulty lines, keep commits before first-seen, rank by lines blamed" and "the most
recent commit that touched a blamed line". Cases are split into a tuning half and a held-out
half by a hash of the fix's sha (`split`); figures are given for all cases, each half and each
repository.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from integrations.sentry_event import parse_event  # noqa: E402
from skills.rca.evidence import Git, analyse  # noqa: E402
from skills.rca.git import first_release  # noqa: E402
from skills.rca.paths import RepoFiles, is_test_path  # noqa: E402

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


_FIXES = re.compile(
    r"(?i)(?:fixes:?|regress\w*|introduc\w*|broke\w*|broken|caused)\s+(?:in|by|from|since|with)?"
    r"\s*(?:commit\s+)?([0-9a-f]{7,40})\b")


def commit_cases(repo: Path, max_cases: int, first_seen_rule: str = "reported") -> list[dict]:
    """Fix commits naming their bug-introducing commit, with the faulty lines."""
    git = Git(repo)
    out = git.run("log", "--no-merges", "--format=%H%x1f%ct%x1f%B%x1e", "HEAD")
    cases: list[dict] = []
    for rec in out.split("\x1e"):
        if len(cases) >= max_cases:
            break
        rec = rec.strip()
        if not rec or rec.count("\x1f") < 2:
            continue
        fix, ct, msg = rec.split("\x1f", 2)
        if re.search(r"(?i)this reverts commit|cherry picked from", msg):
            continue
        m = _FIXES.search(msg)
        if not m:
            continue
        bic = git.rev(m.group(1))
        parent = git.rev(f"{fix}^")
        if not bic or not parent or bic == fix:
            continue
        if git.try_run("merge-base", "--is-ancestor", bic, parent, record=False) is None:
            continue
        diff = git.try_run("diff", "-U0", "--no-color", parent, fix, "--", "*.py",
                           record=False) or ""
        faulty: dict[str, list[int]] = {}
        hunks: list[tuple[str, int]] = []
        docs: dict[str, set[int]] = {}
        scopes: set[tuple[str, str]] = set()
        path = None
        for line in diff.splitlines():
            if line.startswith("--- "):
                path = line[6:] if line.startswith("--- a/") else None
            h = re.match(r"@@ -(\d+)(?:,(\d+))? ", line)
            if h and path and not is_test_path(path):
                start, n = int(h.group(1)), int(h.group(2) or 1)
                src = git.lines(parent, path) or []
                if path not in docs:
                    docs[path] = _docstring_lines("\n".join(src))
                code = [ln for ln in range(start, start + n) if ln <= len(src)
                        and ln not in docs[path] and _is_code(src[ln - 1])]
                if code:
                    faulty.setdefault(path, []).extend(code)
                    src_def = git.source(parent, path)
                    scope = (path, src_def.scope(code[0]).qualname if src_def else "")
                    if scope not in scopes:  # a stack has one frame per function
                        scopes.add(scope)
                        hunks.append((path, code[0]))
        if not faulty:
            continue
        info = git.commit(bic)
        if info is None:
            continue
        if len((git.try_run("rev-list", "--parents", "-n1", bic, record=False) or "").split()) > 2:
            continue  # a merge commit: blame never names one (it names the merged commits)
        first_seen, how = FIRST_SEEN_RULES[first_seen_rule](git, bic, fix, int(ct), msg)
        if info.commit_time > first_seen:
            continue
        cases.append({"repo": str(repo), "fix": fix, "bic": bic, "parent": parent,
                      "first_seen": first_seen, "first_seen_from": how, "faulty": faulty,
                      "hunks": hunks[:8]})
    return cases


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


def _is_code(text: str) -> bool:
    t = text.strip()
    return bool(t) and not t.startswith("#")


def _docstring_lines(text: str) -> set[int]:
    """Lines of string-only statements (docstrings): no frame can sit on them."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return set()
    out: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)):
            out.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return out


def split_of(fix: str) -> str:
    """Stable half of a case: "tuning" or "held_out" (by a hash of the fix's sha)."""
    return "tuning" if hashlib.sha256(fix.encode()).digest()[0] % 2 == 0 else "held_out"


def blame_baselines(git: Git, case: dict, lines_by_file: dict[str, list[int]] | None = None,
                    ) -> tuple[list[str], list[str]]:
    """(rank by lines blamed, most recent first) over the commits blamed for the faulty lines
    (or for `lines_by_file`)."""
    counts: dict[str, int] = {}
    for path, lines in (lines_by_file or case["faulty"]).items():
        blame = git.blame(case["parent"], path)
        for ln in lines:
            b = blame.get(ln)
            if b is None:
                continue
            info = git.commit(b.sha)
            if info is None or info.commit_time > case["first_seen"]:
                continue
            counts[b.sha] = counts.get(b.sha, 0) + 1

    def when(sha: str) -> float:
        info = git.commit(sha)
        return info.commit_time.timestamp() if info else 0.0

    by_lines = sorted(counts, key=lambda s: (-counts[s], -when(s)))
    recent = sorted(counts, key=lambda s: -when(s))
    return by_lines, recent


def case_event(git: Git, case: dict) -> dict:
    frames = []
    for path, line in reversed(case["hunks"]):  # Sentry order: innermost last
        src = git.source(case["parent"], path)
        text = src.lines[line - 1] if src and line <= len(src.lines) else ""
        frames.append({"abs_path": f"/srv/app/{path}", "filename": path,
                       "function": src.scope(line).name if src else None, "lineno": line,
                       "context_line": text, "in_app": True})
    return {"event_id": case["fix"][:32], "release": case["parent"], "platform": "python",
            "timestamp": case["first_seen"].isoformat(),
            "exception": {"values": [{"type": "Error", "value": "",
                                      "stacktrace": {"frames": frames}}]}}


def commit_eval(repos: list[Path], max_cases: int, split: str = "both",
                first_seen_rule: str = "reported") -> dict:
    rows = []
    for repo in repos:
        git = Git(repo)
        for case in commit_cases(repo, max_cases, first_seen_rule):
            if split != "both" and split_of(case["fix"]) != split:
                continue
            frame_lines: dict[str, list[int]] = {}
            for path, line in case["hunks"]:
                frame_lines.setdefault(path, []).append(line)
            by_lines, recent = blame_baselines(git, case)
            f_by_lines, f_recent = blame_baselines(git, case, frame_lines)
            t0 = time.monotonic()
            ev = analyse(parse_event(case_event(git, case)), repo, case["first_seen"])
            seconds = time.monotonic() - t0
            droid = [c.sha for c in ev.suspect_commits]
            rows.append({
                "repo": repo.name if repo.name != "repo" else repo.parent.name,
                "fix": case["fix"][:12], "bic": case["bic"][:12],
                "split": split_of(case["fix"]),
                "faulty_lines": sum(len(v) for v in case["faulty"].values()),
                "frames": len(case["hunks"]),
                "bic_blamed": case["bic"] in by_lines,
                "bic_blamed_by_frame_line": case["bic"] in f_by_lines,
                "droid@1": int(droid[:1] == [case["bic"]]),
                "droid@3": int(case["bic"] in droid[:3]),
                "blame_by_lines@1": int(by_lines[:1] == [case["bic"]]),
                "most_recent_blamed@1": int(recent[:1] == [case["bic"]]),
                "frame_lines_blame_by_lines@1": int(f_by_lines[:1] == [case["bic"]]),
                "frame_lines_most_recent_blamed@1": int(f_recent[:1] == [case["bic"]]),
                "label": ev.hypotheses[0].label if ev.hypotheses else "NONE",
                "first_seen_from": case["first_seen_from"],
                "days_bic_to_first_seen": round((case["first_seen"] - git.commit(
                    case["bic"]).commit_time).total_seconds() / 86400, 1),
                "droid_top3": [s[:12] for s in droid[:3]],
                "seconds": round(seconds, 2),
            })
    rows = [r for r in rows if split == "both" or r["split"] == split]
    result = summarise_commits(rows)
    result["splits"] = {name: summarise_commits([r for r in rows if r["split"] == name])
                        for name in ("tuning", "held_out")}
    result["repos"] = {name: summarise_commits([r for r in rows if r["repo"] == name])
                       for name in sorted({r["repo"] for r in rows})}
    result["per_case"] = rows
    return result


COMMIT_KEYS = ("droid@1", "droid@3", "blame_by_lines@1", "most_recent_blamed@1",
               "frame_lines_blame_by_lines@1", "frame_lines_most_recent_blamed@1")


def summarise_commits(rows: list[dict]) -> dict:
    def acc(key: str, subset: list[dict]) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 3) if subset else 0.0

    n = len(rows)
    blamed = [r for r in rows if r["bic_blamed"]]
    return {
        "cases": n,
        "cases_where_a_faulty_line_blames_the_bic": len(blamed),
        "cases_where_a_frame_line_blames_the_bic": sum(r["bic_blamed_by_frame_line"]
                                                       for r in rows),
        "top1_all": {k: acc(k, rows) for k in COMMIT_KEYS},
        "calibration": {label: {"n": len(sub), "top1_right": acc("droid@1", sub)}
                        for label in ("CONFIRMED", "LIKELY", "INCONCLUSIVE", "NONE")
                        if (sub := [r for r in rows if r["label"] == label])},
        "top1_bic_blamed": {k: acc(k, blamed) for k in COMMIT_KEYS},
        "seconds": {"mean": round(sum(r["seconds"] for r in rows) / max(1, n), 2),
                    "max": max((r["seconds"] for r in rows), default=0.0)},
    }


def commit_table(res: dict) -> str:
    """Suspect commits side by side: droid vs the baselines, and the calibration per label."""
    out = [f"{'suspect commits':34} {'n':>3}  droid@1 droid@3 by_lines@1 most_recent@1 "
           "frame_by_lines@1 frame_most_recent@1"]
    for name, s in [("all", res)] + [(f"split {k}", v) for k, v in res["splits"].items()] + [
            (f"repo {k}", v) for k, v in res["repos"].items()]:
        if not s["cases"]:
            continue
        a = s["top1_all"]
        out.append(f"{name:34} {s['cases']:>3}  " + " ".join(
            f"{a[k] * 100:6.1f}" for k in COMMIT_KEYS))
    out.append("calibration (top suspect right, per label of the top hypothesis): " + ", ".join(
        f"{k} {v['top1_right'] * 100:.0f}% of {v['n']}" for k, v in res["calibration"].items()))
    return "\n".join(out)


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
