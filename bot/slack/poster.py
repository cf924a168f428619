"""Posting to Slack: every outbound message is redacted here, and long content goes to a file."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import mrkdwn, ratelimit
from bot.slack.blocks import Message

log = logging.getLogger("droid.poster")


class SlackPoster:
    """droid's only way to write to Slack (besides the outbox); every call waits for the limiter first."""

    def __init__(self, client: WebClient, redact, limiter: ratelimit.SlackLimiter | None = None):
        self.client = client
        self.redact = redact
        self.limiter = limiter or ratelimit.limiter_for(client.base_url, client.token)

    def _call(self, method: str, where: str | None, fn, /, *, lane: str = ratelimit.RESULT, **kwargs):
        """One Web API call through the limiter; None when a STATUS-lane call was refused (coalesce it)."""
        if not self.limiter.acquire(method, where, lane=lane):
            if lane == ratelimit.STATUS:
                return None
            log.warning("%s: no rate-limit token in time; calling anyway", method)
        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            if (wait := ratelimit.retry_after(exc)) is not None:
                self.limiter.throttled_by_slack(method, where, wait)
            raise

    def post(self, channel: str, thread_ts: str | None, message: Message, metadata: dict | None = None) -> str:
        """Post in a thread (or the channel); upload the overflow file; return the message ts.

        `metadata` is Slack message metadata ({"event_type": ..., "event_payload": {...}}). Messages a
        thread must not lose go through the outbox (bot/orchestration/deliverer.py) instead of this direct path.
        """
        response = self._call("chat.postMessage", channel, self.client.chat_postMessage, channel=channel,
                              thread_ts=thread_ts, text=self.redact(message.text),
                              blocks=self.redact.data(message.blocks), unfurl_links=False, unfurl_media=False,
                              metadata=metadata)
        if message.file:
            self.upload(channel, thread_ts or response["ts"], *message.file)
        return response["ts"]

    def update(self, channel: str, ts: str, message: Message, *, live: bool = False) -> bool | None:
        """Edit a message in place; best effort (False when Slack refused).

        `live` edits (a status message's progress) are the first to give way: None means the limiter
        kept the token for results and nothing was sent, so the caller should try again later.
        """
        lane = ratelimit.STATUS if live else ratelimit.RESULT
        try:
            done = self._call("chat.update", channel, self.client.chat_update, lane=lane, channel=channel, ts=ts,
                              text=self.redact(message.text), blocks=self.redact.data(message.blocks))
            return None if done is None else True
        except SlackApiError as exc:
            log.warning("chat.update failed: %s", exc.response.get("error"))
            return False

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """A message only `user` sees; best effort."""
        try:
            self._call("chat.postEphemeral", channel, self.client.chat_postEphemeral, channel=channel, user=user,
                       text=self.redact(mrkdwn.render(text)), thread_ts=thread_ts)
        except SlackApiError as exc:
            log.warning("chat.postEphemeral failed: %s", exc.response.get("error"))

    def react(self, channel: str, ts: str, name: str) -> None:
        """Add a reaction; best effort (already_reacted is fine), and skipped when Slack's budget is short."""
        try:
            self._call("reactions.add", channel, self.client.reactions_add, lane=ratelimit.STATUS, channel=channel,
                       timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.warning("reactions.add failed: %s", exc.response.get("error"))

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str | bytes,
               title: str | None = None) -> None:
        """Upload a file into the thread (files_upload_v2)."""
        content = redacted_content(self.redact, content)
        filename = self.redact(mrkdwn.one_line(mrkdwn.plain(filename))) or "droid-file"
        title = self.redact(mrkdwn.one_line(mrkdwn.plain(title))) if title else filename
        self.limiter.acquire("files.getUploadURLExternal", channel)
        self._call("files.completeUploadExternal", channel, self.client.files_upload_v2, channel=channel,
                   thread_ts=thread_ts, filename=filename, content=content, title=title)


def redacted_content(redact, content: str | bytes) -> str | bytes:
    """A file's content redacted: text, and bytes that are UTF-8 text (a log passed as bytes); images stay as they are
    (droid draws only redacted text into them)."""
    if isinstance(content, str):
        return redact(content)
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content
    return content if "\x00" in text else redact(text).encode("utf-8")
