"""Ranking: the file score that combines BM25 over chunks with path, module and symbol evidence."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from skills.tools.search.files import is_data_file
from skills.tools.search.query import analyse_query, drop_template_lines
from skills.tools.search.tokens import normalize_ident

MAX_QUERY_TERMS = 64
SYMBOLS_PER_HIT = 8
RANGES_PER_HIT = 3

# weights of the file score (see skills/tools/search_code.py's docstring)
W_LEX, W_PATH, W_MODULE, W_SYMBOL, W_PATHTOK = 1.0, 1.2, 0.5, 0.6, 0.3
PENALTY = {"code": 1.0, "test": 0.6, "doc": 0.5, "example": 0.75, "vendored": 0.5, "template": 0.2}
DATA_PENALTY = 0.7   # structured data files (xml, json, ...) unless the query names them
NAMED_LIFT = {"test": 0.75, "template": 0.5, "vendored": 0.6}   # a named file's penalty rises to this (0.9 for the others)
# fix-site mode: definitions whose names carry the query's terms, and very large files normalised
W_DEF = 0.5
LEN_PIVOT = 40   # files of more than LEN_PIVOT chunks: lexical/symbol evidence x (pivot/n)^exp
LEN_EXP = {"mention": 0.1, "fixsite": 0.15}
STEM_COVER = 0.5   # a file whose name is made of query words (`aix.py` for an issue about AIX), by the words' rarity
W_INNER = 0.4    # the file of the innermost traceback frame that is in the repository
MODES = ("mention", "fixsite")   # the first is the default: it measured better at Acc@1 (bench/locate.py, tune split)
SUBJECT_SHARE = 0.8   # a named test file passes this share of its path evidence to the file it tests
_TEST_AFFIX_RE = re.compile(r"^tests?_|_tests?(?=\.\w+$)|(?<=\w)\.(?:test|spec)(?=\.\w+$)")
BM25_COLUMNS = (3.0, 1.0)  # symbol names, body
LEX_DECAY = (1.0, 0.5, 0.25)  # weights of the best, 2nd, 3rd chunk of a file


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


def _definitions(self, chosen: list[str], weights: dict[str, float]) -> dict[int, float]:
    """file -> BM25 of its best chunk over the *names defined* in it (the `sym` column only), normalised."""
    phrases = []
    for t in chosen:
        phrases.extend([f'"{t}"'] * max(1, min(4, round(weights[t]))))
    best: dict[int, float] = {}
    sql = "SELECT rowid, bm25(chunks_fts, 1.0, 0.0) FROM chunks_fts WHERE chunks_fts MATCH ?"
    for cid, score in self._conn.execute(sql, ("sym : (" + " OR ".join(phrases) + ")",)):
        meta = self._chunks.get(cid)
        if meta and -score > best.get(meta[0], 0.0):
            best[meta[0]] = -score
    top = max(best.values(), default=0.0) or 1.0
    return {fid: v / top for fid, v in best.items()}


def _path_matches(self, mentioned: str) -> list[tuple[int, float]]:
    """Files a path named in the query may mean, with the strength of the match (1.0: the whole path)."""
    comps = [c for c in mentioned.strip("/").split("/") if c not in ("", ".")]
    if not comps:
        return []
    cands = self._by_name.get(comps[-1].lower(), [])
    out = []
    for fid in cands:
        fcomps = self._files[fid][0].lower().split("/")
        k = 0
        while k < min(len(comps), len(fcomps)) and comps[-1 - k].lower() == fcomps[-1 - k]:
            k += 1
        if k >= len(fcomps) or k >= len(comps) >= 3:
            strength = 1.0          # the whole repo path, or a 3+ part path, matches
        elif k >= 2:
            strength = 0.4 + 0.5 * k / len(fcomps)
        else:
            strength = 0.3 / len(cands)
        out.append((fid, strength))
    return out


def _innermost_frame(self, frames: list[str]) -> int | None:
    """The file of the innermost traceback frame that is a file of the repository (the last one quoted)."""
    for frame in reversed(frames):
        best = [fid for fid, strength in _path_matches(self, frame) if strength >= 0.9]
        if len(best) == 1:
            return best[0]
    return None


def rank(self, query: str, top: int, mode: str = "mention") -> list[FileHit]:
    """The `top` files of the index `self` (a CodeIndex) most relevant to `query`, best first.

    `mention` (the default) ranks files by how much they talk about the query; `fixsite` also
    credits files that *define* what the query describes and normalises very large files harder."""
    self._load()
    assert self._files is not None and self._chunks is not None
    if not self._files:
        return []
    q = analyse_query(drop_template_lines(query, self.template_keys()))
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
        for fid, strength in _path_matches(self, mentioned):
            path_boost[fid] = max(path_boost[fid], strength * weight)
    inner = _innermost_frame(self, q.frames)

    # 2b. a test file named in the query points at its subject: `tests/test_slugify.py` -> `slugify.py`
    for fid, boost in list(path_boost.items()):
        path, kind, _ = files[fid]
        if kind != "test":
            continue
        name = path.rsplit("/", 1)[-1]
        subject = _TEST_AFFIX_RE.sub("", name)
        if subject == name:
            continue
        for other in self._by_name.get(subject.lower(), []):
            if files[other][1] == "code":
                path_boost[other] = max(path_boost[other], SUBJECT_SHARE * boost)

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
        for bid, qual, lname in self._conn.execute(
                f"SELECT blob_id, qualname, lname FROM symbols WHERE lname IN ({marks})", batch):
            for fid in self._fids_of_blob.get(bid, ()):
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
            elif stem_toks and all(t in qterms for t in stem_toks):   # ... or after words of the query
                score += STEM_COVER * min(self._path_idf.get(t, 0.0) for t in stem_toks)
            if score > 0:
                pathtok_boost[fid] = min(1.0, score)

    fixsite = mode == "fixsite"
    defs_boost = _definitions(self, chosen, weights) if fixsite and chosen else {}

    # combine
    candidates = set(lex) | set(path_boost) | set(module_boost) | set(symbol_boost)
    ranked: list[tuple[float, int]] = []
    explain: dict[str, dict[str, float]] = {}
    for fid in candidates:
        path, kind, _ = files[fid]
        named = path_boost.get(fid, 0.0) >= 0.9 or module_boost.get(fid, 0.0) >= 0.5
        penalty = PENALTY.get(kind, 1.0)
        if (kind == "test" and q.test_intent) or (kind == "doc" and q.doc_intent):
            penalty = max(penalty, 0.9)
        elif named:
            penalty = max(penalty, NAMED_LIFT.get(kind, 0.9))
        if not named and is_data_file(path):
            penalty *= DATA_PENALTY
        size = min(1.0, (LEN_PIVOT / self._n_chunks_of.get(fid, 1)) ** LEN_EXP[mode])
        score = ((W_LEX * lex.get(fid, 0.0) / max_lex + W_SYMBOL * symbol_boost.get(fid, 0.0)
                  + W_DEF * defs_boost.get(fid, 0.0)) * size
                 + W_PATH * path_boost.get(fid, 0.0) + W_MODULE * module_boost.get(fid, 0.0)
                 + W_PATHTOK * pathtok_boost.get(fid, 0.0)
                 + (W_INNER if fid == inner else 0.0)) * penalty
        ranked.append((score, fid))
        explain[path] = {"lex": lex.get(fid, 0.0) / max_lex, "path": path_boost.get(fid, 0.0),
                         "module": module_boost.get(fid, 0.0), "symbol": symbol_boost.get(fid, 0.0),
                         "pathtok": pathtok_boost.get(fid, 0.0), "defs": defs_boost.get(fid, 0.0),
                         "size": size, "penalty": penalty,
                         "inner": 1.0 if fid == inner else 0.0}
    ranked.sort(key=lambda x: (-x[0], files[x[1]][0]))
    self.last_explain = explain
    hits = []
    for score, fid in ranked[:top]:
        ranges = [self._chunks[cid][1:] for _, cid in chunk_scores.get(fid, [])[:RANGES_PER_HIT]]
        symbols = symbols_for(self, fid, qterms, sym_match.get(fid, {}), chunk_scores.get(fid, []))
        hits.append(FileHit(files[fid][0], score, symbols, ranges))
    return hits

def symbols_for(self, fid: int, qterms: dict[str, float], exact: dict[str, float],
                 chunks: list[tuple[float, int]]) -> list[str]:
    """Symbols of a file that match the query, best first.

    A symbol scores by an exact match of its name with a query identifier, by the query terms
    in its name, and by the query terms in its own lines within the file's best chunks (nested
    definitions excluded)."""
    rows = self._conn.execute('SELECT qualname, start, "end" FROM symbols WHERE blob_id = ? ORDER BY start',
                              (self._blob_of[fid],)).fetchall()
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
