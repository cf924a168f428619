"""pytest plugin: one real Sentry event per failing test, written by a file transport.

Loaded with `-p rca_capture` by bench/build_rca_bugsinpy.py (also on the fixed tree, for
the pytest shim alone). Settings come from the
environment: RCA_EVENTS (JSON-lines output), RCA_CONFIG (packages, release, timestamp,
path rewrites, source tree)."""

import json
import os
from pathlib import PurePosixPath

import pytest
import sentry_sdk
from _pytest.nodes import Node
from sentry_sdk.transport import Transport

if not hasattr(Node, "get_marker"):  # pytest 7 dropped it; old conftests still call it
    Node.get_marker = lambda self, name: self.get_closest_marker(name)

_CFG = json.loads(os.environ.get("RCA_CONFIG") or "null")  # None: shim only (fixed-tree run)
_OUT = os.environ.get("RCA_EVENTS")
_TEST_DIRS = {"test", "tests", "testing"}
_current = {"test": None}


def _is_test_path(path):
    p = PurePosixPath(path)
    return (bool(_TEST_DIRS & set(p.parts[:-1])) or p.name.startswith("test_")
            or p.name.endswith(("_test.py", "_tests.py")) or p.name == "conftest.py"
            or p.name in ("test.py", "tests.py"))


class FileTransport(Transport):
    """Appends the event item of each envelope the SDK hands over to RCA_EVENTS."""

    def capture_envelope(self, envelope):
        event = envelope.get_event()
        if event is not None:
            with open(_OUT, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"test": _current["test"], "event": event}) + "\n")

    def flush(self, timeout=None, callback=None):
        return None

    def kill(self):
        return None


def _before_send(event, hint):
    tree = _CFG["tree"].rstrip("/") + "/"
    for exc in (event.get("exception") or {}).get("values") or []:
        for fr in (exc.get("stacktrace") or {}).get("frames") or []:
            path = fr.get("abs_path") or ""
            if path.startswith(tree) and _is_test_path(path[len(tree):]):
                fr["in_app"] = False
    event["timestamp"] = _CFG["timestamp"]
    event["server_name"] = "bugsinpy-runner"
    text = json.dumps(event)
    for old, new in _CFG["rewrites"]:  # longest first
        text = text.replace(old, new)
    return json.loads(text)


def pytest_configure(config):
    if _CFG is None:
        return
    sentry_sdk.init(dsn="https://public@example.invalid/1", transport=FileTransport(),
                    default_integrations=False, in_app_include=_CFG["packages"],
                    release=_CFG["release"], before_send=_before_send)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if _CFG is not None and rep.failed and call.excinfo is not None:
        _current["test"] = item.nodeid
        ex = call.excinfo
        sentry_sdk.capture_exception((ex.type, ex.value, ex.tb))
        sentry_sdk.flush()

