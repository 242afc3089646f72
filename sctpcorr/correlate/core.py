"""``correlate()``: captures and kernel recordings in, one joined and checked view out.

Steps (each its own module, each pure):

1. ``assoc.join``: which association is which, across captures and recordings (tags + ports);
2. ``joins.build_direction``: per direction, every TSN, SACK and HEARTBEAT in each source;
3. ``clock.fit``: per (recording, capture) pair, the offset between their clocks, from matched events (and
   the recorded offset when the capture was taken on the recorded host);
4. ``rtt.attribute``: every kernel RTT sample, the chunk it timed, and its decomposition;
5. ``checks``: verdicts; ``jitter``: what varies and how.

The result (``Correlation``) keeps the joined tables so the writers can print per-TSN and per-sample records,
and ``as_dict()`` is the ``--json`` document.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sctpcorr.correlate import assoc as assoc_mod
from sctpcorr.correlate import checks, jitter
from sctpcorr.correlate.clock import ClockFit, Pairs, fit, recorded_offset
from sctpcorr.correlate.joins import NONE, Direction, build_direction
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.model import DISAGREE, NOT_CHECKABLE, Check, Tolerances, worst
from sctpcorr.correlate.rtt import Sample, attribute
from sctpcorr.correlate.wire import WireView

__all__ = ["SCHEMA_VERSION", "Correlation", "correlate"]

SCHEMA_VERSION = 1
SIDE = ("A", "B")
INPUT_CHECKS = ("recording", "associations", "clock")   # about the inputs, not a comparison of kernel and wire


@dataclass
class Correlation:
    captures: list[WireView]
    kernels: list[KernelView]
    tolerances: Tolerances
    assocs: list[assoc_mod.Assoc] = field(default_factory=list)
    unjoined: dict[str, Any] = field(default_factory=dict)
    directions: dict[tuple[int, int], Direction] = field(default_factory=dict)   # (assoc id, sender side)
    clocks: dict[tuple[int, int], ClockFit] = field(default_factory=dict)        # (recording, capture)
    samples: list[Sample] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    jitter: list[dict[str, Any]] = field(default_factory=list)

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

    # ---- per TSN --------------------------------------------------------------------------------------
    def tsn_records(self) -> Iterator[dict[str, Any]]:
        """One record per TSN and direction: the kernel's transmissions (time, reason), each capture's
        appearances, the SACK that acked it on each capture and when the kernel processed it."""
        for (aid, side), d in sorted(self.directions.items()):
            yield from _tsn_records(self, d)

    def as_dict(self, samples: bool = False) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "verdict": self.verdict,
            "tolerances": self.tolerances.as_dict(),
            "inputs": {"captures": [c.summary() for c in self.captures],
                       "kernel": [k.summary() for k in self.kernels]},
            "clocks": [{"recording": r, "capture": c, **f.as_dict()} for (r, c), f in sorted(self.clocks.items())],
            "associations": [self._assoc_dict(a) for a in self.assocs],
            "unjoined": self.unjoined,
            "checks": [c.as_dict() for c in self.checks],
            "jitter": self.jitter,
            **({"rtt_samples": [s.as_dict() for s in self.samples]} if samples else {}),
        }

    def _assoc_dict(self, a: assoc_mod.Assoc) -> dict[str, Any]:
        out = a.describe()
        out["verdict"] = worst([c.verdict for c in self.checks if c.assoc == a.id] or [NOT_CHECKABLE])
        out["rtt"] = checks.rtt_summary(self, a)
        return out


def _tsn_records(cx: Correlation, d: Direction) -> Iterator[dict[str, Any]]:
    name = f"{SIDE[d.side]}>{SIDE[1 - d.side]}"
    ts_all: dict[int, dict[str, Any]] = {}
    k = d.k_tx
    if k is not None:
        for i in range(len(k)):
            t = int(k.t[i])
            rec = ts_all.setdefault(t, {"type": "tsn", "assoc": d.asc.id, "direction": name, "tsn": t & 0xFFFFFFFF,
                                        "kernel": [], "wire": {}})
            rec["kernel"].append({"ts_ns": int(k.ts[i]), "sent_count": int(k.sent_count[i]),
                                  "reason": _RTX_NAMES.get(int(k.rtx[i])), "path": cx.kernels[d.k_rec].addr(
                                      int(k.path[i])) if d.k_rec is not None else None})
    for c, w in d.w_tx.items():
        rows, by_gap = d.first_ack(c, w.t)
        s = d.w_sack.get(c)
        kmatch = {}
        if c in d.k_sack_w and d.k_sack is not None:
            m = d.k_sack_w[c]
            for ki in np.flatnonzero(m != NONE).tolist():
                kmatch.setdefault(int(m[ki]), int(d.k_sack.ts[ki]))
        for i in range(len(w)):
            t = int(w.t[i])
            rec = ts_all.setdefault(t, {"type": "tsn", "assoc": d.asc.id, "direction": name, "tsn": t & 0xFFFFFFFF,
                                        "kernel": [], "wire": {}})
            apps = rec["wire"].setdefault(str(c), {"seen": [], "acked": None})
            src, dst = cx.captures[c].assocs[d.asc.wire[c]].path_addrs(int(w.path[i]))
            apps["seen"].append({"ts_ns": int(w.ts[i]), "frame": int(w.frame[i]), "src": src, "dst": dst,
                                 "retransmission": bool(w.rtx[i]),
                                 "kind": ("fast", "timeout", "unknown")[int(w.kind[i])] if w.rtx[i] else None})
            if apps["acked"] is None and rows[i] != NONE and s is not None:
                r = int(rows[i])
                apps["acked"] = {"ts_ns": int(s.ts[r]), "frame": int(s.frame[r]), "by": "gap" if by_gap[i] else "cum",
                                 "kernel_processed_ns": kmatch.get(r)}
    for t in sorted(ts_all):
        yield ts_all[t]


_RTX_NAMES = {0: None, 1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}


def _clock_pairs(cx: Correlation) -> dict[tuple[int, int], Pairs]:
    pairs: dict[tuple[int, int], Pairs] = {}

    def get(r: int, c: int) -> Pairs:
        return pairs.setdefault((r, c), Pairs())

    for d in cx.directions.values():
        for c in d.asc.wire:
            if d.k_rec is not None and d.k_tx is not None and c in d.w_tx_k:
                m = d.w_tx_k[c]
                ok = m != NONE
                get(d.k_rec, c).add(True, d.k_tx.ts[m[ok]], d.w_tx[c].ts[ok], "data")
            if d.k_rec is not None and d.k_sack is not None and c in d.k_sack_w:
                m = d.k_sack_w[c]
                ok = m != NONE
                get(d.k_rec, c).add(False, d.k_sack.ts[ok], d.w_sack[c].ts[m[ok]], "sack")
            if d.r_rec is not None and d.k_sack_out is not None and c in d.k_sack_out_w:
                m = d.k_sack_out_w[c]
                ok = m != NONE
                get(d.r_rec, c).add(True, d.k_sack_out.ts[ok], d.w_sack[c].ts[m[ok]], "sack")
            hb = d.hb
            if d.k_rec is not None and hb.get("n") and "k_sent" in hb and c in hb["w"]:
                w = hb["w"][c]
                ok = (hb["k_sent"] != NONE) & (w["hb"] != NONE)
                get(d.k_rec, c).add(True, hb["k_sent"][ok], w["hb"][ok], "heartbeat")
                ok = (hb["k_ack"] != NONE) & (w["ack"] != NONE)
                get(d.k_rec, c).add(False, hb["k_ack"][ok], w["ack"][ok], "heartbeat_ack")
    return pairs


def correlate(captures: list[WireView], kernels: list[KernelView], tolerances: Tolerances | None = None,
              same_host: set[tuple[int, int]] | None = None, use_recorded_clock: bool = True) -> Correlation:
    """Join and check.  ``same_host``: (recording, capture) pairs taken on the same host, whose recorded
    CLOCK_REALTIME - CLOCK_MONOTONIC offset applies (a lab bundle: all of them; ``--capture F@H --kernel K@H``:
    equal labels)."""
    tol = tolerances or Tolerances()
    cx = Correlation(captures, kernels, tol)
    cx.assocs, cx.unjoined = assoc_mod.join(captures, kernels)
    for a in cx.assocs:
        for side in (0, 1):
            d = build_direction(a, side, kernels, captures)
            if d is not None:
                cx.directions[(a.id, side)] = d
    same = same_host or set()
    for key, p in _clock_pairs(cx).items():
        r, c = key
        rec = recorded_offset(kernels[r].real_minus_mono()) if use_recorded_clock and key in same else None
        cx.clocks[key] = fit(p, rec, tol.clock_ns)
    for d in cx.directions.values():
        cx.samples.extend(attribute(d, kernels, captures, cx.clocks))
    cx.checks = checks.run_all(cx)
    cx.jitter = jitter.run_all(cx)
    return cx
