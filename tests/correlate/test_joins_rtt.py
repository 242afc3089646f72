"""Pure pieces of the joins and the RTT module: TSN unwrapping, occurrence matching, Linux's RTO arithmetic."""
from __future__ import annotations

import numpy as np

from sctpcorr.correlate.joins import occurrence_match, unwrap
from sctpcorr.correlate.rtt import recompute_rto


def test_unwrap_is_serial_arithmetic_around_the_base():
    base = 0xFFFFFFF0
    t = np.array([0xFFFFFFF0, 0xFFFFFFFF, 0, 5, 0xFFFFFFE0], dtype=np.uint32)
    assert unwrap(t, base).tolist() == [base, base + 15, base + 16, base + 21, base - 16]


def test_occurrence_match_pairs_the_nth_with_the_nth():
    # ids: TSN 7 sent twice, 8 once; the capture shows 7 twice and 9 once (8 lost before the capture point)
    a_ids, a_ts = np.array([7, 8, 7]), np.array([1, 2, 3])
    b_ids, b_ts = np.array([7, 9, 7]), np.array([10, 11, 12])
    assert occurrence_match(a_ids, a_ts, b_ids, b_ts).tolist() == [0, -1, 2]
    assert occurrence_match(np.array([1]), np.array([1]), np.array([], dtype=np.int64),
                            np.array([], dtype=np.int64)).tolist() == [-1]


def test_the_c_join_equals_the_numpy_reference():
    """``match_keys`` (a join in C: a direct table for one column of keys in a short range, else a hash table)
    against key numbering + ``_occurrence_match_np`` (sorts), on random keys with many repeats, near and far
    apart, many second keys under one first key, times in order and not (ties included), one and two key
    columns, empty sides."""
    from sctpcorr.correlate.joins import _key_ids, _occurrence_match_np, match_keys

    rng = np.random.default_rng(8)
    for trial in range(200):
        na, nb = int(rng.integers(0, 60)), int(rng.integers(0, 60))
        if trial % 11 == 0:
            na, nb = na + 300, nb + 300
        two = bool(trial % 2)
        span = int(rng.integers(1, 12))
        ka = [rng.integers(-span, span, na) for _ in range(2 if two else 1)]
        kb = [rng.integers(-span, span, nb) for _ in range(2 if two else 1)]
        if trial % 3:
            ka[0] = ka[0] + (1 << 40)        # large keys (unwrapped TSNs, packed a_rwnd)
            kb[0] = kb[0] + (1 << 40)
        if trial % 7 == 0:                    # keys far apart: hashed, not a direct table
            ka[0], kb[0] = ka[0] * 1_000_003, kb[0] * 1_000_003
        ta = np.sort(rng.integers(0, 20, na)) if trial % 4 else rng.integers(0, 20, na)
        tb = np.sort(rng.integers(0, 20, nb)) if trial % 5 else rng.integers(0, 20, nb)
        if two and trial % 11 == 0:           # one first key, many second keys: long chains, then hashed
            ka[0][:], kb[0][:] = 7, 7
            ka[1], kb[1] = rng.integers(0, 150, na), rng.integers(0, 150, nb)
        ia, ib = _key_ids(ka, kb)
        want = _occurrence_match_np(ia, ta, ib, tb)
        assert match_keys(ka, ta, kb, tb).tolist() == want.tolist()
        if not two:
            assert occurrence_match(ka[0], ta, kb[0], tb).tolist() == want.tolist()


def test_rto_follows_linux_integer_arithmetic():
    rows = [{"rtt_j": 11, "srtt_b": 0, "rttvar_b": 0, "rto_min": 50, "rto_max": 500},       # C2
            {"rtt_j": 15, "srtt_b": 11, "rttvar_b": 5, "rto_min": 50, "rto_max": 500},      # C3
            {"rtt_j": 0, "srtt_b": 0, "rttvar_b": 1, "rto_min": 50, "rto_max": 500},        # G1: RTTVAR >= 1
            {"rtt_j": 400, "srtt_b": 300, "rttvar_b": 100, "rto_min": 50, "rto_max": 500}]  # C7: capped
    got = recompute_rto(rows)
    assert got[0] == {"srtt": 11, "rttvar": 5, "rto": 50}            # 11 + 20 = 31 -> rto_min 50
    # rttvar = 5 - 1 + (4 >> 2) = 5; srtt = 11 - 1 + (15 >> 3) = 11
    assert got[1] == {"srtt": 11, "rttvar": 5, "rto": 50}
    assert got[2]["rttvar"] == 1
    assert got[3]["rto"] == 500


def test_rfc3550_blocks_equal_the_recurrence():
    from sctpcorr.correlate.jitter import rfc3550

    d = np.random.default_rng(7).normal(0, 2e6, 5000)     # differences of transit times, ns
    j = 123.0
    for x in np.abs(d):
        j += (x - j) / 16.0
    assert abs(rfc3550(d, 123.0) - j) <= 1e-9 * j
    assert rfc3550(d[:1], 0.0) == abs(d[0]) / 16.0
    assert rfc3550(np.array([]), 5.0) == 5.0


def test_the_c_record_split_equals_the_numpy_reference():
    """``wire._split`` (one pass in C) against ``wire._split_np`` (sort by kind, gather, a pass per column): the
    records of a lab capture, and random records of every kind (GAP/DUP before any SACK, I-DATA, NR-SACK)."""
    from sctpcorr.correlate.wire import KINDS, _split, _split_np
    from sctpcorr.correlate_io import CaptureFeed
    from sctpcorr.wire.records import RECORD_DTYPE

    rng = np.random.default_rng(5)
    n = 5000
    raw = rng.integers(0, 256, n * RECORD_DTYPE.itemsize, dtype=np.uint8).view(RECORD_DTYPE).copy()
    raw["type"] = rng.choice([0, 64, 3, 16, 0xF0, 0xF1, 4, 5, 1, 2, 6, 10, 11, 14], n)
    raw["dir"] = rng.integers(0, 2, n)
    f = CaptureFeed("pcaps/lab/lossy/client.pcapng.gz")
    while f.more():
        pass
    for recs in (raw, f.records(), f.records()[:0], raw[raw["type"] == 0xF0]):
        got, want = _split(recs), _split_np(recs)
        assert got[1:] == want[1:]
        for k in KINDS:
            a, b = got[0][k], want[0][k]
            assert a.columns == b.columns, k
            for c in a.columns:
                x, y = getattr(a, c), getattr(b, c)
                assert x.dtype == y.dtype and np.array_equal(x, y), (k, c)
    assert len(_split(f.records())[0]["data"]) > 100


def _retransmissions_one_by_one(t, k, kw, w, m, ww):
    """measure_retransmissions as it was, item by item: the reference for the counted version."""
    from sctpcorr.correlate.checks import RTX_NAMES, WIRE_KIND

    k_rtx = np.flatnonzero(kw & (k.sent_count > 1))
    for code in k.rtx[k_rtx].tolist():
        t.add("kernel." + RTX_NAMES.get(code, "unknown"))
    for i in np.flatnonzero(ww & w.rtx).tolist():
        t.add("wire." + WIRE_KIND[int(w.kind[i])])
    t.add("wire.spurious", int((ww & w.rtx & w.spurious).sum()))
    k_to_w = np.full(len(k), -1, dtype=np.int64)
    ok = m != -1
    k_to_w[m[ok]] = np.flatnonzero(ok)
    for ki in k_rtx.tolist():
        reason = RTX_NAMES.get(int(k.rtx[ki]), "unknown")
        wi = int(k_to_w[ki])
        if wi == -1:
            t.add("kernel_rtx_not_on_wire")
            continue
        if not w.rtx[wi]:
            t.add("original_not_captured")
            continue
        wk = WIRE_KIND[int(w.kind[wi])]
        t.add(f"pair.{reason}/{wk}")
        if (reason, wk) in (("fast", "fast"), ("t3", "timeout"), ("t1", "timeout"), ("pmtud", "timeout"),
                            ("unknown", "unknown")):
            t.add("matched_same_kind")
        else:
            t.add("kind_differs")
            t.example("kind_differs", [f"TSN {int(k.t[ki]) & 0xFFFFFFFF}: kernel {reason}, wire {wk}"])
    first_k = np.zeros(len(w), dtype=bool)
    first_k[ok] = k.sent_count[m[ok]] == 1
    t.add("wire_rtx_kernel_sent_once", int((ww & w.rtx & first_k).sum()))
    t.add("wire_rtx_without_kernel_event", int((ww & w.rtx & ~ok).sum()))


def test_retransmissions_counted_as_one_by_one():
    """measure_retransmissions counts by category; the tally (names in first-seen order, counts, examples) must
    be the one adding item by item gave, window after window."""
    from types import SimpleNamespace

    from sctpcorr.correlate import checks
    from sctpcorr.correlate.tables import Table

    rng = np.random.default_rng(4)
    for trial in range(60):
        book_new, book_old = checks.Book(), checks.Book()
        for _window in range(3):
            nk, nw = int(rng.integers(0, 80)), int(rng.integers(0, 80))
            k = Table({"t": rng.integers(0, 1 << 33, nk), "ts": np.arange(nk, dtype=np.int64),
                       "sent_count": rng.integers(1, 4, nk).astype(np.int32),
                       "rtx": rng.choice([0, 1, 2, 3, 4, 5, 9, -7], nk).astype(np.int8)})
            w = Table({"ts": np.arange(nw, dtype=np.int64), "rtx": rng.random(nw) < 0.5,
                       "kind": rng.integers(0, 3, nw).astype(np.int8), "spurious": rng.random(nw) < 0.2})
            m = np.full(nw, -1, dtype=np.int64)
            take = rng.permutation(nk)[:min(nk, nw)]
            m[:len(take)] = take
            m[rng.random(nw) < 0.2] = -1
            rng.shuffle(m)
            kw, ww = rng.random(nk) < 0.8, rng.random(nw) < 0.8
            asc = SimpleNamespace(id=1, near=[[0], [1]])
            d = SimpleNamespace(k_tx=k, w_tx={0: w}, w_tx_k={0: m}, asc=asc, side=0, k_rec=0, k_end=0)
            W = SimpleNamespace(in_win=lambda ts, kw=kw: kw, wire_in_win=lambda r, c, ts, ww=ww: ww,
                                captures=[SimpleNamespace(name="cap")],
                                kernels=[SimpleNamespace(other=[], addrs=[])])     # no T3 expiry recorded
            checks.measure_retransmissions(W, d, book_new)
            t = book_old.get("retransmissions", 1, "A>B")
            _retransmissions_one_by_one(t, k, kw, w, m, ww)
        a, b = book_new.get("retransmissions", 1, "A>B"), book_old.get("retransmissions", 1, "A>B")
        assert list(a.n.items()) == list(b.n.items())
        assert a.ex == b.ex


def test_record_buffer_times_in_one_pass():
    """RecordBuffer.add reads a block's first, smallest and largest time and whether it is in order with
    _cjoin.wire_ts: the same as numpy on the ts column."""
    from sctpcorr.correlate import _cjoin
    from sctpcorr.wire.records import RECORD_DTYPE

    rng = np.random.default_rng(6)
    for n in (1, 2, 5, 100):
        for ordered in (True, False):
            r = np.zeros(n, dtype=RECORD_DTYPE)
            ts = rng.integers(-(10**12), 10**18, n)
            r["ts_ns"] = np.sort(ts) if ordered else ts
            t = r["ts_ns"]
            assert _cjoin.wire_ts(r.tobytes()) == (int(t[0]), int(t.min()), int(t.max()),
                                                   not bool((t[1:] < t[:-1]).any()))
    assert _cjoin.wire_ts(b"") == (None, None, None, True)
