"""The code under test: where a failure that surfaces in test code points into the project.

When the innermost repository frame is a test (an assertion failed, a test helper raised) the
stack holds no project frame. The failing test still says what it tested: the project functions
it called, above all those whose values reach the failing line (data flow back from the assert),
the objects in its local variables (`<pkg.mod.Class object at 0x…>`), its set-up (setUp, the
fixtures it takes) and its names (`test_env.py` → `env.py`, `test_get_mount_facts` →
`get_mount_facts`). Calls are resolved as Python does, through the test module's imports at the
release (jedi, `resolve.py`), on a probe that replays the event's own lines of the test (the
test file at the release may be older than the test that ran, or missing). Every location found
this way says so in its reasons: it comes from the test's calls, not from the stack.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from skills.rca.naming import function_link, linked_files, subject_tokens
from skills.rca.paths import is_library_path, is_test_path, normalise_path
from skills.rca.source import _STOP, Definition, _calls
from skills.rca.test_lines import ASSIGN, balanced, data_flow, event_lines

W_TEST_ASSERT = 2.4  # its value reaches the failing line of the test (x 0.8 per assignment hop)
W_TEST_CALL = 1.0  # called elsewhere in the test's visible code
W_TEST_SETUP = 0.5  # called by the test's setUp or a fixture it takes
W_TEST_NAME = 1.2  # x link quality: the test (or its class) is named after the function
W_TEST_FILE = 0.8  # x link quality: in the module the test module is named after
W_TEST_OPERATOR = 2.6  # special method an operator on the failing line dispatches to
NAME_MATCH_FACTOR = 0.5  # a call resolved by bare name only (jedi could not tell)
FILE_ONLY_FACTOR = 0.7  # only the module is linked: its longest function (size ~ defects)
MAX_NAME_MATCHES = 3  # more definitions of a bare name than this: too ambiguous to credit
_OBJ_REPR = re.compile(r"^<([A-Za-z_][\w.]*)\.([A-Za-z_]\w*) (?:object at 0x[0-9a-fA-F]+|"
                       r"testMethod=\w+)>$")
_SETUP_NAMES = ("setUp", "setup_method", "setup", "setUpClass", "asyncSetUp", "setup_class")
_OPS = {ast.Gt: ("__gt__", "__lt__"), ast.Lt: ("__lt__", "__gt__"), ast.GtE: ("__ge__", "__le__"),
        ast.LtE: ("__le__", "__ge__"), ast.Eq: ("__eq__",), ast.NotEq: ("__ne__", "__eq__"),
        ast.In: ("__contains__",), ast.NotIn: ("__contains__",)}


@dataclass
class _TestFrame:
    path: str
    exists: bool
    frame: object
    lines: list[tuple[int, str]] = field(default_factory=list)  # the event's code, numbered


class UnderTest:
    """Mixin of the analysis: locations named by the failing test (no project frame)."""

    def add_under_test(self) -> None:
        """Rank the functions the failing test exercised, when the failure is in test code."""
        primary = len(self.event.exceptions) - 1
        if primary < 0 or any(fe.weight > 0 and fe.exception_index == primary
                              for fe in self.frames):
            return
        tfs = self._test_frames(self.event.exceptions[primary])
        if not tfs:
            return
        self.operand_builders: set[tuple[str, str]] = set()
        main = next((t for t in reversed(tfs) if (t.frame.function or "").lower().startswith(
            "test")), tfs[-1])
        cls = self._test_class(main)
        self._roots_for_tests(tfs, main)
        self._typed = self._typed_vars(tfs)
        self._linked = dict(linked_files(main.path, self.files.files, subject_tokens(cls or "")))
        self._prefetch(tfs, main, cls)
        for i, tf in enumerate(tfs):
            self._test_calls(tf, cls if tf is main else None, innermost=i == 0)
        self._test_setup(main, cls)
        self._test_names(main, cls)
        if any(k.startswith("test_") for c in self.cands.values() for k in c.signals):
            self.notes.append(f"the failure surfaced in test code ({main.path}::"
                              f"{main.frame.function}); locations marked 'from the test's calls' "
                              "come from what the test ran, not from the stack")

    def _prefetch(self, tfs: list[_TestFrame], main: _TestFrame, cls: str | None) -> None:
        """One `git grep` for every name a fallback by name may need (each grep of a large
        repository costs seconds; the results are cached per name)."""
        texts = [t for tf in tfs for _, t in tf.lines]
        src = self.git.source(self.commit, main.path) if main.exists else None
        for d in self._setup_scopes(src, main, cls) if src else []:
            texts += src.lines[d.start:min(d.end, d.start + 40)]
        names = {n.split(".")[-1] for t in texts for n in _calls(t)} - _STOP
        if names:
            self.git.grep_definitions(self.commit, sorted(names), self.languages)

    # -- the test's frames and code -----------------------------------------------------------

    def _test_frames(self, exc) -> list[_TestFrame]:
        dirs = getattr(self, "_dirs", None)
        if dirs is None:
            dirs = self._dirs = {f.rsplit("/", 1)[0] for f in self.files.files if "/" in f}
        out: list[_TestFrame] = []
        for fr in reversed(exc.frames):
            m = self.files.match(fr)
            if m is not None:
                if not is_test_path(m.path):
                    break
                tf = _TestFrame(m.path, True, fr)
            else:
                path = _place(fr, dirs)
                if path is None:
                    if out:
                        break
                    continue
                tf = _TestFrame(path, False, fr)
            if not tf.path.endswith(".py") or fr.lineno is None:
                continue
            tf.lines = event_lines(fr)
            if tf.exists:
                tf.lines = self._release_lead(tf) + tf.lines
            out.append(tf)
        return out

    def _release_lead(self, tf: _TestFrame) -> list[tuple[int, str]]:
        """The test function's lines at the release that come before the event's window (where
        the values the assert compares were often made), when the window's first line is
        found in that function."""
        src = self.git.source(self.commit, tf.path)
        first = next((t.strip() for _, t in tf.lines if t.strip()), None)
        if src is None or first is None:
            return []
        for d in src.named(tf.frame.function or ""):
            body = [(ln, src.lines[ln - 1]) for ln in range(d.start + 1, min(d.end, len(
                src.lines)) + 1)]
            at = next((i for i, (_, t) in enumerate(body) if t.strip() == first), None)
            if at is not None:
                head = next((i for i, (_, t) in enumerate(body[:at]) if t.rstrip().endswith(
                    ":") and not t.strip().startswith(("if", "for", "with", "while", "try"))),
                    -1)
                return body[head + 1:at][-40:]
        return []

    def _test_class(self, tf: _TestFrame) -> str | None:
        rep = tf.frame.vars.get("self") if isinstance(tf.frame.vars, dict) else None
        m = _OBJ_REPR.match(rep) if isinstance(rep, str) else None
        if m:
            return m.group(2)
        src = self.git.source(self.commit, tf.path) if tf.exists else None
        if src is not None:
            d = src.enclosing(tf.frame.lineno, ("class",))
            if d is not None:
                return d.name
        return None

    def _roots_for_tests(self, tfs: list[_TestFrame], main: _TestFrame) -> None:
        """Import roots for the modules the test imports and its objects come from."""
        mods: set[str] = set()
        for tf in tfs:
            for rep in (tf.frame.vars or {}).values():
                m = _OBJ_REPR.match(rep) if isinstance(rep, str) else None
                if m:
                    mods.add(m.group(1))
        src = self.git.source(self.commit, main.path) if main.exists else None
        for ln in (src.lines if src else [])[:400]:
            m = re.match(r"\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", ln)
            if m:
                mods.add(m.group(1) or m.group(2))
        roots = []
        for mod in sorted(mods):
            f = self._module_file(mod)
            if f:
                tail = mod.replace(".", "/")
                root = f[: f.rfind(tail)].rstrip("/") if tail in f else ""
                if root and root not in roots:
                    roots.append(root)
        if roots and self.resolver is not None:
            self.resolver.add_roots(roots)

    def _typed_vars(self, tfs: list[_TestFrame]) -> list[tuple[str, str]]:
        """(file, class) of the project objects the test's variables held."""
        out = []
        for tf in tfs:
            for var, rep in (tf.frame.vars or {}).items():
                m = _OBJ_REPR.match(rep) if isinstance(rep, str) and var != "self" else None
                f = self._module_file(m.group(1)) if m else None
                if f and (f, m.group(2)) not in out:
                    out.append((f, m.group(2)))
        return out

    def _module_file(self, mod: str) -> str | None:
        tail = mod.replace(".", "/")
        hits = [f for f in self.files.files if f.endswith((tail + ".py", tail + "/__init__.py"))
                and (f.startswith(tail) or f"/{tail}" in f)]
        hits = [f for f in hits if not is_test_path(f)]
        return min(hits, key=len) if hits else None

    # -- calls --------------------------------------------------------------------------------

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

    # -- set-up and names ---------------------------------------------------------------------

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

    def _test_names(self, tf: _TestFrame, cls: str | None) -> None:
        """Links by name: the module the test module is named after, the function (and class)
        the test is named after, among the files the test reaches."""
        fn_toks = subject_tokens(tf.frame.function or "")
        cls_toks = subject_tokens(cls or "")
        files = self._linked
        reached = {c.file for c in self.cands.values() if any(
            k.startswith("test_") for k in c.signals)} | {f for f, _ in self._typed}
        held = {(f, k) for f, k in self._typed}
        for path in sorted(set(files) | reached):
            src = self.git.source(self.commit, path)
            if src is None:
                continue
            fq = files.get(path, 0.0)
            classes = [d for d in src.defs if d.kind == "class" and (
                cls_toks and function_link(d.name, cls_toks) > 0 or (path, d.name) in held)]
            for d in src.defs:
                if d.kind != "function":
                    continue
                q = max(function_link(d.name, fn_toks), 0.8 * function_link(d.name, cls_toks))
                in_cls = any(k.contains(d.start) for k in classes)
                if q <= 0:
                    continue
                c = self.cand(path, d)
                if c:
                    c.add("test_name", W_TEST_NAME * q * (1.0 if fq or in_cls else 0.7),
                          f"the failing test {tf.frame.function} is named after "
                          f"{d.qualname}")
            if fq:
                for c in [c for c in self.cands.values() if c.file == path]:
                    c.add("test_file", W_TEST_FILE * fq,
                          f"{tf.path} is named after {path}")
                if not any(c.file == path for c in self.cands.values()):
                    d = _main_function(src)
                    c = self.cand(path, d) if d else None
                    if c:
                        c.add("test_file", W_TEST_FILE * fq * FILE_ONLY_FACTOR,
                              f"{tf.path} is named after {path} (no call of the test "
                              "resolved into it)")


def _place(fr, dirs: set[str]) -> str | None:
    """A test file missing at the release, placed by the longest suffix of its path whose
    directory exists in the repository."""
    raw = normalise_path(fr.abs_path or fr.filename)
    if not raw or not raw.endswith(".py") or is_library_path(raw):
        return None
    segs = raw.split("/")
    for i in range(len(segs) - 1):
        path = "/".join(segs[i:])
        if path.rsplit("/", 1)[0] in dirs and is_test_path(path):
            return path
    return None


def _params(tf: _TestFrame) -> set[str]:
    """Parameter names of the test function (the fixtures it takes), from the event's lines."""
    for t in [*(tf.frame.pre_context or []), tf.frame.context_line or ""]:
        m = re.match(r"\s*(?:async\s+)?def\s+\w+\s*\(([^)]*)\)", t)
        if m:
            return {p.split(":")[0].split("=")[0].strip() for p in m.group(1).split(",")} - {
                "self", ""}
    return set(tf.frame.vars or {}) - {"self"}


def _main_function(src) -> Definition | None:
    """The function a module is most likely tested through: the longest top-level one."""
    fns = [d for d in src.defs if d.kind == "function"]
    return max(fns, key=lambda d: (d.end - d.start, -d.start)) if fns else None


