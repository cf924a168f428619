"""Ground truth of the RCA bundle generator (bench/bugsinpy_meta.py), from a real git repo."""

import subprocess

from bench.bugsinpy_meta import _unittest_to_nodeid, is_test_path, patch_lines, truth_from_patch

BUGGY = '''import os


def helper(x):
    return x + 1


class Thing:
    limit = 3

    def run(self, items):
        out = []
        for item in items:
            out.append(helper(item))
        return out
'''

PATCH = '''diff --git a/pkg/mod.py b/pkg/mod.py
index 1..2 100644
--- a/pkg/mod.py
+++ b/pkg/mod.py
@@ -4,2 +4,2 @@ import os
 def helper(x):
-    return x + 1
+    return x + 2
@@ -9,1 +9,2 @@ class Thing:
     limit = 3
+    extra = 4
@@ -13,2 +14,4 @@ class Thing:
         for item in items:
             out.append(helper(item))
+        if not out:
+            raise ValueError(items)
diff --git a/tests/test_mod.py b/tests/test_mod.py
--- a/tests/test_mod.py
+++ b/tests/test_mod.py
@@ -1,1 +1,1 @@
-assert False
+assert True
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,1 +1,1 @@
-old
+new
'''


def test_patch_lines_take_deleted_lines_and_insertion_points_of_code_files_only():
    assert patch_lines(PATCH) == {"pkg/mod.py": [5, 9, 14]}


def test_truth_maps_each_line_to_its_innermost_def(tmp_path):
    repo = tmp_path / "r"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "mod.py").write_text(BUGGY)
    run = {"cwd": repo, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q"], **run)
    subprocess.run(["git", "add", "-A"], **run)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   **run)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], text=True, **run).stdout.strip()
    truth = truth_from_patch(PATCH, repo / ".git", sha)
    assert truth["files"] == ["pkg/mod.py"]
    assert truth["lines"] == {"pkg/mod.py": [5, 9, 14]}
    # line 9 is class level: no function; 14 sits in Thing.run
    assert truth["functions"] == [
        {"file": "pkg/mod.py", "function": "helper", "start": 4, "end": 5},
        {"file": "pkg/mod.py", "function": "run", "start": 11, "end": 15},
    ]


def test_unittest_ids_become_pytest_node_ids(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_black.py").write_text("")
    assert (_unittest_to_nodeid("tests.test_black.BlackTestCase.test_x", tmp_path)
            == "tests/test_black.py::BlackTestCase::test_x")
    assert _unittest_to_nodeid("nowhere.Case", tmp_path) is None


def test_test_paths():
    assert is_test_path("tornado/test/web_test.py") and is_test_path("tests/data/x.py")
    assert not is_test_path("youtube_dl/utils.py") and not is_test_path("black.py")
