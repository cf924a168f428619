"""Finding a repository's test command, and reading the counts out of a test run's summary."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

PYTEST = "python -m pytest -q"
NPM_DEFAULT_TEST = 'echo "Error: no test specified" && exit 1'


@dataclass
class PreferredCommand:
    """The test command droid runs, where it comes from, and the repo-relative directory it runs in."""

    command: str
    source: str          # "AGENTS.md (services/pay/AGENTS.md)", or DISCOVERED
    cwd: str = ""


DISCOVERED = "discovered from the repository's files"


def preferred_test_command(repo: Path, touches=(), org_file: str = "") -> PreferredCommand | None:
    """The test command a conventions file states (the nearest AGENTS.md to the touched files first; refused
    commands skipped), else the one `discover_test_command` finds, else None."""
    from skills.conventions import read_conventions
    stated = read_conventions(repo, touches, org_file).command("test")
    if stated is not None:
        cwd = stated.cwd if stated.cwd and (Path(repo) / stated.cwd).is_dir() else ""
        return PreferredCommand(stated.command, stated.source, cwd)
    found = discover_test_command(repo)
    return PreferredCommand(found, DISCOVERED) if found else None


def discover_test_command(repo: Path) -> str | None:
    """The command that runs `repo`'s tests (pytest, make test, npm test, go, cargo, maven, gradle),
    or None when the repository shows no sign of tests."""
    repo = Path(repo)
    # Python first. tox.ini counts as a sign of pytest tests, but we run pytest itself rather than
    # tox: tox builds fresh virtualenvs (slow, needs the network) for every env in its list, while
    # the workspace already has an environment; tox's [testenv] commands are almost always pytest.
    if _python_tests(repo):
        return PYTEST
    if _make_target(repo, "test"):
        return "make test"
    script = _read_json(repo / "package.json").get("scripts", {}).get("test")
    if isinstance(script, str) and script.strip() and script.strip() != NPM_DEFAULT_TEST:
        return "npm test"
    if (repo / "go.mod").is_file():
        return "go test ./..."
    if (repo / "Cargo.toml").is_file():
        return "cargo test"
    if (repo / "pom.xml").is_file():
        return "mvn -q test"
    if ((repo / "build.gradle").is_file() or (repo / "build.gradle.kts").is_file()) and (repo / "gradlew").is_file():
        return "./gradlew test"
    return None


def _python_tests(repo: Path) -> bool:
    if (repo / "pytest.ini").is_file() or (repo / "tox.ini").is_file() or (repo / "conftest.py").is_file():
        return True
    if "[tool.pytest" in _read(repo / "pyproject.toml") or "[tool:pytest]" in _read(repo / "setup.cfg"):
        return True
    for folder in ("tests", "test"):
        if (repo / folder).is_dir() and any(_is_test_file(p) for p in (repo / folder).rglob("*.py")):
            return True
    return False


def _is_test_file(path: Path) -> bool:
    return path.name.startswith("test_") or path.name.endswith("_test.py")


def _make_target(repo: Path, target: str) -> bool:
    pattern = re.compile(rf"^{re.escape(target)}\s*:(?![=:])", re.M)  # a rule, not `test := ...`
    return any(pattern.search(_read(repo / name)) for name in ("GNUmakefile", "makefile", "Makefile"))


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(_read(path) or "{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


# -- summaries -----------------------------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# pytest: "==== 1 failed, 2 passed, 1 skipped in 0.12s ====" or, with -q, "1 failed, 2 passed in 0.12s"
_PYTEST = re.compile(r"^=*\s*((?:\d+ [a-z]+(?:, )?)+|no tests ran)\s+in [\d.]+s\b.*$", re.M)
_COUNT = re.compile(r"(\d+) ([a-z]+)")
_PYTEST_WORDS = {"passed": "passed", "failed": "failed", "error": "errors", "errors": "errors",
                 "skipped": "skipped"}
# cargo: "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out"
_CARGO = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", re.M)
# jest: "Tests:       1 failed, 1 skipped, 3 passed, 5 total"
_JEST = re.compile(r"^Tests:\s+(.*\d+ total)\s*$", re.M)
# maven surefire: "Tests run: 5, Failures: 1, Errors: 0, Skipped: 1" (the last one is the total)
_MAVEN = re.compile(r"Tests run: (\d+), Failures: (\d+), Errors: (\d+), Skipped: (\d+)(?!\d)(?!, Time elapsed)")
# unittest: "Ran 5 tests in 0.001s" ... "FAILED (failures=1, errors=1, skipped=1)" or "OK (skipped=1)"
_UNITTEST = re.compile(r"^Ran (\d+) tests? in [\d.]+s\s*\n+\s*(OK|FAILED)\s*(?:\(([^)]*)\))?", re.M)


def parse_test_summary(output: str) -> dict | None:
    """{"passed", "failed", "errors", "skipped"} from a test run's summary (pytest, unittest, cargo,
    jest, maven), or None when no summary is found."""
    text = _ANSI.sub("", output or "")
    for parse in (_pytest, _cargo, _jest, _maven, _unittest):
        counts = parse(text)
        if counts is not None:
            return counts
    return None


def _zero() -> dict:
    return {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}


def _pytest(text: str) -> dict | None:
    matches = _PYTEST.findall(text)
    if not matches:
        return None
    counts = _zero()
    for number, word in _COUNT.findall(matches[-1]):
        if word in _PYTEST_WORDS:
            counts[_PYTEST_WORDS[word]] += int(number)
    return counts


def _cargo(text: str) -> dict | None:
    matches = _CARGO.findall(text)
    if not matches:
        return None
    counts = _zero()
    for passed, failed, ignored in matches:  # one line per test binary: add them up
        counts["passed"] += int(passed)
        counts["failed"] += int(failed)
        counts["skipped"] += int(ignored)
    return counts


def _jest(text: str) -> dict | None:
    matches = _JEST.findall(text)
    if not matches:
        return None
    counts = _zero()
    for number, word in _COUNT.findall(matches[-1]):
        key = {"passed": "passed", "failed": "failed", "skipped": "skipped", "todo": "skipped"}.get(word)
        if key:
            counts[key] += int(number)
    return counts


def _maven(text: str) -> dict | None:
    matches = _MAVEN.findall(text)
    if not matches:
        return None
    run, failures, errors, skipped = map(int, matches[-1])
    return {"passed": run - failures - errors - skipped, "failed": failures, "errors": errors, "skipped": skipped}


def _unittest(text: str) -> dict | None:
    matches = _UNITTEST.findall(text)
    if not matches:
        return None
    ran, _, details = matches[-1]
    counts = _zero()
    for item in details.split(","):
        key, _, value = item.partition("=")
        target = {"failures": "failed", "errors": "errors", "skipped": "skipped"}.get(key.strip())
        if target and value.strip().isdigit():
            counts[target] += int(value)
    counts["passed"] = int(ran) - counts["failed"] - counts["errors"] - counts["skipped"]
    return counts
