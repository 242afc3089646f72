"""Shared by the telecom tests and the lab's NGAP scenario test: the telecom layer over one capture, and the
same messages as tshark dissects them (pyshark)."""
from __future__ import annotations

import collections

import pytest

from sctpcorr.sources.pcapfile import CaptureReader
from sctpcorr.telecom.core import Telecom
from sctpcorr.wire.engine import Analyzer


def run(path, keep_data=False):
    a = Analyzer(events=True, payloads=True)
    t = Telecom(keep_data=keep_data, keep_messages=True)
    fed = []
    r = CaptureReader(str(path))
    r.open()
    for b in r.blocks():
        a.feed_capture(b)
        fed.append(t.feed(a.drain_payloads(), a.drain_events()))
    a.finish_capture()
    fed.append(t.feed(a.drain_payloads(), a.drain_events()))
    r.close()
    doc = t.finish(a.report())
    return t, [m for f in fed for m in f], doc     # made after finish: with directions and retransmissions


RAN_FIELD = {"ngap": "ran_ue_ngap_id", "s1ap": "enb_ue_s1ap_id", "x2ap": None, "xnap": None}


def tshark_messages(path):
    """(frame, protocol, procedure code, PDU kind, RAN UE id) and Diameter (frame, command, request, result) of
    every NGAP/S1AP/X2AP/XnAP/Diameter message over SCTP tshark dissects, bundled ones included (Diameter over
    TCP in the same captures is not ours)."""
    pyshark = pytest.importorskip("pyshark")
    cap = pyshark.FileCapture(str(path), display_filter="sctp and (ngap or s1ap or x2ap or xnap or diameter)",
                              keep_packets=False)
    ap_msgs, dia = collections.Counter(), collections.Counter()
    try:
        for p in cap:
            frame = int(p.number)
            for proto, ran_field in RAN_FIELD.items():
                for layer in p.get_multiple_layers(proto):
                    ran = layer.get_field(ran_field) if ran_field else None
                    ap_msgs[(frame, proto, int(layer.get_field("procedurecode")),
                             int(layer.get_field(f"{proto}_pdu")), int(ran) if ran is not None else None)] += 1
            for layer in p.get_multiple_layers("diameter"):
                rc = layer.get_field("result_code") or layer.get_field("experimental_result_code")
                dia[(frame, int(layer.get_field("cmd_code")), layer.get_field("flags_request") in ("1", "True"),
                     int(rc) if rc is not None else None)] += 1
    finally:
        cap.close()
    return ap_msgs, dia


