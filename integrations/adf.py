"""Atlassian Document Format (Jira Cloud v3 descriptions and comments) as readable plain text.

Blocks go on their own lines; code blocks stay fenced; bullet lists become "- " items and ordered
lists "1. " items (nested ones indented); links read "text (url)"; tables become "| a | b |" rows;
mentions, emoji, dates and status lozenges become their text. Marks other than links are dropped.
`acceptance_section` finds an "Acceptance criteria" heading in a description (ADF, wiki or Markdown).
"""

from __future__ import annotations

import re
from typing import Any

BLOCKS = {"paragraph", "heading", "blockquote", "panel", "rule", "mediaSingle", "mediaGroup", "expand",
          "nestedExpand", "decisionItem", "taskItem", "decisionList", "taskList", "layoutSection",
          "layoutColumn", "doc", "bodiedExtension", "extension"}
ACCEPTANCE = re.compile(r"^\W{0,4}acceptance\s+criteria\W{0,4}$", re.IGNORECASE)
TEXT_HEADING = re.compile(r"^\s*(?:h[1-6]\.\s+|#{1,6}\s+)(.*)$")


def adf_to_text(node: Any) -> str:
    """Plain text of an ADF node (or a list of nodes); strings pass through as they are."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_to_text(n) for n in node)
    if not isinstance(node, dict):
        return str(node)
    kind, attrs = node.get("type"), node.get("attrs") or {}
    if kind == "text":
        return _text(node)
    inline = _inline(kind, attrs)
    if inline is not None:
        return inline
    content = node.get("content") or []
    if kind in ("bulletList", "orderedList"):
        return _list(content, int(attrs.get("order") or 1) if kind == "orderedList" else None)
    if kind == "codeBlock":
        return "```\n" + adf_to_text(content).strip("\n") + "\n```\n"
    if kind == "table":
        return "".join(_row(row) for row in content)
    if kind == "tableRow":
        return _row(node)
    if kind == "listItem":
        return _list([node], None)
    inner = adf_to_text(content)
    if kind == "rule":
        return "---\n"
    if kind in BLOCKS:
        return inner.rstrip("\n") + "\n"
    return inner


def description_text(value: Any) -> str:
    """A description as plain text, whether a v2 string or a v3 ADF document."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = adf_to_text(value)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def acceptance_section(value: Any) -> str:
    """The text under an "Acceptance criteria" heading (up to the next heading), or ''."""
    if isinstance(value, dict):
        nodes = value.get("content") or []
        for i, node in enumerate(nodes):
            if _is_acceptance_heading(node):
                level = (node.get("attrs") or {}).get("level", 9) if node.get("type") == "heading" else 9
                taken = []
                for later in nodes[i + 1:]:
                    if later.get("type") == "heading" and (later.get("attrs") or {}).get("level", 9) <= level:
                        break
                    taken.append(later)
                return description_text({"type": "doc", "content": taken})
        return ""
    lines = str(value or "").splitlines()
    for i, line in enumerate(lines):
        heading = TEXT_HEADING.match(line)
        if ACCEPTANCE.match((heading.group(1) if heading else line).strip()):
            taken = []
            for later in lines[i + 1:]:
                if TEXT_HEADING.match(later):
                    break
                taken.append(later)
            return "\n".join(taken).strip("\n")
    return ""


def _is_acceptance_heading(node: dict) -> bool:
    if node.get("type") not in ("heading", "paragraph"):
        return False
    return bool(ACCEPTANCE.match(adf_to_text(node.get("content") or []).strip()))


def _text(node: dict) -> str:
    text = node.get("text") or ""
    for mark in node.get("marks") or []:
        if mark.get("type") == "link":
            href = (mark.get("attrs") or {}).get("href") or ""
            if href and href != text:
                return f"{text} ({href})"
    return text


def _inline(kind: str, attrs: dict) -> str | None:
    """Inline atoms; None when `kind` is not one."""
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return attrs.get("text") or "@" + str(attrs.get("id") or "someone")
    if kind == "emoji":
        return attrs.get("text") or attrs.get("shortName") or ""
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return f" {attrs.get('url') or ''} " if kind == "inlineCard" else (attrs.get("url") or "") + "\n"
    if kind == "date":
        return str(attrs.get("timestamp") or "")
    if kind == "status":
        return attrs.get("text") or ""
    if kind in ("media", "mediaInline"):
        return f"[attachment: {attrs.get('alt')}]" if attrs.get("alt") else "[attachment]"
    return None


def _list(items: list, start: int | None) -> str:
    """List items as "- x" or "n. x"; an item's further lines (nested lists too) indented under it."""
    out = []
    for i, item in enumerate(items):
        marker = "- " if start is None else f"{start + i}. "
        body = adf_to_text((item or {}).get("content") or []).strip("\n")
        lines = body.split("\n") if body else [""]
        out.append(marker + lines[0])
        out += ["  " + line if line else line for line in lines[1:]]
    return "\n".join(out) + "\n"


def _row(row: dict) -> str:
    cells = [" ".join(adf_to_text(c.get("content") or []).split()) for c in row.get("content") or []]
    return "| " + " | ".join(cells) + " |\n"
