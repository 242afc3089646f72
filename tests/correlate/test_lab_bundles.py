"""The correlator on the committed lab bundles: real kernel recordings beside real captures of the same runs.

What each scenario put into the run is known (netem on the router, netem inside the client, 100 % loss on a
path...), so each test asserts that the correlator's verdicts and numbers say it.
"""
from __future__ import annotations

import numpy as np
import pytest

from bundles import NAMES, checks, correlation, one

MS = 1_000_000
HZ250_JIFFY = 4 * MS


@pytest.mark.parametrize("name", NAMES)
def test_every_bundle_joins_both_ends_and_both_captures(name):
    cx = correlation(name)
    joined = [a for a in cx.assocs if a.wire]
    assert joined, "no association joined"
    for a in joined:
        assert len(a.wire) == 2, f"association {a.id} is not in both captures"
        assert all(a.sides[s].kernel for s in (0, 1)), f"association {a.id}: a kernel end is missing"
        assert a.near[0] and a.near[1] and a.near[0] != a.near[1]
    assert one(cx, "associations").verdict == "agree"
    for c in checks(cx, "clock"):
        assert c.verdict == "agree", c.sentence          # one guest kernel: the recorded offsets fit


@pytest.mark.parametrize("name", NAMES)
def test_every_decomposition_adds_up_to_the_kernels_sample(name):
    cx = correlation(name)
    dec = [s for s in cx.samples if s.wire_rtt_ns is not None and s.host_tx_ns is not None
           and s.host_rx_ns is not None]
    assert len(dec) >= 0.9 * len(cx.samples)
    for s in dec:
        assert s.host_tx_ns + s.wire_rtt_ns + s.host_rx_ns + s.quantisation_ns == s.rtt_ns
        if s.net_out_ns is not None and s.peer_ns is not None and s.net_back_ns is not None:
            assert s.net_out_ns + s.peer_ns + s.net_back_ns == s.wire_rtt_ns
        # the kernel's count of jiffies is the events' own jiffies, up to the ticks the probe's read trails
        assert -5 <= s.stamp_jiffies <= 0


@pytest.mark.parametrize("name", ["baseline", "failover", "ngap-like", "slow-receiver"])
def test_checks_agree_where_they_should(name):
    """Nothing in these runs sits between the stack and its capture point: every check agrees (a probe hit the
    kernel skipped makes the recording check 'explained', never worse)."""
    cx = correlation(name)
    bad = [c.as_dict() for c in cx.checks if c.verdict not in ("agree", "explained")]
    assert not bad
    explained = {c.name for c in cx.checks if c.verdict == "explained"}
    assert explained <= {"recording"}, explained
    for c in checks(cx, "rtt_samples"):
        n = c.numbers
        assert n["host_tx_median_ns"] < HZ250_JIFFY and n["host_rx_median_ns"] < HZ250_JIFFY


def test_baseline_kernel_rtt_is_the_wire_rtt_in_jiffies():
    cx = correlation("baseline")
    for d in ("A>B", "B>A"):
        c = one(cx, "rtt_samples", 1, d)
        assert c.verdict == "agree" and c.numbers["unattributed"] == 0
        assert c.numbers["attributed"] == c.numbers["samples"] > 20
    assert one(cx, "rto", 1, "A>B").numbers["formula_mismatches"] == 0
    # p1 is 2 x 20 ms: the wire part of the client's data samples on p1 sits at or above 40 ms
    p1 = [s for s in cx.samples if s.side == 0 and s.path == "198.19.1.1" and s.kind == "data"
          and s.wire_rtt_ns is not None]
    assert p1 and min(s.wire_rtt_ns for s in p1) >= 40 * MS


def test_hostdelay_decomposition_recovers_the_queue_before_the_capture_point():
    """15 ms of netem on the client's own interfaces: the client's kernel samples are the wire RTT plus that
    queue, which the decomposition puts in host_tx (within a jiffy plus the stack's own time, measured in the
    baseline run); the server's samples see it inside the client's turnaround (peer)."""
    base = correlation("baseline")
    stack = np.median([s.host_tx_ns for s in base.samples if s.side == 0 and s.kind == "data"
                       and s.host_tx_ns is not None])
    cx = correlation("hostdelay")
    a = [s for s in cx.samples if s.side == 0 and s.kind == "data" and s.host_tx_ns is not None]
    assert len(a) > 30
    med = float(np.median([s.host_tx_ns for s in a]))
    assert 15 * MS <= med <= 15 * MS + HZ250_JIFFY + stack, (med, stack)
    # netem never releases a packet early: no sample shows less than the 15 ms it holds them (late timers under
    # emulation make some longer; the kernel's sample includes exactly what they took)
    assert min(s.host_tx_ns for s in a) >= 15 * MS - MS // 2
    assert all(s.host_tx_ns < s.rtt_ns for s in a)
    c = one(cx, "rtt_samples", 1, "A>B")
    assert c.verdict == "explained" and "before the capture point" in c.sentence
    assert 15 * MS <= c.numbers["host_tx_median_ns"] <= 15 * MS + HZ250_JIFFY + stack
    # the server's own stack added nothing; the client's queue is in the receiver's turnaround from its view
    b = one(cx, "rtt_samples", 1, "B>A")
    assert b.verdict == "agree"
    peer = [s.peer_ns for s in cx.samples if s.side == 1 and s.kind == "data" and s.peer_ns is not None]
    assert np.median(peer) >= 15 * MS
    # and the wire alone cannot see it: the client capture's RTT of each timed chunk is 15 ms or more short of
    # the kernel's sample, and the host parts account for the difference within a jiffy
    excess = np.array([s.rtt_ns - s.wire_rtt_ns for s in a])
    host = np.array([s.host_tx_ns + s.host_rx_ns for s in a])
    assert np.median(excess) >= 15 * MS - HZ250_JIFFY
    assert abs(np.median(excess) - np.median(host)) <= HZ250_JIFFY


def test_lossy_retransmissions_match_the_wire_kind_by_kind():
    cx = correlation("lossy")
    c = one(cx, "retransmissions", 1, "A>B")
    assert c.verdict in ("agree", "explained"), c.sentence
    k, w = c.numbers["kernel"], c.numbers["wire"]
    assert k.get("fast", 0) + k.get("t3", 0) > 5
    assert c.numbers["kind_differs"] == 0 and c.numbers["wire_rtx_kernel_sent_once"] == 0
    assert c.numbers["matched_same_kind"] + c.numbers["original_not_captured"] + c.numbers["kernel_rtx_not_on_wire"] \
        == sum(k.values())
    assert k.get("fast", 0) == w.get("fast", 0) + c.numbers["pairs"].get("fast/none", 0)


def test_failover_path_state_follows_the_unanswered_heartbeats():
    cx = correlation("failover")
    c = one(cx, "path_state", 1, "A")
    assert c.verdict == "agree" and c.numbers["without"] == 0
    kv = cx.kernels[0]
    down = [e for e in kv.of("path_state") if e["path_addr"] == "198.19.1.1" and e["command"] in ("DOWN", "PF")]
    assert down, "the kernel never marked the dead path"
    assert "unanswered HEARTBEATs" in c.sentence


def test_ngap_like_two_associations_into_one_server():
    cx = correlation("ngap-like")
    joined = [a for a in cx.assocs if a.wire]
    assert len(joined) == 2
    assert len({a.sides[1].ident for a in joined}) == 2 and len({a.sides[0].ident for a in joined}) == 2
    for a in joined:
        assert {c.assoc for c in checks(cx, "rtt_samples")} >= {a.id}


def test_slow_receiver_zero_windows_are_the_kernels():
    cx = correlation("slow-receiver")
    loc = one(cx, "local_rwnd", 1, "B>A")
    assert loc.verdict == "agree" and loc.numbers["zero_window_sacks"] > 0
    assert one(cx, "peer_rwnd", 1, "A>B").verdict == "agree"


def test_bulk_flight_is_the_kernels_outstanding_data():
    cx = correlation("bulk")
    c = one(cx, "flight", 1, "A>B")
    assert c.verdict in ("agree", "explained")
    assert c.numbers.get("flight_above_cwnd", 0) <= 0.02 * c.numbers["sacks"]
    assert c.numbers["wire_flight_max"] > 10_000
