"""DATA->SACK RTT (RFC 9260 §6.3.1 C4/C5), delayed-SACK flag, TSN wrap-around, SRTT/RTTVAR/RTO recomputation.

The captures are mid-association (no handshake) unless said otherwise, so every RTT sample comes from what the test
builds; the capture point is next to A, so an RTT is "SACK timestamp - DATA timestamp" exactly.
"""
from __future__ import annotations

from fractions import Fraction

from craft import MS, S, Assoc, analyze, data, heartbeat, heartbeat_ack, linux_hb_info, named, path, rtts, sack

A1, B1 = "10.0.0.1", "10.0.0.2"


def one(report):
    assert len(report["associations"]) == 1, report["associations"]
    return report["associations"][0]


def test_single_sample_exact():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(37_654_321).b_sends(sack(1000))
    rep, ev = analyze(a.frames)
    s = one(rep)
    assert rtts(ev) == [(1000, 37_654_321)]
    r = s["directions"]["A>B"]["rtt"]
    assert (r["samples"], r["data_samples"], r["heartbeat_samples"], r["handshake_samples"]) == (1, 1, 0, 0)
    assert r["min_ns"] == r["max_ns"] == 37_654_321
    e = named(ev, "rtt")[0]
    assert (e["direction"], e["src"], e["dst"], e["method"], e["delayed_sack"]) == ("A>B", A1, B1, "data", False)
    assert s["directions"]["B>A"]["rtt"]["samples"] == 0


def test_karn_retransmitted_tsn_gives_no_sample():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(1 * S).a_sends(data(1000))           # T3 retransmission, no SACK seen before it
    a.wait(30 * MS).b_sends(sack(1000))         # ambiguous: which transmission does it ack? -> no sample
    a.wait(10 * MS).a_sends(data(1001))
    a.wait(25 * MS).b_sends(sack(1001))
    rep, ev = analyze(a.frames)
    d = one(rep)["directions"]["A>B"]
    assert rtts(ev) == [(1001, 25 * MS)]
    assert d["rtt"]["data_samples"] == 1
    assert d["retransmissions"]["total"] == 1 and d["retransmissions"]["timeout"] == 1


def test_c5_lower_tsn_retransmitted_while_r_outstanding():
    a = Assoc.make()
    a.a_sends(data(1000))                       # timed
    a.wait(1 * MS).a_sends(data(1001))          # not timed (1000 is); lost
    a.wait(19 * MS).b_sends(sack(1000))         # sample 1000: 20 ms
    a.wait(1 * MS).a_sends(data(1002))          # timed
    # B's SACK for 1002 never reaches the capture point; A's T3 fires for 1001
    a.wait(1 * S).a_sends(data(1001))           # retransmission of a TSN <= 1002 while 1002 is outstanding
    a.wait(21 * MS).b_sends(sack(1002))         # covers 1002: C5 forbids the sample (and Karn for 1001)
    a.wait(9 * MS).a_sends(data(1003))          # sent after the retransmission of the lower TSN: eligible
    a.wait(22 * MS).b_sends(sack(1003))
    rep, ev = analyze(a.frames)
    assert rtts(ev) == [(1000, 20 * MS), (1003, 22 * MS)]
    assert one(rep)["directions"]["A>B"]["rtt"]["data_samples"] == 2


def test_one_timed_tsn_per_path_at_a_time():
    a = Assoc.make()
    a.a_sends(data(1000))                       # timed
    a.wait(5 * MS).a_sends(data(1001))          # not timed: 1000 is in progress (C4, like Linux rto_pending)
    a.wait(25 * MS).b_sends(sack(1001))         # acks both: one sample only, for 1000
    rep, ev = analyze(a.frames)
    assert rtts(ev) == [(1000, 30 * MS)]


def test_sample_through_gap_block():
    a = Assoc.make()
    a.a_sends(data(1000))                       # timed
    a.wait(1 * MS).a_sends(data(1001))          # lost
    a.wait(39 * MS).b_sends(sack(1000))         # sample 1000 = 40 ms
    a.wait(5 * MS).a_sends(data(1002))          # timed
    a.wait(37 * MS).b_sends(sack(1000, gaps=[(1002, 1002)]))  # 1002 first acked by a gap block: 37 ms
    a.wait(1 * MS).a_sends(data(1003))          # timed
    a.wait(27 * MS).b_sends(sack(1000, gaps=[(1002, 1003)]))  # 27 ms, again via the gap block
    a.wait(1 * S).a_sends(data(1001))           # retransmission (timeout: two miss reports)
    a.wait(30 * MS).b_sends(sack(1003))         # acks 1001 (retransmitted) and nothing new: no sample
    rep, ev = analyze(a.frames)
    assert rtts(ev) == [(1000, 40 * MS), (1002, 37 * MS), (1003, 27 * MS)]
    s = one(rep)
    assert s["directions"]["B>A"]["gap_blocks"] == 2
    assert s["directions"]["A>B"]["retransmissions"]["timeout"] == 1


def test_tsn_wrap_around():
    a = Assoc.make(tsns=(0xFFFFFFFE, 5000))
    a.a_sends(data(0xFFFFFFFE))                 # timed
    a.wait(1 * MS).a_sends(data(0xFFFFFFFF))
    a.wait(1 * MS).a_sends(data(0))             # lost
    a.wait(1 * MS).a_sends(data(1))
    a.wait(27 * MS).b_sends(sack(0xFFFFFFFF, gaps=[(1, 1)]))       # sample 0xFFFFFFFE: 30 ms; 0 missing (1)
    a.wait(1 * MS).a_sends(data(2))             # timed
    a.wait(1 * MS).a_sends(data(3))
    a.wait(18 * MS).b_sends(sack(0xFFFFFFFF, gaps=[(1, 2)]))       # 2 via gap: 19 ms; 0 missing (2)
    a.wait(2 * MS).b_sends(sack(0xFFFFFFFF, gaps=[(1, 3)]))        # 0 missing (3)
    a.wait(1 * MS).a_sends(data(0))             # fast retransmission across the wrap
    a.wait(22 * MS).b_sends(sack(3))
    rep, ev = analyze(a.frames)
    d = one(rep)["directions"]["A>B"]
    assert rtts(ev) == [(0xFFFFFFFE, 30 * MS), (2, 19 * MS)]
    assert d["data_chunks"] == 7
    assert d["unique_tsns"] == 6
    r = d["retransmissions"]
    assert (r["total"], r["fast"], r["timeout"], r["spurious"]) == (1, 1, 0, 0)
    assert [e["tsn"] for e in named(ev, "retransmission")] == [0]
    assert one(rep)["directions"]["B>A"]["gap_blocks"] == 3
    assert named(ev, "sack")[-1]["flight_bytes"] == 0


def test_delayed_sack_flag():
    a = Assoc.make()
    a.a_sends(data(1000))
    a.wait(220 * MS).b_sends(sack(1000))        # one packet acked, >= 150 ms later: delayed SACK
    a.wait(10 * MS).a_sends(data(1001))
    a.wait(1 * MS).a_sends(data(1002))
    a.wait(199 * MS).b_sends(sack(1002))        # two packets acked: not the delayed-ack timer
    a.wait(10 * MS).a_sends(data(1003))
    a.wait(100 * MS).b_sends(sack(1003))        # one packet, < 150 ms
    rep, ev = analyze(a.frames)
    assert [(e["tsn"], e["rtt_ns"], e["delayed_sack"]) for e in named(ev, "rtt")] == [
        (1000, 220 * MS, True), (1001, 200 * MS, False), (1003, 100 * MS, False)]
    r = one(rep)["directions"]["A>B"]["rtt"]
    assert (r["data_samples"], r["delayed_sack_samples"]) == (3, 1)


# ---------------------------------------------------------------------------------------------- RFC 9260 6.3.1


def rfc_series(samples_ns):
    """RFC 9260 §6.3.1 C2/C3 with alpha 1/8, beta 1/4, exactly; RTO clamped to [1 s, 60 s] (C6/C7)."""
    out, srtt, rttvar = [], None, None
    for r in map(Fraction, samples_ns):
        if srtt is None:
            srtt, rttvar = r, r / 2
        else:
            rttvar = Fraction(3, 4) * rttvar + Fraction(1, 4) * abs(srtt - r)
            srtt = Fraction(7, 8) * srtt + Fraction(1, 8) * r
        rto = min(max(srtt + 4 * rttvar, Fraction(S)), Fraction(60 * S))
        out.append((srtt, rttvar, rto))
    return out


def heartbeats_with_rtts(rtts_ns, gap_ns=2 * S):
    a = Assoc.make()
    for i, r in enumerate(rtts_ns):
        info = linux_hb_info(B1, 4_295_000_000 + i * 500, 0x1234_5678_9ABC_0000 + i)
        a.a_sends(heartbeat(info))
        a.wait(r).b_sends(heartbeat_ack(info))
        a.wait(gap_ns)
    return a.frames


def close(x, expected, tol):
    return abs(x - expected) <= tol


def check_series(samples):
    rep, ev = analyze(heartbeats_with_rtts(samples))
    expected = rfc_series(samples)
    got = named(ev, "rtt")
    assert [e["rtt_ns"] for e in got] == samples
    for e, (srtt, rttvar, rto) in zip(got, expected):
        # integer ns arithmetic may round each step: allow a few ns
        assert close(e["srtt_ns"], srtt, 8) and close(e["rttvar_ns"], rttvar, 8) and close(e["rto_ns"], rto, 40), \
            (e, float(srtt), float(rttvar), float(rto))
    srtt, rttvar, rto = expected[-1]
    for r in (one(rep)["directions"]["A>B"]["rtt"], path(one(rep), A1, B1)["rtt"]):
        assert close(r["srtt_ns"], srtt, 8) and close(r["rttvar_ns"], rttvar, 8) and close(r["rto_ns"], rto, 40)
        assert r["heartbeat_samples"] == r["samples"] == len(samples)


def test_rto_recomputation_small_rtts_clamped_to_rto_min():
    check_series([100 * MS, 120 * MS, 80 * MS, 300 * MS, 90 * MS, 95_123_457])


def test_rto_recomputation_large_rtts():
    check_series([900 * MS, 1500 * MS, 700 * MS, 1_234_567_891, 2 * S])


def test_rto_capped_at_rto_max():
    check_series([20 * S, 40 * S])


def test_rtt_statistics_and_percentiles():
    samples = [(i + 1) * MS + 7 for i in range(101)]  # 1..101 ms
    rep, _ = analyze(heartbeats_with_rtts(samples, gap_ns=200 * MS))
    r = one(rep)["directions"]["A>B"]["rtt"]
    assert (r["samples"], r["min_ns"], r["max_ns"]) == (101, samples[0], samples[-1])
    assert abs(r["mean_ns"] - sum(samples) // 101) <= 1
    for key, q in (("p50_ns", 0.50), ("p90_ns", 0.90), ("p99_ns", 0.99)):
        lo = samples[int((len(samples) - 1) * q)]
        hi = samples[min(len(samples) - 1, int((len(samples) - 1) * q) + 1)]
        assert lo * 0.99 <= r[key] <= hi * 1.01, (key, r[key], lo, hi)
