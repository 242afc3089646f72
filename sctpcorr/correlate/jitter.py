"""Jitter that says what it measures.

Three figures, each labelled with its measure in every output:

* ``one_way_transit`` (captures next to both ends): per direction and path, RFC 3550 6.4.1's estimator
  ``J += (|D| - J) / 16`` over ``D = (R_j - R_i) - (S_j - S_i)``, where S and R are the same packet's times in
  the sender-side and receiver-side captures (DATA by TSN, SACKs by their fields).  A constant offset between
  the two capture clocks cancels in D, so no alignment is needed: this is the variation of the path's one-way
  delay, which is what RFC 3550 jitter means.
* ``rtt`` (one capture next to the sender): the same estimator over successive wire RTT samples of a path
  (DATA chunks sent once, to their first ack; HEARTBEAT to HEARTBEAT-ACK): how much the round trip varies.
* ``interarrival`` (the wire engine's per-stream figure): RFC 3550 over the spacing of message arrivals alone.
  It varies with how the application sends (under Poisson traffic it reads in seconds) and says little about
  the network; it is shown beside the others, labelled, because that is what most tools report as jitter.

Pure.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sctpcorr.correlate.joins import NONE, Direction, occurrence_match

if TYPE_CHECKING:
    from sctpcorr.correlate.core import Correlation

__all__ = ["rfc3550", "run_all", "LABELS"]

SIDE = ("A", "B")
LABELS = {
    "one_way_transit": "RFC 3550 jitter of one-way transit (both captures; clock offset cancels)",
    "rtt": "variation of successive RTT samples (RFC 3550 estimator), one capture",
    "interarrival": "RFC 3550 over message inter-arrival spacing (varies with the sender's pacing)",
}


def rfc3550(d: np.ndarray) -> float | None:
    """J after feeding |D| values in order (J += (|D| - J) / 16); None for fewer than 2."""
    if len(d) < 2:
        return None
    j = 0.0
    for x in np.abs(d).tolist():
        j += (x - j) / 16.0
    return j


def _transit(d: Direction, c_s: int, c_r: int) -> dict[int, np.ndarray]:
    """Per path index (sender-side capture's), the transit differences of the direction's DATA chunks in
    sending order."""
    ws, wr = d.w_tx.get(c_s), d.w_tx.get(c_r)
    out: dict[int, np.ndarray] = {}
    if ws is None or wr is None or not len(ws) or not len(wr):
        return out
    m = occurrence_match(ws.t, ws.ts, wr.t, wr.ts)
    ok = m != NONE
    s_ts, r_ts, path = ws.ts[ok], wr.ts[m[ok]], ws.path[ok]
    transit = r_ts - s_ts
    for p in np.unique(path).tolist():
        sel = path == p
        tr = transit[sel]
        out[int(p)] = np.diff(tr)
    return out


def run_all(cx: Correlation) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for (aid, side), d in sorted(cx.directions.items()):
        a = d.asc
        dn = f"{SIDE[side]}>{SIDE[1 - side]}"
        cs = a.near[side][0] if a.near[side] else None
        cr = a.near[1 - side][0] if a.near[1 - side] else None
        if cs is not None and cr is not None and cs != cr:
            for p, diffs in _transit(d, cs, cr).items():
                src, dst = cx.captures[cs].assocs[a.wire[cs]].path_addrs(p)
                j = rfc3550(diffs)
                if j is not None:
                    out.append({"assoc": aid, "direction": dn, "path": f"{src} -> {dst}", "measure": "one_way_transit",
                                "label": LABELS["one_way_transit"], "jitter_ns": int(j), "samples": len(diffs) + 1,
                                "captures": [cx.captures[cs].name, cx.captures[cr].name]})
        if cs is not None and cs in d.w_tx:
            w = d.w_tx[cs]
            once = np.flatnonzero(~w.rtx)
            # TSNs sent once only (Karn): a TSN that appears again is left out
            t, cnt = np.unique(w.t, return_counts=True)
            single = np.isin(w.t[once], t[cnt == 1])
            once = once[single]
            rows, _g = d.first_ack(cs, w.t[once])
            ok = rows != NONE
            if ok.any():
                rtt = d.w_sack[cs].ts[rows[ok]] - w.ts[once][ok]
                path = w.path[once][ok]
                for p in np.unique(path).tolist():
                    r = rtt[path == p]
                    j = rfc3550(np.diff(r))
                    if j is None:
                        continue
                    src, dst = cx.captures[cs].assocs[a.wire[cs]].path_addrs(int(p))
                    out.append({"assoc": aid, "direction": dn, "path": f"{src} -> {dst}", "measure": "rtt",
                                "label": LABELS["rtt"], "jitter_ns": int(j), "samples": len(r),
                                "rtt_p50_ns": int(np.median(r)), "rtt_p90_ns": int(np.percentile(r, 90)),
                                "captures": [cx.captures[cs].name]})
        for c, aidw in a.wire.items():
            rep = cx.captures[c].assocs[aidw].report
            wd = a.wire_dir(c, side)
            dd = (rep.get("directions") or {}).get(("A>B", "B>A")[wd]) or {}
            if dd.get("jitter_ns") is not None:
                out.append({"assoc": aid, "direction": dn, "path": None, "measure": "interarrival",
                            "label": LABELS["interarrival"], "jitter_ns": int(dd["jitter_ns"]),
                            "samples": dd.get("unique_tsns"), "captures": [cx.captures[c].name]})
                break
    return out
