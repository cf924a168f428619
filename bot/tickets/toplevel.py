"""A ticket run's thread: opened by its first post, top-level in the mapped channel (outbox semantics).

A ticket run is created with an empty `thread_ts`. Its rows are queued like any run's (in order, inside the
state change's transaction); when the deliverer reaches one it asks `resolve`: the run's thread if the
first post already opened it, else this post opens it — sent top-level, and its ts recorded as the run's
`thread_ts` in the same commit that settles the row (with `plan_ts` for a plan). A crash between the post
and that commit leaves the row with a counted attempt: `find_in_channel` then finds the message by its
metadata in the channel's history instead of posting it twice. A post that would open the thread and that
Slack refuses for good (`not_in_channel`, `channel_not_found`…) fails the run (`opening_lost`): nobody could
see or approve it, and an active run would keep the ticket from starting another.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from bot.slack import blocks, mrkdwn
from bot.tickets.triggers import synthetic

log = logging.getLogger("droid.tickets")
GONE = {"channel_not_found", "not_in_channel", "is_archived", "missing_scope", "unknown_method"}
LOOKBACK = 600.0     # seconds before the row was queued that a post of it could carry (clock skew margin)


def resolve(store, item) -> bool:
    """Fill in a ticket run's row's thread from the run; True when this row is the post that opens it."""
    if item.thread_ts:
        return False
    run = store.runs.get(item.run_id)
    if run is None or not synthetic(run.trigger_ts):
        return False
    item.thread_ts = run.thread_ts or None
    return item.kind == "post" and not item.thread_ts


def name_the_ticket(store, item) -> None:
    """A ticket run's opening post that is not its plan (planning failed, say) starts with the ticket it is about:
    alone in the channel it would not say where it comes from. Changes only this attempt's payload."""
    if item.event_type == "droid_plan" or not isinstance(item.payload.get("blocks"), list):
        return
    run = store.runs.get(item.run_id)
    ticket = ((run.context if run else None) or {}).get("ticket") or {}
    key = str((ticket.get("ref") or {}).get("key") or "")
    if not key:
        return
    line = blocks.ticket_line({"key": key, "title": ticket.get("title") or ""})     # no link: URL not re-checked
    text = mrkdwn.render(f"{key} — {mrkdwn.one_line(ticket.get('title') or '')}: ") + str(item.payload.get("text"))
    item.payload = {**item.payload, "text": text[:blocks.MAX_TEXT], "blocks": [*blocks.sections(line),
                                                                              *item.payload["blocks"]][:50]}


def find_in_channel(client, item, take_token, is_row) -> str | None:
    """The ts of this row's top-level message if an earlier attempt posted it (by its metadata), else None."""
    cursor = None
    oldest = f"{max(0.0, item.created_at - LOOKBACK):.6f}"
    while True:
        take_token("conversations.history", item)
        try:
            page = client.conversations_history(channel=item.channel, oldest=oldest, cursor=cursor,
                                                include_all_metadata=True, limit=200)
        except SlackApiError as exc:
            if str(exc.response.get("error") or "") in GONE:
                return None
            raise
        for message in page.get("messages") or []:
            if is_row(message, item):
                return message.get("ts")
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not page.get("has_more") or not cursor:
            return None
