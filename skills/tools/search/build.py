"""Indexing: one SQLite store per repository, keyed by file content (git blob id), updated incrementally.

The store holds every indexed blob once (its chunks, symbols and the FTS5 rows of its chunks),
whatever paths and commits it appears at. Opening a repository state indexes only the blobs the
store lacks, so a new commit costs what it changed, not what the repository holds. A blob is
keyed by its id and file name (the name's extension picks the parser and its stem is indexed).
The states of the KEEP_STATES most recent opens are kept; blobs no kept state uses are deleted.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from pathlib import Path

from skills.tools.search.chunks import _index_file
from skills.tools.search.files import _read_text
from skills.tools.search.snapshot import _Snapshot
from skills.tools.search.tokens import _Tokenizer, normalize_ident

INDEX_VERSION = "7"
KEEP_STATES = 8            # per repository
LOCK_TIMEOUT = 900         # seconds to wait for another process that is indexing the same repository
STATE_LOCK_MS = 2000       # recording which state was opened is bookkeeping: wait at most this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS blobs(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, n_lines INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(id INTEGER PRIMARY KEY, blob_id INTEGER NOT NULL, start INTEGER NOT NULL,
                                  "end" INTEGER NOT NULL, sym TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_blob ON chunks(blob_id);
CREATE TABLE IF NOT EXISTS symbols(blob_id INTEGER NOT NULL, qualname TEXT NOT NULL, lname TEXT NOT NULL,
                                   start INTEGER NOT NULL, "end" INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS symbols_lname ON symbols(lname);
CREATE INDEX IF NOT EXISTS symbols_blob ON symbols(blob_id, start);
CREATE TABLE IF NOT EXISTS states(key TEXT PRIMARY KEY, used REAL NOT NULL, blobs TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(sym, body, content='chunks', content_rowid='id',
                                                         tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_vocab USING fts5vocab(chunks_fts, 'row');
"""


def blob_key(path: str, blob: str) -> str:
    """The store's key of a file's content: blob id and file name."""
    return f"{blob}:{path.rsplit('/', 1)[-1]}"


def open_store(db_path: Path) -> sqlite3.Connection:
    """The store at `db_path`, created when missing (WAL: readers never wait for the indexer)."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db_path, timeout=LOCK_TIMEOUT, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA synchronous=NORMAL")
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'states'").fetchone() is None:
        conn.execute("PRAGMA journal_mode=WAL")       # only a new store is written to here
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (INDEX_VERSION,))
    return conn


def _known(conn: sqlite3.Connection, keys: list[str]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for i in range(0, len(keys), 500):
        batch = keys[i:i + 500]
        marks = ",".join("?" * len(batch))
        for key, bid, n in conn.execute(f"SELECT key, id, n_lines FROM blobs WHERE key IN ({marks})", batch):
            out[key] = (bid, n)
    return out


def _add_blob(conn: sqlite3.Connection, root: Path, rel: str, key: str,
              tok: _Tokenizer) -> tuple[int, int, int, int]:
    """Index one file's content: (blob row id, lines, chunks, symbols); content that is not text has -1 lines."""
    text = _read_text(root / rel)
    if text is None:
        return conn.execute("INSERT INTO blobs(key, n_lines) VALUES (?, -1)", (key,)).lastrowid, -1, 0, 0
    n_lines, symbols, chunks = _index_file(rel, text, tok)
    bid = conn.execute("INSERT INTO blobs(key, n_lines) VALUES (?, ?)", (key, n_lines)).lastrowid
    conn.executemany("INSERT INTO symbols VALUES (?,?,?,?,?)",
                     [(bid, s.qualname, normalize_ident(s.qualname.rsplit(".", 1)[-1]), s.start, s.end)
                      for s in symbols])
    for start, end, sym_toks, body in chunks:
        cid = conn.execute('INSERT INTO chunks(blob_id, start, "end", sym, body) VALUES (?,?,?,?,?)',
                           (bid, start, end, sym_toks, body)).lastrowid
        conn.execute("INSERT INTO chunks_fts(rowid, sym, body) VALUES (?,?,?)", (cid, sym_toks, body))
    return bid, n_lines, len(chunks), len(symbols)


def update(conn: sqlite3.Connection, snap: _Snapshot,
           keep_states: int = KEEP_STATES) -> tuple[dict[str, tuple[int, int]], dict]:
    """Index the blobs of `snap` the store lacks and record the state.

    Returns (path -> (blob row id, line count; -1 when not text), statistics with `indexed`:
    the paths whose content was indexed now)."""
    started = time.monotonic()
    keys = {path: blob_key(path, blob) for path, blob in snap.entries.items()}
    known = _known(conn, sorted(set(keys.values())))
    indexed: list[str] = []
    n_chunks = n_symbols = 0
    if any(k not in known for k in keys.values()):
        tok = _Tokenizer()
        conn.execute("BEGIN IMMEDIATE")
        try:
            known = _known(conn, sorted(set(keys.values())))      # another process may have added some
            for path, key in keys.items():
                if key not in known:
                    if not (snap.root / path).is_file():    # listed but absent (sparse checkout): not now
                        continue
                    bid, n_lines, c, s = _add_blob(conn, snap.root, path, key, tok)
                    known[key] = (bid, n_lines)
                    indexed.append(path)
                    n_chunks += c
                    n_symbols += s
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    files = {path: known[key] for path, key in keys.items() if key in known}
    _record_state(conn, snap.key, sorted({bid for bid, _ in files.values()}), keep_states)
    stats = {"files": sum(1 for _, n in files.values() if n >= 0), "indexed": indexed,
             "indexed_chunks": n_chunks, "indexed_symbols": n_symbols,
             "build_seconds": round(time.monotonic() - started, 3)}
    return files, stats


def _record_state(conn: sqlite3.Connection, key: str, blob_ids: list[int], keep_states: int) -> None:
    """Remember the state's blobs; forget the oldest states beyond `keep_states` and the blobs only they used."""
    conn.execute(f"PRAGMA busy_timeout = {STATE_LOCK_MS}")   # never wait long behind another indexer
    try:
        _record_state_locked(conn, key, blob_ids, keep_states)
    except sqlite3.OperationalError:     # busy: the state is recorded by a later open
        pass
    finally:
        conn.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT * 1000}")


def _record_state_locked(conn: sqlite3.Connection, key: str, blob_ids: list[int], keep_states: int) -> None:
    """Record the state and prune, in one write transaction (raises when the store stays busy)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("INSERT OR REPLACE INTO states VALUES (?, ?, ?)", (key, time.time(), json.dumps(blob_ids)))
        old = [k for (k,) in conn.execute("SELECT key FROM states ORDER BY used DESC LIMIT -1 OFFSET ?",
                                          (keep_states,))]
        if old:
            conn.executemany("DELETE FROM states WHERE key = ?", [(k,) for k in old])
            live: set[int] = set()
            for (blobs,) in conn.execute("SELECT blobs FROM states"):
                live.update(json.loads(blobs))
            dead = [bid for (bid,) in conn.execute("SELECT id FROM blobs") if bid not in live]
            _delete_blobs(conn, dead)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _delete_blobs(conn: sqlite3.Connection, dead: list[int]) -> None:
    for i in range(0, len(dead), 500):
        batch = dead[i:i + 500]
        marks = ",".join("?" * len(batch))
        conn.execute("INSERT INTO chunks_fts(chunks_fts, rowid, sym, body) "
                     f"SELECT 'delete', id, sym, body FROM chunks WHERE blob_id IN ({marks})", batch)
        for table, col in (("chunks", "blob_id"), ("symbols", "blob_id"), ("blobs", "id")):
            conn.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", batch)


def drop_old_formats(repo_dir: Path, keep: Path) -> None:
    """Delete index files of other formats (per-state files of format 5 and older)."""
    with contextlib.suppress(OSError):
        for old in repo_dir.glob("*.sqlite"):
            if old != keep and not old.name.startswith(keep.name):
                with contextlib.suppress(OSError):
                    old.unlink()
