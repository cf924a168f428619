"""Map stack frames to files of a repository.

A frame's path is whatever the runtime saw: an absolute path on a server (`/srv/app/x.py`,
`C:\\app\\x.py`), a URL (`https://cdn/static/app.min.js`), a source-mapped path
(`webpack:///./src/x.ts`, `app:///src/x.js`, `../../src/x.js`), a Python module (`app.views`)
or a Java class (`com.acme.Foo$Inner` with filename `Foo.java`). The repository may hold the
code under a prefix (a monorepo: `services/api/app/x.py`, Maven: `src/main/java/com/...`).

Matching is by the longest common path suffix against the repository's file list at the
commit the code ran; installed libraries (site-packages, node_modules, the JDK...) never map.
"""

from __future__ import annotations

import re
import subprocess
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "MappedPath",
    "RepoFiles",
    "candidate_paths",
    "is_library_path",
    "is_source_path",
    "is_test_path",
    "list_files",
    "normalise_path",
]


class FrameLike(Protocol):
    filename: str | None
    abs_path: str | None
    module: str | None
    function: str | None


@dataclass(frozen=True)
class MappedPath:
    """A frame's file in the repository: the path, how many trailing path segments matched,
    what in the frame it came from, and whether the match was ambiguous."""

    path: str
    matched_segments: int
    via: str
    ambiguous: bool = False


_LIBRARY_MARKERS = (
    "site-packages/", "dist-packages/", "node_modules/", "/.venv/", "/venv/", "/virtualenv/",
    "/.virtualenvs/", "/.tox/", "/.nox/", "/lib/python2", "/lib/python3", "/lib/pypy",
    "/.pyenv/versions/", "/usr/lib/jvm/", "/jre/lib/", "/.m2/repository/", "/.gradle/caches/",
    "/.cargo/registry/", "/go/pkg/mod/", "/vendor/bundle/", "/gems/", "/bower_components/",
    "<frozen ", "/_virtualenv", "/usr/local/lib/", "/opt/homebrew/lib/", "/rustc/",
)
_PSEUDO_PATHS = re.compile(r"^<[^>]*>$|^\[native code\]$|^native$|^(?:unknown|\?)$", re.I)
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DRIVE = re.compile(r"^[a-zA-Z]:/")
_TEST_PATH = re.compile(
    r"(^|/)(tests?|testing|__tests__|spec|specs|test_?utils?)/|(^|/)test_[^/]*$|"
    r"(^|/)tests?_[^/]*\.py$|_tests?\.[a-z]+$|\.(test|spec)\.[jt]sx?$|(^|/)src/test/|"
    r"(^|/)conftest\.py$|Tests?\.(java|kt|cs)$",
)
_SOURCE_EXTS = (
    ".py", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".vue", ".svelte", ".java", ".kt",
    ".scala", ".groovy", ".rb", ".go", ".php", ".cs", ".rs", ".swift", ".m", ".c", ".cc",
    ".cpp", ".h", ".hpp", ".ex", ".exs", ".erl", ".clj", ".dart", ".lua",
)


def is_library_path(path: str | None) -> bool:
    """True for paths of installed third-party or standard-library code."""
    if not path:
        return False
    p = "/" + path.replace("\\", "/").lstrip("/")
    low = p.lower()
    return any(m in low for m in _LIBRARY_MARKERS)


def is_test_path(path: str | None) -> bool:
    """True for repository files that hold tests (test code plays the caller, not the bug)."""
    return bool(path) and bool(_TEST_PATH.search(path.replace("\\", "/")))


def is_source_path(path: str | None) -> bool:
    """True for files of a programming language (not docs, data or minified bundles)."""
    if not path:
        return False
    low = path.lower()
    return low.endswith(_SOURCE_EXTS) and not low.endswith((".min.js", ".bundle.js"))


def normalise_path(raw: str | None) -> str | None:
    """A frame path → a relative, forward-slash path without scheme, host, query or `./`.

    `webpack:///./src/a.ts` → `src/a.ts`; `app:///dist/a.js` → `dist/a.js`;
    `https://cdn.example.com/static/a.js?v=3` → `static/a.js`; `C:\\app\\a.py` → `app/a.py`;
    `../../src/a.js` → `src/a.js`; `/srv/app/a.py` → `srv/app/a.py`.
    """
    if not raw or _PSEUDO_PATHS.match(raw.strip()):
        return None
    p = raw.strip().replace("\\", "/")
    if _URL.match(p):
        scheme, rest = p.split("://", 1)
        scheme = scheme.lower()
        if scheme in ("http", "https", "ws", "wss"):
            rest = rest.split("/", 1)[1] if "/" in rest else ""
        elif scheme == "webpack":
            # webpack://<namespace>/./src/x.js or webpack:///./src/x.js
            if not rest.startswith("/") and "/" in rest:
                first, tail = rest.split("/", 1)
                if "." not in first or first.startswith("."):
                    rest = tail if not first.startswith(".") else rest
        p = rest
    p = p.split("?", 1)[0].split("#", 1)[0]
    if _DRIVE.match(p):
        p = p[3:]
    parts = [seg for seg in p.split("/") if seg not in ("", ".", "..", "~")]
    return "/".join(parts) or None


def _module_paths(frame: FrameLike) -> list[str]:
    """Paths a module name implies: `a.b.c` → `a/b/c.py`, `a/b/c/__init__.py`; Java
    `com.acme.Foo$Bar` + `Foo.java` → `com/acme/Foo.java`; JS `src/x` + `x.js` → `src/x.js`."""
    module = (frame.module or "").strip()
    if not module or module in ("__main__", "<module>", "?") or " " in module:
        return []
    filename = normalise_path(frame.filename) or ""
    base = filename.rsplit("/", 1)[-1]
    ext = "." + base.rsplit(".", 1)[1] if "." in base else ""
    out: list[str] = []
    if "/" in module:  # JS modules are paths without extension
        m = normalise_path(module)
        if m:
            out.append(m + ext if ext and not m.endswith(ext) else m)
        return out
    segs = [s for s in module.split(".") if s]
    if not segs:
        return out
    if ext in (".java", ".kt", ".scala", ".groovy") or (base and base[:1].isupper()):
        # Java: the package is the module minus the class; the file is the frame's filename.
        pkg = segs[:-1]
        cls = segs[-1].split("$", 1)[0]
        name = base if base else cls + (ext or ".java")
        out.append("/".join([*pkg, name]))
        if not base:
            out.append("/".join([*pkg, cls + ".kt"]))
        return out
    if ext and ext != ".py":
        out.append("/".join(segs[:-1] + [segs[-1] + ext]))
        return out
    out.append("/".join(segs) + ".py")
    out.append("/".join(segs) + "/__init__.py")
    return out


def candidate_paths(frame: FrameLike) -> list[tuple[str, str]]:
    """(normalised path, where it came from) for a frame, most specific first."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for via, raw in (("abs_path", frame.abs_path), ("filename", frame.filename)):
        p = normalise_path(raw)
        if p and p not in seen:
            seen.add(p)
            out.append((p, via))
    for p in _module_paths(frame):
        if p not in seen:
            seen.add(p)
            out.append((p, "module"))
    return out


def frame_is_library(frame: FrameLike) -> bool:
    """True when the frame's file is installed third-party or standard-library code."""
    return any(is_library_path(raw) for raw in (frame.abs_path, frame.filename) if raw)


def frame_is_generated(frame: FrameLike) -> bool:
    """True for code with no file: `exec`/`eval`'d strings (`<string>`), `<stdin>`, templates
    compiled at run time. Such a frame never maps onto a file, not even by its module name."""
    raws = [r.strip() for r in (frame.abs_path, frame.filename) if r and r.strip()]
    return bool(raws) and all(_PSEUDO_PATHS.match(r) or r.startswith("<") for r in raws)


def _full_enough(path: str, via: str, m: MappedPath) -> bool:
    """A module-derived path (`pkg.sub` → `pkg/sub/__init__.py`) matches only in full, and any
    `__init__.py` needs at least its package directory in common: the basename alone says
    nothing."""
    n = len(path.split("/"))
    if via == "module" and m.matched_segments < n:
        return False
    return not (path.endswith("__init__.py") and m.matched_segments < min(2, n))


class RepoFiles:
    """The files of a repository at one commit, indexed by basename for suffix matching."""

    def __init__(self, files: Iterable[str]):
        self.files: list[str] = [f for f in files if f]
        self._set = set(self.files)
        self._by_base: dict[str, list[str]] = defaultdict(list)
        for f in self.files:
            self._by_base[f.rsplit("/", 1)[-1]].append(f)

    def __contains__(self, path: str) -> bool:
        return path in self._set

    def __len__(self) -> int:
        return len(self.files)

    def match_path(self, path: str, via: str = "path") -> MappedPath | None:
        """The repository file sharing the longest trailing path with `path`."""
        segs = path.split("/")
        candidates = self._by_base.get(segs[-1], [])
        if not candidates:
            return None
        best: list[str] = []
        best_n = 0
        for f in candidates:
            fsegs = f.split("/")
            n = 0
            while n < len(segs) and n < len(fsegs) and segs[-1 - n] == fsegs[-1 - n]:
                n += 1
            if n > best_n:
                best, best_n = [f], n
            elif n == best_n:
                best.append(f)
        if not best:
            return None
        # Ties: the shortest repository path (least nested) wins, flagged as ambiguous.
        best.sort(key=lambda f: (f.count("/"), len(f), f))
        return MappedPath(best[0], best_n, via, ambiguous=len(best) > 1)

    def match(self, frame: FrameLike) -> MappedPath | None:
        """Map a frame to a repository file, or None (library code, or not in the repo)."""
        if frame_is_library(frame) or frame_is_generated(frame):
            return None
        found: MappedPath | None = None
        for path, via in candidate_paths(frame):
            if not path.lower().endswith(_SOURCE_EXTS) and "." in path.rsplit("/", 1)[-1]:
                # Minified bundles and other non-source files only match exactly.
                if path not in self._set:
                    continue
            m = self.match_path(path, via)
            if m is None or not _full_enough(path, via, m):
                continue
            if found is None or (m.matched_segments, not m.ambiguous) > (
                found.matched_segments, not found.ambiguous
            ):
                found = m
        if found is None:
            return None
        if found.matched_segments == 1 and found.ambiguous:
            return None  # only a common basename in common: too weak to claim
        return found


def list_files(repo: Path | str, commit: str) -> list[str]:
    """Every file path in the tree of `commit` (works in bare repositories too)."""
    out = subprocess.run(
        ["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "-z", commit],
        capture_output=True, check=True,
    ).stdout.decode("utf-8", "replace")
    return [p for p in out.split("\0") if p]
