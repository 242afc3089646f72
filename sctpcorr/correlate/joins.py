"""Per TSN, per SACK and per HEARTBEAT: the same chunk in the kernel's events and in each capture.

Theory of operation
-------------------
For one direction of one association (``side`` sends DATA, the other side sends SACKs):

**TSNs.**  The sender's kernel lists every DATA chunk it put in a packet (``egress`` events: TSN, sent_count,
sent_at jiffies, retransmission reason); each capture lists every DATA chunk it saw.  TSNs are unwrapped to 64
bits around the direction's first TSN (RFC 1982 serial arithmetic: a recording of less than 2^31 TSNs cannot be
ambiguous) and the n-th kernel transmission of a TSN is paired with the n-th time a capture shows it.

**SACKs.**  A SACK is named by (cumulative TSN ack, a_rwnd, gap blocks, dup TSNs) and its occurrence: the k-th
SACK with those fields in one source is the k-th in another.  Three views are joined: the receiver's kernel
building it (an egress SACK chunk: cum ack and a_rwnd only), each capture, and the sender's kernel processing it
(``sack`` event, before processing).  A SACK one source misses shifts nothing else: occurrences only count
equal fields.

**HEARTBEATs.**  Linux puts sent_at (jiffies) and the transport's nonce in the HEARTBEAT info; the pair names one
HEARTBEAT exactly, in ``hb_sent``/``hb_ack`` events and in both HEARTBEAT and HEARTBEAT-ACK on the wire.

**Acks.**  A TSN is acked on a capture by the first SACK from the peer whose cumulative ack reaches it or one of
whose gap blocks covers it (RFC 9260 6.3.1: the RTT sample is taken at the first ack of either kind).

Everything here works on whole columns (``tables.Table``); times stay in each source's clock.  Pure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sctpcorr.correlate.assoc import Assoc
from sctpcorr.correlate.kernel import DATA_TYPES, SACK_TYPES, KernelView
from sctpcorr.correlate.tables import Table, in_order
from sctpcorr.correlate.wire import WireView

__all__ = ["Direction", "build_direction", "unwrap", "occurrence_match", "match_keys"]

NONE = -1


def unwrap(tsn: np.ndarray, base: int) -> np.ndarray:
    """32-bit TSNs as int64 offsets around ``base``: base + int32(tsn - base)."""
    d = (np.asarray(tsn, dtype=np.int64) - base) & 0xFFFFFFFF
    return base + np.where(d >= 1 << 31, d - (1 << 32), d)


def _key_ids(*arrays_per_source: list[np.ndarray]) -> list[np.ndarray]:
    """Dense integer ids for rows of equal values, across sources: each argument is the list of columns of
    one source (same number of columns each)."""
    lens = [len(cols[0]) if cols else 0 for cols in arrays_per_source]
    if not sum(lens):
        return [np.zeros(n, dtype=np.int64) for n in lens]
    cols = [np.concatenate([np.asarray(cols[i], dtype=np.int64) for cols in arrays_per_source])
            for i in range(len(arrays_per_source[0]))]
    if len(cols) == 2:
        # one 64-bit hash of the pair, numbered by np.unique; exact when no two different pairs share a hash
        # (checked: every row equals the first row of its number), else the sort below
        h = cols[0] * np.int64(0x1F3D5B79A2C4E6F1 >> 1) + cols[1]
        _u, first, inv = np.unique(h, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        if all(np.array_equal(c[first][inv], c) for c in cols):
            out, o = [], 0
            for n in lens:
                out.append(inv[o:o + n])
                o += n
            return out
    order = np.lexsort(cols[::-1])
    new = np.zeros(len(order), dtype=bool)
    new[0] = True
    for c in cols:
        sc = c[order]
        new[1:] |= sc[1:] != sc[:-1]
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    out, o = [], 0
    for n in lens:
        out.append(inv[o:o + n])
        o += n
    return out


def _pack(a_rwnd: np.ndarray, ngap: np.ndarray, ndup: np.ndarray) -> np.ndarray:
    """A SACK's a_rwnd (32 bits) and gap and dup counts (16 bits each; the kernel's fields are 16-bit) as one
    64-bit key."""
    return ((np.asarray(a_rwnd, dtype=np.int64) & 0xFFFFFFFF) << 32) | \
        (np.minimum(np.asarray(ngap, dtype=np.int64), 0xFFFF) << 16) | np.minimum(np.asarray(ndup, dtype=np.int64), 0xFFFF)


def _occurrence(ids: np.ndarray, order_ts: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows (by ``order_ts``) have the same id."""
    n = len(ids)
    if not n:
        return np.zeros(0, dtype=np.int64)
    if n < 2 or bool((order_ts[1:] >= order_ts[:-1]).all()):
        o = np.argsort(ids, kind="stable")      # rows already in time order (the usual case): one key
    else:
        o = np.lexsort((order_ts, ids))          # stable: equal times keep their row order
    sid = ids[o]
    start = np.ones(n, dtype=bool)
    start[1:] = sid[1:] != sid[:-1]
    grp_start = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    occ = np.empty(n, dtype=np.int64)
    occ[o] = np.arange(n) - grp_start
    return occ


def _occurrence_match_np(ids_a: np.ndarray, ts_a: np.ndarray, ids_b: np.ndarray, ts_b: np.ndarray) -> np.ndarray:
    """``occurrence_match`` in numpy (sorts): the reference the tests hold the C join to."""
    if not len(ids_a) or not len(ids_b):
        return np.full(len(ids_a), NONE, dtype=np.int64)
    occ_a, occ_b = _occurrence(ids_a, ts_a), _occurrence(ids_b, ts_b)
    ka = ids_a.astype(np.int64) * (1 << 24) + occ_a
    kb = ids_b.astype(np.int64) * (1 << 24) + occ_b
    ob = np.argsort(kb, kind="stable")
    skb = kb[ob]
    pos = np.searchsorted(skb, ka)
    pos_c = np.minimum(pos, len(skb) - 1)
    hit = skb[pos_c] == ka
    return np.where(hit, ob[pos_c], NONE)


def _time_order(ts: np.ndarray) -> np.ndarray | None:
    """The rows in time order (stable: equal times keep their row order), or None when they already are."""
    ts = np.asarray(ts)
    if in_order(ts):
        return None
    return np.argsort(ts, kind="stable").astype(np.int64, copy=False)


def _i64(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x, dtype=np.int64)


def match_keys(keys_a: list[np.ndarray], ts_a: np.ndarray, keys_b: list[np.ndarray], ts_b: np.ndarray) -> np.ndarray:
    """For each row of A, the row of B whose key (one or two columns, compared as int64) is equal and whose
    occurrence is the same (the k-th row of that key in A's time order is the k-th in B's), or -1.  One hash join
    in C (``_cjoin.occurrence_match``); the numbering of keys plus ``_occurrence_match_np`` is its reference."""
    from sctpcorr.correlate import _cjoin

    na, nb = len(keys_a[0]), len(keys_b[0])
    out = np.empty(na, dtype=np.int64)
    if not na or not nb:
        out.fill(NONE)
        return out
    two = len(keys_a) == 2
    _cjoin.occurrence_match(out, _i64(keys_a[0]), _i64(keys_a[1]) if two else None, _time_order(ts_a),
                            _i64(keys_b[0]), _i64(keys_b[1]) if two else None, _time_order(ts_b))
    return out


def occurrence_match(ids_a: np.ndarray, ts_a: np.ndarray, ids_b: np.ndarray, ts_b: np.ndarray) -> np.ndarray:
    """For each row of A, the row of B with the same id and the same occurrence (k-th of that id, in time
    order), or -1."""
    return match_keys([ids_a], ts_a, [ids_b], ts_b)


@dataclass
class Direction:
    """One direction of one association: ``side`` sends DATA, ``1 - side`` SACKs (see the module doc).

    Tables (``t`` = unwrapped TSN, ``ts`` in the source's clock):

    * ``k_tx``: the sender kernel's DATA transmissions: t, ts, jif, sent_count, sent_at, rtx (reason code),
      path (address id of the recording), length; ``k_rec``: that recording's index (None: no kernel end);
    * ``w_tx[c]``: capture c's DATA chunks of this direction: t, ts, frame, path, rtx, kind, spurious, first,
      length; ``w_tx_k[c]``: for each, the kernel transmission it is (-1: none);
    * ``w_sack[c]``: capture c's SACKs from the receiver: cum (unwrapped), a_rwnd, ngap, ndup, ts, frame,
      flight, path; ``w_gap[c]``: their gap blocks (start, end unwrapped, sack row);
    * ``k_sack``: the sender kernel's sack events (cum unwrapped, a_rwnd, ngap, ndup, ts, peer_rwnd,
      outstanding, path); ``k_sack_w[c]``: the capture-c SACK each is (-1: none);
    * ``k_sack_out``: the receiver kernel's egress SACK chunks (cum, a_rwnd, ts, eg) and ``k_sack_out_w[c]``;
    * ``hb``: see ``heartbeats``.
    """

    asc: Assoc
    side: int
    base: int
    k_rec: int | None = None
    k_end: int | None = None
    r_rec: int | None = None       # the receiver's kernel end
    r_end: int | None = None
    k_tx: Table | None = None
    w_tx: dict[int, Table] = field(default_factory=dict)
    w_tx_k: dict[int, np.ndarray] = field(default_factory=dict)
    w_sack: dict[int, Table] = field(default_factory=dict)
    w_gap: dict[int, Table] = field(default_factory=dict)
    k_sack: Table | None = None
    k_sack_w: dict[int, np.ndarray] = field(default_factory=dict)
    k_sack_out: Table | None = None
    k_sack_out_w: dict[int, np.ndarray] = field(default_factory=dict)
    w_sack_x: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)   # (c, c2): SACK row of c in c2
    hb: dict[str, Any] = field(default_factory=dict)
    _acks: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False, compare=False)

    # ---- acks -------------------------------------------------------------------------------------------
    def w_first_ack(self, cap: int, idx: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``first_ack(cap, w_tx[cap].t[idx])`` (idx None: every row), from one computation for the whole table:
        the checks, jitter and the flight series each ask for part of it."""
        got = self._acks.get(cap)
        if got is None:
            got = self._acks[cap] = self.first_ack(cap, self.w_tx[cap].t)
        return got if idx is None else (got[0][idx], got[1][idx])

    def first_ack(self, cap: int, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For unwrapped TSNs ``t``: (row in w_sack[cap] of the first SACK that acked each, by its cumulative ack
        or a gap block, or -1; True where a gap block did it)."""
        s = self.w_sack.get(cap)
        t = np.asarray(t, dtype=np.int64)
        row = np.full(len(t), NONE, dtype=np.int64)
        by_gap = np.zeros(len(t), dtype=bool)
        if s is None or not len(s) or not len(t):
            return row, by_gap
        runmax = np.maximum.accumulate(s.cum)
        row = np.searchsorted(runmax, t, side="left")
        row = np.where(row < len(s), row, NONE)
        g = self.w_gap.get(cap)
        if g is not None and len(g):
            first_gap = self._first_gap(g, t)
            by_gap = (first_gap != NONE) & ((row == NONE) | (first_gap < row))
            row = np.where(by_gap, first_gap, row)
        return row, by_gap

    @staticmethod
    def _first_gap(g: Table, t: np.ndarray) -> np.ndarray:
        """Row of the first SACK (by sack row order) whose gap blocks cover each TSN, or -1.

        A TSN a SACK's gap blocks cover that the SACK before it covered too was first covered earlier, so each
        block only counts for what it adds to the previous SACK's block with the same start (a block grows as
        chunks arrive above a hole; repeated SACKs repeat it).  What is left is expanded against the wanted TSNs,
        and the lowest SACK row per TSN wins."""
        out = np.full(len(t), NONE, dtype=np.int64)
        if not len(t) or not len(g):
            return out
        start, end, sack = g.start, g.end, g.sack
        # the previous SACK's block with the same start (sack rows ascend; starts ascend within a SACK)
        key = sack.astype(np.int64) * (1 << 35) + (start - int(start.min()))
        o = np.argsort(key, kind="stable")
        skey = key[o]
        q = (sack.astype(np.int64) - 1) * (1 << 35) + (start - int(start.min()))
        pos = np.minimum(np.searchsorted(skey, q), len(skey) - 1)
        same = skey[pos] == q
        prev_end = np.where(same, end[o[pos]], start - 1)
        lo = np.maximum(start, prev_end + 1)
        order = np.argsort(t, kind="stable")
        ts_sorted = t[order]
        a = np.searchsorted(ts_sorted, lo, side="left")
        b = np.searchsorted(ts_sorted, end, side="right")
        cnt = np.maximum(b - a, 0)
        tot = int(cnt.sum())
        if not tot:
            return out
        rep_sack = np.repeat(sack, cnt)
        at = np.repeat(a - np.cumsum(cnt) + cnt, cnt) + np.arange(tot)
        best = np.full(len(t), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(best, at, rep_sack)
        hit = best != np.iinfo(np.int64).max
        out[order[hit]] = best[hit]
        return out


def _is_data(ctype: np.ndarray) -> np.ndarray:
    """``np.isin(ctype, DATA_TYPES)`` in two comparisons (np.isin sorts)."""
    return (ctype == DATA_TYPES[0]) | (ctype == DATA_TYPES[1])


def _tsn_base(asc: Assoc, side: int, kernels: list[KernelView], captures: list[WireView]) -> int | None:
    """The direction's first TSN by time in any source (the unwrap origin)."""
    cands: list[tuple[int, int]] = []
    ke = asc.kernel_end(side)
    if ke is not None:
        kv = kernels[ke[0]]
        m = (kv.echunks.end == ke[1]) & _is_data(kv.echunks.type)
        if m.any():
            i = int(np.flatnonzero(m)[0])
            cands.append((int(kv.echunks.ts[i]) + 10**18, int(kv.echunks.value[i])))   # kernel clock: last resort
    for c, aid in asc.wire.items():
        d = captures[c].data
        m = (d.assoc == aid) & (d.dir == asc.wire_dir(c, side))
        if m.any():
            i = int(np.flatnonzero(m)[0])
            cands.append((int(d.ts[i]), int(d.tsn[i])))
    if not cands:
        return None
    return min(cands)[1]


def _kernel_tx(kv: KernelView, end: int, base: int) -> Table:
    c = kv.echunks
    i = np.flatnonzero((c.end == end) & _is_data(c.type))     # (the columns read, not the whole table)
    return Table({"t": unwrap(c.value[i], base), "ts": c.ts[i], "jif": c.jif[i],
                  "sent_count": c.sent_count[i], "sent_at": c.sent_at[i], "rtx": c.rtx[i], "path": c.path[i],
                  "length": c.length[i] - np.where(c.type[i] == 64, 20, 16)})


def build_direction(asc: Assoc, side: int, kernels: list[KernelView], captures: list[WireView],
                    base: int | None = None) -> Direction | None:
    """Join one direction's TSNs, SACKs and HEARTBEATs (see the module doc).  ``base``: the unwrap origin an
    earlier window chose (a long run keeps one)."""
    if base is None:
        base = _tsn_base(asc, side, kernels, captures)
    rside = 1 - side
    d = Direction(asc, side, base if base is not None else 0)
    ke, re_ = asc.kernel_end(side), asc.kernel_end(rside)
    if ke is not None:
        d.k_rec, d.k_end = ke
    if re_ is not None:
        d.r_rec, d.r_end = re_
    if base is not None and ke is not None:
        d.k_tx = _kernel_tx(kernels[ke[0]], ke[1], base)
    # captures: DATA of this direction, SACKs of the other
    for c, aid in asc.wire.items():
        cap = captures[c]
        dd, sd = asc.wire_dir(c, side), asc.wire_dir(c, rside)
        if base is not None:
            m = (cap.data.assoc == aid) & (cap.data.dir == dd)
            w = cap.data[m]
            d.w_tx[c] = w.with_columns(t=unwrap(w.tsn, base))
        ms = (cap.sacks.assoc == aid) & (cap.sacks.dir == sd)
        rows = np.flatnonzero(ms)
        s = cap.sacks[ms]
        if base is None and len(s):
            d.base = base = int(s.cum[0])
        d.w_sack[c] = s.with_columns(cum=unwrap(s.cum, d.base))
        g = cap.gaps
        gm = np.isin(g.sack, rows)
        gg = g[gm]
        local = np.searchsorted(rows, gg.sack)
        d.w_gap[c] = Table({"start": unwrap(gg.start, d.base), "end": unwrap(gg.end, d.base), "sack": local})
    # kernel transmissions <-> wire appearances: the n-th transmission is the n-th appearance
    if d.k_tx is not None:
        for c, w in d.w_tx.items():
            d.w_tx_k[c] = occurrence_match(w.t, w.ts, d.k_tx.t, d.k_tx.ts)
    # the sender kernel's sack events
    if ke is not None:
        kv = kernels[ke[0]]
        ks = kv.sacks[kv.sacks.end == ke[1]]
        d.k_sack = ks.with_columns(cum=unwrap(ks.cum, d.base), ctsn=unwrap(ks.ctsn, d.base))
    if re_ is not None:
        kv = kernels[re_[0]]
        c = kv.echunks
        i = np.flatnonzero((c.end == re_[1]) & ((c.type == SACK_TYPES[0]) | (c.type == SACK_TYPES[1])))
        d.k_sack_out = Table({"cum": unwrap(c.value[i], d.base), "a_rwnd": c.a_rwnd[i], "ts": c.ts[i]})
    # SACK joins: (cum, a_rwnd, ngap, ndup) + occurrence
    caps = list(d.w_sack)
    if d.k_sack is not None:
        for c in caps:
            w = d.w_sack[c]
            d.k_sack_w[c] = match_keys([d.k_sack.cum, _pack(d.k_sack.a_rwnd, d.k_sack.ngap, d.k_sack.ndup)],
                                       d.k_sack.ts, [w.cum, _pack(w.a_rwnd, w.ngap, w.ndup)], w.ts)
    if d.k_sack_out is not None:
        for c in caps:
            w = d.w_sack[c]
            d.k_sack_out_w[c] = match_keys([d.k_sack_out.cum, d.k_sack_out.a_rwnd], d.k_sack_out.ts,
                                           [w.cum, w.a_rwnd], w.ts)
    for c in caps:
        for c2 in caps:
            if c2 != c:
                a, b = d.w_sack[c], d.w_sack[c2]
                d.w_sack_x[(c, c2)] = match_keys([a.cum, _pack(a.a_rwnd, a.ngap, a.ndup)], a.ts,
                                                 [b.cum, _pack(b.a_rwnd, b.ngap, b.ndup)], b.ts)
    d.hb = heartbeats(asc, side, kernels, captures)
    return d


def heartbeats(asc: Assoc, side: int, kernels: list[KernelView], captures: list[WireView]) -> dict[str, Any]:
    """HEARTBEATs ``side`` sent, by (nonce, sent_at), numbered 0..n-1 across every source: {"n", "k_sent":
    kernel hb_sent ts, "k_sent_path", "k_ack": kernel hb_ack ts, "k_ack_jif", "k_ack_id": the number of each
    kernel hb_ack row of that end, "w": {c: {"hb": ts, "ack": ts, "hb_path": path idx, "hb_frame", "ack_frame",
    "hb_count"}}}, every array indexed by the HEARTBEAT's number (-1: none)."""
    ke = asc.kernel_end(side)
    srcs: list[Table] = []
    k_sent = k_ack = None
    if ke is not None:
        kv = kernels[ke[0]]
        k_sent = kv.hb_sent[kv.hb_sent.end == ke[1]]
        k_ack = kv.hb_ack[kv.hb_ack.end == ke[1]]
        srcs += [k_sent, k_ack]
    w_rows: dict[int, tuple[Table, Table]] = {}
    for c, aid in asc.wire.items():
        h = captures[c].hbs
        m = (h.assoc == aid) & h.linux
        hb = h[m & ~h.ack & (h.dir == asc.wire_dir(c, side))]
        ack = h[m & h.ack & (h.dir == asc.wire_dir(c, 1 - side))]
        w_rows[c] = (hb, ack)
        srcs += [hb, ack]
    if not srcs or not sum(len(t) for t in srcs):
        return {"n": 0}
    ids = _key_ids(*[[t.nonce.view(np.int64) if t.nonce.dtype == np.uint64 else t.nonce.astype(np.int64),
                      t.sent_at] for t in srcs])
    n = int(max(int(i.max()) for i in ids if len(i))) + 1
    it = iter(ids)

    def pos(idx: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """ts of the first row (by ts) per HEARTBEAT (-1: none)."""
        out = np.full(n, NONE, dtype=np.int64)
        if len(idx):
            order = np.argsort(ts, kind="stable")[::-1]          # the earliest row is written last
            out[idx[order]] = ts[order]
        return out

    def rowpos(idx: np.ndarray, vals: np.ndarray) -> np.ndarray:
        out = np.full(n, NONE, dtype=np.int64)
        if len(idx):
            out[idx[::-1]] = vals[::-1]
        return out

    res: dict[str, Any] = {"n": n, "w": {}}
    if k_sent is not None and k_ack is not None:
        i_sent, i_ack = next(it), next(it)
        res["k_sent"] = pos(i_sent, k_sent.ts)
        res["k_sent_path"] = rowpos(i_sent, k_sent.path.astype(np.int64))
        res["k_ack"] = pos(i_ack, k_ack.ts)
        res["k_ack_jif"] = rowpos(i_ack, k_ack.jif)
        res["k_ack_id"] = i_ack
    for c, (hb, ack) in w_rows.items():
        i_hb, i_ack = next(it), next(it)
        res["w"][c] = {"hb": pos(i_hb, hb.ts), "ack": pos(i_ack, ack.ts),
                       "hb_path": rowpos(i_hb, hb.path.astype(np.int64)),
                       "hb_frame": rowpos(i_hb, hb.frame.astype(np.int64)),
                       "ack_frame": rowpos(i_ack, ack.frame.astype(np.int64)),
                       "hb_count": np.bincount(i_hb, minlength=n) if len(i_hb) else np.zeros(n, dtype=np.int64)}
    return res
