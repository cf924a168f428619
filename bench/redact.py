"""Benchmark the redactor: precision and recall per detector family, side by side with detect-secrets.

    python bench/redact.py [--mb 50] [--lib-mb 1] [--runs 3]

On the labelled corpus of bench/redact_corpus.py (deterministic, seeded), for droid's `Redactor` and
for Yelp's `detect-secrets` (default plugins and filters, each line scanned with the file type of its
sample, every reported value masked), per family:

* recall    — true samples whose secret parts are all gone from the output;
* precision — TP / (TP + FP), where FP counts the look-alikes that imitate the family (git SHAs,
              UUIDs, base64 test data, lockfile hashes, code that names a secret...) and were changed.

`held_out` is the headline (values, contexts and names the detectors were not tuned on); `dev` is
the split they were tuned on. `canaries` checks every kind of tests/canaries.py, whole and line by
line. `throughput` redacts a generated mixed log of --mb MB (ordinary log lines, code, SHAs, UUIDs, a
few secrets; best of --runs, wall clock and CPU time of this process, since the machine may be
shared) and counts the git SHAs, sha256 digests and UUIDs that did not survive; detect-secrets
is timed on the first --lib-mb MB of the same log. detect-secrets is optional: without it the
benchmark says so and reports droid alone. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.redact_corpus import Sample, corpus, mixed_log  # noqa: E402
from integrations.redact import MASK, Redactor  # noqa: E402
from tests.canaries import CANARIES, leaks  # noqa: E402

SHA_OR_UUID = re.compile(r"\b(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")


def detect_secrets_redactor():
    """A redactor built on detect-secrets' default plugins, or None when it is not installed."""
    try:
        from detect_secrets.core.scan import _process_line_based_plugins
        from detect_secrets.settings import default_settings
    except ImportError:
        return None

    def redact(text: str, ext: str = "txt") -> str:
        with default_settings():
            lines = list(enumerate(text.splitlines(), 1))
            found = {s.secret_value for s in _process_line_based_plugins(lines, f"sample.{ext}") if s.secret_value}
        for value in sorted(found, key=len, reverse=True):
            text = text.replace(value, MASK)
        return text

    return redact


def score(redact, samples: list[Sample]) -> dict:
    """Per-family and overall precision/recall, and survival per look-alike kind."""
    tp, fn, fp = defaultdict(int), defaultdict(int), defaultdict(int)
    survived, seen = defaultdict(int), defaultdict(int)
    for s in samples:
        out = redact(s.text, s.ext)
        if s.secret:
            (fn if any(p in out for p in s.parts) else tp)[s.family] += 1
        else:
            seen[s.family] += 1
            if out == s.text:
                survived[s.family] += 1
            else:
                fp[s.imitates] += 1
    families = sorted({s.family for s in samples if s.secret})
    per = {f: {"recall": _ratio(tp[f], tp[f] + fn[f]), "precision": _ratio(tp[f], tp[f] + fp[f]),
               "tp": tp[f], "fn": fn[f], "fp": fp[f]} for f in families}
    TP, FN, FP = sum(tp.values()), sum(fn.values()), sum(fp.values())
    return {"overall": {"recall": _ratio(TP, TP + FN), "precision": _ratio(TP, TP + FP), "tp": TP, "fn": FN, "fp": FP},
            "families": per,
            "lookalikes_survived": {k: f"{survived[k]}/{seen[k]}" for k in sorted(seen)}}


def canaries(redact) -> dict:
    """Which canary kinds leak, whole or through any single line."""
    leaked = sorted(k for k, (text, _) in CANARIES.items()
                    if leaks(redact(text, "txt")) or any(leaks(redact(line, "txt")) for line in text.splitlines()))
    return {"recall": _ratio(len(CANARIES) - len(leaked), len(CANARIES)), "leaked": leaked}


def throughput(redact, text: str, runs: int) -> dict:
    """MB/s (best of `runs`) and how many git SHAs / UUIDs did not survive."""
    best, cpu, out = float("inf"), float("inf"), text
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = redact(text, "log")
        best, cpu = min(best, time.perf_counter() - start), min(cpu, time.process_time() - start_cpu)
    before, after = SHA_OR_UUID.findall(text), set(SHA_OR_UUID.findall(out))
    mb = len(text) / 1e6
    return {"mb": round(mb, 1), "seconds": round(best, 3), "mb_per_s": round(mb / best, 1),
            "cpu_seconds": round(cpu, 3), "mb_per_cpu_s": round(mb / cpu, 1),
            "masks": out.count(MASK), "sha_or_uuid_masked": sum(1 for x in before if x not in after),
            "sha_or_uuid_seen": len(before)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def main() -> None:
    """Run the benchmark and print JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50)
    ap.add_argument("--lib-mb", type=float, default=1)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    droid = Redactor()
    detectors = {"droid": lambda text, ext="txt": droid(text)}
    library = detect_secrets_redactor()
    report: dict = {"corpus": {}}
    if library:
        detectors["detect_secrets"] = library
    else:
        report["detect_secrets"] = "not installed (pip install detect-secrets): droid measured alone"
    for split in ("held_out", "dev"):
        samples = corpus(split)
        report["corpus"][split] = {"secrets": sum(s.secret for s in samples),
                                   "lookalikes": sum(not s.secret for s in samples)}
        report[split] = {name: score(redact, samples) for name, redact in detectors.items()}
        print(f"scored {split}", file=sys.stderr)
    report["canaries"] = {name: canaries(redact) for name, redact in detectors.items()}
    log, planted = mixed_log(int(args.mb * 1e6))
    print(f"generated {len(log) / 1e6:.1f} MB log with {planted} secrets", file=sys.stderr)
    report["throughput"] = {"droid": {**throughput(detectors["droid"], log, args.runs), "secrets_planted": planted}}
    if library:
        cut = log[: int(args.lib_mb * 1e6)]
        report["throughput"]["detect_secrets"] = throughput(library, cut[: cut.rfind("\n")], 1)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
