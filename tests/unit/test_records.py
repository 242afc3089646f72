"""Per-chunk records (``Analyzer(records=True)``, ``drain_records()``, ``sctpcorr.wire.records``): their layout, what
each type carries, that they say what the engine decided (the same as its events and report), and their bounds."""
from __future__ import annotations

import struct
from collections import Counter

import numpy as np
import pytest

import craft
from craft import (
    MS, S, US, Assoc, abort, analyze, cause, data, error, feed, heartbeat, heartbeat_ack, linux_hb_info, named,
    pcap_bytes, raw_chunk, sack, shutdown,
)
from corpora import OWN_PCAPS
from sctpcorr.wire import _engine, engine
from sctpcorr.wire import records as R

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"
LOSSY = OWN_PCAPS / "synthetic" / "ngap-lossy-multihomed.pcapng.gz"


def run(frames, **kw):
    """(records array, report, events) of frames fed one by one with records and events on."""
    an = _engine.Analyzer(events=True, records=True, **kw)
    feed(an, frames)
    return R.as_array(an.drain_records()), an.report(), an.drain_events()


def of_type(r, *types):
    return r[np.isin(r["type"], types)]


def idata(tsn, sid, mid, ppid_or_fsn, payload=b"x" * 10, flags=0x03):
    """An I-DATA chunk (RFC 8260 §2.1): TSN, SID, reserved, MID, PPID (B bit) or FSN."""
    return raw_chunk(64, flags, struct.pack(">IHHII", tsn, sid, 0, mid, ppid_or_fsn) + payload)


def nr_sack(cum, a_rwnd, gaps, nr_gaps, dups):
    """An NR-SACK (draft-tuexen-tsvwg-sctp-multipath): #gap, #nr-gap, #dup, reserved, then the three lists; blocks
    as offsets from cum."""
    body = struct.pack(">IIHHHH", cum, a_rwnd, len(gaps), len(nr_gaps), len(dups), 0)
    body += b"".join(struct.pack(">HH", s, e) for s, e in (*gaps, *nr_gaps))
    body += b"".join(struct.pack(">I", d) for d in dups)
    return raw_chunk(16, 0, body)


# ------------------------------------------------------------------------------------------------ layout


def test_dtype_matches_the_c_struct():
    assert _engine.RECORD_SIZE == R.RECORD_SIZE == R.RECORD_DTYPE.itemsize == 64
    fields = _engine.RECORD_FIELDS
    assert [f[0] for f in fields] == list(R.RECORD_DTYPE.names)
    for name, offset, size in fields:
        dt, off = R.RECORD_DTYPE.fields[name][:2]
        assert (off, dt.itemsize) == (offset, size), name
        assert dt.byteorder in ("=", "|"), name                    # native byte order, like the C struct
    assert sum(size for _, _, size in fields) == 64                 # no hidden padding


def test_records_off_gives_nothing():
    a = Assoc.make()
    a.handshake()
    a.a_sends(data(1000))
    an = _engine.Analyzer()
    feed(an, a.frames)
    assert an.drain_records() == b""
    assert an.report()["capture"]["limits"]["records_dropped"] == 0
    with pytest.raises(TypeError):
        _engine.Analyzer(False, 0, 10, 64, True)                    # records is keyword-only


def test_as_array_is_a_view_and_checks_the_size():
    buf = bytes(128)
    arr = R.as_array(buf)
    assert len(arr) == 2 and not arr.flags.writeable and arr.base is not None
    with pytest.raises(ValueError):
        R.as_array(bytes(65))


# ------------------------------------------------------------------------------------------------ DATA


def retransmission_scenario() -> Assoc:
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.handshake()
    a.a_sends(data(1000, sid=2, ssn=7, ppid=60, payload=100, immediate=True))
    for tsn in (1001, 1002, 1003):
        a.wait(1 * MS).a_sends(data(tsn, sid=1, ssn=tsn - 1000, ppid=46, payload=tsn - 990))
    a.wait(20 * MS).b_sends(sack(999, gaps=[(1001, 1001)]))
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1002)]))
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1003)]))
    a.wait(100 * US).a_sends(data(1000, sid=2, ssn=7, ppid=60, payload=100))      # fast
    a.wait(20 * MS).b_sends(sack(1003))
    a.wait(1 * MS).a_sends(data(1004, payload=8), data(1005, payload=9))
    a.wait(1 * S).a_sends(data(1004, payload=8), src=A2, dst=B2)                 # timeout, other path
    a.wait(2 * MS).b_sends(sack(1005, dups=[1004]))                               # spurious after all
    a.wait(2 * S).a_sends(data(1003, sid=1, ssn=3, ppid=46, payload=13))          # spurious when sent
    a.b_sends(data(5000, ppid=18, unordered=True), sack(1005))
    return a


def test_data_records_carry_the_wire_fields():
    a = retransmission_scenario()
    r, rep, _ = run(a.frames)
    d = of_type(r, R.DATA)
    assert [int(x) for x in d["tsn"]] == [1000, 1001, 1002, 1003, 1000, 1004, 1005, 1004, 1003, 5000]
    first = d[0]
    assert (first["tsn"], first["c"] >> 16, first["c"] & 0xFFFF, first["a"], first["b"]) == (1000, 2, 7, 60, 100)
    assert first["note"] & R.IBIT and first["flags"] == 0x0B                     # I, B, E
    assert [(int(x["tsn"]), int(x["b"])) for x in d[1:4]] == [(1001, 11), (1002, 12), (1003, 13)]
    last = d[-1]
    assert (last["tsn"], last["dir"], last["a"], last["flags"] & 0x04) == (5000, 1, 18, 0x04)
    assert last["chunk_index"] == 0 and of_type(r, R.SACK)[-1]["chunk_index"] == 1
    two = d[(d["tsn"] == 1005)]
    assert len(two) == 1 and two[0]["chunk_index"] == 1 and two[0]["frame_no"] == d[d["tsn"] == 1004][0]["frame_no"]
    # ids, tags, times, frames, paths: those of the packet
    s = rep["associations"][0]
    assert set(r["assoc_id"].tolist()) == {s["id"]}
    for x in d:
        p = s["paths"][x["path"]]
        assert p["direction"] == ("A>B", "B>A")[x["dir"]]
        assert x["vtag"] == s["vtags"][1 - x["dir"]]
        frame = a.frames[x["frame_no"] - 1]
        assert x["ts_ns"] == frame.ts_ns


def test_data_notes_say_what_the_retransmission_events_say():
    a = retransmission_scenario()
    r, rep, ev = run(a.frames)
    rtx = {(e["frame_no"], e["tsn"]): e for e in named(ev, "retransmission")}
    assert len(rtx) == 3
    kinds = {"fast": R.KIND_FAST, "timeout": R.KIND_TIMEOUT, "unknown": R.KIND_UNKNOWN}
    seen = set()
    for x in of_type(r, R.DATA, R.I_DATA):
        e = rtx.get((int(x["frame_no"]), int(x["tsn"])))
        note = int(x["note"])
        if e is None:
            assert note & (R.RTX | R.KIND_MASK | R.SPURIOUS) == 0 and note & R.FIRST, x
            continue
        seen.add((e["frame_no"], e["tsn"]))
        assert note & R.RTX and not note & R.FIRST
        assert (note & R.KIND_MASK) >> R.KIND_SHIFT == kinds[e["kind"]]
        assert bool(note & R.SPURIOUS) == e["spurious"]
        p = rep["associations"][0]["paths"][x["path"]]
        assert (p["src"], p["dst"]) == (e["src"], e["dst"])
    assert seen == set(rtx)
    notes = [(int(x["tsn"]), int(x["note"]) & ~R.IBIT) for x in of_type(r, R.DATA) if x["note"] & R.RTX]
    assert notes == [(1000, R.RTX | R.KIND_FAST << 1), (1004, R.RTX | R.KIND_TIMEOUT << 1),
                     (1003, R.RTX | R.KIND_TIMEOUT << 1 | R.SPURIOUS)]
    # 1004's event (and record) said not spurious; the peer's dup report later did: a "spurious" event
    assert [e["tsn"] for e in named(ev, "spurious")] == [1004]


def test_i_data_records():
    a = Assoc.make()
    a.a_sends(idata(1000, sid=3, mid=77, ppid_or_fsn=60, flags=0x02))            # first fragment: PPID
    a.wait(1 * MS).a_sends(idata(1001, sid=3, mid=77, ppid_or_fsn=1, flags=0x01 | 0x08))  # last: FSN, I bit
    r, rep, _ = run(a.frames)
    d = of_type(r, R.I_DATA)
    assert [(int(x["tsn"]), int(x["c"]), int(x["x"]), int(x["a"]), int(x["b"])) for x in d] == [
        (1000, 3 << 16, 77, 60, 10), (1001, 3 << 16, 77, 0, 10)]
    assert [int(x["note"]) for x in d] == [R.FIRST, R.FIRST | R.IBIT]
    assert rep["associations"][0]["directions"]["A>B"]["data_chunks"] == 2


# ------------------------------------------------------------------------------------------------ SACK, GAP, DUP


def test_sack_is_followed_by_its_gap_and_dup_records():
    a = Assoc.make()
    for tsn in range(1000, 1006):
        a.a_sends(data(tsn, payload=40))
    a.wait(10 * MS).b_sends(data(5000), sack(1000, a_rwnd=12345, gaps=[(1002, 1003), (1005, 1005)],
                                             dups=[1000, 999]))
    r, rep, ev = run(a.frames)
    i = int(np.flatnonzero(r["type"] == R.SACK)[0])
    s, g1, g2, d1, d2 = r[i:i + 5]
    assert (s["tsn"], s["a"], s["b"], s["chunk_index"], s["dir"]) == (1000, 12345, 2 << 16 | 2, 1, 1)
    (se,) = named(ev, "sack")
    assert s["c"] == se["flight_bytes"] == 2 * 40                           # 1001 and 1004 still in flight
    assert [(int(g["type"]), int(g["tsn"]), int(g["a"]), int(g["note"])) for g in (g1, g2)] == [
        (R.GAP, 1002, 1003, 0), (R.GAP, 1005, 1005, 0)]
    assert [(int(x["type"]), int(x["tsn"])) for x in (d1, d2)] == [(R.DUP, 1000), (R.DUP, 999)]
    for x in (g1, g2, d1, d2):
        for f in ("ts_ns", "frame_no", "assoc_id", "vtag", "path", "flags", "dir", "chunk_index"):
            assert x[f] == s[f], f
        assert x["b"] == x["c"] == x["x"] == x["y"] == 0
    assert len(r) == i + 5                                                    # nothing else after them
    assert r[i - 1]["type"] == R.DATA and r[i - 1]["frame_no"] == s["frame_no"]   # DATA bundled first


def test_nr_sack_gap_records_mark_nr_blocks():
    a = Assoc.make()
    for tsn in range(1000, 1008):
        a.a_sends(data(tsn))
    a.wait(10 * MS).b_sends(nr_sack(1000, 5000, gaps=[(2, 3)], nr_gaps=[(5, 5), (7, 7)], dups=[1000]))
    r, rep, ev = run(a.frames)
    i = int(np.flatnonzero(r["type"] == R.NR_SACK)[0])
    n = r[i]
    assert (n["tsn"], n["a"], n["b"]) == (1000, 5000, 3 << 16 | 1)
    assert n["c"] == named(ev, "sack")[0]["flight_bytes"]
    assert [(int(x["type"]), int(x["tsn"]), int(x["a"]), int(x["note"])) for x in r[i + 1:]] == [
        (R.GAP, 1002, 1003, 0), (R.GAP, 1005, 1005, R.NR), (R.GAP, 1007, 1007, R.NR), (R.DUP, 1000, 0, 0)]


# ------------------------------------------------------------------------------------------------ HEARTBEAT


def test_linux_heartbeat_records_carry_nonce_and_sent_at():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    i1 = linux_hb_info(B1, 4_295_100_000, 0x0123456789ABCDEF)
    i2 = linux_hb_info(B2, 4_295_100_007, 0xFEDCBA9876543210)
    a.a_sends(heartbeat(i1), src=A1, dst=B1)
    a.wait(3 * MS).a_sends(heartbeat(i2), src=A2, dst=B2)
    a.wait(20 * MS).b_sends(heartbeat_ack(i1), src=B1, dst=A1)
    a.wait(40 * MS).b_sends(heartbeat_ack(i2), src=B2, dst=A2)
    r, rep, _ = run(a.frames)
    s = rep["associations"][0]
    got = [(int(x["type"]), int(x["dir"]), int(x["note"]), int(x["x"]), int(x["y"]), int(x["a"]),
            (s["paths"][x["path"]]["src"], s["paths"][x["path"]]["dst"])) for x in r]
    assert got == [
        (R.HEARTBEAT, 0, R.HB_LINUX, 0x0123456789ABCDEF, 4_295_100_000, 56, (A1, B1)),
        (R.HEARTBEAT, 0, R.HB_LINUX, 0xFEDCBA9876543210, 4_295_100_007, 56, (A2, B2)),
        (R.HEARTBEAT_ACK, 1, R.HB_LINUX, 0x0123456789ABCDEF, 4_295_100_000, 56, (B1, A1)),
        (R.HEARTBEAT_ACK, 1, R.HB_LINUX, 0xFEDCBA9876543210, 4_295_100_007, 56, (B2, A2)),
    ]
    # the same values the report exposes per path
    assert {(p["src"], p["heartbeats"]["linux_nonce"], p["heartbeats"]["linux_sent_at_jiffies"])
            for p in s["paths"] if p["direction"] == "A>B"} == {(A1, 0x0123456789ABCDEF, 4_295_100_000),
                                                                 (A2, 0xFEDCBA9876543210, 4_295_100_007)}


def test_other_heartbeat_records_carry_the_matching_hash():
    a = Assoc.make()
    bsd = bytes.fromhex("000000005f3c0a000002000000001111222233334444")
    other = bytes.fromhex("00000001aaaaaaaa")
    a.a_sends(heartbeat(bsd))
    a.wait(12 * MS).b_sends(heartbeat_ack(bsd))
    a.wait(1 * S).a_sends(heartbeat(other))
    r, _, _ = run(a.frames)
    hb, ack, hb2 = r
    assert (hb["note"], hb["y"], ack["note"], ack["y"]) == (0, 0, 0, 0)
    assert hb["x"] == ack["x"] != 0 and hb2["x"] != hb["x"]                  # what the engine matched them by
    assert hb["a"] == 4 + len(bsd) and hb2["a"] == 4 + len(other)


# ------------------------------------------------------------------------------------------------ control chunks


def test_control_chunk_records():
    a = Assoc.make()
    a.handshake(a_rwnd=(106496, 65000), streams=(12, 7))
    a.a_sends(data(1000))
    a.wait(5 * MS).b_sends(sack(1000), error([cause(6, b"\x99\x00\x00\x04")]))
    a.wait(5 * MS).a_sends(shutdown(4999))
    a.wait(5 * MS).b_sends(abort([cause(12, b"bye")]))
    r, rep, _ = run(a.frames)
    by = {int(x["type"]): x for x in r}
    assert set(by) == {R.INIT, R.INIT_ACK, R.COOKIE_ECHO, R.COOKIE_ACK, R.DATA, R.SACK, R.ERROR, R.SHUTDOWN,
                       R.ABORT}
    i, ia = by[R.INIT], by[R.INIT_ACK]
    assert (i["tsn"], i["a"], i["b"], i["c"], i["dir"], i["vtag"]) == (1000, 106496, 0x0A0A0A0A, 12 << 16 | 7, 0, 0)
    assert (ia["tsn"], ia["a"], ia["b"], ia["c"], ia["dir"]) == (5000, 65000, 0x0B0B0B0B, 7 << 16 | 12, 1)
    assert by[R.SHUTDOWN]["tsn"] == 4999 and by[R.ERROR]["a"] == 6 and by[R.ABORT]["a"] == 12
    for t in (R.COOKIE_ECHO, R.COOKIE_ACK):
        x = by[t]
        assert x["tsn"] == x["a"] == x["b"] == x["c"] == x["x"] == x["y"] == x["note"] == 0


def test_no_records_for_duplicates_unknown_associations_and_short_chunks():
    a = Assoc.make()
    f = a.a_sends(data(1000))
    a.repeat(f, 300 * US)                                                   # tcpdump -i any copy
    a.wait(1 * MS).b_sends(sack(1000), raw_chunk(0, 3, b"\0" * 8))          # DATA shorter than its header
    other = Assoc.make(ports=(7000, 7001), tags=(0x77, 0x78))               # beyond max_assocs
    other.at(a.t + 1).a_sends(data(1))
    r, rep, _ = run(a.frames + other.frames, max_assocs=1)
    assert rep["capture"]["duplicates"] == 1 and rep["capture"]["limits"]["assocs_dropped"] == 1
    assert rep["capture"]["malformed"] == 1
    assert [(int(x["frame_no"]), int(x["type"])) for x in r] == [(1, R.DATA), (3, R.SACK)]


def test_pending_records_follow_a_late_orientation_swap():
    # equal ports, seen mid-association: A is the endpoint that receives the lower tag; until both tags are known
    # it is the one whose tag is (engine.md "Report"), so the first packets' labels are provisional
    a = Assoc.make(ports=(2905, 2905), tags=(0x10, 0xF0000000))             # our A receives the lower tag
    other = Assoc.make(a_addrs=("10.9.0.1",), b_addrs=("10.9.0.2",), ports=(7000, 7001), tags=(5, 6))
    f1 = a.a_sends(data(1000))                                               # our B provisionally "A"
    f2 = a.wait(1 * MS).a_sends(data(1001))
    f3 = other.at(a.t + 1).a_sends(data(1))
    f4 = a.wait(15 * MS).b_sends(sack(1001))                                 # our A's tag: the lower one
    an = _engine.Analyzer(records=True)
    feed(an, [f1])
    drained = R.as_array(an.drain_records())
    feed(an, [f2, f3, f4])
    r = R.as_array(an.drain_records())
    assert [(int(x["frame_no"]), int(x["dir"])) for x in drained] == [(1, 1)]     # drained: provisional label
    assert [(int(x["frame_no"]), int(x["assoc_id"]), int(x["type"]), int(x["dir"])) for x in r] == [
        (2, 1, R.DATA, 0), (3, 2, R.DATA, 0), (4, 1, R.SACK, 1)]
    s = an.report()["associations"][0]
    assert s["vtags"] == [0x10, 0xF0000000] and s["directions"]["A>B"]["data_chunks"] == 2


# ------------------------------------------------------------------------------------------------ bounds, feeding


def test_pending_records_are_bounded_and_drops_counted():
    ndup = 16000                                                            # a 64 KB SACK: 16,001 records
    a = Assoc.make(linktype=craft.RAW)
    a.a_sends(data(1000))
    big = a.wait(1 * MS).b_sends(sack(1000, dups=[1000] * ndup))
    cap = engine.LIMITS["records_max"]
    assert cap == _engine.RECORDS_MAX == 1 << 20
    n = cap // (ndup + 1) + 2                                               # SACKs: a few more than fit
    for k in range(1, n):
        a.repeat(big, k * 10 * MS)                                          # same bytes, beyond the dup window
    an = _engine.Analyzer(records=True)
    feed(an, a.frames)
    total = 1 + n * (ndup + 1)
    buf = an.drain_records()
    assert len(buf) == cap * 64 == 64 << 20
    assert an.report()["capture"]["limits"]["records_dropped"] == total - cap
    arr = R.as_array(buf)
    assert arr[0]["type"] == R.DATA and Counter(arr["type"].tolist())[R.SACK] == -(-(cap - 1) // (ndup + 1))
    assert arr[-1]["type"] == R.DUP
    feed(an, [craft.Frame(a.t + 10 * S, craft.RAW, a.frames[0].data)])    # drained: room again
    assert len(R.as_array(an.drain_records())) == 1
    assert an.report()["capture"]["limits"]["records_dropped"] == total - cap


def lossy_capture() -> bytes:
    return craft.read_capture(LOSSY)


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_tiny_blocks_give_the_same_bytes(block):
    blob = lossy_capture()
    ref = _engine.Analyzer(records=True)
    ref.feed_capture(blob)
    ref.finish_capture()
    want = ref.drain_records()
    an = _engine.Analyzer(records=True)
    got = []
    for k, i in enumerate(range(0, len(blob), block)):
        an.feed_capture(blob[i:i + block])
        if k % 5 == 0:
            got.append(an.drain_records())
    an.finish_capture()
    got.append(an.drain_records())
    assert b"".join(got) == want and len(want) > 1000 * 64
    # and the same as frame by frame through feed_packet
    pk = _engine.Analyzer(records=True)
    for n, f in enumerate(craft.read_frames(blob), 1):
        pk.feed_packet(f.ts_ns, f.linktype, f.data, n)
    assert pk.drain_records() == want


def test_lossy_capture_records_agree_with_report_and_events():
    an = _engine.Analyzer(records=True, events=True)
    an.feed_capture(lossy_capture())
    an.finish_capture()
    r = R.as_array(an.drain_records())
    rep = an.report()
    ev = an.drain_events()
    (s,) = rep["associations"]
    assert set(r["assoc_id"].tolist()) == {s["id"]}
    t = Counter(r["type"].tolist())
    named_chunks = {_engine.CHUNK_NAMES[k]: v for k, v in t.items() if k not in (R.GAP, R.DUP)}
    assert named_chunks == s["chunks"]
    for di, name in enumerate(("A>B", "B>A")):
        d = s["directions"][name]
        mine = r[r["dir"] == di]
        data_ = mine[np.isin(mine["type"], (R.DATA, R.I_DATA))]
        assert len(data_) == d["data_chunks"]
        assert int(data_["b"].sum()) == d["data_bytes"]
        assert int((data_["note"] & R.RTX != 0).sum()) == d["retransmissions"]["total"]
        assert int((data_["note"] & R.FIRST != 0).sum()) == d["unique_tsns"]
        kinds = Counter(int(k) for k in (data_["note"][data_["note"] & R.RTX != 0] & R.KIND_MASK) >> R.KIND_SHIFT)
        assert (kinds[R.KIND_FAST], kinds[R.KIND_TIMEOUT], kinds[R.KIND_UNKNOWN]) == (
            d["retransmissions"]["fast"], d["retransmissions"]["timeout"], d["retransmissions"]["unknown"])
        assert len(mine[mine["type"] == R.SACK]) == d["sacks"]
        assert len(mine[mine["type"] == R.GAP]) == d["gap_blocks"]
        assert len(mine[mine["type"] == R.DUP]) == d["duplicate_tsns_reported"]
    for p_idx, p in enumerate(s["paths"]):
        mine = r[r["path"] == p_idx]
        assert len(mine[mine["type"] == R.HEARTBEAT]) == p["heartbeats"]["sent"]
        assert len(mine[np.isin(mine["type"], (R.DATA, R.I_DATA))]) == p["data_chunks"]
        assert int((mine["note"][mine["type"] == R.DATA] & R.RTX != 0).sum()) == p["retransmissions"]
        assert {int(x) for x in np.unique(mine["dir"])} <= {("A>B", "B>A").index(p["direction"])}
    # SACK records in capture order = "sack" events; retransmitted DATA = "retransmission" events
    sacks = r[r["type"] == R.SACK]
    se = named(ev, "sack")
    assert [(int(x["frame_no"]), int(x["tsn"]), int(x["a"]), int(x["c"])) for x in sacks] == [
        (e["frame_no"], e["cum_tsn_ack"], e["a_rwnd"], e["flight_bytes"]) for e in se]
    rx = r[(r["type"] == R.DATA) & (r["note"] & R.RTX != 0)]
    assert [(int(x["frame_no"]), int(x["tsn"]), bool(x["note"] & R.SPURIOUS)) for x in rx] == [
        (e["frame_no"], e["tsn"], e["spurious"]) for e in named(ev, "retransmission")]
    assert np.all(np.diff(r["frame_no"].astype(np.int64)) >= 0)             # capture order
