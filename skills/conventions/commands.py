"""Test and lint commands a conventions file states, and which of them droid will run.

A command is taken from a fenced shell block (one line = one command; `$ ` prompts stripped) or
from inline code, when its heading, its line or the command itself mentions tests, lint or checks.
droid runs a stated command only in the run's isolated workspace, through the run tool's limits and
scrubbed environment, and refuses anything multi-line or outside a short list of build and test
tools (downloads, pipes into a shell, deletions, pushes, publishing, privilege, containers).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from skills.conventions.condense import inline_text, parse

SHELL_LANGS = {"", "sh", "bash", "shell", "console", "zsh", "shell-session", "shellsession", "terminal", "cmd"}
SETUP = re.compile(r"\s*(python\d?\s+-m\s+)?(pip3?|npm|yarn|pnpm|poetry|uv|gem|bundle|apt(-get)?|brew|cargo|go)\s+"
                   r"(install|add|i|ci|get|sync)\b|\s*python\d?\s+setup\.py\s+(install|develop)")   # setup, not a check
SHELLISH = {"curl", "wget", "bash", "sh", "rm", "git", "sudo", "docker", "podman", "ssh"}
CONTEXT = re.compile(r"test|lint|check|format|style|verif|\bci\b", re.I)
TEST = re.compile(r"pytest|\btests?\b|\btox\b|\bnox\b|jest|vitest|mocha|rspec|phpunit|ctest|unittest|\btest:", re.I)
LINT = re.compile(r"\b(ruff|flake8|pylint|mypy|pyright|eslint|lint|linter|black|isort|prettier|golangci-lint|"
                  r"rubocop|clippy|shellcheck|pre-commit|stylelint|fmt|format|typecheck|type-check|vet)\b", re.I)
TOOLS = {"make", "gmake", "pytest", "py.test", "python", "python3", "tox", "nox", "ruff", "flake8", "pylint", "mypy",
         "pyright", "black", "isort", "pre-commit", "npm", "npx", "yarn", "pnpm", "bun", "deno", "jest", "vitest",
         "eslint", "prettier", "tsc", "go", "golangci-lint", "gofmt", "cargo", "mvn", "gradle", "bundle", "rake",
         "rspec", "rubocop", "uv", "uvx", "poetry", "hatch", "pdm", "pipenv", "just", "bazel", "bazelisk", "ctest",
         "dotnet", "mix", "composer", "phpunit", "swift", "sbt", "shellcheck", "cd"}
DANGER = [
    (re.compile(r"\b(curl|wget|fetch)\b"), "downloads from the network"),
    (re.compile(r"\|\s*(sudo\s+)?(ba|z|da|k)?sh\b|\|\s*(python\d?|node|perl|ruby)\b"), "pipes into an interpreter"),
    (re.compile(r"\brm\s+-\w*[rf]|\brm\s+/"), "deletes files"),
    (re.compile(r"\bgit\s+(push|remote|config|reset|clean|checkout|commit|tag)\b"), "changes git state or pushes"),
    (re.compile(r"\b(sudo|su|doas|chmod|chown|mkfs|dd|shutdown|reboot|eval|exec)\b"), "needs privileges or escapes"),
    (re.compile(r"\b(ssh|scp|rsync|nc|ncat|telnet|docker|podman|kubectl)\b"), "leaves the workspace"),
    (re.compile(r"\b(publish|upload|deploy|release|twine)\b"), "publishes or deploys"),
    (re.compile(r"\b(pip3?|npm|yarn|pnpm|gem|apt(-get)?|brew|poetry|uv)\s+(install|add|i|ci)\b"), "installs packages"),
    (re.compile(r"\$\(|`|[<>]|\.\./|:\(\)"), "substitutes, redirects or climbs out of the workspace"),
]


@dataclass
class Command:
    """A test or lint command a conventions file states, with where it came from."""

    kind: str            # "test" or "lint"
    command: str
    source: str = ""     # provenance, e.g. "AGENTS.md (services/pay/AGENTS.md)"
    cwd: str = ""        # repo-relative directory it runs in ("" = the repository root)
    refused: str = ""    # why droid will not run it ("" = it may)

    def to_dict(self) -> dict:
        """Plain JSON-able form."""
        return dict(kind=self.kind, command=self.command, source=self.source, cwd=self.cwd, refused=self.refused)


def refusal(command: str) -> str:
    """Why `command` must not run ("" when it may): multi-line, dangerous, or not a known build/test tool."""
    if "\n" in command or "\r" in command or command.rstrip().endswith("\\"):
        return "multi-line"
    if len(command) > 300:
        return "too long"
    for pattern, why in DANGER:
        if pattern.search(command):
            return why
    for segment in re.split(r"&&|\|\||;|\|", command):
        try:
            words = shlex.split(segment)
        except ValueError:
            return "unbalanced quotes"
        while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", words[0]):
            words = words[1:]           # FOO=1 pytest
        if not words:
            return "empty command"
        first = words[0]
        if first.startswith("./") and ".." not in first:
            continue                    # a script of the repository (./gradlew, ./scripts/test.sh)
        if first not in TOOLS:
            return f"`{first}` is not a build or test tool droid runs"
        if first == "cd" and (len(words) != 2 or words[1].startswith(("/", "~")) or ".." in words[1]):
            return "cd outside the repository"
    return ""


def kind_of(command: str, context: str) -> str | None:
    """"test", "lint" or None, from the command's own words, then (for `make check`) from its context."""
    if not CONTEXT.search(context + " " + command) or SETUP.match(command):
        return None
    for words in (command, context):     # the command's own words first; then what its heading or line says
        if TEST.search(words):
            return "test"
        if LINT.search(words):
            return "lint"
    return "test" if re.search(r"\bcheck\b", command) else None   # GNU's `make check` runs the test suite


def stated_commands(markdown: str, source: str = "", cwd: str = "") -> list[Command]:
    """Test and lint commands stated in a Markdown document, in document order, each with its refusal (if any).

A command under a heading about tests counts even when it is not a test runner (`curl … | sh`): it
is listed, refused, so the refusal shows instead of the text being silently ignored."""
    found: list[Command] = []
    headings: dict[int, str] = {}
    tokens = parse(markdown)
    last_line = ""
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            level = int(tok.tag[1])
            headings = {k: v for k, v in headings.items() if k < level} | {level: inline_text(tokens[i + 1])}
            last_line = ""
        elif tok.type == "inline" and tokens[i - 1].type != "heading_open":
            last_line = inline_text(tok)
            for child in tok.children or []:
                if child.type == "code_inline" and _looks_like_command(child.content):
                    _add(found, child.content, " ".join(headings.values()) + " " + last_line, source, cwd)
        elif tok.type == "fence" and (tok.info or "").split(" ")[0].lower() in SHELL_LANGS:
            prompted = (tok.info or "").split(" ")[0].lower() in ("console", "shell-session", "shellsession", "terminal")
            for text in _fence_commands(tok.content, prompted):
                _add(found, text, " ".join(headings.values()) + " " + last_line, source, cwd)
    return found


def _fence_commands(content: str, prompted: bool) -> list[str]:
    """One command per line; a line continued with `\\` is kept whole (and refused as multi-line)."""
    out, pending = [], ""
    for line in content.splitlines():
        text = line.strip()
        if pending:
            pending += "\n" + text
            if not text.endswith("\\"):
                out.append(pending)
                pending = ""
            continue
        if prompted and not text.startswith("$ "):
            continue
        text = text[2:] if text.startswith("$ ") else text
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending = text
        else:
            out.append(text)
    return out + ([pending] if pending else [])


def _looks_like_command(code: str) -> bool:
    words = code.strip().split()
    return bool(words) and len(words) <= 20 and (words[0] in (TOOLS | SHELLISH) - {"cd"} or words[0].startswith("./"))


def _add(found: list[Command], text: str, context: str, source: str, cwd: str) -> None:
    kind = kind_of(text.split("\n")[0], context)
    if kind and not any(c.command == text and c.kind == kind for c in found):
        found.append(Command(kind, text, source, cwd, refusal(text)))
