"""Shared fixtures: where the captures live, and the engine.

The third-party corpus lives outside the repository at ``../shared/pcaps`` (test data only, never copied in); tests
that need it skip cleanly when it is absent. The captures the project makes itself live in ``pcaps/``.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

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


class SmallDisk:
    """A tmpfs of ``size`` bytes mounted at ``path``: a disk that really fills up (ENOSPC from the kernel)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def leave_free(self, nbytes: int) -> None:
        """Fill the disk with a filler file, then give back ``nbytes`` (rounded down to pages by tmpfs)."""
        filler = self.path / ".filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        os.truncate(filler, max(0, filler.stat().st_size - nbytes))

    def files(self) -> list[str]:
        return sorted(p.name for p in self.path.iterdir() if p.name != ".filler")


@pytest.fixture()
def small_disk(tmp_path: Path):
    """A 256 KiB tmpfs (root only: skipped where mounting is not allowed); unmounted afterwards."""
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(d)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        yield SmallDisk(d)
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
