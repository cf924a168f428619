"""Building the SQLite FTS5 index of a repository state."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from skills.tools.search.chunks import _index_file
from skills.tools.search.files import _read_text, _skip_path, _vendored, file_kind
from skills.tools.search.snapshot import _Snapshot
from skills.tools.search.tokens import _Tokenizer, normalize_ident

INDEX_VERSION = "5"
KEEP_INDEXES = 8           # per repository

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE files(id INTEGER PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, n_lines INTEGER NOT NULL);
CREATE TABLE chunks(id INTEGER PRIMARY KEY, file_id INTEGER NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE TABLE symbols(file_id INTEGER NOT NULL, qualname TEXT NOT NULL, lname TEXT NOT NULL,
                     start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE VIRTUAL TABLE chunks_fts USING fts5(sym, body, content='', tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


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
