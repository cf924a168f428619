"""The state of a repository on disk: which files, with which content (git blob ids), and the cache location.

A git repository is read from its index (`git ls-files -s`: path -> blob id, no file read) plus
`git status` for what differs from it (modified, untracked-but-not-ignored files are hashed
from the working tree the way git would). A directory that is not a git repository is walked
(hidden and vendored directories pruned) and every file is hashed. The content id of a file
is its git blob id, so the index can be shared by every state that holds the same content.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from skills.tools.search.files import _SKIP_DIRS, MAX_FILE_BYTES, _skip_path

MAX_FILES = 60_000
_REGULAR_MODES = (b"100644", b"100755")


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
    key: str                           # a fingerprint of every (path, blob) of the state
    entries: dict[str, str]            # repo-relative path -> git blob id of its content

    @property
    def files(self) -> list[str]:
        return sorted(self.entries)


def blob_id(path: Path) -> str | None:
    """The git blob id of a regular file's content (as `git hash-object`); None when unreadable or too big."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


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


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _git_entries(root: Path) -> dict[str, str]:
    """path -> blob of the git index, corrected by `git status` for what the work tree changed."""
    entries: dict[str, str] = {}
    for rec in (_git(root, "ls-files", "-s", "-z") or b"").split(b"\0"):
        meta, _, path = rec.partition(b"\t")
        fields = meta.split()
        if len(fields) == 3 and fields[0] in _REGULAR_MODES and fields[2] == b"0":
            entries[_decode(path)] = fields[1].decode()
    prefix = _decode((_git(root, "rev-parse", "--show-prefix") or b"").strip())
    status = (_git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", ".") or b"").split(b"\0")
    i = 0
    while i < len(status):
        rec = status[i]
        i += 1
        if len(rec) < 4:
            continue
        if rec[:1] in (b"R", b"C"):          # `R  new\0old`: the old path follows
            old = _decode(status[i])
            i += 1
            entries.pop(old[len(prefix):] if old.startswith(prefix) else old, None)
        rel = _decode(rec[3:])
        if prefix:
            if not rel.startswith(prefix):
                continue
            rel = rel[len(prefix):]
        blob = blob_id(root / rel)
        if blob is None:
            entries.pop(rel, None)
        else:
            entries[rel] = blob
    return entries


def _snapshot(repo: Path) -> _Snapshot:
    """The files of `repo` now, with the blob id of each (indexable paths only)."""
    root = repo.resolve()
    inside = _git(root, "rev-parse", "--is-inside-work-tree")
    is_git = inside is not None and inside.strip() == b"true"
    commit = None
    if is_git:
        head = _git(root, "rev-parse", "--verify", "-q", "HEAD^{commit}")
        commit = head.decode().strip() if head else None
        entries = _git_entries(root)
    else:
        entries = {}
        for rel in _walk(root):
            if not _skip_path(rel):
                blob = blob_id(root / rel)
                if blob is not None:
                    entries[rel] = blob
    paths = sorted(p for p in entries if not _skip_path(p))[:MAX_FILES]
    entries = {p: entries[p] for p in paths}
    h = hashlib.sha1()
    for p in paths:
        h.update(f"{p}\0{entries[p]}\n".encode("utf-8", "surrogateescape"))
    return _Snapshot(root, is_git, commit, h.hexdigest()[:20], entries)


def default_cache_dir() -> Path:
    """`$DROID_CACHE_DIR`, else `$XDG_CACHE_HOME/droid/index`, else `~/.cache/droid/index`."""
    if os.environ.get("DROID_CACHE_DIR"):
        return Path(os.environ["DROID_CACHE_DIR"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "droid" / "index"
    return Path.home() / ".cache" / "droid" / "index"
