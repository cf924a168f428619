"""The evidence as a Markdown document."""

from __future__ import annotations

from skills.rca.model import Evidence


def hypotheses_markdown(ev: Evidence) -> list[str]:
    """The ranked, labelled hypotheses with their evidence and checks (or what to check)."""
    from skills.rca.hypotheses import verdict, what_to_check

    out = ["## Hypotheses", "", f"Verdict: **{verdict(ev.hypotheses)}**", ""]
    for i, h in enumerate(ev.hypotheses, start=1):
        out.append(f"{i}. **{h.label}** — {h.statement}")
        out += [f"   - evidence: {e}" for e in h.evidence]
        out += [f"   - check: {c}" for c in h.checks]
    if all(h.label == "INCONCLUSIVE" for h in ev.hypotheses):
        out += ["", "What to check:"] + [f"- {c}" for c in what_to_check(ev, ev.hypotheses)]
    return out + [""]


def markdown(ev: Evidence) -> str:
    """The whole evidence: impact, hypotheses, locations, commits, frames, notes, commands."""
    out: list[str] = [f"# Root-cause evidence: {ev.headline}", ""]
    imp = ev.impact
    facts = [
        ("Events", imp.get("event_count")), ("Users", imp.get("user_count")),
        ("First seen", imp.get("first_seen")), ("Last seen", imp.get("last_seen")),
        ("Release", imp.get("release")), ("Environment", imp.get("environment")),
        ("Level", imp.get("level")), ("Handled", imp.get("handled")),
        ("Transaction", imp.get("transaction")), ("URL", imp.get("url")),
    ]
    out += ["## Impact", ""]
    out += [f"- **{k}**: {v}" for k, v in facts if v not in (None, "")]
    if imp.get("notable_tags"):
        tags = ", ".join(f"`{k}={v}`" for k, v in list(imp["notable_tags"].items())[:12])
        out.append(f"- **Tags**: {tags}")
    out += ["", "## Code that ran", "",
            f"`{ev.commit[:12] if ev.commit else 'unknown'}` — {ev.commit_reason}", ""]
    out += hypotheses_markdown(ev)
    out += ["## Suspect locations", "", "| # | location | function | score | why |",
            "|---|---|---|---|---|"]
    for i, s in enumerate(ev.suspect_locations, start=1):
        why = "; ".join(s.reasons[:3]).replace("|", "\\|")
        out.append(f"| {i} | `{s.file}:{s.line}` | `{s.qualname or s.function}` | "
                   f"{s.score:.2f} | {why} |")
    out += ["", "## Suspect commits", ""]
    if not ev.suspect_commits:
        out.append("No commit before first seen touches the code in question.")
    for i, c in enumerate(ev.suspect_commits, start=1):
        date = c.date.date().isoformat() if c.date else "?"
        out.append(f"{i}. `{c.sha[:10]}` {c.subject[:80]} — {c.author}, {date} "
                   f"(score {c.score:.2f})")
        out += [f"   - {r}" for r in c.reasons]
    out += ["", "## Frames (innermost first)", ""]
    shown = [f for f in ev.frames if f.file or f.in_app][:12]
    for f in shown:
        where = f"{f.file}:{f.line}" if f.file else f"{f.raw_path}:{f.line} (not in repository)"
        tag = "test/caller code" if f.is_test else ("in-app" if f.in_app else "not in-app")
        out.append(f"### `{f.scope or f.function}` — {where} ({tag})")
        if f.last_change:
            out.append(f"Line last changed in `{f.last_change['sha'][:10]}` by "
                       f"{f.last_change['author']} ({f.last_change['date'][:10]}).")
        if f.code:
            out.append("```")
            out += [f"{'>' if n == f.line else ' '} {n:5d}  {t}" for n, t in f.code]
            out.append("```")
        if f.context_matches is False:
            out.append("_The event recorded different code on this line._")
        out.append("")
    if ev.discarded:
        out += ["## Discarded theories", ""] + [f"- {d}" for d in ev.discarded] + [""]
    if ev.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in ev.notes] + [""]
    out += ["## Commands run", "", "```"] + ev.commands[:60] + ["```", ""]
    return "\n".join(out)
