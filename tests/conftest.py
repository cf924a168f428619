"""Shared test fixtures: where ../shared lives, and skipping cleanly when it is absent."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# Code-search indexes built during tests go to a throw-away folder, not the user's cache.
os.environ.setdefault("DROID_CACHE_DIR", tempfile.mkdtemp(prefix="droid-test-index-"))
SHARED = Path(os.environ.get("DROID_SHARED", REPO_ROOT.parent / "shared"))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's ../shared folder; skips the test when it is not there."""
    if not (SHARED / "fixtures").is_dir():
        pytest.skip(f"../shared not found at {SHARED} (set DROID_SHARED to its location)")
    return SHARED


@pytest.fixture(scope="session")
def fixtures_dir(shared_dir: Path) -> Path:
    """../shared/fixtures."""
    return shared_dir / "fixtures"
