"""The plain baselines of `bench/locate.py`: Okapi BM25 over whole files (k1=1.2, b=0.75), with
plain lower-cased word tokens (English stop words out) or droid's identifier tokenizer, token
counts memoised by file content so a moved HEAD re-tokenises only what changed."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, defaultdict

from skills.tools.search_code import tokenize

ENGLISH_STOP = frozenset("""
a about above after again against all also am an and any are as at be because been before being
below between both but by can could did do does doing done down during each either else few for
from further had has have having he her here hers him his how i if in into is it its itself just
me more most my no nor not now of off on once only or other our ours out over own same she should
so some such than that the their theirs them then there these they this those through to too
under until up very was we were what when where which while who whom why will with would you your
""".split())
_WORD = re.compile(r"[A-Za-z0-9_]+")


class CountsBM25:
    """Okapi BM25 over whole files (k1=1.2, b=0.75) from their token counts; the query is tokenised
    with `query_tokenizer`."""

    def __init__(self, counts: dict[str, Counter], query_tokenizer, k1: float = 1.2, b: float = 0.75) -> None:
        self.tok, self.k1, self.b = query_tokenizer, k1, b
        self.tf = counts
        self.len = {p: sum(c.values()) for p, c in counts.items()}
        self.avg = (sum(self.len.values()) / len(self.len)) if self.len else 1.0
        self.n = len(counts)

    def search(self, query: str, top: int = 10) -> list[str]:
        """The `top` files by BM25, best first (ties by path); postings are gathered for the query's terms only."""
        scores: dict[str, float] = defaultdict(float)
        for term in set(self.tok(query)):
            postings = [(path, c[term]) for path, c in self.tf.items() if term in c]
            if not postings:
                continue
            df = len(postings)
            idf = math.log(1 + (self.n - df + 0.5) / (df + 0.5))
            for path, tf in postings:
                norm = self.k1 * (1 - self.b + self.b * self.len[path] / self.avg)
                scores[path] += idf * tf * (self.k1 + 1) / (tf + norm)
        return [p for p, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]


def plain_tokens(text: str) -> list[str]:
    return [w for w in (m.lower() for m in _WORD.findall(text)) if w not in ENGLISH_STOP and not w.isdigit()]


class TokenCache:
    """Token counts of file texts, memoised by content: a moved HEAD re-tokenises only what changed."""

    def __init__(self, tokenizer) -> None:
        self.tok = tokenizer
        self.memo: dict[str, Counter] = {}

    def __call__(self, text: str) -> Counter:
        key = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
        counts = self.memo.get(key)
        if counts is None:
            counts = self.memo[key] = Counter(self.tok(text))
        return counts


def baselines(docs: dict[str, str], kinds: dict[str, str], query: str, plain: TokenCache,
              split: TokenCache | None, top: int = 10) -> tuple[list[str], list[str], list[str]]:
    """Top files of bm25_plain, bm25_split (empty when `split` is None) and bm25_plain_code_only."""
    plain_counts = {p: plain(t) for p, t in docs.items()}
    return (CountsBM25(plain_counts, plain_tokens).search(query, top),
            CountsBM25({p: split(t) for p, t in docs.items()}, tokenize).search(query, top) if split else [],
            CountsBM25({p: c for p, c in plain_counts.items() if kinds.get(p) == "code"},
                       plain_tokens).search(query, top))
