"""droid's HTTP server: Slack on /slack/events, the Sentry webhook, and /health, served by waitress.

waitress (pure Python) reads whole requests on its I/O thread before a worker thread sees them, so a
slow or lying client ties up no worker; it refuses bodies over `max_request_body_size` (413) and
malformed framing such as `Content-Length: -1` (400), listens with a real backlog, and closes idle
connections after `channel_timeout`. Slack requests are shape-checked by `bot.slack.ingress` and then
handed to Bolt through its WSGI adapter.
"""

from __future__ import annotations

import io
import json
import logging
import threading

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.middleware.request_verification import RequestVerification
from slack_bolt.request import BoltRequest
from waitress import wasyncore
from waitress.server import create_server

from bot.slack import ingress
from bot.slack.middleware.sanitize import clean_text

log = logging.getLogger("droid.http")
BACKLOG = 1024           # listen() queue: 20+ simultaneous fresh connections never wait for a SYN retry
THREADS = 4              # WSGI worker threads; Bolt hands listeners to its own pool and returns at the ack
CHANNEL_TIMEOUT = 10     # seconds a connection may sit idle (or stall mid-body) before it is closed
TEXT = {"content-type": "text/plain; charset=utf-8"}
# A route: (body, headers) -> (status, headers, body). body is the decoded UTF-8 text, or the raw
# bytes when the route sets `wants_bytes = True` on itself (what a signature is computed over). A route
# whose key ends with "/" and that sets `wants_path = True` serves every path under it, called with the path too.
SHAPE_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError, OverflowError)


def dispatch_raw(app: App, body: str, headers: dict[str, str]) -> tuple[int, dict, str]:
    """Hand a raw Slack request to the app after the ingress checks; never raises."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    rejection = ingress.check_slack(raw, headers, _secret(app))
    if rejection:
        log.warning("Slack request refused (%d): %s", rejection.status, rejection.reason)
        return rejection.status, dict(TEXT), rejection.reason
    try:
        response = app.dispatch(BoltRequest(body=raw.decode("utf-8"), headers={k.lower(): v for k, v in headers.items()}))
    except Exception:  # noqa: BLE001 — Bolt catches listener errors itself; this is a bug, logged
        log.exception("dispatch failed")
        return 500, dict(TEXT), "internal error"
    out = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    return response.status, out, response.body or ""


def _secret(app: App) -> str | None:
    """The app's signing secret when it verifies requests (Bolt keeps both privately)."""
    verifies = any(isinstance(m, RequestVerification) for m in getattr(app, "_middleware_list", ()))
    return getattr(app, "_signing_secret", None) if verifies else None


class DroidWSGI:
    """The WSGI application: routes, the ingress checks, then Bolt's WSGI adapter."""

    def __init__(self, app: App | None, routes: dict | None = None):
        self.app = app
        self.bolt = SlackRequestHandler(app) if app is not None else None
        self.routes = dict(routes or {})

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/health" and method in ("GET", "HEAD"):
            return _reply(start_response, 200, {"content-type": "application/json"}, json.dumps({"ok": True}))
        if method != "POST":
            return _reply(start_response, 404 if path not in self._paths() else 405, TEXT, "not found")
        raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        headers = _headers(environ)
        if path == "/slack/events" and self.bolt is not None:
            return self._slack(environ, start_response, raw, headers)
        route = self.routes.get(path) or self._prefixed(path)
        if route is None:
            return _reply(start_response, 404, TEXT, "not found")
        return _reply(start_response, *self._route(route, path, raw, headers))

    def _prefixed(self, path: str):
        """A route registered for a path prefix (its key ends with "/"; it sets `wants_path`), e.g. /jira/webhook/."""
        return next((route for prefix, route in self.routes.items() if prefix.endswith("/")
                     and getattr(route, "wants_path", False) and path.startswith(prefix)), None)

    def _paths(self) -> set[str]:
        return set(self.routes) | ({"/slack/events"} if self.bolt is not None else set())

    def _slack(self, environ, start_response, raw: bytes, headers: dict):
        rejection = ingress.check_slack(raw, headers, _secret(self.app))
        if rejection:
            log.warning("Slack request refused (%d): %s", rejection.status, rejection.reason)
            return _reply(start_response, rejection.status, TEXT, rejection.reason)
        environ = {**environ, "wsgi.input": io.BytesIO(raw), "CONTENT_LENGTH": str(len(raw))}
        try:
            return self.bolt(environ, start_response)
        except Exception:  # noqa: BLE001 — Bolt catches listener errors itself; this is a bug, logged
            log.exception("Slack dispatch failed")
            return _reply(start_response, 500, TEXT, "internal error")

    @staticmethod
    def _route(route, path: str, raw: bytes, headers: dict) -> tuple[int, dict, str]:
        body: str | bytes = raw
        if not getattr(route, "wants_bytes", False):
            try:
                body = raw.decode("utf-8")
            except UnicodeDecodeError:
                log.warning("%s: body is not UTF-8, refused", path)
                return 400, TEXT, "body is not UTF-8"
        try:
            return route(body, headers, path) if getattr(route, "wants_path", False) else route(body, headers)
        except SHAPE_ERRORS as exc:   # a payload of the wrong shape that the route did not expect
            log.warning("%s: malformed payload refused: %s", path, type(exc).__name__)
            return 400, TEXT, "malformed payload"
        except Exception:  # noqa: BLE001
            log.exception("%s failed", path)
            return 500, TEXT, "internal error"


def _headers(environ) -> dict[str, str]:
    out = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            out[key.replace("_", "-").lower()] = environ[key]
    return out


def _reply(start_response, status: int, headers: dict, body: str | bytes):
    data = clean_text(body).encode("utf-8") if isinstance(body, str) else body   # a route may echo input
    start_response(f"{status} {_REASONS.get(status, 'Status')}",
                   [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
                   + [("Content-Length", str(len(data)))])
    return [data]


_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}


class DroidHTTPServer:
    """Serves the Bolt app (and extra routes) with waitress on `host:port`; port 0 picks a free one."""

    def __init__(self, app: App | None, port: int, host: str = "0.0.0.0", routes: dict | None = None,
                 *, threads: int = THREADS, backlog: int = BACKLOG, channel_timeout: int = CHANNEL_TIMEOUT):
        self.app = app
        self.wsgi = DroidWSGI(app, routes)
        self.server = create_server(self.wsgi, host=host, port=port, threads=threads, backlog=backlog,
                                    channel_timeout=channel_timeout, cleanup_interval=max(1, channel_timeout // 5),
                                    max_request_body_size=ingress.MAX_BODY, connection_limit=512,
                                    asyncore_use_poll=True, ident="droid", expose_tracebacks=False)
        self._thread: threading.Thread | None = None

    @property
    def routes(self) -> dict:
        """Extra routes (path -> handler) besides /slack/events and /health."""
        return self.wsgi.routes

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.server.effective_port)

    @property
    def host(self) -> str:
        """The bound address."""
        return self.server.effective_host

    def serve_forever(self) -> None:
        """Serve until shutdown() (or KeyboardInterrupt)."""
        self.server.run()

    def start(self) -> DroidHTTPServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="droid-http")
        self._thread.start()
        return self

    def shutdown(self) -> None:
        """Stop serving: close the socket and every connection (on the I/O thread), then the workers."""
        if self._thread is not None and self._thread.is_alive():
            try:
                self.server.trigger.pull_trigger(lambda: wasyncore.close_all(self.server._map))  # noqa: SLF001
            except OSError:     # the loop's wake-up pipe is already closed: close from here, the loop then ends
                wasyncore.close_all(self.server._map)  # noqa: SLF001
            self._thread.join(timeout=5)
        else:
            wasyncore.close_all(self.server._map)  # noqa: SLF001
        self.server.task_dispatcher.shutdown(timeout=5)
