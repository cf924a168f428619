"""The baseline of `condense` (step 4): which failure lines a passing log of the same command has
too, once timestamps, durations, numbers, hex ids and temp paths are normalised away.
"""

from __future__ import annotations

from skills.tools.condense_scoring import (
    _ANSI,
    _STEMS,
    _TS_PREFIX,
    _candidates,
    _prefix,
    _stamped,
    normalise,
    split_lines,
)


def _in_baseline(baseline: str, lines: list[str]) -> list[bool]:
    """For each of `lines`, whether the passing log has it too (once normalised)."""
    cache: dict[str, str] = {}
    keys = []
    for s in lines:
        key = cache.get(s)
        if key is None:
            key = cache[s] = normalise(s, untag=False)
        keys.append(key)
    wanted = set(keys)
    prefixes = {_prefix(s) for s in lines}
    all_wanted = "\n".join(wanted).lower()
    stems = tuple(stem for stem in _STEMS if stem in all_wanted)
    base = list(dict.fromkeys(split_lines(baseline)))  # raw: only the lines looked at get cleaned
    stamped = _stamped(base)
    seen: set[str] = set()
    for i in _candidates(base, stems):
        s = base[i]
        if "\x1b" in s:
            s = _ANSI.sub("", s)
        if stamped:
            m = _TS_PREFIX.match(s)
            if m:
                s = s[m.end() :]
        if _prefix(s) in prefixes:
            key = normalise(s, untag=False)
            if key in wanted:
                seen.add(key)
    return [key in seen for key in keys]
