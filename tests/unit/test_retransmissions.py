"""Retransmissions (fast / timeout / spurious), and duplicate frames (tcpdump -i any), which are never
retransmissions."""
from __future__ import annotations

from craft import MS, S, US, Assoc, analyze, data, named, path, rtts, sack

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"


def nz(d):
    return {k: v for k, v in d.items() if v}


def retrans(ev):
    return [(e["tsn"], e["kind"], e["spurious"]) for e in named(ev, "retransmission")]


def counts(rep, d="A>B"):
    r = rep["associations"][0]["directions"][d]["retransmissions"]
    return r["total"], r["fast"], r["timeout"], r["spurious"]


# ------------------------------------------------------------------------------------------------ fast / timeout


def test_fast_retransmission_after_three_miss_reports():
    a = Assoc.make()
    first = a.a_sends(data(1000))
    for tsn in (1001, 1002, 1003):
        a.wait(1 * MS).a_sends(data(tsn))
    a.wait(20 * MS).b_sends(sack(999, gaps=[(1001, 1001)]))      # 1000 missing: report 1
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1002)]))       # report 2
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1003)]))       # report 3
    a.wait(100 * US).a_sends(data(1000))                          # fast retransmission
    a.wait(20 * MS).b_sends(sack(1003))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "fast", False)]
    e = named(ev, "retransmission")[0]
    assert e["since_first_ns"] == e["ts_ns"] - first.ts_ns == 25 * MS + 100 * US
    assert e["first_frame"] == 1 and e["frame_no"] == 8
    assert (e["direction"], e["src"], e["dst"]) == ("A>B", A1, B1)
    assert counts(rep) == (1, 1, 0, 0)
    s = rep["associations"][0]
    assert s["directions"]["A>B"]["data_chunks"] == 5 and s["directions"]["A>B"]["unique_tsns"] == 4
    assert path(s, A1, B1)["retransmissions"] == 1
    assert s["directions"]["B>A"]["gap_blocks"] == 3
    assert rtts(ev) == []                                         # 1000 was timed, then retransmitted


def test_two_miss_reports_then_retransmission_is_timeout():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(1 * MS).a_sends(data(1001))
    a.wait(1 * MS).a_sends(data(1002))
    a.wait(20 * MS).b_sends(sack(999, gaps=[(1001, 1001)]))
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1002)]))
    a.wait(1 * S).a_sends(data(1000))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "timeout", False)]
    assert counts(rep) == (1, 0, 1, 0)


def test_timeout_retransmission_to_an_alternate_path():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.a_sends(data(1000), src=A1, dst=B1)
    a.wait(1 * S).a_sends(data(1000), src=A2, dst=B2)            # RFC 9260 §6.4: retransmit to another address
    a.wait(50 * MS).b_sends(sack(1000), src=B2, dst=A2)
    rep, ev = analyze(a.frames)
    assert [(e["src"], e["dst"], e["kind"]) for e in named(ev, "retransmission")] == [(A2, B2, "timeout")]
    s = rep["associations"][0]
    assert path(s, A1, B1)["retransmissions"] == 0 and path(s, A2, B2)["retransmissions"] == 1
    assert path(s, A1, B1)["data_chunks"] == 1 and path(s, A2, B2)["data_chunks"] == 1


# ------------------------------------------------------------------------------------------------ spurious


def test_spurious_resend_of_an_acked_tsn():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(30 * MS).b_sends(sack(1000))
    a.wait(2 * S).a_sends(data(1000))                             # the wire had already shown it acked
    rep, ev = analyze(a.frames)
    # no SACK ever reported it missing: engine.md says "timeout" when fewer than 3 miss reports
    assert retrans(ev) == [(1000, "timeout", True)]
    assert counts(rep) == (1, 0, 1, 1)


def test_spurious_reported_as_duplicate_tsn_by_the_peer():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(1 * S).a_sends(data(1000))                             # T3 fired, the SACK was just slow
    a.wait(5 * MS).b_sends(sack(1000, dups=[1000]))               # peer: "1000 received twice"
    rep, ev = analyze(a.frames)
    # the retransmission event is emitted when the chunk is resent, before the peer's report: not spurious yet;
    # the SACK that reports the duplicate then says so with a "spurious" event
    assert retrans(ev) == [(1000, "timeout", False)]
    assert counts(rep) == (1, 0, 1, 1)
    assert rep["associations"][0]["directions"]["B>A"]["duplicate_tsns_reported"] == 1
    (sp,) = named(ev, "spurious")
    assert (sp["tsn"], sp["direction"], sp["src"], sp["dst"], sp["reason"]) == (1000, "A>B", A1, B1, "dup_tsn")
    assert (sp["frame_no"], sp["first_frame"], sp["ts_ns"]) == (3, 1, a.frames[2].ts_ns)
    assert [e[0] for e in ev].index("retransmission") < [e[0] for e in ev].index("spurious")


def test_spurious_event_follows_the_last_transmission_path_and_comes_once():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.a_sends(data(1000), src=A1, dst=B1)
    a.wait(1 * MS).a_sends(data(1001), src=A1, dst=B1)
    a.wait(1 * S).a_sends(data(1000), src=A2, dst=B2)             # T3 to the alternate path
    a.wait(5 * MS).b_sends(sack(1001, dups=[1000]), src=B2, dst=A2)
    a.wait(5 * MS).b_sends(sack(1001, dups=[1000]), src=B2, dst=A2)  # said again: already known
    a.wait(5 * MS).b_sends(sack(1001, dups=[1001]), src=B2, dst=A2)  # 1001 was never resent: not spurious
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "timeout", False)]
    sp = named(ev, "spurious")
    assert [(e["tsn"], e["src"], e["dst"], e["first_frame"], e["frame_no"]) for e in sp] == [(1000, A2, B2, 1, 4)]
    assert counts(rep) == (1, 0, 1, 1)


def test_resend_after_the_ack_is_spurious_at_once_and_gets_no_second_event():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(30 * MS).b_sends(sack(1000))
    a.wait(2 * S).a_sends(data(1000))                             # spurious when sent
    a.wait(5 * MS).b_sends(sack(1000, dups=[1000]))               # the peer confirms: nothing new
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "timeout", True)]
    assert named(ev, "spurious") == []
    assert counts(rep) == (1, 0, 1, 1)


def test_needed_retransmission_is_not_spurious():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(1 * S).a_sends(data(1000))
    a.wait(30 * MS).b_sends(sack(1000))
    a.wait(1 * S).a_sends(data(1001))
    a.wait(30 * MS).b_sends(sack(1001))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "timeout", False)]
    assert counts(rep) == (1, 0, 1, 0)


# ------------------------------------------------------------------------------------------------ duplicate frames


def test_duplicate_frame_is_not_a_retransmission_but_300ms_later_is():
    a = Assoc.make()
    f = a.a_sends(data(1000, payload=100))
    a.repeat(f, 400 * US)                                         # same frame captured twice (tcpdump -i any)
    a.wait(30 * MS).b_sends(sack(1000))
    a.wait(270 * MS)
    a.repeat(f)                                                   # the very same bytes 300 ms later: a resend
    rep, ev = analyze(a.frames)
    cap, s = rep["capture"], rep["associations"][0]
    assert cap["duplicates"] == 1
    assert cap["chunks"]["DATA"] == 3 and cap["sctp_packets"] == 4
    assert (s["packets"], s["duplicate_packets"]) == (3, 1)
    d = s["directions"]["A>B"]
    assert nz(d["duplicate_chunks"]) == {"DATA": 1}
    assert (d["data_chunks"], d["data_bytes"], d["unique_tsns"]) == (2, 200, 1)
    assert s["chunks"]["DATA"] == 2
    # the duplicate did not poison Karn: 1000 was sampled; the late resend is a (spurious) retransmission
    assert rtts(ev) == [(1000, 30 * MS)]
    assert [(t, s) for t, _kind, s in retrans(ev)] == [(1000, True)]
    assert [(e["frame_no"], e["first_frame"]) for e in named(ev, "duplicate_frame")] == [(2, 1)]


def test_duplicate_sack_and_bundle():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(20 * MS)
    f = a.b_sends(sack(1000), data(5000, sid=1))
    a.repeat(f, 30 * US)
    a.wait(1 * MS).a_sends(sack(5000))
    rep, ev = analyze(a.frames)
    s = rep["associations"][0]
    assert rep["capture"]["duplicates"] == 1
    d = s["directions"]["B>A"]
    assert nz(d["duplicate_chunks"]) == {"SACK": 1, "DATA": 1}
    assert (d["sacks"], d["data_chunks"]) == (1, 1)
    assert rtts(ev) == [(1000, 20 * MS), (5000, 1 * MS)]
    assert counts(rep, "B>A")[0] == 0


def test_same_tsn_with_another_ip_id_is_a_retransmission():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(500 * US).a_sends(data(1000))                          # new IP id: a real (fast) resend, not a copy
    rep, ev = analyze(a.frames)
    assert rep["capture"]["duplicates"] == 0
    assert counts(rep)[0] == 1


def test_dup_window_is_configurable():
    a = Assoc.make()
    f = a.a_sends(data(1000))
    a.repeat(f, 400 * US)
    rep, ev = analyze(a.frames, dup_window_ns=100 * US)
    assert rep["capture"]["duplicates"] == 0
    assert counts(rep)[0] == 1
