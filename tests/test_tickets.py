"""Tickets as context: refs in text, ADF as text, and reading Jira and GitHub issues with the real clients."""

from __future__ import annotations

import json
import re

import pytest

from bot.settings import Routing, Settings
from integrations.adf import acceptance_section, description_text
from integrations.github_client import GitHubClient
from integrations.jira_client import JiraClient
from integrations.redact import Redactor
from integrations.tickets import Ticket, TicketError, fetch, find_refs, from_jira, keep_trace
from tests.canaries import leaks, planted
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub

USER, TOKEN = "droid@example.com", "jira-api-token-abcdef123"


@pytest.fixture
def jira(fixtures_dir):
    with JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as stub:
        stub.load("get_issue.v3.cloud.expand_renderedFields.xsoar.json")          # COMPANYSA-35
        stub.load_adf("PAY-142", "Webhook sender gives up too early")
        yield stub


@pytest.fixture
def github(fixtures_dir):
    with GitHubStub(fixtures_dir / "github" / "rest") as stub:
        stub.add_issue("acme/pay", 12)
        yield stub


def settings(**values) -> Settings:
    return Settings(**{"routing": Routing(), **values})


# -- finding references -------------------------------------------------------------------------

def test_refs_come_in_textual_order_each_once():
    text = ("see acme/pay#12 then PAY-142, https://github.com/acme/web/issues/7 and "
            "https://jira.example.com/browse/OPS-9?focus=1 and PAY-142 again")
    refs = find_refs(text, jira_url="https://jira.example.com")
    assert [r.key for r in refs] == ["acme/pay#12", "PAY-142", "acme/web#7", "OPS-9"]
    assert refs[2].url == "https://github.com/acme/web/issues/7" and (refs[2].repo, refs[2].number) == ("acme/web", 7)
    assert refs[3].url.startswith("https://jira.example.com/browse/OPS-9")


def test_standard_names_are_not_tickets_unless_jira_says_so():
    text = "UTF-8 and SHA-256 with ISO-8601 dates over HTTP-2, per RFC-1234 — fix PAY-3"
    assert [r.key for r in find_refs(text)] == ["PAY-3"]
    assert [r.key for r in find_refs(text, jira_projects=("RFC",))] == ["RFC-1234", "PAY-3"]
    linked = find_refs("<https://jira.example.com/browse/UTF-8>", jira_url="https://jira.example.com")
    assert [r.key for r in linked] == ["UTF-8"]


def test_urls_on_other_hosts_are_not_tickets():
    assert find_refs("https://evil.example/browse/PAY-1 https://evil.example/a/b/issues/3",
                     jira_url="https://jira.example.com") == []


# -- ADF ----------------------------------------------------------------------------------------

def test_the_rich_adf_fixture_reads_as_text(fixtures_dir):
    doc = json.loads((fixtures_dir / "jira/adf/rich_description.jira-cli.adf.json").read_text())
    text = description_text(doc)
    assert "```\npackage main\n" in text and 'fmt.Println("Hello, World!")\n}\n```' in text
    assert "- Prefix: Unordered list item 1\n  - Next\n    - Another" in text
    assert "1. Ordered list item 1\n2. Ordered list item 2\n3. Ordered list item 3\n  1. nested" in text
    assert "Link (https://ankit.pl)" in text
    assert "| Table Header 1 | Table Header 2 | Table Header 3 |" in text
    assert "Person A" in text and "Blockquote text" in text


def test_acceptance_criteria_under_a_heading():
    doc = {"type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Retries stop after one try."}]},
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Acceptance criteria"}]},
        {"type": "bulletList", "content": [{"type": "listItem", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "three attempts"}]}]}]},
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Notes"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "not this"}]}]}
    assert acceptance_section(doc) == "- three attempts"
    assert acceptance_section("Intro\nh2. Acceptance Criteria\n* works\n* fast\nh2. Other\nno") == "* works\n* fast"
    assert acceptance_section("## Acceptance criteria:\n- a\n") == "- a"
    assert acceptance_section("no such section") == ""


def test_a_long_description_keeps_its_stack_trace():
    trace = 'Traceback (most recent call last):\n  File "webhooks/sender.py", line 9, in post\nValueError: boom'
    text = keep_trace("words " * 3000 + "\n" + trace, 6000)
    assert len(text) <= 6000 and trace in text and text.startswith("words")


# -- Jira through the real `jira` library ---------------------------------------------------------

def test_a_cloud_issue_is_read_through_rest_v3_with_names(jira):
    client = JiraClient(jira.url, USER, TOKEN)
    raw = client.issue_raw("COMPANYSA-35")
    (request,) = jira.requests
    assert request.path == "/rest/api/3/issue/COMPANYSA-35"
    assert request.query["expand"] == ["names"] and "-attachment" in request.query["fields"][0]
    ticket = from_jira(raw, client.browse_url("COMPANYSA-35"))
    assert (ticket.key, ticket.title, ticket.type, ticket.priority, ticket.status) == (
        "COMPANYSA-35", "Testing summary XSOAR mirroring", "Story", "Low", "In Progress")
    assert ticket.description == "XSOAR description stam"
    assert "Integration" in ticket.components and "xsoar-mirror" in ticket.labels
    assert {"key": "TSTPRD-6", "relation": "is blocked by", "title": "Hire UX designers"} in ticket.links
    assert [c["text"] for c in ticket.comments] == ["Hello there", "Second comment"]
    assert ticket.reporter == {"name": "Example User", "email": "admin@demistodev.com", "id": "dummy_account_id"}
    assert ticket.url == f"{jira.url}/browse/COMPANYSA-35"


def test_acceptance_criteria_from_a_custom_field_found_by_name(jira):
    jira.issues["PAY-142"]["fields"]["customfield_10500"] = "Retries three times with backoff"
    jira.field_names["customfield_10500"] = "Acceptance Criteria"
    ticket = fetch(settings(jira_url=jira.url, jira_user=USER, jira_token=TOKEN),
                   find_refs("PAY-142")[0], Redactor())
    assert ticket.acceptance == "Retries three times with backoff"
    assert "Acceptance criteria:\nRetries three times" in ticket.context_text()
    assert "```\npackage main" in ticket.description and "Link (https://ankit.pl)" in ticket.description


def test_only_the_newest_comments_are_read_when_jira_embeds_a_page(jira):
    for i in range(12):
        jira.add_comment("PAY-142", {"type": "doc", "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": f"comment {i}"}]}]})
    jira.embedded_comments = 3
    raw = JiraClient(jira.url, USER, TOKEN).issue_raw("PAY-142", comments=4)
    page = jira.requests_to("/rest/api/3/issue/PAY-142/comment", "GET")
    assert len(page) == 1 and page[0].query["orderBy"] == ["-created"]
    ticket = from_jira(raw, "x")
    assert [c["text"] for c in ticket.comments] == ["comment 8", "comment 9", "comment 10", "comment 11"]


def test_jira_server_without_rest_v3_is_read_through_v2(jira):
    jira.versions = {"2"}
    raw = JiraClient(jira.url, USER, TOKEN).issue_raw("COMPANYSA-35")
    assert raw["key"] == "COMPANYSA-35"
    assert [r.path for r in jira.requests] == ["/rest/api/3/issue/COMPANYSA-35", "/rest/api/2/issue/COMPANYSA-35"]


@pytest.mark.parametrize("token, key, message", [(TOKEN, "PAY-404", "not found (404"),
                                                 ("wrong-token-0000000", "PAY-142", "credentials (401)")])
def test_read_failures_are_short_ticket_errors(jira, token, key, message):
    with pytest.raises(TicketError, match=re.escape(message)) as info:
        fetch(settings(jira_url=jira.url, jira_user=USER, jira_token=token), find_refs(key)[0], Redactor())
    assert len(str(info.value)) <= 200 and token not in str(info.value)


def test_without_jira_configured_a_key_is_noted_not_fetched():
    with pytest.raises(TicketError, match="Jira is not configured"):
        fetch(settings(), find_refs("PAY-142")[0], Redactor())


def test_a_ticket_is_redacted_when_read(jira):
    jira.issues["PAY-142"]["fields"]["description"] = f"Steps\n{planted()}\nthe end"
    jira.add_comment("PAY-142", f"token {planted(' ')}")
    ticket = fetch(settings(jira_url=jira.url, jira_user=USER, jira_token=TOKEN), find_refs("PAY-142")[0],
                   Redactor([TOKEN]))
    assert not leaks(json.dumps(ticket.to_dict())) and "the end" in ticket.description


def test_sentry_links_in_a_ticket(jira):
    jira.add_comment("PAY-142", "Seen in https://acme.sentry.io/issues/4711/?project=2 and "
                                "https://sentry.internal/organizations/acme/issues/99/ and https://ex.com/issues/1")
    ticket = fetch(settings(jira_url=jira.url, jira_user=USER, jira_token=TOKEN, sentry_url="https://sentry.internal"),
                   find_refs("PAY-142")[0], Redactor())
    assert ticket.sentry_links == ["https://acme.sentry.io/issues/4711/?project=2",
                                   "https://sentry.internal/organizations/acme/issues/99/"]


# -- GitHub through PyGithub -------------------------------------------------------------------

def test_a_github_issue_and_its_latest_comments(github):
    ticket = fetch(settings(github_token=github.token, github_api_url=github.url),
                   find_refs("acme/pay#12")[0], Redactor())
    assert ticket.key == "acme/pay#12" and ticket.url == "https://github.com/acme/pay/issues/12"
    assert ticket.title.startswith("Commit.files does not respect")
    assert "```\nimport logging" in ticket.description
    assert len(ticket.comments) == 4 and ticket.comments[0]["author"]
    assert ticket.status == "open" and ticket.reporter["name"] == "iarspider"


def test_many_github_comments_read_the_last_pages_only(github):
    github.add_issue("acme/pay", 13, comments=[f"comment {i}" for i in range(102)])
    issue, comments = GitHubClient(github.token, github.url).issue("acme/pay", 13, comments=5)
    assert [c["body"] for c in comments] == [f"comment {i}" for i in range(97, 102)]
    pages = github.requests_to("/repos/acme/pay/issues/13/comments")
    assert sorted(r.query.get("page", ["1"])[0] for r in pages) == ["1", "2"]


def test_a_missing_github_issue_is_a_ticket_error(github):
    with pytest.raises(TicketError, match="not found"):
        fetch(settings(github_token=github.token, github_api_url=github.url), find_refs("acme/pay#99")[0], Redactor())


def test_a_ticket_round_trips_through_its_dict(jira):
    ticket = fetch(settings(jira_url=jira.url, jira_user=USER, jira_token=TOKEN), find_refs("PAY-142")[0], Redactor())
    assert Ticket.from_dict(json.loads(json.dumps(ticket.to_dict()))) == ticket
