"""The lab bundles recorded with --probe (pcaps/lab/, real Debian 6.1 kernel data) and one correlation of each,
shared by the correlator's tests.  ``SCTPCORR_CORRELATE_BUNDLES=DIR`` points at another set (a fresh lab run)."""
from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = Path(os.environ.get("SCTPCORR_CORRELATE_BUNDLES") or ROOT / "pcaps" / "lab")
NAMES = ("baseline", "lossy", "failover", "hostdelay", "ngap-like", "bulk", "slow-receiver")


def bundle(name: str) -> Path:
    b = LAB / name
    if not (b / "manifest.json").exists() or not any((b / "kernel").glob("probe.jsonl*")):
        pytest.skip(f"{b}: no lab bundle with a kernel recording")
    return b


@functools.lru_cache(maxsize=None)
def correlation(name: str):    # noqa: ANN201 - a Correlation
    from sctpcorr import correlate_io

    cx, _inp = correlate_io.run(bundles=[str(bundle(name))])
    return cx


def checks(cx, name: str, assoc: int | None = None, direction: str | None = None) -> list:   # noqa: ANN001
    return [c for c in cx.checks if c.name == name and (assoc is None or c.assoc == assoc)
            and (direction is None or c.direction == direction)]


def one(cx, name: str, assoc: int | None = None, direction: str | None = None):   # noqa: ANN001, ANN201
    cs = checks(cx, name, assoc, direction)
    assert len(cs) == 1, f"{name} {assoc} {direction}: {[c.as_dict() for c in cs]}"
    return cs[0]
