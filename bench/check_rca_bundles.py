"""Check RCA bundles load: each event parses and each truth file exists at buggy_commit.

    python bench/check_rca_bundles.py --data /work/rca-fresh --repos-dir /work/.mirror

Prints one line per problem and a summary; exit status 1 when any bundle fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.rca_localize import find_repo  # noqa: E402
from integrations.sentry_event import parse_event  # noqa: E402

KEYS = ("bug", "project", "repo", "buggy_commit", "fixed_commit", "failing_tests", "event_test",
        "exception", "truth", "in_app_modules", "deploy_root", "generator", "event")


def problems(item: dict, repos_dir: Path) -> list[str]:
    """What is wrong with one bundle (empty when it is fine)."""
    out = [f"missing key {k}" for k in KEYS if k not in item]
    event = parse_event(item.get("event") or {})
    if not event.exceptions or not event.exceptions[-1].frames:
        out.append("event has no exception frames")
    if event.release != item.get("buggy_commit"):
        out.append(f"event release {event.release} is not buggy_commit")
    repo = find_repo(repos_dir, item.get("repo", ""))
    if repo is None:
        return out + [f"repository {item.get('repo')} not found"]
    for path in item["truth"]["files"]:
        rc = subprocess.run(["git", "-C", str(repo), "cat-file", "-e",
                             f"{item['buggy_commit']}:{path}"], capture_output=True).returncode
        if rc != 0:
            out.append(f"truth file {path} not in the repository at buggy_commit")
    if not item["truth"]["files"]:
        out.append("truth has no file")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--repos-dir", required=True, type=Path)
    args = ap.parse_args(argv)
    files = sorted(p for p in args.data.glob("*.json") if not p.name.startswith("_"))
    bad = 0
    for path in files:
        found = problems(json.loads(path.read_text("utf-8")), args.repos_dir)
        bad += bool(found)
        for p in found:
            print(f"{path.name}: {p}")
    print(f"{len(files)} bundles, {len(files) - bad} fine, {bad} with problems")
    return 1 if bad or not files else 0


if __name__ == "__main__":
    sys.exit(main())
