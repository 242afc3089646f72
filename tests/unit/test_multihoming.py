"""Multihoming: addresses from INIT/INIT-ACK and from traffic, one path per (src, dst), RTT per path attributed to
the path the DATA went on (not the one the SACK came back on)."""
from __future__ import annotations

from craft import MS, Assoc, analyze, data, heartbeat, heartbeat_ack, linux_hb_info, named, path, sack

A1, A2, A3, B1, B2 = "10.0.0.1", "10.1.0.1", "10.2.0.1", "10.0.0.2", "10.1.0.2"
V6A, V6B = "2001:db8::a", "2001:db8::b"


def test_two_paths_with_their_own_rtt():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.handshake(rtt_ns=30 * MS, addrs=True)
    a.wait(1 * MS).a_sends(data(1000), src=A1, dst=B1)
    a.wait(30 * MS).b_sends(sack(1000), src=B1, dst=A1)
    a.wait(1 * MS).a_sends(data(1001), src=A2, dst=B2)
    a.wait(80 * MS).b_sends(sack(1001), src=B2, dst=A2)
    a.wait(1 * MS).a_sends(data(1002), src=A2, dst=B2)
    a.wait(75 * MS).b_sends(sack(1002), src=B1, dst=A1)          # SACK returns on the other path
    rep, ev = analyze(a.frames)
    s = rep["associations"][0]
    assert sorted(s["addresses"][0]) == [A1, A2] and sorted(s["addresses"][1]) == [B1, B2]
    assert s["init"][0]["addresses"] == [A1, A2] and s["init"][1]["addresses"] == [B1, B2]
    p1, p2 = path(s, A1, B1), path(s, A2, B2)
    assert (p1["direction"], p2["direction"]) == ("A>B", "A>B")
    assert (p1["data_chunks"], p2["data_chunks"]) == (1, 2)
    assert p1["rtt"]["data_samples"] == 1
    assert (p2["rtt"]["data_samples"], p2["rtt"]["min_ns"], p2["rtt"]["max_ns"]) == (2, 75 * MS, 80 * MS)
    assert p2["rtt"]["samples"] == 2 and p2["rtt"]["handshake_samples"] == 0
    got = [(e["src"], e["dst"], e["tsn"], e["rtt_ns"]) for e in named(ev, "rtt") if e["method"] == "data"]
    assert got == [(A1, B1, 1000, 30 * MS), (A2, B2, 1001, 80 * MS), (A2, B2, 1002, 75 * MS)]
    assert {(p["src"], p["dst"], p["direction"]) for p in s["paths"]} == {
        (A1, B1, "A>B"), (A2, B2, "A>B"), (B1, A1, "B>A"), (B2, A2, "B>A")}
    assert sum(p["packets"] for p in s["paths"]) == s["packets"]


def test_one_timed_tsn_per_path_not_per_association():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.a_sends(data(1000), src=A1, dst=B1)                         # timed on path 1
    a.wait(1 * MS).a_sends(data(1001), src=A2, dst=B2)            # timed on path 2 at the same time
    a.wait(40 * MS).b_sends(sack(1001))
    rep, ev = analyze(a.frames)
    got = sorted((e["src"], e["tsn"], e["rtt_ns"]) for e in named(ev, "rtt"))
    assert got == [(A1, 1000, 41 * MS), (A2, 1001, 40 * MS)]


def test_address_seen_only_in_traffic_is_added():
    a = Assoc.make(a_addrs=(A1, A2, A3), b_addrs=(B1, B2))
    a.handshake(addrs=False)
    a.a_sends(data(1000), src=A3, dst=B2)                         # A3 never advertised (no address parameters)
    a.wait(20 * MS).b_sends(sack(1000), src=B2, dst=A3)
    rep, _ = analyze(a.frames)
    s = rep["associations"][0]
    assert sorted(s["addresses"][0]) == [A1, A3] and sorted(s["addresses"][1]) == [B1, B2]
    assert path(s, A3, B2)["data_chunks"] == 1


def test_ipv6_and_heartbeat_per_path():
    a = Assoc.make(a_addrs=(V6A, A1), b_addrs=(V6B, B1))
    a.handshake(addrs=True)
    info = linux_hb_info(B1, 123, 456)
    a.a_sends(heartbeat(info), src=A1, dst=B1)
    a.wait(9 * MS).b_sends(heartbeat_ack(info), src=B1, dst=A1)
    a.a_sends(data(1000))
    a.wait(11 * MS).b_sends(sack(1000))
    rep, ev = analyze(a.frames)
    s = rep["associations"][0]
    assert sorted(s["addresses"][0]) == sorted([V6A, A1])
    assert path(s, A1, B1)["rtt"]["heartbeat_samples"] == 1 and path(s, A1, B1)["rtt"]["min_ns"] == 9 * MS
    assert path(s, V6A, V6B)["rtt"]["data_samples"] == 1
    assert [e["rtt_ns"] for e in named(ev, "rtt") if e["method"] == "data"] == [11 * MS]
