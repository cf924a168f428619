"""Relevance-ranked code search over a local repository: the `search_code` tool and `droid locate`.

How it works
------------
* **What is indexed.** For a git repository: the files `git ls-files --cached --others
  --exclude-standard` lists (tracked plus untracked-but-not-ignored), read from the working tree,
  because that is what an agent reads and edits. Binary files (a NUL byte), files over 1 MB,
  minified files, translation catalogs, lock files, media/archives and vendored directories
  (`node_modules/`, `vendor/`, `third_party/`, ...) are skipped. A directory that is not a git
  repository is walked instead (hidden and vendored directories pruned).
* **Cache key.** One SQLite file per (repository path, state): a clean checkout is keyed by its
  HEAD commit, so every clone state at that commit reuses one index; a dirty working tree (or a
  repository without commits) is keyed by HEAD plus a fingerprint of `git status` and the size
  and mtime of each changed file, so edits trigger a rebuild; a non-git directory is keyed by a
  fingerprint of every file's path, size and mtime. Cache dir: `cache_dir` argument, else
  `$DROID_CACHE_DIR`, else `$XDG_CACHE_HOME/droid/index`, else `~/.cache/droid/index`; inside it
  `<sha1(realpath)[:16]>/<key>.v<INDEX_VERSION>.sqlite`, built in a temporary file and renamed
  into place (atomic), the 8 most recently used kept per repository.
* **Chunks and symbols.** Python files are parsed with `ast` (functions, classes, methods as
  `Class.method`, nested definitions); other languages use a regex fallback (and Python that
  does not parse, e.g. Python 2, uses an indentation-aware regex). Files are cut into chunks at
  top-level definitions and methods (small neighbours merged, long ones windowed at 60 lines).
* **Tokens.** Identifiers are split on snake_case and camelCase, lower-cased, and the whole
  identifier is kept too (underscores removed, so `resolve_redirects` and `resolveRedirects`
  both give `resolve`, `redirect`, `resolveredirect`); a light plural stemmer and a stop-word
  list apply. Chunks go into an FTS5 table with two columns, the names of the symbols defined in
  the chunk (weighted 3) and the chunk text.
* **Query analysis.** The query may be a long GitHub issue: template comments and environment
  dumps (`numpy: 1.17.3`, `pip list` tables) are dropped; paths named in it (tracebacks above
  all), dotted module names (`sphinx.ext.autodoc`, `_pytest.logging`), `Class.method` names,
  identifiers (code-looking words, words in backticks or code blocks, traceback function names)
  and prose words are extracted and weighted (a multi-line query's first line, its title, counts
  double; words inside code blocks count half); stop words are dropped; query-term weights are
  applied in BM25 by repeating a phrase, and only the ~64 most informative terms are kept.
* **File score** = 1.0 x (chunk BM25: best chunk + 0.5 x 2nd + 0.25 x 3rd, normalised to the
  best file) + 1.2 x (a path named in the query: a traceback frame or `a/b/c.py`, matched by
  path suffix) + 0.5 x (dotted module name) + 0.6 x (definitions of identifiers named in the
  query, weighted by 1/sqrt(number of files defining them)) + 0.3 x (query terms in the file
  name / directories, by rarity among paths), times a mild penalty for tests (0.6), docs (0.5),
  examples (0.75) and vendored copies (0.5) unless the query names the file or asks about tests
  / docs. `CodeIndex.last_explain` keeps the components of the last search.
* **Hits** carry the matching symbols (exact name matches first, then by query terms in their
  name and in their own lines) and the line ranges of the best chunks, best first.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import contextlib
import hashlib
import json
import math
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from skills.tools.base import Tool, ToolContext, ToolResult

INDEX_VERSION = "5"
MAX_FILE_BYTES = 1_000_000
MAX_FILES = 60_000
CHUNK_TARGET = 60          # lines per window when a definition is long
CHUNK_MAX = 90             # a segment longer than this is windowed
CHUNK_MIN = 12             # segments shorter than this are merged with their neighbour
KEEP_INDEXES = 8           # per repository
MAX_QUERY_TERMS = 64
MAX_QUERY_CHARS = 60_000
SYMBOLS_PER_HIT = 8
RANGES_PER_HIT = 3

# weights of the file score (see the module docstring)
W_LEX, W_PATH, W_MODULE, W_SYMBOL, W_PATHTOK = 1.0, 1.2, 0.5, 0.6, 0.3
PENALTY = {"code": 1.0, "test": 0.6, "doc": 0.5, "example": 0.75, "vendored": 0.5}
BM25_COLUMNS = (3.0, 1.0)  # symbol names, body
LEX_DECAY = (1.0, 0.5, 0.25)  # weights of the best, 2nd, 3rd chunk of a file
TITLE_BOOST = 2.0             # the first line of a multi-line query (an issue's title) counts double
CODE_TERM_WEIGHT = 0.5      # words inside code blocks and tracebacks count half

# ---------------------------------------------------------------------------------------------
# public types


@dataclass
class FileHit:
    """One ranked file: where to look and why."""

    path: str                                   # repo-relative, forward slashes
    score: float
    symbols: list[str] = field(default_factory=list)             # best first, at most ~8
    ranges: list[tuple[int, int]] = field(default_factory=list)  # 1-based inclusive, best first

    def to_json(self) -> dict:
        return {"path": self.path, "score": round(self.score, 4), "symbols": list(self.symbols),
                "ranges": [list(r) for r in self.ranges]}


# ---------------------------------------------------------------------------------------------
# tokens

_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else etc few
for from further had has have having he her here hers him his how however i if in into is it its
itself just let like may me might more most much must my no nor not now of off on once only or
other our ours out over own per same she should since so some such than that the their theirs
them then there these they this those though through thus to too under until up upon us very via
was we were what when where whether which while who whom why will with within without would yet
you your yours
self cls def return none true false import elif pass lambda
""".split())
# words of issue templates and chatter: dropped from the prose of a query (not from its code)
_QUERY_STOP = frozenset("""
hi hello thanks thank please describe description reproduce expected actual behavior behaviour
additional screenshot screenshots steps outcome problem issue bug bugs seems seem using used use
want would like think know get got gets work works working happen happens happened instead really
something anything thing things way still even currently example minimal following see run running
""".split())

_IDENT_RE = re.compile(r"[^\W\d]\w*")
_CAMEL_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _stem(token: str) -> str:
    """A light plural stemmer, the same at index and query time."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is", "ys")):
        return token[:-1]
    return token


def _parts(ident: str) -> list[str]:
    """snake_case and camelCase parts of an identifier, lower-cased."""
    out: list[str] = []
    for seg in ident.split("_"):
        if not seg:
            continue
        if seg.isascii():
            out.extend(p.lower() for p in _CAMEL_RE.findall(seg))
        else:
            out.append(seg.lower())
    return out


def normalize_ident(ident: str) -> str:
    """The whole-identifier form: lower-case, underscores removed (`resolve_redirects` -> `resolveredirects`)."""
    return ident.lower().replace("_", "")


def split_identifier(ident: str) -> list[str]:
    """Index tokens of one identifier: its parts and the whole identifier, stemmed, stop words out.

    >>> split_identifier("getHTTPResponse_code")
    ['get', 'http', 'response', 'code', 'gethttpresponsecode']
    """
    parts = [p for p in _parts(ident) if len(p) > 1 and not p.isdigit()]
    toks = [_stem(p) for p in parts if p not in _STOP]
    whole = normalize_ident(ident)
    if len(parts) > 1 and len(whole) > 2 and not whole.isdigit():
        toks.append(_stem(whole))
    elif not parts and len(whole) > 1 and whole not in _STOP and not whole.isdigit():
        toks.append(_stem(whole))
    return toks


class _Tokenizer:
    """Memoised text -> tokens (identifiers repeat a lot in code)."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[str, ...]] = {}
        self.joined: dict[str, str] = {}

    def ident(self, word: str) -> tuple[str, ...]:
        toks = self.cache.get(word)
        if toks is None:
            toks = self.cache[word] = tuple(split_identifier(word))
        return toks

    def text(self, text: str) -> list[str]:
        out: list[str] = []
        cache = self.cache
        for word in _IDENT_RE.findall(text):
            toks = cache.get(word)
            if toks is None:
                toks = cache[word] = tuple(split_identifier(word))
            out.extend(toks)
        return out

    def joined_text(self, text: str) -> str:
        """`" ".join(self.text(text))`, faster: the per-word work runs once per distinct word."""
        words = _IDENT_RE.findall(text)
        joined = self.joined
        for word in set(words).difference(joined):
            joined[word] = " ".join(self.ident(word))
        return " ".join(filter(None, map(joined.__getitem__, words)))


def tokenize(text: str) -> list[str]:
    """Tokens of a text as the index sees them."""
    return _Tokenizer().text(text)


# ---------------------------------------------------------------------------------------------
# which files

_SKIP_DIRS = frozenset("""
node_modules bower_components vendor vendored _vendor third_party thirdparty third-party
site-packages .venv venv .git .hg .svn __pycache__ .tox .nox .mypy_cache .pytest_cache
.ruff_cache .eggs .idea .vscode
""".split())
_SKIP_EXTS = frozenset("""
png jpg jpeg gif bmp ico icns webp tif tiff psd svg eps ai pdf zip gz tgz bz2 xz 7z rar zst jar
war ear whl egg so dll dylib exe bin o a lib obj class pyc pyo pyd mo po pot woff woff2 ttf otf
eot mp3 mp4 m4a wav flac ogg avi mov mkv webm db sqlite sqlite3 pkl pickle npy npz h5 hdf5 hdf nc
grib parquet feather arrow onnx pt pth ckpt safetensors lock map csv tsv dat
""".split())
_SKIP_NAMES = frozenset({"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock",
                         "Cargo.lock", "Gemfile.lock", "composer.lock", "go.sum", "uv.lock"})
_TEST_DIRS = frozenset({"test", "tests", "testing", "spec", "specs", "__tests__", "__test__",
                        "e2e", "testdata", "test_data", "testcases"})
_DOC_EXTS = frozenset({"md", "rst", "txt", "adoc", "rdoc", "markdown", "textile", "org", "tex"})
_DOC_DIRS = frozenset({"doc", "docs", "documentation", "changelog", "changes", "newsfragments",
                       "news", "changelog.d"})
_DOC_NAMES = frozenset({"changelog", "changes", "history", "news", "authors", "contributors",
                        "license", "licence", "copying", "notice", "readme"})
_EXAMPLE_DIRS = frozenset({"example", "examples", "demo", "demos", "sample", "samples",
                           "benchmarks", "bench", "tutorial", "tutorials"})
_CODE_EXTS = ("py pyi pyx pxd js jsx mjs cjs ts tsx go rs java kt kts scala rb php cs c h cc cpp cxx "
              "hpp hh m mm swift lua pl pm r jl ex exs erl hs ml clj sh bash zsh sql html htm css "
              "scss vue svelte dart groovy gradle yaml yml toml json ini cfg proto graphql tf")


_VERSIONED_ASSET_RE = re.compile(r"[-.]v?\d+\.\d+(?:\.\d+)*(?:[-.]\w+)?\.(?:js|css)$")   # jquery-3.5.1.js


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _skip_path(path: str) -> bool:
    parts = path.split("/")
    if any(p in _SKIP_DIRS for p in parts[:-1]):
        return True
    name = parts[-1]
    if (name in _SKIP_NAMES or ".min." in name or name.endswith("-min.js")
            or _VERSIONED_ASSET_RE.search(name)):
        return True
    return _ext(path) in _SKIP_EXTS


def file_kind(path: str) -> str:
    """`code`, `test`, `doc` or `example`, from the path alone."""
    low = path.lower()
    parts = low.split("/")
    name = parts[-1]
    stem = name.split(".", 1)[0]
    if (any(p in _TEST_DIRS for p in parts[:-1]) or name.startswith("test_") or name == "conftest.py"
            or re.search(r"(?:_test|_tests|\.test|\.spec|_spec)\.\w+$", name)
            or re.match(r"tests?\.\w+$", name)):
        return "test"
    if _ext(low) in _DOC_EXTS or parts[0] in _DOC_DIRS or stem in _DOC_NAMES or (not _ext(low) and stem in _DOC_NAMES):
        return "doc"
    if any(p in _EXAMPLE_DIRS for p in parts[:-1]):
        return "example"
    return "code"


# ---------------------------------------------------------------------------------------------
# symbols and chunks

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


# ---------------------------------------------------------------------------------------------
# repository state


def _git(root: Path, *args: str, timeout: float = 120) -> bytes | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass
class _Snapshot:
    root: Path
    is_git: bool
    commit: str | None
    key: str
    files: list[str]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            out.append(rel)
            if len(out) >= MAX_FILES:
                return out
    return out


def _fingerprint(root: Path, paths: list[str], extra: bytes = b"") -> str:
    h = hashlib.sha1(extra)
    for rel in paths:
        try:
            st = os.lstat(root / rel)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(f"{rel}\0-\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def _snapshot(repo: Path) -> _Snapshot:
    root = repo.resolve()
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.strip() != b"true":
        files = _walk(root)
        return _Snapshot(root, False, None, "tree-" + _fingerprint(root, files), files)
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    commit = head.decode().strip() if head else None
    listing = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard") or b""
    files = sorted({p for p in listing.decode("utf-8", "surrogateescape").split("\0") if p})
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    if commit and status == b"":
        key = commit
    else:   # porcelain paths are relative to the top of the work tree
        top = Path((_git(root, "rev-parse", "--show-toplevel") or str(root).encode()).decode().strip())
        changed = [e[3:] for e in (status or b"").decode("utf-8", "surrogateescape").split("\0") if len(e) > 3]
        key = f"{commit or 'nohead'}-wt-{_fingerprint(top, sorted(changed), status or b'')}"
    return _Snapshot(root, True, commit, key, files[:MAX_FILES])


def default_cache_dir() -> Path:
    """`$DROID_CACHE_DIR`, else `$XDG_CACHE_HOME/droid/index`, else `~/.cache/droid/index`."""
    if os.environ.get("DROID_CACHE_DIR"):
        return Path(os.environ["DROID_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "droid" / "index"
    return Path.home() / ".cache" / "droid" / "index"


# ---------------------------------------------------------------------------------------------
# building an index

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, n_lines INTEGER NOT NULL);
CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE TABLE symbols(file_id INTEGER NOT NULL, qualname TEXT NOT NULL, lname TEXT NOT NULL,
                     start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(sym, body, content='', tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


_NESTED_VENDOR_DIRS = frozenset({"packages", "extern", "externals", "_vendored", "_extern", "deps", "_deps"})


def _vendored(path: str, listed: set[str]) -> bool:
    """A third-party package copied inside a Python package (`requests/packages/urllib3/...`)."""
    parts = path.split("/")
    return any(parts[i] in _NESTED_VENDOR_DIRS and "/".join(parts[:i]) + "/__init__.py" in listed
               for i in range(1, len(parts) - 1))


def _read_text(path: Path) -> str | None:
    try:
        if path.is_symlink() or not path.is_file():
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    text = data.decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(16, len(text) // 100):     # not text after all
        return None
    lines = text.count("\n") + 1
    if len(text) / lines > 300 and max(len(line) for line in text.split("\n")) > 1000:   # minified
        return None
    return text


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


def _fill(conn: sqlite3.Connection, snap: _Snapshot) -> dict:
    """Index every file of the snapshot into an empty database; the build statistics."""
    started = time.monotonic()
    tok = _Tokenizer()
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.executescript(_SCHEMA)
    listed = set(snap.files)
    n_files = n_chunks = n_symbols = 0
    fts_rows: list[tuple[int, str, str]] = []
    for rel in snap.files:
        if _skip_path(rel):
            continue
        text = _read_text(snap.root / rel)
        if text is None:
            continue
        n_lines, symbols, chunks = _index_file(rel, text, tok)
        n_files += 1
        kind = "vendored" if _vendored(rel, listed) else file_kind(rel)
        conn.execute("INSERT INTO files VALUES (?,?,?,?)", (n_files, rel, kind, n_lines))
        conn.executemany("INSERT INTO symbols VALUES (?,?,?,?,?)",
                         [(n_files, sym.qualname, normalize_ident(sym.qualname.rsplit(".", 1)[-1]), sym.start, sym.end)
                          for sym in symbols])
        n_symbols += len(symbols)
        for start, end, sym_toks, body in chunks:
            n_chunks += 1
            conn.execute("INSERT INTO chunks VALUES (?,?,?,?)", (n_chunks, n_files, start, end))
            fts_rows.append((n_chunks, sym_toks, body))
        if len(fts_rows) > 2000:
            conn.executemany("INSERT INTO chunks_fts(rowid, sym, body) VALUES (?,?,?)", fts_rows)
            fts_rows.clear()
    conn.executemany("INSERT INTO chunks_fts(rowid, sym, body) VALUES (?,?,?)", fts_rows)
    conn.execute("CREATE INDEX symbols_lname ON symbols(lname)")
    conn.execute("CREATE INDEX symbols_file ON symbols(file_id, start)")
    conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('optimize')")
    stats = {"files": n_files, "chunks": n_chunks, "symbols": n_symbols,
             "build_seconds": round(time.monotonic() - started, 3)}
    meta = {"version": INDEX_VERSION, "root": str(snap.root), "commit": snap.commit or "",
            "key": snap.key, "built_at": str(time.time()), **{k: str(v) for k, v in stats.items()}}
    conn.executemany("INSERT INTO meta VALUES (?,?)", meta.items())
    conn.commit()
    return stats


def _build(snap: _Snapshot, db_path: Path) -> dict:
    """Build the index in a temporary file next to `db_path`, then move it into place (atomic)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=db_path.name + ".", suffix=".tmp", dir=db_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        conn = sqlite3.connect(tmp)
        try:
            stats = _fill(conn, snap)
        finally:
            conn.close()
        os.replace(tmp, db_path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return stats


def _prune(repo_dir: Path, keep: Path) -> None:
    """Drop indexes of older formats and all but the KEEP_INDEXES most recently used ones."""
    try:
        entries = sorted(repo_dir.glob("*.sqlite"), key=lambda p: p.stat().st_mtime, reverse=True)
        stale = [p for p in repo_dir.glob("*.tmp") if time.time() - p.stat().st_mtime > 3600]
    except OSError:
        return
    current = [p for p in entries if p.name.endswith(f".v{INDEX_VERSION}.sqlite")]
    old_format = [p for p in entries if p not in current]
    for old in current[KEEP_INDEXES:] + old_format + stale:
        if old != keep:
            with contextlib.suppress(OSError):
                old.unlink()


# ---------------------------------------------------------------------------------------------
# query analysis

_FENCE_RE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_TICK_RE = re.compile(r"`([^`\n]{1,300})`")
_CODE_LINE_RE = re.compile(r"^(?: {4,}|\t|>>> |\.\.\. |\$ |In \[\d+\]:).*$|^.*Traceback \(most recent call last\).*$"
                           r"|^\s*File \".*$|^E\s{2,}.*$", re.M)
_TB_RE = re.compile(r"""File ["']([^"'\n]+)["'], line \d+(?:, in ([\w<>.]+))?""")
_PATH_RE = re.compile(r"(?<![\w.@-])((?:[\w.@+-]+/)*[\w@+-][\w.@+-]*\.(?:"
                      + "|".join(sorted(_CODE_EXTS.split() + sorted(_DOC_EXTS), key=len, reverse=True))
                      + r"))(?![\w/])")
_DOTTED_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
_TEST_INTENT_RE = re.compile(r"\b(?:unit[ -]?tests?|test (?:suite|file|coverage)s?|flaky|"
                             r"(?:add|write|fix|update)(?:ing)? (?:a |the |some |new |missing )?(?:unit )?tests?\b|"
                             r"tests? (?:is|are) (?:failing|broken|flaky))", re.I)
_DOC_INTENT_RE = re.compile(r"\b(?:(?:update|fix|improve|add to|correct|rewrite)(?:ing)? (?:the |our )?"
                            r"(?:docs|documentation|readme|changelog|guide)|readme|changelog|typo in the doc\w*)\b", re.I)


@dataclass
class _Query:
    terms: dict[str, float]              # index token -> raw weight
    idents: dict[str, float]             # normalised whole identifier -> weight
    quals: dict[tuple[str, str], float]  # (class, member) normalised -> weight
    paths: list[tuple[str, float]]       # mentioned paths (normalised) -> weight
    dotted: list[tuple[list[str], float]]
    test_intent: bool
    doc_intent: bool


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _in_spans(pos: int, spans: list[tuple[int, int]], starts: list[int]) -> bool:
    """Whether `pos` falls in one of the merged, sorted `spans` (`starts` = their starts)."""
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1]


def _looks_code(word: str) -> bool:
    core = word.strip("_")
    if "_" in core or (word.startswith("_") and len(core) > 1):
        return True
    if re.search(r"[a-z][A-Z]", word):                        # camelCase
        return True
    return bool(re.match(r"[A-Z][a-z0-9]+[A-Z]", word))       # PascalCase with two humps


_HTML_COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
_VERSION_LINE_RE = re.compile(
    r"^\s*(?:[\w.\-\[\]() /]{1,40}\s*(?::|==|>=|<=|~=)\s*(?:none|v?\d[\w.+\-]*)\b.*"   # `numpy: 1.17.3`, `pkg==1.0`
    r"|[\w.\-]{1,40}\s{2,}v?\d[\w.+\-]*(?:\s+[\w.\-/]+)?\s*)$", re.I)                    # `pip list` rows


_SOFT_LINE_RE = re.compile(r"^\s*(?:[\w.\-]{1,30}\s*:\s*\S.{0,60}|[-=*#\s]*|\[.{0,80}\]|[A-Z][A-Z ]{3,40})\s*$")


def clean_query(query: str) -> str:
    """The query without issue-template comments and environment dumps (runs of `name: version`)."""
    text = _HTML_COMMENT_RE.sub(" ", query[:MAX_QUERY_CHARS])
    lines = text.split("\n")
    keep = [True] * len(lines)
    i = 0
    while i < len(lines):
        j, hard = i, 0
        while j < len(lines):
            if _VERSION_LINE_RE.match(lines[j]):
                hard += 1
            elif not _SOFT_LINE_RE.match(lines[j]):
                break
            j += 1
        if hard >= 3:
            keep[i:j] = [False] * (j - i)
        i = max(j, i + 1)
    return "\n".join(line for line, k in zip(lines, keep, strict=True) if k)


def analyse_query(query: str) -> _Query:
    """Weighted terms, identifiers, qualified names, paths and module names of a query."""
    text = clean_query(query)
    spans = _merge([m.span() for m in _FENCE_RE.finditer(text)]
                   + [m.span() for m in _CODE_LINE_RE.finditer(text)])
    starts = [s for s, _ in spans]
    terms: dict[str, float] = defaultdict(float)
    best: dict[str, float] = defaultdict(float)     # identifier -> weight of its strongest context
    seen: Counter = Counter()                       # identifier -> occurrences
    quals: dict[tuple[str, str], float] = defaultdict(float)
    tok = _Tokenizer()

    def note_ident(word: str, weight: float) -> None:
        norm = normalize_ident(word)
        if len(norm) >= 3 and norm not in _STOP and not norm.isdigit():
            # a one-word lower-case name (`build`, `line`) says less than `resolve_redirects` or `DataArray`
            if len(_parts(word)) < 2 and not word[:1].isupper():
                weight *= 0.5
            best[norm] = max(best[norm], weight)
            seen[norm] += 1

    def add_ident(word: str, weight: float, term_weight: float) -> None:
        note_ident(word, weight)
        toks = tok.ident(word)
        for i, t in enumerate(toks):
            is_whole = len(toks) > 1 and i == len(toks) - 1
            terms[t] += term_weight * (2.0 if is_whole else 1.0)

    ticks = _merge([m.span(1) for m in _TICK_RE.finditer(text)])
    tick_starts = [s for s, _ in ticks]
    dotted_words: set[str] = set()
    paths: list[tuple[str, float]] = []
    path_spans: list[tuple[int, int]] = []
    for m in _TB_RE.finditer(text):
        paths.append((m.group(1).replace("\\", "/"), 1.0))
        path_spans.append(m.span(1))
        if m.group(2) and m.group(2)[0] != "<":
            add_ident(m.group(2), 1.0, 0.5)
    for m in _PATH_RE.finditer(text.replace("\\", "/")):
        if not any(s <= m.start() < e for s, e in path_spans):
            paths.append((m.group(1), 0.8))
    dotted: list[tuple[list[str], float]] = []
    ext_set = set(_CODE_EXTS.split()) | _DOC_EXTS
    for m in _DOTTED_RE.finditer(text):
        comps = m.group(1).split(".")
        if comps[-1].lower() in ext_set or max(len(c) for c in comps) < 3:
            continue
        dotted.append((comps, 1.0))
        dotted_words.update(comps)
        if len(comps) >= 2 and comps[-2] not in ("self", "cls"):
            quals[(normalize_ident(comps[-2]), normalize_ident(comps[-1]))] += 1.0
    stripped = text.lstrip()
    title_end = (len(text) - len(stripped)) + (stripped.find("\n") if "\n" in stripped else len(stripped))
    multiline = title_end < len(text.rstrip())
    for m in _IDENT_RE.finditer(text):
        word = m.group(0)
        pos = m.start()
        in_tick = _in_spans(pos, ticks, tick_starts)
        in_code = not in_tick and _in_spans(pos, spans, starts)
        follows_call = text[m.end():m.end() + 1] == "("
        codey = _looks_code(word) or word in dotted_words or follows_call
        if word.lower() in _QUERY_STOP and not (codey or in_tick or in_code):
            continue
        # the first line of a multi-line query is a title (issue, ticket): its words count double
        boost = TITLE_BOOST if multiline and pos < title_end else 1.0
        if in_tick or (codey and not in_code):
            add_ident(word, 1.0, boost)
        elif in_code:
            add_ident(word, 0.5 if codey else 0.25, CODE_TERM_WEIGHT)
        else:
            for t in tok.ident(word):
                terms[t] += boost
            if len(word) >= 4:
                note_ident(word, 0.15 * boost)
    idents = {n: min(1.0, w * (1.0 + 0.2 * math.log(seen[n]))) for n, w in best.items()}
    return _Query(dict(terms), idents, dict(quals), paths, dotted,
                  bool(_TEST_INTENT_RE.search(text)), bool(_DOC_INTENT_RE.search(text)))


# ---------------------------------------------------------------------------------------------
# the index


class CodeIndex:
    """A BM25 index (SQLite FTS5) of one repository state; `open` builds it or reuses the cache."""

    def __init__(self, db_path: Path, root: Path, commit: str | None, key: str, reused: bool,
                 stats: dict) -> None:
        self.db_path = db_path
        self.root = root
        self.commit = commit
        self.key = key
        self.reused = reused          # True when an existing index was opened, False when built now
        self.stats = stats
        self._conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._files: dict[int, tuple[str, str, int]] | None = None
        self._chunks: dict[int, tuple[int, int, int]] | None = None
        self._n_chunks = 0
        self._by_name: dict[str, list[int]] = {}
        self._modules: dict[tuple[str, ...], list[int]] = {}
        self.last_explain: dict[str, dict[str, float]] = {}   # score components of the last search
        self._path_tokens: dict[int, tuple[set[str], set[str], str]] = {}
        self._path_idf: dict[str, float] = {}
        self._dir_names: set[str] = set()
        self._tok = _Tokenizer()

    @classmethod
    def open(cls, repo: str | Path, cache_dir: str | Path | None = None) -> CodeIndex:
        """Open the index of `repo`'s current state (HEAD commit when clean), building it if needed."""
        repo = Path(repo).expanduser()
        if not repo.is_dir():
            raise FileNotFoundError(f"no directory {str(repo)!r}")
        snap = _snapshot(repo)
        base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        repo_dir = base / hashlib.sha1(str(snap.root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        db_path = repo_dir / f"{snap.key}.v{INDEX_VERSION}.sqlite"
        reused = db_path.is_file()
        stats: dict = {}
        if reused:
            try:
                conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
                meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
                conn.close()
                reused = meta.get("version") == INDEX_VERSION
                stats = {k: float(meta[k]) for k in ("files", "chunks", "symbols", "build_seconds") if k in meta}
            except sqlite3.DatabaseError:
                reused = False
            if reused:
                with contextlib.suppress(OSError):
                    os.utime(db_path)
        if not reused:
            stats = _build(snap, db_path)
            _prune(repo_dir, db_path)
        return cls(db_path, snap.root, snap.commit, snap.key, reused, stats)

    def close(self) -> None:
        self._conn.close()

    # -- lazily loaded tables ------------------------------------------------------------------

    def _load(self) -> None:
        if self._files is not None:
            return
        conn = self._conn
        self._files = {fid: (path, kind, n) for fid, path, kind, n in
                       conn.execute("SELECT id, path, kind, n_lines FROM files")}
        self._chunks = {cid: (fid, s, e) for cid, fid, s, e in
                        conn.execute('SELECT id, file_id, start, "end" FROM chunks')}
        self._n_chunks = max(1, len(self._chunks))
        by_name: dict[str, list[int]] = defaultdict(list)
        modules: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for fid, (path, _, _) in self._files.items():
            by_name[path.rsplit("/", 1)[-1].lower()].append(fid)
            if _ext(path) in ("py", "pyi", "pyx"):
                comps = [c.strip("_").lower() for c in path[: path.rfind(".")].split("/")]
                if comps and comps[-1] == "init" and len(comps) > 1:
                    comps.pop()
                for k in range(1, len(comps) + 1):
                    modules[tuple(comps[-k:])].append(fid)
        self._by_name = dict(by_name)
        self._modules = dict(modules)
        tok = _Tokenizer()
        path_df: Counter = Counter()
        for fid, (path, _, _) in self._files.items():
            comps = path.split("/")
            stem = comps[-1].split(".", 1)[0]
            if stem == "__init__" and len(comps) > 1:   # a package's __init__ is named by its directory
                stem = comps[-2]
                comps = comps[:-1]
            stem_toks = set(tok.ident(stem))
            dir_toks = {t for c in comps[:-1] for t in tok.ident(c)} - stem_toks
            self._path_tokens[fid] = (stem_toks, dir_toks, normalize_ident(stem))
            path_df.update(stem_toks | dir_toks)
        n_files = max(2, len(self._files))
        self._path_idf = {t: max(0.0, math.log(n_files / d) / math.log(n_files)) for t, d in path_df.items()}
        self._dir_names = {normalize_ident(c) for path, _, _ in self._files.values() for c in path.split("/")[:-1]}

    # -- search ----------------------------------------------------------------------------------

    def search(self, query: str, top: int = 10) -> list[FileHit]:
        """The `top` files most relevant to `query`, best first."""
        if top <= 0 or not query or not query.strip():
            return []
        with self._lock:
            return self._search(query, top)

    def _df(self, terms: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(terms), 400):
            batch = terms[i:i + 400]
            marks = ",".join("?" * len(batch))
            out.update(self._conn.execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", batch))
        return out

    def _search(self, query: str, top: int) -> list[FileHit]:
        self._load()
        assert self._files is not None and self._chunks is not None
        if not self._files:
            return []
        q = analyse_query(query)
        n = self._n_chunks
        files = self._files

        # 1. lexical: BM25 over chunks with weighted, informative query terms
        df = self._df(sorted(q.terms))
        idf = {t: math.log(1 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items() if d > 0}
        weights = {t: (1 + math.log(w)) if w >= 1 else w for t, w in q.terms.items() if t in idf}
        chosen = sorted(weights, key=lambda t: weights[t] * idf[t], reverse=True)[:MAX_QUERY_TERMS]
        chunk_scores: dict[int, list[tuple[float, int]]] = defaultdict(list)
        if chosen:
            phrases = []
            for t in chosen:
                phrases.extend([f'"{t}"'] * max(1, min(4, round(weights[t]))))
            sql = f"SELECT rowid, bm25(chunks_fts, {BM25_COLUMNS[0]}, {BM25_COLUMNS[1]}) FROM chunks_fts WHERE chunks_fts MATCH ?"
            for cid, score in self._conn.execute(sql, (" OR ".join(phrases),)):
                meta = self._chunks.get(cid)
                if meta:
                    chunk_scores[meta[0]].append((-score, cid))
        lex: dict[int, float] = {}
        for fid, scores in chunk_scores.items():
            scores.sort(reverse=True)
            lex[fid] = sum(s * f for (s, _), f in zip(scores, LEX_DECAY, strict=False))
        max_lex = max(lex.values(), default=0.0) or 1.0

        # 2. paths named in the query (tracebacks, `pkg/mod.py`)
        path_boost: dict[int, float] = defaultdict(float)
        for mentioned, weight in q.paths:
            comps = [c for c in mentioned.strip("/").split("/") if c not in ("", ".")]
            if not comps:
                continue
            cands = self._by_name.get(comps[-1].lower(), [])
            for fid in cands:
                fcomps = files[fid][0].lower().split("/")
                k = 0
                while k < min(len(comps), len(fcomps)) and comps[-1 - k].lower() == fcomps[-1 - k]:
                    k += 1
                if k >= len(fcomps) or k >= len(comps) >= 3:
                    strength = 1.0          # the whole repo path, or a 3+ part path, matches
                elif k >= 2:
                    strength = 0.4 + 0.5 * k / len(fcomps)
                else:
                    strength = 0.3 / len(cands)
                path_boost[fid] = max(path_boost[fid], strength * weight)

        # 3. dotted module names (`sphinx.ext.autodoc`, `_pytest.logging.LogCaptureHandler`)
        module_boost: dict[int, float] = defaultdict(float)
        for comps, weight in q.dotted:
            low = [c.strip("_").lower() for c in comps]
            for k in range(len(low), 1, -1):
                fids = self._modules.get(tuple(low[:k]))
                if fids:
                    strength = min(1.0, 0.6 + 0.2 * (k - 2)) / len(fids)
                    for fid in fids:
                        module_boost[fid] = max(module_boost[fid], strength * weight)
                    break

        # 4. definitions of the identifiers the query names
        symbol_boost: dict[int, float] = defaultdict(float)
        sym_match: dict[int, dict[str, float]] = defaultdict(dict)
        names = sorted(set(q.idents) | {m for _, m in q.quals})
        defs: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for i in range(0, len(names), 400):
            batch = names[i:i + 400]
            marks = ",".join("?" * len(batch))
            for fid, qual, lname in self._conn.execute(
                    f"SELECT file_id, qualname, lname FROM symbols WHERE lname IN ({marks})", batch):
                defs[lname].append((fid, qual))
        per_file: dict[int, dict[str, float]] = defaultdict(dict)    # file -> identifier -> best score
        for name, entries in defs.items():
            specificity = 1.0 / math.sqrt(len({fid for fid, _ in entries}))
            w = q.idents.get(name, 0.0)
            if name in self._dir_names:      # `sphinx` in `sphinx.ext.autodoc` names a package, not a class
                w *= 0.3
            for fid, qual in entries:
                parts = [normalize_ident(p) for p in qual.split(".")]
                qualified = any(member == name and len(parts) >= 2 and parts[-2] == owner
                                for owner, member in q.quals)
                score = w * specificity + (1.0 if qualified else 0.0)
                if score > sym_match[fid].get(qual, 0.0):
                    sym_match[fid][qual] = score
                if score > per_file[fid].get(name, 0.0):
                    per_file[fid][name] = score
        for fid, matches in per_file.items():
            symbol_boost[fid] = min(1.0, sum(sorted(matches.values(), reverse=True)[:3]))

        # 5. query terms in file and directory names
        pathtok_boost: dict[int, float] = {}
        max_w = max((weights[t] * idf[t] for t in chosen), default=1.0) or 1.0
        qterms = {t: weights[t] * idf[t] / max_w for t in chosen}
        if qterms:
            for fid, (stem_toks, dir_toks, stem) in self._path_tokens.items():
                score = sum(qterms.get(t, 0.0) * self._path_idf.get(t, 0.0) for t in stem_toks)
                score += 0.5 * sum(qterms.get(t, 0.0) * self._path_idf.get(t, 0.0) for t in dir_toks)
                if q.idents.get(stem, 0.0) >= 1.0:     # the file is named after an identifier of the query
                    score += 0.5
                if score > 0:
                    pathtok_boost[fid] = min(1.0, score)

        # combine
        candidates = set(lex) | set(path_boost) | set(module_boost) | set(symbol_boost)
        ranked: list[tuple[float, int]] = []
        explain: dict[str, dict[str, float]] = {}
        for fid in candidates:
            path, kind, _ = files[fid]
            named = path_boost.get(fid, 0.0) >= 0.9 or module_boost.get(fid, 0.0) >= 0.5
            penalty = PENALTY.get(kind, 1.0)
            if named or (kind == "test" and q.test_intent) or (kind == "doc" and q.doc_intent):
                penalty = max(penalty, 0.9)
            score = (W_LEX * lex.get(fid, 0.0) / max_lex + W_PATH * path_boost.get(fid, 0.0)
                     + W_MODULE * module_boost.get(fid, 0.0) + W_SYMBOL * symbol_boost.get(fid, 0.0)
                     + W_PATHTOK * pathtok_boost.get(fid, 0.0)) * penalty
            ranked.append((score, fid))
            explain[path] = {"lex": lex.get(fid, 0.0) / max_lex, "path": path_boost.get(fid, 0.0),
                             "module": module_boost.get(fid, 0.0), "symbol": symbol_boost.get(fid, 0.0),
                             "pathtok": pathtok_boost.get(fid, 0.0), "penalty": penalty}
        ranked.sort(key=lambda x: (-x[0], files[x[1]][0]))
        self.last_explain = explain
        hits = []
        for score, fid in ranked[:top]:
            ranges = [self._chunks[cid][1:] for _, cid in chunk_scores.get(fid, [])[:RANGES_PER_HIT]]
            symbols = self._symbols_for(fid, qterms, sym_match.get(fid, {}), chunk_scores.get(fid, []))
            hits.append(FileHit(files[fid][0], score, symbols, ranges))
        return hits

    def _symbols_for(self, fid: int, qterms: dict[str, float], exact: dict[str, float],
                     chunks: list[tuple[float, int]]) -> list[str]:
        """Symbols of a file that match the query, best first.

        A symbol scores by an exact match of its name with a query identifier, by the query terms
        in its name, and by the query terms in its own lines within the file's best chunks (nested
        definitions excluded)."""
        rows = self._conn.execute('SELECT qualname, start, "end" FROM symbols WHERE file_id = ? ORDER BY start',
                                  (fid,)).fetchall()
        if not rows:
            return []
        tok = self._tok
        if len(tok.cache) > 200_000:
            tok.cache.clear()
        body: dict[int, set[str]] = defaultdict(set)      # symbol row -> query terms in its own lines
        in_best = {self._chunks[cid][1:] for _, cid in chunks[:RANGES_PER_HIT]}
        lines = self._file_lines(fid) if in_best else []
        if lines:
            owner: dict[int, int] = {}
            for i, (_, start, end) in enumerate(rows):          # sorted by start: inner ones come later
                for s, e in in_best:
                    for line in range(max(1, start, s), min(end, e, len(lines)) + 1):
                        owner[line] = i
            for n, i in owner.items():
                body[i].update(t for t in tok.text(lines[n - 1]) if t in qterms)
        scored: dict[str, float] = {}
        for i, (qual, start, _end) in enumerate(rows):
            last = qual.rsplit(".", 1)[-1]
            score = (10.0 * exact.get(qual, 0.0) + sum(qterms.get(t, 0.0) for t in set(tok.ident(last)))
                     + 0.5 * sum(qterms[t] for t in body.get(i, ())))
            if any(s <= start <= e for s, e in in_best):
                score += 0.05
            if score > 0.05:
                scored[qual] = max(scored.get(qual, 0.0), score)
        return [qual for qual, _ in sorted(scored.items(), key=lambda kv: -kv[1])[:SYMBOLS_PER_HIT]]

    def _file_lines(self, fid: int) -> list[str]:
        """The file's lines from the work tree (the index is contentless); [] when unreadable."""
        assert self._files is not None
        try:
            path = self.root / self._files[fid][0]
            if path.stat().st_size > MAX_FILE_BYTES:
                return []
            return path.read_text(encoding="utf-8", errors="replace").split("\n")
        except OSError:
            return []


# ---------------------------------------------------------------------------------------------
# output


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


# ---------------------------------------------------------------------------------------------
# the agent tool and the CLI


def search_code_tool(ctx: ToolContext) -> Tool:
    """`search_code`: the repository's files ranked for a query (natural language, identifiers, traces)."""

    def search_code(query: str, top: int = 10) -> ToolResult:
        if ctx.repo is None:
            return ToolResult("No repository is attached to this run.", is_error=True)
        hits = CodeIndex.open(ctx.repo).search(query, top=max(1, min(int(top), 30)))
        return ToolResult(ctx.redact(format_hits(hits)))

    return Tool(
        "search_code",
        "Rank the repository's files for a query: a question, an issue text, identifiers, a stack trace. "
        "Returns one line per file with the matching symbols and line ranges; then read the ranges with view_file.",
        {"type": "object", "properties": {"query": {"type": "string"},
                                          "top": {"type": "integer", "minimum": 1, "maximum": 30}},
         "required": ["query"]},
        search_code)


def cli_main(argv: list[str]) -> int:
    """`droid locate --repo PATH (--query TEXT | --query-file FILE) [--top N] [--format json|text]`."""
    parser = argparse.ArgumentParser(prog="droid locate", description="Rank the files of a repository for a query.")
    parser.add_argument("--repo", required=True, help="the repository (or any directory)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--query", help="the query text")
    group.add_argument("--query-file", help="a file holding the query ('-' for stdin)")
    parser.add_argument("--top", type=int, default=10, help="how many files (default 10)")
    parser.add_argument("--format", choices=("json", "text"), default="text")
    parser.add_argument("--cache-dir", default=None, help="index cache (default $DROID_CACHE_DIR or ~/.cache/droid/index)")
    args = parser.parse_args(argv)
    if args.query is not None:
        query = args.query
    elif args.query_file == "-":
        query = sys.stdin.read()
    else:
        try:
            query = Path(args.query_file).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"droid locate: cannot read {args.query_file}: {exc}", file=sys.stderr)
            return 2
    try:
        index = CodeIndex.open(args.repo, cache_dir=args.cache_dir)
    except (OSError, sqlite3.Error) as exc:
        print(f"droid locate: {exc}", file=sys.stderr)
        return 2
    try:
        hits = index.search(query, top=args.top)
    finally:
        index.close()
    if args.format == "json":
        print(json.dumps({"files": [h.to_json() for h in hits]}))
    else:
        print(format_hits(hits))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli_main(sys.argv[1:]))


__all__ = ["CodeIndex", "FileHit", "analyse_query", "cli_main", "format_hits", "search_code_tool",
           "split_identifier", "tokenize"]
