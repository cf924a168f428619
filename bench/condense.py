"""Benchmark: how much of a failure `condense` keeps within a line budget, against naive baselines.

    python bench/condense.py [--logs ../shared/bench/ci-logs] [--python-logs /tmp/pylogs]

Prints one JSON object. For each log set (the 36 CI breakages of ../shared/bench/ci-logs, and
optionally a set made by bench/make_python_logs.py) and each budget (50, 100, 200 lines):

- `raw_recall`: labelled E lines kept / all labelled E lines, pooled over all cases and as the
  mean per case;
- `capped_recall`: labelled E lines kept / min(labelled, budget), pooled and mean per case (no
  method can keep more lines than the budget, so this one can reach 1.0);
- for `condense` without and with the passing log as baseline, and for two naive methods run
  on the same cases: "keyword lines + last 50" (lines matching error|fail|exception, any case,
  in log order up to budget - 50, then the last 50 lines) and "last N lines" (N = budget);
- `best_possible_raw_recall`: min(labelled, budget) / labelled, pooled and mean;
- `time_100k_lines`: condense's wall and CPU time (p50 of 7 runs) on a 100,000-line log made
  of each set's own fail logs (and with a 100,000-line baseline made of their pass logs), and
  on the set's largest single log, with the machine's load average, since other work on the
  machine slows the wall time.

Line numbering follows ../shared/bench/ci-logs/SOURCE.md: 1-based, universal newlines (a lone
"\\r" ends a line), ground truth from `groundtruth` (line 1 is a format option, then lines
"E a-b", "E a", "C a-b", "C a"; only E lines are scored, out-of-range lines are clipped).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skills.tools.condense import condense, split_lines  # noqa: E402

BUDGETS = (50, 100, 200)
_GT = re.compile(r"([EC]) (\d+)(?:-(\d+))?")
_KEYWORD = re.compile(r"error|fail|exception", re.I)


def read_log(path: Path) -> str:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return fh.read()


def parse_groundtruth(path: Path, total: int) -> set[int]:
    """1-based E line numbers of a groundtruth file, clipped to the log."""
    wanted: set[int] = set()
    for row in path.read_text(encoding="utf-8").splitlines()[1:]:
        m = _GT.match(row.strip())
        if m and m.group(1) == "E":
            a = int(m.group(2))
            b = int(m.group(3) or a)
            wanted.update(k for k in range(a, b + 1) if 1 <= k <= total)
    return wanted


def load_cases(folder: Path) -> list[dict]:
    cases = []
    for case in sorted(p for p in folder.iterdir() if (p / "groundtruth").is_file()):
        fail = read_log(case / "fail.log")
        passing = read_log(case / "pass.log") if (case / "pass.log").is_file() else None
        total = len(split_lines(fail))
        cases.append(
            {
                "name": case.name,
                "fail": fail,
                "pass": passing,
                "total": total,
                "labelled": parse_groundtruth(case / "groundtruth", total),
            }
        )
    return cases


def naive_last(lines: list[str], budget: int) -> set[int]:
    n = len(lines)
    return set(range(max(1, n - budget + 1), n + 1))


def naive_keyword_tail(lines: list[str], budget: int) -> set[int]:
    n = len(lines)
    tail = set(range(max(1, n - 50 + 1), n + 1))
    room = max(0, budget - 50)
    picked: list[int] = []
    for k, line in enumerate(lines, 1):
        if len(picked) >= room:
            break
        if k not in tail and _KEYWORD.search(line):
            picked.append(k)
    return tail | set(picked)


def figures(per_case: list[tuple[int, int, int]]) -> dict:
    """per_case: (kept labelled, labelled, budget) -> pooled and mean raw and capped recall."""
    rows = [r for r in per_case if r[1] > 0]
    kept = sum(r[0] for r in rows)
    labelled = sum(r[1] for r in rows)
    capped_den = sum(min(r[1], r[2]) for r in rows)
    return {
        "raw_recall": {
            "pooled": round(kept / labelled, 4) if labelled else None,
            "mean": round(statistics.fmean(r[0] / r[1] for r in rows), 4) if rows else None,
        },
        "capped_recall": {
            "pooled": round(kept / capped_den, 4) if capped_den else None,
            "mean": round(statistics.fmean(r[0] / min(r[1], r[2]) for r in rows), 4) if rows else None,
        },
        "cases_all_kept_capped": sum(1 for r in rows if r[0] >= min(r[1], r[2])),
    }


def evaluate(cases: list[dict], verbose: bool = False) -> dict:
    out: dict = {"cases": len(cases), "labelled_lines": sum(len(c["labelled"]) for c in cases)}
    for budget in BUDGETS:
        methods: dict[str, list[tuple[int, int, int]]] = {
            "condense": [], "condense_with_baseline": [], "keyword_plus_last_50": [], "last_n_lines": [],
        }
        best: list[tuple[int, int, int]] = []
        kept_sizes: dict[str, list[int]] = {"condense": [], "condense_with_baseline": []}
        for case in cases:
            lab = case["labelled"]
            lines = split_lines(case["fail"])
            res = condense(case["fail"], max_lines=budget)
            assert len(res.kept_lines) <= budget, (case["name"], budget, len(res.kept_lines))
            kept_sizes["condense"].append(len(res.kept_lines))
            methods["condense"].append((len(lab & set(res.kept_lines)), len(lab), budget))
            res_b = condense(case["fail"], max_lines=budget, baseline=case["pass"])
            assert len(res_b.kept_lines) <= budget
            kept_sizes["condense_with_baseline"].append(len(res_b.kept_lines))
            methods["condense_with_baseline"].append((len(lab & set(res_b.kept_lines)), len(lab), budget))
            methods["keyword_plus_last_50"].append((len(lab & naive_keyword_tail(lines, budget)), len(lab), budget))
            methods["last_n_lines"].append((len(lab & naive_last(lines, budget)), len(lab), budget))
            best.append((min(len(lab), budget), len(lab), budget))
            if verbose:
                missed = sorted(lab - set(res.kept_lines))
                extra = sorted(set(res.kept_lines) - lab)
                cap = min(len(lab), budget)
                score = len(lab & set(res.kept_lines)) / cap if cap else 1
                if score < 0.999:
                    print(f"[{budget}] {case['name']}: capped {score:.3f} labelled={len(lab)} "
                          f"missed={_ranges(missed)} extra={_ranges(extra)}", file=sys.stderr)
        entry = {name: figures(rows) for name, rows in methods.items()}
        best_fig = figures(best)
        entry["best_possible_raw_recall"] = best_fig["raw_recall"]
        entry["condense_kept_lines_median"] = statistics.median(kept_sizes["condense"])
        out[f"budget_{budget}"] = entry
    return out


def _ranges(nums: list[int]) -> str:
    parts = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        parts.append(f"{nums[i]}" if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(parts[:30]) + (" ..." if len(parts) > 30 else "")


def timing(cases: list[dict], target: int = 100_000, runs: int = 7) -> dict:
    """Wall and CPU time of condense on a 100,000-line log made of the cases' own logs (their
    fail logs one after another, repeated until 100,000 lines; the baseline likewise)."""
    def build(key: str) -> str:
        lines: list[str] = []
        while len(lines) < target:
            for case in cases:
                if case[key]:
                    lines.extend(split_lines(case[key]))
                if len(lines) >= target:
                    break
        return "\n".join(lines[:target]) + "\n"

    fail = build("fail")
    passing = build("pass")
    result: dict = {"lines": target, "chars": len(fail), "runs": runs, "budget": 100}
    for label, base in (("", None), ("_with_baseline", passing)):
        wall, cpu = [], []
        for _ in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            condense(fail, max_lines=100, baseline=base)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        result[f"wall_seconds_p50{label}"] = round(statistics.median(wall), 3)
        result[f"cpu_seconds_p50{label}"] = round(statistics.median(cpu), 3)
    largest = max(cases, key=lambda c: c["total"])
    wall = []
    for _ in range(runs):
        t0 = time.perf_counter()
        condense(largest["fail"], max_lines=100)
        wall.append(time.perf_counter() - t0)
    result["largest_single_log"] = {"case": largest["name"], "lines": largest["total"],
                                    "wall_seconds_p50": round(statistics.median(wall), 3)}
    result["load_average_1min"] = round(os.getloadavg()[0], 2)
    result["cpus"] = os.cpu_count()
    return result


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("DROID_SHARED", REPO.parent / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=shared / "bench" / "ci-logs", help="CI breakage cases")
    parser.add_argument("--python-logs", type=Path, help="cases made by bench/make_python_logs.py")
    parser.add_argument("-v", "--verbose", action="store_true", help="per-case misses on stderr")
    args = parser.parse_args(argv)

    report: dict = {"budgets": list(BUDGETS)}
    ci_cases = load_cases(args.logs)
    report["ci_logs"] = evaluate(ci_cases, args.verbose)
    report["ci_logs"]["source"] = str(args.logs)
    report["time_100k_lines"] = {"ci_logs": timing(ci_cases)}
    if args.python_logs:
        py_cases = load_cases(args.python_logs)
        report["python_logs"] = evaluate(py_cases, args.verbose)
        report["python_logs"]["source"] = str(args.python_logs)
        report["python_logs"]["lines_per_case"] = {c["name"]: c["total"] for c in py_cases}
        report["time_100k_lines"]["python_logs"] = timing(py_cases)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
