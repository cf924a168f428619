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


MAX_DEPTH = 40        # nesting rendered with structure; deeper subtrees become their bare text (iteratively)


def adf_to_text(node: Any, depth: int = 0) -> str:
    """Plain text of an ADF node (or a list of nodes); strings pass through as they are.

    Untrusted input: a node of the wrong type (text as a list, attrs as a string, unknown types) renders as
    what text it holds, never raises; nesting deeper than MAX_DEPTH is flattened without recursion."""
    if node is None:
        return ""
    if isinstance(node, str):
        return node
    if depth > MAX_DEPTH:
        return _flat_text(node)
    if isinstance(node, list):
        return "".join(adf_to_text(n, depth + 1) for n in node)
    if not isinstance(node, dict):
        return str(node) if isinstance(node, (int, float)) else ""
    kind, attrs = node.get("type"), _dict(node.get("attrs"))
    if kind == "text":
        return _text(node)
    inline = _inline(kind, attrs)
    if inline is not None:
        return inline
    content = _nodes(node.get("content"))
    if kind in ("bulletList", "orderedList"):
        return _list(content, _order(attrs) if kind == "orderedList" else None, depth)
    if kind == "codeBlock":
        return "```\n" + adf_to_text(content, depth + 1).strip("\n") + "\n```\n"
    if kind == "table":
        return "".join(_row(row, depth) for row in content)
    if kind == "tableRow":
        return _row(node, depth)
    if kind == "listItem":
        return _list([node], None, depth)
    inner = adf_to_text(content, depth + 1)
    if kind == "rule":
        return "---\n"
    if kind in BLOCKS:
        return inner.rstrip("\n") + "\n"
    return inner


def _flat_text(node: Any) -> str:
    """Every `text` string under `node`, in document order, without recursion (for too-deep subtrees)."""
    out, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            if isinstance(item.get("text"), str):
                out.append(item["text"])
            stack.append(item.get("content"))
    return " ".join(out)


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _nodes(value) -> list:
    """A node's `content` as a list (a lone node wrapped; anything else: none)."""
    if isinstance(value, list):
        return value
    return [value] if isinstance(value, dict) else []


def _order(attrs: dict) -> int:
    try:
        return max(0, min(int(attrs.get("order") or 1), 10**6))
    except (TypeError, ValueError, OverflowError):
        return 1


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
        nodes = [n for n in _nodes(value.get("content")) if isinstance(n, dict)]
        for i, node in enumerate(nodes):
            if _is_acceptance_heading(node):
                level = _level(node) if node.get("type") == "heading" else 9
                taken = []
                for later in nodes[i + 1:]:
                    if later.get("type") == "heading" and _level(later) <= level:
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
    return bool(ACCEPTANCE.match(adf_to_text(_nodes(node.get("content"))).strip()))


def _level(node: dict) -> int:
    level = _dict(node.get("attrs")).get("level", 9)
    return level if isinstance(level, int) else 9


def _text(node: dict) -> str:
    text = node.get("text") if isinstance(node.get("text"), str) else ""
    for mark in node.get("marks") if isinstance(node.get("marks"), list) else []:
        if isinstance(mark, dict) and mark.get("type") == "link":
            href = _dict(mark.get("attrs")).get("href")
            if isinstance(href, str) and href and href != text:
                return f"{text} ({href})"
    return text


def _inline(kind, attrs: dict) -> str | None:
    """Inline atoms; None when `kind` is not one."""
    get = lambda name: _scalar(attrs.get(name))  # noqa: E731
    if kind == "hardBreak":
        return "\n"
    if kind == "mention":
        return get("text") or "@" + (get("id") or "someone")
    if kind == "emoji":
        return get("text") or get("shortName")
    if kind in ("inlineCard", "blockCard", "embedCard"):
        return f" {get('url')} " if kind == "inlineCard" else get("url") + "\n"
    if kind == "date":
        return get("timestamp")
    if kind == "status":
        return get("text")
    if kind in ("media", "mediaInline"):
        return f"[attachment: {get('alt')}]" if get("alt") else "[attachment]"
    return None


def _scalar(value) -> str:
    """A string or number attribute as text; anything else (a list, an object) as nothing."""
    return value if isinstance(value, str) else str(value) if isinstance(value, (int, float)) else ""


def _list(items: list, start: int | None, depth: int = 0) -> str:
    """List items as "- x" or "n. x"; an item's further lines (nested lists too) indented under it."""
    out = []
    for i, item in enumerate(items):
        marker = "- " if start is None else f"{start + i}. "
        body = adf_to_text(_nodes(_dict(item).get("content")), depth + 2).strip("\n")
        lines = body.split("\n") if body else [""]
        out.append(marker + lines[0])
        out += ["  " + line if line else line for line in lines[1:]]
    return "\n".join(out) + "\n"


def _row(row, depth: int = 0) -> str:
    cells = [" ".join(adf_to_text(_nodes(_dict(c).get("content")), depth + 2).split())
             for c in _nodes(_dict(row).get("content"))]
    return "| " + " | ".join(cells) + " |\n"
