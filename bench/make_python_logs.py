"""Build a harder log set for bench/condense.py: real pytest runs of real packages' test suites.

    python bench/make_python_logs.py OUTDIR [--work DIR]

Downloads the sdists of a few pure-Python packages (attrs, boltons, toolz, more-itertools) from
PyPI into a temporary virtualenv (editable installs, so their test suites run against the
source), then writes one folder per case into OUTDIR:

- `fail.log`: a CI-like job that runs several real `pytest -vv` sessions one after another, one
  of them against a copy of a library with a small bug put in (or a broken test module, or a
  fixture that cannot set up), so that its failures sit in the middle of 10,000 to 100,000
  lines of verbose passing output (verbose options: -vv, --setup-show, -rA, --durations=0);
- `pass.log`: the same job run again with nothing made to fail;
- `groundtruth`: in the format of ../shared/bench/ci-logs (first line a format option, then
  "E a-b" / "C a" lines, 1-based), labelled from pytest's own structure: every line of a
  FAILURES or ERRORS section (header included), and the FAILED / ERROR lines of the "short
  test summary info" are E; the session's closing "N failed ..." line and "Interrupted" line
  are C.

Nothing here is tuned to `condense`: the bugs are ordinary ones, and the labels follow pytest.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = {
    # name on PyPI: (version, folder in the sdist, test path, extra pytest args)
    "attrs": ("26.1.0", "attrs-26.1.0", "tests", ["--deselect", "tests/test_converters.py::TestPipe::test_wrapped_annotation"]),
    "boltons": ("26.2.0", "boltons-26.2.0", "tests", []),
    "toolz": ("1.2.0", "toolz-1.2.0", "toolz/tests", []),
    "more-itertools": ("11.2.1", "more_itertools-11.2.1", "tests/test_more.py", []),
}
TEST_DEPS = ["pytest", "hypothesis"]

VERBOSE = ["-vv", "--color=no", "-p", "no:cacheprovider", "-p", "no:randomly"]
SETUP_SHOW = ["--setup-show"]
ALL_SUMMARY = ["-rA"]
DURATIONS = ["--durations=0", "--durations-min=0"]


@dataclass
class Mutation:
    """A small change to a package's source or tests: the kind of bug that fails a CI run."""

    package: str
    path: str  # relative to the sdist folder
    old: str
    new: str
    prepend: bool = False  # insert `new` at the top of the file instead of replacing `old`


@dataclass
class Session:
    package: str
    args: list[str]
    mutation: Mutation | None = None


@dataclass
class Case:
    name: str
    sessions: list[Session] = field(default_factory=list)


MUTATIONS = {
    # toolz.frequencies stops counting at 2
    "toolz_frequencies": Mutation("toolz", "toolz/itertoolz.py", "        d[item] += 1\n", "        d[item] += 1 if d[item] < 2 else 0\n"),
    # attrs' in_ validator words its message differently
    "attrs_in_message": Mutation(
        "attrs", "src/attr/validators.py",
        "must be in {self._original_options!r}", "must be one of {self._original_options!r}",
    ),
    # a test module whose autouse fixture cannot reach a service
    "attrs_fixture": Mutation(
        "attrs", "tests/test_funcs.py", "",
        "import pytest as _pytest\n\n\n@_pytest.fixture(autouse=True)\ndef _store():\n"
        "    raise ConnectionError('could not connect to the test store at 127.0.0.1:6379')\n\n\n",
        prepend=True,
    ),
    # a test module importing a name that does not exist
    "boltons_import": Mutation(
        "boltons", "tests/test_setutils.py", "", "from boltons.setutils import IndexedSet, complement_all\n", prepend=True,
    ),
    # boltons.iterutils.windowed skips one element too many for windows of 3 and more
    "boltons_windowed": Mutation(
        "boltons", "boltons/iterutils.py",
        "                for _ in range(i):\n                    next(t)",
        "                for _ in range(i + (i > 1)):\n                    next(t)",
    ),
    # toolz.partition_all miscounts the length of the last partition
    "toolz_partition_all": Mutation(
        "toolz", "toolz/itertoolz.py", "end = len(seq) % n\n", "end = len(seq) % n + 1\n",
    ),
    # toolz.get_in no longer turns a TypeError into the default
    "toolz_get_in": Mutation(
        "toolz", "toolz/dicttoolz.py", "except (KeyError, IndexError, TypeError):", "except (KeyError, IndexError):",
    ),
    # more_itertools.ilen counts pairs of an iterator
    "moreit_ilen": Mutation(
        "more-itertools", "more_itertools/more.py",
        "return sum(compress(repeat(1), zip(iterable)))", "return sum(compress(repeat(1), zip(iterable, iterable)))",
    ),
}


def _cases() -> list[Case]:
    m = MUTATIONS
    s = Session
    full = VERBOSE + SETUP_SHOW + ALL_SUMMARY
    return [
        Case("toolz_frequencies_mid", [
            s("boltons", VERBOSE + SETUP_SHOW), s("attrs", VERBOSE + SETUP_SHOW),
            s("toolz", VERBOSE + SETUP_SHOW, m["toolz_frequencies"]),
            s("attrs", full), s("boltons", full),
        ]),
        Case("attrs_message_early", [
            s("toolz", VERBOSE), s("attrs", VERBOSE + DURATIONS, m["attrs_in_message"]),
            s("boltons", full + DURATIONS), s("attrs", full), s("toolz", full),
        ]),
        Case("attrs_fixture_errors_mid", [
            s("boltons", VERBOSE + SETUP_SHOW), s("toolz", full),
            s("attrs", VERBOSE + ALL_SUMMARY, m["attrs_fixture"]),
            s("boltons", full), s("attrs", VERBOSE + SETUP_SHOW),
        ]),
        Case("boltons_collection_error_mid", [
            s("attrs", full), s("toolz", VERBOSE),
            s("boltons", VERBOSE + ["--continue-on-collection-errors"], m["boltons_import"]),
            s("attrs", VERBOSE + SETUP_SHOW + DURATIONS), s("toolz", full),
        ]),
        Case("boltons_windowed_late", [
            s("attrs", full + DURATIONS), s("toolz", full), s("attrs", VERBOSE + SETUP_SHOW),
            s("boltons", VERBOSE + DURATIONS, m["boltons_windowed"]), s("toolz", VERBOSE),
        ]),
        # written after condense was tuned on the cases above: a check on unseen failures
        Case("heldout_toolz_partition_tb_short_mid", [
            s("attrs", full), s("boltons", VERBOSE + SETUP_SHOW),
            s("toolz", VERBOSE + ["--tb=short"], m["toolz_partition_all"]),
            s("attrs", VERBOSE + DURATIONS), s("boltons", full),
        ]),
        Case("heldout_toolz_get_in_showlocals_early", [
            s("toolz", VERBOSE + ["-l"], m["toolz_get_in"]),
            s("boltons", full + DURATIONS), s("attrs", full), s("toolz", full),
        ]),
        Case("moreit_ilen_big", [
            s("attrs", full + DURATIONS), s("boltons", full + DURATIONS), s("toolz", full + DURATIONS),
            s("more-itertools", VERBOSE + SETUP_SHOW + ALL_SUMMARY, m["moreit_ilen"]),
            s("attrs", full + DURATIONS), s("boltons", full + DURATIONS), s("attrs", full + DURATIONS),
            s("toolz", full + DURATIONS), s("attrs", full + DURATIONS),
        ]),
    ]


def _run(cmd: list[str], cwd: Path | None = None, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, check=check, text=True, capture_output=True)


def prepare(work: Path) -> tuple[Path, Path]:
    """A virtualenv with the packages installed editable from their sdists: (python, src dir)."""
    src = work / "src"
    venv = work / "venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv}", file=sys.stderr)
        _run([sys.executable, "-m", "venv", str(venv)])
        _run([str(python), "-m", "pip", "install", "-q", *TEST_DEPS])
    src.mkdir(parents=True, exist_ok=True)
    for name, (version, folder, _, _) in PACKAGES.items():
        if (src / folder).is_dir():
            continue
        print(f"downloading {name}=={version}", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            _run([str(python), "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", "-d", tmp, f"{name}=={version}"])
            archive = next(Path(tmp).glob("*.tar.gz"))
            with tarfile.open(archive) as tar:
                tar.extractall(src, filter="data")
        _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(src / folder)])
    return python, src


def run_session(python: Path, src: Path, session: Session) -> tuple[str, int]:
    """Run one pytest session, with its mutation applied for the duration; its output and rc."""
    _, folder, tests, extra = PACKAGES[session.package]
    cwd = src / folder
    backup: tuple[Path, str] | None = None
    if session.mutation:
        target = cwd / session.mutation.path
        original = target.read_text(encoding="utf-8")
        if session.mutation.prepend:
            changed = session.mutation.new + original
        else:
            if session.mutation.old not in original:
                raise SystemExit(f"mutation does not apply: {session.mutation}")
            changed = original.replace(session.mutation.old, session.mutation.new, 1)
        backup = (target, original)
        target.write_text(changed, encoding="utf-8")
    try:
        cmd = [str(python), "-m", "pytest", *session.args, *extra, tests]
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "COLUMNS": "120"}
        env.pop("PYTEST_ADDOPTS", None)
        proc = _run(cmd, cwd=cwd, env=env, check=False)
    finally:
        if backup:
            backup[0].write_text(backup[1], encoding="utf-8")
    shown = "python -m pytest " + " ".join([*session.args, *extra, tests])
    header = f"+ cd {session.package} && {shown}\n"
    return header + proc.stdout + proc.stderr + f"+ exit code {proc.returncode}\n", proc.returncode


_HEADER = re.compile(r"^=+ (.+?) =+$")


def label(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """E intervals and C lines (1-based) of a log, from pytest's own structure."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    e_lines: list[int] = []
    c_lines: list[int] = []
    section = ""
    in_entry = False  # inside a FAILED / ERROR entry of the short test summary (-vv prints its message)
    for k, line in enumerate(lines, 1):
        m = _HEADER.match(line)
        if m:
            section = m.group(1)
            in_entry = False
            if section in ("FAILURES", "ERRORS"):
                e_lines.append(k)
            elif re.search(r"\b\d+ (?:failed|errors?)\b", section):
                c_lines.append(k)
            continue
        if line.startswith("!!!") and "Interrupted" in line:
            c_lines.append(k)
            in_entry = False
            continue
        if line.startswith(("+ cd ", "+ exit code ")):  # the CI script's own lines end a session
            section = ""
            in_entry = False
            continue
        if section in ("FAILURES", "ERRORS"):
            e_lines.append(k)
        elif section == "short test summary info":
            if re.match(r"(?:SUB)?(?:FAILED|ERROR)(?:\(.*?\))? ", line):
                in_entry = True
            elif re.match(r"(?:SUB)?(?:PASSED|SKIPPED|XFAIL|XPASS)(?:\(.*?\))? ", line):
                in_entry = False
            if in_entry:
                e_lines.append(k)
    intervals: list[tuple[int, int]] = []
    for k in e_lines:
        if intervals and intervals[-1][1] == k - 1:
            intervals[-1] = (intervals[-1][0], k)
        else:
            intervals.append((k, k))
    return intervals, c_lines


def write_groundtruth(folder: Path, fail_text: str) -> list[tuple[int, int]]:
    intervals, c_lines = label(fail_text)
    rows = ["DEFAULT"]
    rows += [f"E {a}-{b}" if a != b else f"E {a}" for a, b in intervals]
    rows += [f"C {c}" for c in c_lines]
    (folder / "groundtruth").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return intervals


def build_case(python: Path, src: Path, case: Case, out: Path) -> dict:
    parts_fail: list[str] = []
    parts_pass: list[str] = []
    failing_rc = []
    for session in case.sessions:
        text, rc = run_session(python, src, session)
        parts_fail.append(text)
        if session.mutation:
            failing_rc.append(rc)
        elif rc != 0:
            raise SystemExit(f"{case.name}: a session without a bug failed ({session.package}, rc={rc})")
    for session in case.sessions:
        text, rc = run_session(python, src, Session(session.package, session.args))
        if rc != 0:
            raise SystemExit(f"{case.name}: pass run failed ({session.package}, rc={rc})")
        parts_pass.append(text)
    if not failing_rc or all(rc == 0 for rc in failing_rc):
        raise SystemExit(f"{case.name}: the bug did not fail the run")
    fail_text = "".join(parts_fail)
    pass_text = "".join(parts_pass)
    folder = out / case.name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fail.log").write_text(fail_text, encoding="utf-8")
    (folder / "pass.log").write_text(pass_text, encoding="utf-8")
    intervals = write_groundtruth(folder, fail_text)
    total = fail_text.count("\n")
    labelled = sum(b - a + 1 for a, b in intervals)
    first = intervals[0][0] if intervals else 0
    return {"case": case.name, "lines": total, "pass_lines": pass_text.count("\n"), "labelled": labelled,
            "first_labelled_line": first, "intervals": len(intervals)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, help="where to write the cases (outside the repository)")
    parser.add_argument("--work", type=Path, help="where to keep the virtualenv and sources (default: a temp dir)")
    parser.add_argument("--only", help="build only the cases whose name contains this")
    parser.add_argument("--relabel", action="store_true", help="only rewrite OUTDIR/*/groundtruth from the fail.log files")
    args = parser.parse_args(argv)
    if args.relabel:
        for folder in sorted(p for p in args.outdir.iterdir() if (p / "fail.log").is_file()):
            write_groundtruth(folder, (folder / "fail.log").read_text(encoding="utf-8"))
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="droid-pylogs-"))
    python, src = prepare(work)
    args.outdir.mkdir(parents=True, exist_ok=True)
    for case in _cases():
        if args.only and args.only not in case.name:
            continue
        print(f"building {case.name}", file=sys.stderr)
        info = build_case(python, src, case, args.outdir)
        print(info, file=sys.stderr)
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
