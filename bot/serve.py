"""`droid serve`: the Slack app in Socket Mode (SLACK_APP_TOKEN set) or over HTTP on /slack/events.

Start-up failures (configuration, database, port in use, Socket Mode refusing the token) are one
line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from bot.logs import configure
from bot.orchestration.recovery import recover
from bot.orchestration.schedules import start_scheduler
from bot.settings import Settings, SettingsError
from bot.slack.app import build_app, build_deps
from bot.slack.http_server import DroidHTTPServer
from bot.slack.sentry_webhook import sentry_route
from bot.tickets.routes import any_configured, ticket_routes

log = logging.getLogger("droid.serve")
# Acks must not wait behind planning threads holding the GIL: switch threads 10x more often than
# CPython's default (5 ms). Measured by bench/ack_latency.py, which applies it to both apps.
SWITCH_INTERVAL = 0.0005


class StartupError(Exception):
    """serve cannot start; the message is the one line the operator sees."""


def cli_main(argv: list[str]) -> int:
    """Load settings, start serving, recover unfinished runs, then serve until interrupted."""
    parser = argparse.ArgumentParser(prog="droid serve")
    parser.add_argument("--port", type=int, help="HTTP port (default: PORT or 3000; 0 picks a free port)")
    parser.add_argument("--host", help="bind address (default: DROID_HOST or 0.0.0.0)")
    args = parser.parse_args(argv)
    try:
        return _serve(args)
    except StartupError as exc:
        print(f"droid serve: {exc}", file=sys.stderr)
        return 2


def _serve(args) -> int:
    try:
        settings = Settings.from_env(require_slack=True)
    except SettingsError as exc:
        raise StartupError("not configured: " + "; ".join(exc.problems)) from None
    port = settings.port if args.port is None else args.port
    host = args.host or settings.host
    if not 0 <= port <= 65535:
        raise StartupError(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    sys.setswitchinterval(SWITCH_INTERVAL)
    signal.signal(signal.SIGTERM, _interrupt)   # a stop from systemd/docker shuts down like Ctrl-C
    if settings.broker_url:   # workers execute the runs: without Redis nothing could run
        from bot.orchestration.executors import BrokerUnavailable, check_broker
        try:
            check_broker(settings.broker_url)
        except BrokerUnavailable as exc:
            raise StartupError(f"{exc} (start Redis, or unset DROID_BROKER_URL to run everything in-process)") from None
    deps = _step("cannot open the database", build_deps, settings)
    configure(deps.redact)
    app = build_app(settings, deps)
    try:
        server = _http_server(app, deps, settings, host, port)
    except StartupError:
        deps.runner.shutdown(wait=False)
        raise
    scheduler = start_scheduler(deps, settings.plan_expiry_hours)
    try:
        recovered = recover(deps)
        if recovered:
            log.info("recovered %d unfinished runs: %s", len(recovered), ", ".join(recovered))
        if settings.slack_app_token:
            _socket_mode(app, settings, server)
        else:
            log.info("droid serving HTTP on %s:%d (POST /slack/events, /sentry/webhook, /jira/webhook, "
                     "/github/webhook; GET /health)",
                     server.host, server.port)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
        if server is not None:
            server.shutdown()
        deps.runner.shutdown(wait=True)
    return 0


def _http_server(app, deps, settings: Settings, host: str, port: int) -> DroidHTTPServer | None:
    """Bind the HTTP server (Slack's endpoint, or only the Sentry and ticket webhooks in Socket Mode)."""
    routes = {"/sentry/webhook": sentry_route(deps), **ticket_routes(deps)}
    if settings.slack_app_token and not (settings.sentry_webhook_secret or any_configured(settings)):
        return None
    slack_app = None if settings.slack_app_token else app
    return _step(f"cannot listen on {host}:{port}", DroidHTTPServer, slack_app, port, host=host, routes=routes)


def _socket_mode(app, settings: Settings, webhooks: DroidHTTPServer | None) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler
    if webhooks is not None:   # Sentry, Jira and GitHub still need an HTTP endpoint to call
        webhooks.start()
        log.info("webhooks on %s:%d (/sentry/webhook, /jira/webhook, /github/webhook)", webhooks.host, webhooks.port)
    handler = SocketModeHandler(app, settings.slack_app_token)
    _step("Socket Mode could not connect to Slack", handler.connect)
    log.info("droid serving in Socket Mode")
    threading.Event().wait()


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _step(what: str, func, *args, **kwargs):
    """Run one start-up step; any failure becomes a StartupError with a one-line reason."""
    try:
        return func(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 — start-up failures are reported, not raised
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise StartupError(f"{what}: {type(exc).__name__}: {reason}") from None
