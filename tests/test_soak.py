"""A bounded kill -9 soak: 6 runs, 3 SIGKILLs at seeded random points, under a minute.

droid runs in a child process against the Slack stand-in served from this process, over a real
SQLite file; it is SIGKILLed (sometimes inside a Slack call, before Slack answers) and restarted,
and recovery plus the outbox must leave every thread told exactly once. bench/soak.py runs more seeds.
"""

from __future__ import annotations

import dataclasses
import os

from tests.repos import SERVICE_FILES, make_repo
from tests.soak_harness import Soak

SEED = int(os.environ.get("DROID_SOAK_SEED", "11"))


def test_kill_9_soak_leaves_every_thread_told_once(tmp_path):
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    figures = Soak(tmp_path, repo, seed=SEED, runs=6, kills=3, deadline=50).run()
    print(dataclasses.asdict(figures))
    assert figures.kills >= 2, "the soak did not kill droid"
    # a mention acknowledged and then killed before its run existed is replayed by recovery
    assert (figures.runs, figures.lost_mentions) == (6, 0), figures.problems
    assert (figures.untold, figures.duplicated, figures.two_live_plans, figures.unfinished) == (0, 0, 0, 0), \
        figures.problems
    assert figures.unreacted == 0
