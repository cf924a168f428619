"""Relevance-ranked code search over a local repository: the `search_code` tool and `droid locate`.

The engine lives in `skills/tools/search/`, one concept per module: `tokens` (identifier
splitting), `files` (which files, what kind), `chunks` (symbols and chunks of one file),
`snapshot` (repository state, cache location), `build` (the SQLite index), `query` (query
analysis), `ranking` (the file score), `index` (`CodeIndex`), `output` (bounded text).
This module keeps the agent tool, the CLI and the names other code imports.

How it works
------------
* **What is indexed.** For a git repository: the files `git ls-files --cached --others
  --exclude-standard` lists (tracked plus untracked-but-not-ignored), read from the working tree,
  because that is what an agent reads and edits. Binary files (a NUL byte), files over 1 MB,
  minified files, translation catalogs, lock files, media/archives and vendored directories
  (`node_modules/`, `vendor/`, `third_party/`, ...) are skipped. A directory that is not a git
  repository is walked instead (hidden and vendored directories pruned).
* **Incremental index, keyed by content.** One SQLite store per repository path (`build`):
  every file content is indexed once, keyed by its git blob id and file name, whatever commit
  or path it appears at. Opening a state reads `git ls-files -s` (blob ids without reading
  files) and `git status` (changed and untracked files are hashed from the working tree the
  way git does), then indexes only the blobs the store lacks: a new commit costs what it
  changed. A non-git directory is walked and every file hashed. The store keeps the 8 most
  recently opened states and deletes blobs only older states used. Writers take SQLite's
  write lock (WAL mode: readers never wait). `CodeIndex.indexed` lists what an open indexed.
  Cache dir: `cache_dir` argument, else `$DROID_CACHE_DIR`, else
  `$XDG_CACHE_HOME/droid/index`, else `~/.cache/droid/index`; the store is
  `<sha1(realpath)[:16]>/index.v<INDEX_VERSION>.sqlite`.
* **Chunks and symbols.** Python files are parsed with `ast` (functions, classes, methods as
  `Class.method`, nested definitions); other languages use a regex fallback (and Python that
  does not parse, e.g. Python 2, uses an indentation-aware regex). Files are cut into chunks at
  top-level definitions and methods (small neighbours merged, long ones windowed at 60 lines).
* **Tokens.** Identifiers are split on snake_case and camelCase, lower-cased, and the whole
  identifier is kept too (underscores removed, so `resolve_redirects` and `resolveRedirects`
  both give `resolv`, `redirect`, `resolveredirect`); the Snowball English stemmer (PyStemmer)
  and a stop-word list apply, so `intersection` meets `intersect`. Chunks go into an FTS5 table with two columns, the names of the symbols defined in
  the chunk (weighted 3) and the chunk text.
* **Query analysis.** The query may be a long GitHub issue: template comments and environment
  dumps (`numpy: 1.17.3`, `pip list` tables) and enumerated lists of quoted module names
  (`extensions = ["sphinx.ext.autodoc", "sphinx.ext.todo", ...]`, `INSTALLED_APPS`) are dropped; paths named in it (tracebacks above
  all), dotted module names (`sphinx.ext.autodoc`, `_pytest.logging`), `Class.method` names,
  identifiers (code-looking words, words in backticks or code blocks, traceback function names)
  and prose words are extracted and weighted (a multi-line query's first line, its title, counts
  double; words inside code blocks count half); stop words are dropped; query-term weights are
  applied in BM25 by repeating a phrase, and only the ~64 most informative terms are kept.
* **File score** = 1.0 x (chunk BM25: best chunk + 0.5 x 2nd + 0.25 x 3rd, normalised to the
  best file) + 1.2 x (a path named in the query: a traceback frame or `a/b/c.py`, matched by
  path suffix) + 0.5 x (dotted module name) + 0.6 x (definitions of identifiers named in the
  query, weighted by 1/sqrt(number of files defining them)) + 0.3 x (query terms in the file
  name / directories, by rarity among paths) + 0.4 x (the file of the innermost traceback frame
  that is a file of the repository: where it crashed), times a penalty for tests (0.6), docs and
  extension-less text files (0.5), examples (0.75), vendored copies (0.5) and issue / PR
  templates (0.2), raised when the query names the file (tests to 0.75, templates to 0.5, vendored
  copies to 0.6, others
  to 0.9) or asks about tests / docs (asks to change them: "add tests", "tests are failing";
  "run the test suite" or "the test files" only say where a failure shows). Structured data
  files (xml, json, MARC records, ...; not yaml / toml / ini, which often declare the settings an
  issue is about) are scaled by 0.7 more unless the query names them. A test file named in the query passes 0.8 of its path
  evidence to its subject (`tests/test_x.py` -> `x.py`). File-name evidence: a test file's name
  counts without its test affix (`test_hostname.py` is about `hostname`), and a file whose name is
  made of query words gets 0.5 x the words' rarity among paths on top (`aix.py` for an issue about
  AIX, where `aix` is common in the code's text and so a weak lexical term).
* **Size.** The lexical, symbol and definition evidence of files longer than 40 chunks is
  scaled by (40 / chunks)^e, so a huge module that defines many common names does not win by
  size: e = 0.1 in `mention` mode, 0.15 in `fixsite` mode.
* **Modes.** `mention` (the default) ranks by how much a file talks about the query.
  `fixsite` ranks by the likely fix site: it adds 0.5 x (BM25 of the
  file's best chunk over the *names it defines* only) and normalises size harder. On the
  SWE-bench instances of bench/locate.py it is better at Acc@10 on some repositories (sphinx)
  and worse at Acc@1 overall than `mention`, so it is not the default.
  `CodeIndex.last_explain` keeps the components of the last search.
* **Hits** carry the matching symbols (exact name matches first, then by query terms in their
  name and in their own lines) and the line ranges of the best chunks, best first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path

from skills.tools.base import Tool, ToolContext, ToolResult
from skills.tools.search.index import CodeIndex
from skills.tools.search.output import format_hits
from skills.tools.search.query import analyse_query, clean_query
from skills.tools.search.ranking import MODES, FileHit
from skills.tools.search.snapshot import default_cache_dir
from skills.tools.search.tokens import split_identifier, tokenize

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
    """`droid locate --repo PATH (--query TEXT | --query-file FILE) [--top N] [--format json|text] [--mode M]`."""
    parser = argparse.ArgumentParser(prog="droid locate", description="Rank the files of a repository for a query.")
    parser.add_argument("--repo", required=True, help="the repository (or any directory)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--query", help="the query text")
    group.add_argument("--query-file", help="a file holding the query ('-' for stdin)")
    parser.add_argument("--top", type=int, default=10, help="how many files (default 10)")
    parser.add_argument("--format", choices=("json", "text"), default="text")
    parser.add_argument("--mode", choices=MODES, default=MODES[0],
                        help="mention: files that talk about the query most (default); "
                             "fixsite: also favour files that define what it describes, normalise huge files")
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
        hits = index.search(query, top=args.top, mode=args.mode)
    finally:
        index.close()
    if args.format == "json":
        print(json.dumps({"files": [h.to_json() for h in hits]}))
    else:
        print(format_hits(hits))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(cli_main(sys.argv[1:]))


__all__ = ["CodeIndex", "FileHit", "analyse_query", "clean_query", "cli_main", "default_cache_dir",
           "format_hits", "search_code_tool", "split_identifier", "tokenize"]
