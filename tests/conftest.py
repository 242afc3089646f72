"""Shared fixtures: where the captures live, and the engine.

The third-party corpus lives outside the repository at ``../shared/pcaps`` (test data only, never copied in); tests
that need it skip cleanly when it is absent. The captures the project makes itself live in ``pcaps/``.
"""
from __future__ import annotations

import pytest

from corpora import CORPUS


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"third-party capture corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def Analyzer():
    from sctpcorr.wire._engine import Analyzer as A

    return A
