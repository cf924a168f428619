"""Frame mapping: the event's frames → repository files, with the code at the commit that ran."""

from __future__ import annotations

from skills.rca.model import FrameEvidence
from skills.rca.paths import is_test_path
from skills.rca.source import _LANGUAGE_FAMILY, _PLATFORM_EXTS


class FrameMapping:
    """Mixin of the analysis: collects `self.frames` from `self.event`."""

    def detect_languages(self) -> None:
        """Source extensions worth searching: those of the stack's files, else the platform's."""
        exts = set()
        for fe in self.frames:
            if fe.file and "." in fe.file.rsplit("/", 1)[-1]:
                ext = "." + fe.file.rsplit(".", 1)[1].lower()
                exts |= set(_LANGUAGE_FAMILY.get(ext, (ext,)))
        if not exts:
            exts = set(_PLATFORM_EXTS.get((self.event.platform or "").lower(), ()))
        self.languages = tuple(sorted(exts))

    def collect_frames(self) -> None:
        excs = self.event.exceptions
        n = len(excs)
        library = 0
        for ei, exc in enumerate(excs):
            factor = 1.0 if ei == n - 1 else 0.9
            k = 0
            for depth, fr in enumerate(reversed(exc.frames)):
                mapped = self.files.match(fr)
                raw = fr.abs_path or fr.filename
                if mapped is None:
                    if fr.in_app:
                        self.frames.append(FrameEvidence(ei, depth, fr.function, None, raw,
                                                         fr.lineno, True, False, 0.0, frame=fr))
                    else:
                        library += 1
                    continue
                test = is_test_path(mapped.path)
                if test:
                    weight = 0.0
                    in_app = bool(fr.in_app)
                else:
                    in_app = fr.in_app is not False
                    weight = factor / (1 + 0.6 * k) * (1.0 if in_app else 0.5)
                    k += 1
                fe = FrameEvidence(ei, depth, fr.function, mapped.path, raw, fr.lineno, in_app,
                                   test, weight, mapped_via=mapped.via, frame=fr)
                self._frame_code(fe)
                self.frames.append(fe)
                if weight > 0:
                    top = mapped.path.split("/", 1)[0] if "/" in mapped.path else ""
                    self.app_roots.add(top)
        if library:
            self.notes.append(f"{library} library/unmapped frames left out")

    def _frame_code(self, fe: FrameEvidence) -> None:
        src = self.git.source(self.commit, fe.file) if fe.file else None
        if src is None or not fe.line:
            return
        fe.code = src.window(fe.line)
        fe.scope = src.scope(fe.line).qualname
        if fe.frame and fe.frame.context_line is not None and 0 < fe.line <= len(src.lines):
            fe.context_matches = (src.lines[fe.line - 1].strip()
                                  == fe.frame.context_line.strip())

    # -- candidates ---------------------------------------------------------------------------

    def import_roots(self) -> list[str]:
        """Directories the frames' modules are imported from (`lib` for `lib/ansible/x.py`
        of module `ansible.x`): the sys.path that resolves the repository's own imports."""
        roots: list[str] = []
        for fe in self.frames:
            mod = fe.frame.module if fe.frame else None
            if not fe.file or not mod or not fe.file.endswith(".py"):
                continue
            tail = mod.replace(".", "/")
            for suffix in (tail + ".py", tail + "/__init__.py"):
                if fe.file == suffix or fe.file.endswith("/" + suffix):
                    root = fe.file[: -len(suffix)].rstrip("/")
                    if root not in roots:
                        roots.append(root)
        return roots
