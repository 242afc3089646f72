"""derive.Deriver: state, receive-window and cwnd changes derived from the samples every probe event carries.

Constructed sequences pin the rules (what is a change, what is exact, what a notification means before the kernel
applies it); the recorded lab events (fixtures/probe61) check them on what the kernel really emitted."""
from __future__ import annotations

from sctpcorr.kernel.derive import Deriver, capabilities

ASOC = "0xffff000000001000"


def ev(t: str, ts: int, state: str, **kw) -> dict:
    r = {"type": t, "ts_ns": ts, "jiffies": ts // 4_000_000, "cpu": 0, "tgid": 1, "netns": 7, "asoc": ASOC,
         "assoc_id": 1, "my_vtag": 0x1111, "peer_vtag": 0x2222, "lport": 36412, "pport": 40000, "state": state}
    r.update(kw)
    return r


def egress(ts: int, state: str = "ESTABLISHED", rwnd: int = 106496, over: int = 0, press: int = 0,
           cwnd: int = 4380, ssthresh: int = 106496) -> dict:
    return ev("egress", ts, state, rwnd=rwnd, a_rwnd=rwnd, rwnd_over=over, rwnd_press=press, rmem_alloc=0,
              rcvbuf=212992, cwnd=cwnd, ssthresh=ssthresh, partial_bytes_acked=0, flight_size=1000,
              transport="0xffff000000002000", path_addr="198.19.1.1", path_port=36412, hb_nonce="0x1")


def run(d: Deriver, recs: list[dict]) -> list[dict]:
    return [x for r in recs for x in d.feed(r)]


def derived(out: list[dict], t: str) -> list[dict]:
    return [x for x in out if x.get("derived") and x["type"] == t]


def test_a_client_handshake_is_a_sequence_of_state_changes():
    d = Deriver()
    out = run(d, [egress(10, "COOKIE_WAIT"), egress(20, "COOKIE_ECHOED"),
                  ev("assoc_change", 30, "COOKIE_ECHOED", kind="notification", sac_state="COMM_UP"),
                  ev("sack", 40, "COOKIE_ECHOED"),      # the notification came before the kernel set the state
                  egress(50, "ESTABLISHED"), egress(60, "ESTABLISHED")])
    st = derived(out, "assoc_state")
    assert [(x["state_before"], x["state_after"]) for x in st] == [
        ("CLOSED", "COOKIE_WAIT"), ("COOKIE_WAIT", "COOKIE_ECHOED"), ("COOKIE_ECHOED", "ESTABLISHED")]
    assert st[1]["seen_in"] == "egress" and st[1]["not_before_ns"] == 10 and st[1]["ts_ns"] == 20
    # the notification is exact: its time, not a window
    assert st[2]["cause"] == "COMM_UP" and st[2]["ts_ns"] == st[2]["not_before_ns"] == 30
    # derived events come before the event that revealed them, which is passed on unchanged
    first = out[:out.index(next(x for x in out if not x.get("derived")))]
    assert first and {x["type"] for x in first} == {"assoc_state", "rwnd"}
    assert sum(1 for x in out if not x.get("derived")) == 6


def test_a_recording_that_starts_mid_association_reports_no_change_at_first_sight():
    d = Deriver()
    out = run(d, [egress(10), ev("sack", 20, "ESTABLISHED"), egress(30, "SHUTDOWN_PENDING")])
    st = derived(out, "assoc_state")
    assert [(x["state_before"], x["state_after"], x["not_before_ns"]) for x in st] == [
        ("ESTABLISHED", "SHUTDOWN_PENDING", 20)]


def test_the_end_of_an_association_is_exact_and_forgets_it():
    d = Deriver()
    out = run(d, [egress(10), egress(20, "SHUTDOWN_ACK_SENT"),
                  ev("assoc_change", 30, "SHUTDOWN_ACK_SENT", kind="notification", sac_state="SHUTDOWN_COMP"),
                  ev("assoc_change", 40, "CLOSED", kind="freed")])
    st = derived(out, "assoc_state")
    assert [(x["state_before"], x["state_after"], x.get("cause")) for x in st] == [
        ("ESTABLISHED", "SHUTDOWN_ACK_SENT", None), ("SHUTDOWN_ACK_SENT", "CLOSED", "SHUTDOWN_COMP")]
    assert not d.state and not d.win and not d.cg          # freed: nothing kept about it
    # an association freed without a notification (our own ABORT) still ends CLOSED, with the cause
    d2 = Deriver()
    out2 = run(d2, [egress(10), ev("assoc_change", 20, "ESTABLISHED", kind="freed")])
    assert [(x["state_before"], x["state_after"], x["cause"]) for x in derived(out2, "assoc_state")] == [
        ("ESTABLISHED", "CLOSED", "freed")]


def test_a_reused_association_address_is_a_new_association():
    d = Deriver()
    a = egress(10)
    b = egress(20, "COOKIE_WAIT")
    b["my_vtag"] = 0x3333          # same kernel address, new association (the allocator reused it)
    out = run(d, [a, b])
    assert [(x["state_before"], x["state_after"]) for x in derived(out, "assoc_state")] == [
        ("CLOSED", "COOKIE_WAIT")]


def test_rwnd_events_only_when_the_window_changes():
    d = Deriver()
    out = run(d, [egress(10, rwnd=106496), egress(20, rwnd=106496), egress(30, rwnd=90000),
                  egress(40, rwnd=0, press=1500), egress(50, rwnd=0, press=1500)])
    rw = derived(out, "rwnd")
    assert [(x["rwnd_before"], x["rwnd_after"], x["rwnd_press_after"]) for x in rw] == [
        (None, 106496, 0), (106496, 90000, 0), (90000, 0, 1500)]
    assert rw[1]["not_before_ns"] == 20 and rw[1]["ts_ns"] == 30 and rw[1]["seen_in"] == "egress"


def test_cwnd_growth_is_derived_and_a_probed_reduction_is_not_reported_twice():
    d = Deriver()
    lower = ev("cwnd", 35, "ESTABLISHED", op="lower", reason="fast_rtx", cwnd_before=8760, cwnd_after=4380,
               ssthresh_before=106496, ssthresh_after=4380, transport="0xffff000000002000")
    out = run(d, [egress(10, cwnd=4380), egress(20, cwnd=5840), egress(30, cwnd=8760), lower,
                  egress(40, cwnd=4380, ssthresh=4380), egress(50, cwnd=5840, ssthresh=4380),
                  egress(60, cwnd=7300, ssthresh=4380)])
    cw = derived(out, "cwnd")
    # Linux: slow start while cwnd <= ssthresh (the reason is that of the cwnd before the raise)
    assert [(x["op"], x["reason"], x["cwnd_before"], x["cwnd_after"]) for x in cw] == [
        ("raise", "slow_start", 4380, 5840), ("raise", "slow_start", 5840, 8760),
        ("raise", "slow_start", 4380, 5840), ("raise", "congestion_avoidance", 5840, 7300)]
    assert all(x["path_addr"] == "198.19.1.1" for x in cw)


def test_records_without_an_association_pass_through():
    d = Deriver()
    r = {"type": "clock", "ts_ns": 5}
    assert d.feed(r) == [r]
    diag = {"type": "diag", "ts_ns": 6, "state": "ESTABLISHED", "asoc": ASOC}
    assert d.feed(diag) == [diag]


def test_capabilities_follow_the_probes_that_feed_them():
    assert capabilities({"egress"}) == {"assoc_state": True, "rwnd": True, "cwnd": True}
    assert capabilities({"sack"}) == {"assoc_state": True, "rwnd": False, "cwnd": False}
    assert capabilities(set()) == {"assoc_state": False, "rwnd": False, "cwnd": False}
