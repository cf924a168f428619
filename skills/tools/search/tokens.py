"""Tokens: identifiers split on snake_case and camelCase, stemmed, stop words out (index and query alike)."""

from __future__ import annotations

import re

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


try:    # Snowball (Porter 2) in C: `intersection` and `intersects` both give `intersect`
    import Stemmer as _pystemmer
    _SNOWBALL = _pystemmer.Stemmer("english").stemWord
except ImportError:  # pragma: no cover - the light stemmer below keeps search working
    _SNOWBALL = None


def _stem(token: str) -> str:
    """Snowball English stem of a lower-case ASCII token (a light plural stemmer without PyStemmer)."""
    if _SNOWBALL is not None and len(token) > 3 and token.isascii():
        return _SNOWBALL(token)
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
    ['get', 'http', 'respons', 'code', 'gethttpresponsecod']
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
