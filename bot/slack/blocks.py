"""Every Block Kit message droid posts is built here, and Slack's limits are enforced here.

Limits (see shared/fixtures/slack/block_kit_limits.json): 50 blocks a message, 3,000 characters a
section, 150 a header, 75 a button label, 2,000 a button value; we keep a whole message under
~10,000 characters of block text and the top-level `text` under 4,000. Longer content is split
into several sections, and past the total it is cut and the full text goes to a file.

Every builder takes raw text and makes it safe itself (bot/slack/mrkdwn.py): mrkdwn fields go through
`mrkdwn.render` (foreign text escaped, droid's sealed links and mentions kept), plain_text fields
and uploaded files through `mrkdwn.plain`. Callers never pre-escape; droid's own links and
mentions are built with `mrkdwn.link` / `mrkdwn.mention`, quoted code with `mrkdwn.code[_block]`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.slack import mrkdwn
from skills.plan import Plan

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 4000
MAX_MESSAGE_CHARS = 10_000
STEP_ICONS = {"pending": "◻️", "active": "⏳", "done": "✅", "failed": "❌", "skipped": "⏭️"}


@dataclass
class Message:
    """What to post: fallback text, blocks, and an optional file for what did not fit."""

    text: str
    blocks: list[dict]
    file: tuple[str, str] | None = None     # (filename, content)


def button_value(run_id: str, version: int) -> str:
    """Buttons carry only the run id and plan version."""
    return json.dumps({"run_id": run_id, "v": version}, separators=(",", ":"))


def parse_button_value(value: str) -> tuple[str, int]:
    """Inverse of button_value; raises ValueError on anything else."""
    data = json.loads(value)
    if not isinstance(data, dict) or not isinstance(data.get("run_id"), str) or not isinstance(data.get("v"), int):
        raise ValueError("not a droid button value")
    return data["run_id"], data["v"]


def _clip(text: str, limit: int) -> str:
    """At most `limit` chars ending in "…"; a word the limit cuts is dropped whole, so no token is left
    cut short (a prefix the redactor no longer recognises)."""
    if len(text) <= limit:
        return text
    head = _cut(text, limit - 1)
    if head and not head[-1].isspace() and not text[len(head)].isspace():
        space = max(head.rfind(" "), head.rfind("\n"), head.rfind("\t"))
        head = head[:space + 1] if space >= 0 else ""
    return head + "…"


def _cut(text: str, limit: int) -> str:
    """The first `limit` chars of rendered mrkdwn, never ending inside an `&…;` entity or a `<…>` link."""
    head = text[:limit]
    opened = head.rfind("<")
    if opened > head.rfind(">"):
        head = head[:opened]
    return re.sub(r"&[a-z]{0,3}$", "", head)


def header(text: str) -> dict:
    """A header block (plain text, ≤150 chars): no mrkdwn is parsed there, invisibles are removed."""
    return {"type": "header", "text": {"type": "plain_text", "text": _clip(mrkdwn.plain(text), MAX_HEADER),
                                       "emoji": True}}


def sections(text: str) -> list[dict]:
    """mrkdwn section blocks for raw `text` (rendered safe), split on line boundaries under 3,000 chars each."""
    chunks, current = [], ""
    for line in mrkdwn.render(text).splitlines() or [""]:
        while len(line) > MAX_SECTION:
            if current:
                chunks.append(current)
                current = ""
            head = _cut(line, MAX_SECTION) or line[:MAX_SECTION]
            chunks.append(head)
            line = line[len(head):]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > MAX_SECTION:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [{"type": "section", "text": {"type": "mrkdwn", "text": c}} for c in chunks if c.strip()]


def context(text: str) -> dict:
    """A small grey context line (raw text, rendered safe)."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(mrkdwn.render(text), MAX_SECTION)}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> dict:
    """A button element."""
    element = {"type": "button", "text": {"type": "plain_text", "text": _clip(mrkdwn.plain(label), 75),
                                          "emoji": True},
               "action_id": action_id, "value": value[:2000]}
    if style:
        element["style"] = style
    return element


def actions(block_id: str, *elements: dict) -> dict:
    """An actions block."""
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def fit(text: str, blocks: list[dict], *, filename: str = "droid-output.md", full_text: str | None = None) -> Message:
    """Enforce the limits: cut blocks past the budget and move the full content to a file.

    `text` (the notification fallback) and `full_text` are raw; `blocks` come from the builders above."""
    text = _clip(mrkdwn.render(text) or " ", MAX_TEXT)
    kept, used, overflow = [], 0, False
    tail = [b for b in blocks if b["type"] == "actions"]
    body = [b for b in blocks if b["type"] != "actions"]
    room = MAX_BLOCKS - len(tail) - 1
    for block in body:
        size = _block_chars(block)
        if len(kept) >= room or used + size > MAX_MESSAGE_CHARS:
            overflow = True
            break
        kept.append(block)
        used += size
    file = None
    if overflow:
        kept.append(context("_This was too long for one Slack message: the full text is in the attached file._"))
        file = (mrkdwn.plain(filename), mrkdwn.plain(full_text) if full_text is not None else _blocks_text(body))
    return Message(text, kept + tail, file)


def _block_chars(block: dict) -> int:
    return len(_blocks_text([block]))


def _blocks_text(blocks: list[dict]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                out.append(element["text"])
    return "\n".join(out)


# -- droid's messages ------------------------------------------------------------------------

def plan_message(run_id: str, plan: Plan, *, requester: str, with_buttons: bool = True,
                 banner: str = "") -> Message:
    """The plan posted for approval: goal, steps, footprint, risks, budget, version and buttons."""
    line = mrkdwn.one_line       # model and user text on its own line: no new list item, quote or fence
    lines = [f"*Goal:* {line(plan.goal)}", "", "*Steps*"]
    lines += [f"{i}. {line(s.title)}" + (f" — {line(s.detail)}" if s.detail else "")
              for i, s in enumerate(plan.steps, 1)]
    if plan.touches:
        lines += ["", "*Expects to touch:* " + ", ".join(mrkdwn.code(t) for t in plan.touches[:30])]
    if plan.risks:
        lines += ["", "*Risks*"] + [f"• {line(r)}" for r in plan.risks]
    cost = f", est. ≤ ${plan.budget.cost_usd:.2f}" if plan.budget.cost_usd is not None else ""
    budget = f"Budget: ≤ {plan.budget.steps} steps, ≤ {plan.budget.tokens:,} tokens{cost}"
    source = "drafted by the model" if plan.source == "model" else "from the skill's template"
    blocks = [header(f"Plan v{plan.version} · run {run_id}")]
    if plan.ticket:
        blocks += sections(ticket_line(plan.ticket))
    if banner:
        blocks += sections(banner)
    blocks += sections("\n".join(lines))
    if plan.note:
        blocks += sections(f"_{plan.note}_")
    if plan.repo:         # a channel with several repositories: which one, and why
        blocks.append(context(f"📁 Repository: {mrkdwn.code(plan.repo)} — {line(plan.repo_why)}"))
    asked = f"requested by {mrkdwn.mention(requester)}" if requester or not plan.ticket else \
        f"requested by {plan.ticket.get('key') or 'a ticket'} (its reporter is nobody in Slack: an approver decides)"
    blocks.append(context(f"{budget} · plan {source} · {asked}"))
    if with_buttons:
        value = button_value(run_id, plan.version)
        blocks.append(actions("run_actions", button("Approve", "droid_approve", value, "primary"),
                              button("Revise", "droid_revise", value),
                              button("Cancel", "droid_cancel", value, "danger")))
    text = f"Plan v{plan.version} for run {run_id}: {line(plan.goal)}"
    return fit(text, blocks, filename=f"plan-{run_id}-v{plan.version}.md", full_text="\n".join(lines))


def ticket_line(ticket: dict) -> str:
    """🎫 KEY (a droid link when the ticket's URL is one of its own shapes) — its title, as raw text."""
    key, url = str(ticket.get("key") or "?"), str(ticket.get("url") or "")
    issue = re.fullmatch(r"(.+)#(\d+)", key)
    shaped = url.endswith(f"/browse/{key}") or bool(issue and url.endswith(f"/{issue[1]}/issues/{issue[2]}"))
    shown = mrkdwn.link(url, key) if url and shaped else mrkdwn.code(key)
    return f"🎫 {shown} — {mrkdwn.one_line(ticket.get('title') or '')}"


def plan_closed_message(run_id: str, plan: Plan, outcome: str) -> Message:
    """The plan message after a decision: same content, buttons replaced by the outcome."""
    message = plan_message(run_id, plan, requester="", with_buttons=False)
    blocks = [b for b in message.blocks if b["type"] != "context" or "requested by" not in _blocks_text([b])]
    return Message(message.text, [*blocks, context(outcome)], message.file)


def budget_message(run_id: str, plan: Plan, reason: str) -> Message:
    """The run paused at a limit: Extend approves a plan version with more budget, Stop ends it."""
    value = button_value(run_id, plan.version)
    text = (f"⏸️ Run {run_id} paused at {reason.rstrip('.').removeprefix('Stopped at ')}. "
            f"Extend to ≤ {plan.budget.steps} steps / ≤ {plan.budget.tokens:,} tokens (plan v{plan.version}), or stop.")
    blocks = [*sections(text), actions("run_actions", button("Extend", "droid_approve", value, "primary"),
                                       button("Stop", "droid_cancel", value, "danger"))]
    return fit(text, blocks)


def status_message(run_id: str, plan: Plan | None, headline: str, *, running: bool) -> Message:
    """The one status message of a run, edited in place as it progresses."""
    lines = [headline]
    if plan:
        lines += [f"{STEP_ICONS.get(s.status, '◻️')} {i}. {mrkdwn.one_line(s.title)}" for i, s in enumerate(plan.steps, 1)]
    blocks = sections("\n".join(lines))
    if running:
        blocks.append(actions("run_status", button("Stop", "droid_stop", button_value(run_id, plan.version if plan else 0),
                                                   "danger")))
    return fit(f"run {run_id}: {headline}", blocks)


def result_message(title: str, body: str, *, filename: str, buttons=(), value: str = "") -> Message:
    """A result reply: title plus body (split, or moved to a file when long), and follow-up buttons."""
    blocks = sections(f"*{mrkdwn.one_line(title)}*\n{body}")
    if buttons:
        blocks.append(actions("run_followups", *(button(label, action_id, value) for label, action_id in buttons)))
    return fit(f"{title}\n{body}", blocks, filename=filename, full_text=f"# {title}\n\n{body}")


def notice(text: str) -> Message:
    """A short reply (raw text, rendered safe; droid's links and mentions as mrkdwn tokens)."""
    return fit(text, sections(text), full_text=text)


def revise_modal(run_id: str, version: int) -> dict:
    """The modal asking what to change in the plan."""
    return {
        "type": "modal", "callback_id": "droid_revise_submit",
        "private_metadata": button_value(run_id, version),
        "title": {"type": "plain_text", "text": "Revise the plan"},
        "submit": {"type": "plain_text", "text": "Revise"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [{"type": "input", "block_id": "feedback",
                    "label": {"type": "plain_text", "text": f"What should change in plan v{version}?"},
                    "element": {"type": "plain_text_input", "action_id": "text", "multiline": True,
                                "max_length": 3000}}],
    }
