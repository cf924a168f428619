"""bench/build_locate_set.py: a SWE-bench Pro instance becomes a locate instance (gold files from a real git history)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parents[1] / "bench" / "build_locate_set.py"


def _builder():
    spec = importlib.util.spec_from_file_location("build_locate_set", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return _git(repo, "rev-parse", "HEAD")


def test_instance_gets_non_test_gold_files_and_the_issue_part_only(tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "acme+widgets" / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    base = _commit(repo, {"lib/widgets/core.py": "def spin():\n    return 1\n",
                          "test/units/test_core.py": "def test_spin():\n    pass\n"}, "base")
    fix = _commit(repo, {"lib/widgets/core.py": "def spin():\n    return 2\n",
                         "test/units/test_core.py": "def test_spin():\n    assert True\n",
                         "changelogs/fragments/spin.yml": "bugfixes: [spin]\n"}, "fix spin")
    statement = ('"# Title\\n\\nspin() returns the wrong value"\n\nRequirements:\n'
                 '"- lib/widgets/core.py must return 2"\n\nNew interfaces introduced:\n"None"')
    rows = [{"instance_id": f"instance_acme__widgets-{fix}-v0abc", "base_commit": base,
             "problem_statement": statement, "image_name": "x", "repo_name": "app"},
            {"instance_id": f"instance_acme__widgets-{'0' * 40}-vnan", "base_commit": base,
             "problem_statement": "missing fix commit", "image_name": "x", "repo_name": "app"}]
    source = tmp_path / "instances.yaml"
    source.write_text(yaml.safe_dump(rows))
    out = tmp_path / "fresh.json"

    assert _builder().main(["--instances", str(source), "--repos-dir", str(tmp_path / "repos"),
                            "--out", str(out), "--cap", "5"]) == 0

    built = json.loads(out.read_text())
    assert len(built) == 1                                  # the instance whose fix commit is missing is dropped
    assert built[0]["repo"] == "acme/widgets" and built[0]["base_commit"] == base
    assert built[0]["gold_files"] == ["changelogs/fragments/spin.yml", "lib/widgets/core.py"]
    assert built[0]["problem_statement"] == "# Title\n\nspin() returns the wrong value"   # no Requirements


def test_skip_takes_the_instances_after_the_capped_ones_without_overlap(tmp_path: Path) -> None:
    repo = tmp_path / "repos" / "acme+widgets" / "repo"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    base = _commit(repo, {"lib/core.py": "v = 0\n"}, "base")
    fixes = [_commit(repo, {"lib/core.py": f"v = {k + 1}\n"}, f"fix {k}") for k in range(5)]
    rows = [{"instance_id": f"instance_acme__widgets-{fix}-v0", "base_commit": base,
             "problem_statement": f"issue {k}"} for k, fix in enumerate(fixes)]
    rows.append({"instance_id": f"instance_acme__widgets-{'0' * 40}-v0", "base_commit": base,
                 "problem_statement": "fix commit missing: dropped, not counted as passed over"})
    source = tmp_path / "instances.yaml"
    source.write_text(yaml.safe_dump(rows))
    builder = _builder()
    common = ["--instances", str(source), "--repos-dir", str(tmp_path / "repos")]

    assert builder.main([*common, "--out", str(tmp_path / "dev.json"), "--cap", "2"]) == 0
    assert builder.main([*common, "--out", str(tmp_path / "held.json"), "--skip", "2", "--cap", "10"]) == 0

    dev = [r["instance_id"] for r in json.loads((tmp_path / "dev.json").read_text())]
    held = [r["instance_id"] for r in json.loads((tmp_path / "held.json").read_text())]
    assert len(dev) == 2 and len(held) == 3
    assert not set(dev) & set(held)
    assert set(dev) | set(held) == {r["instance_id"] for r in rows[:5]}


def test_ids_with_hyphenated_owner_and_name_parse() -> None:
    builder = _builder()
    sha = "a" * 40
    assert builder.parse_id(f"instance_element-hq__element-web-{sha}-vnan") == ("element-hq/element-web", sha)
    assert builder.parse_id(f"instance_internetarchive__openlibrary-{sha}-v0f5aece3") == ("internetarchive/openlibrary", sha)
    assert builder.parse_id("django__django-12345") is None


def _locate():
    spec = importlib.util.spec_from_file_location("bench_locate", BENCH.parent / "locate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checkout_leaves_out_only_the_blobs_a_snapshot_lacks(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    origin.mkdir()
    _git(origin, "init", "-q")
    first = _commit(origin, {"pkg/core.py": "def spin():\n    return 1\n", "data/big.bin": "x" * 5000}, "one")
    second = _commit(origin, {"pkg/core.py": "def spin():\n    return 2\n", "pkg/extra.py": "X = 1\n"}, "two")
    big = _git(origin, "rev-parse", f"{first}:data/big.bin")
    (origin / ".git" / "objects" / big[:2] / big[2:]).unlink()        # as a size-capped snapshot leaves it out
    locate = _locate()
    work = tmp_path / "work"
    locate.git("clone", "--shared", "--no-checkout", "-q", str(origin), str(work))

    assert locate.checkout(work, first) == ["data/big.bin"]
    assert (work / "pkg/core.py").read_text() == "def spin():\n    return 1\n" and not (work / "data/big.bin").exists()
    assert locate.checkout(work, second) == ["data/big.bin"]
    assert (work / "pkg/core.py").read_text() == "def spin():\n    return 2\n" and (work / "pkg/extra.py").exists()
