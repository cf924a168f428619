"""Benchmark: droid's suspect commits against blame baselines, on cases from real histories.

    python bench/rca_commits.py --repos-dir /work/.mirror --set dev --max-cases 60
        [--first-seen reported] [--cases-cache DIR] [--jobs N] [--out FILE]
    python bench/rca_commits.py --repos-dir /work/.mirror --set new   # 15 a repository
    python bench/rca_commits.py --repos-dir DIR REPO ...   # explicit repositories

Cases come from each repository's own history: every fix commit whose message names the commit
that introduced the bug (kernel-style `Fixes: <sha>`, "regression introduced by/in <sha>",
"broken by <sha>", "caused by <sha>"), where that commit is an ancestor of the fix and the fix
deletes or modifies lines of non-test Python files. The faulty lines are those lines that hold
code (blank, comment-only and docstring lines are left out: no frame can sit on them, and SZZ
variants ignore them), numbered in the fix's parent, the code that ran. First-seen
(`--first-seen`) is, by default (`reported`), an offline proxy of the linked issue's creation
time: the earliest of the fix's author date, the start of the fix's merged branch and the first
commit naming an issue number the fix names (`reported_first_seen`); `release` is a day after
the first tag that shipped the bug-inducing commit; `fix-minute`, the old rule, one minute
before the fix was committed. droid gets an event whose frames sit on the first faulty line of
each changed hunk, one frame per function as in a real stack (the innermost on the first hunk,
at most 8), released at the fix's parent. Its top suspect commit is compared with two
baselines, each given two ways: with *all* faulty lines (as the issue defines them) and with
only the frame lines droid was given (the same information): "blame the faulty lines, keep
commits before first-seen, rank by lines blamed" and "the most recent commit that touched a
blamed line". Figures: all cases, each named set of repositories (`SETS`: `seen` and `fresh`
make the dev set; `new` was fixed before it was first run and is run once, then tuned on;
`new2` likewise, run once with the code tuned on dev and new), each repository,
and the calibration per label of the top hypothesis.

`bench/rca_localize.py --commit-eval REPO ...` runs the same evaluation next to its own.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.commit_first_seen import FIRST_SEEN_RULES  # noqa: E402
from integrations.sentry_event import parse_event  # noqa: E402
from skills.rca.evidence import Git, analyse  # noqa: E402
from skills.rca.paths import is_test_path  # noqa: E402

# Named sets of mirrors (`owner+name` under --repos-dir). `seen` and `fresh` were looked at in
# earlier rounds: together they are the dev set everything is tuned on. `new` (with the cap of
# 15 cases a repository) was fixed before droid was first run on it.
SETS = {
    "seen": ["ansible+ansible", "pallets+flask", "psf+requests", "pylint-dev+pylint",
             "pytest-dev+pytest", "sphinx-doc+sphinx"],
    "fresh": ["astropy+astropy", "sympy+sympy", "pypa+pip", "pallets+werkzeug",
              "aio-libs+aiohttp", "twisted+twisted", "sqlalchemy+sqlalchemy",
              "buildbot+buildbot", "celery+celery", "python+mypy", "pallets+jinja",
              "pydata+xarray", "tqdm+tqdm", "ipython+ipython", "python-poetry+poetry"],
    "new": ["networkx+networkx", "mwaskom+seaborn", "psf+black", "pypa+setuptools",
            "tornadoweb+tornado", "scrapy+scrapy", "fastapi+fastapi", "cool-RR+PySnooper",
            "pydantic+pydantic", "encode+httpx", "Textualize+rich", "pallets+click",
            "python-attrs+attrs", "urllib3+urllib3", "paramiko+paramiko",
            "marshmallow-code+marshmallow", "dask+dask", "Pylons+pyramid",
            "pygments+pygments",
            # the 19 above gave 5 cases; added (before droid ran on any of them) for more:
            "numpy+numpy", "scipy+scipy", "wagtail+wagtail", "borgbackup+borg",
            "mitmproxy+mitmproxy", "qutebrowser+qutebrowser", "beetbox+beets", "conda+conda",
            "pyinstaller+pyinstaller", "spyder-ide+spyder", "encode+django-rest-framework",
            "mesonbuild+meson", "certbot+certbot", "nedbat+coveragepy",
            "getsentry+sentry-python", "Kozea+WeasyPrint", "pypa+virtualenv"],
    # Fixed before droid ran on any of them, after dev and new were tuned on: 14 Python
    # repositories in none of the sets above whose history has cases (django, matplotlib,
    # pandas, scikit-learn, salt, zulip and cryptography are over the fetch size limit; sanic,
    # httpie, tox, flake8, isort, babel, alembic, pre-commit, pip-tools, pytest-xdist,
    # requests-html, trio, notebook, starlette, git-cola, numba, dask/distributed and napari
    # gave no case: their fix messages do not name the culprit's sha).
    "new2": ["matrix-org+synapse", "pylint-dev+astroid", "boto+botocore",
             "HypothesisWorks+hypothesis", "encode+uvicorn", "python-pillow+Pillow",
             "metabrainz+picard", "yt-dlp+yt-dlp", "canonical+cloud-init", "ranger+ranger",
             "openstack+swift", "quodlibet+quodlibet", "streamlink+streamlink", "xonsh+xonsh"],
}
SETS["dev"] = SETS["seen"] + SETS["fresh"]

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


def repo_name(repo: Path) -> str:
    """`owner+name` of a mirror (`.../owner+name/repo` or `.../owner+name`)."""
    return repo.name if repo.name != "repo" else repo.parent.name


def load_cases(repo: Path, max_cases: int, first_seen_rule: str,
               cache: Path | None = None) -> list[dict]:
    """`commit_cases`, kept as JSON in `cache` (finding cases needs no droid, only git)."""
    file = cache / f"{repo_name(repo)}.{first_seen_rule}.{max_cases}.json" if cache else None
    if file is not None and file.exists():
        cases = json.loads(file.read_text("utf-8"))
        for c in cases:
            c["first_seen"] = datetime.fromisoformat(c["first_seen"])
            c["hunks"] = [tuple(h) for h in c["hunks"]]
        return cases
    cases = commit_cases(repo, max_cases, first_seen_rule)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(cases, default=str, indent=1), "utf-8")
    return cases


CANDIDATES = 25  # suspects kept per case (the top 3 are the same as with analyse's default 5)


def eval_case(repo: Path, case: dict) -> dict:
    """One case: droid's suspects and the baselines' first commits, with what decided them."""
    git = Git(repo)
    frame_lines: dict[str, list[int]] = {}
    for path, line in case["hunks"]:
        frame_lines.setdefault(path, []).append(line)
    by_lines, recent = blame_baselines(git, case)
    f_by_lines, f_recent = blame_baselines(git, case, frame_lines)
    t0 = time.monotonic()
    ev = analyse(parse_event(case_event(git, case)), repo, case["first_seen"],
                 max_commits=CANDIDATES)
    seconds = time.monotonic() - t0
    droid = [c.sha for c in ev.suspect_commits]
    return {
        "repo": repo_name(repo),
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
        "by_lines_top3": [s[:12] for s in by_lines[:3]],
        "suspects": [{"sha": c.sha[:12], "score": round(c.score, 3),
                      "links": {k: round(v, 3) for k, v in c.links.items()},
                      "meta": c.meta, "reasons": c.reasons[:4]}
                     for c in ev.suspect_commits[:3]],
        "candidates": [{"sha": c.sha[:12], "score": round(c.score, 4), **getattr(c, "features", {})}
                       for c in ev.suspect_commits],
        "seconds": round(seconds, 2),
    }


def _eval_repo(args: tuple[Path, list[dict]]) -> list[dict]:
    repo, cases = args
    return [eval_case(repo, c) for c in cases]


def commit_eval(repos: list[Path], max_cases: int, split: str = "both",
                first_seen_rule: str = "reported", *, cache: Path | None = None,
                jobs: int = 1, groups: dict[str, list[str]] | None = None) -> dict:
    """The evaluation over `repos`: figures for all cases, each group, half and repository."""
    work = []
    for repo in repos:
        cases = [c for c in load_cases(repo, max_cases, first_seen_rule, cache)
                 if split == "both" or split_of(c["fix"]) == split]
        work.append((repo, cases))
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            rows = [r for part in pool.map(_eval_repo, work) for r in part]
    else:
        rows = [r for part in map(_eval_repo, work) for r in part]
    result = summarise_commits(rows)
    result["groups"] = {name: summarise_commits([r for r in rows if r["repo"] in members])
                        for name, members in (groups or {}).items()}
    result["splits"] = {name: summarise_commits([r for r in rows if r["split"] == name])
                        for name in ("tuning", "held_out")}
    result["repos"] = {name: summarise_commits([r for r in rows if r["repo"] == name])
                       for name in sorted({r["repo"] for r in rows})}
    result["per_case"] = rows
    return result


COMMIT_KEYS = ("droid@1", "droid@3", "blame_by_lines@1", "most_recent_blamed@1",
               "frame_lines_blame_by_lines@1", "frame_lines_most_recent_blamed@1")


def summarise_commits(rows: list[dict]) -> dict:
    """Top-1 of droid and the baselines, on all cases and where blame names the culprit."""
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
    rows = [("all", res)] + [(f"set {k}", v) for k, v in res.get("groups", {}).items()] + [
        (f"split {k}", v) for k, v in res["splits"].items()] + [
        (f"repo {k}", v) for k, v in res["repos"].items()]
    for name, s in rows:
        if not s["cases"]:
            continue
        a = s["top1_all"]
        out.append(f"{name:34} {s['cases']:>3}  " + " ".join(
            f"{a[k] * 100:6.1f}" for k in COMMIT_KEYS))
    out.append(f"where a faulty line blames the culprit: {res['cases_where_a_faulty_line_blames_the_bic']}"
               " cases; top-1 there: " + ", ".join(
                   f"{k} {v * 100:.1f}" for k, v in res["top1_bic_blamed"].items()))
    for name, s in [("all", res)] + list(res.get("groups", {}).items()):
        if s["cases"]:
            out.append(f"calibration {name} (top suspect right, per label of the top hypothesis): "
                       + ", ".join(f"{k} {v['top1_right'] * 100:.0f}% of {v['n']}"
                                   for k, v in s["calibration"].items()))
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("repos", nargs="*", type=Path, help="bare repositories (or use --set)")
    ap.add_argument("--repos-dir", type=Path, default=Path("/work/.mirror"))
    ap.add_argument("--set", choices=sorted(SETS), action="append", default=[],
                    help="named set(s) of mirrors under --repos-dir (repeatable)")
    ap.add_argument("--max-cases", type=int, default=15, help="per repository")
    ap.add_argument("--first-seen", choices=sorted(FIRST_SEEN_RULES), default="reported")
    ap.add_argument("--split", choices=("tuning", "held_out", "both"), default="both")
    ap.add_argument("--cases-cache", type=Path, help="keep each repository's cases here")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args(argv)
    groups = {name: SETS[name] for name in args.set}
    repos = list(args.repos)
    for name in args.set:
        for member in SETS[name]:
            path = args.repos_dir / member
            path = path / "repo" if (path / "repo").exists() else path
            if not path.exists():
                print(f"missing mirror: {member}", file=sys.stderr)
                return 2
            repos.append(path)
    if not repos:
        ap.error("give repositories or --set")
    res = commit_eval(repos, args.max_cases, args.split, args.first_seen,
                      cache=args.cases_cache, jobs=args.jobs, groups=groups)
    text = json.dumps(res, indent=1, default=str)
    print(commit_table(res), file=sys.stderr)
    if args.out:
        args.out.write_text(text + "\n", "utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
