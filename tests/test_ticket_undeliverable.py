"""A ticket run whose mapped channel refuses its plan for good (not_in_channel, channel_not_found …):
nobody in Slack could ever see or approve it, so the run fails and the ticket says why."""

from __future__ import annotations

import uuid

import pytest

from tests.harness import wait_for
from tests.test_ticket_intake import droid, jira, jira_webhook, labelled_payload  # noqa: F401 — fixtures


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found"])
def test_a_plan_the_channel_refuses_fails_the_run_and_tells_the_ticket(droid, jira, fixtures_dir, error):  # noqa: F811
    jira.load("get_issue.v2.minimal.jira-cli.json", key="TES-41")
    droid.slack.fail_next("chat.postMessage", 200, {"ok": False, "error": error})
    assert jira_webhook(droid, labelled_payload(fixtures_dir), identifier=str(uuid.uuid4())).text == "accepted"
    run = wait_for(lambda: next(iter(droid.store.runs.in_states("failed")), None), timeout=20, what="run failed")
    assert error in run.result and "Invite droid" in run.result and not run.thread_ts
    comments = wait_for(lambda: jira.comments.get("TES-41"), timeout=20, what="failure comment on the ticket")
    assert len(comments) == 1 and error in comments[0]["body"] and "failed" in comments[0]["body"]
    droid.deps.runner.deliverer.drain(5)
    assert not droid.slack.messages.get("CPAY")           # nothing reached the channel, and nothing was retried
    assert len(droid.posts("CPAY")) == 1
    assert droid.store.runs.in_states("awaiting_approval") == []
