"""Callees: the functions that the definitions a query names call, defined in other files.

An issue names the API it used (`Response.iter_content`); the fault is often in a helper that
API calls (`stream_decode_response_unicode` in another module). The bodies of the best-matching
named definitions are read, their call sites (`name(` and `.name(`) resolved against the
definitions of the repository, and the files defining those callees credited, rarer names more."""

from __future__ import annotations

import re
from collections import defaultdict

from skills.tools.search.tokens import _STOP, normalize_ident

SOURCES = 5               # named definitions whose bodies are read
MIN_SOURCE_SCORE = 0.5    # a definition counts as named by the query from this match score
MAX_DEFINERS = 4          # a callee defined in more files than this is too common to point anywhere
MAX_BODY_LINES = 400
_CALL_RE = re.compile(r"(?<![\w])([A-Za-z_]\w*)\s*\(")
_BUILTINS = frozenset("""
len isinstance issubclass str int float bool list dict set tuple frozenset getattr setattr hasattr
delattr super print range type object repr format sorted reversed enumerate zip map filter min max
sum any all abs round iter next open callable vars dir id hash sliced append extend update items
keys values join split strip replace startswith endswith lower upper get pop copy add insert
""".split())


def _calls(lines: list[str], start: int, end: int) -> set[str]:
    body = "\n".join(lines[max(0, start - 1):min(len(lines), end, start - 1 + MAX_BODY_LINES)])
    names = {normalize_ident(m.group(1)) for m in _CALL_RE.finditer(body)}
    return {n for n in names if len(n) >= 4 and n not in _STOP and n not in _BUILTINS}


def callee_boost(index, sym_match: dict[int, dict[str, float]]) -> dict[int, float]:
    """file id -> credit in [0, 1] for defining what the query's named definitions call."""
    sources = sorted(((score, fid, qual) for fid, quals in sym_match.items() for qual, score in quals.items()
                      if score >= MIN_SOURCE_SCORE and index._files[fid][1] == "code"), reverse=True)[:SOURCES]
    if not sources:
        return {}
    top = sources[0][0]
    wanted: dict[str, float] = defaultdict(float)     # callee name -> weight of its strongest caller
    callers: dict[str, set[int]] = defaultdict(set)
    for score, fid, qual in sources:
        row = index._conn.execute('SELECT start, "end" FROM symbols WHERE blob_id = ? AND qualname = ? LIMIT 1',
                                  (index._blob_of[fid], qual)).fetchone()
        lines = index._file_lines(fid) if row else []
        own = normalize_ident(qual.rsplit(".", 1)[-1])
        for name in _calls(lines, row[0], row[1]) if lines else ():
            if name != own:
                wanted[name] = max(wanted[name], score / top)
                callers[name].add(fid)
    if not wanted:
        return {}
    definers: dict[str, set[int]] = defaultdict(set)
    names = sorted(wanted)
    for i in range(0, len(names), 400):
        batch = names[i:i + 400]
        marks = ",".join("?" * len(batch))
        for bid, lname in index._conn.execute(f"SELECT blob_id, lname FROM symbols WHERE lname IN ({marks})", batch):
            for fid in index._fids_of_blob.get(bid, ()):
                if index._files[fid][1] == "code":
                    definers[lname].add(fid)
    boost: dict[int, float] = defaultdict(float)
    for name, fids in definers.items():
        if len(fids) > MAX_DEFINERS:
            continue
        for fid in fids - callers[name]:
            boost[fid] += wanted[name] / len(fids)
    return {fid: min(1.0, v) for fid, v in boost.items()}
