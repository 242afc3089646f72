"""HEARTBEAT -> HEARTBEAT-ACK matching (by the info bytes), per-path heartbeat counters, unanswered heartbeats."""
from __future__ import annotations

from craft import MS, S, US, Assoc, analyze, heartbeat, heartbeat_ack, linux_hb_info, named, path, rtts

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"


def hbs(p):
    """The documented heartbeat counters of a path."""
    return {k: p["heartbeats"][k] for k in ("sent", "acked", "unanswered", "rtt_samples")}


def two_paths() -> Assoc:
    return Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))


def test_linux_heartbeats_on_two_paths_exact_rtt():
    a = two_paths()
    i1 = linux_hb_info(B1, 4_295_100_000, 0x0123456789ABCDEF)
    i2 = linux_hb_info(B2, 4_295_100_007, 0xFEDCBA9876543210)
    a.a_sends(heartbeat(i1), src=A1, dst=B1)
    a.wait(3 * MS).a_sends(heartbeat(i2), src=A2, dst=B2)
    a.wait(20_456_789).b_sends(heartbeat_ack(i1), src=B1, dst=A1)   # 23.456789 ms after its HEARTBEAT
    a.wait(40_543_334).b_sends(heartbeat_ack(i2), src=B2, dst=A2)   # 61.000123 ms after its HEARTBEAT
    rep, ev = analyze(a.frames)
    s = rep["associations"][0]
    assert sorted(rtts(ev, "heartbeat")) == [(None, 23_456_789), (None, 61_000_123)]
    for src, dst, rtt in ((A1, B1, 23_456_789), (A2, B2, 61_000_123)):
        p = path(s, src, dst)
        assert p["direction"] == "A>B"
        assert hbs(p) == {"sent": 1, "acked": 1, "unanswered": 0, "rtt_samples": 1}
        assert (p["rtt"]["heartbeat_samples"], p["rtt"]["min_ns"], p["rtt"]["max_ns"]) == (1, rtt, rtt)
    d = s["directions"]["A>B"]["rtt"]
    assert (d["heartbeat_samples"], d["data_samples"], d["min_ns"], d["max_ns"]) == (2, 0, 23_456_789, 61_000_123)
    assert s["directions"]["B>A"]["rtt"]["samples"] == 0
    assert {(e["src"], e["dst"]) for e in named(ev, "rtt")} == {(A1, B1), (A2, B2)}


def test_heartbeats_from_both_sides_measure_their_own_direction():
    a = two_paths()
    ia = linux_hb_info(B1, 1000, 1)
    ib = linux_hb_info(A1, 2000, 2)
    a.a_sends(heartbeat(ia))
    a.wait(30 * MS).b_sends(heartbeat_ack(ia))
    a.wait(1 * S).b_sends(heartbeat(ib))
    a.wait(80 * US).a_sends(heartbeat_ack(ib))   # capture next to A: B's heartbeat RTT is A's turnaround
    rep, ev = analyze(a.frames)
    assert rtts(ev, "heartbeat", "A>B") == [(None, 30 * MS)]
    assert rtts(ev, "heartbeat", "B>A") == [(None, 80 * US)]
    assert path(rep["associations"][0], B1, A1)["heartbeats"]["sent"] == 1


def test_match_is_on_the_bytes_not_the_order():
    a = Assoc.make()
    i1 = linux_hb_info(B1, 5000, 11)
    i2 = linux_hb_info(B1, 5250, 12)
    a.a_sends(heartbeat(i1))
    a.wait(1 * S).a_sends(heartbeat(i2))
    a.wait(10 * MS).b_sends(heartbeat_ack(i2))        # the second one answered first
    a.wait(5 * MS).b_sends(heartbeat_ack(i1))
    rep, ev = analyze(a.frames)
    assert rtts(ev, "heartbeat") == [(None, 10 * MS), (None, 1 * S + 15 * MS)]


def test_non_linux_info_and_unmatched_ack():
    a = Assoc.make()
    bsd = bytes.fromhex("00000000 5f3c 0a00 0002 0000 0000 1111 2222 3333 4444".replace(" ", ""))
    a.a_sends(heartbeat(bsd))
    a.wait(12 * MS).b_sends(heartbeat_ack(bsd))
    a.wait(1 * S).b_sends(heartbeat_ack(linux_hb_info(B1, 9, 9)))   # answers nothing that was sent
    a.a_sends(heartbeat(linux_hb_info(B1, 77, 0xAA)))
    a.wait(7 * MS).b_sends(heartbeat_ack(linux_hb_info(B1, 77, 0xAB)))  # same layout, other nonce: no match
    rep, ev = analyze(a.frames)
    assert rtts(ev, "heartbeat") == [(None, 12 * MS)]
    hb = path(rep["associations"][0], A1, B1)["heartbeats"]
    assert (hb["sent"], hb["acked"], hb["rtt_samples"]) == (2, 1, 1)


def test_unanswered_heartbeat_counted():
    a = two_paths()
    lost = linux_hb_info(B2, 100, 1)
    ok = linux_hb_info(B2, 7600, 2)
    a.a_sends(heartbeat(lost), src=A2, dst=B2)
    t_lost = a.t
    a.wait(30 * S).a_sends(heartbeat(ok), src=A2, dst=B2)
    a.wait(44 * MS).b_sends(heartbeat_ack(ok), src=B2, dst=A2)
    rep, ev = analyze(a.frames)
    assert hbs(path(rep["associations"][0], A2, B2)) == {"sent": 2, "acked": 1, "unanswered": 1, "rtt_samples": 1}
    un = named(ev, "heartbeat_unanswered")
    assert [(e["direction"], e["src"], e["dst"], e["sent_ns"]) for e in un] == [("A>B", A2, B2, t_lost)]
    assert rtts(ev, "heartbeat") == [(None, 44 * MS)]
