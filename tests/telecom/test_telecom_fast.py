"""The telecom layer's C decoder (sctpcorr.telecom._fast) held to its readable Python reference (ap.py, nas.py,
diameter.py, m3ua.py) message by message: every NGAP/S1AP/X2AP/Diameter message of the real captures, and the
same messages with bytes changed at random (what a damaged or hostile capture gives); spec.py held to pycrate;
Cause values read without pycrate held to pycrate's encoder."""
from __future__ import annotations

import random

import numpy as np
import pytest

from sctpcorr.telecom import ap, diameter, m3ua, nas
from sctpcorr.telecom.columns import E_NOTDIA, E_NOTM3UA, ERRORS, F_NEEDS, F_SMC_NULL, PROTOS, REC, configure
from sctpcorr.telecom.payloads import Message, pack

CAPTURES = ["open5gs/testregistration.pcapng", "open5gs/testattach.pcapng", "tempo/ULRerror.pcap",
            "magma/gx_gy_combined_06_210505_133132-1.pcapng", "diafuzzer/S6a_perso.pcap", "tempo/s1ap.pcap",
            "tempo/nrmodulelogseNB2.pcap", "5Greplay/oai.pcap"]
PPID = {"ngap": 60, "s1ap": 18, "x2ap": 27, "xnap": 61, "diameter": 46, "m3ua": 3}


def _decode(data: bytes, proto: str) -> np.ndarray:
    from sctpcorr.telecom import _fast

    configure()
    m = Message(1, 1, 1, 1, 1, 1, 0, 0, 0, PPID[proto], 1, 2, (1, 1), 1, len(data), data, False, False, -1, -1, 0)
    raw, frags = _fast.decode(pack(m))
    assert frags == []
    (r,) = np.frombuffer(raw, REC)
    assert PROTOS[r["proto"]] == proto
    return r


def _nas_expect(n: bytes | None) -> tuple[int | None, bool]:
    if n is None:
        return None, False
    return nas.name(n), nas.null_ciphering(n)


def _check(data: bytes, proto: str) -> None:
    """The C record of ``data`` says what the Python reference says."""
    r = _decode(data, proto)
    err = ERRORS.get(int(r["err"]))
    if proto in ("ngap", "s1ap", "x2ap", "xnap"):
        pdu = ap.decode(data, proto)
        assert int(r["code"]) == pdu.code and err == pdu.error, (data.hex(), pdu)
        if pdu.code < 0:
            return
        assert int(r["kind"]) == pdu.kind
        ran, core = ap.ue_ids(pdu)
        assert (int(r["ran_ue"]), int(r["core_ue"])) == (-1 if ran is None else ran, -1 if core is None else core)
        n = ap.nas_pdu(pdu)
        name, smc = _nas_expect(n)
        assert nas.code_name(int(r["nas"])) == name, data.hex()
        assert bool(r["flags"] & F_SMC_NULL) == smc
        if name == nas.CIPHERED:
            inner = n[7:] if n[:1] == b"\x7e" else n[6:]
            assert nas.code_name(int(r["inner"])) == nas.name(inner)
        needs = n is None and proto == "s1ap" and pdu.kind == 0 and pdu.code == 9
        assert bool(r["flags"] & F_NEEDS) == needs
    elif proto == "diameter":
        d = diameter.decode(data)
        if d is None:
            assert int(r["err"]) == E_NOTDIA
            return
        assert (int(r["code"]), int(r["app"]), int(r["hbh"]), int(r["e2e"])) == (d.command, d.application,
                                                                                   d.hop_by_hop, d.end_to_end)
        assert int(r["kind"]) == (0 if d.request else 1) and err == d.error
        assert int(r["result"]) == (-1 if d.result is None else d.result)
    else:
        x = m3ua.decode(data)
        if x is None:
            assert int(r["err"]) == E_NOTM3UA
        else:
            assert m3ua.names(int(r["code"]) >> 8, int(r["code"]) & 0xFF) == x


def _messages(corpus):
    from telecom_helpers import run

    out = []
    for name in CAPTURES:
        path = corpus / name
        if path.exists():
            _t, msgs, _doc = run(path, keep_data=True)
            out += [(m.proto, m.data) for m in msgs]
    if not out:
        pytest.skip("no telecom captures in the corpus")
    return out


def test_the_c_decoder_reads_every_real_message_as_the_reference_does(corpus):
    msgs = _messages(corpus)
    for proto, data in msgs:
        _check(data, proto)
    assert len(msgs) > 1000 and {p for p, _ in msgs} >= {"ngap", "s1ap", "diameter"}


def test_the_c_decoder_agrees_on_damaged_bytes(corpus):
    """Each real message cut short, extended and with bytes changed at random (seeded): no crash, and the same
    reading as the Python reference, errors included."""
    rnd = random.Random(10)
    msgs = _messages(corpus)
    tried = 0
    for proto, data in msgs[::3]:
        for _ in range(8):
            b = bytearray(data)
            op = rnd.randrange(4)
            if op == 0 and b:
                del b[rnd.randrange(len(b)):]
            elif op == 1:
                b += bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 8)))
            else:
                for _ in range(rnd.randrange(1, 4)):
                    if b:
                        b[rnd.randrange(len(b))] = rnd.randrange(256)
            _check(bytes(b), proto)
            tried += 1
    assert tried > 2000


def test_spec_tables_equal_what_pycrate_gives():
    """spec.py is generated from pycrate (gen_spec.py): still equal to what the installed pycrate says."""
    from sctpcorr.telecom import gen_spec, spec

    built = gen_spec.build()
    assert built["PROCEDURES"] == spec.PROCEDURES and built["IE_IDS"] == spec.IE_IDS
    assert built["NAS_TYPES"] == spec.NAS_TYPES
    assert {p: (e, [tuple(a) for a in alts]) for p, (e, alts) in built["CAUSES"].items()} == \
        {p: (e, [tuple(a) for a in alts]) for p, (e, alts) in spec.CAUSES.items()}
    # the C side takes a null-ciphering Security Mode Command by its message type: these names must agree
    assert spec.NAS_TYPES["5gmm"][0x5D] == spec.NAS_TYPES["emm"][0x5D] == "Security Mode Command"


@pytest.mark.parametrize("proto", ["ngap", "s1ap", "x2ap", "xnap"])
def test_every_cause_value_reads_as_pycrate_encodes_it(proto):
    from sctpcorr.telecom import gen_spec

    m = gen_spec._quiet_import(f"pycrate_asn1dir.{gen_spec.MODULES[proto]}")
    cause = getattr(m, f"{gen_spec.MODULES[proto]}_IEs").Cause
    n = 0
    for alt, v in cause._cont.items():
        if v.TYPE != "ENUMERATED":
            continue
        for name in list(v._root) + list(v._ext or ()):
            cause.set_val((alt, name))
            assert ap.cause_value(cause.to_aper(), proto) == f"{alt}/{name}"
            n += 1
    assert n > 50


def test_engine_queues_only_the_event_kinds_asked_for(corpus):
    from sctpcorr.sources.pcapfile import CaptureReader
    from sctpcorr.wire.engine import Analyzer

    path = corpus / "open5gs/testregistration.pcapng"
    if not path.exists():
        pytest.skip("no open5gs capture")
    kinds = {}
    for ask in (None, ("retransmission", "rtt")):
        a = Analyzer(events=True, event_kinds=ask)
        with CaptureReader(str(path)) as r:
            for b in r.blocks():
                a.feed_capture(b)
        a.finish_capture()
        kinds[ask] = {e[0] for e in a.drain_events()}
    assert kinds[None] >= {"rtt", "sack", "assoc_new"} and kinds[("retransmission", "rtt")] == {"rtt"}
    with pytest.raises(ValueError):
        Analyzer(events=True, event_kinds=("no such kind",))


def test_the_c_classifier_is_classify_py():
    """By PPID, and with PPID 0 by the well-known port of either end (the destination's first)."""
    from sctpcorr.telecom import _fast, classify

    configure()
    ports = [1, 2905, 3868, 36412, 36422, 38412, 38422]
    n = 0
    for ppid in (0, 3, 18, 27, 46, 47, 60, 61, 99):
        for sport in ports:
            for dport in ports:
                m = Message(1, 1, 1, 1, 1, 1, 0, 0, 0, ppid, sport, dport, (1, 1), 1, 4, b"\0" * 4, False, False,
                            -1, -1, 0)
                (r,) = np.frombuffer(_fast.decode(pack(m))[0], REC)
                assert PROTOS[r["proto"]] == classify.protocol(ppid, sport, dport), (ppid, sport, dport)
                n += 1
    assert n == 9 * 49
