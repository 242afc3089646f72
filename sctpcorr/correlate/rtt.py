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

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from sctpcorr.correlate.clock import ClockFit
from sctpcorr.correlate.joins import NONE, Direction
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.wire import WireView

__all__ = ["Sample", "attribute", "recompute_rto", "JIFFY_SLACK"]

JIFFY_SLACK = 5   # ticks the probe's read of jiffies may trail the kernel's computation (late timer interrupts)
HB_LOOKBACK_NS = 50_000_000   # a HEARTBEAT-ACK sample follows its hb_ack event within the same softirq


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

    # -- the parts (None when a time is missing) --
    def _d(self, a: int | None, b: int | None) -> int | None:
        return None if a is None or b is None else int(a - b)

    @property
    def host_tx_ns(self) -> int | None:
        return self._d(self.w_out_ns, self.k_send_ns)

    @property
    def wire_rtt_ns(self) -> int | None:
        return self._d(self.w_in_ns, self.w_out_ns)

    @property
    def host_rx_ns(self) -> int | None:
        return self._d(self.ts_ns, self.w_in_ns)

    @property
    def kernel_interval_ns(self) -> int | None:
        return self._d(self.ts_ns, self.k_send_ns)

    @property
    def quantisation_ns(self) -> int | None:
        k = self.kernel_interval_ns
        return None if k is None else self.rtt_ns - k

    @property
    def net_out_ns(self) -> int | None:
        return self._d(self.a_far_ns, self.w_out_ns)

    @property
    def peer_ns(self) -> int | None:
        return self._d(self.d_far_ns, self.a_far_ns)

    @property
    def net_back_ns(self) -> int | None:
        return self._d(self.w_in_ns, self.d_far_ns)

    @property
    def tick_drift_ns(self) -> int | None:
        """How far the kernel's jiffies ran from its monotonic clock over the sample: (jiffies elapsed between
        the send and the update, as the events read them) * jiffy - the monotonic interval.  Within one jiffy
        (the tick's phase) on real hardware; more when ticks come late and in bursts (an emulated guest)."""
        if self.u_jif is None or self.k_send_jif is None or self.kernel_interval_ns is None or not self.rtt_jiffies:
            return None
        jns = self.rtt_ns // self.rtt_jiffies
        return (self.u_jif - self.k_send_jif) * jns - self.kernel_interval_ns

    @property
    def stamp_jiffies(self) -> int | None:
        """The sample minus (jiffies at the update as the probe read them - the chunk's sent_at stamp): 0, or
        negative by the ticks that fell between the kernel's computation and the probe's read."""
        if self.u_jif is None or self.sent_at_jif is None:
            return None
        return self.rtt_jiffies - (self.u_jif - self.sent_at_jif)

    def parts(self) -> dict[str, int | None]:
        return {"host_tx_ns": self.host_tx_ns, "wire_rtt_ns": self.wire_rtt_ns, "net_out_ns": self.net_out_ns,
                "peer_ns": self.peer_ns, "net_back_ns": self.net_back_ns, "host_rx_ns": self.host_rx_ns,
                "quantisation_ns": self.quantisation_ns, "tick_drift_ns": self.tick_drift_ns,
                "stamp_jiffies": self.stamp_jiffies}

    def as_dict(self, names: tuple[str, str] = ("A", "B")) -> dict[str, Any]:
        return {"type": "rtt_sample", "assoc": self.assoc, "sender": names[self.side], "kind": self.kind,
                "ts_ns": self.ts_ns, "clock": "kernel_mono", "path": self.path, "rtt_jiffies": self.rtt_jiffies,
                "rtt_ns": self.rtt_ns, "srtt_ns": self.srtt_ns, "rttvar_ns": self.rttvar_ns, "rto_ns": self.rto_ns,
                "tsn": self.tsn, "hb_nonce": None if self.hb_nonce is None else f"0x{self.hb_nonce:016x}",
                "match": self.match, "gap_acked": self.gap_acked, "near_capture": self.near,
                "far_capture": self.far, "k_send_ns": self.k_send_ns, **self.parts(), "frames": self.frames}


def _wire_in_kernel(fit: ClockFit | None, ts: int | None) -> int | None:
    if ts is None or ts == NONE or fit is None or fit.offset_ns is None:
        return None
    return int(fit.to_kernel(ts))


def attribute(d: Direction, kernels: list[KernelView], captures: list[WireView],
              clocks: dict[tuple[int, int], ClockFit]) -> list[Sample]:
    """Every RTT sample of the sender's kernel end in direction ``d``, attributed and decomposed."""
    if d.k_rec is None or d.k_end is None:
        return []
    kv = kernels[d.k_rec]
    jns = kv.jiffy_ns or 0
    rto = kv.rto[kv.rto.end == d.k_end]
    if not len(rto):
        return []
    near = d.asc.near[d.side][0] if d.asc.near[d.side] else None
    far = d.asc.near[1 - d.side][0] if d.asc.near[1 - d.side] else None
    fit_n = clocks.get((d.k_rec, near)) if near is not None else None
    fit_f = clocks.get((d.k_rec, far)) if far is not None else None
    out: list[Sample] = []

    # first transmissions by (path, sent_at), lowest TSN first
    cand: dict[tuple[int, int], list[int]] = defaultdict(list)
    if d.k_tx is not None and len(d.k_tx):
        k = d.k_tx
        first = np.flatnonzero(k.sent_count == 1)
        order = first[np.lexsort((k.t[first], k.sent_at[first], k.path[first]))]
        for i, p, sa in zip(order.tolist(), k.path[order].tolist(), k.sent_at[order].tolist()):
            cand[(p, sa)].append(i)
    used: set[int] = set()
    ks = d.k_sack
    # where each TSN is on the near/far captures
    w_first: dict[int, dict[int, int]] = {}
    for c in (near, far):
        if c is None or c not in d.w_tx:
            continue
        w = d.w_tx[c]
        kk = d.w_tx_k.get(c)
        m = {}
        if kk is not None:
            for wi, ki in zip(np.flatnonzero(kk != NONE).tolist(), kk[kk != NONE].tolist()):
                m.setdefault(ki, wi)
        w_first[c] = m
    hb = d.hb if d.hb.get("n") else None
    hb_acks = kv.hb_ack[kv.hb_ack.end == d.k_end] if hb is not None else None

    def hb_attribute(s: Sample, r: dict[str, Any]) -> bool:
        """A HEARTBEAT sample: the HEARTBEAT-ACK the kernel processed just before (sent_at = jiffies at the
        update - rtt, or a few ticks earlier: the probe read jiffies after the kernel computed the sample)."""
        if hb is None or hb_acks is None or not len(hb_acks):
            return False
        j = int(np.searchsorted(hb_acks.ts, r["ts"], side="right")) - 1
        target = r["jif"] - r["rtt_j"]
        while j >= 0 and r["ts"] - int(hb_acks.ts[j]) < HB_LOOKBACK_NS and not (
                target - JIFFY_SLACK <= int(hb_acks.sent_at[j]) <= target):
            j -= 1
        if j < 0 or r["ts"] - int(hb_acks.ts[j]) >= HB_LOOKBACK_NS:
            return False
        s.u_jif = r["jif"]
        s.k_send_jif = s.sent_at_jif = int(hb_acks.sent_at[j])
        key = np.rec.fromarrays([np.array([hb_acks.nonce[j]], dtype=np.uint64),
                                 np.array([hb_acks.sent_at[j]], dtype=np.int64)], names="nonce,sent_at")
        hi = int(np.searchsorted(hb["key"], key)[0])
        s.match = "nonce"
        s.hb_nonce, s.hb_sent_at = int(hb_acks.nonce[j]), int(hb_acks.sent_at[j])
        s.k_ack_ns = int(hb_acks.ts[j])
        if hi < hb["n"] and "k_sent" in hb and hb["k_sent"][hi] != NONE:
            s.k_send_ns = int(hb["k_sent"][hi])
        frames = {}
        if near is not None and near in hb["w"]:
            w = hb["w"][near]
            if w["hb"][hi] != NONE and w["hb_count"][hi] == 1:
                s.w_out_ns = _wire_in_kernel(fit_n, int(w["hb"][hi]))
                frames["hb_near"] = int(w["hb_frame"][hi])
            if w["ack"][hi] != NONE:
                s.w_in_ns = _wire_in_kernel(fit_n, int(w["ack"][hi]))
                frames["hb_ack_near"] = int(w["ack_frame"][hi])
        if far is not None and far in hb["w"]:
            w = hb["w"][far]
            if w["hb"][hi] != NONE:
                s.a_far_ns = _wire_in_kernel(fit_f, int(w["hb"][hi]))
            if w["ack"][hi] != NONE:
                s.d_far_ns = _wire_in_kernel(fit_f, int(w["ack"][hi]))
        s.frames = frames or None
        return True

    for i in range(len(rto)):
        r = rto.row(i)
        s = Sample(d.asc.id, d.side, "heartbeat" if r["hb"] else "data", r["ts"], kv.addr(r["path"]),
                   r["rtt_j"], r["rtt_j"] * jns, r["srtt"] * jns, r["rttvar"] * jns, r["rto"] * jns,
                   near=near, far=far)
        if not r["hb"]:
            # the SACK the kernel processed just before
            ki_sack = None
            if ks is not None and len(ks):
                j = int(np.searchsorted(ks.ts, r["ts"], side="right")) - 1
                ki_sack = j if j >= 0 else None
            chosen = None
            # the probe reads jiffies at the update: the kernel's value, or later by the ticks that a delayed
            # timer interrupt caught up in between (several at once under emulation)
            target = r["jif"] - r["rtt_j"]
            lo_cum = int(ks.ctsn[ki_sack]) if ki_sack is not None else None   # type: ignore[union-attr]
            for sa in range(target, target - JIFFY_SLACK - 1, -1):
                for ci in cand.get((r["path"], sa), ()):
                    if ci in used:
                        continue
                    t = int(d.k_tx.t[ci])  # type: ignore[union-attr]
                    if ki_sack is not None:
                        # newly acked by that SACK: above the kernel's cumulative ack point before it, and up to
                        # its cumulative ack or in one of its gap blocks
                        if lo_cum is not None and t <= lo_cum:
                            continue
                        if int(ks.cum[ki_sack]) < t and not _gap_acked(d, ki_sack, t):   # type: ignore[union-attr]
                            continue
                    chosen = ci
                    break
                if chosen is not None:
                    break
            if chosen is None:
                # its chunk may be one whose egress event the kernel skipped: on the wire, never in the kernel's
                # sends, on this path, newly acked by that SACK
                t_w = _unrecorded_chunk(d, near, s.path, captures, ks, ki_sack)
                if t_w is not None:
                    s.match, s.tsn = "egress_missing", t_w & 0xFFFFFFFF
                elif hb_attribute(s, r):
                    # the probe took it for a DATA sample (its hb_ack event came on another CPU or was missed)
                    s.kind, s.match = "heartbeat", "nonce (recorded as data)"
                out.append(s)
                continue
            used.add(chosen)
            s.match = "sent_at"
            s.tsn = int(d.k_tx.t[chosen]) & 0xFFFFFFFF   # type: ignore[union-attr]
            s.k_send_ns = int(d.k_tx.ts[chosen])         # type: ignore[union-attr]
            s.k_send_jif = int(d.k_tx.jif[chosen])       # type: ignore[union-attr]
            s.sent_at_jif = int(d.k_tx.sent_at[chosen])  # type: ignore[union-attr]
            s.u_jif = r["jif"]
            t = int(d.k_tx.t[chosen])                    # type: ignore[union-attr]
            frames: dict[str, int] = {}
            if near is not None and chosen in w_first.get(near, {}):
                wi = w_first[near][chosen]
                w = d.w_tx[near]
                s.w_out_ns = _wire_in_kernel(fit_n, int(w.ts[wi]))
                frames["data_near"] = int(w.frame[wi])
                row, by_gap = d.first_ack(near, np.array([t]))
                if row[0] != NONE:
                    sk = d.w_sack[near]
                    s.w_in_ns = _wire_in_kernel(fit_n, int(sk.ts[row[0]]))
                    s.gap_acked = bool(by_gap[0])
                    frames["sack_near"] = int(sk.frame[row[0]])
                    if far is not None and (near, far) in d.w_sack_x:
                        fr = int(d.w_sack_x[(near, far)][row[0]])
                        if fr != NONE:
                            s.d_far_ns = _wire_in_kernel(fit_f, int(d.w_sack[far].ts[fr]))
                            frames["sack_far"] = int(d.w_sack[far].frame[fr])
            if far is not None and chosen in w_first.get(far, {}):
                wi = w_first[far][chosen]
                s.a_far_ns = _wire_in_kernel(fit_f, int(d.w_tx[far].ts[wi]))
                frames["data_far"] = int(d.w_tx[far].frame[wi])
            if ki_sack is not None:
                s.k_ack_ns = int(ks.ts[ki_sack])   # type: ignore[union-attr]
            s.frames = frames or None
        else:
            hb_attribute(s, r)
        out.append(s)
    return out


def _unrecorded_chunk(d: Direction, near: int | None, path: str | None, captures: list[WireView], ks: Any,
                      ki_sack: int | None) -> int | None:
    """A DATA chunk on the capture next to the sender, to ``path``, with no kernel egress event, that the kernel's
    SACK ``ki_sack`` newly acked: the chunk a sample timed when its egress event was skipped."""
    if near is None or near not in d.w_tx or ki_sack is None or ks is None:
        return None
    w, m = d.w_tx[near], d.w_tx_k.get(near)
    if m is None:
        return None
    wa = captures[near].assocs[d.asc.wire[near]]
    lo, hi = int(ks.ctsn[ki_sack]), int(ks.cum[ki_sack])
    for i in np.flatnonzero((m == NONE) & ~w.rtx).tolist():
        t = int(w.t[i])
        if wa.path_addrs(int(w.path[i]))[1] != path or t <= lo:
            continue
        if t <= hi or _gap_acked(d, ki_sack, t):
            return t
    return None


def _gap_acked(d: Direction, ki_sack: int, t: int) -> bool:
    """Did the kernel's SACK ``ki_sack`` ack TSN t by a gap block (read from that SACK on any capture)?"""
    for c, m in d.k_sack_w.items():
        wi = int(m[ki_sack])
        if wi == NONE:
            continue
        g = d.w_gap[c]
        sel = g.sack == wi
        if np.any((g.start[sel] <= t) & (t <= g.end[sel])):
            return True
        return False
    return False


def recompute_rto(rows: list[dict[str, Any]], alpha_shift: int = 3, beta_shift: int = 2) -> list[dict[str, int]]:
    """RFC 9260 6.3.1 as Linux 6.1 computes it (sctp_transport_update_rto, integer jiffies, shifts for
    alpha = 1/8 and beta = 1/4, RTTVAR 0 -> 1 jiffy, RTO clamped to [rto_min, rto_max]), one sample at a time
    from the values the kernel had at entry: [{srtt, rttvar, rto}] per row."""
    out = []
    for r in rows:
        rtt, srtt, rttvar = r["rtt_j"], r["srtt_b"], r["rttvar_b"]
        if srtt == 0 and rttvar == 0:                 # C2: the first measurement
            srtt, rttvar = rtt, rtt >> 1
        else:                                         # C3: RTTVAR first, with the old SRTT
            rttvar = rttvar - (rttvar >> beta_shift) + (abs(srtt - rtt) >> beta_shift)
            srtt = srtt - (srtt >> alpha_shift) + (rtt >> alpha_shift)
        if rttvar == 0:                               # G1: granularity (SCTP_CLOCK_GRANULARITY = 1 jiffy)
            rttvar = 1
        rto = srtt + (rttvar << 2)
        rto = min(max(rto, r["rto_min"]), r["rto_max"]) if r["rto_max"] else max(rto, r["rto_min"])
        out.append({"srtt": srtt, "rttvar": rttvar, "rto": rto})
    return out
