"""Recognise a Sentry alert in a Slack message: Sentry's Block Kit format, its legacy attachments, or a link."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

SLACK_LINK = re.compile(r"<(https?://[^|>]+)(?:\|([^>]*))?>")
SHORT_ID = re.compile(r"\b([A-Z][A-Z0-9_-]*-[A-Z0-9]+)\b")


@dataclass
class AlertRef:
    """Which Sentry issue an alert is about, as far as the message tells."""

    source: str                 # "block_kit" | "attachments" | "link"
    issue_id: str | None = None
    short_id: str | None = None
    org: str | None = None
    title: str | None = None
    url: str | None = None

    @property
    def key(self) -> str | None:
        """The issue id when known, else the short id (resolved through the API later)."""
        return self.issue_id or self.short_id


def alert_from_message(message: dict, *, from_person: bool = False) -> AlertRef | None:
    """The alert in a Slack message, or None. People's messages count only when they link an issue."""
    if not from_person:
        for parse in (_from_blocks, _from_attachments):
            alert = parse(message)
            if alert:
                return alert
    return _from_link(message)


def _from_blocks(message: dict) -> AlertRef | None:
    for block in message.get("blocks") or []:
        try:
            block_id = json.loads(block.get("block_id") or "")
        except (TypeError, ValueError):
            continue
        if isinstance(block_id, dict) and block_id.get("issue") is not None:
            text = (block.get("text") or {}).get("text", "")
            url, label = _first_link(text)
            org = _org(url)
            title = (label or "").strip("*") or message.get("text")
            return AlertRef("block_kit", str(block_id["issue"]), None, org, _title(message, title), url)
    return None


def _from_attachments(message: dict) -> AlertRef | None:
    for attachment in message.get("attachments") or []:
        footer = attachment.get("footer") or ""
        short = SHORT_ID.match(footer.strip())
        link = attachment.get("title_link") or _first_link(attachment.get("text") or "")[0]
        parsed = _parse_url(link) if link else None
        if not (short or parsed):
            continue
        title = attachment.get("fallback") or attachment.get("title")
        return AlertRef("attachments", parsed[1] if parsed else None, short.group(1) if short else None,
                        parsed[0] if parsed else None, title, link)
    return None


def _from_link(message: dict) -> AlertRef | None:
    text = message.get("text") or ""
    for url, _ in SLACK_LINK.findall(text) + [(u, "") for u in re.findall(r"https?://\S+", text)]:
        parsed = _parse_url(url)
        if parsed:
            return AlertRef("link", parsed[1], None, parsed[0], f"Sentry issue {parsed[1]}", url)
    return None


def _first_link(text: str) -> tuple[str | None, str | None]:
    match = SLACK_LINK.search(text or "")
    return (match.group(1), match.group(2)) if match else (None, None)


def _parse_url(url: str | None):
    from integrations.sentry_links import parse_issue_url
    return parse_issue_url(url) if url else None


def _org(url: str | None) -> str | None:
    parsed = _parse_url(url)
    return parsed[0] if parsed else None


def _title(message: dict, fallback: str | None) -> str | None:
    text = message.get("text") or ""
    return text.split("] ", 1)[1] if text.startswith("[") and "] " in text else (fallback or text or None)
