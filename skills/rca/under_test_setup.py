"""What the failing test's set-up calls (part of `UnderTest`): the test class's setUp and the
fixtures the test takes, as the release's code has them.
"""

from __future__ import annotations

import re

from skills.rca.source import _STOP, Definition, _calls
from skills.rca.under_test_frames import _TestFrame

W_TEST_SETUP = 0.5  # called by the test's setUp or a fixture it takes
_SETUP_NAMES = ("setUp", "setup_method", "setup", "setUpClass", "asyncSetUp", "setup_class")


class FailingTestSetup:
    """Mixin of the analysis: locations the failing test's set-up calls."""

    def _test_setup(self, tf: _TestFrame, cls: str | None) -> None:
        """Calls of the test class's setUp and of the fixtures the test takes (release code)."""
        src = self.git.source(self.commit, tf.path) if tf.exists else None
        if src is None:
            return
        for d in self._setup_scopes(src, tf, cls):
            names, at = [], {}
            for ln in range(d.start + 1, min(d.end, d.start + 40) + 1):
                for n in _calls(src.lines[ln - 1]):
                    if n.split(".")[-1] not in _STOP and n not in at:
                        names.append(n)
                        at[n] = (tf.path, ln)
            names = names[:12]
            # through the module's imports; by bare name only for bare calls (`x.patch(…)` on
            # an unknown `x` says nothing about the project's `patch`)
            found = {n: defs for n, defs in self._resolve_at(names, at).items() if defs}
            rest = [n for n in names if n not in found and "." not in n and n not in {
                d.name for d in src.defs}]
            found.update(self._match_names(rest, None) if rest else {})
            for n in names:
                defs = found.get(n, [])
                for p, fd in defs:
                    c = self.cand(p, self.constructor(p, fd))
                    if c:
                        c.add("test_setup", W_TEST_SETUP / len(defs) ** 0.5,
                              f"from the test's set-up, not the stack: {d.qualname} calls "
                              f"{n}() ({tf.path}:{at[n][1]})")

    def _setup_scopes(self, src, tf: _TestFrame, cls: str | None) -> list[Definition]:
        """The test class's setUp and the module's fixtures the test takes."""
        params = _params(tf)
        return [d for d in src.defs if d.kind == "function" and (
            d.name in _SETUP_NAMES and cls and d.qualname.startswith(cls + ".")
            or d.name in params and "." not in d.qualname)][:4]

def _params(tf: _TestFrame) -> set[str]:
    """Parameter names of the test function (the fixtures it takes), from the event's lines."""
    for t in [*(tf.frame.pre_context or []), tf.frame.context_line or ""]:
        m = re.match(r"\s*(?:async\s+)?def\s+\w+\s*\(([^)]*)\)", t)
        if m:
            return {p.split(":")[0].split("=")[0].strip() for p in m.group(1).split(",")} - {
                "self", ""}
    return set(tf.frame.vars or {}) - {"self"}
