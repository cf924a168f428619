"""Ranked, labelled hypotheses and the reports that carry them, on real repositories."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.sentry_event import parse_event
from skills.rca import report
from skills.rca.evidence import analyse
from skills.rca.hypotheses import CONFIRMED, INCONCLUSIVE, LIKELY
from skills.rca.sample import build_repo, capture_event, commit, git

FIRST_SEEN = datetime(2024, 3, 14, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shop_evidence(tmp_path_factory):
    repo = tmp_path_factory.mktemp("shop")
    shas = build_repo(repo, {"alice": "2024-01-02", "bob": "2024-02-01", "carol": "2024-02-20",
                             "dave": "2024-03-10", "erin": "2024-03-12"})
    raw = capture_event(repo, "v1.2.0", "shop@1.2.0", tmp_path_factory.mktemp("run") / "work")
    return analyse(parse_event(raw), repo, FIRST_SEEN), shas, raw


def test_ranked_labelled_hypotheses(shop_evidence):
    ev, shas, _ = shop_evidence
    hyps = ev.hypotheses
    assert 2 <= len(hyps) <= 3
    assert hyps[0].commit == shas["dave"] and hyps[0].label == CONFIRMED
    assert all(h.label in (CONFIRMED, LIKELY, INCONCLUSIVE) for h in hyps)
    assert all(h.label != CONFIRMED for h in hyps[1:])
    assert all(h.evidence for h in hyps)
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    alice = next(h for h in hyps if h.commit == shas["alice"])
    assert alice.label == INCONCLUSIVE  # the root commit is a meta-change
    assert any("meta-change" in d and shas["alice"][:10] in d for d in ev.discarded)
    data = ev.to_json()
    assert data["hypotheses"][0]["label"] == CONFIRMED and data["discarded"]


def test_uploaded_report_has_everything_the_slack_message_has(shop_evidence):
    ev, shas, _ = shop_evidence
    slack = report.summary(ev, narrative="The code change broke it [E1].")
    full = report.full_markdown(ev, "AttributeError", "https://sentry.example/1",
                                narrative="The code change broke it [E1].")
    for part in ("What broke", "Impact", "Top frames", "Suspect commits", "Hypothesis 1 — CONFIRMED",
                 "Next steps", "Model's reading of the evidence", "Read the diff of"):
        assert part in slack and part in full, part
    for line in slack.splitlines():
        if line.strip().startswith(("1.", "2.", "•")):
            assert report.slack_to_markdown(line).strip() in full, line
    assert "## Discarded theories" in full and "## Hypotheses" in full
    assert "## Commands run" in full and len(full) > len(slack)


def test_nothing_qualifies_says_inconclusive_and_what_to_check(tmp_path):
    """A single (root) commit wrote everything: no change explains the error."""
    repo = tmp_path / "one"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "Ann", "2024-01-01", "Everything", {
        "app/__init__.py": "", "app/calc.py": "def ratio(a, b):\n    return a / b\n"})
    raw = {"timestamp": "2024-03-01T00:00:00Z", "platform": "python", "exception": {"values": [{
        "type": "ZeroDivisionError", "value": "division by zero", "stacktrace": {"frames": [
            {"abs_path": "/srv/app/calc.py", "filename": "app/calc.py", "function": "ratio",
             "lineno": 2, "in_app": True, "context_line": "    return a / b"}]}}]}}
    ev = analyse(parse_event(raw), repo)
    assert ev.hypotheses and all(h.label == INCONCLUSIVE for h in ev.hypotheses)
    slack = report.summary(ev)
    assert "inconclusive" in slack and "*What to check*" in slack
    assert "app/calc.py:2" in slack  # the values recorded there are the first thing to check
    assert "What to check:" in ev.to_markdown()


def test_suspects_first_release_and_the_timeline(shop_evidence):
    from integrations.redact import Redactor
    from skills.rca.skill import _timeline
    from skills.rca.timeline import drawn_texts

    ev, shas, raw = shop_evidence
    dave = ev.suspect_commits[0]
    assert dave.sha == shas["dave"] and dave.release and dave.release[0] == "v1.2.0"
    assert any("first released in v1.2.0" in r for r in dave.reasons)
    counts = [(FIRST_SEEN.replace(hour=h), 3 * h) for h in range(10, 20)]
    png = _timeline(ev, counts, parse_event(raw), Redactor())
    texts = drawn_texts(png)
    assert f"#1 {shas['dave'][:7]} Dave" in texts and "v1.2.0" in texts
