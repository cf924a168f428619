"""Isolated per-run git checkouts, and the git guardrails droid enforces in code (names: git_names.py).

Layout under `root`:
    cache/<name>-<hash>.git    a bare cache of the source's branches and tags, refreshed by fetch
    cache/<name>-<hash>.lock   serialises refreshes of that cache (threads and processes)
    runs/<run_id>/             one fresh clone of the cache per run (hard-linked objects, own
                               index, own config); `origin` is the real source, never the cache

Credentials: the GitHub token is never written to disk (no config, no remote URL). It travels
per command in the environment as a `http.<github_url>/.extraHeader` config entry
(GIT_CONFIG_COUNT/KEY/VALUE, so it is not in any process's argv either), scoped to the GitHub
host so git never sends it anywhere else; credential helpers and hooks are switched off for
those commands. Error messages are short and redacted before they leave this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from integrations.git_names import (  # noqa: F401 — re-exported: callers import them from here
    BRANCH_PREFIX,
    OWNER_NAME,
    InvalidName,
    _is_url,
    _strip_userinfo,
    _url_prefix_of,
    branch_name,
    github_repo_of,
    safe_run_id,
    sanitize_slug,
)
from integrations.workspace_git import (  # noqa: F401 — WorkspaceError and friends are imported from here
    NETWORK_TIMEOUT,
    GuardrailError,
    WorkspaceError,
    _auth_config,
    _git,
    _safe,
    _secrets_of,
)

log = logging.getLogger("droid.workspace")

FAILED_MARKER = "droid-failed"     # inside the workspace's .git, so it never shows in the tree


@dataclass
class Workspace:
    """One run's working tree on its own droid/ branch."""

    path: Path          # the working tree
    branch: str         # droid/<run_id>-<slug>
    base_branch: str    # the source's default branch (the checked-out branch of a local source)
    base_commit: str
    source: str         # what it was created from: absolute local path, git URL, or owner/name
    remote_url: str = ""  # the token-free URL `origin` points at (where push goes)
    auth_url: str = ""    # URL prefix the GitHub token may be sent to ("" = never send it)


# --------------------------------------------------------------------------- the manager


@dataclass
class _Source:
    url: str        # what git fetches from and `origin` points at (never carries the token)
    label: str      # Workspace.source
    auth_url: str   # where the token may go ("" = nowhere)


class WorkspaceManager:
    """Creates and cleans up per-run workspaces under `root`."""

    def __init__(self, root: Path, *, github_token: str = "", github_url: str = "https://github.com",
                 keep_failed: int = 5, network_timeout: float = NETWORK_TIMEOUT):
        self.root = Path(root).expanduser()
        self.github_url = (github_url or "https://github.com").rstrip("/")
        self.keep_failed = max(0, int(keep_failed))
        self.network_timeout = network_timeout
        self._token = github_token or ""
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:  # never show the token
        return f"WorkspaceManager(root={str(self.root)!r}, github_url={self.github_url!r})"

    # ---- public

    def create(self, source: str, run_id: str, slug: str, key: str = "") -> Workspace:
        """A fresh working tree of `source` on a new droid/<run_id>-<slug> (or droid/<key>-<slug>-<run_id>) branch at
        the base branch's tip."""
        src = self._resolve(source)
        try:
            branch = branch_name(run_id, slug, key)
        except InvalidName as exc:
            raise WorkspaceError(str(exc)) from None
        _git(["check-ref-format", "--branch", branch], what="branch name check")
        cache = self._cache_path(src.url)
        secrets = _secrets_of(self._token)
        auth = _auth_config(src.auth_url, self._token)
        with self._lock(cache):
            base_branch = self._default_branch(src, auth, secrets)
            self._refresh(cache, src, auth, secrets)
            commit = _git(["rev-parse", "--verify", "-q", f"refs/heads/{base_branch}^{{commit}}"],
                          cwd=cache, check=False)
            if commit.returncode != 0:
                raise WorkspaceError(f"branch {base_branch} not found in {_strip_userinfo(src.label)}")
            base_commit = commit.stdout.strip()
            path = self._new_run_dir(run_id)
            try:
                _git(["clone", "-q", "--no-checkout", "--branch", base_branch, "--", str(cache), str(path)],
                     what="git clone (workspace)")
            except WorkspaceError:
                shutil.rmtree(path, ignore_errors=True)
                raise
        try:
            _git(["remote", "set-url", "origin", src.url], cwd=path, what="git remote set-url")
            _git(["checkout", "-q", "-b", branch, base_commit], cwd=path, what="git checkout")
        except WorkspaceError:
            shutil.rmtree(path, ignore_errors=True)
            raise
        log.info("workspace %s for %s at %s (%s)", path, _strip_userinfo(src.label), base_commit[:12], branch)
        return Workspace(path=path, branch=branch, base_branch=base_branch, base_commit=base_commit,
                         source=src.label, remote_url=src.url, auth_url=src.auth_url)

    def cleanup(self, ws: Workspace, *, failed: bool) -> None:
        """Success: remove the tree. Failure: keep it, and at most `keep_failed` failed ones in all."""
        path = Path(ws.path)
        if not self._inside_runs(path):
            log.warning("not cleaning %s: outside %s", path, self.runs_dir)
            return
        if not failed:
            _rmtree(path)
            return
        if (path / ".git").is_dir():
            (path / ".git" / FAILED_MARKER).write_text(f"{time.time_ns()}\n")
        self._prune_failed()

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    def failed_workspaces(self) -> list[Path]:
        """Kept failed workspaces, oldest first."""
        found = []
        if self.runs_dir.is_dir():
            for marker in self.runs_dir.glob(f"*/.git/{FAILED_MARKER}"):
                try:
                    stamp = int(marker.read_text().strip() or 0)
                except (OSError, ValueError):
                    stamp = 0
                found.append((stamp, marker.parent.parent.name, marker.parent.parent))
        return [p for _, _, p in sorted(found)]

    # ---- internals

    def _resolve(self, source: str) -> _Source:
        text = (source or "").strip()
        if not text:
            raise WorkspaceError("no repository given")
        local = Path(text).expanduser()
        if not _is_url(text) and (local.exists() or text.startswith(("/", ".", "~"))):
            if not local.is_dir():
                raise WorkspaceError(f"{text} is not a directory")
            path = local.resolve()
            ok = _git(["rev-parse", "--git-dir"], cwd=path, check=False)
            if ok.returncode != 0:
                raise WorkspaceError(f"{path} is not a git repository")
            top = _git(["rev-parse", "--show-toplevel"], cwd=path, check=False)  # fails in a bare repo
            if top.returncode == 0 and top.stdout.strip():
                path = Path(top.stdout.strip()).resolve()
            return _Source(url=str(path), label=str(path), auth_url="")
        if _is_url(text):
            url = text
        elif OWNER_NAME.match(text):
            url = f"{self.github_url}/{github_repo_of(text)}.git"
            text = github_repo_of(text) or text
        else:
            raise WorkspaceError(f"not a path, git URL or owner/name: {_safe(text)[:100]}")
        auth_url = ""
        if (url.startswith(("https://", "http://"))
                and url.startswith(self.github_url + "/") and "@" not in urlsplit(url).netloc):
            auth_url = _url_prefix_of(self.github_url) if urlsplit(self.github_url).path in ("", "/") \
                else self.github_url + "/"
        return _Source(url=url, label=text, auth_url=auth_url)

    def _cache_path(self, url: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "-", _strip_userinfo(url).rstrip("/").split("/")[-1])
        name = name.removesuffix(".git")[:40] or "repo"
        digest = hashlib.sha256(url.encode()).hexdigest()[:12]
        return self.cache_dir / f"{name}-{digest}.git"

    @contextlib.contextmanager
    def _lock(self, cache: Path) -> Iterator[None]:
        """One refresh of a given cache at a time: a thread lock, then a file lock across processes."""
        with self._locks_guard:
            lock = self._locks.setdefault(str(cache), threading.Lock())
        with lock:
            cache.parent.mkdir(parents=True, exist_ok=True)
            with open(cache.with_suffix(".lock"), "w") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _default_branch(self, src: _Source, auth: dict[str, str], secrets: list[str]) -> str:
        """The branch HEAD points at in the source (default branch; checked-out branch locally)."""
        out = _git(["ls-remote", "--symref", "--", src.url, "HEAD"], config=auth, secrets=secrets,
                   timeout=self.network_timeout, what=f"git ls-remote {_safe(_strip_userinfo(src.label))}").stdout
        match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", out, re.MULTILINE)
        if match:
            return match.group(1)
        if not out.strip():
            raise WorkspaceError(f"{_strip_userinfo(src.label)} has no commits")
        head = out.split()[0]  # detached HEAD: a branch at that commit, else main/master
        heads = _git(["ls-remote", "--heads", "--", src.url], config=auth, secrets=secrets,
                     timeout=self.network_timeout, what="git ls-remote").stdout
        tips = {ref.removeprefix("refs/heads/"): sha for sha, ref in
                (line.split("\t", 1) for line in heads.splitlines() if "\t" in line)}
        for name in ("main", "master", *sorted(tips)):
            if tips.get(name) == head:
                return name
        for name in ALWAYS_PROTECTED:
            if name in tips:
                return name
        raise WorkspaceError(f"{_strip_userinfo(src.label)} has a detached HEAD and no main/master branch")

    def _refresh(self, cache: Path, src: _Source, auth: dict[str, str], secrets: list[str]) -> None:
        """Create the bare cache if needed, then fetch the source's branches and tags into it."""
        if not (cache / "HEAD").is_file():
            _rmtree(cache)  # a half-made cache from an interrupted run
            tmp = Path(tempfile.mkdtemp(prefix=cache.name + ".", suffix=".tmp", dir=cache.parent))
            try:
                _git(["init", "-q", "--bare", str(tmp)], what="git init (cache)")
                os.replace(tmp, cache)
            finally:
                _rmtree(tmp)
        _git(["fetch", "-q", "--prune", "--no-tags", "--no-recurse-submodules", "--", src.url,
              "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
             cwd=cache, config=auth, secrets=secrets, timeout=self.network_timeout,
             what=f"git fetch {_safe(_strip_userinfo(src.label))}")

    def _new_run_dir(self, run_id: str) -> Path:
        """root/runs/<run_id>, or <run_id>-2, -3… if that run already had a workspace."""
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        base = safe_run_id(run_id)
        for n in range(1, 1000):
            path = self.runs_dir / (base if n == 1 else f"{base}-{n}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise WorkspaceError(f"too many workspaces for run {base}")

    def _inside_runs(self, path: Path) -> bool:
        try:
            resolved, runs = path.resolve(), self.runs_dir.resolve()
        except OSError:
            return False
        return resolved.parent == runs

    def _prune_failed(self) -> None:
        failed = self.failed_workspaces()
        for path in failed[: max(0, len(failed) - self.keep_failed)]:
            log.info("removing old failed workspace %s", path)
            _rmtree(path)


def _rmtree(path: Path) -> None:
    def onerror(func, p, _exc):  # read-only files (git objects) in odd setups
        with contextlib.suppress(OSError):
            os.chmod(p, 0o700)
            func(p)
    if path.exists():
        shutil.rmtree(path, onerror=onerror)


from integrations.workspace_push import (  # noqa: E402, F401 — re-exported: callers import them from here
    ALWAYS_PROTECTED,
    changed_files,
    check_push_allowed,
    commit_all,
    diff_stat,
    push_branch,
    toward_github,
)
