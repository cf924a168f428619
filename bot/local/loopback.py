"""A loopback HTTP server in a background thread: the base of droid's in-process stand-ins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Serves every request with `handle(request_handler)` on 127.0.0.1 at a free port."""

    def start(self):
        """Start serving in a background thread."""
        handle: Callable[[BaseHTTPRequestHandler], None] = self.handle

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                handle(self)

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if getattr(self, "_server", None):
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request (subclasses)."""
        raise NotImplementedError
