"""Capture vantage point: where the capture sits between A and B, from the RTTs each side shows (engine.md
"Capture vantage point"), and how the report marks RTTs that are a local turnaround or half a path.

The captures are built as a capture point at a given place sees them: ``ca``/``cb`` are the one-way delays from the
capture point to A/B, ``turn_a``/``turn_b`` the endpoints' turnaround. Something A sends and B answers comes back
past the capture point 2*cb + turn_b later; the reverse 2*ca + turn_a later. So the A side (B's samples) is
2*ca + turn_a and the B side (A's samples) is 2*cb + turn_b, exactly.
"""
from __future__ import annotations

import pytest
from craft import MS, US, Assoc, analyze, cookie_ack, cookie_echo, data, heartbeat, heartbeat_ack, init, \
    init_ack, linux_hb_info, path, sack

from sctpcorr.report.text import render

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"


def one(report):
    assert len(report["associations"]) == 1
    return report["associations"][0]


def handshake(a, ca, cb, turn_a, turn_b):
    a.a_sends(init(a.a.tag, a.a.tsn), vtag=0)
    a.wait(2 * cb + turn_b).b_sends(init_ack(a.b.tag, a.b.tsn))
    a.wait(2 * ca + turn_a).a_sends(cookie_echo())
    a.wait(2 * cb + turn_b).b_sends(cookie_ack())


_nonce = iter(range(1, 10**6))


def a_heartbeat(a, cb, turn_b, src=None, dst=None):
    info = linux_hb_info(dst or B1, 1000, next(_nonce))
    a.wait(1 * MS).a_sends(heartbeat(info), src=src, dst=dst)
    a.wait(2 * cb + turn_b).b_sends(heartbeat_ack(info), src=dst, dst=src)


def b_heartbeat(a, ca, turn_a, src=None, dst=None):
    info = linux_hb_info(dst or A1, 2000, next(_nonce))
    a.wait(1 * MS).b_sends(heartbeat(info), src=src, dst=dst)
    a.wait(2 * ca + turn_a).a_sends(heartbeat_ack(info), src=dst, dst=src)


def a_data(a, cb, sack_delay_b):
    tsn = a.next_tsn("A")
    a.wait(1 * MS).a_sends(data(tsn))
    a.wait(2 * cb + sack_delay_b).b_sends(sack(tsn))


def b_data(a, ca, sack_delay_a):
    tsn = a.next_tsn("B")
    a.wait(1 * MS).b_sends(data(tsn))
    a.wait(2 * ca + sack_delay_a).a_sends(sack(tsn))


def doc(report):
    """The --json document the text renderer takes (only the parts it reads)."""
    return {"tool": {"version": "t"}, "files": [], "filters": {}, "capture": report["capture"],
            "associations": report["associations"]}


def test_next_to_a_handshake_and_the_misleading_b_rtt():
    """The brief's case: next to A, B>A "RTT" is A's SACK turnaround (here A's application answers after 40 ms,
    a typical request/response pattern) while the path RTT is 20 ms."""
    a = Assoc.make()
    handshake(a, ca=0, cb=10 * MS, turn_a=30 * US, turn_b=50 * US)
    for _ in range(5):
        a_data(a, cb=10 * MS, sack_delay_b=40 * MS)
        b_data(a, ca=0, sack_delay_a=40 * MS)
    rep, _ = analyze(a.frames)
    s = one(rep)
    v = s["vantage"]
    assert v["point"] == "A"
    assert v["evidence"] == "handshake"
    assert v["a_side_rtt_ns"] == 30 * US                 # INIT-ACK -> COOKIE-ECHO: A's own turnaround
    assert v["b_side_rtt_ns"] == 20 * MS + 50 * US       # INIT -> INIT-ACK and COOKIE-ECHO -> COOKIE-ACK
    assert v["full_rtt_ns"] == 20 * MS + 80 * US
    assert v["minima"]["a_side"] == {"data_ns": 40 * MS, "heartbeat_ns": None, "handshake_ns": 30 * US}
    assert v["minima"]["b_side"] == {"data_ns": 60 * MS, "heartbeat_ns": None, "handshake_ns": 20 * MS + 50 * US}
    d = s["directions"]
    assert abs(d["B>A"]["rtt"]["p50_ns"] - 40 * MS) < 1 * MS  # what a user would misread as B's path RTT
    assert (d["A>B"]["rtt_scope"], d["B>A"]["rtt_scope"]) == ("path", "turnaround")
    for p in s["paths"]:                                 # one address pair: the same verdict per path
        assert p["vantage"] == v
        assert p["rtt_scope"] == ("path" if p["direction"] == "A>B" else "turnaround")
    text = render(doc(rep))
    assert "  B>A*  " in text and "  A>B*" not in text
    assert "capture next to A (capture<->A 0.030 ms, capture<->B 20.050 ms, from handshake minima)" in text
    assert "* B>A RTT measured at A's side: A's SACK turnaround, not the path RTT (full RTT about 20.080 ms)" \
        in text
    assert "  * measured next to the receiving endpoint: its turnaround, not the path RTT" in text


def test_next_to_b_heartbeats_mid_association():
    a = Assoc.make()
    for _ in range(3):
        a_heartbeat(a, cb=0, turn_b=20 * US)
        b_heartbeat(a, ca=15 * MS, turn_a=25 * US)
    rep, _ = analyze(a.frames)
    s = one(rep)
    v = s["vantage"]
    assert (v["point"], v["evidence"]) == ("B", "heartbeat")
    assert (v["a_side_rtt_ns"], v["b_side_rtt_ns"]) == (30 * MS + 25 * US, 20 * US)
    assert v["full_rtt_ns"] == 30 * MS + 45 * US
    assert (s["directions"]["A>B"]["rtt_scope"], s["directions"]["B>A"]["rtt_scope"]) == ("turnaround", "path")
    text = render(doc(rep))
    assert "  A>B*  " in text
    assert "* A>B RTT measured at B's side: B's turnaround, not the path RTT" in text  # no DATA: not "SACK"


def test_middle_gives_the_full_rtt_as_the_sum():
    a = Assoc.make()
    ca, cb, turn = 5 * MS, 8 * MS, 40 * US
    handshake(a, ca, cb, turn, turn)
    for _ in range(2):
        a_heartbeat(a, cb, turn)
        b_heartbeat(a, ca, turn)
    rep, _ = analyze(a.frames)
    s = one(rep)
    v = s["vantage"]
    assert v["point"] == "middle"
    assert v["evidence"] == "handshake+heartbeat"        # both methods gave the same minimum on each side
    assert (v["a_side_rtt_ns"], v["b_side_rtt_ns"]) == (2 * ca + turn, 2 * cb + turn)
    assert v["full_rtt_ns"] == 2 * (ca + cb) + 2 * turn
    assert {d["rtt_scope"] for d in s["directions"].values()} == {"partial"}
    text = render(doc(rep))
    assert "  A>B~  " in text and "  B>A~  " in text
    assert "capture between A and B" in text
    assert "~ each direction's RTT covers only its capture->peer->capture half; full RTT about 26.080 ms" in text


@pytest.mark.parametrize("b_side, point", [(3 * MS, "A"), (3 * MS - 1 * US, "middle")])
def test_ratio_threshold_is_three(b_side, point):
    a = Assoc.make()
    a_heartbeat(a, cb=0, turn_b=b_side)
    b_heartbeat(a, ca=0, turn_a=1 * MS)
    v = one(analyze(a.frames)[0])["vantage"]
    assert (v["a_side_rtt_ns"], v["b_side_rtt_ns"]) == (1 * MS, b_side)
    assert v["point"] == point


@pytest.mark.parametrize("n, point", [(3, "unknown"), (8, "A")])
def test_data_minima_need_eight_samples(n, point):
    """A few DATA samples are only an upper bound (the peer may have held every SACK): no verdict from them."""
    a = Assoc.make()
    for _ in range(n):
        a_data(a, cb=10 * MS, sack_delay_b=0)
        b_data(a, ca=0, sack_delay_a=100 * US)
    v = one(analyze(a.frames)[0])["vantage"]
    assert (v["a_side_rtt_ns"], v["b_side_rtt_ns"], v["evidence"]) == (100 * US, 20 * MS, "data")
    assert v["full_rtt_ns"] == 20 * MS + 100 * US        # an estimate even when the point is unknown
    assert v["point"] == point


def test_delayed_sack_samples_are_not_minima():
    a = Assoc.make()
    for _ in range(3):
        b_data(a, ca=0, sack_delay_a=200 * MS)           # A's delayed-ack timer: flagged delayed_sack
    b_heartbeat(a, ca=0, turn_a=50 * US)
    a_heartbeat(a, cb=5 * MS, turn_b=50 * US)
    s = one(analyze(a.frames)[0])
    r = s["directions"]["B>A"]["rtt"]
    assert (r["data_samples"], r["delayed_sack_samples"]) == (3, 3)
    v = s["vantage"]
    assert v["minima"]["a_side"]["data_ns"] is None
    assert (v["a_side_rtt_ns"], v["point"]) == (50 * US, "A")


@pytest.mark.parametrize("a_addr, b_addr", [("127.0.0.1", "127.0.0.5"), ("10.9.9.9", "10.9.9.9"), ("::1", "::1")])
def test_local_when_both_endpoints_are_on_the_capturing_host(a_addr, b_addr):
    a = Assoc.make(a_addrs=(a_addr,), b_addrs=(b_addr,))
    a_heartbeat(a, cb=0, turn_b=20 * US, src=a_addr, dst=b_addr)
    b_heartbeat(a, ca=0, turn_a=900 * US, src=b_addr, dst=a_addr)
    rep, _ = analyze(a.frames)
    s = one(rep)
    v = s["vantage"]
    assert (v["point"], v["evidence"], v["full_rtt_ns"]) == ("local", "addresses", None)
    assert (v["a_side_rtt_ns"], v["b_side_rtt_ns"]) == (900 * US, 20 * US)
    assert {d["rtt_scope"] for d in s["directions"].values()} == {"path"}
    assert "A and B both on the capturing host" in render(doc(rep))


def test_unknown_when_one_side_has_no_sample():
    a = Assoc.make()
    a_heartbeat(a, cb=10 * MS, turn_b=20 * US)
    rep, _ = analyze(a.frames)
    s = one(rep)
    v = s["vantage"]
    assert (v["point"], v["a_side_rtt_ns"], v["b_side_rtt_ns"], v["full_rtt_ns"]) == \
        ("unknown", None, 20 * MS + 20 * US, None)
    assert {d["rtt_scope"] for d in s["directions"].values()} == {None}
    assert "capture point unknown: no RTT sample of A's side (capture<->B 20.020 ms)" in render(doc(rep))


def test_no_sample_at_all():
    a = Assoc.make()
    a.a_sends(data(1000))
    s = one(analyze(a.frames)[0])
    assert s["vantage"] == {"point": "unknown", "evidence": None, "a_side_rtt_ns": None, "b_side_rtt_ns": None,
                            "full_rtt_ns": None,
                            "minima": {"a_side": {"data_ns": None, "heartbeat_ns": None, "handshake_ns": None},
                                       "b_side": {"data_ns": None, "heartbeat_ns": None, "handshake_ns": None}}}


def test_per_path_pairs_of_a_multihomed_association():
    """Path pair 1 shows both sides; pair 2 only A's heartbeats: its own vantage is unknown, not borrowed."""
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a_heartbeat(a, cb=10 * MS, turn_b=30 * US, src=A1, dst=B1)
    b_heartbeat(a, ca=0, turn_a=30 * US, src=B1, dst=A1)
    a_heartbeat(a, cb=12 * MS, turn_b=30 * US, src=A2, dst=B2)
    rep, _ = analyze(a.frames)
    s = one(rep)
    assert s["vantage"]["point"] == "A"
    p1, r1, p2, r2 = path(s, A1, B1), path(s, B1, A1), path(s, A2, B2), path(s, B2, A2)
    assert p1["vantage"] == r1["vantage"]
    assert (p1["vantage"]["point"], p1["vantage"]["b_side_rtt_ns"]) == ("A", 20 * MS + 30 * US)
    assert (p1["rtt_scope"], r1["rtt_scope"]) == ("path", "turnaround")
    assert (p2["vantage"]["point"], p2["vantage"]["a_side_rtt_ns"], p2["vantage"]["b_side_rtt_ns"]) == \
        ("unknown", None, 24 * MS + 30 * US)
    assert (p2["rtt_scope"], r2["rtt_scope"]) == (None, None)
    text = render(doc(rep))
    srtt_cells = {line.split()[0] + line.split()[2]: line.split()[-1] for line in text.splitlines()
                  if line.startswith("  10.")}
    assert srtt_cells == {"10.0.0.1" + "10.0.0.2": "20.03", "10.0.0.2" + "10.0.0.1": "0.030*",
                          "10.1.0.1" + "10.1.0.2": "24.03", "10.1.0.2" + "10.1.0.1": "-"}
