"""Retransmissions (fast / timeout / spurious), and duplicate frames (tcpdump -i any), which are never
retransmissions."""
from __future__ import annotations

import pytest

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


# ------------------------------------------------------------------------------------------------ fast recovery
# RFC 9260 §7.2.4: "If an endpoint is in Fast Recovery and a SACK arrives that advances the Cumulative TSN Ack
# Point, the miss indications are incremented for all TSNs reported missing in the SACK." Fast Recovery begins
# with a fast retransmission (exit point: the highest TSN sent then) and ends when the cum ack reaches the exit
# point, or when T3-rtx fires (Linux 6.1). As in Linux's sctp_outq_sack, only SACKs with gap blocks count misses.


def _lose_and_fast_retransmit(a, sent_before: int):
    """A sends 1000 .. 1000 + sent_before - 1; 1000 is lost, the peer reports it missing 3 times (it has 1001 ..
    1003); A fast-retransmits it: Fast Recovery, exit point 1000 + sent_before - 1."""
    for tsn in range(1000, 1000 + sent_before):
        a.wait(1 * MS).a_sends(data(tsn))
    for top in (1001, 1002, 1003):
        a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, top)]))
    a.wait(100 * US).a_sends(data(1000))


def test_fast_recovery_sack_advancing_the_cum_ack_counts_misses_up_to_its_highest_tsn():
    a = Assoc.make()
    _lose_and_fast_retransmit(a, 6)                                    # Fast Recovery, exit point 1005
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1003), (1005, 1005)]))  # 1004 missing: miss 1 (HTNA 1005)
    a.wait(1 * MS).a_sends(data(1006))
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1003), (1005, 1006)]))  # miss 2 (HTNA 1006)
    # the resent 1000 arrives: cum 999 -> 1003. Newly acked: 1000 .. 1003 only, all below 1004, so the HTNA rule
    # alone counts no miss; in Fast Recovery (1003 < exit 1005) every TSN reported missing below the SACK's
    # highest TSN (1006) gets one: 1004's third
    a.wait(10 * MS).b_sends(sack(1003, gaps=[(1005, 1006)]))
    a.wait(100 * US).a_sends(data(1004))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "fast", False), (1004, "fast", False)]
    assert counts(rep) == (2, 2, 0, 0)


def test_cum_ack_advancing_outside_fast_recovery_counts_no_miss():
    a = Assoc.make()                                                    # the same SACKs, no fast retransmission
    for tsn in range(1000, 1007):
        a.wait(1 * MS).a_sends(data(tsn))
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1003), (1005, 1005)]))  # 1000 and 1004 missing: miss 1
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1003), (1005, 1006)]))  # miss 2
    a.wait(1 * S).a_sends(data(1000))                                   # T3
    a.wait(10 * MS).b_sends(sack(1003, gaps=[(1005, 1006)]))            # cum moves, nothing newly gap-acked
    a.wait(1 * S).a_sends(data(1004))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "timeout", False), (1004, "timeout", False)]


def test_sacks_without_gap_blocks_count_no_miss_even_in_fast_recovery():
    a = Assoc.make()
    _lose_and_fast_retransmit(a, 8)                                    # Fast Recovery, exit point 1007
    # 1004 .. 1007 are on their way: SACKs without gap blocks report nothing missing, although the cum ack
    # moves three times in Fast Recovery (1003, 1004, 1005 < 1007) with 1006 outstanding below the highest sent
    for cum in (1003, 1004, 1005):
        a.wait(5 * MS).b_sends(sack(cum))
    a.wait(1 * S).a_sends(data(1006))
    # and outside Fast Recovery: three SACKs without gap blocks, the same cum ack, 1009 outstanding
    a.wait(10 * MS).b_sends(sack(1007))                                 # exit point reached
    a.wait(1 * MS).a_sends(data(1008))
    a.wait(1 * MS).a_sends(data(1009))
    for _ in range(3):
        a.wait(5 * MS).b_sends(sack(1008))
    a.wait(1 * S).a_sends(data(1009))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "fast", False), (1006, "timeout", False), (1009, "timeout", False)]


@pytest.mark.parametrize("sent_before, kind", [(5, "timeout"), (6, "fast")])
def test_fast_recovery_ends_when_the_cum_ack_reaches_its_exit_point(sent_before, kind):
    a = Assoc.make()
    _lose_and_fast_retransmit(a, sent_before)                          # exit point 1004, or 1005
    for tsn in range(1000 + sent_before, 1010):                         # sent after: not the exit point
        a.wait(1 * MS).a_sends(data(tsn))
    # 1005 is late, 1006 lost
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1004), (1007, 1007)]))  # 1005, 1006: miss 1 (HTNA 1007)
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1004), (1007, 1008)]))   # miss 2 (HTNA 1008)
    # the resent 1000 arrives: cum 999 -> 1004, nothing newly gap-acked. Exit point 1004: reached (<=), Fast
    # Recovery ends before this SACK's misses count, 1006 has 2 and its resend is a timeout. Exit point 1005:
    # still in Fast Recovery (also though 1009 was sent since: the exit point is the highest TSN sent when Fast
    # Recovery began), 1006 is reported missing below the SACK's highest TSN 1008: its third miss
    a.wait(1 * MS).b_sends(sack(1004, gaps=[(1007, 1008)]))
    a.wait(1 * S if kind == "timeout" else 100 * US).a_sends(data(1006))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "fast", False), (1006, kind, False)]


def test_timeout_retransmission_ends_fast_recovery():
    a = Assoc.make()
    _lose_and_fast_retransmit(a, 10)                                   # exit point 1009; 1005 lost as well
    a.wait(10 * MS).b_sends(sack(999, gaps=[(1001, 1004), (1006, 1006)]))  # 1000 (resent) and 1005: miss 1
    a.wait(1 * MS).b_sends(sack(999, gaps=[(1001, 1004), (1006, 1009)]))   # miss 2
    a.wait(1 * S).a_sends(data(1000))           # the resent 1000 was lost too: T3-rtx, which ends Fast Recovery
    # cum 999 -> 1004 < exit 1009, nothing newly gap-acked: in Fast Recovery this would be 1005's third miss
    a.wait(10 * MS).b_sends(sack(1004, gaps=[(1006, 1009)]))
    a.wait(1 * S).a_sends(data(1005))
    rep, ev = analyze(a.frames)
    assert retrans(ev) == [(1000, "fast", False), (1000, "timeout", False), (1005, "timeout", False)]


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
