"""The `droid` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, function, help). Each function takes the remaining argv and returns an
# exit code; modules are imported only when their subcommand runs (no import-time side effects).
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("bot.serve", "cli_main", "run the Slack app (Socket Mode or HTTP)"),
    "demo": ("bot.demo", "cli_main", "the alert-to-RCA flow end to end, with no accounts at all"),
    "console": ("bot.console", "cli_main", "talk to droid in a terminal, no Slack workspace needed"),
    "doctor": ("bot.doctor", "cli_main", "check the configuration and every configured service"),
    "locate": ("skills.tools.search_code", "cli_main", "rank the files of a repository for a query"),
    "condense": ("skills.tools.condense", "cli_main", "condense a long log to the lines that matter"),
    "rca": ("skills.rca.cli", "cli_main", "root-cause evidence for a Sentry event in a git repository"),
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch `droid <subcommand> ...`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="droid", description="droid: delegate work to AI agents from Slack.")
    parser.add_argument("command", choices=sorted(SUBCOMMANDS), help="what to do")
    if not argv or argv[0] in ("-h", "--help"):
        parser.print_help()
        for name, (_, _, text) in sorted(SUBCOMMANDS.items()):
            print(f"  {name:10} {text}")
        return 0 if argv else 2
    args = parser.parse_args(argv[:1])
    module_name, func_name, _ = SUBCOMMANDS[args.command]
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
