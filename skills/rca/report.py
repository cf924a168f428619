"""The RCA report: a short Slack summary, and the full Markdown report as a file.

Everything here is derived from the deterministic evidence; possible root causes are ranked
hypotheses labelled CONFIRMED / LIKELY / INCONCLUSIVE by the rules of skills/rca/hypotheses.py,
never stated as fact. The uploaded Markdown report holds the whole Slack summary and more.

The summary is raw text for bot/slack/blocks.py, which escapes it for Slack; names from the event and
the repository (exception types, functions, files, code) are quoted with `mrkdwn.code` /
`mrkdwn.code_block` so they cannot end their backticks early.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

from bot.slack.mrkdwn import clean, code, code_block, one_line, plain

MAX_FRAMES, MAX_COMMITS = 3, 3


def what_broke(ev) -> str:
    """One line about the system: which exception, where."""
    exc = ev.exception or {}
    kind = exc.get("type") or exc.get("title") or "An error"
    value = _line((exc.get("value") or "").strip().splitlines()[0][:200]) if exc.get("value") else ""
    frame = next((f for f in ev.frames if f.file and not f.is_test), None)
    where = f" in {code(frame.function)} ({code(f'{frame.file}:{frame.line}')})" if frame else ""
    return f"{code(kind)}{': ' + value if value else ''} raised{where}."


def impact_line(ev) -> str:
    """Counts, users, first/last seen, release, environment."""
    impact = ev.impact or {}
    parts = []
    if impact.get("event_count") is not None:
        parts.append(f"{impact['event_count']:,} event{'s' if impact['event_count'] != 1 else ''}")
    if impact.get("user_count") is not None:
        parts.append(f"{impact['user_count']:,} user{'s' if impact['user_count'] != 1 else ''}")
    if impact.get("first_seen"):
        parts.append(f"first seen {_ago(impact['first_seen'])}")
    if impact.get("last_seen"):
        parts.append(f"last seen {_ago(impact['last_seen'])}")
    for key in ("release", "environment"):
        if impact.get(key):
            parts.append(f"{key} {code(impact[key])}")
    return ", ".join(parts) or "no counts available"


def frames_text(ev) -> str:
    """The top in-repository frames with the code around each line."""
    out = []
    for frame in [f for f in ev.frames if f.file][:MAX_FRAMES]:
        lines = "\n".join(f"{'→' if n == frame.line else ' '} {n:>5} {t}" for n, t in frame.code[-5:] or [])
        out.append(f"{code(f'{frame.file}:{frame.line}')} in {code(frame.function)}"
                   + (f"\n{code_block(lines)}" if lines else ""))
    return "\n".join(out) or "_No stack frame maps to a file in the repository._"


def commits_text(ev, pulls: dict[str, str] | None = None) -> str:
    """Ranked suspect commits with their evidence (and PR links when known)."""
    lines = []
    for i, c in enumerate(ev.suspect_commits[:MAX_COMMITS], 1):
        age = f", {_hours(c.age_before_first_seen)} before first seen" if c.age_before_first_seen is not None else ""
        pr = f" · {pulls[c.sha]}" if pulls and pulls.get(c.sha) else ""
        why = "; ".join(c.reasons[:2])
        lines.append(f"{i}. {code(c.sha[:10])} {_line(c.subject[:80])} — {_line(c.author)}{age}{pr}\n"
                     f"      _{_line(why)}_")
    return "\n".join(lines) or "_No commit before first-seen touched the frames' code._"


def hypotheses(ev) -> list[str]:
    """Ranked possible root causes, each labelled CONFIRMED / LIKELY / INCONCLUSIVE by the
    rules in skills/rca/hypotheses.py, with its first pieces of evidence."""
    from skills.rca.hypotheses import INCONCLUSIVE, verdict, what_to_check

    hyps = list(getattr(ev, "hypotheses", []) or [])
    block = [f"*Hypotheses* — {_line(verdict(hyps))}"]
    for i, h in enumerate(hyps, 1):
        block.append(f"*Hypothesis {i} — {h.label}:* {_line(h.statement)}.\n"
                     f"      _{_line('; '.join(h.evidence[:2]))}_")
    out = ["\n".join(block)]
    if all(h.label == INCONCLUSIVE for h in hyps):
        out.append("*What to check*\n" + "\n".join(f"• {_line(c)}" for c in what_to_check(ev, hyps)))
    return out


def next_steps(ev) -> list[str]:
    """Concrete things to do next: the top hypothesis's checks, then the buttons."""
    hyps = list(getattr(ev, "hypotheses", []) or [])
    steps = [_line(c[:1].upper() + c[1:]) + "." for c in (hyps[0].checks if hyps else [])]
    if not steps and ev.suspect_locations:
        loc = ev.suspect_locations[0]
        steps.append(f"Reproduce with a test calling {code(loc.function)} with the event's inputs.")
    steps.append("Click *Draft a fix* for a code-change plan with this analysis as context, "
                 "or *Create Jira ticket* to track it.")
    return steps


def summary(ev, *, pulls=None, narrative: str = "") -> str:
    """The short report posted in the alert's thread."""
    parts = [f"*What broke:* {what_broke(ev)}", f"*Impact:* {impact_line(ev)}",
             f"*Top frames*\n{frames_text(ev)}", f"*Suspect commits*\n{commits_text(ev, pulls)}"]
    parts += hypotheses(ev)
    if narrative:
        parts.append(f"*Model's reading of the evidence*\n{narrative}")
    parts.append("*Next steps*\n" + "\n".join(f"• {s}" for s in next_steps(ev)))
    return "\n\n".join(parts)


def full_markdown(ev, title: str, issue_url: str | None, *, pulls=None,
                  narrative: str = "") -> str:
    """The full report for the file in the thread: everything the Slack message says
    (hypotheses, next steps, the model's reading) and more — discarded theories, the evidence
    tables, every frame and every command run. Nothing quoted can break out of its fences."""
    head = f"# Root-cause analysis: {_line(title)}\n\n" + (f"Sentry issue: {_line(issue_url)}\n\n" if issue_url else "")
    body = slack_to_markdown(plain(summary(ev, pulls=pulls, narrative=narrative)))
    return clean(head + "## Summary\n\n" + body + "\n\n" + _fence_safe(ev).to_markdown())


def _line(text) -> str:
    """Foreign text on one line: no line breaks (a heading, a list), no fence (3+ backticks → ˋˋˋ), no invisibles."""
    return one_line(text or "")


def _quoted(text) -> str:
    """One line quoted inside a Markdown fence: it cannot close the fence (3+ backticks → ˋˋˋ)."""
    return re.sub(r"~{3,}", lambda m: "\u223c" * len(m.group(0)), _line(text))


def _fence_safe(value):
    """A copy of the evidence in which every string is one quoted line: nothing from the event or the
    repository can start a heading or open or close the report's code fences."""
    if isinstance(value, str):
        return _quoted(value)
    if isinstance(value, list | tuple):
        return type(value)(_fence_safe(v) for v in value)
    if isinstance(value, dict):
        return {k: _fence_safe(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **{f.name: _fence_safe(getattr(value, f.name))
                                             for f in dataclasses.fields(value) if f.init})
    return value


def slack_to_markdown(text: str) -> str:
    """Slack mrkdwn → Markdown: `*bold*` → `**bold**`, `<url|label>` → `[label](url)`."""
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"[\2](\1)", text)
    return re.sub(r"(?<![*\w])\*([^*\n]+)\*(?![*\w])", r"**\1**", text)


def _ago(iso: str) -> str:
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    seconds = (datetime.now(UTC) - (when if when.tzinfo else when.replace(tzinfo=UTC))).total_seconds()
    if seconds < 0:
        return when.strftime("%Y-%m-%d %H:%M UTC")
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago ({when.strftime('%Y-%m-%d %H:%M UTC')})"
    return "just now"


def _hours(delta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:.1f} d" if hours >= 48 else f"{hours:.1f} h"
