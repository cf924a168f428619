"""The Jira stand-in `droid console` uses (the real `jira` client against it), `/label` in the console, and the
JQL poll as a scheduled job."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from jira import JIRA

from bot.local.jira_standin import TOKEN as STANDIN_TOKEN
from bot.local.jira_standin import USER as STANDIN_USER
from bot.local.jira_standin import JiraStandIn
from bot.orchestration.schedules import JIRA_POLL, poll_now, start_scheduler
from integrations.jira_client import JiraClient
from tests.harness import Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo
from tests.stubs.jira_stub import JiraStub
from tests.test_ticket_intake import TOKEN, USER, routing


@pytest.fixture
def jira(fixtures_dir):
    with JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as stub:
        stub.deployment = "Cloud"
        yield stub


def test_jira_standin_serves_the_real_jira_client():
    with JiraStandIn() as standin:
        standin.add_samples()
        client = JiraClient(standin.url, STANDIN_USER, STANDIN_TOKEN)
        ticket = client.ticket("PAY-142")
        assert ticket.summary.startswith("Webhook sender") and "```\nsend_with_retries" in ticket.description
        assert client.search("labels = droid AND statusCategory != Done") == []
        history = standin.label("PAY-143")
        (found,) = client.search("labels = droid AND statusCategory != Done")
        assert found["key"] == "PAY-143" and found["changelog"]["histories"][-1]["id"] == history
        jira = JIRA(server=standin.url, basic_auth=(STANDIN_USER, STANDIN_TOKEN), get_server_info=False,
                    options={"rest_api_version": "3"})
        assert jira.issue("PAY-142").raw["fields"]["description"]["type"] == "doc"         # ADF on v3
        assert "In Review" in [t["name"] for t in jira.transitions("PAY-142")]
        jira.transition_issue("PAY-142", "21")
        assert jira.issue("PAY-142").fields.status.name == "In Progress"
        link = jira.add_remote_link("PAY-142", {"url": "https://github.com/acme/pay/pull/1", "title": "PR"},
                                    globalId="droid:pr:1")
        assert [x.id for x in jira.remote_links("PAY-142")] == [link.id]
        client.comment("PAY-142", "droid is on it")
        assert [c.body for c in jira.comments("PAY-142")] == ["droid is on it"]
        with pytest.raises(Exception, match="401"):
            JiraClient(standin.url, STANDIN_USER, "wrong").ticket("PAY-142")


def test_console_label_turns_a_standin_ticket_into_a_top_level_plan(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SLACK_", "DROID_", "JIRA_"))}
    lines = ["@droid fix PAY-142", "/label PAY-143", "/runs"]
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    done = subprocess.run([sys.executable, "-m", "bot.cli", "console", "--repo", str(repo), "--db",
                           str(tmp_path / "c.db")], input="\n".join(lines) + "\n", capture_output=True, text=True,
                          timeout=120, env={**env, "DROID_STATUS_INTERVAL": "0.1"})
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Jira stand-in: PAY-142, PAY-143" in out
    mention, labelled = out.split("you> /label PAY-143")
    assert "── droid · in thread ──\n## Plan v1" in mention and "fix PAY-142" in mention
    # the plan names the ticket (key, title, link) and uses its description (ADF) and acceptance criteria
    assert "/browse/PAY-142|PAY-142> — Webhook sender gives up after the first 5xx" in mention
    assert "PAY-142 asks: Deliveries to merchant endpoints are dropped when the endpoint answers 503 once" in mention
    assert "Acceptance criteria: - 5xx and timeouts are retried up to 5 times" in mention
    assert "Search results for PAY-142's summary and description" in mention and "webhooks/sender.py" in mention
    assert "── droid ──\n## Plan v1" in labelled and "PAY-143: Invoice totals ignore the discount line" in labelled
    assert "requested by <@UYOU>" in labelled             # the reporter's email is the console user's
    assert "PAY-143 asks: The invoice total is computed before discounts are applied." in labelled
    assert "you> @droid" not in labelled and "billing/invoice.py" in labelled


def test_the_poll_is_a_scheduled_job_unless_turned_off(tmp_path, jira):
    (tmp_path / "on").mkdir()
    (tmp_path / "off").mkdir()
    on = Droid(tmp_path / "on", routing=routing(), jira_url=jira.url, jira_user=USER, jira_token=TOKEN)
    off = Droid(tmp_path / "off", routing=routing(), jira_url=jira.url, jira_user=USER, jira_token=TOKEN,
                jira_poll_seconds=0, standin=on.slack)
    schedulers = [start_scheduler(on.deps), start_scheduler(off.deps)]
    try:
        assert schedulers[0].get_job(JIRA_POLL).trigger.interval.total_seconds() == 300
        assert schedulers[1].get_job(JIRA_POLL) is None and not poll_now(schedulers[1])
        assert poll_now(schedulers[0])
        wait_for(lambda: jira.requests_to(r"^/rest/api/\d/serverInfo$"), what="a poll")
    finally:
        for scheduler in schedulers:
            scheduler.shutdown(wait=True)
        off.deps.runner.shutdown()
        off.store.database.close()
        on.close()
