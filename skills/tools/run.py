"""`run` and `read_output`: commands in the workspace, bounded, scrubbed and killed on time.

A command runs in its own session (process group) with an environment stripped of every secret;
on timeout the whole group is killed, children included. Its full output is redacted and kept as
an artifact (`out-<n>.log`) the model can page with `read_output`; the model itself sees the
output condensed to the lines that matter.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from skills.tools.base import Tool, ToolContext, ToolResult, inside
from skills.tools.condense import condense
from skills.tools.condense_scoring import split_lines

SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH", "SESSION",
                "COOKIE", "DSN", "PRIVATE", "ASKPASS")
SECRET_PREFIXES = ("SLACK_", "ANTHROPIC_", "GITHUB_", "JIRA_", "SENTRY_", "AWS_", "GH_")
QUIET_ENV = {"PAGER": "cat", "GIT_PAGER": "cat", "MANPAGER": "cat", "LESS": "-R", "TERM": "dumb", "CI": "1",
             "PYTHONUNBUFFERED": "1", "GIT_TERMINAL_PROMPT": "0", "NO_COLOR": "1",
             "DEBIAN_FRONTEND": "noninteractive"}
MIN_SECRET_CHARS = 4          # shorter "secrets" would match nearly every value
HEAD_BYTES = 4 * 1024 * 1024  # output kept in memory: the first 4 MB ...
TAIL_BYTES = 16 * 1024 * 1024  # ... and the last 16 MB
KILL_GRACE = 2.0              # seconds between SIGTERM and SIGKILL
MAX_SHOWN_LINES = 100
MAX_SHOWN_CHARS = 11_000      # under Tool.call's cap, so the tail (the summary) is never cut off
MAX_PAGE_LINES = 200
ARTIFACT = re.compile(r"out-(\d+)\.log")


@dataclass
class CommandResult:
    """What a command did: exit code (None when it timed out), merged output, and how long it took."""

    exit_code: int | None
    output: str
    timed_out: bool
    seconds: float


def scrubbed_env(base: dict | None = None, secrets: Iterable[str] = ()) -> dict:
    """A copy of `base` (default: os.environ) without secret-looking variables or secret values,
    plus settings that keep tools non-interactive (PAGER=cat, TERM=dumb, CI=1, ...)."""
    values = [s for s in secrets if s and len(s) >= MIN_SECRET_CHARS]
    env = {}
    for name, value in (os.environ if base is None else base).items():
        upper = name.upper()
        if any(word in upper for word in SECRET_WORDS) or upper.startswith(SECRET_PREFIXES):
            continue
        if any(secret in value for secret in values):
            continue
        env[name] = value
    return {**env, **QUIET_ENV}


def run_command(command: str | list[str], cwd: Path, *, timeout: float, env: dict | None = None,
                stdin=subprocess.DEVNULL) -> CommandResult:
    """Run `command` (a string runs through the shell) with stdout+stderr merged; on timeout kill its
    whole process group. Never hangs on a child that keeps the output pipe open."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, cwd=str(cwd), shell=isinstance(command, str), env=env, stdin=stdin,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as exc:
        return CommandResult(127, f"Could not start the command: {exc}", False, time.monotonic() - started)
    reader = _Reader(proc.stdout)
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc, reader)
    if not timed_out and not reader.done.wait(KILL_GRACE):
        _kill_group(proc, reader)  # background children still hold the output pipe: stop them
        reader.note = "[droid: background processes that kept the output open were stopped]"
    reader.done.wait(KILL_GRACE)
    code = None if timed_out else proc.returncode
    return CommandResult(code, reader.text(), timed_out, time.monotonic() - started)


class _Reader:
    """Reads a pipe on a daemon thread into a bounded buffer (head + tail)."""

    def __init__(self, pipe):
        self.head, self.tail, self.dropped = bytearray(), bytearray(), 0
        self.note = ""
        self.lock, self.done = threading.Lock(), threading.Event()
        self.fd = pipe.fileno()
        self.pipe = pipe
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                with self.lock:
                    self._keep(chunk)
        except OSError:
            pass
        finally:
            self.done.set()
            self.pipe.close()

    def _keep(self, chunk: bytes) -> None:
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        self.tail += chunk
        if len(self.tail) > 2 * TAIL_BYTES:
            cut = len(self.tail) - TAIL_BYTES
            self.dropped += cut
            del self.tail[:cut]

    def text(self) -> str:
        with self.lock:
            head, tail, dropped = bytes(self.head), bytes(self.tail), self.dropped
        if dropped:
            tail = tail[-TAIL_BYTES:]
            middle = f"\n[... {dropped:,} bytes of output dropped: more than 20 MB in all ...]\n".encode()
            data = head + middle + tail
        else:
            data = head + tail
        text = data.decode("utf-8", "replace")
        if self.note:
            text += ("" if not text or text.endswith("\n") else "\n") + self.note
        return text


def _kill_group(proc: subprocess.Popen, reader: _Reader) -> None:
    """SIGTERM the process group, give it a moment, then SIGKILL whatever is left."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        if sig == signal.SIGTERM:
            deadline = time.monotonic() + KILL_GRACE
            while time.monotonic() < deadline and not (proc.poll() is not None and reader.done.is_set()):
                time.sleep(0.02)
    try:
        proc.wait(timeout=KILL_GRACE)
    except subprocess.TimeoutExpired:
        pass


# -- the `run` tool ------------------------------------------------------------------------------

RUN_DESCRIPTION = (
    "Run a shell command in the repository checkout (tests, linters, builds, scripts). Output is "
    "condensed to the lines that matter (failures, summary); the full output is saved and can be paged "
    "with read_output. The environment has no secrets and no network credentials. Do not push, change "
    "remotes or use sudo: droid commits and pushes the branch itself after the run."
)


def run_tool(ctx: ToolContext, *, timeout: float = 600, baseline: dict | None = None) -> Tool:
    """`run`: a shell command in ctx.repo, scrubbed, time-limited, output condensed and stored."""
    max_timeout = float(timeout)

    def run(command: str, timeout: int | None = None) -> ToolResult:
        if ctx.repo is None:
            return ToolResult("No repository checkout to run commands in.", is_error=True)
        if not isinstance(command, str) or not command.strip():
            return ToolResult("Give a command to run.", is_error=True)
        refusal = refused(command)
        if refusal:
            return ToolResult(refusal, is_error=True)
        limit = max(1.0, min(float(timeout or max_timeout), max_timeout))
        env = {**scrubbed_env(secrets=ctx.secrets), **_push_guard(Path(ctx.repo))}
        result = run_command(command, Path(ctx.repo), timeout=limit, env=env)
        output = _redact(ctx, result.output)
        name = _store(ctx, output)
        # a failing command is a result, not a tool error (the loop counts consecutive tool errors)
        return ToolResult(_present(result, output, name, limit, (baseline or {}).get(command.strip())),
                          is_error=result.timed_out)

    return Tool("run", RUN_DESCRIPTION,
                {"type": "object", "properties": {
                    "command": {"type": "string"},
                    "timeout": {"type": "integer", "minimum": 1,
                                "description": f"seconds (at most {int(max_timeout)})"}},
                 "required": ["command"]}, run)


def _redact(ctx: ToolContext, text: str) -> str:
    for secret in ctx.secrets:
        if secret and len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, "[REDACTED]")
    return ctx.redact(text)


def _store(ctx: ToolContext, output: str) -> str | None:
    """Save the (redacted) full output as the next out-<n>.log; its name, or None without artifacts."""
    if ctx.artifacts is None or not output:
        return None
    folder = Path(ctx.artifacts)
    folder.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := ARTIFACT.fullmatch(p.name))]
    name = f"out-{max(numbers, default=0) + 1}.log"
    (folder / name).write_text(output, encoding="utf-8", errors="replace")
    return name


def _present(result: CommandResult, output: str, name: str | None, limit: float, baseline: str | None) -> str:
    """Header plus the condensed output, bounded for the model."""
    if result.timed_out:
        status = f"timed out after {limit:g} s; the process group was killed"
    else:
        status = f"exit code {result.exit_code} in {result.seconds:.1f} s"
    if not output.strip():
        if result.exit_code == 0:
            return "Ran successfully, no output."
        return f"{status} · no output"
    condensed = condense(output, max_lines=MAX_SHOWN_LINES, baseline=baseline)
    shown = len(condensed.kept_lines)
    header = f"{status} · {condensed.total_lines:,} lines ({shown:,} shown)"
    if name:
        header += f" · full output: {name} (read_output to page)"
    return header + "\n" + _fit(condensed.text, MAX_SHOWN_CHARS - len(header))


def _fit(text: str, budget: int) -> str:
    """Shorten long lines so that every kept line (and so the final summary) fits in `budget`."""
    if len(text) <= budget:
        return text
    lines = text.split("\n")
    width = max(60, budget // max(1, len(lines)) - 1)
    return "\n".join(line if len(line) <= width else line[: width - 1] + "…" for line in lines)[:budget]


# -- what `run` refuses ----------------------------------------------------------------------------

_GIT_VALUE_OPTIONS = {"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--exec-path"}
_SEGMENTS = re.compile(r"\|\||&&|[;|&\n()`]|\$\(")


def refused(command: str) -> str | None:
    """Why `command` may not run (None when it may): pushing, changing remotes, sudo, rm -rf /."""
    for segment in _SEGMENTS.split(command):
        try:
            words = shlex.split(segment)
        except ValueError:
            words = segment.split()
        while words and ("=" in words[0] and not words[0].startswith("-") or words[0] in ("env", "command",
                                                                                           "exec", "nohup")):
            words = words[1:]
        if not words:
            continue
        program = os.path.basename(words[0])
        if program in ("sudo", "doas", "su"):
            return f"Refused: `{program}` is not available; commands run unprivileged in the checkout."
        if program == "git":
            reason = _git_refusal(words[1:])
            if reason:
                return reason
        if program == "rm" and any(w in ("/", "/*", "~", "~/", "$HOME", "..", "../") for w in words[1:]):
            return "Refused: that rm would delete files outside the repository checkout."
    return None


def _git_refusal(args: list[str]) -> str | None:
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in _GIT_VALUE_OPTIONS else 1
    sub = args[i] if i < len(args) else ""
    rest = args[i + 1:]
    if sub == "push":
        return ("Refused: `git push` is droid's job. After you call final_answer, droid commits, pushes the "
                "droid/ branch (never the default branch, never force) and opens the pull request.")
    if sub == "remote" and rest and rest[0] not in ("-v", "--verbose", "show", "get-url"):
        return "Refused: changing git remotes is not allowed; droid pushes to the repository's own remote."
    return None


def _push_guard(repo: Path) -> dict:
    """Environment that makes git refuse to push to the repository's remotes even when a command
    slips past `refused` (e.g. inside a script): pushInsteadOf rewrites their URLs to nowhere."""
    try:
        out = subprocess.run(["git", "-C", str(repo), "remote", "-v"], capture_output=True, text=True,
                             timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    urls = sorted({parts[1] for line in out.splitlines() if len(parts := line.split()) >= 2})
    urls += [f"file://{u}" for u in urls if u.startswith("/")]
    env = {"GIT_CONFIG_COUNT": str(len(urls))}
    for n, url in enumerate(urls):
        env[f"GIT_CONFIG_KEY_{n}"] = "url.droid-refuses-to-push://.pushInsteadOf"
        env[f"GIT_CONFIG_VALUE_{n}"] = url
    return env if urls else {}


# -- the `read_output` tool ----------------------------------------------------------------------

def read_output_tool(ctx: ToolContext) -> Tool:
    """`read_output`: a numbered window of a stored command output (out-<n>.log)."""

    def read_output(name: str, start_line: int = 1, max_lines: int = 100) -> ToolResult:
        if ctx.artifacts is None:
            return ToolResult("No stored outputs in this run.", is_error=True)
        if not isinstance(name, str) or not ARTIFACT.fullmatch(name):
            return ToolResult(f"{name!r} is not a stored output; names look like out-3.log.", is_error=True)
        try:
            path = inside(Path(ctx.artifacts), name)
        except ValueError as exc:
            return ToolResult(f"Refused: {exc}", is_error=True)
        if not path.is_file():
            return ToolResult(f"No stored output {name}.", is_error=True)
        lines = split_lines(path.read_text(encoding="utf-8", errors="replace"))
        return ToolResult(_page(ctx, name, lines, int(start_line), int(max_lines)))

    return Tool("read_output", "Page through the full stored output of an earlier `run` (out-<n>.log), "
                "with numbered lines.",
                {"type": "object", "properties": {
                    "name": {"type": "string", "description": "e.g. out-3.log"},
                    "start_line": {"type": "integer", "minimum": 1},
                    "max_lines": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LINES}},
                 "required": ["name"]}, read_output)


def _page(ctx: ToolContext, name: str, lines: list[str], start: int, count: int) -> str:
    total = len(lines)
    start = max(1, min(start, max(1, total)))
    count = max(1, min(count, MAX_PAGE_LINES))
    out, used, n = [], 0, start
    while n <= min(total, start + count - 1):
        line = ctx.redact(lines[n - 1])
        line = line if len(line) <= 500 else line[:500] + "…"
        if used + len(line) > MAX_SHOWN_CHARS and out:
            break
        out.append(f"{n:>7} {line}")
        used += len(line) + 9
        n += 1
    end = n - 1
    more = f"\n({total - end:,} more lines; call read_output with start_line={end + 1})" if end < total else ""
    return f"[{name} lines {start}-{end} of {total:,}]\n" + "\n".join(out) + more
