"""Posting to Slack: every outbound message is redacted here, and long content goes to a file."""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import mrkdwn
from bot.blocks import Message

log = logging.getLogger("droid.poster")


class SlackPoster:
    """droid's only way to write to Slack."""

    def __init__(self, client: WebClient, redact):
        self.client = client
        self.redact = redact

    def post(self, channel: str, thread_ts: str | None, message: Message, metadata: dict | None = None) -> str:
        """Post in a thread (or the channel); upload the overflow file; return the message ts.

        `metadata` is Slack message metadata ({"event_type": ..., "event_payload": {...}}). Messages a
        thread must not lose go through the outbox (bot/deliverer.py) instead of this direct path.
        """
        response = self.client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                                text=self.redact(message.text),
                                                blocks=self.redact.data(message.blocks), unfurl_links=False,
                                                unfurl_media=False,
                                                metadata=metadata)
        if message.file:
            self.upload(channel, thread_ts or response["ts"], *message.file)
        return response["ts"]

    def update(self, channel: str, ts: str, message: Message) -> bool:
        """Edit a message in place; best effort (False when Slack refused)."""
        try:
            self.client.chat_update(channel=channel, ts=ts, text=self.redact(message.text),
                                    blocks=self.redact.data(message.blocks))
            return True
        except SlackApiError as exc:
            log.warning("chat.update failed: %s", exc.response.get("error"))
            return False

    def ephemeral(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> None:
        """A message only `user` sees; best effort."""
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=self.redact(mrkdwn.render(text)),
                                           thread_ts=thread_ts)
        except SlackApiError as exc:
            log.warning("chat.postEphemeral failed: %s", exc.response.get("error"))

    def react(self, channel: str, ts: str, name: str) -> None:
        """Add a reaction; best effort (already_reacted is fine)."""
        try:
            self.client.reactions_add(channel=channel, timestamp=ts, name=name)
        except SlackApiError as exc:
            if exc.response.get("error") != "already_reacted":
                log.warning("reactions.add failed: %s", exc.response.get("error"))

    def upload(self, channel: str, thread_ts: str | None, filename: str, content: str | bytes,
               title: str | None = None) -> None:
        """Upload a file into the thread (files_upload_v2)."""
        if isinstance(content, str):
            content = self.redact(content)
        self.client.files_upload_v2(channel=channel, thread_ts=thread_ts, filename=filename,
                                    content=content, title=title or filename)
