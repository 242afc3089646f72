"""Shared fixtures: where the captures live, and the engine.

The third-party corpus lives outside the repository at ``../shared/pcaps`` (test data only, never copied in); tests
that need it skip cleanly when it is absent. The captures the project makes itself live in ``pcaps/``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("SCTPCORR_CORPUS", ROOT.parent / "shared" / "pcaps")).resolve()
OWN_PCAPS = ROOT / "pcaps"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz")


def capture_files(folder: Path) -> list[Path]:
    """Every capture under ``folder`` (by name; README/truth files excluded), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith(CAPTURE_SUFFIXES))


def corpus_files() -> list[Path]:
    return capture_files(CORPUS)


def own_files() -> list[Path]:
    return capture_files(OWN_PCAPS)


def file_id(p: Path) -> str:
    for base in (CORPUS, OWN_PCAPS):
        try:
            return str(p.relative_to(base))
        except ValueError:
            pass
    return p.name


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"third-party capture corpus not found at {CORPUS}")
    return CORPUS


@pytest.fixture(scope="session")
def Analyzer():
    from sctpcorr.wire._engine import Analyzer as A

    return A
