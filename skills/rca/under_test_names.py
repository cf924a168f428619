"""Links by name from the failing test (part of `UnderTest`): `test_env.py` → `env.py`,
`test_get_mount_facts` → `get_mount_facts`, a test class named after the class it tests.
"""

from __future__ import annotations

from skills.rca.naming import function_link, subject_tokens
from skills.rca.source import Definition
from skills.rca.under_test_frames import _TestFrame

W_TEST_NAME = 1.2  # x link quality: the test (or its class) is named after the function
W_TEST_FILE = 0.8  # x link quality: in the module the test module is named after
FILE_ONLY_FACTOR = 0.7  # only the module is linked: its longest function (size ~ defects)


class FailingTestNames:
    """Mixin of the analysis: locations the failing test's names link to."""

    def _test_names(self, tf: _TestFrame, cls: str | None) -> None:
        """Links by name: the module the test module is named after, the function (and class)
        the test is named after, among the files the test reaches."""
        fn_toks = subject_tokens(tf.frame.function or "")
        cls_toks = subject_tokens(cls or "")
        files = self._linked
        reached = {c.file for c in self.cands.values() if any(
            k.startswith("test_") for k in c.signals)} | {f for f, _ in self._typed}
        held = {(f, k) for f, k in self._typed}
        for path in sorted(set(files) | reached):
            src = self.git.source(self.commit, path)
            if src is None:
                continue
            fq = files.get(path, 0.0)
            classes = [d for d in src.defs if d.kind == "class" and (
                cls_toks and function_link(d.name, cls_toks) > 0 or (path, d.name) in held)]
            for d in src.defs:
                if d.kind != "function":
                    continue
                q = max(function_link(d.name, fn_toks), 0.8 * function_link(d.name, cls_toks))
                in_cls = any(k.contains(d.start) for k in classes)
                if q <= 0:
                    continue
                c = self.cand(path, d)
                if c:
                    c.add("test_name", W_TEST_NAME * q * (1.0 if fq or in_cls else 0.7),
                          f"the failing test {tf.frame.function} is named after "
                          f"{d.qualname}")
            if fq:
                for c in [c for c in self.cands.values() if c.file == path]:
                    c.add("test_file", W_TEST_FILE * fq,
                          f"{tf.path} is named after {path}")
                if not any(c.file == path for c in self.cands.values()):
                    d = _main_function(src)
                    c = self.cand(path, d) if d else None
                    if c:
                        c.add("test_file", W_TEST_FILE * fq * FILE_ONLY_FACTOR,
                              f"{tf.path} is named after {path} (no call of the test "
                              "resolved into it)")


def _main_function(src) -> Definition | None:
    """The function a module is most likely tested through: the longest top-level one."""
    fns = [d for d in src.defs if d.kind == "function"]
    return max(fns, key=lambda d: (d.end - d.start, -d.start)) if fns else None
