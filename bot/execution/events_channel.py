"""The Redis side of scale-out: the worker→control-plane event stream and the per-run control keys.

Workers append every message about a run to one Redis Stream; the control plane reads it through a
consumer group and acknowledges (XACK) a message only after recording it, so a control-plane
restart loses nothing (unacknowledged messages are read again). Control flows the other way
through small per-run keys: the attempt that may run, a stop flag, and a list of steering replies.
"""

from __future__ import annotations

import json
import time

import redis

STREAM = "droid:events"
GROUP = "control"
HEARTBEAT_SECONDS = 1.0
HEARTBEAT_TTL = 5          # an attempt whose heartbeat is older than this is lost
KEY_TTL = 7 * 24 * 3600


def connect(url: str) -> redis.Redis:
    """A Redis client for `url` that fails fast when Redis is unreachable."""
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=10, decode_responses=True)


def key(run_id: str, what: str) -> str:
    """The Redis key of one per-run control value: attempt, stop, inbox, beat:<attempt>."""
    return f"droid:run:{run_id}:{what}"


class WorkerSide:
    """What a worker running attempt `attempt` of run `run_id` sends and polls."""

    def __init__(self, client: redis.Redis, run_id: str, attempt: int):
        self.client, self.run_id, self.attempt = client, run_id, attempt
        self._last_beat = 0.0

    def send(self, kind: str, **data) -> None:
        """Append one message for the control plane (and beat the attempt's heart)."""
        body = json.dumps({"run_id": self.run_id, "attempt": self.attempt, "kind": kind, "data": data}, default=str)
        self.client.xadd(STREAM, {"m": body})
        self.beat()

    def beat(self, force: bool = False) -> None:
        """Say this attempt is alive (at most once a second)."""
        now = time.monotonic()
        if force or now - self._last_beat >= HEARTBEAT_SECONDS:
            self.client.set(key(self.run_id, f"beat:{self.attempt}"), "1", ex=HEARTBEAT_TTL)
            self._last_beat = now

    def started(self) -> None:
        """Mark the attempt as taken off the queue: from now on a lapsed heartbeat means it is lost."""
        pipe = self.client.pipeline()
        pipe.set(key(self.run_id, f"started:{self.attempt}"), "1", ex=KEY_TTL)
        pipe.set(key(self.run_id, f"beat:{self.attempt}"), "1", ex=HEARTBEAT_TTL)
        pipe.execute()
        self._last_beat = time.monotonic()

    def current(self) -> bool:
        """True while this attempt is the one the control plane claimed and no stop was asked."""
        self.beat()
        attempt, stop = self.client.mget(key(self.run_id, "attempt"), key(self.run_id, "stop"))
        return attempt == str(self.attempt) and not stop

    def steering(self) -> list[str]:
        """Steering replies queued for the run since the last call."""
        texts = []
        while (text := self.client.lpop(key(self.run_id, "inbox"))) is not None:
            texts.append(text)
        return texts


class ControlSide:
    """What the control plane reads from workers and writes for them."""

    def __init__(self, client: redis.Redis, consumer: str = "serve"):
        self.client, self.consumer = client, consumer
        try:
            client.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, block_ms: int = 500, pending: bool = False) -> list[tuple[str, dict]]:
        """The next messages: (id, message). `pending`: those read before but never acknowledged."""
        reply = self.client.xreadgroup(GROUP, self.consumer, {STREAM: "0" if pending else ">"}, count=100,
                                       block=None if pending else block_ms)
        return [(mid, json.loads(fields["m"])) for _, entries in reply or [] for mid, fields in entries if fields]

    def ack(self, message_id: str) -> None:
        """The message is recorded: drop it from the pending list."""
        self.client.xack(STREAM, GROUP, message_id)

    def claim(self, run_id: str, attempt: int) -> None:
        """Attempt `attempt` is now the only one that may run (older ones stop at their next poll)."""
        self.client.delete(key(run_id, "stop"))
        self.client.set(key(run_id, "attempt"), str(attempt), ex=KEY_TTL)

    def alive(self, run_id: str, attempt: int) -> bool:
        """True while the attempt waits in the queue (however long a backlog is) or its heartbeat is fresh."""
        started, beat = self.client.mget(key(run_id, f"started:{attempt}"), key(run_id, f"beat:{attempt}"))
        return not started or bool(beat)

    def stop(self, run_id: str) -> None:
        """Ask the worker running the run to stop at its next poll."""
        self.client.set(key(run_id, "stop"), "1", ex=KEY_TTL)

    def steer(self, run_id: str, text: str) -> None:
        """Queue a steering reply for the run's model loop."""
        self.client.rpush(key(run_id, "inbox"), text)
        self.client.expire(key(run_id, "inbox"), KEY_TTL)
