"""Slack rate limits, centrally: the limiter, the enforcing stand-in, and a storm of runs through the real app."""

from __future__ import annotations

import time
from collections import Counter

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.local.slack_standin import SlackStandIn
from bot.orchestration.status import StatusMessage
from bot.slack import ratelimit
from bot.slack.blocks import Message
from bot.slack.poster import SlackPoster
from bot.slack.ratelimit import RESULT, STATUS, Limits, SlackLimiter
from tests.harness import BOT_TOKEN, TEAM, Droid, wait_for
from tests.repos import SERVICE_FILES, make_repo


def msg(text: str) -> Message:
    return Message(text, [])


class _Plain:
    def __call__(self, text):
        return text

    def data(self, value):
        return value


@pytest.fixture
def standin():
    s = SlackStandIn(team=TEAM).start()
    yield s
    s.stop()


def raw_client(standin: SlackStandIn) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=standin.api_url, retry_handlers=[])


def test_standin_enforces_the_posting_rate_with_retry_after(standin):
    standin.enforce_limits(Limits(post_per_second=1.0, post_burst=3))
    client = raw_client(standin)
    for i in range(3):
        client.chat_postMessage(channel="CA", text=f"burst {i}")
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="CA", text="one too many")
    assert refused.value.response.status_code == 429
    assert refused.value.response.headers.get("Retry-After") == "1"
    client.chat_postMessage(channel="CB", text="another channel has its own budget")
    assert standin.served_429 == {"chat.postMessage": 1}


def test_standin_enforces_method_tiers(standin):
    standin.enforce_limits(Limits(per_minute={1: 1, 2: 20, 3: 50, 4: 100}, burst={1: 1, 2: 3, 3: 5, 4: 10}))
    client = raw_client(standin)
    ts = client.chat_postMessage(channel="CA", text="x")["ts"]
    for _ in range(5):
        client.chat_update(channel="CA", ts=ts, text="edit")
    with pytest.raises(SlackApiError):
        client.chat_update(channel="CA", ts=ts, text="sixth edit inside a second")
    assert standin.served_429 == {"chat.update": 1}


def test_unenforced_standin_serves_no_429(standin):
    client = raw_client(standin)
    ts = client.chat_postMessage(channel="CA", text="x")["ts"]
    for _ in range(20):
        client.chat_update(channel="CA", ts=ts, text="edit")
    assert standin.served_429 == {}


def test_limiter_waits_for_posts_instead_of_meeting_429s(standin):
    standin.enforce_limits(Limits().scaled(4))
    limiter = SlackLimiter(Limits().scaled(4))
    poster = SlackPoster(raw_client(standin), _Plain(), limiter)
    started = time.monotonic()
    for i in range(12):
        poster.post("CA", None, msg(f"message {i}"))
    assert standin.served_429 == {}
    assert len(standin.messages["CA"]) == 12
    assert time.monotonic() - started > 1.5        # 12 posts at ~3.6/s with a burst of 2 cannot be instant


def test_status_edits_give_way_to_results_and_coalesce(standin):
    limits = Limits(per_minute={1: 1, 2: 20, 3: 120, 4: 100}, burst={1: 1, 2: 3, 3: 5, 4: 10})
    standin.enforce_limits(limits)
    limiter = SlackLimiter(limits)
    poster = SlackPoster(raw_client(standin), _Plain(), limiter)
    ts = poster.post("CA", None, msg("status"))
    status = StatusMessage(poster, "CA", ts, interval=0.01)
    for i in range(40):      # a busy run with results competing for chat.update
        status.set(msg(f"step {i}"))
        if i % 4 == 0:
            assert poster.update("CA", ts, msg(f"result {i}")) is True
        time.sleep(0.01)
    status.close(msg("final"))
    edits = standin.calls_to("chat.update")
    assert standin.served_429 == {}
    assert limiter.refused["chat.update"] > 0             # live edits were held back rather than sent
    assert len(edits) < 40 + 10                            # fewer edits than asked for
    assert edits[-1].args["text"] == "final"               # and the latest state still lands
    assert standin.messages["CA"][0]["text"] == "final"


def test_a_429_pauses_the_bucket(standin):
    limiter = SlackLimiter()
    poster = SlackPoster(raw_client(standin), _Plain(), limiter)
    standin.fail_next("chat.update", status=429, body={"ok": False, "error": "ratelimited"},
                      headers={"Retry-After": "3"})
    ts = poster.post("CA", None, msg("x"))
    assert poster.update("CA", ts, msg("refused")) is False
    assert limiter.throttled["chat.update"] == 1
    assert poster.update("CA", ts, msg("live edit while paused"), live=True) is None
    started = time.monotonic()
    assert limiter.acquire("chat.update", "CA", lane=RESULT)
    assert 1.0 < time.monotonic() - started < 5      # the rest of the 3 s pause, not a 429 round trip


def test_limiter_is_shared_per_workspace():
    a = ratelimit.limiter_for("http://127.0.0.1:1/api/", "xoxb-1")
    assert ratelimit.limiter_for("http://127.0.0.1:1/api/", "xoxb-1") is a
    assert ratelimit.limiter_for("http://127.0.0.1:2/api/", "xoxb-1") is not a
    assert SlackLimiter().acquire("chat.update", lane=STATUS)   # a fresh bucket has room for live edits


def test_storm_of_runs_meets_no_429_and_delivers_each_result_once(tmp_path):
    """30 runs at once in 3 channels, against a stand-in enforcing Slack's limits (5x faster to keep this short)."""
    limits = Limits().scaled(5)
    standin = SlackStandIn(team=TEAM).start().enforce_limits(limits)
    limiter = ratelimit.install(standin.api_url, BOT_TOKEN, SlackLimiter(limits))
    repo = make_repo(tmp_path / "service", SERVICE_FILES)
    droid = Droid(tmp_path, repo=repo, approvers=("UCAROL",), standin=standin)
    channels = ("CA", "CB", "CC")
    try:
        started = time.monotonic()
        runs = []
        for i in range(30):
            channel = channels[i % 3]
            _, ts = droid.mention(f"where is the retry logic for webhooks? #{i}", channel=channel)
            runs.append(droid.run_for(channel, ts))
        for run in runs:
            droid.wait_state(run.run_id, "awaiting_approval", timeout=40)

        def plans():
            return {post["thread_ts"]: droid.buttons(post)["droid_approve"] for channel in channels
                    for post in droid.posts(channel) if "droid_approve" in droid.buttons(post)}
        approvals = wait_for(lambda: len(p := plans()) == len(runs) and p, timeout=40, what="every plan posted")
        for run in runs:
            droid.click("droid_approve", approvals[run.thread_ts], channel=run.channel)
        for run in runs:
            assert droid.wait_state(run.run_id, "succeeded", "failed", timeout=40).state == "succeeded"
        assert droid.deps.runner.deliverer.drain(30)
        elapsed = time.monotonic() - started
        results = Counter(p["thread_ts"] for c in channels for p in droid.posts(c) if "Search results" in p["text"])
        assert results == Counter({run.thread_ts: 1 for run in runs})       # each result once, none lost
        assert standin.served_429 == {}, standin.served_429
        assert droid.deps.poster.limiter is limiter
        assert limiter.calls["chat.postMessage"] >= 90
        assert elapsed < 60, elapsed
    finally:
        droid.close()


def test_status_interval_is_not_broken_without_pressure(standin):
    poster = SlackPoster(raw_client(standin), _Plain(), SlackLimiter())
    ts = poster.post("CA", None, msg("status"))
    status = StatusMessage(poster, "CA", ts, interval=0.01)
    status.set(msg("one"))
    wait_for(lambda: standin.calls_to("chat.update"), what="a live edit")
    assert standin.calls_to("chat.update")[-1].args["text"] == "one"
