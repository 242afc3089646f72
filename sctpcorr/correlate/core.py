"""``Correlator``: captures and kernel recordings in, window by window; one joined and checked view out.

Steps, per window (each its own module, each pure):

1. ``assoc.Registry.join``: which association is which, across captures and recordings (tags + ports); an
   association keeps its id, orientation and capture placement from window to window;
2. ``joins.build_direction``: per direction, every TSN, SACK and HEARTBEAT in each source;
3. ``clock``: per (recording, capture) pair, bounds of the offset between their clocks from matched events,
   accumulated over the windows (``clock.Accumulator``), and the recorded offset when the capture was taken on
   the recorded host;
4. ``rtt.attribute``: every kernel RTT sample, the chunk it timed, and its decomposition;
5. ``checks.measure_window`` (tallies) and ``jitter.measure`` (running estimators).

At the end ``finish()`` fits the clocks on everything, judges the tallies (``checks.judge_all``) and returns a
``Correlation``; ``as_dict()`` is the ``--json`` document.

Windows: the views a window gets hold its time range plus a margin of context on each side (a chunk sent at the
end of a window is acked in the next); every check counts an item only if its time falls in the window, so each
is counted once.  A run read in one piece is one window (``win=None``) and keeps its tables for the per-TSN
records and the plots.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sctpcorr.correlate import assoc as assoc_mod
from sctpcorr.correlate import checks, jitter
from sctpcorr.correlate.clock import Accumulator, ClockFit, Pairs, recorded_offset
from sctpcorr.correlate.joins import NONE, Direction, build_direction
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.model import DISAGREE, NOT_CHECKABLE, Check, Tolerances, worst
from sctpcorr.correlate.rtt import SampleStore, attribute
from sctpcorr.correlate.wire import WireView

__all__ = ["SCHEMA_VERSION", "Correlation", "Correlator", "Window", "correlate"]

SCHEMA_VERSION = 1
SIDE = ("A", "B")
INPUT_CHECKS = ("recording", "associations", "clock")   # about the inputs, not a comparison of kernel and wire
_RTX_NAMES = {0: None, 1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}


@dataclass
class Window:
    """What one step sees: views of the inputs over [t0 - margin, t1 + margin), the joins, the current clocks."""

    captures: list[WireView]
    kernels: list[KernelView]
    tolerances: Tolerances
    win: tuple[int, int] | None                          # kernel clock; None: everything
    assocs: list[assoc_mod.Assoc] = field(default_factory=list)
    directions: dict[tuple[int, int], Direction] = field(default_factory=dict)
    clocks: dict[tuple[int, int], ClockFit] = field(default_factory=dict)
    samples: SampleStore = field(default_factory=SampleStore)  # those whose update falls in the window
    cap_spans: dict[int, tuple[int, int | None]] = field(default_factory=dict)   # capture clock: first, last

    def in_win(self, ts: np.ndarray) -> np.ndarray:
        ts = np.asarray(ts)
        if self.win is None:
            return np.ones(len(ts), dtype=bool)
        return (ts >= self.win[0]) & (ts < self.win[1])

    def in_win_one(self, t: int) -> bool:
        return self.win is None or self.win[0] <= t < self.win[1]

    def _fit(self, rec: int | None, c: int) -> ClockFit | None:
        f = self.clocks.get((rec, c)) if rec is not None else None   # type: ignore[arg-type]
        if f is None or f.offset_ns is None:
            f = next((f for (r, cc), f in self.clocks.items() if cc == c and f.offset_ns is not None), None)
        return f

    def wire_in_win(self, rec: int | None, c: int, ts: np.ndarray) -> np.ndarray:
        """Capture times (of capture ``c``) that fall in the window, through the clock of ``rec``."""
        if self.win is None:
            return np.ones(len(ts), dtype=bool)
        f = self._fit(rec, c)
        if f is None:
            return np.zeros(len(ts), dtype=bool)
        return self.in_win(np.asarray(f.to_kernel(np.asarray(ts, dtype=np.int64))))

    def cap_span_kernel(self, rec: int | None, c: int) -> tuple[int, int | None] | None:
        span = self.cap_spans.get(c)
        f = self._fit(rec, c)
        if span is None or f is None:
            return None
        first, last = span
        return int(f.to_kernel(first)), (int(f.to_kernel(last)) if last is not None else None)


@dataclass
class Correlation:
    captures: list[WireView]
    kernels: list[KernelView]
    tolerances: Tolerances
    assocs: list[assoc_mod.Assoc] = field(default_factory=list)
    unjoined: dict[str, Any] = field(default_factory=dict)
    directions: dict[tuple[int, int], Direction] = field(default_factory=dict)   # one-piece runs only
    clocks: dict[tuple[int, int], ClockFit] = field(default_factory=dict)        # (recording, capture)
    samples: SampleStore = field(default_factory=SampleStore)
    checks: list[Check] = field(default_factory=list)
    jitter: list[dict[str, Any]] = field(default_factory=list)
    windows: int = 0
    tsn_spill: Any = None      # a windowed run's TSN records, as JSON lines in a file (see Correlator.tsn_sink)

    @property
    def verdict(self) -> str:
        """disagree if any check disagrees; not checkable if no check compared the kernel with the wire (the
        recording, association and clock checks only say whether there was anything to compare)."""
        vs = [c.verdict for c in self.checks]
        if DISAGREE in vs:
            return DISAGREE
        compared = [c.verdict for c in self.checks if c.name not in INPUT_CHECKS and c.verdict != NOT_CHECKABLE]
        if not compared:
            return NOT_CHECKABLE
        return worst([v for v in vs if v != NOT_CHECKABLE])

    def assoc(self, aid: int) -> assoc_mod.Assoc:
        return self.assocs[aid - 1]

    def tsn_records(self) -> Iterator[dict[str, Any]]:
        """One record per TSN and direction (one-piece runs; a windowed run streams them as it goes, and reads
        them back from ``tsn_spill`` when there is one)."""
        if self.tsn_spill is not None:
            import json

            self.tsn_spill.seek(0)
            for line in self.tsn_spill:
                yield json.loads(line)
            return
        for (_aid, _side), d in sorted(self.directions.items()):
            yield from tsn_records(self.captures, self.kernels, d, None, None)

    def as_dict(self, samples: bool = False) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "tolerances": self.tolerances.as_dict(),
            "inputs": {"captures": [c.summary() for c in self.captures],
                       "kernel": [k.summary() for k in self.kernels], "windows": self.windows},
            "clocks": [{"recording": r, "capture": c, **f.as_dict()} for (r, c), f in sorted(self.clocks.items())],
            "associations": [self._assoc_dict(a) for a in self.assocs],
            "unjoined": self.unjoined,
            "checks": [c.as_dict() for c in self.checks],
            "jitter": self.jitter,
            **({"rtt_samples": self.samples.rows()} if samples else {}),
        }

    def _assoc_dict(self, a: assoc_mod.Assoc) -> dict[str, Any]:
        out = a.describe()
        out["verdict"] = worst([c.verdict for c in self.checks if c.assoc == a.id] or [NOT_CHECKABLE])
        out["rtt"] = checks.rtt_summary(self.samples, a.id)
        return out


def tsn_records(captures: list[WireView], kernels: list[KernelView], d: Direction,
                in_win: Callable[[np.ndarray], np.ndarray] | None,
                wire_in_win: Callable[[int, np.ndarray], np.ndarray] | None) -> Iterator[dict[str, Any]]:
    """The TSN records of one direction: the kernel's transmissions (time, reason), each capture's appearances,
    the SACK that acked it on each capture and when the kernel processed it.  With a window, only the TSNs
    first sent (by the kernel, else as a capture saw them) inside it."""
    name = f"{SIDE[d.side]}>{SIDE[1 - d.side]}"
    recs: dict[int, dict[str, Any]] = {}
    owner: dict[int, bool] = {}
    k = d.k_tx

    def rec(t: int) -> dict[str, Any]:
        r = recs.get(t)
        if r is None:
            r = recs[t] = {"type": "tsn", "assoc": d.asc.id, "direction": name, "tsn": t & 0xFFFFFFFF,
                           "kernel": [], "wire": {}}
        return r

    if k is not None:
        inw = in_win(k.ts) if in_win is not None else np.ones(len(k), dtype=bool)
        first_ts: dict[int, int] = {}
        for i in range(len(k)):
            t = int(k.t[i])
            if t not in first_ts:
                first_ts[t] = i
                owner[t] = bool(inw[i])
            r = rec(t)
            r["kernel"].append({"ts_ns": int(k.ts[i]), "clock": "kernel_mono", "sent_count": int(k.sent_count[i]),
                                "reason": _RTX_NAMES.get(int(k.rtx[i])),
                                "path": kernels[d.k_rec].addr(int(k.path[i])) if d.k_rec is not None else None})
    for c, w in d.w_tx.items():
        rows, by_gap = d.w_first_ack(c)
        s = d.w_sack.get(c)
        ww = wire_in_win(c, w.ts) if wire_in_win is not None else np.ones(len(w), dtype=bool)
        kmatch: dict[int, int] = {}
        if c in d.k_sack_w and d.k_sack is not None:
            m = d.k_sack_w[c]
            for ki in np.flatnonzero(m != NONE).tolist():
                kmatch.setdefault(int(m[ki]), int(d.k_sack.ts[ki]))
        wa = captures[c].assocs.get(d.asc.wire[c])
        for i in range(len(w)):
            t = int(w.t[i])
            if t not in owner:
                owner[t] = bool(ww[i])
            r = rec(t)
            apps = r["wire"].setdefault(str(c), {"capture": captures[c].name, "seen": [], "acked": None})
            src, dst = wa.path_addrs(int(w.path[i])) if wa is not None else (None, None)
            apps["seen"].append({"ts_ns": int(w.ts[i]), "frame": int(w.frame[i]), "src": src, "dst": dst,
                                 "retransmission": bool(w.rtx[i]),
                                 "kind": ("fast", "timeout", "unknown")[int(w.kind[i])] if w.rtx[i] else None})
            if apps["acked"] is None and rows[i] != NONE and s is not None:
                rr = int(rows[i])
                apps["acked"] = {"ts_ns": int(s.ts[rr]), "frame": int(s.frame[rr]),
                                 "by": "gap" if by_gap[i] else "cum", "kernel_processed_ns": kmatch.get(rr)}
    for t in sorted(recs):
        if owner.get(t, True):
            yield recs[t]


def _clock_pairs(W: Window) -> dict[tuple[int, int], Pairs]:
    """Matched (kernel, capture) times of this window, by recording and capture."""
    pairs: dict[tuple[int, int], Pairs] = {}

    def get(r: int, c: int) -> Pairs:
        return pairs.setdefault((r, c), Pairs())

    def keep(kts: np.ndarray) -> np.ndarray:
        return W.in_win(kts)

    def joined(rec: int, c: int, forward: bool, kt: np.ndarray, wt: np.ndarray, kind: str) -> None:
        """Matched kernel and capture times (both already aligned row by row) of this window."""
        sel = keep(kt)
        get(rec, c).add(forward, kt[sel], wt[sel], kind)

    for d in W.directions.values():
        for c in d.asc.wire:
            if d.k_rec is not None and d.k_tx is not None and c in d.w_tx_k:
                m = d.w_tx_k[c]
                ok = m != NONE
                joined(d.k_rec, c, True, d.k_tx.ts[m[ok]], d.w_tx[c].ts[ok], "data")
            if d.k_rec is not None and d.k_sack is not None and c in d.k_sack_w:    # the sender took a SACK in
                m = d.k_sack_w[c]
                ok = m != NONE
                joined(d.k_rec, c, False, d.k_sack.ts[ok], d.w_sack[c].ts[m[ok]], "sack")
            if d.r_rec is not None and d.k_sack_out is not None and c in d.k_sack_out_w:   # the receiver sent it
                m = d.k_sack_out_w[c]
                ok = m != NONE
                joined(d.r_rec, c, True, d.k_sack_out.ts[ok], d.w_sack[c].ts[m[ok]], "sack")
            hb = d.hb
            if d.k_rec is not None and hb.get("n") and "k_sent" in hb and c in hb["w"]:
                w = hb["w"][c]
                ok = (hb["k_sent"] != NONE) & (w["hb"] != NONE)
                sel = ok & keep(hb["k_sent"])
                get(d.k_rec, c).add(True, hb["k_sent"][sel], w["hb"][sel], "heartbeat")
                ok = (hb["k_ack"] != NONE) & (w["ack"] != NONE)
                sel = ok & keep(hb["k_ack"])
                get(d.k_rec, c).add(False, hb["k_ack"][sel], w["ack"][sel], "heartbeat_ack")
    return pairs


class Correlator:
    """A correlation fed window by window (see the module doc)."""

    def __init__(self, tolerances: Tolerances | None = None, same_host: set[tuple[int, int]] | None = None,
                 use_recorded_clock: bool = True, keep_tables: bool = False,
                 tsn_sink: Callable[[dict[str, Any]], None] | None = None):
        self.tol = tolerances or Tolerances()
        self.same_host = same_host or set()
        self.use_recorded_clock = use_recorded_clock
        self.keep_tables = keep_tables
        self.tsn_sink = tsn_sink
        self.registry = assoc_mod.Registry()
        self.book = checks.Book()
        self.samples = SampleStore()
        self.jitter = jitter.State()
        self.acc: dict[tuple[int, int], Accumulator] = {}
        self.directions: dict[tuple[int, int], Direction] = {}
        self.bases: dict[tuple[int, int], int] = {}
        self.windows = 0

    def _recorded(self, kernels: list[KernelView], r: int, c: int) -> tuple[int, int] | None:
        if not self.use_recorded_clock or (r, c) not in self.same_host:
            return None
        return recorded_offset(kernels[r].real_minus_mono())

    def fits(self, kernels: list[KernelView]) -> dict[tuple[int, int], ClockFit]:
        return {k: a.fit(self._recorded(kernels, *k), self.tol.clock_ns) for k, a in self.acc.items()}

    def step(self, captures: list[WireView], kernels: list[KernelView], win: tuple[int, int] | None,
             cap_spans: dict[int, tuple[int, int | None]] | None = None) -> Window:
        """One window: the views hold [win[0] - margin, win[1] + margin) (or everything, win=None)."""
        W = Window(captures, kernels, self.tol, win, cap_spans=cap_spans or {})
        W.assocs = self.registry.join(captures, kernels)
        for a in W.assocs:
            for side in (0, 1):
                base = self.bases.get((a.id, side))
                d = build_direction(a, side, kernels, captures, base)
                if d is not None:
                    self.bases.setdefault((a.id, side), d.base)
                    W.directions[(a.id, side)] = d
        for key, p in _clock_pairs(W).items():
            self.acc.setdefault(key, Accumulator()).add(p)
        W.clocks = self.fits(kernels)
        for d in W.directions.values():
            cols = attribute(d, kernels, captures, W.clocks)
            if cols:
                W.samples.add_cols(cols, kernels[d.k_rec].addrs, W.in_win(cols["ts_ns"]))   # type: ignore[index]
        self.samples.extend(W.samples)
        checks.measure_window(W, self.book)
        jitter.measure(W, self.jitter)
        if self.tsn_sink is not None:
            for d in W.directions.values():
                for r in tsn_records(captures, kernels, d, W.in_win if win else None,
                                     (lambda c, ts, d=d: W.wire_in_win(d.k_rec, c, ts)) if win else None):
                    self.tsn_sink(r)
        if self.keep_tables:
            self.directions = dict(W.directions)
        self.windows += 1
        return W

    def finish(self, captures: list[WireView], kernels: list[KernelView]) -> Correlation:
        cx = Correlation(captures, kernels, self.tol, windows=self.windows)
        cx.assocs = self.registry.assocs
        cx.unjoined = self.registry.unjoined()
        cx.clocks = self.fits(kernels)
        cx.samples = self.samples
        cx.directions = self.directions

        class J:   # what the judges read
            pass
        J.kernels, J.captures, J.tolerances, J.clocks, J.assocs = kernels, captures, self.tol, cx.clocks, cx.assocs
        cx.checks = checks.judge_all(J, self.book)
        cx.jitter = self.jitter.results(jitter.interarrival(captures, cx.assocs))
        return cx


def correlate(captures: list[WireView], kernels: list[KernelView], tolerances: Tolerances | None = None,
              same_host: set[tuple[int, int]] | None = None, use_recorded_clock: bool = True) -> Correlation:
    """Join and check inputs held whole in memory (one window).  ``same_host``: (recording, capture) pairs taken
    on the same host, whose recorded CLOCK_REALTIME - CLOCK_MONOTONIC offset applies (a lab bundle: all of them;
    ``--capture F@H --kernel K@H``: equal labels)."""
    c = Correlator(tolerances, same_host, use_recorded_clock, keep_tables=True)
    c.step(captures, kernels, None, {i: (cap.first_ns, cap.last_ns) for i, cap in enumerate(captures)
                                     if cap.first_ns is not None})
    return c.finish(captures, kernels)
