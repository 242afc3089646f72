"""Clock alignment from matched events (sctpcorr.correlate.clock): bounds, the recorded-offset check, drift."""
from __future__ import annotations

import numpy as np
import pytest

from sctpcorr.correlate.clock import Pairs, fit, recorded_offset

OFF = 1_700_000_000_000_000_000   # capture (realtime) - kernel (monotonic), ns


def _pairs(n: int = 200, off: int = OFF, tx_min: int = 20_000, rx_min: int = 30_000, rate: float = 0.0,
           seed: int = 1) -> Pairs:
    """Kernel egress -> wire (>= tx_min later) and wire -> kernel processing (>= rx_min later), over 100 s."""
    rng = np.random.default_rng(seed)
    k = np.sort(rng.integers(0, 100_000_000_000, n)) + 10**12
    drift = ((k - k[0]) * rate).astype(np.int64)
    p = Pairs()
    p.add(True, k, k + off + drift + tx_min + rng.integers(0, 200_000, n), "data")
    w = k + off + drift + 500_000
    p.add(False, w - off - drift + rx_min + rng.integers(0, 200_000, n), w, "sack")
    return p


def test_bounds_come_from_both_directions_and_contain_the_offset():
    f = fit(_pairs())
    assert f.method == "estimated" and f.lo_ns <= OFF <= f.hi_ns
    # the interval is the two stacks' quickest times: 20 us + 30 us here
    assert 50_000 <= f.hi_ns - f.lo_ns <= 56_000
    assert abs(f.offset_ns - OFF) <= f.uncertainty_ns


def test_recorded_offset_is_used_when_it_fits_and_refused_when_shifted():
    p = _pairs()
    ok = fit(p, recorded=(OFF + 1_000, 5_000))
    assert ok.method == "recorded" and ok.offset_ns == OFF + 1_000 and ok.recorded_error_ns == 0
    shifted = fit(p, recorded=(OFF + 2_500_000_000, 5_000), tolerance_ns=500_000)
    assert shifted.method == "estimated" and shifted.recorded_error_ns == pytest.approx(2_500_000_000, rel=1e-4)
    assert abs(shifted.offset_ns - OFF) < 100_000


def test_one_mismatched_pair_in_a_thousand_cannot_move_a_bound():
    p = _pairs(n=3000)
    fk, fw, bk, bw = p.arrays()
    bad = Pairs()
    bad.add(True, fk, fw, "data")
    bad.add(False, bk, bw, "sack")
    bad.add(True, np.array([fk[5]]), np.array([fk[5] + OFF - 50_000_000]), "data")   # 50 ms too early
    f = fit(bad)
    assert f.lo_ns <= OFF <= f.hi_ns


def test_drift_is_fitted_only_when_no_constant_offset_fits():
    f = fit(_pairs(rate=20e-6))              # 20 ppm over 100 s = 2 ms: no constant offset fits
    assert f.rate_ppm == pytest.approx(20, abs=2)
    assert f.lo_ns <= f.hi_ns
    still = fit(_pairs(rate=0.0))
    assert still.rate_ppm == 0.0


def test_one_sided_and_empty():
    p = Pairs()
    p.add(True, np.array([10, 20]), np.array([OFF + 15, OFF + 22]), "data")
    f = fit(p)
    assert f.method == "one-sided" and f.offset_ns == OFF + 2
    assert fit(Pairs()).offset_ns is None
    assert fit(Pairs(), recorded=(OFF, 10)).method == "recorded"


def test_recorded_offset_takes_the_median_of_the_reads():
    assert recorded_offset([(1, 100, 5), (2, 104, 3), (3, 101, 4)]) == (101, 5)
    assert recorded_offset([]) is None


def test_the_c_piece_bounds_equal_the_numpy_reference():
    """``_cjoin.piece_bounds`` (one pass, quickselect) against ``_piece_bounds_np`` (masks, np.partition): pairs
    on and between the edges, repeated edges and values, pieces with one side only or none, trims of 0 and more."""
    from sctpcorr.correlate import _cjoin
    from sctpcorr.correlate.clock import DRIFT_WINDOWS, _piece_bounds_np

    rng = np.random.default_rng(3)
    for trial in range(303):
        nf, nb = int(rng.integers(0, 400)), int(rng.integers(0, 400))
        if trial >= 300:                  # trims of tens (a heap of the extremes) and of hundreds (quickselect)
            nf, nb = (50_000, 80_000) if trial == 300 else (4_500_000, 120) if trial == 301 else (3, 4_400_000)
        if not nf + nb:
            continue
        span = int(rng.choice([5, 1000, 10**12]))
        fk, bk = rng.integers(0, span, nf), rng.integers(0, span, nb)
        if trial % 3 == 0:
            fk[: nf // 2] = span // 2              # many equal times: repeated edges
        fd, bd = rng.integers(-50, 50, nf), rng.integers(-(10**9), 10**9, nb)
        t_all = np.concatenate([fk, bk])
        edges = np.quantile(t_all, np.linspace(0, 1, DRIFT_WINDOWS + 1))
        got = _cjoin.piece_bounds(edges, fk.astype(np.int64), fd.astype(np.int64), bk.astype(np.int64),
                                  bd.astype(np.int64))
        assert got == _piece_bounds_np(edges, fk, fd, bk, bd)


def test_quantile_linear_is_numpy_quantile():
    """clock.quantile_linear (order statistics from a histogram in C, numpy's interpolation steps) gives
    np.quantile's float64 values exactly: spread, repeated, sorted, clustered and extreme int64 values."""
    from sctpcorr.correlate.clock import quantile_linear

    rng = np.random.default_rng(11)
    q = np.linspace(0, 1, 9)
    for i in range(600):
        n = int(rng.integers(1, 300)) if i % 20 else int(rng.integers(1000, 100_000))
        kind = i % 4
        if kind == 0:
            x = rng.integers(-(10**18), 10**18, n)
        elif kind == 1:
            x = rng.integers(0, 5, n)
        elif kind == 2:
            x = np.sort(rng.integers(5 * 10**11, 6 * 10**12, n))
        else:
            x = np.concatenate([rng.integers(10**12, 10**12 + 1000, n // 2), rng.integers(0, 2**62, n - n // 2)])
        want, got = np.quantile(x, q), quantile_linear(x, q)
        assert got.dtype == want.dtype and np.array_equal(got, want), i
