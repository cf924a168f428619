"""JiraClient: the real `jira` library against a local stub serving recorded Jira issue shapes."""

from __future__ import annotations

import pytest

from integrations.jira_client import JiraClient, JiraError, adf_to_text, description_text
from tests.stubs.jira_stub import JiraStub

USER, TOKEN = "droid@example.com", "jira-api-token-abcdef123"


@pytest.fixture
def stub(fixtures_dir):
    with JiraStub(fixtures_dir / "jira" / "api", user=USER, token=TOKEN) as server:
        server.load("get_issue.v2.server.json")                                 # BBCOM-1398
        server.load("get_issue.v2.minimal.jira-cli.json", key="TEST-1")
        server.load("get_issue.v3.adf.minimal.jira-cli.json", key="CLOUD-7")
        yield server


@pytest.fixture
def client(stub):
    jira = JiraClient(stub.url, USER, TOKEN)
    yield jira
    jira.close()


def test_ticket_from_a_jira_server_v2_issue(client, stub):
    t = client.ticket("BBCOM-1398")
    assert t.key == "BBCOM-1398"
    assert t.summary == t.description == "Prueba de creación de tareas en un proyecto público"
    assert t.status == "К выполнению"
    assert t.url == f"{stub.url}/browse/BBCOM-1398"
    # with get_server_info=False the library makes exactly the one call
    assert [(r.method, r.path) for r in stub.requests] == [("GET", "/rest/api/2/issue/BBCOM-1398")]


def test_ticket_with_a_plain_string_description(client):
    t = client.ticket("TEST-1")
    assert (t.summary, t.description, t.status) == ("Bug summary", "Test description", "To Do")


def test_ticket_with_an_adf_description_is_flattened(client):
    assert client.ticket("CLOUD-7").description == "Test description"


def test_adf_flattening_keeps_blocks_apart():
    doc = {"type": "doc", "version": 1, "content": [
        {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Steps"}]},
        {"type": "paragraph", "content": [
            {"type": "text", "text": "Call "}, {"type": "text", "text": "send()", "marks": [{"type": "code"}]},
            {"type": "hardBreak"}, {"type": "text", "text": "then wait, "},
            {"type": "mention", "attrs": {"id": "123", "text": "@alice"}}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
            {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}]},
        {"type": "codeBlock", "attrs": {"language": "python"}, "content": [{"type": "text", "text": "x = 1"}]},
    ]}
    assert description_text(doc) == "Steps\nCall send()\nthen wait, @alice\n- one\n- two\n```\nx = 1\n```"
    assert description_text(None) == "" and adf_to_text({"type": "text", "text": "t"}) == "t"


def test_comment_is_posted_and_its_id_returned(client, stub):
    cid = client.comment("TEST-1", "droid opened https://github.com/acme/svc/pull/1 for this ticket.")
    (request,) = stub.requests_to("/rest/api/2/issue/TEST-1/comment", "POST")
    assert request.json == {"body": "droid opened https://github.com/acme/svc/pull/1 for this ticket."}
    assert stub.comments["TEST-1"][0]["id"] == cid


def test_create_ticket(client, stub):
    t = client.create_ticket("PAY", "Webhook sender crashes", "Stack trace:\n  File sender.py", issue_type="Task")
    (request,) = stub.requests_to("/rest/api/2/issue", "POST")
    assert request.json == {"fields": {"project": {"key": "PAY"}, "summary": "Webhook sender crashes",
                                       "description": "Stack trace:\n  File sender.py", "issuetype": {"name": "Task"}}}
    assert (t.key, t.summary, t.description, t.status) == ("PAY-1", "Webhook sender crashes",
                                                           "Stack trace:\n  File sender.py", "To Do")
    assert client.ticket("PAY-1") == t
    # no project or issue-type lookups: the fields name them directly
    assert not stub.requests_to(r"^/rest/api/2/(project|issuetype)")


def test_create_ticket_rejected_fields(client):
    with pytest.raises(JiraError, match="summary") as info:
        client.create_ticket("PAY", "", "d")
    assert info.value.status == 400


def test_bad_credentials_are_a_short_error(stub):
    with pytest.raises(JiraError, match="401") as info:
        JiraClient(stub.url, USER, "wrong-token-000000").ticket("TEST-1")
    assert "wrong-token" not in str(info.value) and info.value.status == 401


def test_unknown_ticket_is_not_found(client):
    with pytest.raises(JiraError, match="not found") as info:
        client.ticket("NOPE-404")
    assert info.value.status == 404
    with pytest.raises(JiraError, match="404"):
        client.comment("NOPE-404", "x")


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_fail_fast(client, stub, status):
    stub.fail("/rest/api/2/issue/TEST-1", status)
    with pytest.raises(JiraError) as info:
        client.ticket("TEST-1")
    assert info.value.status == status and len(stub.requests_to("/rest/api/2/issue/TEST-1")) == 1
    assert client.ticket("TEST-1").key == "TEST-1"   # the script ran out: served again
