"""Feeding one packet at a time equals feeding the same packets as a capture file, in any block size and format;
several files in a row are one capture; report() can be called at any time without changing the outcome."""
from __future__ import annotations

import pytest

from craft import (
    MS, S, US, Assoc, abort, cause, data, heartbeat, heartbeat_ack, linux_hb_info, pcap_bytes, pcapng_bytes, sack,
    shutdown, shutdown_ack, shutdown_complete,
)

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"


def scenario():
    """Two associations with most of what the engine tracks, timestamps at ns resolution."""
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2), ports=(38412, 38412))
    a.handshake(rtt_ns=12_345_678, addrs=True)
    tsn = 1000
    for i in range(30):
        a.wait(3_000_001)
        a.a_sends(data(tsn, sid=i % 3, ssn=i // 3, ppid=60, payload=20 + i), src=A1 if i % 5 else A2,
                  dst=B1 if i % 5 else B2)
        if i == 7:
            f = a.frames[-1]
            a.repeat(f, 17 * US)                                  # a duplicate frame
        if i % 2:
            gaps = [(tsn, tsn)] if i in (11, 13, 15) else []
            a.wait(9_876_543).b_sends(sack(tsn - 2 if gaps else tsn, gaps=gaps, a_rwnd=0 if i == 21 else 50000))
        tsn += 1
    a.wait(1 * S).a_sends(data(1010, sid=1, ssn=3, ppid=60, payload=30))   # a retransmission
    info = linux_hb_info(B2, 4_295_000_123, 0xABCDEF)
    a.a_sends(heartbeat(info), src=A2, dst=B2)
    a.wait(21 * MS).b_sends(heartbeat_ack(info), src=B2, dst=A2)
    a.wait(1 * MS).a_sends(shutdown(4999))
    a.wait(12 * MS).b_sends(shutdown_ack())
    a.a_sends(shutdown_complete())

    b = Assoc.make(a_addrs=("192.0.2.1",), b_addrs=("192.0.2.2",), ports=(40000, 3868), tags=(0x11, 0x22),
                   t=a.frames[5].ts_ns + 1)
    b.handshake()
    b.a_sends(data(1000, ppid=46))
    b.wait(2 * S).b_sends(abort([cause(12)]))
    return sorted(a.frames + b.frames, key=lambda f: f.ts_ns)


FRAMES = scenario()


def by_packets(Analyzer, frames, **kw):
    an = Analyzer(events=True, **kw)
    for f in frames:
        an.feed_packet(f.ts_ns, f.linktype, f.data)
    return an.report(), an.drain_events()


def by_capture(Analyzer, blobs, block=None):
    an = Analyzer(events=True)
    for blob in blobs:
        step = block or len(blob)
        for i in range(0, len(blob), step):
            an.feed_capture(blob[i:i + step])
        an.finish_capture()
    return an.report(), an.drain_events()


@pytest.fixture(scope="module")
def reference(Analyzer):
    rep, ev = by_packets(Analyzer, FRAMES)
    assert len(rep["associations"]) == 2 and rep["capture"]["duplicates"] == 1
    assert rep["capture"]["packets"] == len(FRAMES)
    return rep, ev


@pytest.mark.parametrize("fmt", ["pcap-ns", "pcap-ns-be", "pcapng-ns", "pcapng-ns-be"])
@pytest.mark.parametrize("block", [None, 1, 3, 64, 1000])
def test_capture_equals_packets(Analyzer, reference, fmt, block):
    blob = {"pcap-ns": lambda: pcap_bytes(FRAMES, nanosecond=True),
            "pcap-ns-be": lambda: pcap_bytes(FRAMES, nanosecond=True, big_endian=True),
            "pcapng-ns": lambda: pcapng_bytes(FRAMES),
            "pcapng-ns-be": lambda: pcapng_bytes(FRAMES, big_endian=True)}[fmt]()
    assert by_capture(Analyzer, [blob], block) == reference


def test_microsecond_pcap_equals_packets_rounded_to_us(Analyzer):
    frames = [type(f)(f.ts_ns // 1000 * 1000, f.linktype, f.data) for f in FRAMES]
    assert by_capture(Analyzer, [pcap_bytes(frames)]) == by_packets(Analyzer, frames)


def test_rotated_files_are_one_capture(Analyzer, reference):
    cut = len(FRAMES) // 3
    parts = [pcap_bytes(FRAMES[:cut], nanosecond=True), pcapng_bytes(FRAMES[cut:])]
    rep, _ = by_capture(Analyzer, parts)
    assert rep == reference[0]


def test_report_any_time_does_not_disturb(Analyzer, reference):
    an = Analyzer(events=True)
    events = []
    for i, f in enumerate(FRAMES):
        an.feed_packet(f.ts_ns, f.linktype, f.data)
        if i % 7 == 0:
            an.report()
            events += an.drain_events()
    assert an.report() == reference[0]
    assert events + an.drain_events() == reference[1]


def test_explicit_frame_numbers(Analyzer):
    an = Analyzer(events=True)
    for i, f in enumerate(FRAMES[:12]):
        an.feed_packet(f.ts_ns, f.linktype, f.data, 1000 + 2 * i)
    ev = an.drain_events()
    assert ev and all(e[2] >= 1000 and e[2] % 2 == 0 for e in ev)


def test_events_off_by_default(Analyzer):
    an = Analyzer()
    for f in FRAMES:
        an.feed_packet(f.ts_ns, f.linktype, f.data)
    assert an.drain_events() == []
