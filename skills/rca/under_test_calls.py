"""The project functions the failing test calls (part of `UnderTest`), resolved by jedi on a probe
that replays the event's lines of the test, and the special methods an operator on its failing
line runs.
"""

from __future__ import annotations

import ast

from skills.rca.source import _STOP, Definition, _calls
from skills.rca.test_lines import ASSIGN, balanced, data_flow
from skills.rca.under_test_frames import _OBJ_REPR, _TestFrame

W_TEST_ASSERT = 2.4  # its value reaches the failing line of the test (x 0.8 per assignment hop)
W_TEST_CALL = 1.0  # called elsewhere in the test's visible code
W_TEST_OPERATOR = 2.6  # special method an operator on the failing line dispatches to
NAME_MATCH_FACTOR = 0.5  # a call resolved by bare name only (jedi could not tell)
MAX_NAME_MATCHES = 3  # more definitions of a bare name than this: too ambiguous to credit
_OPS = {ast.Gt: ("__gt__", "__lt__"), ast.Lt: ("__lt__", "__gt__"), ast.GtE: ("__ge__", "__le__"),
        ast.LtE: ("__le__", "__ge__"), ast.Eq: ("__eq__",), ast.NotEq: ("__ne__", "__eq__"),
        ast.In: ("__contains__",), ast.NotIn: ("__contains__",)}


class FailingTestCalls:
    """Mixin of the analysis: locations the failing test's calls reach."""

    def _test_calls(self, tf: _TestFrame, cls: str | None, innermost: bool) -> None:
        """Project functions the test's visible lines call, weighted by whether their values
        reach the failing line."""
        if not tf.lines:
            return
        flows = data_flow(tf.lines)
        calls: list[tuple[str, int, int | None]] = []  # (name, line, hops to the failing line)
        for ln, text in tf.lines:
            for name in _calls(text):
                # `obj.run(…)` on a project object means its `run`: only bare common names
                # (`len`, `get`) are skipped; jedi decides where a dotted call goes
                if name in _STOP or "." not in name and name.split(".")[-1] in _STOP or \
                        name.startswith(("super", "self.assert")):
                    continue
                calls.append((name, ln, flows.get((name, ln))))
        if not calls:
            return
        resolved = self._resolve_test_calls(tf, cls, [(n, ln) for n, ln, _ in calls])
        fail_line = tf.lines[-1][0]
        for name, ln, hops in calls:
            defs, exact = resolved.get((name, ln), ([], False))
            if not defs:
                continue
            share = (1.0 if exact else NAME_MATCH_FACTOR) / max(1, len(defs)) ** 0.5
            where = f"{tf.path}:{ln}"
            for p, d in defs:
                c = self.cand(p, self.constructor(p, d))
                if c is None:
                    continue
                if hops is not None and innermost:
                    pts = W_TEST_ASSERT * 0.8 ** hops * share
                    how = ("called on the failing line" if ln == fail_line and hops == 0 else
                           "its result reaches the failing line")
                    c.add("test_call", pts, f"from the test's calls, not the stack: {how} of "
                                            f"the test ({where} `{name}(…)`)")
                else:
                    c.add("test_call", W_TEST_CALL * share * (1.0 if innermost else 0.7),
                          f"from the test's calls, not the stack: the failing test calls "
                          f"{name}() ({where})")
            if innermost and ln == fail_line:
                self._operators(tf, defs)

    def _resolve_test_calls(self, tf: _TestFrame, cls: str | None,
                            calls: list[tuple[str, int]],
                            ) -> dict[tuple[str, int], tuple[list[tuple[str, Definition]], bool]]:
        """(name, line) → (definitions, resolved exactly). jedi on a probe module: the test
        module at the release, plus a function replaying the event's lines with the types its
        variables held; by bare name when jedi cannot tell."""
        out: dict[tuple[str, int], tuple[list[tuple[str, Definition]], bool]] = {}
        probe, where = self._probe(tf, cls, calls)
        unresolved = []
        for key in calls:
            hits = None
            if self.resolver is not None and key in where:
                hits = self.resolver.goto(tf.path, where[key], key[0], code=probe)
            if hits is None:
                unresolved.append(key)
                continue
            out[key] = (self.defs_at(hits), True)
        src = self.git.source(self.commit, tf.path) if tf.exists else None
        own = {d.name for d in (src.defs if src else [])}
        # a method of the test itself (`self.check(…)`) or a helper the test module defines is
        # test code; a bare name with many definitions says too little
        unresolved = [k for k in unresolved if not k[0].startswith("self.")
                      and k[0].split(".")[-1] not in own]
        if unresolved:
            found = self.resolve_names(sorted({n for n, _ in unresolved}))
            for key in unresolved:
                defs = [(p, d) for p, d in found.get(key[0], []) if d.name == key[0].split(
                    ".")[-1]]
                defs = [x for x in defs if x[0] in self._linked] or defs
                if len(defs) > MAX_NAME_MATCHES:
                    defs = []
                out[key] = (defs, False)
        return out

    def _probe(self, tf: _TestFrame, cls: str | None, calls: list[tuple[str, int]],
               ) -> tuple[str, dict[tuple[str, int], int]]:
        """Python text: the release's test module (if any) and a function that gives each
        variable the type the event recorded, then names each call on a line of its own."""
        src = self.git.source(self.commit, tf.path) if tf.exists else None
        head = list(src.lines) if src is not None else []
        body: list[str] = []
        for _, text in tf.lines:
            a = ASSIGN.match(text)
            if a and balanced(text) and "self" not in a.group(1):
                body.append(text.strip())
        # then the types the event recorded, which override what the assignments imply
        for i, (var, rep) in enumerate(sorted((tf.frame.vars or {}).items())):
            m = _OBJ_REPR.match(rep) if isinstance(rep, str) and var.isidentifier() else None
            if m and var != "self" and self._module_file(m.group(1)):
                body += [f"from {m.group(1)} import {m.group(2)} as _DroidT{i}",
                         f"{var} = _DroidT{i}()"]
        own_class = cls and src is not None and any(d.name == cls and d.kind == "class"
                                                    for d in src.defs)
        lines = head + ["", ""]
        ind = "        " if own_class else "    "
        lines += ([f"class _DroidProbe({cls}):", "    def _droid_probe(self):"] if own_class
                  else ["def _droid_probe(self=None):"])
        lines += [ind + b for b in body] + [ind + "pass"]
        where: dict[tuple[str, int], int] = {}
        for name, ln in calls:
            lines.append(ind + name)
            where[(name, ln)] = len(lines)
        return "\n".join(lines) + "\n", where

    def _operators(self, tf: _TestFrame, defs: list[tuple[str, Definition]]) -> None:
        """`A(x) > A(y)` on the failing line runs A.__gt__: credit the special method."""
        text = tf.lines[-1][1].strip()
        try:
            tree = ast.parse(text)
        except SyntaxError:
            return
        ops = {d for n in ast.walk(tree) if isinstance(n, ast.Compare)
               for op in n.ops for d in _OPS.get(type(op), ())[:1]}
        for p, cls in defs:
            if cls.kind != "class" or not ops:
                continue
            src = self.git.source(self.commit, p)
            hit = False
            for d in (src.defs if src else []):
                if d.name in ops and cls.contains(d.start):
                    c = self.cand(p, d)
                    if c:
                        hit = True
                        c.add("test_operator", W_TEST_OPERATOR,
                              f"from the test's calls, not the stack: the failing line "
                              f"compares {cls.name} objects, which runs {d.qualname}")
            built = self.cands.get((p, self.constructor(p, cls).qualname,
                                    self.constructor(p, cls).start))
            if hit and built is not None and "test_call" in built.signals:
                built.signals["test_call"] *= 0.5  # it only built the operands
                self.operand_builders.add((built.file, built.definition.qualname))
