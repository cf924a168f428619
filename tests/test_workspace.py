"""Workspaces and git guardrails, against real git repositories (a bare repository as origin).

The token tests run git over real HTTP: tests/stubs/github_stub.GitHubStub serves git's smart
HTTP protocol through `git http-backend` and demands the token as HTTP Basic auth, so clone,
fetch and push really authenticate with it.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import subprocess
import threading
from pathlib import Path

import pytest

from integrations import workspace_git as wsmod
from integrations.workspace import (
    GuardrailError,
    Workspace,
    WorkspaceError,
    WorkspaceManager,
    branch_name,
    changed_files,
    check_push_allowed,
    commit_all,
    diff_stat,
    github_repo_of,
    push_branch,
    sanitize_slug,
)
from tests.repos import SERVICE_FILES, git, make_repo
from tests.stubs.github_stub import GitHubStub

TOKEN = "ghp_" + "T0kenForTests" * 3


def bare_clone(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(dest)], check=True, capture_output=True)
    return dest


def refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    """A bare repository (default branch main) seeded with a small service."""
    return bare_clone(make_repo(tmp_path / "seed", SERVICE_FILES), tmp_path / "origin.git")


@pytest.fixture
def manager(tmp_path: Path) -> WorkspaceManager:
    return WorkspaceManager(tmp_path / "droid", keep_failed=2)


# --------------------------------------------------------------------------- creating


def test_two_workspaces_from_one_source_are_isolated(manager, origin):
    a = manager.create(str(origin), "run1", "add retries")
    b = manager.create(str(origin), "run2", "add retries")
    main = git(origin, "rev-parse", "main").strip()
    assert a.path != b.path and a.path.parent == b.path.parent == manager.runs_dir
    assert a.base_commit == b.base_commit == main
    assert a.base_branch == b.base_branch == "main"
    assert (a.branch, b.branch) == ("droid/run1-add-retries", "droid/run2-add-retries")
    assert git(a.path, "rev-parse", "--abbrev-ref", "HEAD").strip() == a.branch
    (a.path / "webhooks" / "sender.py").write_text("changed\n")
    assert (b.path / "webhooks" / "sender.py").read_text() == SERVICE_FILES["webhooks/sender.py"]
    # origin is the real source, not the cache; and there is exactly one cache for the source
    for ws in (a, b):
        assert git(ws.path, "remote", "get-url", "origin").strip() == str(origin.resolve())
    assert len(list(manager.cache_dir.glob("*.git"))) == 1


def test_the_same_run_id_twice_gets_a_second_tree(manager, origin):
    a = manager.create(str(origin), "r1", "x")
    b = manager.create(str(origin), "r1", "x")
    assert a.path != b.path and b.path.name == "r1-2"


def test_cache_is_refreshed_for_each_new_workspace(manager, origin, tmp_path):
    first = manager.create(str(origin), "r1", "x")
    pusher = tmp_path / "pusher"
    subprocess.run(["git", "clone", "-q", str(origin), str(pusher)], check=True)
    (pusher / "NEW.md").write_text("new\n")
    git(pusher, "add", "-A")
    git(pusher, "commit", "-q", "-m", "upstream moves on")
    git(pusher, "push", "-q", "origin", "main")
    second = manager.create(str(origin), "r2", "x")
    assert second.base_commit == git(origin, "rev-parse", "main").strip() != first.base_commit
    assert (second.path / "NEW.md").exists() and not (first.path / "NEW.md").exists()


def test_concurrent_creates_on_one_source(manager, origin):
    results, errors = [], []

    def create(i):
        try:
            results.append(manager.create(str(origin), f"c{i}", "same repo"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len({ws.path for ws in results}) == 4
    assert len({ws.base_commit for ws in results}) == 1


def test_branch_name_is_sanitised(manager, origin):
    ws = manager.create(str(origin), "r42", "Fix: PAY-142 — Webhook sender retries forever!!! (and then some more words)")
    slug = ws.branch.removeprefix("droid/r42-")
    assert ws.branch.startswith("droid/r42-")
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug) and len(slug) <= 40
    assert slug.startswith("fix-pay-142-webhook-sender-retries")
    assert sanitize_slug("") == sanitize_slug("!!!") == "task"
    assert sanitize_slug("Ünïcode ✓ Stuff") == "n-code-stuff"
    assert sanitize_slug("a" * 39 + "-b") == "a" * 39
    assert branch_name("../../etc", "x") == "droid/etc-x"


def test_run_id_cannot_escape_the_runs_dir(manager, origin):
    ws = manager.create(str(origin), "../../evil", "x")
    assert ws.path.parent == manager.runs_dir


def test_local_working_copy_uses_its_checked_out_branch(manager, tmp_path):
    src = make_repo(tmp_path / "local", {"a.txt": "1\n"})
    git(src, "checkout", "-q", "-b", "feature")
    (src / "a.txt").write_text("2\n")
    git(src, "commit", "-q", "-am", "on feature")
    (src / "a.txt").write_text("uncommitted\n")
    ws = manager.create(str(src), "r1", "x")
    assert ws.base_branch == "feature"
    assert ws.base_commit == git(src, "rev-parse", "feature").strip()
    assert (ws.path / "a.txt").read_text() == "2\n"
    assert ws.source == str(src.resolve())


def test_file_url_source_and_custom_default_branch(manager, tmp_path):
    seed = make_repo(tmp_path / "seed", {"a.txt": "1\n"})
    git(seed, "branch", "-m", "main", "trunk")
    bare = bare_clone(seed, tmp_path / "trunk.git")
    ws = manager.create(bare.as_uri(), "r1", "x")
    assert (ws.base_branch, ws.source, ws.remote_url) == ("trunk", bare.as_uri(), bare.as_uri())
    assert git(ws.path, "remote", "get-url", "origin").strip() == bare.as_uri()


def test_bad_sources_are_short_errors(manager, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(WorkspaceError, match="not a git repository"):
        manager.create(str(tmp_path / "plain"), "r1", "x")
    with pytest.raises(WorkspaceError, match="not found|failed"):
        manager.create((tmp_path / "missing.git").as_uri(), "r1", "x")
    empty = tmp_path / "empty.git"
    subprocess.run(["git", "init", "-q", "--bare", str(empty)], check=True)
    with pytest.raises(WorkspaceError, match="no commits"):
        manager.create(str(empty), "r1", "x")
    assert not manager.runs_dir.exists() or not list(manager.runs_dir.iterdir())  # nothing half-made left


# --------------------------------------------------------------------------- changing and pushing


def test_commit_and_push_lands_on_origin_under_droid(manager, origin):
    ws = manager.create(str(origin), "r1", "retries")
    (ws.path / "webhooks" / "sender.py").write_text("def send():\n    return 1\n")
    (ws.path / "webhooks" / "test_sender.py").write_text("def test_send():\n    pass\n")
    (ws.path / ".gitignore").write_text("*.log\n")
    (ws.path / "debug.log").write_text("noise\n")
    assert changed_files(ws) == [".gitignore", "webhooks/sender.py", "webhooks/test_sender.py"]
    stat = diff_stat(ws)
    assert "webhooks/sender.py" in stat and "webhooks/test_sender.py" in stat and "3 files changed" in stat
    main_before = git(origin, "rev-parse", "main").strip()

    sha = commit_all(ws, "Add retries\n\nbody")
    assert sha and commit_all(ws, "nothing") is None
    assert git(ws.path, "log", "-1", "--format=%an <%ae>|%s").strip() == "droid <droid@localhost>|Add retries"
    push_branch(ws, protected=["release/*"])

    assert git(origin, "rev-parse", f"refs/heads/{ws.branch}").strip() == sha
    assert git(origin, "rev-parse", "main").strip() == main_before
    assert changed_files(ws) == [".gitignore", "webhooks/sender.py", "webhooks/test_sender.py"]


def test_push_only_ever_targets_the_droid_branch(manager, origin):
    """Even if HEAD sits on main in the workspace, the push goes to refs/heads/droid/...: never main."""
    ws = manager.create(str(origin), "r1", "x")
    git(ws.path, "checkout", "-q", "main")
    (ws.path / "README.md").write_text("edited on main\n")
    sha = commit_all(ws, "on main")
    main_before = git(origin, "rev-parse", "main").strip()
    push_branch(ws)
    assert git(origin, "rev-parse", "main").strip() == main_before
    assert git(origin, "rev-parse", f"refs/heads/{ws.branch}").strip() == sha


@pytest.mark.parametrize("branch, protected", [
    ("main", ()),
    ("master", ()),
    ("trunk", ()),                       # the default branch of this origin
    ("feature/x", ()),                   # not a droid/ branch
    ("droid/", ()),
    ("refs/heads/droid/x", ()),
    ("+droid/x", ()),
    ("droid/r1-x", ("droid/r1-x",)),     # protected by name
    ("droid/r1-x", ("droid/*",)),        # protected by pattern
])
def test_guardrails_refuse_and_origin_is_unchanged(manager, tmp_path, branch, protected):
    seed = make_repo(tmp_path / "seed", {"a.txt": "1\n"})
    git(seed, "branch", "-m", "main", "trunk")
    git(seed, "branch", "main")
    git(seed, "branch", "master")
    origin = bare_clone(seed, tmp_path / "o.git")
    ws = manager.create(str(origin), "r1", "x")
    assert ws.base_branch == "trunk"
    (ws.path / "a.txt").write_text("2\n")
    commit_all(ws, "change")
    before = refs(origin)
    with pytest.raises(GuardrailError):
        push_branch(dataclasses.replace(ws, branch=branch), protected=protected)
    assert refs(origin) == before


def test_the_default_branch_is_refused_even_when_it_looks_like_droids():
    ws = Workspace(Path("/nonexistent"), "droid/base", "droid/base", "0" * 40, "x")
    with pytest.raises(GuardrailError, match="default branch"):
        check_push_allowed(ws)


def test_a_diverged_branch_is_never_force_pushed(manager, origin, tmp_path):
    ws = manager.create(str(origin), "r1", "x")
    (ws.path / "a.txt").write_text("1\n")
    commit_all(ws, "first")
    push_branch(ws)
    # someone else pushes to the droid branch
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", "-b", ws.branch, str(origin), str(other)], check=True)
    (other / "b.txt").write_text("theirs\n")
    git(other, "add", "-A")
    git(other, "commit", "-q", "-m", "theirs")
    git(other, "push", "-q", "origin", ws.branch)
    theirs = git(origin, "rev-parse", ws.branch).strip()
    # droid rewrites its history (amend) and tries again: rejected, not forced
    (ws.path / "a.txt").write_text("2\n")
    git(ws.path, "commit", "-q", "-a", "--amend", "-m", "amended")
    with pytest.raises(WorkspaceError, match="rejected") as info:
        push_branch(ws)
    assert not isinstance(info.value, GuardrailError)
    assert git(origin, "rev-parse", ws.branch).strip() == theirs


@pytest.mark.parametrize("key, value", [
    ("url.file:///elsewhere/.pushInsteadOf", "/"),
    ("remote.origin.pushurl", "/tmp/elsewhere.git"),
    ("remote.origin.mirror", "true"),
    ("http.proxy", "http://127.0.0.1:9"),
    ("credential.helper", "store"),
    ("include.path", "/tmp/evil.config"),
])
def test_push_refused_when_workspace_config_was_tampered_with(manager, origin, key, value):
    ws = manager.create(str(origin), "r1", "x")
    (ws.path / "a.txt").write_text("1\n")
    commit_all(ws, "c")
    git(ws.path, "config", key, value)
    before = refs(origin)
    with pytest.raises(GuardrailError, match="config"):
        push_branch(ws)
    assert refs(origin) == before


def test_changed_files_and_bounded_diff_stat(manager, origin):
    ws = manager.create(str(origin), "r1", "x")
    (ws.path / "README.md").unlink()
    for i in range(80):
        (ws.path / f"gen_{i:03}.py").write_text(f"x = {i}\n")
    git(ws.path, "add", "gen_000.py")           # staged, the rest untracked
    files = changed_files(ws)
    assert len(files) == 81 and "README.md" in files and "gen_079.py" in files
    stat = diff_stat(ws)
    lines = stat.splitlines()
    assert len(lines) <= 52 and "more file(s)" in stat and "81 files changed" in lines[-1]
    # the real index is untouched by diff_stat
    assert git(ws.path, "diff", "--cached", "--name-only").split() == ["gen_000.py"]


# --------------------------------------------------------------------------- cleanup


def test_cleanup_removes_on_success_and_keeps_a_few_failures(manager, origin):
    ok = manager.create(str(origin), "ok", "x")
    manager.cleanup(ok, failed=False)
    assert not ok.path.exists()
    failed = [manager.create(str(origin), f"f{i}", "x") for i in range(4)]
    for ws in failed:
        manager.cleanup(ws, failed=True)
    kept = [ws.path for ws in failed if ws.path.exists()]
    assert kept == [failed[2].path, failed[3].path]        # keep_failed=2: the newest two
    assert manager.failed_workspaces() == kept
    assert len(list(manager.cache_dir.glob("*.git"))) == 1  # the cache stays
    outsider = dataclasses.replace(ok, path=origin)          # never deletes outside runs/
    manager.cleanup(outsider, failed=False)
    assert origin.exists()


# --------------------------------------------------------------------------- tokens


@pytest.fixture
def github_git(tmp_path):
    """A GitHub stub serving acme/svc over git smart HTTP, requiring TOKEN."""
    seed = make_repo(tmp_path / "seed", SERVICE_FILES)
    with GitHubStub(token=TOKEN, git_root=tmp_path / "gh") as stub:
        bare_clone(seed, stub.git_dir("acme/svc"))
        yield stub


def files_containing(root: Path, needles: list[bytes]) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


def test_token_authenticates_over_http_and_never_reaches_disk(tmp_path, github_git, monkeypatch):
    stub = github_git
    seen: list[tuple[list[str], dict]] = []
    real_popen = subprocess.Popen

    def spy(cmd, *args, **kwargs):
        seen.append((list(cmd), dict(kwargs.get("env") or {})))
        return real_popen(cmd, *args, **kwargs)

    monkeypatch.setattr(wsmod.subprocess, "Popen", spy)
    root = tmp_path / "droid"
    manager = WorkspaceManager(root, github_token=TOKEN, github_url=stub.url)
    ws = manager.create("acme/svc", "r1", "token test")
    assert (ws.source, ws.base_branch) == ("acme/svc", "main")
    assert github_repo_of(ws.source) == "acme/svc"
    (ws.path / "webhooks" / "sender.py").write_text("fixed\n")
    sha = commit_all(ws, "fix")
    push_branch(ws, token=TOKEN)
    assert git(stub.git_dir("acme/svc"), "rev-parse", f"refs/heads/{ws.branch}").strip() == sha

    # every git request carried the token, as Basic auth
    git_requests = stub.requests_to(r"^/acme/svc\.git/")
    assert git_requests and {r.path.rsplit("/", 1)[-1] for r in git_requests} >= {"refs", "git-upload-pack",
                                                                               "git-receive-pack"}
    for r in git_requests:
        assert base64.b64decode(r.header("Authorization").split()[1]).decode() == f"x-access-token:{TOKEN}"
    # ...but it is nowhere on disk: not in the workspace's or the cache's config, remote URL, anything
    basic = base64.b64encode(f"x-access-token:{TOKEN}".encode())
    assert files_containing(root, [TOKEN.encode(), basic]) == []
    assert git(ws.path, "remote", "get-url", "origin").strip() == f"{stub.url}/acme/svc.git"
    assert "extraheader" not in (ws.path / ".git" / "config").read_text().lower()
    # ...and never in a command line: only in the environment, as a config value scoped to the host
    assert seen
    for cmd, env in seen:
        assert not any(TOKEN in a or basic.decode() in a for a in cmd)
        for key, value in env.items():
            if basic.decode() in value:
                assert key.startswith("GIT_CONFIG_VALUE_")
                index = key.rsplit("_", 1)[1]
                assert env[f"GIT_CONFIG_KEY_{index}"] == f"http.{stub.url}/.extraHeader"


def test_without_the_token_http_git_fails_cleanly(tmp_path, github_git):
    stub = github_git
    manager = WorkspaceManager(tmp_path / "a", github_token=TOKEN, github_url=stub.url)
    ws = manager.create("acme/svc", "r1", "x")
    (ws.path / "x.txt").write_text("x\n")
    commit_all(ws, "x")
    with pytest.raises(WorkspaceError, match="authentication failed"):
        push_branch(ws)                                   # no token given to push
    wrong = WorkspaceManager(tmp_path / "b", github_token="ghp_wrongwrongwrong", github_url=stub.url)
    with pytest.raises(WorkspaceError, match="authentication failed") as info:
        wrong.create("acme/svc", "r2", "x")
    assert "ghp_wrong" not in str(info.value)


def test_the_token_is_only_sent_to_the_github_host(tmp_path, github_git):
    """A git URL on another host gets no Authorization header, even though a token is configured."""
    with GitHubStub(token=TOKEN, git_root=tmp_path / "other") as elsewhere:
        bare_clone(make_repo(tmp_path / "seed2", {"a": "1\n"}), elsewhere.git_dir("acme/svc"))
        manager = WorkspaceManager(tmp_path / "droid", github_token=TOKEN, github_url=github_git.url)
        with pytest.raises(WorkspaceError, match="authentication failed"):
            manager.create(f"{elsewhere.url}/acme/svc.git", "r1", "x")
        assert elsewhere.requests and not any(r.header("Authorization") for r in elsewhere.requests)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("text, expected", [
    ("https://github.com/acme/svc", "acme/svc"),
    ("https://github.com/acme/svc.git", "acme/svc"),
    ("https://github.com/acme/svc/", "acme/svc"),
    ("http://github.com/acme/my.repo.git", "acme/my.repo"),
    ("git@github.com:acme/svc.git", "acme/svc"),
    ("ssh://git@github.com/acme/svc.git", "acme/svc"),
    ("https://x-access-token:abc@github.com/acme/svc.git", "acme/svc"),
    ("acme/svc", "acme/svc"),
    ("acme/svc.git", "acme/svc"),
    ("https://gitlab.com/acme/svc.git", None),
    ("git@gitlab.com:acme/svc.git", None),
    ("https://github.com/acme", None),
    ("https://github.com/acme/svc/pull/3", None),
    ("/srv/repos/svc", None),
    ("./svc", None),
    ("file:///srv/acme/svc.git", None),
    ("acme/svc/extra", None),
    ("", None),
])
def test_github_repo_of(text, expected):
    assert github_repo_of(text) == expected


def test_github_repo_of_enterprise_host():
    assert github_repo_of("https://ghe.example.com/acme/svc.git") is None
    assert github_repo_of("https://ghe.example.com/acme/svc.git", github_url="https://ghe.example.com") == "acme/svc"
