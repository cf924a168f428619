"""Red team: secrets reaching logs and terminals by paths that skip droid's own log handler.

`droid worker` configured logging with a plain `basicConfig` and printed its broker URL (password and
all) when the broker was unreachable; Celery's and any library's handler format records themselves.
Now every record is redacted as it is made (bot/logs.py `redact_records`) and the long-running commands'
output is redacted line by line (bot/cli.py), so no handler and no print carries a secret.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.logs import redact_records
from integrations.redact import Redactor
from tests.canaries import CANARIES, leaks

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "CanaryBrokerPassw0rd"


def droid(*args: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m bot.cli ARGS` with only `env` configured."""
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env={**base, **env})


@pytest.mark.parametrize("url, said", [
    (f"redis://:{PASSWORD}@127.0.0.1:1/0", "cannot reach the broker"),             # password-only user info
    (f"redis://droid:{PASSWORD}@127.0.0.1:1/0", "cannot reach the broker"),
    (f"http://droid:{PASSWORD}@127.0.0.1:1/0", "must be a redis:// URL"),          # echoed by the settings check
])
def test_droid_worker_never_prints_its_broker_password(url: str, said: str):
    done = droid("worker", DROID_BROKER_URL=url)
    assert done.returncode == 2
    assert said in done.stderr, done.stderr
    assert PASSWORD not in done.stdout + done.stderr, done.stderr


@pytest.fixture
def records_redacted():
    before = logging.getLogRecordFactory()
    redact_records(Redactor())
    yield
    logging.setLogRecordFactory(before)


class Config:
    """An object whose repr carries a credential, as a settings or client object's might."""

    def __repr__(self) -> str:
        return f"Config(dsn={CANARIES['url_credentials'][0]!r}, token={CANARIES['github_pat'][0]!r})"


def test_a_foreign_handler_writes_only_redacted_records(records_redacted):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)          # a library's handler: its own plain formatter
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("celery.redteam")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("connecting with %r", Config())
        try:
            secret = CANARIES["slack_bot"][0]
            raise RuntimeError(f"auth failed for {secret}\n{CANARIES['private_key'][0]}")
        except RuntimeError:
            logger.exception("job failed: %s", {"headers": {"Authorization": f"Bearer {CANARIES['jwt'][0]}"}})
        logger.error("stack", stack_info=True, extra={"note": "x"})
        logger.info("args that do not format %s %s", "one")        # logging reports it; no crash here
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "RuntimeError" in out and "Traceback" in out and "connecting with Config(" in out
    assert not leaks(out), leaks(out)


def test_redaction_at_the_record_is_installed_once(records_redacted):
    factory = logging.getLogRecordFactory()
    redact_records(Redactor(["an-added-known-value-123"]))
    assert logging.getLogRecordFactory() is factory
    record = logging.getLogger("x").makeRecord("x", logging.INFO, "f", 1, "v=%s", ("an-added-known-value-123",), None)
    assert record.getMessage() == "v=[REDACTED]"
