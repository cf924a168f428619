"""Build RCA bundles (real sentry-sdk events from real failing BugsInPy tests) for `rca_localize`.

    python bench/build_rca_bugsinpy.py --bugsinpy DIR --repos-dir DIR --out DIR --cache DIR
        --projects thefuck youtube-dl ... [--bugs thefuck-3 ...] [--timeout 300] [--budget 3600]

--bugsinpy is a (bare) git dir of soarsmu/BugsInPy; --repos-dir holds the projects' repositories
as `owner+name/repo` or `owner+name` (bare git dirs). For each bug: the tree at buggy_commit with
the test files of bug.info from fixed_commit; a cached Python 3.11 venv (bench/bugsinpy_env.py);
the failing tests of run_test.sh under pytest with the capture plugin
(bench/bugsinpy_runtime/rca_capture.py) and the compatibility shim (sitecustomize.py); the same
tests on the fixed tree must pass; truth parsed from bug_patch.txt. One `<bug>.json` per kept
bug, and `_build_report.json` (every bug tried, with status and reason) are written to --out.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bugsinpy_env import PYTEST, build_venv, plan, versions  # noqa: E402
from bugsinpy_meta import Bug, bug_numbers, git, is_test_path, load_bug, test_ids, truth_from_patch  # noqa: E402

RUNTIME = Path(__file__).resolve().parent / "bugsinpy_runtime"
NOT_PACKAGES = {"docs", "doc", "examples", "example", "scripts", "devscripts", "bin", "tools",
                "benchmarks", "benchmark", "build", "dist", "demos", "demo", "setup", "conftest",
                "versioneer", "fastentrypoints", "fabfile", "tasks", "noxfile", "release", "maint", "contrib"}
TEST_SUPPORT = {"testing.py"}  # harness code shipped in the package: its failures are verdicts
OUTCOMES = {"Failed", "Skipped", "XFailed", "Exit", "OutcomeException", "SkipTest"}


def log(msg: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


MOVED = {"jakubroztocil/httpie": "httpie/cli", "huge-success/sanic": "sanic-org/sanic"}


def find_repo(repos_dir: Path, full_name: str) -> Path | None:
    """A project's git dir in repos_dir (owner+name, or any owner+<name> after a move)."""
    owner, _, name = MOVED.get(full_name, full_name).partition("/")
    cands = [repos_dir / f"{owner}+{name}", *sorted(repos_dir.glob(f"*+{name}"))]
    for c in cands:
        for d in (c / "repo", c):
            if (d / "HEAD").exists() or (d / ".git").exists():
                return d
    return None


def export(git_dir: Path, commit: str, dest: Path, touch: list[str] = ()) -> None:
    """The tree of `commit` into dest (git archive), with setup.sh's `touch` files."""
    data = subprocess.run(["git", f"--git-dir={git_dir}", "archive", commit],
                          capture_output=True, check=True).stdout
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="tar")
    for t in touch:
        (dest / t).parent.mkdir(parents=True, exist_ok=True)
        (dest / t).touch()
    setup = dest / "setup.py"
    m = re.search(r"""write_to["']?\s*[=:]\s*["']([^"']+)["']""",
                  setup.read_text(errors="replace")) if setup.exists() else None
    if m and not (dest / m.group(1)).exists():  # what setuptools_scm writes on install
        tag = subprocess.run(["git", f"--git-dir={git_dir}", "describe", "--tags", commit],
                             capture_output=True, text=True).stdout.strip() or "0.0"
        (dest / m.group(1)).write_text(f'version = "{tag}"\n')


def overlay(git_dir: Path, commit: str, tree: Path, paths: list[str]) -> None:
    """Copy `paths` from `commit` into tree (deleted where the commit has no such file)."""
    for p in paths:
        out = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:{p}"],
                             capture_output=True)
        target = tree / p
        if out.returncode == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(out.stdout)
        elif target.exists():
            target.unlink()


def packages(tree: Path) -> tuple[list[str], list[Path]]:
    """Top-level packages/modules of the project and the dirs to put on sys.path."""
    roots = [d for d in (tree / "lib", tree / "src") if d.is_dir()
             and any((c / "__init__.py").exists() for c in d.iterdir() if c.is_dir())]
    roots = roots or [tree]
    names = []
    for root in roots:
        for c in sorted(root.iterdir()):
            stem = c.stem if c.suffix == ".py" else c.name
            if stem in NOT_PACKAGES or stem.startswith((".", "_")) or is_test_path(c.name + "/x"):
                continue
            if (c.is_dir() and (c / "__init__.py").exists()) or (
                    c.suffix == ".py" and not is_test_path(c.name)):
                names.append(stem)
    return names, roots


def commit_time(git_dir: Path, sha: str) -> int:
    return int(git(git_dir, "show", "-s", "--format=%ct", sha).strip())


def run_pytest(venv: Path, tree: Path, run: Path, roots: list[Path], ids: list[str],
               cfg: dict | None, timeout: float) -> tuple[int, str]:
    """Run the node ids under pytest (with the capture plugin when cfg is given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_", "VIRTUAL"))}
    env.update(PYTHONPATH=os.pathsep.join([str(run), *map(str, roots)]), PYTHONHASHSEED="0",
               PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(venv))
    cmd = [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-rfE", "--tb=short",
           "--disable-warnings", "-p", "no:cacheprovider",
           "-p", "rca_capture", "-o", "addopts=", f"--basetemp={run / 'tmp'}", *ids]
    if cfg is not None:
        env["RCA_CONFIG"] = json.dumps(cfg)
        env["RCA_EVENTS"] = str(run / "events.jsonl")
    try:
        out = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timeout"
    return out.returncode, (out.stdout + out.stderr)[-4000:]


def frame_kind(frame: dict, root: str) -> str:
    """library, test (test files and test-support modules such as tornado/testing.py) or
    project."""
    path = frame.get("abs_path") or ""
    if not path.startswith(root + "/"):
        return "library"
    rel = path[len(root) + 1:]
    return "test" if is_test_path(rel) or rel.rsplit("/", 1)[-1] in TEST_SUPPORT else "project"


def relabel(out: Path, report: dict) -> None:
    """Recompute exception{} of every bundle in out from its event (labels only)."""
    entries = {b["bug"]: b for b in report["bugs"]}
    for path in sorted(out.glob("*.json")):
        if path.name.startswith("_"):
            continue
        bundle = json.loads(path.read_text())
        exc = labels(bundle["event"], bundle["deploy_root"])
        if exc != bundle["exception"]:
            log(f"{bundle['bug']}: {bundle['exception']} -> {exc}")
            bundle["exception"] = exc
            path.write_text(json.dumps(bundle, indent=1) + "\n")
        if bundle["bug"] in entries:
            entries[bundle["bug"]].update(crashing=exc["crashing"], raised_in=exc["raised_in"])


def labels(event: dict, root: str) -> dict:
    """exception{} of a bundle from the event (paths already rewritten to root)."""
    exc = event["exception"]["values"][-1]
    frames = (exc.get("stacktrace") or {}).get("frames") or []
    kinds = [frame_kind(f, root) for f in frames]
    repo_kinds = [k for k in kinds if k != "library"]
    inner = repo_kinds[-1] if repo_kinds else None
    return {"type": f"{exc.get('module') or 'builtins'}.{exc.get('type')}",
            "raised_in": kinds[-1] if kinds else None, "innermost_repo_frame": inner,
            "crashing": inner == "project" and exc.get("type") not in OUTCOMES,
            "fauxpy_crashing": None}


def read_events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()]


def build_bug(bug: Bug, args, repo: Path, repo_name: str, work: Path) -> dict:
    """Build one bundle; returns the report entry (status ok/skipped/error)."""
    entry: dict = {"bug": bug.id}
    for sha in (bug.buggy, bug.fixed):
        if subprocess.run(["git", f"--git-dir={repo}", "cat-file", "-e", f"{sha}^{{commit}}"],
                          capture_output=True).returncode != 0:
            return entry | {"status": "skipped", "reason": f"commit {sha} not in {repo_name}"}
    shutil.rmtree(work, ignore_errors=True)
    buggy, fixed, run = work / "buggy", work / "fixed", work / "run"
    export(repo, bug.buggy, buggy, bug.setup_touch)
    overlay(repo, bug.fixed, buggy, bug.test_files)
    changed = [p for p in git(repo, "diff", "--name-only", bug.buggy, bug.fixed).split()
               if is_test_path(p)]
    data = [p for p in changed if p not in bug.test_files and (
        not p.endswith(".py") or {"data", "fixtures"} & set(p.split("/")[:-1]))]
    if data:  # data the fixed test reads (without it the buggy run fails for that alone)
        overlay(repo, bug.fixed, buggy, data)
        entry["test_data_overlay"] = data
    ids = test_ids(bug, buggy)
    if not ids:
        return entry | {"status": "skipped", "reason": f"no test id in run_test.sh: {bug.run_lines}"}
    names, roots = packages(buggy)
    pins, extras = plan(bug.requirements, bug.setup_pip, {bug.project.lower(), *names})
    venv, install = build_venv(args.cache, bug.project, pins, extras, args.python, log)
    entry.update(install={k: v for k, v in install.items() if k != "seconds"}, venv=venv.name)
    ver = versions(venv)
    root = f"/srv/{bug.project}"
    ts = max(commit_time(repo, bug.buggy) + 60, commit_time(repo, bug.fixed) - 60)
    rewrites = sorted({str(buggy): root, str(venv): "/usr/local",
                       ver["base_prefix"]: "/usr/local", str(work): "/tmp/run",
                       str(Path.home()): "/home/app", str(args.cache): "/tmp/run",
                       f"{args.cache.parent}/": "/tmp/"}.items(),
                      key=lambda kv: -len(kv[0]))  # the cache's: paths cut short in a repr
    cfg = {"tree": str(buggy), "packages": names, "release": bug.buggy, "rewrites": rewrites,
           "timestamp": datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def attempt() -> tuple[int, str, list[dict]]:
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        for f in RUNTIME.glob("*.py"):
            shutil.copy(f, run / f.name)
        rc, out = run_pytest(venv, buggy, run, roots, ids, cfg, args.timeout)
        return rc, out, read_events(run)

    rc, out, events = attempt()
    entry["pytest_buggy_rc"] = rc
    if rc in (2, 4, 5) or not events:
        if set(changed) - set(bug.test_files):
            overlay(repo, bug.fixed, buggy, changed)
            rc2, out2, ev2 = attempt()
            if ev2 and rc2 not in (0, 2, 4, 5):
                rc, out, events = rc2, out2, ev2
                entry.update(pytest_buggy_rc=rc, tests_overlay="all test files changed by the fix")
    if rc == 0:
        return entry | {"status": "skipped", "reason": f"failing test did not fail on the buggy "
                        f"tree (rc=0): {tail(out)}"}
    if not events:
        return entry | {"status": "skipped", "reason": f"no event captured (rc={rc}): {tail(out)}"}
    export(repo, bug.fixed, fixed, bug.setup_touch)
    frc, fout = run_pytest(venv, fixed, run, roots_for(roots, buggy, fixed), ids, None,
                           args.timeout)
    entry["pytest_fixed_rc"] = frc
    if frc != 0:
        return entry | {"status": "skipped", "reason": f"fails on the fixed tree too (rc={frc}): "
                        f"{tail(fout)}"}
    chosen = events[0]
    event = chosen["event"]
    exc = labels(event, root)
    truth = truth_from_patch(bug.patch, repo, bug.buggy)
    if not truth["files"]:
        return entry | {"status": "skipped", "reason": "bug_patch.txt changes no non-test .py "
                        "file that exists at buggy_commit"}
    bundle = {
        "bug": bug.id, "project": bug.project, "repo": repo_name,
        "buggy_commit": bug.buggy, "fixed_commit": bug.fixed, "failing_tests": ids,
        "event_test": chosen["test"], "exception": exc, "truth": truth,
        "in_app_modules": names, "deploy_root": root,
        "generator": {"sentry_sdk": ver["sentry_sdk"], "pytest": PYTEST,
                      "pytest_version": ver["pytest"], "python": ver["python"],
                      "bugsinpy_python": bug.python_version, "install": entry["install"]},
        "event": event,
    }
    (args.out / f"{bug.id}.json").write_text(json.dumps(bundle, indent=1) + "\n")
    return entry | {"status": "ok", "crashing": exc["crashing"], "exc": exc["type"],
                    "raised_in": exc["raised_in"]}


def roots_for(roots: list[Path], buggy: Path, fixed: Path) -> list[Path]:
    return [fixed / r.relative_to(buggy) for r in roots]


def tail(text: str, n: int = 600) -> str:
    """The telling lines of a pytest run (errors and the summary), else its end."""
    keep = [ln for ln in text.splitlines() if ln.startswith(("E ", "FAILED", "ERROR"))
            or "Error:" in ln or re.match(r"[= ]*\d+ (passed|failed|error)", ln)]
    return "\n".join(keep[-8:])[-n:] if keep else text.strip()[-n:]


def scrub(text: str, args) -> str:
    return text.replace(str(args.cache), "<cache>").replace(sys.base_prefix, "<python>")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bugsinpy", required=True, type=Path)
    ap.add_argument("--repos-dir", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--cache", required=True, type=Path)
    ap.add_argument("--projects", nargs="+", required=True)
    ap.add_argument("--bugs", nargs="*", default=[], help="only these bug ids (project-n)")
    ap.add_argument("--max-per-project", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=300, help="per pytest run, seconds")
    ap.add_argument("--budget", type=float, default=3600, help="total seconds")
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--keep-existing", action="store_true",
                    help="skip bugs already in the report with status ok")
    ap.add_argument("--relabel", action="store_true",
                    help="only recompute the exception labels of the bundles in --out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.cache = args.cache.resolve()
    report_path = args.out / "_build_report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {"runs": [],
                                                                               "bugs": []}
    if args.relabel:
        relabel(args.out, report)
        report_path.write_text(json.dumps(report, indent=1) + "\n")
        return 0
    done = {b["bug"]: b for b in report["bugs"]}
    t_start = time.monotonic()
    tried = 0
    for project in args.projects:
        nums = bug_numbers(args.bugsinpy, project)
        if args.max_per_project:
            nums = nums[:args.max_per_project]
        for n in nums:
            bug_id = f"{project}-{n}"
            if args.bugs and bug_id not in args.bugs:
                continue
            if args.keep_existing and done.get(bug_id, {}).get("status") == "ok":
                continue
            if time.monotonic() - t_start > args.budget:
                done[bug_id] = {"bug": bug_id, "status": "not tried", "reason": "budget spent"}
                continue
            t0 = time.monotonic()
            bug = load_bug(args.bugsinpy, project, n)
            repo = find_repo(args.repos_dir, bug.github)
            if repo is None:
                entry = {"bug": bug_id, "status": "skipped",
                         "reason": f"repository {bug.github} not in --repos-dir"}
            else:
                name = repo.parent.name if repo.name == "repo" else repo.name
                try:
                    entry = build_bug(bug, args, repo, name.replace("+", "/", 1),
                                      args.cache / "work" / bug_id)
                except Exception as exc:  # noqa: BLE001 - a broken bug must not stop the run
                    entry = {"bug": bug_id, "status": "error", "reason": repr(exc)[:800]}
                shutil.rmtree(args.cache / "work" / bug_id, ignore_errors=True)
            entry["seconds"] = round(time.monotonic() - t0, 1)
            entry = json.loads(scrub(json.dumps(entry), args))
            if entry["status"] != "ok":
                (args.out / f"{bug_id}.json").unlink(missing_ok=True)  # from an earlier run
            done[bug_id] = entry
            tried += 1
            log(f"{bug_id}: {entry['status']} {entry.get('exc', '')} "
                f"crashing={entry.get('crashing')} {entry.get('reason', '')[:200]}")
            save_report(report, done, report_path, args, t_start, tried)
    save_report(report, done, report_path, args, t_start, tried, final=True)
    return 0


def save_report(report: dict, done: dict, path: Path, args, t_start: float, tried: int,
                final: bool = False) -> None:
    """_build_report.json: every bug tried (all runs) and one record per run."""
    bugs = sorted(done.values(), key=lambda b: (b["bug"].rsplit("-", 1)[0],
                                                int(b["bug"].rsplit("-", 1)[1])))
    ok = [b for b in bugs if b["status"] == "ok"]
    out = dict(report)
    out.update(generated=f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}", sentry_sdk="2.75.0",
               pytest=PYTEST, python=platform.python_version(), ok=len(ok), crashing=sum(bool(b.get("crashing")) for b in ok),
               total=len(bugs), bugs=bugs)
    if final:
        out["runs"] = report["runs"] + [{
            "projects": " ".join(args.projects), "generated": out["generated"],
            "seconds": round(time.monotonic() - t_start), "tried": tried}]
        report["runs"] = out["runs"]
    path.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
