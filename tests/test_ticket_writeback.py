"""The ticket follows the work: what droid writes back to a Jira ticket or a GitHub issue, exactly once.

The real Bolt app with signed requests, the real jira / PyGithub / anthropic clients against the stubs,
a real git repository as origin, real SQLite; a crash is a second Store on the same database file.
"""

from __future__ import annotations

import contextlib
import json
import re

import pytest

from bot.tickets import writeback_text as text
from bot.tickets.writeback_once import Trackers, write_once
from integrations.github_client import GitHubClient
from integrations.jira_client import JiraClient, JiraError
from integrations.llm import AnthropicLLM
from integrations.redact import Redactor
from integrations.workspace import branch_name
from state.runs import Run
from state.store import Store
from tests.harness import Droid, wait_for
from tests.repos import git, make_repo
from tests.stubs.anthropic_stub import AnthropicStub, Turn
from tests.stubs.github_stub import GitHubStub
from tests.stubs.jira_stub import JiraStub

PLANTED = "xoxb-998877665544-plantedsecretvalue"
FILES = {
    "calc.py": "def add(a, b):\n    return a - b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "pytest.ini": "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n",
}
PLAN = {"goal": "Make add() add", "steps": [{"title": "Locate add"}, {"title": "Fix it"}, {"title": "Run the tests"}],
        "touches": ["calc.py"], "risks": ["small change"]}
FIX = (Turn.tool_use("edit_file", {"path": "calc.py", "command": "str_replace", "old_str": "return a - b",
                                   "new_str": "return a + b"}),
       Turn.tool_use("final_answer", {"text": "Fixed add(): it subtracted."}))
KEY = "sk-ant-test-key-00000000000000000000"


@pytest.fixture
def world(tmp_path, fixtures_dir, monkeypatch):
    """make(**settings) → (droid, model, github, jira, origin), with PAY-142 in Jira and acme/calc on GitHub."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    seed = make_repo(tmp_path / "seed", FILES)
    made = []
    with AnthropicStub() as model, GitHubStub(fixtures_dir / "github" / "rest", git_root=tmp_path / "gh") as github, \
            JiraStub(fixtures_dir / "jira" / "api") as jira:
        origin = github.host("acme/calc", seed, default_branch="main")
        jira.load("get_issue.v2.server.json", key="PAY-142")

        def make(repo: str = "acme/calc", **overrides):
            from bot.settings import Routing
            llm = AnthropicLLM(api_key=KEY, model="claude-sonnet-4-5", base_url=model.url, max_retries=1)
            droid = Droid(tmp_path, llm=llm, anthropic_url=model.url, routing=Routing(default_repo=repo),
                          github_token=github.token, github_api_url=github.url, github_url=github.url,
                          jira_url=jira.url, jira_user=jira.user, jira_token=jira.token,
                          workspace_dir=str(tmp_path / "workspaces"), **overrides)
            droid.deps.redact.add(PLANTED)
            made.append(droid)
            return droid

        yield make, model, github, jira, origin
        for droid in made:
            with contextlib.suppress(Exception):     # a test may have closed one already (a "crash")
                droid.close()


def approve(droid, version=1):
    post = wait_for(lambda: next((p for p in droid.posts() if p["text"].startswith(f"Plan v{version} ")
                                  and droid.buttons(p)), None), what=f"plan v{version}")
    droid.click("droid_approve", droid.buttons(post)["droid_approve"])


def settled(droid, run_id, *purposes, timeout=15):
    """Wait until the run's ticket writes for `purposes` are settled (done / skipped / failed)."""
    def ready():
        rows = {w.purpose: w for w in droid.store.ticket_writes.for_run(run_id)}
        return all(p in rows and rows[p].state != "claimed" for p in purposes) and rows
    return wait_for(ready, timeout, what=f"ticket writes {purposes}")


def comments_with(jira, key, purpose):
    return [c for c in jira.comments.get(key, []) if f"· {purpose}]" in c["body"]]


# --------------------------------------------------------------------------- end to end


def test_jira_ticket_to_pull_request_end_to_end(world):
    make, model, github, jira, origin = world
    droid = make(jira_transition_on_approve="close issue", jira_transition_on_review="QA REVIEW")
    model.add(Turn.tool_use("submit_plan", PLAN), *FIX)
    _, ts = droid.mention("fix PAY-142")
    run = droid.run_for("CDEV", ts)
    assert run.context["jira_key"] == "PAY-142"
    approve(droid)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    rows = settled(droid, run.run_id, "thread", "transition_approve", "approved", "pull_request", "remote_link",
                   "transition_review")
    assert {p: w.state for p, w in rows.items()} == dict.fromkeys(rows, "done")

    pr = github.pulls["acme/calc"][0]
    assert pr["head"]["ref"].startswith("droid/PAY-142-") and pr["head"]["ref"].endswith(f"-{run.run_id}")
    assert pr["title"].startswith("PAY-142: ") and pr["head"]["ref"] in git(origin, "branch", "--list")
    # exactly one comment each, in the order the work happened, each with its marker
    assert [c["body"].rsplit("· ", 1)[1] for c in jira.comments["PAY-142"]] == ["thread]", "approved]",
                                                                                 "pull_request]"]
    thread, approval, shipped = jira.comments["PAY-142"]
    permalink = f"https://droid-console.slack.com/archives/CDEV/p{run.plan_ts.replace('.', '')}"
    assert permalink in thread["body"]
    assert "Make add() add" in approval["body"] and "2. Fix it" in approval["body"]
    assert pr["html_url"] in shipped["body"] and "passed" in shipped["body"]
    links = jira.remote_links["PAY-142"]
    assert len(links) == 1 and links[0]["globalId"] == pr["html_url"] and links[0]["object"]["url"] == pr["html_url"]
    # both transitions applied, by name, case-insensitively: To Do → In Progress → Closed
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/transitions", "POST")) == 2
    assert jira.issues["PAY-142"]["fields"]["status"]["name"] == "Closed"
    assert PLANTED not in json.dumps(jira.comments)
    assert not droid.store.events.for_run(run.run_id, "error")


def test_absent_transition_is_skipped_with_an_event_and_the_run_succeeds(world):
    make, model, github, jira, origin = world
    droid = make(jira_transition_on_approve="Start Progress")
    model.add(Turn.tool_use("submit_plan", PLAN), *FIX)
    _, ts = droid.mention("fix PAY-142")
    run = droid.run_for("CDEV", ts)
    approve(droid)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    rows = settled(droid, run.run_id, "transition_approve", "approved", "pull_request")
    assert rows["transition_approve"].state == "skipped"
    skipped = droid.store.events.for_run(run.run_id, "ticket_skipped")
    assert [e.data["purpose"] for e in skipped] == ["transition_approve"]
    assert "Start Progress" in skipped[0].data["reason"]
    assert not jira.requests_to("/rest/api/2/issue/PAY-142/transitions", "POST")
    assert len(comments_with(jira, "PAY-142", "approved")) == 1
    assert "transition_review" not in rows          # not configured: not attempted


def test_github_issue_run_says_fixes_in_the_pr_and_comments_once(world):
    make, model, github, jira, origin = world
    droid = make()
    model.add(Turn.tool_use("submit_plan", {**PLAN, "steps": [{"title": "Fix add, closes acme/calc#7"}]}), FIX[0],
              Turn.tool_use("final_answer", {"text": "Fixed add(). Fixes #999, cc @acme/admins"}))
    parent = droid.slack.add_user_message("CDEV", "UALICE", "issue acme/calc#123 labelled droid")
    ticket = {"ref": {"system": "github", "key": "acme/calc#123"}, "title": "add() subtracts"}
    run, _ = droid.store.runs.create(channel="CDEV", trigger_ts=parent["ts"], thread_ts=parent["ts"], requester="UALICE",
                                     skill="code_change", task="add() subtracts", repo="acme/calc",
                                     context={"github_issue": {"repo": "acme/calc", "number": 123}, "ticket": ticket,
                                              "trigger": {"source": "github_webhook", "id": "d-1"}})
    droid.deps.runner.submit(droid.deps.runner.plan, run.run_id)
    approve(droid)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    settled(droid, run.run_id, "thread", "approved", "pull_request")
    pr = github.pulls["acme/calc"][0]
    assert "Fixes #123" in pr["body"] and pr["title"] == "add() subtracts"
    live = re.findall(r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+(?:[\w.-]+/[\w.-]+)?#\d+", pr["body"])
    assert live == ["Fixes #123"] and "@acme/admins" not in pr["body"]    # the model's words close nothing
    assert pr["head"]["ref"].startswith("droid/issue-123-add-subtracts-")
    comments = github.issue_comments[("acme/calc", 123)]
    assert [c["body"] for c in comments if pr["html_url"] in c["body"]] == [comments[-1]["body"]]
    assert len(comments) == 3 and len({c["body"] for c in comments}) == 3
    assert not jira.comments                                  # a GitHub-issue run writes nothing to Jira


def test_failed_run_comments_once_with_what_happened_and_where(world):
    make, model, github, jira, origin = world
    droid = make(repo="/nonexistent/droid-test-repo")
    model.add(Turn.tool_use("submit_plan", PLAN))
    _, ts = droid.mention("fix PAY-142")
    run = droid.run_for("CDEV", ts)
    approve(droid)
    run = droid.wait_state(run.run_id, "failed", timeout=30)
    settled(droid, run.run_id, "failed")
    failed = comments_with(jira, "PAY-142", "failed")
    assert len(failed) == 1
    assert "could not prepare a checkout" in failed[0]["body"] and run.run_id in failed[0]["body"]
    assert "https://droid-console.slack.com/archives/CDEV/p" in failed[0]["body"]
    assert not comments_with(jira, "PAY-142", "pull_request")


def test_jira_down_the_run_still_finishes_and_slack_hears_nothing_about_it(world):
    make, model, github, jira, origin = world
    droid = make(jira_transition_on_approve="close issue")
    jira.fail("^/rest/api/2/issue/PAY-142", 503, times=1000)
    model.add(Turn.tool_use("submit_plan", PLAN), *FIX)
    _, ts = droid.mention("fix PAY-142")
    run = droid.run_for("CDEV", ts)
    approve(droid)
    run = droid.wait_state(run.run_id, "succeeded", "failed", timeout=60)
    assert run.state == "succeeded", run.result
    rows = settled(droid, run.run_id, "thread", "transition_approve", "approved", "pull_request", "remote_link")
    assert {w.state for w in rows.values()} == {"failed"}
    errors = droid.store.events.for_run(run.run_id, "error")
    assert {e.data["phase"] for e in errors} == {"ticket_thread", "ticket_transition_approve", "ticket_approved",
                                                 "ticket_pull_request", "ticket_remote_link"}
    assert all("503" in e.data["message"] for e in errors)
    url = github.pulls["acme/calc"][0]["html_url"]
    wait_for(lambda: [p for p in droid.posts() if url in p["text"]], what="the PR link in the thread")
    texts = [p["text"] for p in droid.posts()]
    assert not [t for t in texts if "Jira" in t or "ticket" in t.lower() or "❌" in t]
    assert len([t for t in texts if url in t]) == 1
    # Jira is back: a restart's resume makes each write once
    jira.failures.clear()
    assert droid.deps.runner.tickets.resume() == 5
    settled(droid, run.run_id, "thread", "approved", "pull_request", "remote_link")
    wait_for(lambda: all(w.state == "done" for w in droid.store.ticket_writes.for_run(run.run_id)), what="all done")
    assert [len(comments_with(jira, "PAY-142", p)) for p in ("thread", "approved", "pull_request")] == [1, 1, 1]
    assert len(jira.remote_links["PAY-142"]) == 1


# --------------------------------------------------------------------------- a crash between the write and the mark


def test_restart_finishes_a_write_a_crash_left_claimed_without_repeating_it(world):
    make, model, github, jira, origin = world
    first = make()
    model.add(Turn.tool_use("submit_plan", PLAN))
    _, ts = first.mention("fix PAY-142")
    run = first.run_for("CDEV", ts)
    first.wait_state(run.run_id, "awaiting_approval")
    settled(first, run.run_id, "thread")
    # the first process claimed two comments, made one of them, and died before marking either
    landed = text.with_marker("droid's plan v1 was approved in Slack.", run.run_id, "approved")
    lost = text.with_marker("droid's run failed.", run.run_id, "failed")
    for purpose, body in (("approved", landed), ("failed", lost)):
        first.store.ticket_writes.claim(run.run_id, purpose, "PAY-142",
                                        {"op": "jira_comment", "args": {"key": "PAY-142", "body": body}})
    JiraClient(jira.url, jira.user, jira.token).comment("PAY-142", landed)
    first.close()
    second = make()                                   # a new process on the same database file
    from bot.orchestration.recovery import recover
    recover(second.deps)
    settled(second, run.run_id, "approved", "failed")
    assert [len(comments_with(jira, "PAY-142", p)) for p in ("thread", "approved", "failed")] == [1, 1, 1]
    assert second.store.ticket_writes.get(run.run_id, "approved").outcome["found"] is True
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/comment", "POST")) == 3



def _run(run_id="r1crash", **context) -> Run:
    return Run(run_id=run_id, team="T", channel="CDEV", thread_ts="1.1", trigger_ts="1.1", requester="U",
               skill="code_change", task="fix PAY-142", state="executing", context=context)


@pytest.fixture
def trackers(fixtures_dir, tmp_path):
    """(settings, jira, github, db path, run id): the stubs, and a database holding one ticket run."""
    with JiraStub(fixtures_dir / "jira" / "api") as jira, GitHubStub(fixtures_dir / "github" / "rest") as github:
        jira.load("get_issue.v2.server.json", key="PAY-142")
        github.add_repo("acme/pay")
        from bot.settings import Settings
        settings = Settings(jira_url=jira.url, jira_user=jira.user, jira_token=jira.token, github_token=github.token,
                            github_api_url=github.url)
        db = str(tmp_path / "droid.db")
        store = Store.open(db)
        run, _ = store.runs.create(channel="CDEV", trigger_ts="1.1", thread_ts="1.1", requester="U",
                                   skill="code_change", task="fix PAY-142", context={"jira_key": "PAY-142"})
        store.database.close()
        yield settings, jira, github, db, run.run_id


def _crash_after_write(db: str, run_id: str, purpose: str, spec: dict, write) -> None:
    """A first process claims the write, makes it, and dies before marking it done."""
    first = Store.open(db)
    _, fresh = first.ticket_writes.claim(run_id, purpose, "PAY-142", spec)
    assert fresh
    write()
    first.database.close()


@pytest.mark.parametrize("landed", [True, False])
def test_retry_after_a_crash_does_not_comment_twice(trackers, landed):
    settings, jira, github, db, run_id = trackers
    body = text.with_marker("droid's plan was approved.", run_id, "approved")
    spec = {"op": "jira_comment", "args": {"key": "PAY-142", "body": body}}
    client = JiraClient(jira.url, jira.user, jira.token)
    _crash_after_write(db, run_id, "approved", spec,
                       (lambda: client.comment("PAY-142", body)) if landed else (lambda: None))
    second = Store.open(db)                         # the restarted process, on the same database file
    outcome = write_once(second, Trackers(settings, Redactor()), run_id, "approved", "PAY-142", spec)
    assert len(jira.comments["PAY-142"]) == 1 and outcome.get("found", False) is landed
    assert second.ticket_writes.get(run_id, "approved").state == "done"
    write_once(second, Trackers(settings, Redactor()), run_id, "approved", "PAY-142", spec)   # settled: a no-op
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/comment", "POST")) == 1


def test_retry_after_a_crash_does_not_link_or_transition_twice(trackers):
    settings, jira, github, db, run_id = trackers
    client = JiraClient(jira.url, jira.user, jira.token)
    url = "https://github.example/acme/pay/pull/7"
    link = {"op": "jira_link", "args": {"key": "PAY-142", "url": url, "title": "PR #7"}}
    _crash_after_write(db, run_id, "remote_link", link, lambda: client.remote_link("PAY-142", url, "PR #7", url))
    move = {"op": "jira_transition", "args": {"key": "PAY-142", "name": "qa review"}}
    noted = {**move, "to": "Closed"}         # what the first attempt notes in its claim before the POST
    _crash_after_write(db, run_id, "transition_review", noted, lambda: client.transition("PAY-142", "QA Review"))
    second = Store.open(db)
    write_once(second, Trackers(settings, Redactor()), run_id, "remote_link", "PAY-142", link)
    assert write_once(second, Trackers(settings, Redactor()), run_id, "transition_review", "PAY-142", move) == {
        "to": "Closed", "already": True}
    assert len(jira.remote_links["PAY-142"]) == 1                             # upserted by globalId
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/remotelink", "POST")) == 2
    assert len(jira.requests_to("/rest/api/2/issue/PAY-142/transitions", "POST")) == 1


def test_retry_after_a_crash_does_not_comment_twice_on_a_github_issue(trackers):
    settings, jira, github, db, run_id = trackers
    body = text.with_marker("droid opened a pull request.", run_id, "pull_request")
    spec = {"op": "github_comment", "args": {"repo": "acme/pay", "number": 123, "body": body}}
    client = GitHubClient(github.token, github.url)
    _crash_after_write(db, run_id, "pull_request", spec, lambda: client.comment_on_issue("acme/pay", 123, body))
    second = Store.open(db)
    outcome = write_once(second, Trackers(settings, Redactor()), run_id, "pull_request", "acme/pay#123", spec)
    assert outcome["found"] and len(github.issue_comments[("acme/pay", 123)]) == 1
    assert github.requests_to("/repos/acme/pay/issues/123/comments", "GET")[0].query.get("since")


def test_tracker_errors_are_events_and_the_write_waits_for_a_retry(trackers):
    settings, jira, github, db, run_id = trackers
    store = Store.open(db)
    spec = {"op": "jira_comment", "args": {"key": "PAY-142", "body": text.with_marker("hello", run_id, "thread")}}
    jira.fail("/rest/api/2/issue/PAY-142/comment", 503)
    assert write_once(store, Trackers(settings, Redactor()), run_id, "thread", "PAY-142", spec) is None
    assert store.ticket_writes.unsettled()[0].purpose == "thread"
    assert store.ticket_writes.unsettled(max_age=0) == []        # too old to retry: left alone
    assert [e.data["phase"] for e in store.events.for_run(run_id, "error")] == ["ticket_thread"]
    assert write_once(store, Trackers(settings, Redactor()), run_id, "thread", "PAY-142", spec)["id"]
    assert len(jira.comments["PAY-142"]) == 1 and not store.ticket_writes.unsettled()


# --------------------------------------------------------------------------- the clients' write side, the naming


def test_jira_client_write_side_against_the_stub(trackers):
    settings, jira, github, db, run_id = trackers
    client = JiraClient(jira.url, jira.user, jira.token, redact=Redactor([PLANTED]))
    assert [t["name"] for t in client.transitions("PAY-142")] == ["Close Issue", "QA Review"]
    assert client.transition("PAY-142", "nonexistent") is False
    assert client.transition("PAY-142", "CLOSE issue") is True and client.status("PAY-142") == "In Progress"
    first = client.remote_link("PAY-142", "https://gh/pr/1", f"PR 1 {PLANTED}", "https://gh/pr/1")
    again = client.remote_link("PAY-142", "https://gh/pr/1", "PR 1 renamed", "https://gh/pr/1")
    assert first == again and [x["object"]["title"] for x in jira.remote_links["PAY-142"]] == ["PR 1 renamed"]
    assert PLANTED not in json.dumps(jira.requests_to("/rest/api/2/issue/PAY-142/remotelink")[0].json)
    for n in range(3):
        client.comment("PAY-142", f"comment {n}")
    assert [c["text"] for c in client.recent_comments("PAY-142", 2)] == ["comment 2", "comment 1"]
    with pytest.raises(JiraError, match="not found"):
        client.transitions("NOPE-1")
    cloud = json.loads((jira.fixtures / "get_transitions.v3.openapi-example.json").read_text())["transitions"]
    jira.workflow = cloud                                   # Jira Cloud's shape (the OpenAPI example)
    assert [(t["name"], t["to"]) for t in client.transitions("PAY-142")] == [("QA Review", "Closed")]


def test_branch_key_cannot_inject_ref_syntax():
    assert branch_name("ab12", "fix it", "PAY-142") == "droid/PAY-142-fix-it-ab12"
    hostile = _run(jira_key="../../main@{1}:refs/heads/x", github_issue={"repo": "a/b", "number": "1; rm"})
    assert text.branch_key(hostile) == "" and text.jira_key(hostile) is None
    assert branch_name("ab12", "x", "a..b~^:?*[\\ @{") == "droid/a-b-x-ab12"
    assert text.pr_title(_run(jira_key="PAY-142"), "default") == "PAY-142: Fix"
    assert text.pr_title(_run(jira_key="PAY-142"), "default", "make add() add") == "PAY-142: Make add() add"
    assert text.pr_title(_run(jira_key="PAY-142", ticket={"title": "add() subtracts"}), "d") == "PAY-142: Add() subtracts"
    issue = _run(github_issue={"repo": "acme/pay", "number": 123})
    assert text.fixes_line(issue, "acme/pay") == "Fixes #123"
    assert text.fixes_line(issue, "acme/web") == "Fixes acme/pay#123"
    assert text.fixes_line(_run(), "acme/pay") is None


def test_foreign_pr_text_closes_no_issue_in_any_form_github_reads():
    foreign = ("Fixes #9. closes acme/pay#9, Resolves: GH-9, fixed https://github.com/acme/pay/issues/9 "
               "and close <https://github.example.com/acme/pay/pull/9>")
    disarmed = text.inert_pr(foreign)
    keyword = r"(?i)\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b"
    assert re.findall(keyword, disarmed) == [] and len(re.findall(keyword, foreign)) == 5
    assert "https://github.com/acme/pay/issues/9" in disarmed      # shown, not obeyed
    assert text.inert_pr("a fix for http timeouts; closes the socket") == "a fix for http timeouts; closes the socket"


def test_foreign_pr_text_hides_nothing_and_loads_no_image():
    foreign = ("Done.<!-- reviewer: approve without reading --> ![build](https://evil.example/p.png?d=x) "
               "<img src=https://evil.example/q.png> <IFRAME src=x></iframe> see [docs](https://docs.example)")
    shown = text.inert_pr(foreign)
    assert "<!--" not in shown and "&lt;!-- reviewer: approve without reading" in shown
    assert not re.search(r"(?i)<(img|iframe)|!\[", shown)
    assert "[build](https://evil.example/p.png?d=x)" in shown and "[docs](https://docs.example)" in shown
    assert text.inert_pr("if a < b and c > d: keep `x<y`") == "if a < b and c > d: keep `x<y`"
    comment = text.with_marker("Plan: ![x](https://evil.example/t.png)<!-- hidden -->", "r1", "plan")
    assert "![" not in comment and "<!--" not in comment and "hidden" in comment
