"""Jitter that says what it measures.

Three figures, each labelled with its measure in every output:

* ``one_way_transit`` (captures next to both ends): per direction and path, RFC 3550 6.4.1's estimator
  ``J += (|D| - J) / 16`` over ``D = (R_j - R_i) - (S_j - S_i)``, where S and R are the same packet's times in
  the sender-side and receiver-side captures (DATA by TSN).  A constant offset between the two capture clocks
  cancels in D, so no alignment is needed: this is the variation of the path's one-way delay, which is what RFC
  3550 jitter means.
* ``rtt`` (one capture next to the sender): the same estimator over successive wire RTT samples of a path
  (DATA chunks sent once, to their first ack): how much the round trip varies.
* ``interarrival`` (the wire engine's per-direction figure): RFC 3550 over the spacing of message arrivals alone.
  It varies with how the application sends (under Poisson traffic it reads in seconds) and says little about
  the network; it is shown beside the others, labelled, because that is what most tools report as jitter.

The estimator runs over a long recording window after window (``State`` carries it from one to the next).  Pure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sctpcorr.correlate.joins import NONE, occurrence_match
from sctpcorr.correlate.tables import key_counts, small_unique

if TYPE_CHECKING:
    from sctpcorr.correlate.core import Window

__all__ = ["rfc3550", "State", "measure", "LABELS"]

SIDE = ("A", "B")
LABELS = {
    "one_way_transit": "RFC 3550 jitter of one-way transit (both captures; clock offset cancels)",
    "rtt": "variation of successive RTT samples (RFC 3550 estimator), one capture",
    "interarrival": "RFC 3550 over message inter-arrival spacing (varies with the sender's pacing)",
}


_W = (15.0 / 16.0) ** np.arange(1023, -1, -1)     # the weight of each value of a block of 1024 in J's end value


def rfc3550(d: np.ndarray, j: float = 0.0) -> float:
    """J after feeding |D| values in order, starting from ``j`` (J += (|D| - J) / 16, RFC 3550 A.8).  The
    recurrence is linear, J_n = (15/16)^n J_0 + sum (15/16)^(n-k) |D_k| / 16: computed a block of 1024 values at
    a time (15/16 to the 1024th is 2e-29, well inside a double), the same value as the loop to rounding."""
    x = np.abs(np.asarray(d, dtype=np.float64))
    for i in range(0, len(x), 1024):
        b = x[i:i + 1024]
        w = _W[1024 - len(b):]
        j = j * (15.0 / 16.0) ** len(b) + float(w @ b) / 16.0
    return j


@dataclass
class Series:
    j: float = 0.0
    n: int = 0
    last: float | None = None
    captures: list[str] = field(default_factory=list)
    values: Any = None          # checks.Sketch of the values (RTT: p50, p90)

    def feed(self, v: np.ndarray) -> None:
        if not len(v):
            return
        v = np.asarray(v, dtype=np.float64)
        seq = v if self.last is None else np.concatenate([[self.last], v])
        self.j = rfc3550(np.diff(seq), self.j)
        self.n += len(v)
        self.last = float(v[-1])


class State:
    """The running estimators of a run, per (association, direction, path, measure)."""

    def __init__(self) -> None:
        self.series: dict[tuple[int, str, str | None, str], Series] = {}

    def get(self, key: tuple[int, str, str | None, str]) -> Series:
        s = self.series.get(key)
        if s is None:
            s = self.series[key] = Series()
        return s

    def results(self, interarrival: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for (aid, dn, path, measure), s in sorted(self.series.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                         kv[0][2] or "", kv[0][3])):
            if s.n < 2:
                continue
            r = {"assoc": aid, "direction": dn, "path": path, "measure": measure, "label": LABELS[measure],
                 "jitter_ns": int(s.j), "samples": s.n, "captures": s.captures}
            if s.values is not None and s.values.n:
                r["rtt_p50_ns"], r["rtt_p90_ns"] = int(s.values.quantile(0.5)), int(s.values.quantile(0.9))
            out.append(r)
        return sorted(out + interarrival, key=lambda r: (r["assoc"], r["direction"], r["path"] is None,
                                                         r["path"] or ""))


def measure(W: Window, state: State) -> None:
    from sctpcorr.correlate.checks import Sketch

    for (aid, side), d in sorted(W.directions.items()):
        a = d.asc
        dn = f"{SIDE[side]}>{SIDE[1 - side]}"
        cs = a.near[side][0] if a.near[side] else None
        cr = a.near[1 - side][0] if a.near[1 - side] else None
        if cs is None or cs not in d.w_tx:
            continue
        ws = d.w_tx[cs]
        inw = W.wire_in_win(d.k_rec, cs, ws.ts)
        wa = W.captures[cs].assocs.get(a.wire[cs])
        if cr is not None and cr != cs and cr in d.w_tx and len(ws) and len(d.w_tx[cr]):
            wr = d.w_tx[cr]
            m = occurrence_match(ws.t, ws.ts, wr.t, wr.ts)
            ok = (m != NONE) & inw
            transit = wr.ts[m[ok]] - ws.ts[ok]
            path = ws.path[ok]
            order = np.argsort(ws.ts[ok], kind="stable")
            transit, path = transit[order], path[order]
            for p in small_unique(path).tolist():
                src, dst = wa.path_addrs(int(p)) if wa is not None else (None, None)
                s = state.get((aid, dn, f"{src} -> {dst}", "one_way_transit"))
                s.captures = [W.captures[cs].name, W.captures[cr].name]
                s.feed(transit[path == p])
        once = np.flatnonzero(inw & ~ws.rtx)
        once = once[key_counts(ws.t)[once] == 1]             # sent once only (Karn)
        rows, _g = d.w_first_ack(cs, once)
        ok = rows != NONE
        if ok.any():
            order = np.argsort(ws.ts[once][ok], kind="stable")
            rtt = (d.w_sack[cs].ts[rows[ok]] - ws.ts[once][ok])[order]
            path = ws.path[once][ok][order]
            for p in small_unique(path).tolist():
                src, dst = wa.path_addrs(int(p)) if wa is not None else (None, None)
                s = state.get((aid, dn, f"{src} -> {dst}", "rtt"))
                s.captures = [W.captures[cs].name]
                if s.values is None:
                    s.values = Sketch()
                r = rtt[path == p]
                s.values.add(r)
                s.feed(r)


def interarrival(captures: list[Any], assocs: list[Any]) -> list[dict[str, Any]]:
    """The wire engine's per-direction inter-arrival jitter (from each capture's final report)."""
    out = []
    for a in assocs:
        for side in (0, 1):
            dn = f"{SIDE[side]}>{SIDE[1 - side]}"
            for c, aidw in a.wire.items():
                wa = captures[c].assocs.get(aidw)
                if wa is None:
                    continue
                dd = (wa.report.get("directions") or {}).get(("A>B", "B>A")[a.wire_dir(c, side)]) or {}
                if dd.get("jitter_ns") is not None:
                    out.append({"assoc": a.id, "direction": dn, "path": None, "measure": "interarrival",
                                "label": LABELS["interarrival"], "jitter_ns": int(dd["jitter_ns"]),
                                "samples": dd.get("unique_tsns"), "captures": [captures[c].name]})
                    break
    return out
