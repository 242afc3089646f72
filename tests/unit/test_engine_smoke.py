"""Smoke tests of the C engine's bounds and of the sctpcorr.wire.engine wrapper (owner: the engine's author).

Packets are built here with struct (raw IPv4, LINKTYPE_IPV4 = 228), independently of scapy, so that these tests
only depend on the engine. Checksums are left zero: the engine counts them as bad and analyses the packets anyway.
"""
from __future__ import annotations

import struct

import pytest

from sctpcorr.wire import engine

LT_IPV4 = 228
MS = 1_000_000


def ip4(src: str, dst: str, payload: bytes, ident: int = 0) -> bytes:
    s, d = (bytes(int(x) for x in a.split(".")) for a in (src, dst))
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, 132, 0, s, d) + payload


def chunk(ctype: int, flags: int, body: bytes) -> bytes:
    n = 4 + len(body)
    return struct.pack("!BBH", ctype, flags, n) + body + b"\0" * (-n % 4)


def data(tsn: int, sid: int = 0, ssn: int = 0) -> bytes:
    return chunk(0, 3, struct.pack("!IHHI", tsn, sid, ssn, 46) + b"p" * 20)


def sack(cum: int, gaps=(), dups=()) -> bytes:
    body = struct.pack("!IIHH", cum, 65536, len(gaps), len(dups))
    body += b"".join(struct.pack("!HH", s, e) for s, e in gaps) + b"".join(struct.pack("!I", t) for t in dups)
    return chunk(3, 0, body)


class Pair:
    """Two endpoints (addresses, ports, the tag each expects) and a frame counter."""

    def __init__(self, an, a=("10.0.0.1", 1000, 0xAAAA0001), b=("10.0.0.2", 2000, 0xBBBB0002)):
        self.an, self.a, self.b, self.frame = an, a, b, 0

    def send(self, a_to_b: bool, t_ms: float, *chunks: bytes) -> None:
        s, d = (self.a, self.b) if a_to_b else (self.b, self.a)
        self.frame += 1
        sctp = struct.pack("!HHII", s[1], d[1], d[2], 0) + b"".join(chunks)
        self.an.feed_packet(int(t_ms * MS), LT_IPV4, ip4(s[0], d[0], sctp, self.frame & 0xFFFF), self.frame)


def test_wrapper_tables():
    names = engine.CHUNK_NAMES
    assert len(names) == 24 and names[0] == "DATA" and names[194] == "I-FORWARD-TSN"
    assert all("_" not in n for n in names.values())
    assert engine.CHUNK_TYPES["HEARTBEAT-ACK"] == 5 and engine.chunk_name(77) == "77"
    assert engine.cause_name(12) == "User-Initiated Abort" and engine.cause_name(4242) is None
    assert engine.Analyzer is engine._engine.Analyzer
    ev = ("sack", 5, 7, 1, "B>A", 100, 65536, 0, 0, 0)
    assert engine.event_fields(ev) == {"kind": "sack", "ts_ns": 5, "frame_no": 7, "assoc_id": 1, "direction": "B>A",
                                       "cum_tsn_ack": 100, "a_rwnd": 65536, "gap_blocks": 0, "dup_tsns": 0,
                                       "flight_bytes": 0}


@pytest.mark.parametrize("kw", [{"max_outstanding": 8}, {"max_assocs": 0}, {"dup_window_ns": -1}])
def test_bad_options_are_refused(kw):
    with pytest.raises(ValueError):
        engine.Analyzer(**kw)


def test_not_a_capture_is_one_line_value_error():
    with pytest.raises(ValueError, match=r"^not a pcap or pcapng capture \(magic 0x[0-9a-f]{8}\)$"):
        engine.Analyzer().feed_capture(b"GIF89a, not a capture")


def test_outstanding_ring_is_bounded_and_evictions_counted():
    an = engine.Analyzer(max_outstanding=16, events=True)
    p = Pair(an)
    for i in range(40):                  # 40 TSNs, never acked: only 16 can be remembered
        p.send(True, i, data(1000 + i))
    rep = an.report()
    d = rep["associations"][0]["directions"]["A>B"]
    assert rep["capture"]["limits"]["tsns_evicted"] == 24
    assert d["unique_tsns"] == 40 and d["flight"]["max_chunks"] == 16
    p.send(False, 50, sack(1039))        # acks everything still tracked
    d = an.report()["associations"][0]["directions"]["A>B"]
    assert d["retransmissions"]["total"] == 0 and d["flight"]["max_chunks"] == 16
    # the timed TSN (1000, then 1016) was evicted each time; the path then timed the next new TSN: 1032
    rtt = [engine.event_fields(e) for e in an.drain_events() if e[0] == "rtt"]
    assert [(e["tsn"], e["rtt_ns"]) for e in rtt] == [(1032, 18 * MS)]


def test_association_table_is_bounded_and_drops_counted():
    an = engine.Analyzer(max_assocs=3)
    for k in range(5):
        Pair(an, a=("10.0.0.1", 5000 + k, 1), b=("10.0.0.2", 36412, 100 + k)).send(True, k, data(1))
    rep = an.report()
    assert len(rep["associations"]) == 3 and rep["capture"]["limits"]["assocs_dropped"] == 2


def test_event_queue_is_bounded_and_drops_counted():
    an = engine.Analyzer(events=True)
    p = Pair(an)
    n = engine.LIMITS["events_max"] + 10
    for i in range(n // 2 + 10):         # each SACK makes a "sack" event; DATA+SACK also an "rtt" one
        p.send(True, i, data(i + 1))
        p.send(False, i + 0.5, sack(i + 1))
    assert len(an.drain_events()) == engine.LIMITS["events_max"]
    assert an.report()["capture"]["limits"]["events_dropped"] > 0
    p.send(True, 10**6, data(10**6))
    p.send(False, 10**6 + 1, sack(10**6))
    assert [e[0] for e in an.drain_events()] == ["rtt", "sack"]      # drained: room again


def test_retransmission_of_an_acked_tsn_keeps_its_cause():
    # RFC 9260 §6.3.3: the SACK got lost after the capture point, the sender's T3 fires and it resends a TSN the
    # wire had already seen acked: timeout (fewer than 3 miss reports), spurious, first transmission known.
    an = engine.Analyzer(events=True)
    p = Pair(an)
    p.send(True, 0, data(7))
    p.send(False, 30, sack(7))
    p.send(True, 1000, data(7))
    rtx = [e for e in an.drain_events() if e[0] == "retransmission"]
    assert [engine.event_fields(e)["kind"] for e in rtx] == ["timeout"]
    f = engine.event_fields(rtx[0])
    assert (f["spurious"], f["since_first_ns"], f["first_frame"]) == (True, 1000 * MS, 1)
    r = an.report()["associations"][0]["directions"]["A>B"]["retransmissions"]
    assert r == {"total": 1, "fast": 0, "timeout": 1, "unknown": 0, "spurious": 1}


def test_equal_ports_orientation_follows_the_lower_tag_and_fixes_pending_events():
    an = engine.Analyzer(events=True)
    hi, lo = ("10.0.0.1", 2905, 0xF0000000), ("10.0.0.2", 2905, 0x00000010)
    p = Pair(an, a=lo, b=hi)
    # lo -> hi, carrying hi's tag: only hi's tag is known, hi is A for now ("sack" event labelled B>A)
    p.send(True, 0, sack(77), data(500))
    p.send(False, 20, sack(500))      # hi's answer reveals lo's (lower) tag: lo becomes A
    s = an.report()["associations"][0]
    assert s["vtags"] == [0x10, 0xF0000000] and s["addresses"] == [["10.0.0.2"], ["10.0.0.1"]]
    assert s["directions"]["A>B"]["data_chunks"] == 1 and s["directions"]["A>B"]["sacks"] == 1
    assert s["directions"]["B>A"]["sacks"] == 1
    ev = [engine.event_fields(e) for e in an.drain_events() if e[0] in ("sack", "rtt")]
    assert [(e["kind"], e["direction"]) for e in ev] == [("sack", "A>B"), ("rtt", "A>B"), ("sack", "B>A")]


def test_duplicate_frames_are_excluded_but_counted():
    an = engine.Analyzer(events=True)
    p = Pair(an)
    p.send(True, 0, data(1))
    an.feed_packet(10_000, LT_IPV4, ip4("10.0.0.1", "10.0.0.2",
                                        struct.pack("!HHII", 1000, 2000, 0xBBBB0002, 0) + data(1), 1), 2)
    p.frame = 2
    p.send(True, 8, data(1))          # 8 ms later: a real retransmission (outside dup_window_ns)
    rep = an.report()
    s = rep["associations"][0]
    assert rep["capture"]["duplicates"] == 1 and s["duplicate_packets"] == 1
    d = s["directions"]["A>B"]
    assert (d["data_chunks"], d["retransmissions"]["total"], d["duplicate_chunks"]) == (2, 1, {"DATA": 1})
    assert ("duplicate_frame", 10_000, 2, 1, 1) in an.drain_events()


def test_corpus_duplicates(corpus):
    # tcpdump -i any: every packet twice; the README's table counts 72 byte-identical repeats
    an = engine.Analyzer()
    an.feed_capture((corpus / "tempo" / "nrmodulelogseNB2.pcap").read_bytes())
    an.finish_capture()
    rep = an.report()
    assert rep["capture"]["duplicates"] == 72
    assert sum(s["duplicate_packets"] for s in rep["associations"]) == 72
    assert all(d["retransmissions"]["total"] == 0 for s in rep["associations"] for d in s["directions"].values())
