"""The `droid` command: one entry point, one subcommand per job.

Every subcommand fails the same way: bad input is one line on stderr and exit code 2, an
unexpected error one line and exit code 1, never a traceback. The commands whose output quotes
their input (`rca`, `condense`, `locate`) print through the redactor.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import io
import os
import sys
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from typing import NoReturn

# subcommand -> (module, function, help). Each function takes the remaining argv and returns an
# exit code; modules are imported only when their subcommand runs (no import-time side effects).
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("bot.serve", "cli_main", "run the Slack app (Socket Mode or HTTP)"),
    "worker": ("bot.execution.worker", "cli_main", "execute runs for `droid serve` from DROID_BROKER_URL (Celery)"),
    "demo": ("bot.local.demo", "cli_main", "the alert-to-RCA flow end to end, with no accounts at all"),
    "console": ("bot.local.console", "cli_main", "talk to droid in a terminal, no Slack workspace needed"),
    "doctor": ("bot.doctor", "cli_main", "check the configuration and every configured service"),
    "locate": ("skills.tools.search_code", "cli_main", "rank the files of a repository for a query"),
    "condense": ("skills.tools.condense_cli", "cli_main", "condense a long log to the lines that matter"),
    "rca": ("skills.rca.cli", "cli_main", "root-cause evidence for a Sentry event in a git repository"),
}
# their output quotes logs, events and queries: it is printed through the redactor, whole
REDACTED = {"rca", "condense", "locate"}
# the others run long (or talk to a person): their output is redacted line by line as it is written,
# and every log record as it is made (a worker's broker URL, a traceback Celery's handler prints)
INTERACTIVE = {"console"}      # prompts are written without a line end: its streams are left as they are
MAX_ERROR_CHARS = 400


class ArgParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (and exit code 2), not usage and a message."""

    def error(self, message: str) -> NoReturn:
        """Print `prog: message` and exit 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def fail(prog: str, message: str, code: int = 2) -> int:
    """Print a one-line error for `prog` on stderr and return `code` (2: bad input)."""
    print(f"{prog}: {one_line(message)}", file=sys.stderr)
    return code


def one_line(text: str) -> str:
    """`text` on one line, bounded."""
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


@functools.lru_cache(maxsize=1)
def output_redactor():
    """The redactor for CLI output: configured secrets (even when the rest of the configuration
    is broken) and every credential shape."""
    from bot.settings import ENV_VARS, SECRET_FIELDS, Settings, SettingsError
    from integrations.redact import Redactor
    try:
        secrets = Settings.from_env().secrets()
    except SettingsError:
        secrets = [os.environ.get(ENV_VARS[name][0], "") for name in SECRET_FIELDS]
    return Redactor(secrets)


def main(argv: list[str] | None = None) -> int:
    """Dispatch `droid <subcommand> ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: droid <command> [options]   (droid <command> --help for its options)\n\ncommands:")
        for name, (_, _, text) in sorted(SUBCOMMANDS.items()):
            print(f"  {name:10} {text}")
        return 0 if argv else 2
    name = argv[0]
    if name not in SUBCOMMANDS:
        return fail("droid", f"unknown command {name!r}: choose from {', '.join(sorted(SUBCOMMANDS))}")
    module_name, func_name, _ = SUBCOMMANDS[name]
    if name in REDACTED:
        return _run_redacted(f"droid {name}", module_name, func_name, argv[1:])
    return _run_streaming(f"droid {name}", module_name, func_name, argv[1:], interactive=name in INTERACTIVE)


@contextlib.contextmanager
def _one_line_usage_errors() -> Iterator[None]:
    """While a subcommand runs, every argument parser reports errors as ArgParser does (one
    line), also the parsers of modules that build a plain argparse.ArgumentParser."""
    plain = argparse.ArgumentParser.error
    argparse.ArgumentParser.error = ArgParser.error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = plain  # type: ignore[method-assign]


def _run(prog: str, module_name: str, func_name: str, args: list[str]) -> int:
    """Run one subcommand; an unexpected error is one (redacted) line, exit code 1."""
    try:
        func = getattr(importlib.import_module(module_name), func_name)
        with _one_line_usage_errors():
            return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except SystemExit as exc:  # argparse: --help (0) or bad arguments (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else fail(prog, str(exc.code)))
    except RecursionError:
        return fail(prog, "the input is nested too deeply")
    except Exception as exc:  # noqa: BLE001 - the one place that turns a crash into one line
        message = output_redactor()(f"{type(exc).__name__}: {exc}")
        return fail(prog, f"unexpected error: {message}", code=1)


def _run_redacted(prog: str, module_name: str, func_name: str, args: list[str]) -> int:
    """Run one subcommand with its stdout and stderr captured, then print them redacted."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = _run(prog, module_name, func_name, args)
    redact = output_redactor()
    errors = err.getvalue()
    _write(sys.stdout, redact(out.getvalue()))
    _write(sys.stderr, redact(errors))
    return code


def _run_streaming(prog: str, module_name: str, func_name: str, args: list[str], *, interactive: bool) -> int:
    """Run one long-lived subcommand with its log records and (unless `interactive`) its output redacted."""
    from bot.logs import redact_records
    redact = output_redactor()
    redact_records(redact)
    if interactive:
        return _run(prog, module_name, func_name, args)
    out, err = RedactingStream(sys.stdout, redact), RedactingStream(sys.stderr, redact)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            return _run(prog, module_name, func_name, args)
    finally:
        out.flush()
        err.flush()


class RedactingStream(io.TextIOBase):
    """A text stream that writes each complete line to `stream` redacted (the rest on flush)."""

    def __init__(self, stream, redact):
        super().__init__()
        self._stream, self._redact, self._pending = stream, redact, ""

    def write(self, text: str) -> int:
        """Buffer `text`; write the complete lines, redacted."""
        self._pending += text
        if "\n" in text:
            done, _, self._pending = self._pending.rpartition("\n")
            _write(self._stream, self._redact(done + "\n"))
        return len(text)

    def flush(self) -> None:
        """Write what is buffered, redacted."""
        if self._pending:
            pending, self._pending = self._pending, ""
            _write(self._stream, self._redact(pending))
        self._stream.flush()

    def isatty(self) -> bool:
        """Whether the real stream is a terminal."""
        return self._stream.isatty()

    @property
    def encoding(self) -> str:
        """The real stream's encoding."""
        return getattr(self._stream, "encoding", "utf-8")


def _write(stream, text: str) -> None:
    """Write text that may hold lone surrogates (from JSON input) to a real stream."""
    if not text:
        return
    data = text.encode("utf-8", "replace")
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        stream.flush()
        buffer.write(data)
        buffer.flush()
    else:
        stream.write(data.decode("utf-8"))
        stream.flush()


if __name__ == "__main__":
    sys.exit(main())
