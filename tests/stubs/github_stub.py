"""A stub of GitHub for tests: the REST API for PyGithub, and git's smart HTTP for workspaces.

Bound to 127.0.0.1 on a free port, in a background thread. Every request is recorded (method,
path, query, headers, body). Failures are scriptable: `stub.fail("/repos/o/n/pulls", 502, times=2)`
makes the next two matching requests answer 502. Responses have the real shapes: they are built
from `../shared/fixtures/github/rest/` (PyGithub's own recordings of api.github.com).

The same server speaks git over HTTP (through `git http-backend`) for repositories placed under
`git_root` as `<owner>/<name>.git`, requiring HTTP Basic auth whose password is the token — so
a test can clone and push over HTTP with the token exactly as against github.com, and check
what reached the server.

`StubServer` (the recording/failure-scripting base) lives in http_stub.py.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.stubs.http_stub import Request, Response, StubServer

# --------------------------------------------------------------------------- GitHub


def _default_fixtures() -> Path:
    shared = Path(os.environ.get("DROID_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
    return shared / "fixtures" / "github" / "rest"


@dataclass
class StubRepo:
    full_name: str
    default_branch: str = "main"
    protected: set[str] = field(default_factory=set)
    branches: dict[str, str] = field(default_factory=dict)  # name -> sha, when there is no git repo
    private: bool = True


class GitHubStub(StubServer):
    """GitHub REST (the calls droid makes) plus git smart HTTP, on one local server.

    Use `stub.url` both as PyGithub's base_url and as the workspace manager's github_url.
    """

    GIT_PATH = re.compile(r"^/([^/]+)/([^/]+?\.git)(/info/refs|/git-upload-pack|/git-receive-pack|/HEAD|/objects/.*)$")
    API_REPO = re.compile(r"^/repos/([^/]+)/([^/]+)(/.*)?$")

    def __init__(self, fixtures: Path | None = None, *, token: str = "ghp_stubtoken0000000000000000000000000000",
                 git_root: Path | None = None, login: str = "droid-bot") -> None:
        super().__init__()
        self.fixtures = Path(fixtures) if fixtures else _default_fixtures()
        self.token = token
        self.git_root = Path(git_root) if git_root else None
        self.login = login
        self.repos: dict[str, StubRepo] = {}
        self.pulls: dict[str, list[dict]] = {}
        self.commit_pulls: dict[str, list[dict]] = {}   # sha -> scripted PR list (default: the fixture)
        self.commit_authors: dict[str, str | None] = {}  # sha -> GitHub login (None: no GitHub user)
        self._fixture_cache: dict[str, str] = {}
        self.issues: dict[tuple[str, int], dict] = {}             # (repo, number) -> issue JSON
        self.issue_comments: dict[tuple[str, int], list[dict]] = {}

    # ---- setup

    def add_repo(self, full_name: str, *, default_branch: str = "main", protected=(), branches=None,
                 private: bool = True) -> StubRepo:
        repo = StubRepo(full_name, default_branch, set(protected), dict(branches or {}), private)
        self.repos[full_name] = repo
        self.pulls.setdefault(full_name, [])
        return repo

    def add_issue(self, full_name: str, number: int, *, fixture: str = "get_an_issue.markdown_body.json",
                  comments: list[str] | None = None, html_host: str = "https://github.com", **fields) -> dict:
        """Serve issue `number` of `full_name` (the fixture's shape, `fields` overriding), with comments:
        `comments` bodies, or the recorded comments fixture when None."""
        if full_name not in self.repos:
            self.add_repo(full_name)
        original = self.fixture(fixture)
        old = original["repository_url"].split("/repos/", 1)[1]
        text = json.dumps(original).replace(old, full_name).replace(f"/issues/{original['number']}",
                                                                    f"/issues/{number}")
        issue = {**json.loads(text), "number": number, **fields}
        issue["html_url"] = f"{html_host}/{full_name}/issues/{number}"
        recorded = json.loads(json.dumps(self.fixture("list_issue_comments.json"))
                              .replace("PyGithub/PyGithub", full_name).replace("/issues/3372", f"/issues/{number}"))
        if comments is not None:
            recorded = [{**copy.deepcopy(recorded[i % len(recorded)]), "id": 900000 + i, "body": body,
                         "created_at": f"2025-01-01T00:{i // 60:02d}:{i % 60:02d}Z"} for i, body in enumerate(comments)]
        issue["comments"] = len(recorded)
        self.issues[(full_name, number)] = issue
        self.issue_comments[(full_name, number)] = recorded
        return issue

    def host(self, full_name: str, seed: Path, **repo) -> Path:
        """Serve a bare clone of the local repository `seed` as `full_name` (add_repo's options); its git dir."""
        self.add_repo(full_name, **repo)
        origin = self.git_dir(full_name)
        origin.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(seed), str(origin)], check=True, capture_output=True)
        return origin

    def git_dir(self, full_name: str) -> Path:
        """Where the bare repository for `full_name` lives (under git_root)."""
        assert self.git_root, "GitHubStub(git_root=...) is needed to serve git"
        return self.git_root / f"{full_name}.git"

    def fixture(self, name: str) -> Any:
        """A fixture, with api.github.com rewritten to this server."""
        if name not in self._fixture_cache:
            self._fixture_cache[name] = (self.fixtures / name).read_text()
        return json.loads(self._fixture_cache[name].replace("https://api.github.com", self.url))

    # ---- routing

    def failure_body(self, status: int) -> Any:
        messages = {401: "Bad credentials", 403: "Forbidden", 404: "Not Found",
                    429: "API rate limit exceeded for installation.", 422: "Validation Failed"}
        return {"message": messages.get(status, "Server Error" if status >= 500 else "Error"),
                "documentation_url": "https://docs.github.com/rest", "status": str(status)}

    def route(self, req: Request) -> Response:
        git = self.GIT_PATH.match(req.path)
        if git:
            return self._git(req, f"{git.group(1)}/{git.group(2).removesuffix('.git')}")
        if req.header("Authorization") not in (f"token {self.token}", f"Bearer {self.token}"):
            return 401, self.failure_body(401), {}
        api = self.API_REPO.match(req.path)
        if not api or f"{api.group(1)}/{api.group(2)}" not in self.repos:
            return 404, self.failure_body(404), {}
        repo = self.repos[f"{api.group(1)}/{api.group(2)}"]
        rest = api.group(3) or ""
        for method, pattern, handler in (
            ("GET", r"^$", self._get_repo),
            ("GET", r"^/branches$", self._list_branches),
            ("POST", r"^/pulls$", self._create_pull),
            ("GET", r"^/pulls$", self._list_pulls),
            ("GET", r"^/pulls/(\d+)$", self._get_pull),
            ("GET", r"^/commits/([^/]+)/pulls$", self._commit_pulls),
            ("GET", r"^/commits/([^/]+)$", self._get_commit),
            ("GET", r"^/issues/(\d+)$", self._get_issue),
            *self.issue_comment_routes(),
        ):
            match = re.match(pattern, rest)
            if match and req.method == method:
                return handler(req, repo, *match.groups())
        return 404, self.failure_body(404), {}

    # ---- REST handlers

    def repo_object(self, repo: StubRepo) -> dict:
        """A full repository object in GitHub's shape (the fixture PR's base.repo, adapted)."""
        data = copy.deepcopy(self.fixture("get_a_pull_request.json")["base"]["repo"])
        owner, name = repo.full_name.split("/")
        text = json.dumps(data).replace("PyGithub/PyGithub", repo.full_name)
        data = json.loads(text)
        data.update(name=name, full_name=repo.full_name, default_branch=repo.default_branch,
                    private=repo.private, visibility="private" if repo.private else "public",
                    html_url=f"{self.url}/{repo.full_name}", clone_url=f"{self.url}/{repo.full_name}.git")
        data["owner"] = {**data["owner"], "login": owner,
                         "url": f"{self.url}/users/{owner}", "html_url": f"{self.url}/{owner}"}
        return data

    def _get_repo(self, req: Request, repo: StubRepo) -> Response:
        return 200, self.repo_object(repo), {}

    def _branch_tips(self, repo: StubRepo) -> dict[str, str]:
        tips = dict(repo.branches)
        if self.git_root and self.git_dir(repo.full_name).is_dir():
            out = subprocess.run(["git", "-C", str(self.git_dir(repo.full_name)), "for-each-ref",
                                  "--format=%(refname:short) %(objectname)", "refs/heads"],
                                 capture_output=True, text=True, check=True).stdout
            tips.update(line.split(" ", 1) for line in out.splitlines() if line)
        tips.setdefault(repo.default_branch, "0" * 40)
        return tips

    def _list_branches(self, req: Request, repo: StubRepo) -> Response:
        only_protected = (req.query.get("protected") or [""])[0].lower() == "true"
        out = []
        for name, sha in sorted(self._branch_tips(repo).items()):
            if only_protected and name not in repo.protected:
                continue
            out.append({"name": name, "commit": {"sha": sha, "url": f"{self.url}/repos/{repo.full_name}/commits/{sha}"},
                        "protected": name in repo.protected,
                        "protection_url": f"{self.url}/repos/{repo.full_name}/branches/{name}/protection"})
        return 200, out, {}

    def _create_pull(self, req: Request, repo: StubRepo) -> Response:
        body = req.json or {}
        missing = [k for k in ("title", "head", "base") if not body.get(k)]
        if missing:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "field": k, "code": "missing_field"} for k in missing]}, {}
        head, base = body["head"].split(":")[-1], body["base"]
        tips = self._branch_tips(repo)
        problems = [f for f, b in (("head", head), ("base", base)) if b not in tips]
        if problems:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "field": f, "code": "invalid"} for f in problems]}, {}
        if head == base:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "PullRequest", "code": "custom", "message": f"No commits between {base} and {head}"}]}, {}
        for pr in self.pulls[repo.full_name]:
            if pr["state"] == "open" and pr["head"]["ref"] == head and pr["base"]["ref"] == base:
                owner = repo.full_name.split("/")[0]
                return 422, {"message": "Validation Failed", "errors": [
                    {"resource": "PullRequest", "code": "custom",
                     "message": f"A pull request already exists for {owner}:{head}."}]}, {}
        number = len(self.pulls[repo.full_name]) + 1
        pr = self._pull_object(repo, number, body["title"], body.get("body"), head, base, tips,
                               draft=bool(body.get("draft")))
        self.pulls[repo.full_name].append(pr)
        return 201, pr, {"Location": pr["url"]}

    def _pull_object(self, repo: StubRepo, number: int, title: str, body: str | None, head: str, base: str,
                     tips: dict[str, str], *, draft: bool) -> dict:
        data = self.fixture("get_a_pull_request.json")
        data = json.loads(json.dumps(data).replace("PyGithub/PyGithub", repo.full_name)
                          .replace("/pulls/3370", f"/pulls/{number}").replace("/pull/3370", f"/pull/{number}")
                          .replace("/issues/3370", f"/issues/{number}"))
        owner = repo.full_name.split("/")[0]
        repo_obj = self.repo_object(repo)
        user = {**data["user"], "login": self.login, "type": "Bot", "url": f"{self.url}/users/{self.login}"}
        data.update(number=number, title=title, body=body, state="open", draft=draft, merged=False,
                    mergeable=None, mergeable_state="unknown", merged_at=None, closed_at=None, merged_by=None,
                    merge_commit_sha=None, user=user, comments=0, review_comments=0, commits=1,
                    html_url=f"{self.url}/{repo.full_name}/pull/{number}",
                    url=f"{self.url}/repos/{repo.full_name}/pulls/{number}")
        for side, ref in (("head", head), ("base", base)):
            data[side] = {**data[side], "ref": ref, "label": f"{owner}:{ref}", "sha": tips.get(ref, "0" * 40),
                          "repo": repo_obj, "user": {**data[side]["user"], "login": owner}}
        return data

    def _list_pulls(self, req: Request, repo: StubRepo) -> Response:
        state = (req.query.get("state") or ["open"])[0]
        head = (req.query.get("head") or [""])[0].split(":")[-1]
        base = (req.query.get("base") or [""])[0]
        out = [p for p in self.pulls[repo.full_name]
               if (state == "all" or p["state"] == state) and (not head or p["head"]["ref"] == head)
               and (not base or p["base"]["ref"] == base)]
        return 200, out, {}

    def _get_pull(self, req: Request, repo: StubRepo, number: str) -> Response:
        for pr in self.pulls[repo.full_name]:
            if pr["number"] == int(number):
                return 200, pr, {}
        return 404, self.failure_body(404), {}

    def _commit_pulls(self, req: Request, repo: StubRepo, sha: str) -> Response:
        if sha in self.commit_pulls:
            return 200, self.commit_pulls[sha], {}
        return 200, self.fixture("list_pull_requests_associated_with_a_commit.json"), {}

    def _get_commit(self, req: Request, repo: StubRepo, sha: str) -> Response:
        data = self.fixture("get_a_commit.json")
        original = data["sha"]
        data = json.loads(json.dumps(data).replace(original, sha).replace("PyGithub/PyGithub", repo.full_name))
        if sha in self.commit_authors:
            login = self.commit_authors[sha]
            data["author"] = None if login is None else {**(data["author"] or {}), "login": login}
        return 200, data, {}

    # ---- issue comments (what droid writes back to a GitHub issue)

    def issue_comment_routes(self) -> list[tuple]:
        """POST and GET /repos/{o}/{n}/issues/{number}/comments (any issue number: comments only)."""
        return [("POST", r"^/issues/(\d+)/comments$", self._create_issue_comment),
                ("GET", r"^/issues/(\d+)/comments$", self._list_issue_comments)]

    def _create_issue_comment(self, req: Request, repo: StubRepo, number: str) -> Response:
        body = (req.json or {}).get("body")
        if not body:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "IssueComment", "field": "body", "code": "missing_field"}]}, {}
        import time
        comments = self.issue_comments.setdefault((repo.full_name, int(number)), [])
        cid = 3291867079 + sum(len(c) for c in self.issue_comments.values())
        data = self.fixture("list_issue_comments.json")[0]
        data = json.loads(json.dumps(data).replace("PyGithub/PyGithub", repo.full_name)
                          .replace("/issues/3372", f"/issues/{number}").replace("3291867079", str(cid)))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        data.update(body=body, created_at=stamp, updated_at=stamp,
                    user={**data["user"], "login": self.login, "type": "Bot"})
        comments.append(data)
        return 201, data, {"Location": data["url"]}

    def _get_issue(self, req: Request, repo: StubRepo, number: str) -> Response:
        issue = self.issues.get((repo.full_name, int(number)))
        return (200, issue, {}) if issue else (404, self.failure_body(404), {})

    def _list_issue_comments(self, req: Request, repo: StubRepo, number: str) -> Response:
        key = (repo.full_name, int(number))
        if key not in self.issues and key not in self.issue_comments:
            return 404, self.failure_body(404), {}
        since = (req.query.get("since") or [""])[0]
        items = [c for c in self.issue_comments.get(key, []) if not since or c["updated_at"] >= since]
        per_page = int((req.query.get("per_page") or ["30"])[0])
        page = int((req.query.get("page") or ["1"])[0])
        return 200, items[(page - 1) * per_page: page * per_page], {}

    # ---- git smart HTTP through git http-backend

    def _git(self, req: Request, full_name: str) -> Response:
        if not self.git_root or not self.git_dir(full_name).is_dir():
            return 404, b"Repository not found.\n", {"Content-Type": "text/plain"}
        auth = req.header("Authorization")
        password = ""
        if auth.lower().startswith("basic "):
            try:
                password = base64.b64decode(auth[6:].strip()).decode().split(":", 1)[1]
            except (ValueError, IndexError):
                password = ""
        if password != self.token:
            return 401, b"Invalid username or token.\n", {"WWW-Authenticate": 'Basic realm="GitHub"',
                                                         "Content-Type": "text/plain"}
        path = req.path
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
               "GIT_PROJECT_ROOT": str(self.git_root), "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path,
               "QUERY_STRING": "&".join(f"{k}={v}" for k, vs in req.query.items() for v in vs),
               "REQUEST_METHOD": req.method, "CONTENT_TYPE": req.header("Content-Type"),
               "CONTENT_LENGTH": str(len(req.body)), "REMOTE_USER": "x-access-token", "REMOTE_ADDR": "127.0.0.1",
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "HTTP_GIT_PROTOCOL")):
            if req.header(header):
                env[var] = req.header(header)
        proc = subprocess.run(["git", "http-backend"], input=req.body, env=env, capture_output=True, timeout=60)
        head, _, body = proc.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, body = proc.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split()[0])
            elif key:
                headers[key.strip()] = value.strip()
        return status, body, headers

