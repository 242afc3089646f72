"""atheris target: the telecom classifiers' Python reference decoders (sctpcorr/telecom/ap.py: the top of an
NGAP/S1AP/X2AP/XnAP PDU, its UE ids, NAS-PDU and Cause, the nested NAS through pycrate; nas.py; diameter.py;
m3ua.py), which the C fast path is held to and which read what it leaves (causes, nested NAS).

Input: the first byte picks the AP protocol; the rest is one message's user data.

Contract: none of them raises (ap.decode: "never raises, a PDU it cannot walk has error set"); names are str."""
from __future__ import annotations

from _common import imports, main

with imports(__name__):
    from sctpcorr.telecom import ap, diameter, m3ua, nas

PROTOS = ("ngap", "s1ap", "x2ap", "xnap")


def test_one_input(data: bytes) -> None:
    if not data:
        return
    proto, msg = PROTOS[data[0] % 4], data[1:]
    pdu = ap.decode(msg, proto)
    ap.ue_ids(pdu)
    n = ap.nas_pdu(pdu)
    for octets in (n, msg):
        name = nas.name(octets)
        assert name is None or isinstance(name, str)
        if octets:
            nas.null_ciphering(octets)
    c = ap.cause(msg, proto)
    assert c is None or isinstance(c, str)
    if data[0] & 0x80:       # pycrate's full decode: slow, one input in two
        ap.nested_nas(msg, proto)
    d = diameter.decode(msg)
    if d is not None:
        diameter.command_name(d.command)
        diameter.application_name(d.application)
    m3ua.decode(msg)


if __name__ == "__main__":
    main(test_one_input)
