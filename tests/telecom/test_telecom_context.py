"""Each message's SCTP context, on crafted packets carrying real NGAP encodings (messages of one UE taken from
the open5gs capture): a message lost after the capture point and retransmitted makes the next message of its
stream wait (head of line); its retransmission, the RTT and the receiver's window before it are its context."""
from __future__ import annotations

import pytest

from craft import MS, Assoc, data, pcap_bytes, sack
from sctpcorr.telecom.core import Telecom
from sctpcorr.wire.engine import Analyzer


def _ue_messages(corpus):
    from telecom_helpers import run

    path = corpus / "open5gs/testregistration.pcapng"
    if not path.exists():
        pytest.skip("no open5gs capture")
    _t, msgs, _doc = run(path, keep_data=True)
    ue = [m for m in msgs if m.assoc == 1 and m.ran_ue == 1]
    by = {m.nas or m.name: m.data for m in ue}
    return by


def _analyse(frames):
    a = Analyzer(events=True, payloads=True)
    t = Telecom(keep_messages=True)
    a.feed_capture(pcap_bytes(frames, nanosecond=True))
    a.finish_capture()
    msgs = t.feed(a.drain_payloads(), a.drain_events())
    return t, msgs, t.finish(a.report())


def test_a_retransmitted_message_holds_up_the_next_one_on_its_stream(corpus):
    ue = _ue_messages(corpus)
    s = Assoc.make(ports=(38326, 38412))
    s.handshake()
    s.wait(10 * MS).a_sends(data(1000, sid=0, ssn=0, ppid=60, payload=ue["Registration Request"]))
    s.wait(20 * MS).b_sends(sack(1000, a_rwnd=100000))
    s.wait(5 * MS).b_sends(data(5000, sid=1, ssn=0, ppid=60, payload=ue["Authentication Request"]))
    s.wait(20 * MS).a_sends(sack(5000))
    # the Authentication Response (TSN 1001) is lost after the capture point; the next message on stream 0
    # (TSN 1002, an InitialContextSetupResponse) arrives, is SACKed as a gap, and waits until 1001 is retransmitted 300 ms later
    s.wait(1 * MS).a_sends(data(1001, sid=0, ssn=1, ppid=60, payload=ue["Authentication Response"]))
    s.wait(1 * MS).a_sends(data(1002, sid=0, ssn=2, ppid=60, payload=ue["InitialContextSetupResponse"]))
    s.wait(20 * MS).b_sends(sack(1000, a_rwnd=90000, gaps=[(1002, 1002)]))
    s.wait(300 * MS).a_sends(data(1001, sid=0, ssn=1, ppid=60, payload=ue["Authentication Response"]))
    s.wait(20 * MS).b_sends(sack(1002, a_rwnd=100000))
    t, msgs, doc = _analyse(s.frames)
    assert [m.nas or m.name for m in msgs] == ["Registration Request", "Authentication Request",
                                               "Authentication Response", "InitialContextSetupResponse"]  # once each
    by = {m.nas or m.name: m for m in t.messages}
    assert by["Authentication Response"].retransmissions == 1 and by["InitialContextSetupResponse"].retransmissions == 0
    wait = by["InitialContextSetupResponse"].hol_wait_ns
    assert 315 * MS <= wait <= 325 * MS          # from its arrival to 1001's retransmission: 1 + 20 + 300 ms
    assert by["Authentication Response"].hol_wait_ns == 0 and by["Authentication Request"].hol_wait_ns == 0
    # its receiver's last window before it, and the association's last RTT sample before it
    assert by["InitialContextSetupResponse"].a_rwnd == 100000 and by["InitialContextSetupResponse"].rtt_ns is not None
    (u,) = [u for u in doc["ues"] if u.get("steps")]
    steps = {x["step"]: x for x in u["steps"]}
    assert steps["Authentication Response"]["retransmissions"] == 1
    assert steps["Authentication Request"]["sent_by"] == "core" and steps["Authentication Response"]["sent_by"] == "ran"
    assert steps["InitialContextSetupResponse"]["hol_wait_ns"] == wait       # steps not in the capture are skipped
    assert u["complete"] is False


def test_unordered_messages_wait_for_nobody(corpus):
    ue = _ue_messages(corpus)
    s = Assoc.make(ports=(38326, 38412))
    s.handshake()
    s.wait(10 * MS).a_sends(data(1000, sid=0, ssn=0, ppid=60, payload=ue["Registration Request"]))
    s.wait(1 * MS).a_sends(data(1001, sid=0, ssn=0, ppid=60, payload=ue["Authentication Response"],
                                unordered=True))
    s.wait(20 * MS).b_sends(sack(999, gaps=[(1001, 1001)]))
    s.wait(300 * MS).a_sends(data(1000, sid=0, ssn=0, ppid=60, payload=ue["Registration Request"]))
    t, _msgs, _doc = _analyse(s.frames)
    by = {m.nas or m.name: m for m in t.messages}
    assert by["Registration Request"].retransmissions == 1 and by["Authentication Response"].hol_wait_ns == 0
