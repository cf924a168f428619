"""`droid rca --event FILE --repo PATH [--format json|md]`: root-cause evidence for one event."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from integrations.sentry_event import parse_event, parse_timestamp


def cli_main(argv: list[str] | None = None) -> int:
    """Print the evidence for a Sentry event (SDK, API or webhook JSON) in a git repository."""
    parser = argparse.ArgumentParser(
        prog="droid rca",
        description="Deterministic root-cause evidence for a Sentry event in a git repository.")
    parser.add_argument("--event", required=True,
                        help="JSON file: a Sentry event as an SDK sends it, as the API returns "
                             "it, or a webhook body ('-' reads stdin)")
    parser.add_argument("--repo", required=True, help="local git repository with its history")
    parser.add_argument("--format", choices=("json", "md"), default="json")
    parser.add_argument("--first-seen", help="when the issue was first seen (ISO 8601 or epoch); "
                        "default: from the payload, else the event time")
    parser.add_argument("--max-locations", type=int, default=10)
    parser.add_argument("--max-commits", type=int, default=5)
    args = parser.parse_args(argv)

    try:
        raw = sys.stdin.read() if args.event == "-" else Path(args.event).read_text("utf-8")
        payload = json.loads(raw)
    except (OSError, ValueError) as e:
        print(f"droid rca: cannot read the event: {e}", file=sys.stderr)
        return 2
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]  # an API list of events: the latest comes first
    if not isinstance(payload, dict):
        print("droid rca: the event file must hold a JSON object", file=sys.stderr)
        return 2
    repo = Path(args.repo)
    if not repo.exists():
        print(f"droid rca: no repository at {repo}", file=sys.stderr)
        return 2
    first_seen = parse_timestamp(args.first_seen) if args.first_seen else None
    if args.first_seen and first_seen is None:
        print(f"droid rca: cannot read --first-seen {args.first_seen!r}", file=sys.stderr)
        return 2

    from skills.rca.evidence import GitError, analyse

    event = parse_event(payload)
    try:
        evidence = analyse(event, repo, first_seen, max_locations=args.max_locations,
                           max_commits=args.max_commits)
    except GitError as e:
        print(f"droid rca: {e}", file=sys.stderr)
        return 1
    if args.format == "md":
        print(evidence.to_markdown())
    else:
        print(json.dumps(evidence.to_json(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(cli_main())
