"""BugsInPy metadata for the RCA bundle generator: bug.info, requirements, test ids, truth.

Read from a bare git dir of soarsmu/BugsInPy (`git show HEAD:projects/<p>/bugs/<n>/...`).
Used by bench/build_rca_bugsinpy.py; nothing here runs code of the bug.
"""

from __future__ import annotations

import ast
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

TEST_DIRS = {"test", "tests", "testing"}
WINDOWS_ONLY = {"pywin32", "pywin32-ctypes", "pydivert", "win-unicode-console", "pypiwin32",
                "colorama-win"}


def git(git_dir: Path, *args: str, check: bool = True) -> str:
    """Run git on a bare dir and return stdout (text, undecodable bytes replaced)."""
    out = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args[:3])}: {out.stderr.decode(errors='replace')}")
    return out.stdout.decode("utf-8", errors="replace")


def show_bytes(git_dir: Path, rev_path: str) -> bytes | None:
    """Contents of `rev:path`, or None when it does not exist."""
    out = subprocess.run(["git", f"--git-dir={git_dir}", "show", rev_path], capture_output=True)
    return out.stdout if out.returncode == 0 else None


def decode(raw: bytes | None) -> str:
    """BugsInPy files are UTF-8 or UTF-16 (with BOM); return text."""
    if raw is None:
        return ""
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return raw.decode("utf-16")
    return raw.decode("utf-8", errors="replace")


def is_test_path(path: str) -> bool:
    """A test file: under a test/tests/testing dir, test_*.py, *_test.py, *_tests.py, conftest."""
    p = PurePosixPath(path)
    name = p.name
    return (bool(TEST_DIRS & set(p.parts[:-1])) or name.startswith("test_")
            or name.endswith(("_test.py", "_tests.py")) or name == "conftest.py"
            or name in ("test.py", "tests.py"))


@dataclass
class Bug:
    """One BugsInPy bug's metadata."""
    project: str
    number: int
    github: str
    buggy: str
    fixed: str
    test_files: list[str]
    run_lines: list[str]
    requirements: list[str]
    setup_pip: list[str]
    patch: str
    python_version: str = ""
    setup_touch: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.project}-{self.number}"


def _info(text: str) -> dict[str, str]:
    return {k: v for k, v in re.findall(r'(\w+)\s*=\s*"([^"]*)"', text)}


def bug_numbers(bugsinpy: Path, project: str) -> list[int]:
    """The bug numbers BugsInPy lists for a project, ascending."""
    out = git(bugsinpy, "ls-tree", "--name-only", f"HEAD:projects/{project}/bugs/")
    return sorted(int(x) for x in out.split() if x.isdigit())


def load_bug(bugsinpy: Path, project: str, number: int) -> Bug:
    """Read one bug's files from the BugsInPy git dir."""
    base = f"HEAD:projects/{project}/bugs/{number}"
    info = _info(decode(show_bytes(bugsinpy, f"{base}/bug.info")))
    pinfo = _info(decode(show_bytes(bugsinpy, f"HEAD:projects/{project}/project.info")))
    github = pinfo.get("github_url", "").rstrip("/").removesuffix(".git")
    github = "/".join(github.split("/")[-2:])
    run = [ln.strip() for ln in decode(show_bytes(bugsinpy, f"{base}/run_test.sh")).splitlines()
           if ln.strip() and not ln.strip().startswith("#")]
    reqs = [ln.strip() for ln in decode(show_bytes(bugsinpy, f"{base}/requirements.txt"))
            .splitlines() if ln.strip() and not ln.strip().startswith("#")]
    setup = decode(show_bytes(bugsinpy, f"{base}/setup.sh")).splitlines()
    pip_lines = [ln.strip() for ln in setup if re.match(r"\s*pip3?\s+install\s", ln)]
    return Bug(project=project, number=number, github=github,
               buggy=info["buggy_commit_id"], fixed=info["fixed_commit_id"],
               test_files=[t for t in info.get("test_file", "").split(";") if t.strip()],
               run_lines=run, requirements=reqs, setup_pip=pip_lines,
               patch=decode(show_bytes(bugsinpy, f"{base}/bug_patch.txt")),
               python_version=info.get("python_version", ""),
               setup_touch=[t for ln in setup if (m := re.match(r"\s*touch\s+(.+)", ln))
                            for t in m.group(1).split() if ".." not in t])


def _unittest_to_nodeid(dotted: str, tree: Path) -> str | None:
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if (tree / path).is_file():
            return "::".join([path, *parts[i:]])
    return None


def test_ids(bug: Bug, tree: Path) -> list[str]:
    """pytest node ids of the failing tests named in run_test.sh (pytest, tox or unittest)."""
    out: list[str] = []
    for line in bug.run_lines:
        for cmd in line.split("&&"):
            toks = cmd.split()
            if not toks:
                continue
            if toks[0] in ("pytest", "py.test", "tox") or toks[:3] == ["python", "-m", "pytest"]:
                out += [t for t in toks[1:] if not t.startswith("-") and t not in ("-m", "pytest")
                        and ("::" in t or t.endswith(".py"))]
            elif "unittest" in toks:
                for t in toks[toks.index("unittest") + 1:]:
                    if t.startswith("-"):
                        continue
                    node = _unittest_to_nodeid(t, tree)
                    if node:
                        out.append(node)
    return list(dict.fromkeys(out))


def requirement_name(req: str) -> str:
    """Normalised distribution name of a requirement line."""
    m = re.match(r"\s*([A-Za-z0-9_.\-]+)", req)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def _innermost_def(tree: ast.AST, line: int) -> ast.AST | None:
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list])
            if start <= line <= (node.end_lineno or node.lineno):
                if best is None or node.lineno >= best.lineno:
                    best = node
    return best


def patch_lines(patch: str) -> dict[str, list[int]]:
    """Buggy-side lines a unified diff deletes or modifies, per non-test .py file; for a block
    that only adds, the insertion point (the old line just before the addition, else after)."""
    out: dict[str, list[int]] = {}
    path: str | None = None
    old = last_old = 0
    adds = minus = False

    def close_block() -> None:
        nonlocal adds, minus
        if adds and not minus and path:
            out.setdefault(path, []).append(last_old if last_old >= 1 else old)
        adds = minus = False

    for line in patch.splitlines():
        if line.startswith("--- ") or line.startswith("diff --git"):
            close_block()
            if line.startswith("--- "):
                p = line[4:].split("\t")[0].strip()
                path = p[2:] if p.startswith("a/") else None
                if path and (not path.endswith(".py") or is_test_path(path)):
                    path = None
            continue
        if line.startswith("+++ ") or line.startswith("\\"):
            continue
        h = re.match(r"@@ -(\d+)(?:,(\d+))? \+\d+(?:,\d+)? @@", line)
        if h:
            close_block()
            old = int(h.group(1)) + (1 if h.group(2) == "0" else 0)
            last_old = old - 1
            continue
        if line.startswith("-"):
            minus = True
            if path:
                out.setdefault(path, []).append(old)
            last_old, old = old, old + 1
        elif line.startswith("+"):
            adds = True
        else:
            close_block()
            last_old, old = old, old + 1
    close_block()
    return {p: sorted(set(v)) for p, v in out.items()}


def truth_from_patch(patch: str, git_dir: Path, buggy: str) -> dict:
    """truth{} of a bundle: files, functions (innermost def of each line), lines."""
    lines = patch_lines(patch)
    files, funcs, kept = [], [], {}
    for path, lns in lines.items():
        raw = show_bytes(git_dir, f"{buggy}:{path}")
        if raw is None:
            continue  # a file the fix added
        files.append(path)
        kept[path] = lns
        try:
            tree = ast.parse(raw.decode("utf-8", errors="replace"))
        except SyntaxError:
            continue
        for ln in lns:
            node = _innermost_def(tree, ln)
            if node is None:
                continue
            item = {"file": path, "function": node.name, "start": node.lineno,
                    "end": node.end_lineno or node.lineno}
            if item not in funcs:
                funcs.append(item)
    return {"source": "BugsInPy bug_patch.txt (deleted/modified lines, insertion points)",
            "files": files, "functions": funcs, "lines": kept}
