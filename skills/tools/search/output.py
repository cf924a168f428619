"""Hits rendered for the model: one bounded line per file."""

from __future__ import annotations

from skills.tools.search.ranking import FileHit


def _fmt_ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{s}-{e}" if e != s else str(s) for s, e in ranges)


def format_hits(hits: list[FileHit], max_chars: int = 4000) -> str:
    """One line per file, best first: `path (score) — symbols: a, b; lines 10-40, 88-120`, bounded."""
    if not hits:
        return "No matching files."
    lines: list[str] = []
    used = 0
    for i, hit in enumerate(hits):
        parts = []
        if hit.symbols:
            parts.append("symbols: " + ", ".join(hit.symbols))
        if hit.ranges:
            parts.append("lines " + _fmt_ranges(hit.ranges))
        line = f"{hit.path} ({hit.score:.2f})" + (" — " + "; ".join(parts) if parts else "")
        if len(line) > 400:
            line = line[:397] + "..."
        more = f"[... {len(hits) - i} more files]"
        if used + len(line) + 1 > max_chars - (len(more) + 1 if i + 1 < len(hits) else 0):
            if used + len(more) <= max_chars:
                lines.append(more)
            break
        lines.append(line)
        used += len(line) + 1
    text = "\n".join(lines)
    return text[:max_chars]
