"""Meta-changes: commits that touch code without changing what it does.

A pure rename or move, a reformatting (the Python AST is unchanged), a version bump, vendored or
generated files, import-only edits and the repository's first commit all "wrote" lines that
blame points at, yet rarely cause a bug. `meta_change` says which kind a commit is (or None);
commit ranking multiplies such a commit's evidence by `META_FACTOR`.
"""

from __future__ import annotations

import ast
import re

from skills.rca.git import Git

META_FACTOR = 0.3
MAX_DIFF_CHARS = 400_000

_VENDORED = re.compile(
    r"(^|/)(vendor|vendored|_vendor|third_party|thirdparty|external|extern|node_modules)/|"
    r"(^|/)(generated|gen|autogen)/|_pb2(_grpc)?\.py$|\.pb\.go$|\.min\.js$|(^|/)package-lock\.json$|"
    r"(^|/)(poetry|Pipfile|yarn|Cargo|go)\.lock$|\.lock$|(^|/)go\.sum$")
_IMPORT = re.compile(r"^\s*(import\s+[\w.]+|from\s+[\w.]+\s+import\b|#.*$)|^\s+[\w\s,]*[,)]\s*$")
_VERSION_LINE = re.compile(r"(?i)version|\b\d+\.\d+(\.\d+)?(?:[-.]?(?:a|b|rc|dev|post)\d*)?\b")
_VERSION_SUBJECT = re.compile(r"(?i)^\s*(bump|release|prepare\b.*\brelease|version\b|"
                              r"v?\d+\.\d+(\.\d+)?\s*$)")


def is_vendored_path(path: str) -> bool:
    """True for vendored third-party code, generated code and lock files."""
    return bool(_VENDORED.search(path))


def meta_change(git: Git, sha: str, subject: str = "") -> str | None:
    """The kind of meta-change `sha` is ("pure rename", "formatting only", ...), or None."""
    parents = (git.try_run("rev-list", "--parents", "-n1", sha, record=False) or "").split()
    if len(parents) == 1:
        return "the repository's first commit"
    files = git.commit_files(sha)
    if not files:
        return None
    if all(a == 0 and d == 0 for _, a, d in files):
        return "a pure rename or move"
    if all(is_vendored_path(p.split(" => ")[-1].rstrip("}")) for p, _, _ in files):
        return "vendored or generated files only"
    diff = git.try_run("show", "--format=", "-U0", "--no-color", "--no-renames", sha,
                       record=False) or ""
    if not diff or len(diff) > MAX_DIFF_CHARS:
        return None
    changed = [ln[1:] for ln in diff.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    code = [ln for ln in changed if ln.strip()]
    if code and all(_IMPORT.match(ln) for ln in code) and any("import" in ln for ln in code):
        return "imports only"
    if code and len(code) <= 12 and all(_VERSION_LINE.search(ln) for ln in code) and (
            _VERSION_SUBJECT.search(subject) or any("version" in ln.lower() for ln in code)):
        return "a version bump"
    if _same_python_ast(git, sha, parents[1], [p for p, _, _ in files]):
        return "formatting only (the Python code is unchanged)"
    if _identifier_rename(git, sha, diff, [p for p, _, _ in files]):
        return "an identifier renamed everywhere"
    return None


_TOKEN = re.compile(r"[A-Za-z_]\w*|\S")
_IDENT = re.compile(r"[A-Za-z_]\w*")


def _identifier_rename(git: Git, sha: str, diff: str, paths: list[str]) -> bool:
    """True when every changed line only swaps identifiers for others, by at most three
    distinct renames, over at least two files, and no old name is left in those files: a
    rename across the code base (a one-line swap of one name for another is a real change)."""
    hunks: list[tuple[list[str], list[str]]] = []
    for line in diff.splitlines():
        if line.startswith("@@"):
            hunks.append(([], []))
        elif hunks and line[:1] in "+-" and not line.startswith(("+++", "---")):
            hunks[-1][0 if line[0] == "-" else 1].append(line[1:])
    renames: set[tuple[str, str]] = set()
    for old, new in hunks:
        if len(old) != len(new):
            return False
        for a, b in zip(old, new, strict=True):
            ta, tb = _TOKEN.findall(a), _TOKEN.findall(b)
            if len(ta) != len(tb):
                return False
            for x, y in zip(ta, tb, strict=True):
                if x != y:
                    if not (_IDENT.fullmatch(x) and _IDENT.fullmatch(y)):
                        return False
                    renames.add((x, y))
    if not renames or len(renames) > 3 or len(paths) < 2 or any("=>" in p for p in paths):
        return False
    olds = [x for x, _ in renames]
    args = ["grep", "-q", "-w", "-F", *[a for o in olds for a in ("-e", o)], sha, "--", *paths]
    return git.try_run(*args, record=False) is None  # exit 1: no old name is left


def _same_python_ast(git: Git, sha: str, parent: str, paths: list[str]) -> bool:
    """True when every changed file is Python and parses to the same AST before and after
    (whitespace, comments, line wrapping). An indentation change that moves a statement in or
    out of a block changes the AST, so it is never taken for formatting."""
    if not paths or len(paths) > 40 or not all(p.endswith(".py") and "=>" not in p
                                               for p in paths):
        return False
    for path in paths:
        old, new = git.try_run("show", f"{parent}:{path}", record=False), git.try_run(
            "show", f"{sha}:{path}", record=False)
        if old is None or new is None:
            return False
        try:
            if ast.dump(ast.parse(old)) != ast.dump(ast.parse(new)):
                return False
        except (SyntaxError, ValueError, RecursionError):
            return False
    return True
