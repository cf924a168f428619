"""Running git for workspaces: a clean environment, per-command credentials, timeouts that kill the
process group, and short redacted error messages (WorkspaceError) that are safe to post in Slack."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import re
import signal
import subprocess
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("droid.workspace")

NETWORK_TIMEOUT = 600.0            # clone / fetch / push
LOCAL_TIMEOUT = 120.0              # everything that stays on this machine
# Inherited GIT_* variables that configure transport rather than repository state.
KEPT_GIT_ENV = {"GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH",
                "GIT_SSL_NO_VERIFY", "GIT_PROXY_COMMAND", "GIT_EXEC_PATH"}


class WorkspaceError(Exception):
    """A git workspace operation failed. The message is short and safe to post in Slack."""


class GuardrailError(WorkspaceError):
    """droid refused to do something its guardrails forbid (e.g. push to the default branch)."""



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
