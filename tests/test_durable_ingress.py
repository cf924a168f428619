"""Nothing acknowledged is lost: mentions survive a crash right after the ack; plans close on the clicked message."""

from __future__ import annotations

import pytest

from bot.recovery import recover
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo


class _DiesAfterAck:
    """Bolt's listener executor of a process killed right after it acknowledged: listeners never run."""

    def submit(self, fn, *args, **kwargs):
        return None


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "service", SERVICE_FILES)


def test_a_mention_acknowledged_before_a_crash_is_planned_after_the_restart(tmp_path, repo):
    first = Droid(tmp_path, repo=repo)
    first.app._listener_runner.listener_executor = _DiesAfterAck()
    response, ts = first.mention("where is send_with_retries defined?", event_id="Ev0DURABLE1")
    assert response.status == 200                      # Slack will never send this event again
    assert first.store.runs.latest_in_thread("CDEV", ts) is None
    first.deps.runner.shutdown(wait=True)
    first.store.database.close()

    again = Droid(tmp_path, repo=repo, standin=first.slack)
    try:
        recover(again.deps)
        run = wait_for(lambda: again.store.runs.latest_in_thread("CDEV", ts), what="the replayed mention's run")
        run = wait_for(lambda: (r := again.store.runs.get(run.run_id)) and r.plan_ts and r, what="its plan posted")
        assert run.state == "awaiting_approval" and run.task == "where is send_with_retries defined?"
        plans = [m for m in again.slack.thread("CDEV", ts) if m.get("text", "").startswith("Plan v")]
        assert len(plans) == 1
        recover(again.deps)                            # a second restart replays nothing
        assert again.store.deliveries.unhandled() == []
        assert len(again.store.runs.in_states("received", "planning", "awaiting_approval")) == 1
        again.dispatch(_retry_of(again, ts))           # a late retry of the same delivery: acknowledged, ignored
        assert len([m for m in again.slack.thread("CDEV", ts) if m.get("text", "").startswith("Plan v")]) == 1
    finally:
        again.close()


def _retry_of(droid: Droid, ts: str) -> dict:
    from bot import payloads
    event = payloads.app_mention(user="UALICE", text="<@UDROIDBOT> where is send_with_retries defined?",
                                 channel="CDEV", ts=ts)
    return payloads.event_callback(event, team="T0DROID", event_id="Ev0DURABLE1")
