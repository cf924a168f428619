"""`droid condense FILE [--max-lines N] [--baseline PASSING_FILE] [--format json|text]`."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator

from skills.tools.condense_file import NotText, check_text, condense_file

MAX_BUDGET = 10_000
PROG = "droid condense"


def budget(text: str) -> int:
    """--max-lines: a whole number from 1 to MAX_BUDGET."""
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BUDGET:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_BUDGET}, got {text!r}")
    return value


def cli_main(argv: list[str]) -> int:
    """Condense a log file (or standard input) of any size to the lines that matter."""
    from bot.cli import ArgParser, fail, output_redactor

    parser = ArgParser(prog=PROG, description="Condense a long log to the lines that matter.")
    parser.add_argument("file", help="the log to condense ('-' for standard input)")
    parser.add_argument("--max-lines", type=budget, default=100,
                        help=f"at most this many lines of the log (1 to {MAX_BUDGET}, default 100)")
    parser.add_argument("--baseline", help="a passing log of the same command: lines also found there count less")
    parser.add_argument("--format", choices=("json", "text"), default="text")
    args = parser.parse_args(argv)
    if args.file == "-" and args.baseline == "-":
        return fail(PROG, "only one of FILE and --baseline can be standard input")
    try:
        with _local(args.file) as path, _local(args.baseline) as base:
            check_text(path, args.file)
            if base is not None:
                check_text(base, args.baseline)
            result = condense_file(path, args.max_lines, base)
    except NotText as exc:
        return fail(PROG, str(exc))
    except OSError as exc:
        return fail(PROG, f"cannot read {exc.filename or args.file}: {exc.strerror or exc}")
    redact = output_redactor()
    text = redact(result.text)
    if args.format == "json":
        print(json.dumps({"kept_lines": result.kept_lines, "text": text}))
    else:
        print(text)
    return 0


@contextlib.contextmanager
def _local(name: str | None) -> Iterator[str | None]:
    """A path for `name`; standard input ('-') and pipes are copied to a temporary file first,
    so a log of any size can be read twice without being held in memory."""
    if name is None or (name != "-" and not _is_stream(name)):
        yield name
        return
    with tempfile.NamedTemporaryFile(prefix="droid-condense-", suffix=".log") as tmp:
        if name == "-":
            shutil.copyfileobj(sys.stdin.buffer, tmp, 1 << 20)
        else:
            with open(name, "rb") as source:
                shutil.copyfileobj(source, tmp, 1 << 20)
        tmp.flush()
        yield tmp.name


def _is_stream(name: str) -> bool:
    """Whether `name` is something that can be read only once (a pipe, a character device)."""
    try:
        mode = os.stat(name).st_mode
    except OSError:
        return False  # reading it reports the problem
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))
