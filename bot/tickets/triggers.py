"""Trigger ids: which event handed a ticket to droid, so each event makes exactly one run.

Jira: the id of the changelog history that added the droid label (a webhook carries it as `changelog.id`;
the poll reads it from `expand=changelog`) — the same id whichever path sees the change first. A ticket that
carries the label with no history adding it was created with it: "created". Relabelling (remove, add) makes
a new history, hence a new trigger. A JQL that does not select by the label gives one trigger per ticket,
"jql". GitHub: "opened" for an issue opened with the label, `labeled:<X-GitHub-Delivery>` for a labelling.
"""

from __future__ import annotations

SYNTHETIC_PREFIX = "ticket:"


def trigger_ts(ticket_key: str, trigger: str) -> str:
    """The run's stand-in for a Slack trigger message: `ticket:PAY-142:10233`."""
    return f"{SYNTHETIC_PREFIX}{ticket_key}:{trigger}"


def synthetic(ts: str | None) -> bool:
    """True for a ticket run's trigger "ts", which names no Slack message (nothing to react to)."""
    return str(ts or "").startswith(SYNTHETIC_PREFIX)


def adds_label(items: list, label: str) -> bool:
    """True when changelog `items` add `label` to the issue's labels."""
    for item in items or []:
        if not isinstance(item, dict) or str(item.get("field") or item.get("fieldId") or "").lower() != "labels":
            continue
        before = str(item.get("fromString") or "").split()
        after = str(item.get("toString") or "").split()
        if label in after and label not in before:
            return True
    return False


def poll_trigger(raw: dict, label: str) -> str:
    """The trigger id of an issue the JQL poll found (see the module docstring)."""
    labels = (raw.get("fields") or {}).get("labels") or []
    if label not in labels:
        return "jql"
    histories = ((raw.get("changelog") or {}).get("histories")) or []
    adding = [h for h in histories if isinstance(h, dict) and adds_label(h.get("items"), label)]
    if not adding:
        return "created"
    newest = max(adding, key=lambda h: (str(h.get("created") or ""), _number(h.get("id"))))
    return str(newest.get("id"))


def jira_webhook_trigger(payload: dict, label: str) -> str | None:
    """The trigger id of a Jira webhook delivery, or None when it does not hand the ticket to droid."""
    event = payload.get("webhookEvent")
    labels = ((payload.get("issue") or {}).get("fields") or {}).get("labels") or []
    if event == "jira:issue_created":
        return "created" if label in labels else None
    if event == "jira:issue_updated":
        changelog = payload.get("changelog") or {}
        if changelog.get("id") and adds_label(changelog.get("items"), label) and label in labels:
            return str(changelog["id"])
    return None


def github_trigger(event: str, payload: dict, label: str, delivery: str) -> str | None:
    """The trigger id of a GitHub `issues` delivery, or None when it does not hand the issue to droid."""
    if event != "issues" or not isinstance(payload.get("issue"), dict):
        return None
    action = payload.get("action")
    if action == "labeled" and (payload.get("label") or {}).get("name") == label and delivery:
        return f"labeled:{delivery}"
    names = [x.get("name") for x in payload["issue"].get("labels") or [] if isinstance(x, dict)]
    if action == "opened" and label in names:
        return "opened"
    return None


def _number(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0
