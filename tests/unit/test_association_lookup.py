"""Analyzer.association(id): one association's report() entry, built alone (engine.md "Python API")."""
from __future__ import annotations

import time

import pytest
from craft import MS, Assoc, Frame, data, feed, init, init_ack, sack


def assocs(n: int, base_port: int = 10000, full: bool = True):
    """n associations, each an INIT (then INIT-ACK and one DATA / SACK exchange if full), interleaved in time."""
    frames = []
    for i in range(n):
        a = Assoc.make(a_addrs=(f"10.{i >> 8 & 255}.{i & 255}.1",), ports=(base_port + i, 38412),
                       tags=(0x1000 + i, 0x2000 + i), t=i * MS)
        a.a_sends(init(a.a.tag, a.a.tsn), vtag=0)
        if full:
            a.wait(1 * MS).b_sends(init_ack(a.b.tag, a.b.tsn))
            a.wait(1 * MS).a_sends(data(a.a.tsn))
            a.wait(1 * MS).b_sends(sack(a.a.tsn))
        frames += a.frames
    return sorted(frames, key=lambda f: f.ts_ns)


def test_equals_the_report_entry(Analyzer):
    an = feed(Analyzer(events=True), assocs(5))
    report = an.report()
    assert [x["id"] for x in report["associations"]] == [1, 2, 3, 4, 5]
    for entry in report["associations"]:
        assert an.association(entry["id"]) == entry
    assert an.drain_events()  # a lookup neither drains nor disturbs the event queue


def test_follows_the_analysis(Analyzer):
    frames = assocs(1)
    an = feed(Analyzer(), frames[:1])
    assert an.association(1)["state"] == "COOKIE-WAIT" and an.association(1)["vtags"][1] is None
    feed(an, frames[1:])
    assert an.association(1) == an.report()["associations"][0]
    assert an.association(1)["directions"]["A>B"]["rtt"]["data_samples"] == 1


@pytest.mark.parametrize("bad", [0, 2, -1, 2**64, 2**200])
def test_unknown_id_is_a_key_error(Analyzer, bad):
    an = feed(Analyzer(), assocs(1))
    with pytest.raises(KeyError):
        an.association(bad)


def test_before_any_packet_and_wrong_types(Analyzer):
    an = Analyzer()
    with pytest.raises(KeyError):
        an.association(1)
    for bad in ("1", None, 1.0):
        with pytest.raises(TypeError):
            an.association(bad)


def test_cost_does_not_grow_with_the_number_of_associations(Analyzer):
    """The point of association(): the --addr event filter looks one association up per new association; doing
    that with report() costs O(associations) each time."""
    template = assocs(1, full=False)[0]  # Ethernet + IPv4 + SCTP INIT; copies get their own port and tag
    frames = []
    for i in range(2000):
        b = bytearray(template.data)
        b[34:36] = (20000 + i).to_bytes(2, "big")        # source port
        b[50:54] = (0x10000 + i).to_bytes(4, "big")      # initiate tag (the CRC32c goes wrong: analysed anyway)
        frames.append(Frame(template.ts_ns + i, template.linktype, bytes(b)))
    an = feed(Analyzer(), frames)
    assert len(an.report()["associations"]) == 2000

    def best(fn, n):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    one = best(lambda: an.association(1500), 20)
    full = best(an.report, 3)
    assert full > 50 * one, (full, one)  # about 2000 times in practice
