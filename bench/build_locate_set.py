"""Build a fresh `bench/locate.py` instance list from SWE-bench Pro's public set (731 instances).

    python bench/build_locate_set.py --instances FILE --repos-dir DIR --out OUT.json
                                     [--repo OWNER/NAME]... [--cap 40] [--skip 0]

`--instances` is SWE-bench Pro's SWE-agent instance file (`SWE-agent/data/instances.yaml` of
github:scaleapi/SWE-bench_Pro-os at 48650829b59a85ee0a8032808d64f6d91c7299d4): per instance a
`problem_statement`, a `base_commit` and an `instance_id` that embeds the repository and the fix
commit (`instance_<owner>__<name>-<fix sha>-v<env>`). It carries no patch, so the gold files are
the non-test files that change between `base_commit` and the fix commit in a local git directory
of the repository (found under `--repos-dir` like bench/locate.py does); instances whose commits
are missing there are dropped and counted. The problem statement is cut before its
`Requirements:` section (SWE-bench Pro appends requirements and new interfaces written from the
fix, which name the files to change): only the issue-like part is the query.

The subset is fixed by hash before any run: per repository, the `--cap` instances with the
smallest sha256(instance_id). `--skip N` first passes over the N usable instances a run with
`--cap N` would keep, so `--cap 40` (the dev set) and `--skip 40` (the remainder, a held-out set)
split a repository's instances without overlap. Writes a JSON array of {instance_id, repo, base_commit,
problem_statement, gold_files} and prints a summary to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from locate import find_git_dir  # noqa: E402

_ID = re.compile(r"^instance_([^_]+(?:_[^_]+)*?)__(.+)-([0-9a-f]{40})(?:-v[0-9a-z]+)?$")
_REQUIREMENTS = re.compile(r"\n\s*Requirements:\s*\n")
_TEST_DIRS = {"test", "tests", "testing"}


def parse_id(instance_id: str) -> tuple[str, str] | None:
    """(owner/name, fix commit) from a SWE-bench Pro instance id, or None."""
    m = _ID.match(instance_id)
    return (f"{m.group(1)}/{m.group(2)}", m.group(3)) if m else None


def issue_text(statement: str) -> str:
    """The problem statement before its Requirements section, JSON string quoting undone."""
    text = _REQUIREMENTS.split(statement, 1)[0].strip()
    if len(text) > 1 and text[0] == text[-1] == '"':
        try:
            text = json.loads(text)
        except json.JSONDecodeError:
            text = text[1:-1]
    return text.strip()


def is_test_path(path: str) -> bool:
    """True for files of a test suite (the part SWE-bench keeps out of the gold patch)."""
    parts = path.split("/")
    name = parts[-1]
    return bool(_TEST_DIRS & set(parts[:-1])) or name.startswith("test_") or name.endswith(("_test.py", "_tests.py"))


def gold_files(git_dir: Path, base: str, fix: str) -> list[str] | None:
    """Non-test files changed from base to fix, or None when a commit is missing."""
    proc = subprocess.run(["git", "-C", str(git_dir), "diff", "--name-only", "--no-renames", base, fix],
                          capture_output=True, text=True)
    if proc.returncode:
        return None
    return [p for p in proc.stdout.splitlines() if p and not is_test_path(p)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", required=True, type=Path)
    parser.add_argument("--repos-dir", required=True, type=Path)
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--repo", action="append", default=None, help="keep only these owner/name (repeatable)")
    parser.add_argument("--cap", type=int, default=40, help="instances per repository (hash-chosen)")
    parser.add_argument("--skip", type=int, default=0,
                        help="pass over the first N usable instances per repository (those --cap N keeps)")
    args = parser.parse_args(argv)

    by_repo: dict[str, list[dict]] = defaultdict(list)
    for row in yaml.safe_load(args.instances.read_text()):
        parsed = parse_id(row["instance_id"])
        if parsed and (not args.repo or parsed[0] in args.repo):
            by_repo[parsed[0]].append(row | {"repo": parsed[0], "fix_commit": parsed[1]})
    out, dropped = [], Counter()
    for repo, rows in sorted(by_repo.items()):
        git_dir = find_git_dir(args.repos_dir, repo)
        if git_dir is None:
            dropped[f"{repo}: no git directory"] += len(rows)
            continue
        rows.sort(key=lambda r: hashlib.sha256(r["instance_id"].encode()).hexdigest())
        kept = passed = 0
        for row in rows:
            if kept >= args.cap:
                break
            gold = gold_files(git_dir, row["base_commit"], row["fix_commit"])
            if not gold:
                dropped[f"{repo}: {'commit missing' if gold is None else 'no non-test file'}"] += 1
                continue
            if passed < args.skip:
                passed += 1
                continue
            out.append({"instance_id": row["instance_id"], "repo": repo, "base_commit": row["base_commit"],
                        "problem_statement": issue_text(row["problem_statement"]), "gold_files": gold})
            kept += 1
    args.out.write_text(json.dumps(out, indent=1))
    print(json.dumps({"written": len(out), "per_repo": Counter(r["repo"] for r in out),
                      "dropped": dropped}, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
