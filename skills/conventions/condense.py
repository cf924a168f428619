"""Conventions Markdown condensed for the model: headings, bullets, prose and command blocks; no badges,
HTML, comments or boilerplate sections. Parsed with markdown-it-py (CommonMark), not with regexes,
so fences, indented code and inline HTML are told apart the way renderers do."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

BOILERPLATE = re.compile(r"^\W*(licen[cs]e|licensing|code of conduct|table of contents|contents|toc|contributors|"
                         r"acknowledge?ments?|sponsors|backers|authors|changelog|star history|badges)\b", re.I)
CODE_LINES = 30


def parse(text: str) -> list:
    """markdown-it tokens of `text` (CommonMark plus tables)."""
    return MarkdownIt("commonmark").enable("table").parse(text)


def inline_text(token) -> str:
    """The readable text of an inline token: code spans kept in backticks, images and HTML dropped,
    external links as `text (url)`."""
    out, href, label_start = [], None, 0
    for child in token.children or []:
        kind = child.type
        if kind == "text":
            out.append(child.content)
        elif kind == "code_inline":
            out.append(f"`{child.content}`")
        elif kind == "softbreak":
            out.append(" ")
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "link_open":
            href, label_start = child.attrs.get("href", ""), len(out)
        elif kind == "link_close":
            label = "".join(out[label_start:]).strip()
            if label and href and href.startswith(("http://", "https://")) and href != label:
                out.append(f" ({href})")
            href = None
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


def condense(text: str) -> str:
    """`text` (Markdown) reduced to what instructs: headings, list items, paragraphs, tables, code blocks."""
    tokens = parse(text)
    out: list[str] = []
    lists: list[list] = []          # [ordered?, next number]
    prefix: str | None = None       # the marker of a list item not yet written
    skip: int | None = None         # heading level of a boilerplate section being dropped
    quote = 0
    row: list[str] = []
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            level, title = int(tok.tag[1]), inline_text(tokens[i + 1])
            if skip is not None and level <= skip:
                skip = None
            if skip is None and BOILERPLATE.match(title):
                skip = level
            if skip is None and title:
                out += ["", "#" * level + " " + title]
            continue
        if skip is not None:
            continue
        indent = "  " * max(0, len(lists) - 1)
        if tok.type in ("bullet_list_open", "ordered_list_open"):
            lists.append([tok.type == "ordered_list_open", int(tok.attrs.get("start", 1) or 1)])
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif tok.type == "list_item_open" and lists:
            ordered, number = lists[-1]
            prefix = indent + (f"{number}. " if ordered else "- ")
            lists[-1][1] += 1
        elif tok.type == "blockquote_open":
            quote += 1
        elif tok.type == "blockquote_close":
            quote -= 1
        elif tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            line = inline_text(tok)
            if line:
                lead = prefix if prefix is not None else (indent + "  " if lists else "")
                out.append("> " * quote + lead + line)
                prefix = None
        elif tok.type in ("fence", "code_block"):
            out += _code(tok, prefix if prefix is not None else ("  " * len(lists)))
            prefix = None
        elif tok.type in ("th_open", "td_open"):
            row.append(inline_text(tokens[i + 1]))
        elif tok.type == "tr_close":
            out.append(" | ".join(row))
            row = []
    return _tidy(out)


def _code(tok, lead: str) -> list[str]:
    lines = tok.content.rstrip("\n").splitlines()
    if len(lines) > CODE_LINES:
        lines = lines[:CODE_LINES] + [f"… ({len(lines) - CODE_LINES} more lines)"]
    info = (tok.info or "").split(" ")[0] if tok.type == "fence" else ""
    pad = " " * len(lead)
    return [lead + "```" + info, *(pad + line for line in lines), pad + "```"]


def _tidy(lines: list[str]) -> str:
    text = "\n".join(line.rstrip() for line in lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
