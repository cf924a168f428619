"""A mention asking for a change to a ticket that already has an unfinished run elsewhere points to that run
instead of starting a second one (two runs on one ticket would mean two pull requests)."""

from __future__ import annotations

import uuid

import pytest

from bot.slack.http_server import DroidHTTPServer
from bot.tickets.routes import ticket_routes
from tests.harness import Droid, wait_for
from tests.test_ticket_intake import (  # noqa: F401 — the `jira` fixture
    GITHUB_SECRET,
    JIRA_SECRET,
    TOKEN,
    USER,
    awaiting,
    jira,
    jira_webhook,
    labelled_payload,
    routing,
    runs_of,
)


@pytest.fixture
def droid(tmp_path, jira):  # noqa: F811
    d = Droid(tmp_path, routing=routing(default_repo=str(tmp_path)), jira_url=jira.url, jira_user=USER,
              jira_token=TOKEN, jira_webhook_secret=JIRA_SECRET, github_webhook_secret=GITHUB_SECRET)
    server = DroidHTTPServer(d.app, 0, host="127.0.0.1", routes=ticket_routes(d.deps)).start()
    d.url = f"http://127.0.0.1:{server.port}"
    yield d
    server.shutdown()
    d.close()


def test_a_change_to_a_ticket_with_a_run_points_there(droid, fixtures_dir):
    assert jira_webhook(droid, labelled_payload(fixtures_dir), identifier=str(uuid.uuid4())).text == "accepted"
    (ticket_run,) = awaiting(droid)
    _, ts = droid.mention("fix TES-41 please", channel="CDEV")
    notice = wait_for(lambda: next((p for p in droid.posts("CDEV") if "already has an unfinished run" in p["text"]),
                                   None), what="the pointer to the running run")
    assert ticket_run.run_id in notice["text"] and notice["thread_ts"] == ts
    assert [r.run_id for r in runs_of(droid)] == [ticket_run.run_id]          # no second run
    _, ts = droid.mention("what does TES-41 ask for?", channel="CDEV")       # a question is no second change
    wait_for(lambda: len(runs_of(droid)) == 2, what="the question's run")
