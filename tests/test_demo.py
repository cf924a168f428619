"""`droid demo`, the README's main job: a real sentry-sdk event, the real pipeline, the guilty commit named."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SLACK_", "SENTRY_", "DROID_"))}


def _demo(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--dir", str(folder)], capture_output=True,
                          text=True, timeout=240, env=_env(), cwd=REPO)


def test_demo_names_the_guilty_commit_and_runs_again_in_the_same_folder(tmp_path):
    for attempt in ("first", "again"):
        done = _demo(tmp_path)
        assert done.returncode == 0, (attempt, done.stderr)
        out = done.stdout
        guilty = subprocess.run(["git", "-C", str(tmp_path / "shop"), "log", "--format=%H", "-1", "--grep",
                                 "Accept discount codes"], capture_output=True, text=True, check=True).stdout.strip()
        assert "── Sentry ──" in out and "*Root-cause analysis: AttributeError" in out
        first = re.search(r"\*Suspect commits\*\n1\. `([0-9a-f]+)`", out)
        assert first and guilty.startswith(first.group(1)), attempt
        assert "droid's top suspect is that commit" in out
        labels = re.findall(r"\*Hypothesis (\d) — (CONFIRMED|LIKELY|INCONCLUSIVE):\* commit `([0-9a-f]+)`", out)
        assert [n for n, _, _ in labels] == ["1", "2", "3"][:len(labels)] and len(labels) >= 2
        assert labels[0][1] == "CONFIRMED" and guilty.startswith(labels[0][2])
        assert all(label != "CONFIRMED" for _, label, _ in labels[1:])
        assert "Full RCA report" in out and "Timeline" in out
        assert (tmp_path / "rca-4711-timeline.png").read_bytes().startswith(b"\x89PNG")


def test_demo_refuses_a_folder_holding_something_else_under_its_names(tmp_path):
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "precious.txt").write_text("mine")
    done = _demo(tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "not made by droid demo" in done.stderr
    assert (tmp_path / "shop" / "precious.txt").read_text() == "mine"
