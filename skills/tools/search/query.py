"""Query analysis: weighted terms, identifiers, qualified names, paths and module names of a query."""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from skills.tools.search.files import _CODE_EXTS, _DOC_EXTS
from skills.tools.search.tokens import (
    _IDENT_RE,
    _QUERY_STOP,
    _STOP,
    _parts,
    _Tokenizer,
    normalize_ident,
)

MAX_QUERY_CHARS = 60_000
TITLE_BOOST = 2.0             # the first line of a multi-line query (an issue's title) counts double
CODE_TERM_WEIGHT = 0.5      # words inside code blocks and tracebacks count half

_FENCE_RE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_TICK_RE = re.compile(r"`([^`\n]{1,300})`")
_CODE_LINE_RE = re.compile(r"^(?: {4,}|\t|>>> |\.\.\. |\$ |In \[\d+\]:).*$|^.*Traceback \(most recent call last\).*$"
                           r"|^\s*File \".*$|^E\s{2,}.*$", re.M)
_TB_RE = re.compile(r"""File ["']([^"'\n]+)["'], line \d+(?:, in ([\w<>.]+))?""")
_PATH_RE = re.compile(r"(?<![\w.@-])((?:[\w.@+-]+/)*[\w@+-][\w.@+-]*\.(?:"
                      + "|".join(sorted(_CODE_EXTS.split() + sorted(_DOC_EXTS), key=len, reverse=True))
                      + r"))(?![\w/])")
_DOTTED_RE = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)")
# asking to change tests, not mentioning them: "the unit test X fails", "run the test suite", "the MARC test
# files" say where a failure shows, and the fix is usually in the code under test
_TEST_INTENT_RE = re.compile(r"\b(?:flaky|(?:add|write|fix|update|improve|increase|extend)(?:ing|s)? "
                             r"(?:a |the |some |new |missing |more )?(?:unit |integration )?"
                             r"(?:tests?|test cases?|test coverage)\b|"
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
    frames: list[str]                    # traceback frame paths, outermost first, in the query's order


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


_DUMP_HEADING_RE = re.compile(r"^\s*(?:#|<details|<summary|</?\w+>\s*$)|version|environment|output of", re.I)


def _drop_dump_heading(lines: list[str], keep: list[bool], start: int) -> None:
    """Drop the heading lines just above an environment dump (`#### Output of xr.show_versions()`)."""
    k, dropped = start - 1, 0
    while k >= 0 and dropped < 4:
        if not lines[k].strip():
            k -= 1
            continue
        if not _DUMP_HEADING_RE.search(lines[k]):
            return
        keep[k] = False
        dropped += 1
        k -= 1


_QUOTED_LIST_RE = re.compile(r"""(?:(["'])[\w.\-]+\1\s*,\s*){2,}(["'])[\w.\-]+\2""")


def _drop_module_lists(text: str) -> str:
    """Lists of three or more quoted module names, mostly dotted (`["sphinx.ext.autodoc", "sphinx.ext.todo", ...]`,
    `INSTALLED_APPS`): a configuration enumerated for context, not the subject of the query."""
    def repl(m: re.Match) -> str:
        items = re.findall(r"[\w.\-]+(?=[\"'])", m.group(0))
        return " " if sum("." in i for i in items) * 3 >= len(items) * 2 else m.group(0)
    return _QUOTED_LIST_RE.sub(repl, text)


_TEMPLATE_MARK_RE = re.compile(r"^\s*(?:[-*+>#]+\s*)*(?:\[[ xX]?\]\s*)?(?:(?:label|description|placeholder|value|about|title)\s*:\s*)?[\"'|>]*\s*")
TEMPLATE_LINE_MIN = 25   # shorter lines ("Describe the bug") are left to the stop words


def template_key(line: str) -> str:
    """A line as an issue template and an issue filled in from it both hold it: list, checkbox and YAML
    markers, quotes and spacing away, lower case; '' when too short to tell."""
    key = " ".join(_TEMPLATE_MARK_RE.sub("", line).strip().strip("\"'").split()).lower().rstrip(".:")
    return key if len(key) >= TEMPLATE_LINE_MIN else ""


def drop_template_lines(query: str, keys: frozenset[str]) -> str:
    """The query without the lines it copied from the repository's issue templates (checklists, prompts):
    they name the template's own links and files (`blank_template.ipynb`), not the subject."""
    if not keys:
        return query
    return "\n".join(line for line in query.split("\n") if template_key(line) not in keys)


def clean_query(query: str) -> str:
    """The query without issue-template comments, environment dumps (runs of `name: version`, and their headings)
    and enumerated lists of module names."""
    text = _drop_module_lists(_HTML_COMMENT_RE.sub(" ", query[:MAX_QUERY_CHARS]))
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
            _drop_dump_heading(lines, keep, i)
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
    frames = [m.group(1).replace("\\", "/") for m in _TB_RE.finditer(text)]
    return _Query(dict(terms), idents, dict(quals), paths, dotted,
                  bool(_TEST_INTENT_RE.search(text)), bool(_DOC_INTENT_RE.search(text)), frames)
