"""How often the search rule of a multi-repo channel picks the right repository (bot/orchestration/repo_choice.py).

    python bench/repo_choice.py --repos-dir /work/.mirror [--repo owner/name]... [--per-repo 80] [--split tune|held|all]

Tasks are real commit subjects (non-merge, at least four words, the newest `--per-repo` of each repository):
the text an engineer would write about a change in that repository. Every repository is a candidate for every
task, as if they were all mapped to one channel; the rule must pick the commit's own repository. For each
MARGIN it prints right / no clear winner (the channel's first repository: right only when that is the commit's)
/ wrong. `tune` takes the odd-numbered subjects of each repository (MARGIN was chosen on them), `held` the even.
The repositories are bare mirrors (`owner+name/repo` under --repos-dir), cloned shared at HEAD into a
temporary directory and indexed fresh. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.orchestration.repo_scores import search_scores  # noqa: E402

DEFAULT_REPOS = ("psf/requests", "pallets/flask", "tqdm/tqdm", "cool-RR/PySnooper")
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2)


def subjects(git_dir: Path, n: int) -> list[str]:
    """The newest `n` non-merge commit subjects of at least four words."""
    out = subprocess.run(["git", "--git-dir", str(git_dir), "log", "--no-merges", "--format=%s", "-n", str(n * 4)],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return [s for s in out if len(s.split()) >= 4 and not s.lower().startswith(("release", "bump", "version"))][:n]


def main() -> int:
    """Run the benchmark; print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos-dir", type=Path, required=True)
    parser.add_argument("--repo", action="append", default=None)
    parser.add_argument("--per-repo", type=int, default=80)
    parser.add_argument("--split", choices=("tune", "held", "all"), default="held")
    args = parser.parse_args()
    names = args.repo or list(DEFAULT_REPOS)
    with tempfile.TemporaryDirectory() as tmp:
        import os
        os.environ["DROID_CACHE_DIR"] = str(Path(tmp) / "cache")
        paths, tasks = {}, []
        for name in names:
            git_dir = args.repos_dir / name.replace("/", "+") / "repo"
            paths[name] = Path(tmp) / name.replace("/", "+")
            subprocess.run(["git", "clone", "-q", "--shared", str(git_dir), str(paths[name])], check=True)
            tasks += [(name, s) for i, s in enumerate(subjects(git_dir, args.per_repo))
                      if args.split == "all" or i % 2 == (args.split == "tune")]
        repos = [str(paths[n]) for n in names]
        t0 = time.monotonic()
        search_scores(repos, "warm up the indexes")
        build = time.monotonic() - t0
        results, t0 = [], time.monotonic()
        for name, task in tasks:
            cands = sorted(search_scores(repos, task), key=lambda c: -(c.score or 0))
            results.append((str(paths[name]), cands[0].repo, cands[0].score - cands[1].score))
        per_task = (time.monotonic() - t0) / max(1, len(tasks))
    figures = {}
    for margin in MARGINS:
        right = sum(1 for own, best, lead in results if lead >= margin and best == own)
        wrong = sum(1 for own, best, lead in results if lead >= margin and best != own)
        undecided = len(results) - right - wrong
        figures[f"margin {margin}"] = {"right": right, "no clear winner": undecided, "wrong": wrong,
                                       "wrong %": round(100 * wrong / len(results), 1)}
    print(json.dumps({"repos": names, "split": args.split, "tasks": len(results), "index build s": round(build, 1),
                      "choice per task s": round(per_task, 3), "by margin": figures}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
