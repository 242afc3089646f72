"""Association lifecycle: handshake timings and retries, INIT parameters, collisions, restarts, SHUTDOWN, ABORT,
mid-association captures and the A/B orientation rule."""
from __future__ import annotations

import pytest

from craft import (
    MS, S, T0, US, Assoc, abort, analyze, cause, cookie_ack, cookie_echo, data, init, init_ack, named,
    norm_chunk_name, path, rtts, sack, shutdown, shutdown_ack, shutdown_complete,
)

A1, A2, B1, B2 = "10.0.0.1", "10.1.0.1", "10.0.0.2", "10.1.0.2"
TAG_A, TAG_B = 0x0A0A0A0A, 0x0B0B0B0B


def only(rep):
    assert len(rep["associations"]) == 1, [(s["ports"], s["vtags"]) for s in rep["associations"]]
    return rep["associations"][0]


def test_handshake_timings_and_rtts():
    a = Assoc.make()
    a.handshake(rtt_ns=20 * MS, proc_ns=100 * US)
    rep, ev = analyze(a.frames)
    s = only(rep)
    h = s["handshake"]
    assert (h["init_ns"], h["init_ack_ns"], h["cookie_echo_ns"], h["cookie_ack_ns"]) == (
        T0, T0 + 20 * MS, T0 + 20 * MS + 100 * US, T0 + 40 * MS + 100 * US)
    assert (h["init_to_init_ack_ns"], h["cookie_echo_to_cookie_ack_ns"], h["setup_ns"]) == (
        20 * MS, 20 * MS, 40 * MS + 100 * US)
    assert (h["init_retries"], h["cookie_echo_retries"], h["collision"], h["restarts"]) == (0, 0, False, 0)
    assert s["state"] == "ESTABLISHED" and s["mid_association"] is False
    assert s["ports"] == [2905, 3000] and s["vtags"] == [TAG_A, TAG_B]
    assert sorted(rtts(ev, "handshake", "A>B")) == [(None, 20 * MS), (None, 20 * MS)]
    assert rtts(ev, "handshake", "B>A") == [(None, 100 * US)]
    assert s["directions"]["A>B"]["rtt"]["handshake_samples"] == 2
    assert path(s, A1, B1)["rtt"]["handshake_samples"] == 2
    assert named(ev, "assoc_new")[0]["mid_association"] is False


def test_init_parameters():
    a = Assoc.make(a_addrs=(A1, A2), b_addrs=(B1, B2))
    a.a_sends(init(TAG_A, 1000, 131072, 12, 65535, (A1, A2), extensions=(0xC1, 0x80, 0xC0),
                   forward_tsn=True, ecn=True, host_name="gnb1.example", cookie_preservative_ms=3000), vtag=0)
    a.wait(10 * MS).b_sends(init_ack(TAG_B, 5000, 65536, 12, 12, (B1, B2)))
    rep, _ = analyze(a.frames)
    s = only(rep)
    ia, ib = s["init"]
    assert (ia["initiate_tag"], ia["a_rwnd"], ia["outbound_streams"], ia["inbound_streams"], ia["initial_tsn"]) == (
        TAG_A, 131072, 12, 65535, 1000)
    assert ia["addresses"] == [A1, A2]
    assert sorted(map(norm_chunk_name, ia["supported_extensions"])) == ["ASCONF", "ASCONF_ACK", "FORWARD_TSN"]
    assert (ia["forward_tsn"], ia["ecn"], ia["host_name"], ia["cookie_preservative_ns"]) == (
        True, True, "gnb1.example", 3 * S)
    assert (ib["initiate_tag"], ib["a_rwnd"], ib["outbound_streams"], ib["initial_tsn"], ib["addresses"]) == (
        TAG_B, 65536, 12, 5000, [B1, B2])
    assert (ib["forward_tsn"], ib["ecn"], ib["host_name"], ib["cookie_preservative_ns"]) == (False, False, None, None)
    assert sorted(s["addresses"][0]) == [A1, A2] and sorted(s["addresses"][1]) == [B1, B2]
    assert s["state"] == "COOKIE-ECHOED" or s["state"] == "COOKIE-WAIT"


def test_init_retry_is_counted_and_not_sampled():
    a = Assoc.make()
    a.a_sends(init(TAG_A, 1000), vtag=0)
    a.wait(1 * S).a_sends(init(TAG_A, 1000), vtag=0)              # T1-init expired
    a.wait(30 * MS).b_sends(init_ack(TAG_B, 5000))
    a.wait(50 * US).a_sends(cookie_echo())
    a.wait(31 * MS).b_sends(cookie_ack())
    rep, ev = analyze(a.frames)
    s = only(rep)
    h = s["handshake"]
    assert h["init_retries"] == 1 and h["cookie_echo_retries"] == 0
    assert h["init_ns"] == T0 and h["init_ack_ns"] == T0 + 1 * S + 30 * MS
    assert h["init_to_init_ack_ns"] == h["init_ack_ns"] - h["init_ns"]
    assert h["cookie_echo_to_cookie_ack_ns"] == 31 * MS
    assert rtts(ev, "handshake", "A>B") == [(None, 31 * MS)]          # Karn: the INIT was sent twice
    assert s["chunks"]["INIT"] == 2 and s["state"] == "ESTABLISHED"


def test_cookie_echo_retry():
    a = Assoc.make()
    a.a_sends(init(TAG_A, 1000), vtag=0)
    a.wait(20 * MS).b_sends(init_ack(TAG_B, 5000))
    a.a_sends(cookie_echo())
    a.wait(1 * S).a_sends(cookie_echo())
    a.wait(20 * MS).b_sends(cookie_ack())
    rep, ev = analyze(a.frames)
    h = only(rep)["handshake"]
    assert (h["init_retries"], h["cookie_echo_retries"]) == (0, 1)
    assert rtts(ev, "handshake", "A>B") == [(None, 20 * MS)]


def test_init_collision_is_one_association():
    a = Assoc.make()
    a.a_sends(init(TAG_A, 1000), vtag=0)
    a.wait(10 * MS).b_sends(init(TAG_B, 5000), vtag=0)            # both sides open at once (RFC 9260 §5.2.1)
    a.wait(100 * US).a_sends(init_ack(TAG_A, 1000))
    a.wait(10 * MS).b_sends(init_ack(TAG_B, 5000))
    a.wait(100 * US).a_sends(cookie_echo())
    a.wait(10 * MS).b_sends(cookie_echo())
    a.wait(100 * US).a_sends(cookie_ack())
    a.wait(10 * MS).b_sends(cookie_ack())
    a.wait(1 * MS).a_sends(data(1000))
    a.wait(20 * MS).b_sends(sack(1000))
    rep, _ = analyze(a.frames)
    s = only(rep)
    assert s["handshake"]["collision"] is True
    assert s["vtags"] == [TAG_A, TAG_B] and s["state"] == "ESTABLISHED"
    assert s["directions"]["A>B"]["data_chunks"] == 1


def test_graceful_shutdown():
    a = Assoc.make()
    a.handshake()
    a.wait(1 * MS).a_sends(data(1000))
    a.wait(20 * MS).b_sends(sack(1000))
    a.wait(5 * S)
    t_sd = a.t
    a.a_sends(shutdown(4999))
    a.wait(21 * MS).b_sends(shutdown_ack())
    a.wait(40 * US).a_sends(shutdown_complete())
    rep, ev = analyze(a.frames)
    s = only(rep)
    sd = s["shutdown"]
    assert (sd["shutdown_ns"], sd["shutdown_ack_ns"], sd["shutdown_complete_ns"]) == (
        t_sd, t_sd + 21 * MS, t_sd + 21 * MS + 40 * US)
    assert sd["duration_ns"] == 21 * MS + 40 * US and sd["abort"] is None
    assert s["state"] == "CLOSED"
    assert named(ev, "state")[-1]["new"] == "CLOSED"
    assert s["last_ts_ns"] == t_sd + 21 * MS + 40 * US and s["first_ts_ns"] == T0


def test_abort_with_cause():
    a = Assoc.make()
    a.handshake()
    a.wait(2 * S)
    t = a.t
    a.b_sends(abort([cause(12, b"overload")]))                    # User-Initiated Abort
    rep, ev = analyze(a.frames)
    s = only(rep)
    ab = s["shutdown"]["abort"]
    assert (ab["ts_ns"], ab["by"], ab["t_bit"]) == (t, "B", False)
    assert [c["code"] for c in ab["causes"]] == [12] and isinstance(ab["causes"][0]["name"], str)
    assert s["state"] == "ABORTED"
    e = named(ev, "abort")
    assert [(x["direction"], x["t_bit"], len(x["causes"])) for x in e] == [("B>A", False, 1)]


def test_abort_with_t_bit_carries_the_senders_tag():
    a = Assoc.make()
    a.handshake()
    a.wait(1 * S).a_sends(abort([cause(1, bytes(4)), cause(12)], t_bit=True), vtag=TAG_A)  # RFC 9260 §8.5.1
    rep, ev = analyze(a.frames)
    s = only(rep)
    ab = s["shutdown"]["abort"]
    assert (ab["by"], ab["t_bit"], [c["code"] for c in ab["causes"]]) == ("A", True, [1, 12])
    assert s["state"] == "ABORTED"


def test_restart_starts_a_new_association():
    a = Assoc.make()
    a.handshake()
    a.wait(1 * MS).a_sends(data(1000))
    a.wait(20 * MS).b_sends(sack(1000))
    # A reboots and opens again from the same address and port, with new tags (RFC 9260 §5.2.4)
    a.a.tag, a.b.tag, a.a.tsn, a.b.tsn = 0x1A1A1A1A, 0x1B1B1B1B, 77, 88
    a.wait(10 * S).handshake()
    for tsn in (77, 78):
        a.wait(1 * MS).a_sends(data(tsn))
    a.wait(20 * MS).b_sends(sack(78))
    rep, _ = analyze(a.frames)
    ss = rep["associations"]
    assert len(ss) == 2
    assert [s["vtags"] for s in ss] == [[TAG_A, TAG_B], [0x1A1A1A1A, 0x1B1B1B1B]]
    assert sum(s["handshake"]["restarts"] for s in ss) == 1
    assert [s["directions"]["A>B"]["data_chunks"] for s in ss] == [1, 2]
    assert [s["directions"]["A>B"]["retransmissions"]["total"] for s in ss] == [0, 0]


def test_new_association_on_the_same_ports_after_close():
    a = Assoc.make()
    a.handshake()
    a.a_sends(shutdown(4999))
    a.wait(20 * MS).b_sends(shutdown_ack())
    a.a_sends(shutdown_complete())
    a.a.tag, a.b.tag = 0x2A2A2A2A, 0x2B2B2B2B
    a.wait(3 * S).handshake()
    a.a_sends(data(1000))
    rep, _ = analyze(a.frames)
    ss = rep["associations"]
    assert [s["state"] for s in ss] == ["CLOSED", "ESTABLISHED"]
    assert sum(s["handshake"]["restarts"] for s in ss) == 0
    assert [s["directions"]["A>B"]["data_chunks"] for s in ss] == [0, 1]
    assert [s["id"] for s in ss] == [1, 2]


def test_mid_association_orientation():
    # our B has the lower (port, tag-it-receives) pair: (2905, TAG_B) < (3000, TAG_A) -> it is the report's A
    a = Assoc.make(ports=(3000, 2905))
    a.b_sends(data(5000, sid=3, ppid=18))
    a.wait(15 * MS).a_sends(sack(5000))
    a.wait(1 * MS).a_sends(data(1000))
    rep, ev = analyze(a.frames)
    s = only(rep)
    assert s["mid_association"] is True
    assert s["ports"] == [2905, 3000] and s["vtags"] == [TAG_B, TAG_A]
    assert s["addresses"] == [[B1], [A1]]
    assert s["handshake"]["init_ns"] is None and s["init"] == [None, None]
    assert s["state"] == "ESTABLISHED"
    assert s["directions"]["A>B"]["data_chunks"] == 1 and s["directions"]["B>A"]["data_chunks"] == 1
    assert s["directions"]["A>B"]["src_port"] == 2905
    assert rtts(ev, "data", "A>B") == [(5000, 15 * MS)]
    assert named(ev, "assoc_new")[0]["mid_association"] is True


@pytest.mark.parametrize("first", ["low-tag side", "high-tag side"])
def test_mid_association_tie_break_on_tags(first):
    # equal ports: A is the endpoint that receives the lower tag (engine.md "Directions"), whoever speaks first
    a = Assoc.make(ports=(2905, 2905), tags=(0x0B0B0B0B, 0x0A0A0A0A))   # our B receives the lower tag
    if first == "high-tag side":
        a.a_sends(data(1000))
        a.wait(15 * MS).b_sends(sack(1000))
    else:
        a.b_sends(data(5000))
        a.wait(15 * MS).a_sends(sack(5000))
    rep, ev = analyze(a.frames)
    s = only(rep)
    assert s["vtags"] == [0x0A0A0A0A, 0x0B0B0B0B] and s["addresses"] == [[B1], [A1]]
    assert s["directions"]["A>B"]["src_port"] == 2905


def test_two_associations_on_one_port_pair_are_kept_apart():
    # the same ports, two tag pairs at once (e.g. two SCTP stacks behind one NAT-less host pair)
    a = Assoc.make()
    b = Assoc.make(tags=(0x3A3A3A3A, 0x3B3B3B3B), tsns=(9000, 9500))
    a.a_sends(data(1000))
    b.t = a.t + 1 * MS
    b.a_sends(data(9000))
    b.a_sends(data(9001))
    a.wait(20 * MS).b_sends(sack(1000))
    b.wait(25 * MS).b_sends(sack(9001))
    frames = sorted(a.frames + b.frames, key=lambda f: f.ts_ns)
    rep, ev = analyze(frames)
    assert len(rep["associations"]) == 2
    got = sorted((s["vtags"][0], s["directions"]["A>B"]["data_chunks"]) for s in rep["associations"])
    assert got == [(TAG_A, 1), (0x3A3A3A3A, 2)]
    assert sorted(rtts(ev)) == [(1000, 20 * MS), (9000, 25 * MS)]
