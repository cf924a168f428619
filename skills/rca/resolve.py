"""Name resolution for Python the way Python does it, with `jedi`.

A name on a line of a frame (`load(...)`, `self.parser.feed(...)`, `helpers.parse(...)`) is
resolved through that module's own imports, the inferred types of attributes and the class
hierarchy, not by looking the bare name up across the repository. jedi reads files from disk,
so the commit's Python files are extracted once into a temporary directory (`git archive`).

`goto` answers:
- a list of (repository path, line) definitions when the name resolves inside the repository,
- `[]` when it resolves outside it (the standard library, an installed package, a builtin):
  no repository function is the callee,
- None when jedi cannot tell (then the caller falls back to matching by name).
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger("droid.rca")

MAX_ARCHIVE_BYTES = 400_000_000
TIMEOUT = 60.0
MAX_CALLS = 60  # name lookups per analysis
_JEDI = threading.Lock()
BUDGET_SECONDS = 20.0  # jedi time per analysis; past it, names fall back to matching


class PythonResolver:
    """jedi over a snapshot of one commit's Python files (created on first use)."""

    def __init__(self, repo: Path | str, commit: str, import_roots: list[str] | None = None):
        self.repo = Path(repo)
        self.commit = commit
        self.import_roots = import_roots or []
        self._dir: Path | None = None
        self._failed = False
        self._project = None
        self._scripts: dict[str, object] = {}
        self.calls = 0
        self.seconds = 0.0

    def _snapshot(self) -> Path | None:
        if self._dir is not None or self._failed:
            return self._dir
        try:
            import jedi  # noqa: F401
        except ImportError:
            self._failed = True
            return None
        tmp = Path(tempfile.mkdtemp(prefix="droid-rca-py-"))
        try:
            proc = subprocess.run(["git", "-C", str(self.repo), "archive", "--format=tar",
                                   self.commit, "--", "*.py"],
                                  capture_output=True, timeout=TIMEOUT)
            if proc.returncode != 0 or len(proc.stdout) > MAX_ARCHIVE_BYTES:
                raise OSError(proc.stderr.decode("utf-8", "replace")[:200] or "too large")
            with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
                members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".py")
                           and not m.name.startswith(("/", "..")) and "/../" not in m.name]
                tar.extractall(tmp, members=members, filter="data")
        except (OSError, subprocess.SubprocessError, tarfile.TarError) as e:
            log.info("no Python snapshot for name resolution: %s", e)
            shutil.rmtree(tmp, ignore_errors=True)
            self._failed = True
            return None
        self._dir = tmp
        return tmp

    def _script(self, path: str):
        import jedi

        root = self._snapshot()
        if root is None or not (root / path).is_file():
            return None
        self._script_project()
        if path not in self._scripts:
            # In-process inference: no helper subprocess to block on, nothing to leak between threads.
            self._scripts[path] = jedi.Script(path=str(root / path), project=self._project,
                                              environment=jedi.InterpreterEnvironment())
        return self._scripts[path]

    def add_roots(self, roots: list[str]) -> None:
        """Further import roots (directories on sys.path), e.g. found from a test's imports."""
        new = [r for r in roots if r and r not in self.import_roots]
        if new:
            self.import_roots = self.import_roots + new
            self._project = None
            self._scripts.clear()

    def goto(self, path: str, line: int, name: str,
             code: str | None = None) -> list[tuple[str, int]] | None:
        """Definitions of `name` (its last dotted part) as used on `line` of `path`; with
        `code`, in that text read as if it were the module at `path` (which may not exist)."""
        if not path.endswith(".py") or self.calls >= MAX_CALLS or self.seconds > BUDGET_SECONDS:
            return None
        with _JEDI:   # jedi is not thread-safe (RCAs run on several threads): one resolution at a time
            t0 = time.monotonic()
            try:
                return self._goto(path, line, name, code)
            finally:
                self.seconds += time.monotonic() - t0

    def _code_script(self, path: str, code: str):
        import jedi

        root = self._snapshot()
        if root is None:
            return None
        self._script_project()
        key = f"{path}\0{hash(code)}"
        if key not in self._scripts:
            self._scripts[key] = jedi.Script(code=code, path=str(root / path),
                                             project=self._project,
                                             environment=jedi.InterpreterEnvironment())
        return self._scripts[key]

    def _script_project(self) -> None:
        import jedi

        root = self._dir
        if self._project is None and root is not None:
            extra = [str(root / r) for r in self.import_roots if r and (root / r).is_dir()]
            self._project = jedi.Project(root, added_sys_path=extra, smart_sys_path=True,
                                         load_unsafe_extensions=False)

    def _goto(self, path: str, line: int, name: str,
              code: str | None = None) -> list[tuple[str, int]] | None:
        script = self._script(path) if code is None else self._code_script(path, code)
        root = self._dir
        if script is None or root is None:
            return None
        try:
            text = (code if code is not None else
                    (root / path).read_text("utf-8", "replace")).splitlines()
        except OSError:
            return None
        if not 0 < line <= len(text):
            return None
        last = name.split(".")[-1]
        m = re.search(rf"(?<![\w$]){re.escape(last)}\b", text[line - 1])
        if m is None:
            return None
        self.calls += 1
        try:
            names = script.goto(line, m.start(), follow_imports=True)
        except Exception as e:  # noqa: BLE001 — jedi's inference can fail on odd code
            log.info("jedi could not resolve %s at %s:%s: %s", name, path, line, e)
            return None
        if not names:
            return None
        out: list[tuple[str, int]] = []
        for n in names:
            mp = n.module_path
            if mp is None or n.line is None:
                continue  # a builtin
            try:
                rel = Path(mp).resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                continue  # outside the repository: the standard library or a package
            if rel == path and n.line == line:
                return None  # resolved to itself (an unresolved assignment or parameter)
            if n.type in ("function", "class"):
                out.append((rel, n.line))
            elif n.type in ("param", "statement", "instance"):
                return None
        return out

    def close(self) -> None:
        """Remove the snapshot."""
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._scripts.clear()
        self._project = None
