"""The code under test: where a failure that surfaces in test code points into the project.

When the innermost repository frame is a test (an assertion failed, a test helper raised) the
stack holds no project frame. The failing test still says what it tested: the project functions
it called, above all those whose values reach the failing line (data flow back from the assert),
the objects in its local variables (`<pkg.mod.Class object at 0x…>`), its set-up (setUp, the
fixtures it takes) and its names (`test_env.py` → `env.py`, `test_get_mount_facts` →
`get_mount_facts`). Calls are resolved as Python does, through the test module's imports at the
release (jedi, `resolve.py`), on a probe that replays the event's own lines of the test (the
test file at the release may be older than the test that ran, or missing). Every location found
this way says so in its reasons: it comes from the test's calls, not from the stack.

The parts: the test's frames and code (under_test_frames.py), its calls (under_test_calls.py), its
set-up (under_test_setup.py) and its names (under_test_names.py).
"""

from __future__ import annotations

from skills.rca.naming import linked_files, subject_tokens
from skills.rca.source import _STOP, _calls
from skills.rca.under_test_calls import FailingTestCalls
from skills.rca.under_test_frames import FailingTestFrames, _TestFrame
from skills.rca.under_test_names import FailingTestNames
from skills.rca.under_test_setup import FailingTestSetup


class UnderTest(FailingTestFrames, FailingTestCalls, FailingTestSetup, FailingTestNames):
    """Mixin of the analysis: locations named by the failing test (no project frame)."""

    def add_under_test(self) -> None:
        """Rank the functions the failing test exercised, when the failure is in test code."""
        primary = len(self.event.exceptions) - 1
        if primary < 0 or any(fe.weight > 0 and fe.exception_index == primary
                              for fe in self.frames):
            return
        tfs = self._test_frames(self.event.exceptions[primary])
        if not tfs:
            return
        self.operand_builders: set[tuple[str, str]] = set()
        main = next((t for t in reversed(tfs) if (t.frame.function or "").lower().startswith(
            "test")), tfs[-1])
        cls = self._test_class(main)
        self._roots_for_tests(tfs, main)
        self._typed = self._typed_vars(tfs)
        self._linked = dict(linked_files(main.path, self.files.files, subject_tokens(cls or "")))
        self._prefetch(tfs, main, cls)
        for i, tf in enumerate(tfs):
            self._test_calls(tf, cls if tf is main else None, innermost=i == 0)
        self._test_setup(main, cls)
        self._test_names(main, cls)
        if any(k.startswith("test_") for c in self.cands.values() for k in c.signals):
            self.notes.append(f"the failure surfaced in test code ({main.path}::"
                              f"{main.frame.function}); locations marked 'from the test's calls' "
                              "come from what the test ran, not from the stack")

    def _prefetch(self, tfs: list[_TestFrame], main: _TestFrame, cls: str | None) -> None:
        """One `git grep` for every name a fallback by name may need (each grep of a large
        repository costs seconds; the results are cached per name)."""
        texts = [t for tf in tfs for _, t in tf.lines]
        src = self.git.source(self.commit, main.path) if main.exists else None
        for d in self._setup_scopes(src, main, cls) if src else []:
            texts += src.lines[d.start:min(d.end, d.start + 40)]
        names = {n.split(".")[-1] for t in texts for n in _calls(t)} - _STOP
        if names:
            self.git.grep_definitions(self.commit, sorted(names), self.languages)
