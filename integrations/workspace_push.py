"""Working in a workspace: commit, the push guardrails (droid/ branches only, never the default or a
protected branch, never forced, never with rewritten remote config), and what changed."""

from __future__ import annotations

import fnmatch
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from integrations.git_names import BRANCH_PREFIX, _strip_userinfo, _url_prefix_of
from integrations.redact import Redactor
from integrations.workspace_git import (
    NETWORK_TIMEOUT,
    GuardrailError,
    WorkspaceError,
    _auth_config,
    _brief,
    _git,
    _safe,
    _secrets_of,
)

if TYPE_CHECKING:
    from integrations.workspace import Workspace

log = logging.getLogger("droid.workspace")

ALWAYS_PROTECTED = ("main", "master")
STAT_MAX_FILES = 50
STAT_MAX_CHARS = 6000
# Local config a workspace never has after `create`; its presence at push time means something in
# the workspace rewrote where or how git talks to the remote, so droid refuses to push from it.
UNSAFE_CONFIG = re.compile(
    r"^(url\.|http\.|credential\.|include\.|includeif\.|core\.sshcommand|core\.askpass|core\.fsmonitor"
    r"|core\.hookspath|core\.gitproxy|remote\.[^=]*\.(pushurl|mirror|receivepack|proxy|vcs|uploadpack)=)",
    re.IGNORECASE)


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
    """Push HEAD to refs/heads/<ws.branch> on the source — never forced, never another branch, never a secret
    the change adds."""
    check_push_allowed(ws, protected)
    _check_config(ws)
    check_no_added_secrets(ws, _secrets_of(token))
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


def check_no_added_secrets(ws: Workspace, known: Iterable[str] = ()) -> None:
    """Raise GuardrailError when the lines the branch adds since base_commit hold a secret: a command the agent
    ran (`cp .env config.py`, a test that writes its credentials out) can put one in a file the model never saw.
    Secrets the repository already held are not droid's to refuse."""
    diff = _git(["-c", "core.quotepath=off", "diff", "--no-ext-diff", "--no-color", "--no-renames", "--unified=0",
                 "--src-prefix=a/", "--dst-prefix=b/", ws.base_commit, "HEAD", "--"],
                cwd=ws.path, what="git diff (secrets)").stdout[:MAX_SCANNED]
    added: dict[str, list[tuple[int, str]]] = {}
    path, number = "", 0
    for line in diff.splitlines():
        if line.startswith("+++ "):
            name = line[4:].strip('"')
            path = name[2:] if name.startswith("b/") else ""
        elif line.startswith("@@"):
            hunk = re.match(r"@@ -\S+ \+(\d+)", line)
            number = int(hunk.group(1)) if hunk else 0
        elif line.startswith("+") and path:
            added.setdefault(path, []).append((number, line[1:]))
            number += 1
    redact = Redactor(known)
    for path, lines in added.items():
        text = "\n".join(body for _, body in lines)
        if redact(text) != text:
            masked = redact(text).split("\n")
            where = next((n for (n, body), out in zip(lines, masked, strict=False) if out != body), lines[0][0])
            raise GuardrailError(f"refusing to push {ws.branch}: the change adds what looks like a secret in "
                                 f"{_safe(path)} line {where}. Remove it (or use a placeholder) and try again")


MAX_SCANNED = 20_000_000      # characters of diff read for secrets: a change past that is not a code change


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
