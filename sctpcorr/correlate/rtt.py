"""Every kernel RTT sample: which chunk it timed, and where its time went.

Theory of operation
-------------------
Linux 6.1 times one DATA chunk per transport at a time (``rtt_in_progress``, never a retransmitted chunk) and
takes the sample when a SACK first acks it: ``rtt = jiffies - chunk->sent_at``, where ``sent_at`` is the
jiffies stamp put on the chunk when it was packed (docs/probe.md; shared/reference 5.2).  The probe records the
sample (``rto_update``: transport, rtt in jiffies, jiffies at the update) and every chunk it sent (``egress``:
TSN, sent_count, sent_at), so the timed chunk is the one that

* left on the sample's transport as a first transmission (sent_count 1),
* carries ``sent_at`` = jiffies at the update - rtt (or one less: a tick may fall between the kernel's
  computation and the probe's read),
* was acked by the SACK the kernel processed just before (its cumulative ack, or a gap block of that SACK on
  the wire),

and, of those, the first one packed (lowest TSN): within one jiffy the kernel times the first chunk it packs
while nothing is timed.  A HEARTBEAT sample is the HEARTBEAT-ACK the kernel processed just before (same nonce and
sent_at on the wire).

**Decomposition.**  With the chunk known, its life is read off every source, all in the kernel's clock (capture
times moved by the fitted clock offset):

    k_send   the kernel put it in a packet (egress event; for a HEARTBEAT, when the kernel built it)
    w_out    it passed the capture next to the sender
    [a_far   it passed the capture next to the receiver; d_far the answering SACK / HEARTBEAT-ACK left it]
    w_in     the answer passed the capture next to the sender
    u        the kernel took the sample (processing the answer)

    rtt_jiffies * (1e9 / HZ) = host_tx + wire_rtt + host_rx + quantisation
        host_tx      = w_out - k_send      time in the sending host before the capture point (queueing, qdisc)
        wire_rtt     = w_in - w_out        the round trip the capture shows
                     = net_out + peer + net_back  when the receiver's side was captured too:
                       peer = d_far - a_far  time in the receiving host (turnaround, delayed SACK)
        host_rx      = u - w_in            from the answer on the wire to the kernel's sample
        quantisation = what is left: the kernel counts whole jiffies (4 ms at HZ=250)

The parts add up exactly by construction; a sample whose quantisation is beyond a jiffy (plus tolerance) means
the kernel's jiffies and its monotonic clock disagreed during it, or the chunk was misidentified, and the check
says so.  Pure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Iterator
from typing import Any

import numpy as np

from sctpcorr.correlate.clock import ClockFit
from sctpcorr.correlate.joins import NONE, Direction
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.tables import distinct
from sctpcorr.correlate.wire import WireView

__all__ = ["Sample", "SampleStore", "SAMPLE_COLS", "PARTS", "attribute", "recompute_rto", "JIFFY_SLACK"]

JIFFY_SLACK = 5   # ticks the probe's read of jiffies may trail the kernel's computation (late timer interrupts)
HB_LOOKBACK_NS = 50_000_000   # a HEARTBEAT-ACK sample follows its hb_ack event within the same softirq
_NA = np.iinfo(np.int64).min     # a missing value in a sample column
_MATCH = ("none", "sent_at", "nonce", "egress_missing", "nonce (recorded as data)")
FRAME_COLS = ("f_data_near", "f_sack_near", "f_sack_far", "f_data_far", "f_hb_near", "f_hb_ack_near")
SAMPLE_COLS = ("assoc", "side", "hb", "ts_ns", "path", "rtt_jiffies", "rtt_ns", "srtt_ns", "rttvar_ns", "rto_ns",
               "tsn", "hb_nonce", "hb_sent_at", "match", "gap_acked", "near", "far", "k_send_ns", "w_out_ns",
               "w_in_ns", "a_far_ns", "d_far_ns", "k_ack_ns", "k_send_jif", "sent_at_jif", "u_jif", *FRAME_COLS)
PARTS = ("host_tx_ns", "wire_rtt_ns", "net_out_ns", "peer_ns", "net_back_ns", "host_rx_ns", "kernel_interval_ns",
         "quantisation_ns", "tick_drift_ns", "stamp_jiffies")



@dataclass
class Sample:
    """One kernel RTT sample, attributed and decomposed (times: kernel CLOCK_MONOTONIC ns)."""

    assoc: int
    side: int                   # the sender: 0 = A, 1 = B
    kind: str                   # "data" or "heartbeat"
    ts_ns: int                  # the kernel's update
    path: str | None            # the peer address of the transport
    rtt_jiffies: int
    rtt_ns: int
    srtt_ns: int
    rttvar_ns: int
    rto_ns: int
    tsn: int | None = None      # the timed TSN (32-bit, as on the wire)
    hb_nonce: int | None = None
    hb_sent_at: int | None = None
    match: str = "none"         # "sent_at": found; "none": no chunk fits; "ambiguous" etc.
    k_send_ns: int | None = None
    near: int | None = None     # capture next to the sender
    far: int | None = None      # capture next to the receiver
    w_out_ns: int | None = None  # kernel clock
    w_in_ns: int | None = None
    a_far_ns: int | None = None
    d_far_ns: int | None = None
    k_ack_ns: int | None = None
    frames: dict[str, int] | None = None
    gap_acked: bool = False
    k_send_jif: int | None = None   # the kernel's jiffies when it sent the chunk (egress event) / made the HB
    sent_at_jif: int | None = None  # the chunk's sent_at stamp (jiffies when it was packed) / the HB's
    u_jif: int | None = None        # the kernel's jiffies at the update (as the probe read them)

    parts: dict[str, int | None] = field(default_factory=dict, repr=False)   # SampleStore.parts, per sample

    def __getattr__(self, name: str) -> int | None:
        """The decomposition (``PARTS``: host_tx_ns, wire_rtt_ns ...; None when a time is missing), as
        ``SampleStore.parts`` computed it: one implementation of the arithmetic."""
        if name in PARTS:
            return self.__dict__.get("parts", {}).get(name)
        raise AttributeError(name)


def _to_kernel(fit: ClockFit | None, ts: np.ndarray) -> np.ndarray:
    """Capture times (NONE where missing) in the kernel's clock (_NA where missing or no clock)."""
    ts = np.asarray(ts, dtype=np.int64)
    out = np.full(len(ts), _NA, dtype=np.int64)
    if fit is None or fit.offset_ns is None or not len(ts):
        return out
    ok = ts != NONE
    if ok.any():
        out[ok] = np.asarray(fit.to_kernel(ts[ok]), dtype=np.int64)
    return out


def _first_per_key(keys: np.ndarray, n: int) -> np.ndarray:
    """For keys in [0, n): the first row holding each key (-1: none)."""
    out = np.full(n, NONE, dtype=np.int64)
    ok = np.flatnonzero(keys != NONE)
    out[keys[ok][::-1]] = ok[::-1]
    return out


def _gap_index(d: Direction, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Capture c's gap blocks sorted by (SACK row, start), as one int64 key each: (keys, starts, ends, tmin)."""
    g = d.w_gap.get(c)
    if g is None or not len(g):
        z = np.zeros(0, dtype=np.int64)
        return z, z, z, 0
    tmin = int(g.start.min())
    order = np.lexsort((g.start, g.sack))
    keys = g.sack[order].astype(np.int64) * (1 << 35) + (g.start[order] - tmin)
    return keys, g.start[order], g.end[order], tmin


def _gap_covers(idx: tuple[np.ndarray, np.ndarray, np.ndarray, int], sack_row: np.ndarray,
                t: np.ndarray) -> np.ndarray:
    """Does a gap block of capture SACK ``sack_row`` (-1: none) cover TSN ``t``?  Elementwise."""
    keys, starts, ends, tmin = idx
    out = np.zeros(len(t), dtype=bool)
    ok = (sack_row != NONE) & (t >= tmin)
    if not len(keys) or not ok.any():
        return out
    q = sack_row[ok].astype(np.int64) * (1 << 35) + (t[ok] - tmin)
    pos = np.searchsorted(keys, q, side="right") - 1
    hit = pos >= 0
    pc = np.maximum(pos, 0)
    hit &= (keys[pc] >> 35) == sack_row[ok]
    hit &= (starts[pc] <= t[ok]) & (t[ok] <= ends[pc])
    out[ok] = hit
    return out


def attribute(d: Direction, kernels: list[KernelView], captures: list[WireView],
              clocks: dict[tuple[int, int], ClockFit]) -> dict[str, np.ndarray]:
    """Every RTT sample of the sender's kernel end in direction ``d``, attributed and decomposed: columns
    (``SAMPLE_COLS``; ``path`` is the recording's address id, ``_NA`` where a value is missing).  Whole columns
    at a time: a bulk recording has one sample per round trip per path."""
    if d.k_rec is None or d.k_end is None:
        return {}
    kv = kernels[d.k_rec]
    jns = kv.jiffy_ns or 0
    rto = kv.rto[kv.rto.end == d.k_end]
    n = len(rto)
    if not n:
        return {}
    near = d.asc.near[d.side][0] if d.asc.near[d.side] else None
    far = d.asc.near[1 - d.side][0] if d.asc.near[1 - d.side] else None
    fit_n = clocks.get((d.k_rec, near)) if near is not None else None
    fit_f = clocks.get((d.k_rec, far)) if far is not None else None
    na = lambda: np.full(n, _NA, dtype=np.int64)   # noqa: E731
    cols: dict[str, np.ndarray] = {
        "assoc": np.full(n, d.asc.id, dtype=np.int64), "side": np.full(n, d.side, dtype=np.int64),
        "hb": rto.hb.astype(np.int64), "ts_ns": rto.ts.astype(np.int64), "path": rto.path.astype(np.int64),
        "rtt_jiffies": rto.rtt_j, "rtt_ns": rto.rtt_j * jns, "srtt_ns": rto.srtt * jns,
        "rttvar_ns": rto.rttvar * jns, "rto_ns": rto.rto * jns, "tsn": na(), "hb_nonce": np.zeros(n, np.uint64),
        "hb_sent_at": na(), "match": np.zeros(n, dtype=np.int64), "gap_acked": np.zeros(n, dtype=np.int64),
        "near": np.full(n, _NA if near is None else near, dtype=np.int64),
        "far": np.full(n, _NA if far is None else far, dtype=np.int64),
        **{k: na() for k in ("k_send_ns", "w_out_ns", "w_in_ns", "a_far_ns", "d_far_ns", "k_ack_ns", "k_send_jif",
                             "sent_at_jif", "u_jif", *FRAME_COLS)}}
    data = np.flatnonzero(~rto.hb)
    chosen = np.full(n, NONE, dtype=np.int64)
    ks = d.k_sack
    ki_sack = np.full(n, NONE, dtype=np.int64)
    if ks is not None and len(ks):
        ki_sack = np.searchsorted(ks.ts, rto.ts, side="right") - 1
    # the gap blocks each kernel SACK carried: read from the first capture that shows that SACK
    gidx = {c: _gap_index(d, c) for c in d.k_sack_w}

    def k_gap_acked(ki: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.zeros(len(t), dtype=bool)
        todo = ki != NONE
        for c, m in d.k_sack_w.items():
            if not todo.any():
                break
            wi = np.full(len(t), NONE, dtype=np.int64)
            wi[todo] = m[ki[todo]]
            has = wi != NONE
            out |= _gap_covers(gidx[c], wi, t) & has
            todo &= ~has
        return out

    if len(data) and d.k_tx is not None and len(d.k_tx):
        k = d.k_tx
        first = np.flatnonzero(k.sent_count == 1)
        sa0 = int(k.sent_at[first].min()) - JIFFY_SLACK - 1 if len(first) else 0
        t0 = int(k.t.min())
        order = first[np.lexsort((k.t[first], k.sent_at[first], k.path[first]))]
        ckey = k.path[order].astype(np.int64) * (1 << 40) + (k.sent_at[order] - sa0)
        target = rto.jif[data] - rto.rtt_j[data]
        pth = rto.path[data].astype(np.int64) * (1 << 40)
        lo = np.searchsorted(ckey, pth + (target - JIFFY_SLACK - sa0), side="left")
        hi = np.searchsorted(ckey, pth + (target - sa0), side="right")
        cnt = np.maximum(hi - lo, 0)
        tot = int(cnt.sum())
        if tot:
            smp = np.repeat(np.arange(len(data)), cnt)                       # pair -> sample (within data)
            pos = np.repeat(lo - np.cumsum(cnt) + cnt, cnt) + np.arange(tot)
            ci = order[pos]                                                   # pair -> k_tx row
            t = k.t[ci]
            kis = ki_sack[data][smp]
            ok = np.ones(tot, dtype=bool)
            has = kis != NONE
            if has.any():
                ctsn = np.where(has, ks.ctsn[np.maximum(kis, 0)], 0)          # type: ignore[union-attr]
                cum = np.where(has, ks.cum[np.maximum(kis, 0)], 0)            # type: ignore[union-attr]
                ok = ~has | ((t > ctsn) & (t <= cum))
                need = has & (t > ctsn) & (t > cum)
                if need.any():
                    ok[need] = k_gap_acked(kis[need], t[need])
            # within a sample: the stamp nearest its target first, then the lowest TSN
            rank = (target[smp] - k.sent_at[ci]) * (1 << 36) + (t - t0)
            sel = np.flatnonzero(ok)
            o = sel[np.lexsort((rank[sel], smp[sel]))]
            _u, first_of = np.unique(smp[o], return_index=True)
            pick = np.full(len(data), NONE, dtype=np.int64)
            pick[smp[o][first_of]] = ci[o][first_of]
            picked = pick[pick != NONE]
            if distinct(picked) != len(picked):
                # a chunk two samples could have timed: the earlier sample takes it (the kernel times a chunk
                # once), the later one the next that fits
                pick[:] = NONE
                used: set[int] = set()
                so, co = smp[o].tolist(), ci[o].tolist()
                for s_, c_ in zip(so, co):
                    if pick[s_] == NONE and c_ not in used:
                        pick[s_] = c_
                        used.add(c_)
            chosen[data] = pick
    got = np.flatnonzero(chosen != NONE)
    if len(got):
        k = d.k_tx
        ch = chosen[got]
        t = k.t[ch]                                        # type: ignore[union-attr]
        cols["match"][got] = _MATCH.index("sent_at")
        cols["tsn"][got] = t & 0xFFFFFFFF
        cols["k_send_ns"][got] = k.ts[ch]                  # type: ignore[union-attr]
        cols["k_send_jif"][got] = k.jif[ch]                # type: ignore[union-attr]
        cols["sent_at_jif"][got] = k.sent_at[ch]           # type: ignore[union-attr]
        cols["u_jif"][got] = rto.jif[got]
        kig = ki_sack[got]
        cols["k_ack_ns"][got] = np.where(kig != NONE, ks.ts[np.maximum(kig, 0)] if ks is not None and len(ks)
                                         else _NA, _NA)
        if near is not None and near in d.w_tx_k:
            wi = _first_per_key(d.w_tx_k[near], len(k))[ch]    # type: ignore[arg-type]
            w = d.w_tx[near]
            on = wi != NONE
            cols["w_out_ns"][got] = _to_kernel(fit_n, np.where(on, w.ts[np.maximum(wi, 0)], NONE))
            cols["f_data_near"][got] = np.where(on, w.frame[np.maximum(wi, 0)], _NA)
            row, by_gap = d.first_ack(near, t)
            row = np.where(on, row, NONE)
            acked = row != NONE
            sk = d.w_sack[near]
            rc = np.maximum(row, 0)
            if len(sk):
                cols["w_in_ns"][got] = _to_kernel(fit_n, np.where(acked, sk.ts[rc], NONE))
                cols["f_sack_near"][got] = np.where(acked, sk.frame[rc], _NA)
            cols["gap_acked"][got] = (by_gap & acked).astype(np.int64)
            if far is not None and (near, far) in d.w_sack_x and len(sk):
                fr = np.where(acked, d.w_sack_x[(near, far)][rc], NONE)
                sf = d.w_sack[far]
                okf = fr != NONE
                cols["d_far_ns"][got] = _to_kernel(fit_f, np.where(okf, sf.ts[np.maximum(fr, 0)], NONE))
                cols["f_sack_far"][got] = np.where(okf, sf.frame[np.maximum(fr, 0)], _NA)
        if far is not None and far in d.w_tx_k:
            wi = _first_per_key(d.w_tx_k[far], len(k))[ch]     # type: ignore[arg-type]
            w = d.w_tx[far]
            on = wi != NONE
            cols["a_far_ns"][got] = _to_kernel(fit_f, np.where(on, w.ts[np.maximum(wi, 0)], NONE))
            cols["f_data_far"][got] = np.where(on, w.frame[np.maximum(wi, 0)], _NA)
    # DATA samples no recorded chunk fits: a chunk whose egress event the kernel skipped, or a HEARTBEAT-ACK
    # sample the probe took for a DATA one
    lost = data[chosen[data] == NONE]        # (both sorted: np.intersect1d of the two, without its sort)
    if len(lost):
        for i, tw in zip(lost.tolist(), _unrecorded_chunks(d, near, kv, rto, captures, ki_sack, lost, k_gap_acked)):
            if tw is not None:
                cols["match"][i] = _MATCH.index("egress_missing")
                cols["tsn"][i] = tw & 0xFFFFFFFF
        rest = lost[cols["match"][lost] == 0]
        hit = _hb_attribute(d, kv, rto, rest, cols, near, far, fit_n, fit_f)
        cols["hb"][hit] = 1
        cols["match"][hit] = _MATCH.index("nonce (recorded as data)")
    hbs = np.flatnonzero(rto.hb)
    if len(hbs):
        _hb_attribute(d, kv, rto, hbs, cols, near, far, fit_n, fit_f)
    return cols


def _hb_attribute(d: Direction, kv: KernelView, rto: Any, idx: np.ndarray, cols: dict[str, np.ndarray],
                  near: int | None, far: int | None, fit_n: ClockFit | None, fit_f: ClockFit | None) -> np.ndarray:
    """HEARTBEAT samples ``idx``: the HEARTBEAT-ACK the kernel processed just before (sent_at = jiffies at the
    update - rtt, or a few ticks earlier: the probe read jiffies after the kernel computed the sample).  Fills
    ``cols``; returns the rows attributed."""
    hb = d.hb if d.hb.get("n") else None
    if hb is None or not len(idx):
        return np.zeros(0, dtype=np.int64)
    acks = kv.hb_ack[kv.hb_ack.end == d.k_end]
    if not len(acks):
        return np.zeros(0, dtype=np.int64)
    ts, target = rto.ts[idx], rto.jif[idx] - rto.rtt_j[idx]
    j = np.searchsorted(acks.ts, ts, side="right") - 1

    def fits(j: np.ndarray) -> np.ndarray:
        jc = np.maximum(j, 0)
        return (j >= 0) & (ts - acks.ts[jc] < HB_LOOKBACK_NS) & (acks.sent_at[jc] >= target - JIFFY_SLACK) & \
            (acks.sent_at[jc] <= target)

    ok = fits(j)
    for m in np.flatnonzero(~ok & (j > 0)).tolist():     # rare: another HEARTBEAT-ACK came in between
        jj = int(j[m]) - 1
        while jj >= 0 and ts[m] - int(acks.ts[jj]) < HB_LOOKBACK_NS:
            if target[m] - JIFFY_SLACK <= int(acks.sent_at[jj]) <= target[m]:
                j[m], ok[m] = jj, True
                break
            jj -= 1
    rows, j = idx[ok], j[ok]
    if not len(rows):
        return rows
    hi = hb["k_ack_id"][j]
    cols["match"][rows] = np.where(cols["match"][rows] == 0, _MATCH.index("nonce"), cols["match"][rows])
    cols["hb_nonce"][rows] = acks.nonce[j].astype(np.uint64)
    cols["hb_sent_at"][rows] = acks.sent_at[j]
    cols["k_send_jif"][rows] = cols["sent_at_jif"][rows] = acks.sent_at[j]
    cols["u_jif"][rows] = rto.jif[rows]
    cols["k_ack_ns"][rows] = acks.ts[j]
    if "k_sent" in hb:
        ks = hb["k_sent"][hi]
        cols["k_send_ns"][rows] = np.where(ks != NONE, ks, _NA)
    for c, fit, pre in ((near, fit_n, "near"), (far, fit_f, "far")):
        if c is None or c not in hb["w"]:
            continue
        w = hb["w"][c]
        out = w["hb"][hi]
        if pre == "near":
            out = np.where(w["hb_count"][hi] == 1, out, NONE)    # a HEARTBEAT seen twice: which one?
            cols["w_out_ns"][rows] = _to_kernel(fit, out)
            cols["w_in_ns"][rows] = _to_kernel(fit, w["ack"][hi])
            cols["f_hb_near"][rows] = np.where(out != NONE, w["hb_frame"][hi], _NA)
            cols["f_hb_ack_near"][rows] = np.where(w["ack"][hi] != NONE, w["ack_frame"][hi], _NA)
        else:
            cols["a_far_ns"][rows] = _to_kernel(fit, out)
            cols["d_far_ns"][rows] = _to_kernel(fit, w["ack"][hi])
    return rows


def _unrecorded_chunks(d: Direction, near: int | None, kv: KernelView, rto: Any, captures: list[WireView],
                       ki_sack: np.ndarray, idx: np.ndarray, k_gap_acked: Any) -> list[int | None]:
    """For samples ``idx`` no recorded chunk fits: a DATA chunk on the capture next to the sender, to the sample's
    path, with no kernel egress event, that the kernel's SACK before the sample newly acked (the chunk it timed
    when its egress event was skipped), or None."""
    out: list[int | None] = [None] * len(idx)
    ks = d.k_sack
    if near is None or near not in d.w_tx or ks is None or not len(ks):
        return out
    w, m = d.w_tx[near], d.w_tx_k.get(near)
    if m is None:
        return out
    wa = captures[near].assocs[d.asc.wire[near]]
    cand = np.flatnonzero((m == NONE) & ~w.rtx)
    if not len(cand):
        return out
    ct = w.t[cand]
    cdst = np.array([wa.path_addrs(int(p))[1] or "" for p in w.path[cand]], dtype=object)
    for n_, i in enumerate(idx.tolist()):
        ki = int(ki_sack[i])
        if ki == NONE:
            continue
        lo, hi = int(ks.ctsn[ki]), int(ks.cum[ki])
        sel = (ct > lo) & (cdst == (kv.addr(int(rto.path[i])) or ""))
        if not sel.any():
            continue
        tt = ct[sel]
        good = (tt <= hi) | k_gap_acked(np.full(len(tt), ki, dtype=np.int64), tt)
        if good.any():
            out[n_] = int(tt[np.flatnonzero(good)[0]])
    return out


def recompute_rto_arrays(rtt: np.ndarray, srtt_b: np.ndarray, rttvar_b: np.ndarray, rto_min: np.ndarray,
                         rto_max: np.ndarray, alpha_shift: int = 3,
                         beta_shift: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RFC 9260 6.3.1 as Linux 6.1 computes it (sctp_transport_update_rto, integer jiffies, shifts for
    alpha = 1/8 and beta = 1/4, RTTVAR 0 -> 1 jiffy, RTO clamped to [rto_min, rto_max]), each sample from the
    values the kernel had at entry (so every row stands alone): (srtt, rttvar, rto)."""
    rtt, srtt_b, rttvar_b = (np.asarray(x, dtype=np.int64) for x in (rtt, srtt_b, rttvar_b))
    first = (srtt_b == 0) & (rttvar_b == 0)                 # C2: the first measurement
    rttvar = np.where(first, rtt >> 1,                     # C3: RTTVAR first, with the old SRTT
                      rttvar_b - (rttvar_b >> beta_shift) + (np.abs(srtt_b - rtt) >> beta_shift))
    srtt = np.where(first, rtt, srtt_b - (srtt_b >> alpha_shift) + (rtt >> alpha_shift))
    rttvar = np.where(rttvar == 0, 1, rttvar)               # G1: granularity (SCTP_CLOCK_GRANULARITY = 1 jiffy)
    rto = np.maximum(srtt + (rttvar << 2), rto_min)
    rto_max = np.asarray(rto_max, dtype=np.int64)
    rto = np.where(rto_max > 0, np.minimum(rto, rto_max), rto)
    return srtt, rttvar, rto


def recompute_rto(rows: list[dict[str, Any]]) -> list[dict[str, int]]:
    """``recompute_rto_arrays`` for rows ``{rtt_j, srtt_b, rttvar_b, rto_min, rto_max}``."""
    if not rows:
        return []
    col = {k: np.array([r[k] for r in rows], dtype=np.int64) for k in ("rtt_j", "srtt_b", "rttvar_b", "rto_min",
                                                                      "rto_max")}
    srtt, rttvar, rto = recompute_rto_arrays(col["rtt_j"], col["srtt_b"], col["rttvar_b"], col["rto_min"],
                                             col["rto_max"])
    return [{"srtt": int(a), "rttvar": int(b), "rto": int(c)} for a, b, c in zip(srtt, rttvar, rto)]


class SampleStore:
    """Kernel RTT samples as numpy columns (``SAMPLE_COLS``; a long recording has tens of thousands: as objects
    they would be the largest thing the correlator keeps).  A missing value is int64's minimum (``_NA``).
    ``path`` indexes ``paths`` (peer addresses, across recordings)."""

    def __init__(self) -> None:
        self._parts: list[dict[str, np.ndarray]] = []
        self._cols: dict[str, np.ndarray] | None = None
        self.paths: list[str | None] = []
        self._path_ids: dict[str | None, int] = {}

    def path_id(self, addr: str | None) -> int:
        pid = self._path_ids.get(addr)
        if pid is None:
            pid = self._path_ids[addr] = len(self.paths)
            self.paths.append(addr)
        return pid

    def add_cols(self, cols: dict[str, np.ndarray], addrs: list[str] | None = None,
                 keep: np.ndarray | None = None) -> None:
        """Columns as ``attribute`` makes them (``path``: an address id of ``addrs``); ``keep``: rows to take."""
        if not cols or not len(cols["ts_ns"]):
            return
        if keep is not None:
            cols = {k: v[keep] for k, v in cols.items()}
            if not len(cols["ts_ns"]):
                return
        cols = dict(cols)
        if addrs is not None:
            ids = np.array([self.path_id(a) for a in addrs] or [0], dtype=np.int64)
            p = cols["path"]
            cols["path"] = np.where((p >= 0) & (p < len(addrs)), ids[np.clip(p, 0, max(len(addrs) - 1, 0))],
                                    self.path_id(None))
        self._parts.append({k: np.asarray(cols[k], dtype=np.uint64 if k == "hb_nonce" else np.int64)
                            for k in SAMPLE_COLS})
        self._cols = None

    def extend(self, other: SampleStore) -> None:
        if len(other):
            c = dict(other.cols)
            ids = np.array([self.path_id(a) for a in other.paths], dtype=np.int64)
            c["path"] = ids[c["path"]]
            self._parts.append(c)
            self._cols = None

    @property
    def cols(self) -> dict[str, np.ndarray]:
        if self._cols is None:
            if not self._parts:
                self._cols = {k: np.zeros(0, dtype=np.uint64 if k == "hb_nonce" else np.int64) for k in SAMPLE_COLS}
            else:
                self._cols = {k: np.concatenate([p[k] for p in self._parts]) for k in SAMPLE_COLS}
                self._parts = [self._cols]
        return self._cols

    def __len__(self) -> int:
        return len(self.cols["ts_ns"])

    def select(self, sel: np.ndarray) -> SampleStore:
        out = SampleStore()
        out.paths, out._path_ids = self.paths, self._path_ids
        out._parts = [{k: v[sel] for k, v in self.cols.items()}]
        return out

    def parts(self, sel: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The decomposition of the selected samples (``PARTS``), as float arrays (NaN where a time is missing);
        the module doc gives the parts.  ``tick_drift_ns``: how far the kernel's jiffies ran from its monotonic
        clock over the sample, (jiffies elapsed between the send and the update, as the events read them) * jiffy
        - the monotonic interval: within a jiffy on real hardware, more when ticks come late and in bursts (an
        emulated guest).  ``stamp_jiffies``: the sample minus (jiffies at the update as the probe read them - the
        chunk's sent_at stamp): 0, or negative by the ticks between the kernel's computation and the probe's
        read."""
        c = self.cols
        f = {k: (c[k] if sel is None else c[k][sel]).astype(np.float64) for k in SAMPLE_COLS if k != "hb_nonce"}
        for k in ("k_send_ns", "w_out_ns", "w_in_ns", "a_far_ns", "d_far_ns", "k_send_jif", "sent_at_jif", "u_jif"):
            f[k][f[k] == float(_NA)] = np.nan
        out = {"host_tx_ns": f["w_out_ns"] - f["k_send_ns"], "wire_rtt_ns": f["w_in_ns"] - f["w_out_ns"],
               "net_out_ns": f["a_far_ns"] - f["w_out_ns"], "peer_ns": f["d_far_ns"] - f["a_far_ns"],
               "net_back_ns": f["w_in_ns"] - f["d_far_ns"], "host_rx_ns": f["ts_ns"] - f["w_in_ns"]}
        interval = f["ts_ns"] - f["k_send_ns"]
        out["kernel_interval_ns"] = interval
        out["quantisation_ns"] = f["rtt_ns"] - interval
        jns = np.where(f["rtt_jiffies"] > 0, f["rtt_ns"] / np.maximum(f["rtt_jiffies"], 1), np.nan)
        out["tick_drift_ns"] = (f["u_jif"] - f["k_send_jif"]) * jns - interval
        out["stamp_jiffies"] = f["rtt_jiffies"] - (f["u_jif"] - f["sent_at_jif"])
        return out

    def _lists(self) -> tuple[dict[str, list[Any]], dict[str, list[int | None]]]:
        """The columns as Python lists, and the parts as ints (None where a time is missing)."""
        cols = {k: v.tolist() for k, v in self.cols.items()}
        parts = {k: [None if x != x else int(x) for x in v.tolist()] for k, v in self.parts().items()}
        return cols, parts

    def rows(self) -> list[dict[str, Any]]:
        """Every sample as a dict (for --json / --jsonl / --csv), frames included."""
        L, P = self._lists()
        na, paths = _NA, self.paths
        out = []
        for i in range(len(L["ts_ns"])):
            frames = {k[2:]: L[k][i] for k in FRAME_COLS if L[k][i] != na}
            nonce = L["hb_nonce"][i]
            d = {"type": "rtt_sample", "assoc": L["assoc"][i], "sender": "AB"[L["side"][i]],
                 "kind": "heartbeat" if L["hb"][i] else "data", "ts_ns": L["ts_ns"][i], "clock": "kernel_mono",
                 "path": paths[L["path"][i]], "rtt_jiffies": L["rtt_jiffies"][i], "rtt_ns": L["rtt_ns"][i],
                 "srtt_ns": L["srtt_ns"][i], "rttvar_ns": L["rttvar_ns"][i], "rto_ns": L["rto_ns"][i],
                 "tsn": None if L["tsn"][i] == na else L["tsn"][i],
                 "hb_nonce": f"0x{nonce:016x}" if nonce else None, "match": _MATCH[L["match"][i]],
                 "gap_acked": bool(L["gap_acked"][i]), "near_capture": None if L["near"][i] == na else L["near"][i],
                 "far_capture": None if L["far"][i] == na else L["far"][i],
                 "k_send_ns": None if L["k_send_ns"][i] == na else L["k_send_ns"][i]}
            for k in PARTS:
                if k != "kernel_interval_ns":
                    d[k] = P[k][i]
            d["frames"] = frames or None
            out.append(d)
        return out

    def __iter__(self) -> Iterator[Sample]:
        c, P = self._lists()

        def g(k: str, i: int) -> int | None:
            x = c[k][i]
            return None if x == _NA else x

        for i in range(len(c["ts_ns"])):
            frames = {k[2:]: c[k][i] for k in FRAME_COLS if c[k][i] != _NA}
            yield Sample(c["assoc"][i], c["side"][i], "heartbeat" if c["hb"][i] else "data", c["ts_ns"][i],
                         self.paths[c["path"][i]], c["rtt_jiffies"][i], c["rtt_ns"][i], c["srtt_ns"][i],
                         c["rttvar_ns"][i], c["rto_ns"][i], g("tsn", i), c["hb_nonce"][i] or None,
                         g("hb_sent_at", i), _MATCH[c["match"][i]], g("k_send_ns", i), g("near", i), g("far", i),
                         g("w_out_ns", i), g("w_in_ns", i), g("a_far_ns", i), g("d_far_ns", i), g("k_ack_ns", i),
                         frames or None, bool(c["gap_acked"][i]), g("k_send_jif", i), g("sent_at_jif", i),
                         g("u_jif", i), {k: P[k][i] for k in PARTS})
