"""The state of a repository on disk: which files, at which commit, and the cache location."""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skills.tools.search.files import _SKIP_DIRS

MAX_FILES = 60_000

def _git(root: Path, *args: str, timeout: float = 120) -> bytes | None:
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


@dataclass
class _Snapshot:
    root: Path
    is_git: bool
    commit: str | None
    key: str
    files: list[str]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in _SKIP_DIRS)
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            out.append(rel)
            if len(out) >= MAX_FILES:
                return out
    return out


def _fingerprint(root: Path, paths: list[str], extra: bytes = b"") -> str:
    h = hashlib.sha1(extra)
    for rel in paths:
        try:
            st = os.lstat(root / rel)
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
        except OSError:
            h.update(f"{rel}\0-\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def _snapshot(repo: Path) -> _Snapshot:
    root = repo.resolve()
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    if inside is None or inside.strip() != b"true":
        files = _walk(root)
        return _Snapshot(root, False, None, "tree-" + _fingerprint(root, files), files)
    head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
    commit = head.decode().strip() if head else None
    listing = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard") or b""
    files = sorted({p for p in listing.decode("utf-8", "surrogateescape").split("\0") if p})
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".")
    if commit and status == b"":
        key = commit
    else:   # porcelain paths are relative to the top of the work tree
        top = Path((_git(root, "rev-parse", "--show-toplevel") or str(root).encode()).decode().strip())
        changed = [e[3:] for e in (status or b"").decode("utf-8", "surrogateescape").split("\0") if len(e) > 3]
        key = f"{commit or 'nohead'}-wt-{_fingerprint(top, sorted(changed), status or b'')}"
    return _Snapshot(root, True, commit, key, files[:MAX_FILES])


def default_cache_dir() -> Path:
    """`$DROID_CACHE_DIR`, else `$XDG_CACHE_HOME/droid/index`, else `~/.cache/droid/index`."""
    if os.environ.get("DROID_CACHE_DIR"):
        return Path(os.environ["DROID_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "droid" / "index"
    return Path.home() / ".cache" / "droid" / "index"
