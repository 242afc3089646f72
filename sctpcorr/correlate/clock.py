"""Clock alignment between a kernel recording (CLOCK_MONOTONIC) and a capture (the capture's own clock).

Theory of operation
-------------------
Let ``delta = capture_time - kernel_time`` for the same instant.  Matched events bound it from both sides,
whatever the capture's position on the path:

* the kernel made a packet, then the capture saw it (an egress event and the packet on the wire: DATA by TSN,
  SACK by its fields, HEARTBEAT by nonce and sent_at): ``wire = kernel + delta + d`` with ``d >= 0``, so
  ``delta <= wire - kernel``: every such pair is an **upper bound**;
* the capture saw a packet, then the kernel processed it (a SACK or HEARTBEAT-ACK on the wire and the kernel's
  ``sack``/``hb_ack`` event): ``delta >= wire - kernel``: a **lower bound**.

``hi`` is the smallest upper bound and ``lo`` the largest lower bound (robustly: the 0.1 % quantile, so that a
single mismatched pair cannot decide); the offset lies in ``[lo, hi]``.  Next to the recorded host both bounds
are tight (the stack's own microseconds); a capture on the other host leaves the network's one-way delays
between them and the middle assumes a symmetric path, like NTP.  The estimate is the middle of the interval
and the uncertainty its half width.  A constant delay inside the host before the capture point (a qdisc) widens
the interval by that delay and cannot be told from the offset without a shared clock: the output says so.

**Drift**: over a long recording the two clocks may run at different rates (NTP slewing one of them, another
host's oscillator).  The bounds are taken per time window, a line is fitted through the windows' middles,
and when it moves more than the interval's half width over the recording, the offset is modelled as
``delta(t) = delta0 + rate * (t - t0)`` (rate reported in ppm) and the bounds are recomputed around it.

**Recorded offsets**: when the capture was taken on the recorded host (a lab bundle; the same host label), the
recording's own CLOCK_REALTIME - CLOCK_MONOTONIC (startup and clock records, bracketed reads) is the offset,
good to microseconds.  It is used when it lies within the matched events' bounds (plus its own uncertainty and
``tolerance_ns``); otherwise the capture's clock was shifted (or the capture is from elsewhere) and the
estimate is used instead, and the ``clock`` check says by how much they differ.

Pure: arrays of matched times in, a ``ClockFit`` out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ClockFit", "Pairs", "Part", "Accumulator", "fit", "recorded_offset"]

QUANTILE = 0.001          # robust extremes: a mismatched pair in a thousand cannot move a bound
MIN_TRIM = 50             # ... nor one in a stretch of 50 or more pairs
MIN_WINDOW_PAIRS = 20     # a drift window needs this many pairs on each side
DRIFT_WINDOWS = 8


@dataclass
class Pairs:
    """Matched (kernel_ns, wire_ns) pairs, by causal order."""

    fwd_k: list[np.ndarray] = field(default_factory=list)    # kernel first, then the wire: upper bounds
    fwd_w: list[np.ndarray] = field(default_factory=list)
    bwd_k: list[np.ndarray] = field(default_factory=list)    # the wire first, then the kernel: lower bounds
    bwd_w: list[np.ndarray] = field(default_factory=list)
    kinds: dict[str, int] = field(default_factory=dict)      # what the pairs are (data, sack, heartbeat...)

    def add(self, forward: bool, kernel_ns: np.ndarray, wire_ns: np.ndarray, kind: str) -> None:
        kernel_ns, wire_ns = np.asarray(kernel_ns, dtype=np.int64), np.asarray(wire_ns, dtype=np.int64)
        if not len(kernel_ns):
            return
        (self.fwd_k if forward else self.bwd_k).append(kernel_ns)
        (self.fwd_w if forward else self.bwd_w).append(wire_ns)
        self.kinds[kind] = self.kinds.get(kind, 0) + len(kernel_ns)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)  # noqa: E731
        return cat(self.fwd_k), cat(self.fwd_w), cat(self.bwd_k), cat(self.bwd_w)


@dataclass
class ClockFit:
    """How a capture's clock maps onto a recording's: ``capture_ns = kernel_ns + offset_at(kernel_ns)``."""

    offset_ns: int | None           # at t0_ns
    method: str                     # "recorded", "estimated", "one-sided", "none"
    lo_ns: int | None = None        # matched-event bounds of the offset (at t0_ns, drift removed)
    hi_ns: int | None = None
    uncertainty_ns: int | None = None
    rate_ppm: float = 0.0           # drift: capture clock rate relative to the kernel's, in parts per million
    t0_ns: int = 0
    n_upper: int = 0
    n_lower: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    recorded_ns: int | None = None  # the recording's own offset, when the capture is from the recorded host
    recorded_uncertainty_ns: int | None = None
    recorded_error_ns: int | None = None   # how far the recorded offset lies outside [lo, hi] (0: inside)
    note: str = ""

    def offset_at(self, kernel_ns: np.ndarray | int) -> np.ndarray | int:
        if self.offset_ns is None:
            raise ValueError("no clock offset")
        if not self.rate_ppm:
            return self.offset_ns
        return self.offset_ns + (np.asarray(kernel_ns, dtype=np.float64) - self.t0_ns) * self.rate_ppm * 1e-6

    def to_kernel(self, wire_ns: np.ndarray | int) -> np.ndarray | int:
        """A capture time in the kernel's clock."""
        w = np.asarray(wire_ns, dtype=np.int64)
        if not self.rate_ppm:
            return w - self.offset_ns  # type: ignore[operator]
        k = w - self.offset_ns
        return (w - self.offset_at(k)).astype(np.int64)  # one fixed-point step is exact to << 1 ns for ppm rates

    def as_dict(self) -> dict[str, Any]:
        return {"offset_ns": self.offset_ns, "method": self.method, "bounds_ns": [self.lo_ns, self.hi_ns],
                "uncertainty_ns": self.uncertainty_ns, "drift_ppm": round(self.rate_ppm, 3),
                "at_kernel_ns": self.t0_ns, "upper_bounds": self.n_upper, "lower_bounds": self.n_lower,
                "matched": self.kinds, "recorded_offset_ns": self.recorded_ns,
                "recorded_uncertainty_ns": self.recorded_uncertainty_ns,
                "recorded_error_ns": self.recorded_error_ns, "note": self.note}


def quantile_linear(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(x, q)`` (method "linear") of int64 values: the order statistics it interpolates between come
    from ``_cjoin.order_stats`` (a histogram pass) instead of a partition per quantile, then numpy's own steps
    (numpy/lib/_function_base_impl.py: _quantile, _get_indexes, _get_gamma, _lerp), so the same float64 values;
    a test holds it to np.quantile."""
    from sctpcorr.correlate import _cjoin

    x = _i64(x)
    n = len(x)
    virtual = (n - 1) * np.asarray(q, dtype=np.float64)
    prev = np.floor(virtual)
    nxt = prev + 1
    above = virtual >= n - 1
    prev[above] = -1
    nxt[above] = -1
    below = virtual < 0
    prev[below] = 0
    nxt[below] = 0
    prev, nxt = prev.astype(np.intp), nxt.astype(np.intp)
    ks = np.unique(np.concatenate([prev, nxt]) % n).astype(np.int64)
    stats = dict(zip(ks.tolist(), _cjoin.order_stats(x, ks)))
    a = np.array([stats[k % n] for k in prev.tolist()], dtype=np.int64)
    b = np.array([stats[k % n] for k in nxt.tolist()], dtype=np.int64)
    gamma = np.asanyarray(virtual - prev)
    diff_b_a = b - a
    lerp = np.add(a, diff_b_a * gamma)
    np.subtract(b, diff_b_a * (1 - gamma), out=lerp, where=gamma >= 0.5, casting="unsafe", dtype=type(lerp.dtype))
    return lerp


def _i64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def _trim(n: int) -> int:
    """How many extreme values to set aside from ``n``: one in a thousand, and at least one from a stretch of
    MIN_TRIM or more (bounds are taken per stretch of time: a stretch of a few hundred pairs must not let one
    mismatched pair move the bound either)."""
    return max(int(n * QUANTILE), 1 if n >= MIN_TRIM else 0)


def _low(x: np.ndarray) -> int:
    k = _trim(len(x))
    return int(np.partition(x, k)[k]) if k else int(x.min())


def _high(x: np.ndarray) -> int:
    k = _trim(len(x))
    return int(np.partition(x, len(x) - 1 - k)[len(x) - 1 - k]) if k else int(x.max())


def fit(pairs: Pairs, recorded: tuple[int, int] | None = None, tolerance_ns: int = 500_000) -> ClockFit:
    """Fit the offset from matched pairs read in one piece (``Accumulator`` with one window); ``recorded`` =
    (offset, uncertainty) of the recorded host's CLOCK_REALTIME - CLOCK_MONOTONIC when the capture is from that
    host."""
    acc = Accumulator()
    acc.add(pairs)
    return acc.fit(recorded, tolerance_ns)


def recorded_offset(offsets: list[tuple[int, int, int]]) -> tuple[int, int] | None:
    """(offset, uncertainty) from a recording's [(at_mono, real_minus_mono, uncertainty)] reads: the median
    offset, its uncertainty the largest of its spread and the reads' own."""
    if not offsets:
        return None
    vals = np.array([o[1] for o in offsets], dtype=np.int64)
    med = int(np.median(vals))
    spread = int(vals.max() - vals.min())
    return med, max(spread, max(o[2] for o in offsets))


def _piece_bounds_np(edges: np.ndarray, fk: np.ndarray, fd: np.ndarray, bk: np.ndarray,
                     bd: np.ndarray) -> list[tuple[int, int, int | None, int | None]]:
    """Per stretch [edges[i], edges[i+1]) (the last one closed): (lower-bound pairs, upper-bound pairs, the
    largest lower bound, the smallest upper bound), trimmed (``_high``, ``_low``).  ``_cjoin.piece_bounds`` does
    the same in one pass; this is its reference, and the path for int64 edges (a handful of pairs)."""
    out = []
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        last = i == len(edges) - 2
        mf = (fk >= a) & ((fk <= b) if last else (fk < b))
        mb = (bk >= a) & ((bk <= b) if last else (bk < b))
        out.append((int(mb.sum()), int(mf.sum()), _high(bd[mb]) if mb.any() else None,
                    _low(fd[mf]) if mf.any() else None))
    return out


@dataclass
class Part:
    """The bounds of one stretch of time: ``lo`` the largest lower bound, ``hi`` the smallest upper bound."""

    t_ns: int
    lo: int | None
    hi: int | None
    n_lo: int
    n_hi: int
    w_ns: int = 0       # the stretch's length (a drift moves the offset inside it too)


class Accumulator:
    """Bounds gathered window after window (a long recording is read in windows): each window's pairs become a
    few ``Part``s (up to ``DRIFT_WINDOWS`` stretches of time), and ``fit()`` works on the parts, so memory does
    not grow with the number of pairs."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.kinds: dict[str, int] = {}

    def add(self, pairs: Pairs, pieces: int = DRIFT_WINDOWS) -> None:
        fk, fw, bk, bw = pairs.arrays()
        for k, v in pairs.kinds.items():
            self.kinds[k] = self.kinds.get(k, 0) + v
        t_all = np.concatenate([fk, bk])
        if not len(t_all):
            return
        edges = quantile_linear(t_all, np.linspace(0, 1, pieces + 1)) if len(t_all) >= pieces * MIN_WINDOW_PAIRS \
            else np.array([t_all.min(), t_all.max()])
        fd, bd = fw - fk, bw - bk
        if edges.dtype == np.float64:
            # one pass in C over the pairs (numpy: four comparisons and a partition per piece and side)
            from sctpcorr.correlate import _cjoin

            got = _cjoin.piece_bounds(edges, _i64(fk), _i64(fd), _i64(bk), _i64(bd))
        else:
            got = _piece_bounds_np(edges, fk, fd, bk, bd)
        for (a, b), (n_lo, n_hi, lo, hi) in zip(zip(edges[:-1], edges[1:]), got):
            if n_lo or n_hi:
                self.parts.append(Part(int((a + b) // 2), lo, hi, n_lo, n_hi, int(b - a)))

    def fit(self, recorded: tuple[int, int] | None = None, tolerance_ns: int = 500_000) -> ClockFit:
        """As ``fit()``, from the parts: the largest lower and smallest upper bound; a drift only when no
        constant offset fits every part."""
        ps = self.parts
        n_hi, n_lo = sum(p.n_hi for p in ps), sum(p.n_lo for p in ps)
        out = ClockFit(None, "none", n_upper=n_hi, n_lower=n_lo, kinds=dict(self.kinds))
        if recorded is not None:
            out.recorded_ns, out.recorded_uncertainty_ns = recorded
        his = [(p.t_ns, p.hi) for p in ps if p.hi is not None]
        los = [(p.t_ns, p.lo) for p in ps if p.lo is not None]
        if not his and not los:
            if recorded is not None:
                out.offset_ns, out.method, out.uncertainty_ns = recorded[0], "recorded", recorded[1]
                out.note = "no matched events: the recorded offset is used unchecked"
            return out
        ts = [t for t, _ in his + los]
        out.t0_ns = int(np.median(ts))
        hi = min(v for _, v in his) if his else None
        lo = max(v for _, v in los) if los else None
        if lo is not None and hi is not None and lo > hi:
            both = [p for p in ps if p.lo is not None and p.hi is not None]
            if len(both) >= 3:
                t = np.array([p.t_ns - out.t0_ns for p in both], dtype=np.float64)
                mid = np.array([(p.lo + p.hi) / 2 for p in both])   # type: ignore[operator]
                rate = float(np.polyfit(t, mid, 1)[0])
                # inside a stretch the offset moves by rate * its length: widen each bound by half of it
                wid = {p.t_ns: abs(rate) * p.w_ns / 2 for p in ps}
                hi2 = min(v - rate * (t_ - out.t0_ns) + wid[t_] for t_, v in his)
                lo2 = max(v - rate * (t_ - out.t0_ns) - wid[t_] for t_, v in los)
                if lo2 <= hi2:
                    lo, hi, out.rate_ppm = int(lo2), int(hi2), rate * 1e6
            if lo > hi:
                out.note = (f"the bounds cross by {(lo - hi) / 1e6:.3f} ms (clock steps, or events matched "
                            "wrongly); their middle is used")
        out.lo_ns, out.hi_ns = lo, hi
        if lo is not None and hi is not None:
            out.offset_ns, out.uncertainty_ns, out.method = (lo + hi) // 2, abs(hi - lo) // 2, "estimated"
        else:
            out.offset_ns = hi if hi is not None else lo
            out.method = "one-sided"
            out.note = "events matched one way only: the offset is a bound, not an estimate"
        if recorded is not None:
            r, ru = recorded
            slack = ru + tolerance_ns
            lo_ok = out.lo_ns is None or r >= out.lo_ns - slack
            hi_ok = out.hi_ns is None or r <= out.hi_ns + slack
            out.recorded_error_ns = 0 if lo_ok and hi_ok else (
                r - out.hi_ns if not hi_ok else r - out.lo_ns)  # type: ignore[operator]
            if lo_ok and hi_ok:
                out.offset_ns, out.uncertainty_ns, out.method, out.rate_ppm = r, ru, "recorded", 0.0
        return out
