"""The two ways a long run is read: ``--raw`` recordings (columns written by the C reader, _ringbuf.columns) and
windows (``correlate_io.correlate_windows``).  Both must give what the JSONL recording read in one piece gives,
on the committed bundles (real kernel data)."""
from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from sctpcorr import correlate_io
from sctpcorr.kernel import _ringbuf, abi

from bundles import bundle


def _events(b: Path) -> list[dict]:
    p = next((b / "kernel").glob("probe.jsonl*"))
    data = p.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def _raw_bundle(b: Path, tmp: Path) -> Path:
    """A copy of bundle ``b`` whose recording is --raw records made from its JSONL (abi.encode_struct)."""
    out = tmp / b.name
    shutil.copytree(b, out)
    k = out / "kernel"
    for p in k.glob("probe.jsonl*"):
        p.unlink()
    with open(k / "probe.raw", "wb") as f:
        for e in _events(b):
            s = abi.encode_struct(e) if e.get("type") not in ("startup", "end", "clock") else None
            if s is not None:
                rec = bytes(s)
                f.write(struct.pack("<I", len(rec)) + rec)
    return out


def test_encode_struct_is_the_inverse_of_decode():
    evs = [e for e in _events(bundle("lossy")) if abi.encode_struct(e) is not None]
    assert len(evs) > 1000
    kinds = set()
    for e in evs:
        d = abi.decode(bytes(abi.encode_struct(e)), 250)
        kinds.add(e["type"])
        for k, v in e.items():
            if k in d and k not in ("derived",):
                assert d[k] == v, (e["type"], k, v, d[k])
    assert {"egress", "sack", "rto_update", "hb_sent", "hb_ack", "path"} <= kinds


def test_columns_reader_matches_the_structures():
    raw = b"".join(struct.pack("<I", len(bytes(s))) + bytes(s) for s in
                   (abi.encode_struct(e) for e in _events(bundle("lossy"))) if s is not None)
    cols, used, bad = _ringbuf.columns(raw + b"\x10\x00")          # a torn length at the end is left over
    recs, used2, _ = _ringbuf.split(raw)
    assert used == used2 == len(raw) and bad == 0
    for code, v in cols.items():
        name, cls = abi.EVENT_TYPES[code]
        if not isinstance(v, dict):
            assert v == recs[code]
            continue
        a = np.frombuffer(recs[code], dtype=np.dtype(cls))
        assert np.array_equal(np.frombuffer(v["ts_ns"], np.int64), a["hdr"]["ts_ns"].astype(np.int64)), name
        assert np.array_equal(np.frombuffer(v["my_vtag"], np.int64), a["hdr"]["my_vtag"].astype(np.int64)), name
        if name == "egress":
            n = np.minimum(a["n_recorded"], abi.MAX_CHUNKS)
            tsn = np.concatenate([a["chunks"]["value"][i, :n[i]] for i in range(len(a))])
            assert np.array_equal(np.frombuffer(v["c.value"], np.int64), tsn.astype(np.int64))
        if name == "sack":
            assert np.array_equal(np.frombuffer(v["cum_tsn_ack"], np.int64), a["cum_tsn_ack"].astype(np.int64))


@pytest.mark.parametrize("name", ["lossy", "failover"])
def test_raw_recording_gives_the_jsonl_verdicts(name, tmp_path):
    b = bundle(name)
    one, _ = correlate_io.run(bundles=[str(b)])
    raw, _ = correlate_io.run(bundles=[str(_raw_bundle(b, tmp_path))])
    assert raw.kernels[0].raw and not one.kernels[0].raw

    def verdicts(cx):   # noqa: ANN001, ANN202
        return [(c.name, c.assoc, c.direction, c.verdict) for c in cx.checks if c.name != "recording"]

    assert verdicts(raw) == verdicts(one)
    assert len(raw.samples) == len(one.samples)
    a, b_ = one.samples.cols, raw.samples.cols
    for k in ("ts_ns", "rtt_ns", "tsn", "match", "k_send_ns"):
        assert np.array_equal(a[k], b_[k]), k
    # capture times in the kernel's clock: the raw bundle's offset is the manifest's reading of the same clocks
    # (a few microseconds of uncertainty), not the JSONL startup record's
    for k in ("w_out_ns", "w_in_ns"):
        assert np.abs(a[k] - b_[k]).max() <= 10_000, k


@pytest.mark.parametrize("name", ["lossy", "hostdelay", "bulk"])
def test_windows_give_the_one_piece_result(name):
    """Small windows (a few hundred kernel events, 2 s of context) against one piece: same checks, same
    verdicts, same RTT samples with the same decomposition."""
    b = str(bundle(name))
    one, _ = correlate_io.run(bundles=[b], window_events=0)
    inp = correlate_io.Inputs()
    correlate_io.open_bundle(b, inp)
    off = correlate_io.plan_windows(inp, True, window_events=300)
    assert off is not None     # a lab bundle: one recording, both captures on its clock, the offset recorded
    win = correlate_io.correlate_windows(inp, off, None, True, window_events=300, margin_ns=2_000_000_000)
    inp.close()
    assert win.windows > 1 and one.windows == 1
    assert [(c.name, c.assoc, c.direction, c.verdict) for c in win.checks] == \
        [(c.name, c.assoc, c.direction, c.verdict) for c in one.checks]
    for a, w in zip(one.checks, win.checks):
        if a.name in ("rtt_samples", "rto", "tsn_coverage", "retransmissions", "path_state"):
            # counts are exact; medians come from a bounded sketch
            ka = {k: v for k, v in a.numbers.items() if not k.endswith("median_ns")}
            kw = {k: v for k, v in w.numbers.items() if not k.endswith("median_ns")}
            assert ka == kw, a.name
    assert len(win.samples) == len(one.samples)
    cw, co = win.samples.cols, one.samples.cols       # a window's samples come direction by direction
    ow, oo = (np.lexsort((c["ts_ns"], c["side"], c["assoc"])) for c in (cw, co))
    for k in ("ts_ns", "tsn", "match", "hb", "k_send_ns"):
        assert np.array_equal(cw[k][ow], co[k][oo]), k
    # capture times in the kernel's clock: a window uses the clock records read so far (the recording's last one
    # comes at its end), within their few microseconds of uncertainty
    for k in ("w_out_ns", "w_in_ns", "a_far_ns", "d_far_ns"):
        a, b_ = cw[k][ow], co[k][oo]
        assert np.array_equal(a == np.iinfo(np.int64).min, b_ == np.iinfo(np.int64).min), k
        assert np.abs(a - b_).max() <= 10_000, k


def test_raw_blocks_sliced_and_torn(monkeypatch):
    """--raw records cut anywhere: in the C reader's 1 MB slices (here 4 kB) and at the end of the recording
    (a recorder that was killed): every whole record is read once, the torn one is counted."""
    from sctpcorr.correlate import kernel as kmod

    raw = b"".join(struct.pack("<I", len(bytes(s))) + bytes(s) for s in
                   (abi.encode_struct(e) for e in _events(bundle("lossy"))) if s is not None)
    whole = kmod.KernelView.build_raw(raw, 250)
    monkeypatch.setattr(kmod, "RAW_SLICE", 4096)
    torn = kmod.KernelView.build_raw(raw + raw[:100], 250)
    assert whole.bad_records == 0 and torn.bad_records == 1
    assert whole.counts == torn.counts and whole.counts["egress"] > 500
    for col in ("ts", "jif", "value", "end", "path", "sent_at", "sent_count"):   # each chunk with its packet
        assert np.array_equal(getattr(whole.echunks, col), getattr(torn.echunks, col)), col
    assert np.array_equal(whole.rto.ts, torn.rto.ts)


def test_rare_records_of_the_wrong_length_are_counted():
    """A kept (rare) type's records are concatenated by the C reader at the lengths they came with: one 8 bytes
    too long, a later one 8 bytes too short (a corrupt file; the fuzzer's raw-rare-record-misaligned) shift the
    records between them, whose own type then disagrees with the frame's.  Those are counted as bad, never
    decoded as garbage nor raised (abi.decode's AbiError); the records outside the shift are read as before."""
    from sctpcorr.correlate import kernel as kmod

    structs = [s for s in (abi.encode_struct(e) for e in _events(bundle("lossy"))) if s is not None]
    code = next(c for c, (name, _cls) in abi.EVENT_TYPES.items() if name == "cwnd")
    cwnd = [i for i, s in enumerate(structs) if s.hdr.type == code]
    assert len(cwnd) > 10
    long_i, short_i = cwnd[2], cwnd[6]         # records 3..6 of the type are shifted by 8 bytes

    def frame(i: int, s: object) -> bytes:
        rec = bytes(s)
        rec = rec + bytes(8) if i == long_i else rec[:-8] if i == short_i else rec
        return struct.pack("<I", len(rec)) + rec

    clean = kmod.KernelView.build_raw(b"".join(frame(-1, s) for s in structs), 250)
    bad = kmod.KernelView.build_raw(b"".join(frame(i, s) for i, s in enumerate(structs)), 250)
    assert clean.bad_records == 0
    assert bad.bad_records == 4                 # the short one and the three between (their type is shifted)
    kept = [r for r in bad.other if r["type"] == "cwnd"]
    assert len(kept) == len(cwnd) - 4
    assert all(r in clean.other for r in bad.other)


def test_capture_feed_keeps_what_the_windows_need():
    """The record buffer of a capture read in windows: kept block by block, dropped from the front (whole
    blocks, and part of one); what it hands out is always exactly the records of the capture in the range asked
    for."""
    b = bundle("lossy")
    cap = next(b.glob("client.pcapng*"))
    whole = correlate_io.load_capture(str(cap))
    allts = np.sort(whole.data.ts)
    f = correlate_io.CaptureFeed(str(cap))
    lo = None
    while f.more():
        r = f.records()
        if len(r) > 200:
            lo = int(np.sort(r["ts_ns"])[len(r) // 2])
            f.drop_before(lo)
            assert len(f.records()) and int(f.records()["ts_ns"].min()) >= lo
    assert lo is not None
    v = f.view(lo, 1 << 62)
    assert np.array_equal(np.sort(v.data.ts), allts[allts >= lo])


@pytest.mark.parametrize("in_order", [True, False])
def test_record_buffer_pieces_are_the_records_in_range(in_order):
    """RecordBuffer.pieces / records against a mask on all the records, in time order (slices of the blocks)
    and not (masks), before and after dropping the front; WireView of the pieces equals WireView of one array."""
    from sctpcorr.correlate.wire import KINDS, RecordBuffer, WireView

    f = correlate_io.CaptureFeed(str(next(bundle("lossy").glob("client.pcapng*"))))
    while f.more():
        pass
    allr = f.records().copy()
    step = max(1, len(allr) // 20)
    blocks = [allr[i:i + step] for i in range(0, len(allr), step)]
    if not in_order:
        blocks[3], blocks[7] = blocks[7], blocks[3]
    rb = RecordBuffer()
    for blk in blocks:
        rb.add(blk.tobytes())
    assert rb._sorted == in_order
    cat = np.concatenate(blocks)
    ts = cat["ts_ns"]
    for cut in (None, int(np.quantile(ts, 0.3))):
        if cut is not None:
            rb.drop_before(cut)
            cat = cat[cat["ts_ns"] >= cut]
            ts = cat["ts_ns"]
        assert len(rb) == len(cat)
        for lo, hi in ((int(ts.min()), int(ts.max()) + 1), (int(np.quantile(ts, 0.4)), int(np.quantile(ts, 0.8)))):
            want = cat[(ts >= lo) & (ts < hi)]
            assert np.array_equal(rb.records(lo, hi), want)
            a, b_ = WireView("x", rb.pieces(lo, hi), {}), WireView("x", want, {})
            assert (a.first_ns, a.last_ns) == (b_.first_ns, b_.last_ns)
            for k in KINDS:
                for c in getattr(a, k).columns:
                    assert np.array_equal(getattr(getattr(a, k), c), getattr(getattr(b_, k), c)), (k, c)


def test_rare_events_decoded_by_columns_equal_decode():
    """``kernel.decode_rare`` (column by column) gives what ``abi.decode`` gives record by record: the path state
    and association change events of two lab bundles, and random records of both types."""
    from sctpcorr.correlate.kernel import _dtype_of, decode_rare

    rng = np.random.default_rng(9)
    for name in ("path_state", "assoc_change"):
        code = next(c for c, (n, _cls) in abi.EVENT_TYPES.items() if n == name)
        cls = abi.EVENT_TYPES[code][1]
        recs = [bytes(s) for b in ("failover", "lossy") for s in
                (abi.encode_struct(e) for e in _events(bundle(b)) if e.get("type") == name) if s is not None]
        size = len(bytes(cls()))
        for _ in range(200):
            r = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            r[:4] = code.to_bytes(4, "little")
            if name == "path_state":
                off = cls.path.offset + abi.Path.addr.offset
                r[off:off + 2] = int(rng.choice([0, 2, 10, 7])).to_bytes(2, "little")
            recs.append(bytes(r))
        arr = np.frombuffer(b"".join(recs), dtype=_dtype_of(cls))
        assert [list(d.items()) for d in decode_rare(name, arr)] == [list(abi.decode(r).items()) for r in recs]
        assert len(recs) > 200


def test_end_groups_number_the_ends_as_numpy_does():
    """_cjoin.end_groups against the numpy it replaced: groups by (netns << 48) | (lport << 32) | my_vtag
    (wrapped to 64 bits: netns values above 16 bits collide, as they did), rows in order, extremes per group."""
    from sctpcorr.correlate import _cjoin

    rng = np.random.default_rng(2)
    for trial in range(50):
        parts = []
        for _t in range(int(rng.integers(1, 4))):
            n = int(rng.integers(0, 40))
            parts.append(tuple(np.ascontiguousarray(x, dtype=np.int64) for x in (
                rng.integers(0, 1 << 40, n), rng.choice([4026531840, 4026532000, 4026597376, 5], n),
                rng.choice([5000, 36412], n), rng.choice([0, 1, 0xDEADBEEF, 0xFFFFFFFF], n), rng.integers(0, 8, n))))
        ts, ns, lp, vt, st = (np.concatenate([p[j] for p in parts]) for j in range(5))
        gid = np.empty(len(ts), dtype=np.int64)
        groups = _cjoin.end_groups(gid, parts)
        key = (ns << 48) | (lp << 32) | vt
        assert sorted(g[0] for g in groups) == np.unique(key).tolist()
        for g, (k, first, n, tlo, thi, slo, shi, g_ns, g_lp, g_vt) in enumerate(groups):
            rows = np.flatnonzero(key == k)
            assert np.array_equal(np.flatnonzero(gid == g), rows)
            assert (first, n, tlo, thi, slo, shi) == (rows[0], len(rows), ts[rows].min(), ts[rows].max(),
                                                      st[rows].min(), st[rows].max())
            assert (g_ns, g_lp, g_vt) == (ns[first], lp[first], vt[first])


def test_addresses_numbered_as_row_by_row():
    """_cjoin.addr_groups + KernelView._group_addr_ids number a block's path addresses (IPv4, IPv6, none) as the
    numpy code kept for a family conflict does: same ids per row, new addresses in the same order."""
    from sctpcorr.correlate import _cjoin
    from sctpcorr.correlate.kernel import KernelView

    def by_rows(kv, fam, aa, ab):          # the numpy numbering (KernelView's fallback)
        return kv._addr_ids_by_rows(fam, aa, ab)

    rng = np.random.default_rng(12)
    v4 = [(2, int.from_bytes(bytes([198, 18, i, 1]), "little"), 0) for i in range(1, 5)] + [(0, 0, 0)]
    v6 = [(10, int(rng.integers(0, 1 << 62)) * (1 if i % 2 else -1), int(rng.integers(0, 1 << 62))) for i in range(4)]
    for trial in range(40):
        pool = v4 if trial % 2 else v4 + v6
        pick = rng.integers(0, len(pool), int(rng.integers(1, 200)))
        fam, aa, ab = (np.array([pool[i][j] for i in pick], dtype=np.int64) for j in range(3))
        a, b = KernelView(), KernelView()
        dense = np.empty(len(fam), dtype=np.int64)
        groups, pairs = _cjoin.addr_groups(dense, fam, aa, ab, np.zeros(len(fam), dtype=np.int64))
        got = a._group_addr_ids(groups)[dense]
        assert np.array_equal(got, by_rows(b, fam, aa, ab)) and a.addrs == b.addrs
        assert sorted(pairs) == sorted({(0, int(g)) for g in dense})
    dense = np.empty(2, dtype=np.int64)            # one address's bytes under two families: left to numpy
    assert _cjoin.addr_groups(dense, np.array([2, 0]), np.array([5, 5]), np.array([0, 0]), np.zeros(2, np.int64)) is None
