"""Root-cause analysis of a Sentry error against a git repository (deterministic evidence).

`analyse(event, repo, first_seen)` → `Evidence` (suspect locations, suspect commits, frames with
code, impact); `droid rca` exposes it on the command line.
"""

from __future__ import annotations

__all__ = ["analyse", "Evidence"]


def __getattr__(name: str):  # lazy: importing the package runs no git and loads nothing heavy
    if name in __all__:
        from skills.rca import evidence

        return getattr(evidence, name)
    raise AttributeError(name)
