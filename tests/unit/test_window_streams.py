"""a_rwnd and zero-window episodes, flight size, per-stream statistics (SSN gaps, PPIDs, unordered), jitter."""
from __future__ import annotations

from craft import MS, S, Assoc, analyze, data, init, init_ack, named, sack

TAG_A, TAG_B = 0x0A0A0A0A, 0x0B0B0B0B


def test_zero_window_episodes():
    a = Assoc.make()
    a.a_sends(init(TAG_A, 1000, a_rwnd=131072), vtag=0)
    a.wait(10 * MS).b_sends(init_ack(TAG_B, 5000, a_rwnd=65536))
    tsn = 1000
    for rwnd in (50000, 0, 0, 8000, 0, 65536):
        a.wait(10 * MS).a_sends(data(tsn, payload=100))
        a.wait(10 * MS).b_sends(sack(tsn, a_rwnd=rwnd))
        tsn += 1
    rep, ev = analyze(a.frames)
    w = rep["associations"][0]["directions"]["B>A"]["a_rwnd"]
    assert (w["initial"], w["min"], w["max"], w["last"], w["zero_window_episodes"]) == (65536, 0, 65536, 65536, 2)
    assert rep["associations"][0]["directions"]["A>B"]["a_rwnd"]["initial"] == 131072
    assert [(e["direction"], e["a_rwnd"], e["zero"]) for e in named(ev, "window")] == [
        ("B>A", 0, True), ("B>A", 8000, False), ("B>A", 0, True), ("B>A", 65536, False)]
    assert [e["a_rwnd"] for e in named(ev, "sack")] == [50000, 0, 0, 8000, 0, 65536]


def test_flight_size():
    a = Assoc.make()
    for tsn in (1000, 1001, 1002):
        a.a_sends(data(tsn, payload=100))
        a.wait(1 * MS)
    a.wait(20 * MS).b_sends(sack(1000, gaps=[(1002, 1002)]))   # 1001 still outstanding
    a.wait(1 * MS).a_sends(data(1003, payload=40))
    a.wait(20 * MS).b_sends(sack(1003))
    rep, ev = analyze(a.frames)
    f = rep["associations"][0]["directions"]["A>B"]["flight"]
    assert (f["max_bytes"], f["max_chunks"]) == (300, 3)
    assert [e["flight_bytes"] for e in named(ev, "sack")] == [100, 0]


def test_streams_ssn_gaps_ppids_unordered():
    a = Assoc.make()
    tsn = iter(range(1000, 2000))
    for ssn in (0, 1, 3, 4):                                  # stream 1: SSN 2 never appears -> one gap
        a.a_sends(data(next(tsn), sid=1, ssn=ssn, ppid=60, payload=50))
        a.wait(1 * MS)
    for ssn in (65534, 65535, 0):                             # stream 0: SSN wraps, no gap
        a.a_sends(data(next(tsn), sid=0, ssn=ssn, ppid=60, payload=10))
        a.wait(1 * MS)
    for _ in range(3):                                        # stream 2: unordered, SSN meaningless
        a.a_sends(data(next(tsn), sid=2, ssn=0, ppid=46, payload=7, unordered=True))
        a.wait(1 * MS)
    # stream 3: one user message in 3 fragments (same SSN), then the next message
    a.a_sends(data(next(tsn), sid=3, ssn=5, ppid=0, payload=1000, begin=True, end=False))
    a.a_sends(data(next(tsn), sid=3, ssn=5, ppid=0, payload=1000, begin=False, end=False))
    a.a_sends(data(next(tsn), sid=3, ssn=5, ppid=0, payload=300, begin=False, end=True))
    a.wait(1 * MS).a_sends(data(next(tsn), sid=3, ssn=6, ppid=0, payload=20))
    a.wait(1 * MS).a_sends(data(1004, sid=0, ssn=65534, ppid=60, payload=10))   # a retransmission: not a new SSN
    rep, _ = analyze(a.frames)
    d = rep["associations"][0]["directions"]["A>B"]
    st = {s["sid"]: s for s in d["streams"]}
    assert sorted(st) == [0, 1, 2, 3]
    assert (st[1]["chunks"], st[1]["bytes"], st[1]["ordered"], st[1]["unordered"]) == (4, 200, 4, 0)
    assert (st[1]["ssn_gaps"], st[1]["first_ssn"], st[1]["last_ssn"]) == (1, 0, 4)
    assert st[1]["ppids"] == {"60": 4}
    assert (st[0]["ssn_gaps"], st[0]["first_ssn"], st[0]["last_ssn"]) == (0, 65534, 0)
    assert st[0]["chunks"] == 3 and st[0]["bytes"] == 30                  # streams count new TSNs only
    assert (st[2]["ordered"], st[2]["unordered"], st[2]["ssn_gaps"], st[2]["ppids"]) == (0, 3, 0, {"46": 3})
    assert (st[3]["chunks"], st[3]["bytes"], st[3]["ssn_gaps"], st[3]["last_ssn"]) == (4, 2320, 0, 6)
    assert d["unique_tsns"] == sum(s["chunks"] for s in d["streams"]) == 14
    assert d["data_chunks"] == 15 and d["retransmissions"]["total"] == 1
    assert d["data_bytes"] == sum(s["bytes"] for s in d["streams"]) + 10 == 200 + 40 + 21 + 2320


def test_jitter_constant_spacing_is_zero_and_one_hiccup_is_not():
    a = Assoc.make()
    for i in range(20):
        a.a_sends(data(1000 + i, sid=1, ssn=i))
        a.wait(20 * MS)
    rep, _ = analyze(a.frames)
    d = rep["associations"][0]["directions"]["A>B"]
    assert d["jitter_ns"] == 0 and d["streams"][0]["jitter_ns"] == 0

    b = Assoc.make()
    for i in range(20):
        b.a_sends(data(1000 + i, sid=1, ssn=i))
        b.wait(30 * MS if i == 9 else 20 * MS)               # one 10 ms hiccup in the spacing
    rep, _ = analyze(b.frames)
    d = rep["associations"][0]["directions"]["A>B"]
    # RFC 3550 J += (|D| - J)/16 with D = +10 ms then -10 ms, then 8 zeros: ~1.21 ms * (15/16)**8
    expected = (10 * MS / 16 + (10 * MS - 10 * MS / 16) / 16) * (15 / 16) ** 8
    assert abs(d["jitter_ns"] - expected) <= 0.02 * expected, (d["jitter_ns"], expected)
    assert d["streams"][0]["jitter_ns"] == d["jitter_ns"]


def test_per_direction_counters_on_both_sides():
    a = Assoc.make()
    a.a_sends(data(1000, payload=11))
    a.wait(5 * MS).b_sends(sack(1000), data(5000, sid=2, ssn=0, ppid=60, payload=13))
    a.wait(200 * MS).a_sends(sack(5000))
    a.wait(1 * S).b_sends(sack(1000, dups=[1000, 1000]))
    rep, _ = analyze(a.frames)
    s = rep["associations"][0]
    ab, ba = s["directions"]["A>B"], s["directions"]["B>A"]
    assert (ab["data_chunks"], ab["data_bytes"], ab["sacks"], ab["packets"]) == (1, 11, 1, 2)
    assert (ba["data_chunks"], ba["data_bytes"], ba["sacks"], ba["packets"]) == (1, 13, 2, 2)
    assert (ba["duplicate_tsns_reported"], ab["duplicate_tsns_reported"]) == (2, 0)
    assert (ab["src_port"], ab["dst_port"]) == (2905, 3000)
    assert s["packets"] == 4
    assert {k: v for k, v in s["chunks"].items() if v} == {"DATA": 2, "SACK": 3}
