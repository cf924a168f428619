"""Finding a repository's test command, and reading real test runs' summaries."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from skills.tools.run import run_command, scrubbed_env
from skills.tools.test_command import discover_test_command, parse_test_summary

PYTEST = "python -m pytest -q"


def project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"pytest.ini": "[pytest]\n"}, PYTEST),
    ({"pyproject.toml": "[project]\nname='x'\n\n[tool.pytest.ini_options]\naddopts='-q'\n"}, PYTEST),
    ({"setup.cfg": "[metadata]\nname = x\n\n[tool:pytest]\ntestpaths = tests\n"}, PYTEST),
    ({"tox.ini": "[tox]\nenvlist = py311\n\n[testenv]\ncommands = pytest\n"}, PYTEST),
    ({"tests/unit/test_models.py": "def test_x():\n    pass\n"}, PYTEST),
    ({"tox.ini": "[tox]\n", "Makefile": "test:\n\ttox\n"}, PYTEST),
    ({"Makefile": "build:\n\tcc main.c\n\ntest: build\n\t./run-tests\n"}, "make test"),
    ({"Makefile": "test := yes\nall:\n\techo $(test)\n"}, None),
    ({"package.json": json.dumps({"scripts": {"test": "jest"}})}, "npm test"),
    ({"package.json": json.dumps({"scripts": {"test": 'echo "Error: no test specified" && exit 1'}})}, None),
    ({"go.mod": "module example.com/x\n"}, "go test ./..."),
    ({"Cargo.toml": "[package]\nname = 'x'\n"}, "cargo test"),
    ({"pom.xml": "<project/>\n"}, "mvn -q test"),
    ({"build.gradle": "plugins {}\n", "gradlew": "#!/bin/sh\n"}, "./gradlew test"),
    ({"build.gradle": "plugins {}\n"}, None),
    ({"README.md": "# nothing to test\n", "src/app.py": "print(1)\n"}, None),
    ({"pyproject.toml": "[project]\nname='x'\n", "tests/helpers.py": "X = 1\n"}, None),
])
def test_discover_test_command(tmp_path: Path, files: dict[str, str], expected: str | None):
    assert discover_test_command(project(tmp_path, files)) == expected


def run_pytest(root: Path, *args: str) -> str:
    """A real pytest run (third-party plugins not auto-loaded: they only slow start-up here)."""
    env = {**scrubbed_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return run_command([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], root, timeout=60,
                       env=env).output


@pytest.fixture()
def pytest_project(tmp_path: Path) -> Path:
    return project(tmp_path / "proj", {
        "pytest.ini": "[pytest]\n",
        "tests/test_math.py": (
            "import pytest\n\n"
            "def test_adds():\n    assert 1 + 1 == 2\n\n"
            "def test_also_adds():\n    assert 2 + 2 == 4\n\n"
            "def test_broken():\n    assert 1 + 1 == 3\n\n"
            "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"),
        "tests/test_fixture.py": ("import pytest\n\n@pytest.fixture\ndef broken():\n"
                                  "    raise RuntimeError('fixture broke')\n\n"
                                  "def test_uses_broken(broken):\n    pass\n"),
    })


def test_parse_test_summary_reads_real_pytest_runs(pytest_project: Path):
    quiet = run_pytest(pytest_project, "-q")
    assert parse_test_summary(quiet) == {"passed": 2, "failed": 1, "errors": 1, "skipped": 1}, quiet[-500:]
    verbose = run_pytest(pytest_project, "-v", "tests/test_math.py")
    assert "=====" in verbose.splitlines()[-1]
    assert parse_test_summary(verbose) == {"passed": 2, "failed": 1, "errors": 0, "skipped": 1}
    assert discover_test_command(pytest_project) == PYTEST


def test_parse_test_summary_reads_a_real_unittest_run(tmp_path: Path):
    project(tmp_path, {"test_u.py": (
        "import unittest\n\n"
        "class T(unittest.TestCase):\n"
        "    def test_ok(self):\n        pass\n"
        "    def test_bad(self):\n        self.assertEqual(1, 2)\n"
        "    @unittest.skip('later')\n    def test_skip(self):\n        pass\n")})
    output = run_command([sys.executable, "-m", "unittest", "test_u"], tmp_path, timeout=60, env=scrubbed_env()).output
    assert parse_test_summary(output) == {"passed": 1, "failed": 1, "errors": 0, "skipped": 1}, output


def test_parse_test_summary_other_runners_and_nothing():
    cargo = ("running 3 tests\ntest a ... ok\n\ntest result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; "
             "0 filtered out; finished in 0.00s\n\n"
             "test result: ok. 4 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n")
    assert parse_test_summary(cargo) == {"passed": 6, "failed": 1, "errors": 0, "skipped": 1}
    jest = "Test Suites: 1 failed, 2 passed, 3 total\nTests:       1 failed, 1 skipped, 3 passed, 5 total\n"
    assert parse_test_summary(jest) == {"passed": 3, "failed": 1, "errors": 0, "skipped": 1}
    maven = ("Tests run: 3, Failures: 1, Errors: 0, Skipped: 0, Time elapsed: 0.1 s <<< FAILURE! - in a.BTest\n"
             "[ERROR] Tests run: 12, Failures: 1, Errors: 1, Skipped: 2\n")
    assert parse_test_summary(maven) == {"passed": 8, "failed": 1, "errors": 1, "skipped": 2}
    assert parse_test_summary("\x1b[31m1 failed\x1b[0m, \x1b[32m4 passed\x1b[0m in 0.50s\n")["passed"] == 4
    assert parse_test_summary("no tests ran in 0.01s") == {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    assert parse_test_summary("make: *** No rule to make target 'test'.") is None
    assert parse_test_summary("") is None
