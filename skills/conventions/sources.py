"""Which conventions files apply to a run, and reading them bounded.

Root files: `AGENTS.md`, `CLAUDE.md`, `.github/copilot-instructions.md`, `CONTRIBUTING.md` (or
`.github/` / `docs/`), `.cursor/rules/**/*.mdc|*.md` (always-applied rules, rules whose globs match a
touched file, and rules an agent may request by description; manual rules are left out) and the
legacy `.cursorrules`. Nested `AGENTS.md`: for each touched file, the nearest one up the directory
tree; it wins over the root one for the files under its directory. The org-wide file is the path
in `settings.conventions_file`. Repository files must stay inside the repository (a symlink out is
ignored); a file that is the same as one already read (CLAUDE.md -> AGENTS.md) is read once.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

READ_BYTES = 64 * 1024           # read at most this much of any file (a 1 MB AGENTS.md is cut here first)
MAX_RULES = 20
ROOT_FILES = [("CLAUDE.md", ("CLAUDE.md",)),
              ("Copilot instructions", (".github/copilot-instructions.md",)),
              ("CONTRIBUTING.md", ("CONTRIBUTING.md", ".github/CONTRIBUTING.md", "docs/CONTRIBUTING.md"))]
PATHISH = re.compile(r"[\w.-]+(?:/[\w.-]+)*/?")


@dataclass
class Source:
    """One conventions file read for a run."""

    kind: str                      # "AGENTS.md", "CLAUDE.md", "Cursor rule", "organisation conventions", ...
    path: str                      # repo-relative (or the org file's path)
    text: str                      # raw, bounded to READ_BYTES
    scope: str = ""                # a nested AGENTS.md's directory, "services/pay/"
    governs: list[str] = field(default_factory=list)   # the touched files it is nearest to
    cut: bool = False              # the file was longer than READ_BYTES

    @property
    def provenance(self) -> str:
        """`AGENTS.md (services/pay/AGENTS.md)`."""
        return f"{self.kind} ({self.path})"


def read_bounded(path: Path, limit: int = READ_BYTES) -> tuple[str, bool] | None:
    """(text, was cut) of a text file, at most `limit` bytes; None when absent, unreadable or binary."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data[:limit].decode("utf-8", errors="replace"), len(data) > limit


def touched_paths(repo: Path, hints) -> list[str]:
    """Repo-relative paths from `hints`: a plan's touches are taken as given (they may be new files or areas);
    from text (search results) only the paths of existing files are kept."""
    out: list[str] = []
    for hint in hints or []:
        text = re.search(r"\s", hint.strip()) is not None
        for raw in PATHISH.findall(hint) if text else [hint]:
            path = _clean(raw)
            if path and path not in out and (not text or (repo / path).is_file()):
                out.append(path)
    return out


def _clean(path: str) -> str | None:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    path = path.rstrip("*")
    if not path or path.startswith(("/", "~")) or ".." in PurePosixPath(path).parts or "\\" in path:
        return None
    return path


def inside(repo: Path, path: Path) -> bool:
    """True when `path` (symlinks resolved) is inside `repo`."""
    try:
        return path.resolve().is_relative_to(repo.resolve())
    except OSError:
        return False


def nearest_agents(repo: Path, touched: list[str]) -> dict[str, list[str]]:
    """{directory of the nearest AGENTS.md ("" = root): [touched paths it governs]}."""
    found: dict[str, list[str]] = {}
    for path in touched:
        start = PurePosixPath(path) if path.endswith("/") or (repo / path).is_dir() else PurePosixPath(path).parent
        for folder in [start, *start.parents]:
            rel = "" if str(folder) in (".", "") else str(folder)
            if (repo / rel / "AGENTS.md").is_file() and inside(repo, repo / rel / "AGENTS.md"):
                found.setdefault(rel, []).append(path)
                break
    return found


def collect(repo: Path | None, touched: list[str], org_file: str = "") -> list[Source]:
    """Every conventions file that applies, in reading order: org-wide, root AGENTS.md, nested AGENTS.md
    (most specific last), CLAUDE.md, Copilot, CONTRIBUTING.md, Cursor rules."""
    sources: list[Source] = []
    seen: set[str] = set()

    def add(kind: str, path: Path, shown: str, **extra) -> None:
        key = _identity(path)
        outside = repo is not None and kind != "organisation conventions" and not inside(repo, path)
        read = read_bounded(path) if key and key not in seen and not outside else None
        if read is not None:
            seen.add(key)
            sources.append(Source(kind, shown, read[0], cut=read[1], **extra))

    if org_file:
        add("organisation conventions", Path(org_file).expanduser(), Path(org_file).name)
    if repo is None:
        return sources
    nested = nearest_agents(repo, touched)
    if (repo / "AGENTS.md").is_file():
        add("AGENTS.md", repo / "AGENTS.md", "AGENTS.md", governs=nested.get("", []))
    for folder in sorted(k for k in nested if k):
        add("AGENTS.md", repo / folder / "AGENTS.md", f"{folder}/AGENTS.md", scope=folder + "/", governs=nested[folder])
    for kind, names in ROOT_FILES:
        name = next((n for n in names if (repo / n).is_file() and inside(repo, repo / n)), None)
        if name:
            add(kind, repo / name, name)
    for path, shown in cursor_rules(repo, touched):
        add("Cursor rule", path, shown)
    return sources


def _identity(path: Path) -> str | None:
    try:
        return str(path.resolve()) if path.is_file() else None
    except OSError:
        return None


def cursor_rules(repo: Path, touched: list[str]) -> list[tuple[Path, str]]:
    """(path, shown path) of the Cursor rules that apply: always, by glob, or requestable by description."""
    rules_dir = repo / ".cursor" / "rules"
    out = []
    if rules_dir.is_dir() and inside(repo, rules_dir):
        for path in sorted(p for p in rules_dir.rglob("*") if p.suffix in (".mdc", ".md") and p.is_file())[:MAX_RULES]:
            read = read_bounded(path, 16 * 1024) if inside(repo, path) else None
            if read is not None and rule_applies(read[0], touched, path.suffix == ".md"):
                out.append((path, str(path.relative_to(repo))))
    if (repo / ".cursorrules").is_file() and inside(repo, repo / ".cursorrules"):
        out.append((repo / ".cursorrules", ".cursorrules"))
    return out


def frontmatter(text: str) -> tuple[dict, str]:
    """({key: value}, body) of a `---` front-matter block, read line by line (Cursor's `globs: *.ts` is not YAML)."""
    match = re.match(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", text, re.S)
    if not match:
        return {}, text
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            meta[key.strip()] = value.strip().strip("\"'")
    return meta, text[match.end():]


def rule_applies(text: str, touched: list[str], plain_md: bool = False) -> bool:
    """True for an always-applied rule, a rule whose globs match a touched path, or one with a description."""
    meta, _ = frontmatter(text)
    if not meta:
        return plain_md or bool(text.strip())
    if meta.get("alwaysApply", "").lower() == "true":
        return True
    globs = [g.strip().strip("\"'") for g in re.split(r",", meta.get("globs", "").strip("[]")) if g.strip()]
    if globs:
        return any(_glob(path, g) for path in touched for g in globs)
    return bool(meta.get("description"))


def _glob(path: str, pattern: str) -> bool:
    pattern = pattern.lstrip("/")
    return fnmatch.fnmatch(path, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(path, pattern[3:]))
