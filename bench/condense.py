"""Benchmark: how much of a failure `condense` keeps within a line budget, against naive baselines.

    python bench/condense.py [--logs ../shared/bench/ci-logs] [--python-logs /tmp/pylogs]
    python bench/condense.py --big [--big-mb 200]

Prints one JSON object. For each log set (the 36 CI breakages of ../shared/bench/ci-logs, and
optionally a set made by bench/make_python_logs.py) and each budget (50, 100, 200 lines):

- `raw_recall`: labelled E lines kept / all labelled E lines, pooled over all cases and as the
  mean per case;
- `capped_recall`: labelled E lines kept / min(labelled, budget), pooled and mean per case (no
  method can keep more lines than the budget, so this one can reach 1.0);
- for `condense_in_16k_windows`: `droid condense`'s path for big files (condense_file read in
  windows, each condensed with what the windows before it kept) forced onto these small logs
  with windows of 16,384 characters, so the approximation it makes on big logs shows;
- for `condense` without and with the passing log as baseline, and for two naive methods run
  on the same cases: "keyword lines + last 50" (lines matching error|fail|exception, any case,
  in log order up to budget - 50, then the last 50 lines) and "last N lines" (N = budget);
- `best_possible_raw_recall`: min(labelled, budget) / labelled, pooled and mean;
- `time_100k_lines`: condense's wall and CPU time (p50 of 7 runs) on a 100,000-line log made
  of each set's own fail logs (and with a 100,000-line baseline made of their pass logs), and
  on the set's largest single log, with the machine's load average, since other work on the
  machine slows the wall time.

With `--big` it prints instead, for `droid condense` run as a child process on a generated
200 MB log (with a 200 MB passing log as baseline for the second run, both in a temporary
folder): the child's peak RSS (from `os.wait4`), wall time, MB/s, and whether the failures
planted in the log were kept.

Line numbering follows ../shared/bench/ci-logs/SOURCE.md: 1-based, universal newlines (a lone
"\\r" ends a line), ground truth from `groundtruth` (line 1 is a format option, then lines
"E a-b", "E a", "C a-b", "C a"; only E lines are scored, out-of-range lines are clipped).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from skills.tools.condense import condense  # noqa: E402
from skills.tools.condense_file import condense_file  # noqa: E402
from skills.tools.condense_scoring import split_lines  # noqa: E402

WINDOW_CHARS = 16_384  # the windowed figures: each log read in windows this small, as a 200 MB log is

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
                "path": case / "fail.log",
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
            "condense_in_16k_windows": [],
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
            res_w = condense_file(case["path"], budget, whole_bytes=0, window_chars=WINDOW_CHARS)
            assert len(res_w.kept_lines) <= budget
            methods["condense_in_16k_windows"].append((len(lab & set(res_w.kept_lines)), len(lab), budget))
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


PLANTED = [  # the failures hidden in the big log; each must be kept
    "ERROR payment total mismatch: expected 100.00, got 90.00 (order 4711)",
    "E       AssertionError: ledger unbalanced for acct-42",
    "[ERROR] Failed to execute goal org.apache.maven.plugins:maven-surefire-plugin:3.0.0:test on project billing",
]


def _synthetic_noise(seed: int) -> Iterator[str]:
    """Endless CI chatter: passing tests, log lines, progress, and an "error" a passing run prints too."""
    rng = random.Random(seed)
    for i in itertools.count():
        kind = rng.randrange(10)
        if kind < 3:
            yield f"tests/test_module_{i % 97}.py::test_case_{i} PASSED{' ' * 8}[{i % 100:3d}%]"
        elif kind < 6:
            yield (f"2024-05-01 12:{i % 60:02d}:{(i * 7) % 60:02d},{i % 1000:03d} INFO worker-{i % 7} processed "
                   f"batch {i} in {rng.randrange(900)}ms")
        elif kind < 8:
            yield f"[INFO] Tests run: {i % 30 + 1}, Failures: 0, Errors: 0, Skipped: 0, Time elapsed: 0.{i % 999:03d} s"
        elif kind == 8:
            yield f"Downloading chunk {i} of 20000 ({rng.randrange(1000)} kB)"
        else:
            yield f"WARN cache miss for key 0x{rng.getrandbits(24):06x}: error ignored, retrying ({i})"


def _passing_noise(logs: Path, seed: int) -> Iterator[str]:
    """Endless real passing CI output: the cases' pass.log files, in a seeded order, again and again."""
    files = sorted(logs.glob("*/pass.log"))
    rng = random.Random(seed)
    while True:
        rng.shuffle(files)
        for path in files:
            yield from split_lines(read_log(path))


def write_big_log(path: Path, megabytes: int, noise: Iterator[str], failing: bool) -> int:
    """A log of about `megabytes` MB of `noise`; when `failing`, with PLANTED inside it (one at
    40%, one at 70%, one near the end), each after a traceback header. Returns its size in bytes."""
    target = megabytes * 1_000_000
    marks = {int(target * 0.4): 0, int(target * 0.7): 1, target - 2_000: 2} if failing else {}
    size = 0
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        while size < target:
            block = "\n".join(itertools.islice(noise, 5_000)) + "\n"
            for mark in [m for m in marks if size <= m < size + len(block)]:
                block += f"Traceback (most recent call last):\n  File \"app.py\", line {mark}, in run\n{PLANTED[marks.pop(mark)]}\n"
            fh.write(block)
            size += len(block.encode())
    return path.stat().st_size


def _measure(cmd: list[str]) -> tuple[dict, str]:
    """Run `cmd` as a child process; its own peak RSS (os.wait4) and wall time, and its stdout."""
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode() if proc.stderr else ""
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err[-500:]}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_seconds": round(wall, 2),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2)}, text


def big(megabytes: int, logs: Path | None) -> dict:
    """Peak RSS and MB/s of `droid condense` on a generated log of `megabytes` MB: real passing
    CI output from `logs` (synthetic chatter without it) with three failures planted."""
    def noise(seed: int) -> Iterator[str]:
        return _passing_noise(logs, seed) if logs else _synthetic_noise(seed)

    with tempfile.TemporaryDirectory(prefix="droid-bench-big-") as tmp:
        fail, passing = Path(tmp) / "fail.log", Path(tmp) / "pass.log"
        size = write_big_log(fail, megabytes, noise(1), failing=True)
        base_size = write_big_log(passing, megabytes, noise(2), failing=False)
        report: dict = {"noise": f"pass.log files of {logs}" if logs else "synthetic",
                        "log_mb": round(size / 1e6, 1), "baseline_mb": round(base_size / 1e6, 1),
                        "max_lines": 100, "mb_per_second": "(log MB + baseline MB) / wall seconds",
                        "targets": {"peak_rss_mb": 256, "mb_per_second": 20}}
        cli = [sys.executable, "-m", "bot.cli", "condense", str(fail), "--max-lines", "100", "--format", "json"]
        for label, cmd, read in (("without_baseline", cli, size),
                                 ("with_baseline", [*cli, "--baseline", str(passing)], size + base_size)):
            figures, out = _measure(cmd)
            text = json.loads(out)["text"]
            figures["mb_per_second"] = round(read / 1e6 / figures["wall_seconds"], 1)
            figures["mb_per_cpu_second"] = round(read / 1e6 / figures["cpu_seconds"], 1)
            figures["planted_kept"] = f"{sum(1 for p in PLANTED if p in text)}/{len(PLANTED)}"
            report[label] = figures
    report["load_average_1min"] = round(os.getloadavg()[0], 2)
    report["cpus"] = os.cpu_count()
    return report


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("DROID_SHARED", REPO.parent / "shared"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=shared / "bench" / "ci-logs", help="CI breakage cases")
    parser.add_argument("--python-logs", type=Path, help="cases made by bench/make_python_logs.py")
    parser.add_argument("-v", "--verbose", action="store_true", help="per-case misses on stderr")
    parser.add_argument("--big", action="store_true", help="peak RSS and MB/s of droid condense on a big log")
    parser.add_argument("--big-mb", type=int, default=200, help="the big log's size in MB (default 200)")
    args = parser.parse_args(argv)
    if args.big:
        logs = args.logs if any(args.logs.glob("*/pass.log")) else None
        print(json.dumps({"big_log": big(args.big_mb, logs)}, indent=2))
        return 0

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
