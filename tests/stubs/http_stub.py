"""A recording HTTP stub server for tests: bound to 127.0.0.1 on a free port, in a background thread.

Every request is recorded (method, path, query, headers, body). Failures are scriptable:
`stub.fail("/repos/o/n/pulls", 502, times=2)` makes the next two matching requests answer 502.
Subclasses answer with `route`. Used by the GitHub and Jira stubs.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Response = tuple[int, Any, dict[str, str]]  # status, body (JSON-able, bytes or str), headers


@dataclass
class Request:
    """One request the stub received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")


@dataclass
class Failure:
    """A scripted failure: the next `times` requests matching method/path answer `status`."""

    path: str                 # exact path, or a regular expression when it starts with "^"
    status: int
    times: int = 1
    method: str | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method:
            return False
        return bool(re.match(self.path, path)) if self.path.startswith("^") else self.path == path


class StubServer:
    """A ThreadingHTTPServer on 127.0.0.1:0 that records requests and can be told to fail."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self):
        handler = _make_handler(self)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server, "stub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- scripting and inspection

    def fail(self, path: str, status: int, *, times: int = 1, method: str | None = None, body: Any = None,
             headers: dict[str, str] | None = None) -> None:
        """The next `times` requests to `path` (exact, or a regex starting with ^) answer `status`."""
        with self._lock:
            self.failures.append(Failure(path, status, times, method, body, dict(headers or {})))

    def requests_to(self, path: str, method: str | None = None) -> list[Request]:
        """Recorded requests to `path` (exact, or a regex starting with ^), optionally by method."""
        probe = Failure(path, 0, method=method)
        with self._lock:
            return [r for r in self.requests if probe.matches(r.method, r.path)]

    # ---- to override

    def route(self, req: Request) -> Response:
        return 404, {"message": "Not Found"}, {}

    def failure_body(self, status: int) -> Any:
        return {"message": f"stub failure {status}"}

    # ---- internals

    def _handle(self, req: Request) -> Response:
        with self._lock:
            self.requests.append(req)
            failure = next((f for f in self.failures if f.times > 0 and f.matches(req.method, req.path)), None)
            if failure:
                failure.times -= 1
        if failure:
            body = failure.body if failure.body is not None else self.failure_body(failure.status)
            return failure.status, body, failure.headers
        try:
            return self.route(req)
        except Exception as exc:  # a bug in the stub must show up as a clear 500
            return 500, {"message": f"stub error: {type(exc).__name__}: {exc}"}, {}


def _make_handler(stub: StubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            req = Request(self.command, parts.path, parse_qs(parts.query, keep_blank_values=True),
                          dict(self.headers.items()), self._read_body())
            status, body, headers = stub._handle(req)
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            elif body is None:
                data = b""
            else:
                data = json.dumps(body).encode()
                headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    return Handler
