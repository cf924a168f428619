"""`droid serve`: the Slack app in Socket Mode (SLACK_APP_TOKEN set) or over HTTP on /slack/events."""

from __future__ import annotations

import argparse
import logging
import sys

from bot.app import build_app, build_deps
from bot.http_server import DroidHTTPServer
from bot.logs import configure
from bot.recovery import recover
from bot.schedules import start_scheduler
from bot.sentry_webhook import sentry_route
from bot.settings import Settings, SettingsError

log = logging.getLogger("droid.serve")
# Acks must not wait behind planning threads holding the GIL: switch threads 10x more often than
# CPython's default (5 ms). Measured by bench/ack_latency.py, which applies it to both apps.
SWITCH_INTERVAL = 0.0005


def cli_main(argv: list[str]) -> int:
    """Load settings, recover unfinished runs, then serve until interrupted."""
    parser = argparse.ArgumentParser(prog="droid serve")
    parser.add_argument("--port", type=int, help="HTTP port (default: PORT or 3000)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(require_slack=True)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    sys.setswitchinterval(SWITCH_INTERVAL)
    deps = build_deps(settings)
    configure(deps.redact)
    app = build_app(settings, deps)
    scheduler = start_scheduler(deps, settings.plan_expiry_hours)
    recovered = recover(deps)
    if recovered:
        log.info("recovered %d unfinished runs: %s", len(recovered), ", ".join(recovered))
    try:
        if settings.slack_app_token:
            from slack_bolt.adapter.socket_mode import SocketModeHandler
            if settings.sentry_webhook_secret:   # Sentry still needs an HTTP endpoint to call
                webhooks = DroidHTTPServer(app, args.port or settings.port, routes={"/sentry/webhook": sentry_route(deps)})
                webhooks.routes.pop("/slack/events")
                webhooks.start()
                log.info("Sentry webhooks on :%d/sentry/webhook", webhooks.port)
            log.info("droid serving in Socket Mode")
            SocketModeHandler(app, settings.slack_app_token).start()
        else:
            server = DroidHTTPServer(app, args.port or settings.port, routes={"/sentry/webhook": sentry_route(deps)})
            log.info("droid serving HTTP on :%d (POST /slack/events, POST /sentry/webhook, GET /health)", server.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
        deps.runner.shutdown(wait=True)
    return 0
