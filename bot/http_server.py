"""droid's HTTP server: Slack's events, interactivity and commands on /slack/events, plus /health.

A threaded stdlib server so a slow request never blocks the next ack; every request goes through
the Bolt app's `dispatch`, which verifies the signature.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App
from slack_bolt.request import BoltRequest

log = logging.getLogger("droid.http")
MAX_BODY = 5 * 1024 * 1024


def dispatch_raw(app: App, body: str, headers: dict[str, str]) -> tuple[int, dict, str]:
    """Hand a raw Slack request to the app; malformed bodies get a 400, never a crash."""
    try:
        request = BoltRequest(body=body, headers={k.lower(): v for k, v in headers.items()})
    except (ValueError, TypeError) as exc:
        log.warning("malformed Slack request body rejected: %s", exc)
        return 400, {"content-type": "text/plain"}, "malformed request body"
    try:
        response = app.dispatch(request)
    except Exception:
        log.exception("dispatch failed")
        return 500, {"content-type": "text/plain"}, "internal error"
    out_headers = {k: v[0] if isinstance(v, list) else v for k, v in response.headers.items()}
    return response.status, out_headers, response.body or ""


class DroidHTTPServer:
    """Serves the Bolt app over HTTP on `port` (0 picks a free one)."""

    def __init__(self, app: App, port: int, host: str = "0.0.0.0", routes: dict | None = None):
        self.app = app
        self.routes = {"/slack/events": self._slack, **(routes or {})}
        handler = self._handler_class()
        self.server = ThreadingHTTPServer((host, port), handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 128

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.server_address[1]

    def serve_forever(self) -> None:
        """Serve until shutdown()."""
        self.server.serve_forever(poll_interval=0.1)

    def start(self) -> DroidHTTPServer:
        """Serve in a background thread."""
        threading.Thread(target=self.serve_forever, daemon=True, name="droid-http").start()
        return self

    def shutdown(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()

    def _slack(self, body: str, headers: dict) -> tuple[int, dict, str]:
        return dispatch_raw(self.app, body, headers)

    def _handler_class(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                if self.path.split("?")[0] == "/health":
                    return self._send(200, {"content-type": "application/json"}, json.dumps({"ok": True}))
                self._send(404, {"content-type": "text/plain"}, "not found")

            def do_POST(self):  # noqa: N802
                route = outer.routes.get(self.path.split("?")[0])
                length = int(self.headers.get("content-length") or 0)
                if route is None or length > MAX_BODY:
                    self.rfile.read(min(length, MAX_BODY))
                    return self._send(404 if route is None else 413, {"content-type": "text/plain"}, "no")
                body = self.rfile.read(length).decode("utf-8", "replace")
                self._send(*route(body, dict(self.headers.items())))

            def _send(self, status: int, headers: dict, body: str):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                for key, value in headers.items():
                    if key.lower() != "content-length":
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                log.debug("%s " + fmt, self.address_string(), *args)

        return Handler
