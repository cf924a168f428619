"""The incremental code-search index: keyed by file content, a new commit indexes only what changed."""

from __future__ import annotations

import threading
from pathlib import Path

from skills.tools.search import build
from skills.tools.search_code import CodeIndex
from tests.test_search_code import git, make_repo, paths, write


def _module(i: int) -> str:
    return f'"""Module {i}."""\n\n\ndef helper_{i}(value):\n    """Helper number {i}."""\n    return value + {i}\n'


def _repo(tmp_path: Path, n: int = 30) -> Path:
    files = {f"pkg/mod_{i}.py": _module(i) for i in range(n)}
    files["pkg/ledger.py"] = "def reconcile_ledger(entries):\n    return sorted(entries)\n"
    return make_repo(tmp_path / "repo", files)


def test_a_new_commit_indexes_only_the_changed_blob_and_results_follow_it(tmp_path):
    repo = _repo(tmp_path)
    cache = tmp_path / "cache"
    first = CodeIndex.open(repo, cache_dir=cache)
    assert len(first.indexed) == 31 and first.stats["files"] == 31
    assert paths(first.search("reconcile_ledger"))[0] == "pkg/ledger.py"
    first.close()

    write(repo, {"pkg/ledger.py": "def settle_accounts(entries):\n    return sorted(entries)\n"})
    git(repo, "commit", "-q", "-am", "rename the ledger function")
    moved = CodeIndex.open(repo, cache_dir=cache)
    assert moved.indexed == ["pkg/ledger.py"]           # one blob, not the 31 files of the commit
    assert moved.stats["indexed_chunks"] == 1
    assert paths(moved.search("settle_accounts"))[0] == "pkg/ledger.py"
    assert moved.search("reconcile") == []               # the old content is not part of this state
    moved.close()

    git(repo, "checkout", "-q", "HEAD~1")                 # back to a state whose blobs are all known
    back = CodeIndex.open(repo, cache_dir=cache)
    assert back.indexed == [] and back.reused
    assert paths(back.search("reconcile_ledger"))[0] == "pkg/ledger.py"
    assert back.search("settle") == []


def test_work_tree_edits_renames_and_deletions_are_seen(tmp_path):
    repo = _repo(tmp_path, n=3)
    cache = tmp_path / "cache"
    CodeIndex.open(repo, cache_dir=cache).close()
    write(repo, {"pkg/mod_1.py": "def freshly_edited():\n    pass\n"})      # modified, not staged
    (repo / "pkg/sub").mkdir()
    git(repo, "mv", "pkg/mod_2.py", "pkg/sub/mod_2.py")                     # moved: same blob, same name
    (repo / "pkg/mod_0.py").unlink()                                        # deleted
    index = CodeIndex.open(repo, cache_dir=cache)
    assert index.indexed == ["pkg/mod_1.py"]
    assert set(index.files()) == {"pkg/mod_1.py", "pkg/sub/mod_2.py", "pkg/ledger.py"}
    assert paths(index.search("freshly_edited"))[0] == "pkg/mod_1.py"
    assert paths(index.search("helper_2"))[0] == "pkg/sub/mod_2.py"
    assert "pkg/mod_0.py" not in paths(index.search("helper_0 module", top=30))


def test_old_states_are_forgotten_and_their_blobs_deleted(tmp_path):
    repo = _repo(tmp_path, n=2)
    cache = tmp_path / "cache"
    for i in range(build.KEEP_STATES + 3):
        write(repo, {"pkg/churn.py": f"def churn_version_{i}():\n    pass\n"})
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"churn {i}")
        index = CodeIndex.open(repo, cache_dir=cache)
        assert index.indexed == (["pkg/churn.py"] if i else ["pkg/churn.py", "pkg/ledger.py",
                                                             "pkg/mod_0.py", "pkg/mod_1.py"])
        index.close()
    conn = build.open_store(index.db_path)
    n_states = conn.execute("SELECT count(*) FROM states").fetchone()[0]
    churn_blobs = conn.execute("SELECT count(*) FROM blobs WHERE key LIKE '%:churn.py'").fetchone()[0]
    fts_rows = conn.execute("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'churn'").fetchone()[0]
    conn.close()
    assert n_states == build.KEEP_STATES and churn_blobs == build.KEEP_STATES
    assert fts_rows == build.KEEP_STATES                   # the full-text rows went with their blobs
    latest = CodeIndex.open(repo, cache_dir=cache)
    assert paths(latest.search(f"churn_version_{build.KEEP_STATES + 2}"))[0] == "pkg/churn.py"


def test_two_processes_worth_of_opens_at_once_share_one_store(tmp_path):
    repo = _repo(tmp_path, n=40)
    cache = tmp_path / "cache"
    results: list[CodeIndex] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            results.append(CodeIndex.open(repo, cache_dir=cache))
        except BaseException as exc:   # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and len(results) == 3
    assert sum(len(r.indexed) for r in results) == 41      # every blob indexed exactly once
    for r in results:
        assert paths(r.search("reconcile_ledger"))[0] == "pkg/ledger.py"


def test_a_listed_but_absent_file_is_not_remembered_as_unreadable(tmp_path):
    repo = _repo(tmp_path, n=1)
    git(repo, "update-index", "--skip-worktree", "pkg/ledger.py")       # sparse: listed, not on disk
    text = (repo / "pkg/ledger.py").read_text()
    (repo / "pkg/ledger.py").unlink()
    cache = tmp_path / "cache"
    absent = CodeIndex.open(repo, cache_dir=cache)
    assert "pkg/ledger.py" not in absent.indexed and "pkg/ledger.py" not in absent.files()
    (repo / "pkg/ledger.py").write_text(text)
    present = CodeIndex.open(repo, cache_dir=cache)
    assert present.indexed == ["pkg/ledger.py"]
    assert paths(present.search("reconcile_ledger"))[0] == "pkg/ledger.py"


def test_a_known_state_opens_while_another_process_is_indexing(tmp_path):
    repo = _repo(tmp_path, n=3)
    cache = tmp_path / "cache"
    first = CodeIndex.open(repo, cache_dir=cache)
    writer = build.open_store(first.db_path)
    writer.execute("BEGIN IMMEDIATE")          # another process holds the write lock (a long cold build)
    opened: list[CodeIndex] = []
    thread = threading.Thread(target=lambda: opened.append(CodeIndex.open(repo, cache_dir=cache)), daemon=True)
    thread.start()
    thread.join(timeout=30)                     # it would wait LOCK_TIMEOUT (15 min) if it needed the lock
    writer.execute("ROLLBACK")
    writer.close()
    assert not thread.is_alive() and opened
    assert opened[0].reused and paths(opened[0].search("reconcile_ledger"))[0] == "pkg/ledger.py"
