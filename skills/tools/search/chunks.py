"""Symbols (functions, classes, methods) and chunks of one file, ready for the full-text index."""

from __future__ import annotations

import ast
import bisect
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass

from skills.tools.search.files import _DOC_EXTS, _ext
from skills.tools.search.tokens import _Tokenizer

CHUNK_TARGET = 60          # lines per window when a definition is long
CHUNK_MAX = 90             # a segment longer than this is windowed
CHUNK_MIN = 12             # segments shorter than this are merged with their neighbour

@dataclass
class _Symbol:
    qualname: str
    start: int
    end: int
    depth: int


def _python_symbols(text: str) -> list[_Symbol] | None:
    """Functions, classes and methods from `ast`; None when the file does not parse."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    out: list[_Symbol] = []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    stack: list[tuple[list, str, int]] = [(tree.body, "", 0)]
    while stack:
        body, prefix, depth = stack.pop()
        for node in body:
            if isinstance(node, defs):
                start = min([d.lineno for d in node.decorator_list] + [node.lineno])
                qual = prefix + node.name
                out.append(_Symbol(qual, start, getattr(node, "end_lineno", None) or start, depth))
                stack.append((node.body, qual + ".", depth + 1))
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                # `if TYPE_CHECKING:`, try/except imports... keep the same scope
                for attr in ("body", "orelse", "finalbody"):
                    stack.append((getattr(node, attr, []) or [], prefix, depth))
                for handler in getattr(node, "handlers", []) or []:
                    stack.append((handler.body, prefix, depth))
    out.sort(key=lambda s: s.start)
    return out


_PY_DEF_RE = re.compile(r"^([ \t]*)(?:async[ \t]+)?(def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_GENERIC_DEF_RE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?(?:default[ \t]+)?"
    r"(?:(?:public|private|protected|internal|static|final|abstract|async|override|virtual|inline|"
    r"extern|unsafe|sealed|open|data|pub(?:\([^)]*\))?)[ \t]+)*"
    r"(?:function\*?|def|fn|func|class|interface|struct|enum|trait|impl|module|object|record|"
    r"namespace|sub|proc|defmodule|defp?)[ \t]+(?:\([^)]*\)[ \t]*)?([A-Za-z_$][\w$]*)", re.M)
_JS_ASSIGN_RE = re.compile(
    r"^[ \t]*(?:export[ \t]+)?(?:const|let|var)[ \t]+([A-Za-z_$][\w$]*)[ \t]*=[ \t]*(?:async[ \t]+)?"
    r"(?:function\b|\([^)\n]*\)[ \t]*=>|[A-Za-z_$][\w$]*[ \t]*=>)", re.M)
_C_FN_RE = re.compile(
    r"^[ \t]*(?:[\w:<>\[\],*&]+[ \t]+)+[*&]*([A-Za-z_]\w*)[ \t]*\([^;{}]*\)[ \t]*(?:const[ \t]*)?"
    r"(?:throws[ \t][\w, .]+)?\{?[ \t]*$", re.M)
_C_LIKE = frozenset({"c", "h", "cc", "cpp", "cxx", "hpp", "hh", "java", "cs", "kt", "scala", "swift",
                     "m", "mm", "dart", "groovy"})
_NOT_NAMES = frozenset({"if", "for", "while", "switch", "return", "else", "catch", "sizeof", "new",
                        "delete", "throw", "case", "do", "elif", "try"})


def _regex_symbols(text: str, ext: str) -> list[_Symbol]:
    """Definitions found by regular expressions (any language; Python that does not parse)."""
    found: list[tuple[int, str, int]] = []   # (line, name, indent)
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_of(pos: int) -> int:
        return bisect.bisect_right(line_starts, pos)

    if ext in ("py", "pyi", "pyx"):
        classes: list[tuple[int, str]] = []   # (indent, name)
        out: list[_Symbol] = []
        for m in _PY_DEF_RE.finditer(text):
            indent = len(m.group(1).expandtabs(4))
            while classes and classes[-1][0] >= indent:
                classes.pop()
            prefix = ".".join(name for _, name in classes)
            qual = f"{prefix}.{m.group(3)}" if prefix else m.group(3)
            line = line_of(m.start())
            out.append(_Symbol(qual, line, line, len(classes)))
            if m.group(2) == "class":
                classes.append((indent, m.group(3)))
        _close_ends(out, text.count("\n") + 1)
        return out
    patterns = [_GENERIC_DEF_RE, _JS_ASSIGN_RE] + ([_C_FN_RE] if ext in _C_LIKE else [])
    for pattern in patterns:
        for m in pattern.finditer(text):
            name = m.group(1)
            if name in _NOT_NAMES:
                continue
            found.append((line_of(m.start()), name, len(m.group(0)) - len(m.group(0).lstrip())))
    found.sort()
    out, seen = [], set()
    for line, name, indent in found:
        if (line, name) not in seen:
            seen.add((line, name))
            out.append(_Symbol(name, line, line, 0 if indent == 0 else 1))
    _close_ends(out, text.count("\n") + 1)
    return out


def _close_ends(symbols: list[_Symbol], n_lines: int) -> None:
    for i, sym in enumerate(symbols):
        nxt = symbols[i + 1].start - 1 if i + 1 < len(symbols) else n_lines
        sym.end = max(sym.start, nxt)


def _chunk_ranges(n_lines: int, boundaries: list[int]) -> list[tuple[int, int]]:
    """Cut lines 1..n into chunks starting at the boundaries; merge small, window long ones."""
    if n_lines <= 0:
        return []
    starts = sorted({1, *(b for b in boundaries if 1 <= b <= n_lines)})
    segs = [(s, (starts[i + 1] - 1) if i + 1 < len(starts) else n_lines) for i, s in enumerate(starts)]
    merged: list[list[int]] = []
    for s, e in segs:
        if merged and (merged[-1][1] - merged[-1][0] + 1 < CHUNK_MIN or e - s + 1 < CHUNK_MIN // 2) \
                and e - merged[-1][0] + 1 <= CHUNK_TARGET:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    out: list[tuple[int, int]] = []
    for s, e in merged:
        if e - s + 1 <= CHUNK_MAX:
            out.append((s, e))
            continue
        while s <= e:
            end = min(e, s + CHUNK_TARGET - 1)
            if e - end < CHUNK_MIN:   # no tiny tail
                end = e
            out.append((s, end))
            s = end + 1
    return out


_NO_SYMBOL_EXTS = _DOC_EXTS | {"json", "yaml", "yml", "toml", "ini", "cfg"}


def _index_file(rel: str, text: str, tok: _Tokenizer) -> tuple[int, list[_Symbol], list[tuple[int, int, str, str]]]:
    """(line count, symbols, chunks as (start, end, symbol tokens, body tokens)) of one file."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    ext = _ext(rel)
    symbols: list[_Symbol] = []
    if ext in ("py", "pyi"):
        symbols = _python_symbols(text) or _regex_symbols(text, ext)
    elif ext and ext not in _NO_SYMBOL_EXTS:
        symbols = _regex_symbols(text, ext)
    starts_by_line: dict[int, list[str]] = defaultdict(list)
    for sym in symbols:
        starts_by_line[sym.start].append(sym.qualname)
    chunks = []
    ranges = _chunk_ranges(len(lines), [sym.start for sym in symbols if sym.depth <= 1]) or [(1, 1)]
    for start, end in ranges:
        sym_toks: list[str] = []
        for line in range(start, end + 1):
            for qual in starts_by_line.get(line, ()):
                for part in qual.split("."):
                    sym_toks.extend(tok.ident(part))
        if start == 1:   # the file's own name belongs to its first chunk
            sym_toks.extend(tok.ident(rel.rsplit("/", 1)[-1].split(".", 1)[0]))
        chunks.append((start, end, " ".join(sym_toks), tok.joined_text("\n".join(lines[start - 1:end]))))
    return len(lines), symbols, chunks
