"""bench/locate.py's scoring: the rank of the first gold file, Acc@k, and the JSON summary of a run."""

from __future__ import annotations

import statistics

KS = (1, 5, 10)
NOTE = ("ranks = [droid, droid_fixsite, bm25_plain(, droid_ticket)] rank of the first gold file "
        "(null: not in the top 10); "
        "later_open = opening the index after HEAD moved to the next instance's base commit "
        "(incremental); git grep = `git grep -n -I -e TERM...` with up to 20 query terms")


def rank_of(ranked: list[str], gold: list[str]) -> int | None:
    """1-based rank of the first gold file in `ranked`, None when absent."""
    for i, path in enumerate(ranked):
        if path in gold:
            return i + 1
    return None


def accuracy(ranks: list[int | None]) -> dict[str, float]:
    """Acc@1/5/10 in percent: the share of instances whose first gold file ranks within k."""
    n = max(1, len(ranks))
    return {f"acc@{k}": round(100.0 * sum(1 for r in ranks if r is not None and r <= k) / n, 1) for k in KS}


def _med(xs: list[float], nd: int = 3) -> float | None:
    return round(statistics.median(xs), nd) if xs else None


def repo_summary(items: list[dict], ranks: dict[str, dict], timings: dict[str, list[float]]) -> dict:
    """One repository's sizes, open/query times and per-system accuracy."""
    opens = timings["opens"]
    return {
        "instances": len(items), "files_median": _med(timings["n_files"], 0), "chars_median": _med(timings["sizes"], 0),
        "first_open_seconds": round(opens[0], 3) if opens else None,
        "later_open_seconds_median": _med(opens[1:]), "later_open_blobs_indexed_median": _med(timings["indexed"][1:], 0),
        "query_seconds_median": _med(timings["queries"], 4), "git_grep_seconds_median": _med(timings["greps"], 4),
        "acc": {s: accuracy([ranks[s][i["instance_id"]] for i in items if i["instance_id"] in ranks[s]])
                for s in ranks},
    }


def run_summary(head: dict, ranks: dict[str, dict], repo_stats: dict[str, dict], per_instance: list[dict],
                timing: dict, differing: list[str] | None) -> dict:
    """The JSON object bench/locate.py prints: accuracy per system, timing, per-repository figures, ranks."""
    ticket = differing is not None
    return {
        **head, "instances": len(per_instance),
        **{s: accuracy(list(ranks[s].values())) for s in ranks},
        "timing_largest_repo": timing,
        **({"side_by_side": {"raw_issue_text": accuracy(list(ranks["droid"].values())),
                             "ticket": accuracy(list(ranks["droid_ticket"].values())),
                             "bm25_plain_raw": accuracy(list(ranks["bm25_plain"].values())),
                             "bm25_plain_ticket": accuracy(list(ranks["bm25_plain_ticket"].values())),
                             "queries_differing": len(differing), "differing_ids": differing}}
           if ticket else {}),
        "per_repo": {r: {k: v for k, v in st.items() if k != "acc"} | {"droid": st["acc"]["droid"],
                                                                      "bm25_plain": st["acc"]["bm25_plain"]}
                     | ({"droid_ticket": st["acc"]["droid_ticket"]} if ticket else {})
                     for r, st in repo_stats.items()},
        "absent_files": {row["instance_id"]: row["absent_files"] for row in per_instance if row["absent_files"]},
        "ranks": {row["instance_id"]: [row["droid"], row["droid_fixsite"], row["bm25_plain"]]
                  + ([row["droid_ticket"]] if ticket else []) for row in per_instance},
        "note": NOTE,
    }
