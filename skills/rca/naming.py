"""Test-to-code naming links: which module and function a test's names point at.

Projects name tests after what they test: `test/units/plugins/lookup/test_env.py` tests
`lib/ansible/plugins/lookup/env.py`, `tests/test_utils_gz.py` tests `scrapy/utils/gz.py`,
`test_get_mount_facts` and `TestFactsLinuxHardwareGetMountFacts` test `get_mount_facts`. These
links are weaker than what the test calls; they help where the calls cannot be resolved.
"""

from __future__ import annotations

import re

from skills.rca.paths import is_library_path, is_source_path, is_test_path

_GENERIC_DIRS = {"test", "tests", "unit", "units", "testing", "lib", "src", "integration",
                 "functional", "spec", "specs"}
_GENERIC_TOKENS = {"test", "tests", "case", "cases", "testcase", "should", "it", "the", "a",
                   "an", "of", "with", "when", "and", "or", "for", "to", "in", "on", "is"}


def name_tokens(name: str) -> list[str]:
    """`test_get_mount_facts` → [get, mount, facts]; `TestFactsLinuxHW` → [facts, linux, hw];
    `__new__` → [new]."""
    name = re.sub(r"\[.*$", "", name or "")  # pytest parameter ids
    parts = re.split(r"[_\W]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2",
                                       re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)))
    return [p.lower() for p in parts if p]


def subject_tokens(name: str) -> list[str]:
    """Tokens of a test's name without the `test` markers."""
    toks = name_tokens(name)
    while toks and toks[0] in ("test", "tests"):
        toks = toks[1:]
    while toks and toks[-1] in ("test", "tests"):
        toks = toks[:-1]
    return toks


def _same(a: str, b: str) -> bool:
    """Token equality up to a plural/suffix (`middleware` ~ `middlewares`)."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short) and len(long_) - len(short) <= 2


def contiguous(needle: list[str], hay: list[str]) -> int | None:
    """Index where `needle` occurs as a contiguous run in `hay`, else None."""
    if not needle or len(needle) > len(hay):
        return None
    for i in range(len(hay) - len(needle) + 1):
        if all(_same(n, h) for n, h in zip(needle, hay[i:i + len(needle)], strict=False)):
            return i
    return None


def linked_files(test_path: str, files: list[str], extra_tokens: list[str] | None = None,
                 ) -> list[tuple[str, float]]:
    """Source files the test module is named after, best first, each with a score in (0, 1]."""
    base = test_path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = subject_tokens(base)
    tdirs = [d.lower() for d in test_path.split("/")[:-1] if d.lower() not in _GENERIC_DIRS]
    scored: dict[str, float] = {}
    for tokens, factor in ((stem, 1.0), (extra_tokens or [], 0.6)):
        if not tokens:
            continue
        for f in files:
            if not f.endswith(".py") or is_test_path(f) or is_library_path(f) or \
                    not is_source_path(f):
                continue
            segs = f.split("/")
            fbase = segs[-2] if segs[-1] == "__init__.py" and len(segs) > 1 else \
                segs[-1][:-3]
            ftoks = name_tokens(fbase)
            at = contiguous(ftoks, tokens)
            if at is None:
                continue
            rest = tokens[:at] + tokens[at + len(ftoks):]
            dirs = [d.lower() for d in segs[:-1] if d.lower() not in _GENERIC_DIRS]
            in_dirs = sum(1 for t in rest if any(_same(t, d) for d in dirs))
            overlap = len({d for d in dirs if any(_same(d, t) for t in tdirs)})
            score = factor * (len(ftoks) + in_dirs + 0.5 * overlap) - 0.01 * len(segs)
            scored[f] = max(scored.get(f, 0.0), score)
    if not scored:
        return []
    ranked = sorted(scored.items(), key=lambda x: -x[1])
    top = ranked[0][1]
    return [(f, min(1.0, s / max(top, 1e-9))) for f, s in ranked[:3] if s >= top - 0.25]


def function_link(fn_name: str, test_name_tokens: list[str]) -> float:
    """How strongly a test's name names the function `fn_name` (0 = not at all)."""
    ftoks = [t for t in name_tokens(fn_name) if t]
    if not ftoks or not test_name_tokens:
        return 0.0
    at = contiguous(ftoks, test_name_tokens)
    if at is None:
        return 0.0
    q = 1.0 if at == 0 else 0.7
    if len(ftoks) == 1:
        q *= 0.6 if len(ftoks[0]) >= 4 else 0.4
        if ftoks[0] in _GENERIC_TOKENS:
            return 0.0
    return q
