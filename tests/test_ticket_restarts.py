"""Ticket runs across restarts (claimed but not planned; plan sent but not marked) and next to a mention's run."""

from __future__ import annotations

import pytest

from bot.orchestration.recovery import recover
from bot.tickets import toplevel
from bot.tickets.convert import jira_ticket
from bot.tickets.intake import start_ticket_run
from bot.tickets.jira_poll import poll_jira
from tests.harness import Droid
from tests.repos import SERVICE_FILES, make_repo
from tests.stubs.jira_stub import JiraStub
from tests.test_ticket_intake import TOKEN, USER, labelled_payload, plan_posted, routing, runs_of


@pytest.fixture
def jira(fixtures_dir):
    with JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as stub:
        stub.deployment = "Cloud"
        yield stub


def test_restart_between_the_claim_and_the_plan_posts_exactly_one_plan(tmp_path, fixtures_dir):
    first = Droid(tmp_path, routing=routing())
    first.deps.runner.executor.shutdown()          # "crashes" right after the trigger's transaction committed
    ticket = jira_ticket(labelled_payload(fixtures_dir)["issue"])
    with pytest.raises(RuntimeError):
        start_ticket_run(first.deps, ticket, trigger="10233", source="jira_webhook", channel="CPAY")
    (run,) = first.store.runs.in_states("received")
    first.deps.runner.deliverer.stop()
    first.store.database.close()
    second = Droid(tmp_path, routing=routing(), standin=first.slack)
    try:
        assert run.run_id in recover(second.deps)
        second.wait_state(run.run_id, "awaiting_approval")
        (top,) = plan_posted(second)
        assert "TES-41" in top["text"] and len(second.posts("CPAY")) == 1   # no "restarted" notice: no thread yet
        assert start_ticket_run(second.deps, ticket, trigger="10233", source="jira_poll", channel="CPAY") is None
    finally:
        second.close()


def test_restart_after_the_plan_was_sent_but_not_marked_does_not_post_it_again(tmp_path, fixtures_dir):
    first = Droid(tmp_path, routing=routing())
    first.deps.runner.deliverer.stop()
    run = start_ticket_run(first.deps, jira_ticket(labelled_payload(fixtures_dir)["issue"]), trigger="10233",
                           source="jira_webhook", channel="CPAY")
    first.wait_state(run.run_id, "awaiting_approval")
    (item,) = first.store.outbox.pending(run.run_id)
    assert toplevel.resolve(first.store, item)
    first.deps.runner.deliverer.send(item)          # in Slack, then the process dies before marking the row
    first.deps.runner.shutdown()
    first.store.database.close()
    second = Droid(tmp_path, routing=routing(), standin=first.slack)
    try:
        recover(second.deps)
        assert second.deps.runner.deliverer.drain(5)
        (posted,) = [m for m in second.slack.messages["CPAY"]]
        run = second.store.runs.get(run.run_id)
        assert run.thread_ts == run.plan_ts == posted["ts"]
        assert len(second.slack.calls_to("chat.postMessage")) == 1
        assert second.slack.calls_to("conversations.history")
    finally:
        second.close()


def test_a_ticket_already_being_worked_on_from_a_mention_gets_no_second_run(tmp_path, jira, fixtures_dir):
    d = Droid(tmp_path, routing=routing(default_repo=str(make_repo(tmp_path / "repo", SERVICE_FILES))),
              jira_url=jira.url, jira_user=USER, jira_token=TOKEN)
    try:
        _, ts = d.mention("fix TES-41 please", channel="CPAY")
        mentioned = d.wait_state(d.run_for("CPAY", ts).run_id, "awaiting_approval")
        jira.add_issue(labelled_payload(fixtures_dir)["issue"])
        assert poll_jira(d.deps) == []
        (trigger,) = d.store.tickets.for_ticket("TES-41")
        assert trigger.run_id is None and [r.run_id for r in runs_of(d)] == [mentioned.run_id]
    finally:
        d.close()
