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

import base64
import contextlib
import fcntl
import fnmatch
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
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
from integrations.redact import Redactor

log = logging.getLogger("droid.workspace")

ALWAYS_PROTECTED = ("main", "master")
FAILED_MARKER = "droid-failed"     # inside the workspace's .git, so it never shows in the tree
NETWORK_TIMEOUT = 600.0            # clone / fetch / push
LOCAL_TIMEOUT = 120.0              # everything that stays on this machine
STAT_MAX_FILES = 50
STAT_MAX_CHARS = 6000
# Inherited GIT_* variables that configure transport rather than repository state.
KEPT_GIT_ENV = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
                "GIT_SSL_NO_VERIFY", "GIT_PROXY_COMMAND", "GIT_EXEC_PATH"}
# Local config a workspace never has after `create`; its presence at push time means something in
# the workspace rewrote where or how git talks to the remote, so droid refuses to push from it.
UNSAFE_CONFIG = re.compile(
    r"^(url\.|http\.|credential\.|include\.|includeif\.|core\.sshcommand|core\.askpass|core\.fsmonitor"
    r"|core\.hookspath|core\.gitproxy|remote\.[^=]*\.(pushurl|mirror|receivepack|proxy|vcs|uploadpack)=)",
    re.IGNORECASE)


class WorkspaceError(Exception):
    """A git workspace operation failed. The message is short and safe to post in Slack."""


class GuardrailError(WorkspaceError):
    """droid refused to do something its guardrails forbid (e.g. push to the default branch)."""


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


# --------------------------------------------------------------------------- running git


def _env(extra: dict[str, str] | None = None, config: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a git command: inherited minus GIT_* leakage, no prompts, extra config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in KEPT_GIT_ENV}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", GCM_INTERACTIVE="never",
               LC_ALL="C", LANG="C")
    if config:
        env["GIT_CONFIG_COUNT"] = str(len(config))
        for i, (key, value) in enumerate(config.items()):
            env[f"GIT_CONFIG_KEY_{i}"] = key
            env[f"GIT_CONFIG_VALUE_{i}"] = value
    env.update(extra or {})
    return env


def _auth_config(auth_url: str, token: str) -> dict[str, str]:
    """Per-command config that authenticates to `auth_url` (and only there) with `token`."""
    if not (token and auth_url):
        return {}
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return {f"http.{auth_url.rstrip('/')}/.extraHeader": f"Authorization: Basic {basic}",
            "credential.helper": "",            # no helper may see or store anything
            "core.hooksPath": os.devnull,       # no hook runs with the token in its environment
            "core.fsmonitor": "false"}


def _secrets_of(token: str) -> list[str]:
    if not token:
        return []
    return [token, base64.b64encode(f"x-access-token:{token}".encode()).decode()]


def _safe(text: str, secrets: Iterable[str] = ()) -> str:
    """Text with secrets, URL credentials and Authorization headers masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    text = re.sub(r"(?i)(authorization:\s*\w+\s+)\S+", r"\1[REDACTED]", text)
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1[REDACTED]@", text)


def _brief(stderr: str, secrets: Iterable[str] = ()) -> str:
    """The telling part of git's stderr: its fatal/error lines (else the last line), short, redacted."""
    if re.search(r"could not read (Username|Password)|Authentication failed|terminal prompts disabled"
                 r"|returned error: 40[13]|Permission denied \(publickey", stderr):
        return "authentication failed (check the token or key and its access to the repository)"
    if re.search(r"(?i)repository '?[^ ]*'? not found|does not appear to be a git repository|returned error: 404",
                 stderr):
        return "repository not found (or no access to it)"
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    telling = [ln for ln in lines if ln.lower().startswith(("fatal:", "error:", "remote: error", " ! ", "!"))]
    text = " ".join((telling or lines[-1:])[:2]) or "no output"
    text = _safe(text, secrets)
    return text if len(text) <= 240 else text[:239] + "…"


def _git(args: list[str], *, cwd: Path | None = None, timeout: float = LOCAL_TIMEOUT,
         config: dict[str, str] | None = None, env: dict[str, str] | None = None, input: str | None = None,
         check: bool = True, what: str = "git", secrets: Iterable[str] = ()) -> subprocess.CompletedProcess:
    """Run git with a timeout (killing its whole process group), no prompts, a clean environment."""
    cmd = ["git", *args]
    secrets = list(secrets)
    log.debug("git %s (in %s)", _safe(" ".join(args), secrets), cwd)
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=_env(env, config), text=True, encoding="utf-8",
                                errors="replace", stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise WorkspaceError(f"{what} failed: cannot run git ({exc.strerror})") from None
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise WorkspaceError(f"{what} timed out after {timeout:.0f}s") from None
    result = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if check and proc.returncode != 0:
        raise WorkspaceError(f"{what} failed: {_brief(err, secrets)}")
    return result


# --------------------------------------------------------------------------- names and sources


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


# --------------------------------------------------------------------------- working in a workspace


def commit_all(ws: Workspace, message: str, *, author_name: str = "droid",
               author_email: str = "droid@localhost") -> str | None:
    """Stage everything and commit; the new commit's sha, or None when nothing changed."""
    _git(["add", "-A"], cwd=ws.path, what="git add")
    if _git(["diff", "--cached", "--quiet"], cwd=ws.path, check=False).returncode == 0:
        return None
    message = Redactor()(message)   # commit messages leave with the push: never a secret in them
    _git(["-c", f"user.name={author_name}", "-c", f"user.email={author_email}", "-c", "commit.gpgsign=false",
          "commit", "-q", "--no-verify", "-F", "-"],
         cwd=ws.path, input=message.strip() + "\n", what="git commit",
         env={"GIT_AUTHOR_NAME": author_name, "GIT_AUTHOR_EMAIL": author_email,
              "GIT_COMMITTER_NAME": author_name, "GIT_COMMITTER_EMAIL": author_email})
    return _git(["rev-parse", "HEAD"], cwd=ws.path).stdout.strip()


def check_push_allowed(ws: Workspace, protected: Iterable[str] = ()) -> None:
    """Raise GuardrailError unless ws.branch is a droid/ branch that is neither default nor protected."""
    branch = ws.branch or ""
    short = branch.removeprefix("refs/heads/")
    if short != branch or not short.startswith(BRANCH_PREFIX) or short == BRANCH_PREFIX:
        raise GuardrailError(f"refusing to push {short or 'an unnamed branch'}: droid only pushes droid/ branches")
    if re.search(r"[\s:+^~?*\[\\]|\.\.|@\{", short):
        raise GuardrailError(f"refusing to push {short}: not a plain branch name")
    forbidden = {*ALWAYS_PROTECTED, ws.base_branch}
    if short in forbidden:
        raise GuardrailError(f"refusing to push to {short}: it is the default branch")
    if isinstance(protected, str):  # "main, release/*" given as one string
        protected = re.split(r"[,\s]+", protected)
    for rule in protected:
        rule = (rule or "").strip().removeprefix("refs/heads/")
        if rule and (short == rule or fnmatch.fnmatchcase(short, rule)):
            raise GuardrailError(f"refusing to push to {short}: it is a protected branch")


def _check_config(ws: Workspace) -> None:
    """Refuse to push when the workspace's own git config redirects or re-authenticates the remote."""
    out = _git(["config", "--local", "--list"], cwd=ws.path, check=False).stdout
    bad = sorted({line.split("=", 1)[0] for line in out.splitlines() if UNSAFE_CONFIG.match(line)})
    if bad:
        raise GuardrailError(f"refusing to push: the workspace's git config was changed ({', '.join(bad[:3])})")


def toward_github(ws: Workspace, full_name: str, github_url: str) -> Workspace:
    """The workspace pushing to GitHub's `full_name` instead of its source (a local checkout, another host) — where
    its pull request needs the branch; the token may be sent only to GitHub."""
    base = (github_url or "https://github.com").rstrip("/")
    auth = _url_prefix_of(base) if urlsplit(base).path in ("", "/") else base + "/"
    return replace(ws, remote_url=f"{base}/{full_name}.git", auth_url=auth)


def push_branch(ws: Workspace, *, protected: Iterable[str] = (), token: str = "") -> None:
    """Push HEAD to refs/heads/<ws.branch> on the source — never forced, never another branch."""
    check_push_allowed(ws, protected)
    _check_config(ws)
    target = ws.remote_url or "origin"
    auth = {}
    if token and ws.auth_url and ws.remote_url.startswith(ws.auth_url):
        auth = _auth_config(ws.auth_url, token)
    secrets = _secrets_of(token)
    config = {**auth, "push.followTags": "false", "push.recurseSubmodules": "no", "push.gpgSign": "false",
              "core.hooksPath": os.devnull}
    refspec = f"HEAD:refs/heads/{ws.branch}"
    assert not refspec.startswith("+")
    result = _git(["push", "--porcelain", "--no-verify", "--no-follow-tags", "--recurse-submodules=no", "--",
                   target, refspec], cwd=ws.path, config=config, secrets=secrets, check=False,
                  timeout=NETWORK_TIMEOUT, what="git push")
    if result.returncode == 0:
        log.info("pushed %s to %s", ws.branch, _safe(_strip_userinfo(target)))
        return
    text = result.stdout + "\n" + result.stderr
    if re.search(r"\[rejected\]|non-fast-forward|fetch first|\(stale info\)", text):
        raise WorkspaceError(f"push of {ws.branch} rejected: the remote branch has commits this workspace "
                             "does not have (droid never force-pushes)")
    if re.search(r"(?i)protected branch", text):
        raise GuardrailError(f"push of {ws.branch} refused by the remote: it is a protected branch")
    raise WorkspaceError(f"git push failed: {_brief(result.stderr or result.stdout, secrets)}")


def changed_files(ws: Workspace) -> list[str]:
    """Paths changed since base_commit: committed, staged, unstaged and untracked (not ignored)."""
    diff = _git(["-c", "core.quotepath=off", "diff", "--name-only", "--no-renames", "-z", ws.base_commit, "--"],
                cwd=ws.path, what="git diff").stdout
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], cwd=ws.path, what="git ls-files").stdout
    return sorted({p for p in (diff + untracked).split("\0") if p})


def diff_stat(ws: Workspace, *, max_files: int = STAT_MAX_FILES, max_chars: int = STAT_MAX_CHARS) -> str:
    """`git diff --stat <base_commit>` of the whole tree (untracked files included), bounded."""
    with tempfile.TemporaryDirectory(prefix="droid-index-") as tmp:
        index = Path(tmp) / "index"
        git_index = Path(_git(["rev-parse", "--git-path", "index"], cwd=ws.path).stdout.strip())
        git_index = git_index if git_index.is_absolute() else Path(ws.path) / git_index
        if git_index.exists():
            shutil.copyfile(git_index, index)
        env = {"GIT_INDEX_FILE": str(index)}
        _git(["add", "-A"], cwd=ws.path, env=env, what="git add (stat)")
        out = _git(["diff", "--cached", "--no-ext-diff", "--no-color", "--stat=100,60", ws.base_commit],
                   cwd=ws.path, env=env, what="git diff --stat").stdout.rstrip("\n")
    lines = out.splitlines()
    if len(lines) > max_files + 1:
        dropped = len(lines) - 1 - max_files
        lines = [*lines[:max_files], f" … {dropped} more file(s)", lines[-1]]
    text = "\n".join(lines)
    if len(text) > max_chars:
        text = text[: max_chars - 40].rsplit("\n", 1)[0] + "\n … (diff stat truncated)\n" + lines[-1]
    return text
