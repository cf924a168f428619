"""Kill -9 soak: N seeds × M SIGKILLs each; every thread must be told exactly once.

Each seed drives `--runs` runs through droid in a child process (tests/soak_harness.py) that is
SIGKILLed `--kills` times at seeded random points (half inside a Slack call, before Slack answers)
and restarted. Prints one JSON object with the totals; the target is 0 untold, 0 duplicated,
0 two-live-plans.

    python bench/soak.py [--seeds 20] [--kills 3] [--runs 6] [--first-seed 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.repos import SERVICE_FILES, make_repo  # noqa: E402
from tests.soak_harness import Soak  # noqa: E402

TOTALS = ("runs", "kills", "kills_inside_post", "untold", "duplicated", "two_live_plans", "unfinished", "lost_mentions", "unreacted")


def main(argv: list[str] | None = None) -> int:
    """Run the seeds and print the totals (and any problem found) as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--verbose", action="store_true", help="one line per seed on stderr")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="droid-soak-"))
    os.environ.setdefault("DROID_CACHE_DIR", str(work / "cache"))
    repo = make_repo(work / "service", SERVICE_FILES)
    totals = dict.fromkeys(TOTALS, 0)
    problems, started = [], time.monotonic()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        figures = Soak(work, repo, seed=seed, runs=args.runs, kills=args.kills, deadline=120).run()
        for key in TOTALS:
            totals[key] += getattr(figures, key)
        problems += [f"seed {seed}: {p}" for p in figures.problems]
        if args.verbose:
            print(json.dumps({"seed": seed, **dataclasses.asdict(figures)}), file=sys.stderr, flush=True)
    print(json.dumps({"seeds": args.seeds, "kills_per_seed": args.kills, "runs_per_seed": args.runs, **totals,
                      "seconds": round(time.monotonic() - started, 1), "problems": problems[:20]}))
    return 0 if not (totals["untold"] or totals["duplicated"] or totals["two_live_plans"]) else 1


if __name__ == "__main__":
    sys.exit(main())
