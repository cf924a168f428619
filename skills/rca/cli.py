"""`droid rca --event FILE --repo PATH [--format json|md]`: root-cause evidence for one event."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from integrations.sentry_event import parse_event
from integrations.sentry_values import parse_timestamp

PROG = "droid rca"
MAX_EVENT_BYTES = 20 << 20
MAX_DEPTH = 100  # Sentry's own payloads nest about 10 deep
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class BadInput(ValueError):
    """The input cannot be analysed; the message says why, on one line."""


def positive(text: str) -> int:
    """A whole number from 1 to 1000."""
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 1000, got {text!r}")
    return value


def cli_main(argv: list[str] | None = None) -> int:
    """Print the evidence for a Sentry event (SDK, API or webhook JSON) in a git repository."""
    from bot.cli import ArgParser, fail, output_redactor

    parser = ArgParser(
        prog=PROG, description="Deterministic root-cause evidence for a Sentry event in a git repository.")
    parser.add_argument("--event", required=True,
                        help="JSON file: a Sentry event as an SDK sends it, as the API returns "
                             "it, or a webhook body ('-' reads stdin)")
    parser.add_argument("--repo", required=True, help="local git repository with its history")
    parser.add_argument("--format", choices=("json", "md"), default="json")
    parser.add_argument("--first-seen", help="when the issue was first seen (ISO 8601 or epoch); "
                        "default: from the payload, else the event time")
    parser.add_argument("--max-locations", type=positive, default=10)
    parser.add_argument("--max-commits", type=positive, default=5)
    args = parser.parse_args(argv)

    try:
        payload = load_event(args.event)
        repo = check_repo(Path(args.repo))
        first_seen = parse_timestamp(args.first_seen) if args.first_seen else None
        if args.first_seen and first_seen is None:
            raise BadInput(f"cannot read --first-seen {args.first_seen!r} (ISO 8601 or epoch seconds)")
        event = parse_event(payload)
        if not (event.exceptions or event.title or event.message or event.event_id):
            raise BadInput("the JSON is not a Sentry event (no exception, title, message or event id)")
    except BadInput as exc:
        return fail(PROG, str(exc))

    from skills.rca.evidence import GitError, analyse

    redact = output_redactor()
    try:
        evidence = analyse(event, repo, first_seen, max_locations=args.max_locations,
                           max_commits=args.max_commits, redact=redact)
    except GitError as e:
        return fail(PROG, str(e), code=1)
    if args.format == "md":
        print(redact(evidence.to_markdown()))
    else:
        print(redact(json.dumps(redact.data(evidence.to_json()), indent=2, ensure_ascii=False)))
    return 0


def load_event(name: str) -> dict[str, Any]:
    """The event's JSON object from a file ('-': stdin); BadInput when it is not one."""
    try:
        if name == "-":
            data = sys.stdin.buffer.read(MAX_EVENT_BYTES + 1)
        else:
            with open(name, "rb") as fh:
                data = fh.read(MAX_EVENT_BYTES + 1)
    except OSError as exc:
        raise BadInput(f"cannot read the event {exc.filename or name}: {exc.strerror or exc}") from None
    if len(data) > MAX_EVENT_BYTES:
        raise BadInput(f"the event file is larger than {MAX_EVENT_BYTES >> 20} MB")
    try:
        payload = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadInput("the event file is not UTF-8 text") from None
    except RecursionError:
        raise BadInput(f"the event's JSON is nested too deeply (more than {MAX_DEPTH} levels)") from None
    except ValueError as exc:
        raise BadInput(f"the event file is not JSON: {exc}") from None
    if depth(payload) > MAX_DEPTH:
        raise BadInput(f"the event's JSON is nested too deeply (more than {MAX_DEPTH} levels)")
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # an API list of events: the latest comes first
    if not isinstance(payload, dict):
        raise BadInput(f"the event file must hold a JSON object, not {type(payload).__name__}")
    return sanitise(payload)


def depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON value (without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def sanitise(value: Any) -> Any:
    """The value with lone surrogates (valid JSON escapes, invalid text) replaced by U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [sanitise(v) for v in value]
    if isinstance(value, dict):
        return {sanitise(k): sanitise(v) for k, v in value.items()}
    return value


def check_repo(repo: Path) -> Path:
    """The repository path, when it is a git repository; BadInput otherwise."""
    if not repo.exists():
        raise BadInput(f"no repository at {repo}")
    if not repo.is_dir():
        raise BadInput(f"{repo} is not a directory")
    try:
        done = subprocess.run(["git", "-C", str(repo), "rev-parse", "--git-dir"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BadInput(f"cannot run git on {repo}: {exc}") from None
    if done.returncode != 0:
        raise BadInput(f"{repo} is not a git repository")
    return repo


if __name__ == "__main__":
    from bot.cli import main

    sys.exit(main(["rca", *sys.argv[1:]]))
