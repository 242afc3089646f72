"""The lab's NGAP registration workload without a kernel: the gNB and AMF sides (workload.NgapPeer) wired to each
other through fake sockets.  Every UE completes its eight messages, each side answers only what the other sent,
after its configured delay, and the messages are the pycrate encodings the telecom layer names."""
from __future__ import annotations

import time

from sctpcorr.lab import ngapflow, scenario, workload
from sctpcorr.telecom import ap, nas


class Wire:
    def __init__(self, name, log):
        self.name, self.log, self.peer, self.sent = name, log, None, []

    def sendmsg(self, bufs, anc):
        self.sent.append((time.monotonic_ns(), bufs[0]))
        self.peer.inbox.append((time.monotonic_ns(), bufs[0]))


class Side:
    def __init__(self, role, cfg):
        self.log = []
        self.peer_obj = workload.NgapPeer(role, cfg, lambda rtype, **f: self.log.append((rtype, f)))
        self.sock = Wire(role, self.log)
        self.inbox = []


def test_the_flow_completes_with_the_configured_delays():
    sc = scenario.validate({"name": "t", "association": {"streams": 4}, "server": {"port": 38412},
                            "client": {"messages": 0, "ppid": 60},
                            "ngap": {"ues": 6, "amf_delay_ms": 20, "gnb_delay_ms": 5, "concurrency": 2}})
    gnb, amf = Side("gnb", sc), Side("amf", sc)
    gnb.sock.peer, amf.sock.peer = amf, gnb
    gnb.peer_obj.start(gnb.sock, 0)
    t_end = time.monotonic() + 10
    while not gnb.peer_obj.all_done and time.monotonic() < t_end:
        for side in (gnb, amf):
            side.peer_obj.send_due()
            while side.inbox:
                _t, msg = side.inbox.pop(0)
                side.peer_obj.received(msg, side.sock, 0)
        time.sleep(0.001)
    assert gnb.peer_obj.all_done and gnb.peer_obj.finished == 6
    assert len(gnb.sock.sent) == 1 + 6 * 5 and len(amf.sock.sent) == 1 + 6 * 3
    assert not [x for s in (gnb, amf) for x in s.log if x[0] == "error"]
    # every AMF message answers a gNB message at least amf_delay_ms after it (and the reverse for the gNB)
    names = [nas.name(ap.nas_pdu(ap.decode(m, "ngap"))) or ap.decode(m, "ngap").name for _t, m in amf.sock.sent]
    assert names[:2] == ["NGSetupResponse", "Authentication Request"]
    sent_by_gnb = sorted(gnb.sock.sent)
    for t_amf, _m in amf.sock.sent:
        before = [t for t, _ in sent_by_gnb if t <= t_amf]
        assert before and t_amf - before[-1] >= 20_000_000 - 1_000_000
    # the flows: pycrate encodings the telecom layer reads as the registration steps
    f = ngapflow.flow(3)
    got = [nas.name(ap.nas_pdu(ap.decode(bytes.fromhex(h), "ngap"))) or ap.decode(bytes.fromhex(h), "ngap").name
           for _w, h in f]
    assert got[:4] == ["Registration Request", "Authentication Request", "Authentication Response",
                       "Security Mode Command"]
    assert all(ap.ue_ids(ap.decode(bytes.fromhex(h), "ngap"))[0] == 3 for _w, h in f)
