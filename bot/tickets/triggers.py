"""Trigger ids: which event handed a ticket to droid, so each event makes exactly one run.

Jira: the id of the changelog history that added the droid label (a webhook carries it as `changelog.id`;
the poll reads it from `expand=changelog`) — the same id whichever path sees the change first. A ticket that
carries the label with no history adding it was created with it: "created". Relabelling (remove, add) makes
a new history, hence a new trigger. A JQL that does not select by the label gives one trigger per ticket,
"jql". GitHub: "opened" for an issue opened with the label, `labeled:<X-GitHub-Delivery>` for a labelling.
"""

from __future__ import annotations

import re

SYNTHETIC_PREFIX = "ticket:"
_ID = re.compile(r"[0-9A-Za-z_.:-]{1,100}", re.ASCII)    # what a changelog or delivery id may look like


def trigger_ts(ticket_key: str, trigger: str) -> str:
    """The run's stand-in for a Slack trigger message: `ticket:PAY-142:10233`."""
    return f"{SYNTHETIC_PREFIX}{ticket_key}:{trigger}"


def synthetic(ts: str | None) -> bool:
    """True for a ticket run's trigger "ts", which names no Slack message (nothing to react to)."""
    return str(ts or "").startswith(SYNTHETIC_PREFIX)


def adds_label(items: list, label: str) -> bool:
    """True when changelog `items` add `label` to the issue's labels."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or str(item.get("field") or item.get("fieldId") or "").lower() != "labels":
            continue
        before = _text(item.get("fromString")).split()
        after = _text(item.get("toString")).split()
        if label in after and label not in before:
            return True
    return False


def poll_trigger(raw: dict, label: str) -> str:
    """The trigger id of an issue the JQL poll found (see the module docstring)."""
    if label not in _labels(_get(raw, "fields", "labels")):
        return "jql"
    histories = _get(raw, "changelog", "histories")
    adding = [h for h in histories if isinstance(h, dict) and adds_label(h.get("items"), label)
              and _id(h.get("id"))] if isinstance(histories, list) else []
    if not adding:
        return "created"
    newest = max(adding, key=lambda h: (_text(h.get("created")), _number(h.get("id"))))
    return _id(newest.get("id"))


def jira_webhook_trigger(payload: dict, label: str) -> str | None:
    """The trigger id of a Jira webhook delivery, or None when it does not hand the ticket to droid."""
    event = payload.get("webhookEvent")
    labels = _labels(_get(payload, "issue", "fields", "labels"))
    if event == "jira:issue_created":
        return "created" if label in labels else None
    if event == "jira:issue_updated":
        changelog = payload.get("changelog")
        if not isinstance(changelog, dict):
            return None
        history = _id(changelog.get("id"))
        if history and adds_label(changelog.get("items"), label) and label in labels:
            return history
    return None


def github_trigger(event: str, payload: dict, label: str, delivery: str) -> str | None:
    """The trigger id of a GitHub `issues` delivery, or None when it does not hand the issue to droid."""
    if event != "issues" or not isinstance(payload.get("issue"), dict):
        return None
    action = payload.get("action")
    if action == "labeled" and _get(payload, "label", "name") == label and _id(delivery):
        return f"labeled:{delivery}"
    labels = payload["issue"].get("labels")
    names = [x.get("name") for x in labels if isinstance(x, dict)] if isinstance(labels, list) else []
    if action == "opened" and label in names:
        return "opened"
    return None


def _get(value, *path):
    """value[path…] through dicts only; None where a step is missing or not an object."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _labels(value) -> list[str]:
    """The label names in an issue's `labels` (a list of strings); [] for anything else (a string is not a list)."""
    return [x for x in value if isinstance(x, str)] if isinstance(value, list) else []


def _id(value) -> str:
    """A changelog or delivery id as text, when it has an id's shape (a number, or a short token); else ""."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    return value if isinstance(value, str) and _ID.fullmatch(value) else ""


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def _number(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return 0
