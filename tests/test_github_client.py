"""GitHubClient: the real PyGithub against a local stub serving GitHub's recorded response shapes."""

from __future__ import annotations

import pytest

from integrations.github_client import GitHubClient, GitHubError, PullRequestInfo
from tests.stubs.github_stub import GitHubStub

TOKEN = "ghp_" + "S" * 36
REPO = "acme/payments"


@pytest.fixture
def stub(fixtures_dir):
    with GitHubStub(fixtures_dir / "github" / "rest", token=TOKEN) as server:
        server.add_repo(REPO, default_branch="trunk", protected={"trunk", "release/1.x"},
                        branches={"droid/r1-fix-retries": "a" * 40, "release/1.x": "b" * 40, "feature": "c" * 40})
        yield server


@pytest.fixture
def client(stub):
    gh = GitHubClient(TOKEN, stub.url, retries=2, backoff=0)
    yield gh
    gh.close()


def test_default_branch_parses_the_repository_object(client, stub):
    assert client.default_branch(REPO) == "trunk"
    (request,) = stub.requests_to(f"/repos/{REPO}")
    assert request.header("Authorization") == f"token {TOKEN}"


def test_open_pull_request_records_what_was_asked_and_parses_the_answer(client, stub):
    pr = client.open_pull_request(REPO, head="droid/r1-fix-retries", base="trunk",
                                  title="Fix webhook retries", body="## Summary\nRetries now back off.")
    assert pr == PullRequestInfo(number=1, url=f"{stub.url}/{REPO}/pull/1", title="Fix webhook retries",
                                 state="open", merged=False, author="droid-bot", merge_commit_sha=None,
                                 head="droid/r1-fix-retries", base="trunk", draft=False)
    (request,) = stub.requests_to(f"/repos/{REPO}/pulls", "POST")
    assert request.json == {"title": "Fix webhook retries", "body": "## Summary\nRetries now back off.",
                            "head": "droid/r1-fix-retries", "base": "trunk", "draft": False}
    # droid never merges: nothing but the one POST
    assert [(r.method, r.path) for r in stub.requests] == [("POST", f"/repos/{REPO}/pulls")]


def test_draft_pull_request(client, stub):
    pr = client.open_pull_request(REPO, head="feature", base="trunk", title="t", body="b", draft=True)
    assert pr.draft and stub.requests_to(f"/repos/{REPO}/pulls", "POST")[0].json["draft"] is True


def test_an_already_open_pull_request_is_returned_not_duplicated(client, stub):
    first = client.open_pull_request(REPO, head="feature", base="trunk", title="t", body="b")
    again = client.open_pull_request(REPO, head="feature", base="trunk", title="t", body="b")
    assert again == first and len(stub.pulls[REPO]) == 1
    listing = stub.requests_to(f"/repos/{REPO}/pulls", "GET")[0]
    assert listing.query["head"] == ["acme:feature"] and listing.query["base"] == ["trunk"]


def test_invalid_pull_request_is_a_short_error(client):
    with pytest.raises(GitHubError) as info:
        client.open_pull_request(REPO, head="droid/never-pushed", base="trunk", title="t", body="b")
    assert info.value.kind == "invalid" and info.value.status == 422 and "head" in str(info.value)


def test_pulls_for_commit_parses_the_recorded_list(client, stub):
    sha = "e44d11d565c022496544dd6ed1f19a8d718c2b0c"
    (pr,) = client.pulls_for_commit(REPO, sha)
    assert (pr.number, pr.title, pr.state, pr.merged, pr.author) == (
        1431, "Add support for list user projects", "closed", True, "ahhda")
    assert pr.url == "https://github.com/PyGithub/PyGithub/pull/1431" and pr.merge_commit_sha == sha
    assert [r.path for r in stub.requests] == [f"/repos/{REPO}/commits/{sha}/pulls"]


def test_pulls_for_commit_scripted_empty(client, stub):
    stub.commit_pulls["abc123"] = []
    assert client.pulls_for_commit(REPO, "abc123") == []


def test_commit_author_login_or_git_name(client, stub):
    assert client.commit_author(REPO, "3253acaabd86de12b73d0a24c98eb9c13d1987b5") == "dependabot[bot]"
    stub.commit_authors["deadbeef"] = "alice"
    assert client.commit_author(REPO, "deadbeef") == "alice"
    stub.commit_authors["cafe"] = None           # no GitHub account: the git author's name
    assert client.commit_author(REPO, "cafe") == "dependabot[bot]"


def test_protected_branches_best_effort(client, stub):
    assert client.protected_branches(REPO) == {"trunk", "release/1.x"}
    assert stub.requests_to(f"/repos/{REPO}/branches")[0].query["protected"] == ["true"]
    stub.fail(f"/repos/{REPO}/branches", 403)
    assert client.protected_branches(REPO) == set()
    assert client.protected_branches("acme/unknown") == set()


def test_bad_token_is_an_auth_error(stub):
    bad = "ghp_" + "X" * 36
    with pytest.raises(GitHubError) as info:
        GitHubClient(bad, stub.url, backoff=0).default_branch(REPO)
    assert info.value.kind == "auth" and info.value.status == 401
    assert bad not in str(info.value)


def test_unknown_repository_is_not_found(client):
    with pytest.raises(GitHubError) as info:
        client.default_branch("acme/nope")
    assert info.value.kind == "not_found"


def test_server_errors_are_retried_then_reported(client, stub):
    stub.fail(f"/repos/{REPO}", 502, times=2)
    assert client.default_branch(REPO) == "trunk"
    assert len(stub.requests_to(f"/repos/{REPO}")) == 3
    stub.fail(f"/repos/{REPO}", 503, times=10)
    with pytest.raises(GitHubError) as info:
        client.default_branch(REPO)
    assert info.value.kind == "server" and info.value.status == 503


def test_pull_request_creation_is_not_retried(client, stub):
    """A POST is never replayed (it could open a second PR); the failure is reported."""
    stub.fail(f"/repos/{REPO}/pulls", 502, method="POST")
    with pytest.raises(GitHubError) as info:
        client.open_pull_request(REPO, head="feature", base="trunk", title="t", body="b")
    assert info.value.kind == "server"
    assert len(stub.requests_to(f"/repos/{REPO}/pulls", "POST")) == 1


@pytest.mark.parametrize("status, body", [
    (429, None),
    (403, {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com"}),
])
def test_rate_limits_are_reported_not_slept_through(client, stub, status, body):
    stub.fail(f"/repos/{REPO}", status, body=body)
    with pytest.raises(GitHubError) as info:
        client.default_branch(REPO)
    assert info.value.kind == "rate_limited"
