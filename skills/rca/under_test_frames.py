"""The failing test's frames and code (part of `UnderTest`): which frames of the primary exception
are test code, the event's lines of each (led by the test function's earlier lines at the
release), the test's class, the project objects its variables held and the import roots of the
modules it uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from skills.rca.paths import is_library_path, is_test_path, normalise_path
from skills.rca.test_lines import event_lines

_OBJ_REPR = re.compile(r"^<([A-Za-z_][\w.]*)\.([A-Za-z_]\w*) (?:object at 0x[0-9a-fA-F]+|"
                       r"testMethod=\w+)>$")


@dataclass
class _TestFrame:
    path: str
    exists: bool
    frame: object
    lines: list[tuple[int, str]] = field(default_factory=list)  # the event's code, numbered


class FailingTestFrames:
    """Mixin of the analysis: the failing test's frames, code, class and objects."""

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
