"""`CodeIndex`: open (build or reuse) the index of a repository state and search it."""

from __future__ import annotations

import hashlib
import math
import sqlite3
import threading
from collections import Counter, defaultdict
from pathlib import Path

from skills.tools.search.build import (
    INDEX_VERSION,
    KEEP_STATES,
    drop_old_formats,
    open_store,
    update,
)
from skills.tools.search.files import MAX_FILE_BYTES, _ext, _vendored, file_kind
from skills.tools.search.query import template_key
from skills.tools.search.ranking import _TEST_AFFIX_RE, MODES, FileHit, rank
from skills.tools.search.snapshot import _Snapshot, _snapshot, default_cache_dir
from skills.tools.search.tokens import _Tokenizer, normalize_ident


class CodeIndex:
    """A BM25 index (SQLite FTS5) of one repository state; `open` indexes what the store lacks."""

    def __init__(self, conn: sqlite3.Connection, db_path: Path, snap: _Snapshot,
                 files: dict[str, tuple[int, int]], stats: dict) -> None:
        self._conn = conn
        self.db_path = db_path
        self.root = snap.root
        self.commit = snap.commit
        self.key = snap.key
        self.indexed: list[str] = stats.pop("indexed", [])   # paths whose content was indexed by this open
        self.reused = not self.indexed   # True when every blob of the state was in the store already
        self.stats = stats
        self._state = files               # path -> (blob row id, line count; -1: not text)
        self._lock = threading.Lock()
        self._files: dict[int, tuple[str, str, int]] | None = None
        self._blob_of: dict[int, int] = {}
        self._fids_of_blob: dict[int, list[int]] = {}
        self._n_chunks_of: dict[int, int] = {}
        self._chunks: dict[int, tuple[int, int, int]] | None = None
        self._n_chunks = 0
        self._by_name: dict[str, list[int]] = {}
        self._modules: dict[tuple[str, ...], list[int]] = {}
        self.last_explain: dict[str, dict[str, float]] = {}   # score components of the last search
        self._path_tokens: dict[int, tuple[set[str], set[str], str]] = {}
        self._path_idf: dict[str, float] = {}
        self._dir_names: set[str] = set()
        self._template_keys: frozenset[str] | None = None
        self._tok = _Tokenizer()

    @classmethod
    def open(cls, repo: str | Path, cache_dir: str | Path | None = None,
             keep_states: int = KEEP_STATES) -> CodeIndex:
        """Open the index of `repo`'s current state, indexing only file contents not indexed before.

        The store keeps the blobs of the `keep_states` most recently opened states."""
        repo = Path(repo).expanduser()
        if not repo.is_dir():
            raise FileNotFoundError(f"no directory {str(repo)!r}")
        snap = _snapshot(repo)
        base = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        repo_dir = base / hashlib.sha1(str(snap.root).encode("utf-8", "surrogateescape")).hexdigest()[:16]
        db_path = repo_dir / f"index.v{INDEX_VERSION}.sqlite"
        conn = open_store(db_path)
        try:
            files, stats = update(conn, snap, keep_states)
        except BaseException:
            conn.close()
            raise
        drop_old_formats(repo_dir, db_path)
        return cls(conn, db_path, snap, files, stats)

    def files(self) -> dict[str, str]:
        """Indexed path -> kind (`code`, `test`, `doc`, `example`, `vendored`) of this state."""
        self._load()
        assert self._files is not None
        return {path: kind for path, kind, _ in self._files.values()}

    def close(self) -> None:
        self._conn.close()

    # -- lazily loaded tables ------------------------------------------------------------------

    def _load(self) -> None:
        if self._files is not None:
            return
        listed = set(self._state)
        self._files = {}
        fids_of_blob: dict[int, list[int]] = defaultdict(list)
        for path, (bid, n_lines) in sorted(self._state.items()):
            if n_lines < 0:
                continue
            fid = len(self._files) + 1
            kind = "vendored" if _vendored(path, listed) else file_kind(path)
            self._files[fid] = (path, kind, n_lines)
            self._blob_of[fid] = bid
            fids_of_blob[bid].append(fid)
        self._fids_of_blob = dict(fids_of_blob)
        self._chunks = {}
        n_chunks_of: dict[int, int] = defaultdict(int)
        for cid, bid, s, e in self._conn.execute('SELECT id, blob_id, start, "end" FROM chunks'):
            fids = fids_of_blob.get(bid)
            if fids:
                self._chunks[cid] = (fids[0], s, e)
                n_chunks_of[fids[0]] += 1
        self._n_chunks_of = dict(n_chunks_of)
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
        ident_of: dict[str, frozenset] = {}     # directory names repeat across thousands of paths

        def idents(name: str) -> frozenset:
            if name not in ident_of:
                ident_of[name] = frozenset(tok.ident(name))
            return ident_of[name]

        for fid, (path, kind, _) in self._files.items():
            comps = path.split("/")
            stem = comps[-1].split(".", 1)[0]
            if stem == "__init__" and len(comps) > 1:   # a package's __init__ is named by its directory
                stem = comps[-2]
                comps = comps[:-1]
            elif kind == "test":         # `test_hostname.py` is about `hostname`; the affix says what it is
                stem = _TEST_AFFIX_RE.sub("", comps[-1]).split(".", 1)[0] or stem
            stem_toks = set(tok.ident(stem))
            dir_toks = set().union(*map(idents, comps[:-1])) - stem_toks
            self._path_tokens[fid] = (stem_toks, dir_toks, normalize_ident(stem))
            path_df.update(stem_toks | dir_toks)
        n_files = max(2, len(self._files))
        self._path_idf = {t: max(0.0, math.log(n_files / d) / math.log(n_files)) for t, d in path_df.items()}
        dirs = {c for path, _, _ in self._files.values() for c in path.split("/")[:-1]}
        self._dir_names = {normalize_ident(c) for c in dirs}

    # -- search ----------------------------------------------------------------------------------

    def search(self, query: str, top: int = 10, mode: str = MODES[0]) -> list[FileHit]:
        """The `top` files most relevant to `query`, best first (`mode`: `mention` or `fixsite`)."""
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; one of {', '.join(MODES)}")
        if top <= 0 or not query or not query.strip():
            return []
        with self._lock:
            return rank(self, query, top, mode)

    def term_counts(self, terms: list[str]) -> dict[str, int]:
        """How many chunks contain each index term (query tokens, see `analyse_query`); absent terms are left out."""
        return self._df(sorted(set(terms)))

    def _df(self, terms: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in range(0, len(terms), 400):
            batch = terms[i:i + 400]
            marks = ",".join("?" * len(batch))
            out.update(self._conn.execute(f"SELECT term, doc FROM chunks_vocab WHERE term IN ({marks})", batch))
        return out

    def template_keys(self) -> frozenset[str]:
        """The lines of the repository's issue and pull-request templates, as `template_key` gives them."""
        if self._template_keys is None:
            self._load()
            assert self._files is not None
            self._template_keys = frozenset(
                key for fid, (_, kind, _) in self._files.items() if kind == "template"
                for key in map(template_key, self._file_lines(fid)) if key)
        return self._template_keys

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
