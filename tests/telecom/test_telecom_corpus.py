"""The telecom layer on real captures (../shared/pcaps), checked against independent decoders: tshark's
dissectors through pyshark (the names, procedure codes, UE ids and Diameter ids of every message, frame by frame)
and pycrate's full ASN.1 decode (UE ids and NAS octets of every NGAP/S1AP message)."""
from __future__ import annotations

import collections
import json
import subprocess
import sys

import pytest

from telecom_helpers import RAN_FIELD, run, tshark_messages

from sctpcorr.telecom import ap

DIAMETER_CAPTURES = ["open5gs/testattach.pcapng", "magma/gx_gy_combined_06_210505_133132-1.pcapng",
                     "diafuzzer/S6a_perso.pcap"]


def tshark_layers(path, proto, prefs=None):
    pyshark = pytest.importorskip("pyshark")
    cap = pyshark.FileCapture(str(path), display_filter=proto, keep_packets=False, override_prefs=prefs)
    out = []
    try:
        for p in cap:
            # every layer: pyshark's p.<proto> is only the first of the bundled messages
            for layer in p.get_multiple_layers(proto):
                out.append((int(p.number), layer))
    finally:
        cap.close()
    return out


def _corpus_files():
    from corpora import CORPUS

    if not CORPUS.is_dir():
        return []
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))


@pytest.mark.parametrize("name", _corpus_files() or ["(no corpus)"])
def test_every_corpus_message_matches_tsharks_frame_by_frame(corpus, name):
    """Every capture of the corpus: each NGAP/S1AP/X2AP/XnAP message's procedure code, outcome and RAN-side UE
    id, and each Diameter message's command, R flag and result, frame by frame, as tshark dissects them."""
    path = corpus / name
    ap_t, dia_t = tshark_messages(path)
    try:
        _t, msgs, doc = run(path)
    except ValueError:          # not a capture the engine reads (fuzzed corpus files): tshark must see nothing
        assert not ap_t and not dia_t
        return
    ours = collections.Counter((m.frame, m.proto, m.code, ap.TYPES.index(m.kind), m.ran_ue) for m in msgs
                               if m.proto in RAN_FIELD and m.kind is not None)
    ours_dia = collections.Counter((m.frame, m.code, m.kind == "request", m.result) for m in msgs
                                   if m.proto == "diameter" and m.kind is not None)
    if not (ap_t or dia_t or ours or ours_dia):
        pytest.skip(f"{name}: no NGAP, S1AP, X2AP, XnAP or Diameter")
    assert ours == ap_t
    assert ours_dia == dia_t
    assert not doc["undecoded"]


@pytest.mark.parametrize("name", ["open5gs/testregistration.pcapng", "open5gs/testattach.pcapng"])
def test_ue_ids_and_nas_octets_equal_pycrates_full_decode(corpus, name):
    """The fast walk reads the same IEs pycrate's complete APER decoder finds, for every message."""
    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    _t, msgs, _doc = run(path, keep_data=True)
    ids = {"ngap": ("RAN_UE_NGAP_ID", "AMF_UE_NGAP_ID"), "s1ap": ("eNB_UE_S1AP_ID", "MME_UE_S1AP_ID")}
    checked = 0
    for m in msgs:
        if m.proto not in ids:
            continue
        val = ap.full(m.data, m.proto)
        kind, body = val
        assert kind == ("initiatingMessage", "successfulOutcome", "unsuccessfulOutcome")[ap.TYPES.index(m.kind)]
        assert body["procedureCode"] == m.code
        ies = {ie["id"]: ie["value"][1] for ie in body["value"][1]["protocolIEs"]}
        ran_id, core_id = (ap.ie_id(m.proto, n) for n in ids[m.proto])
        want = (ies.get(ran_id), ies.get(core_id))
        pair = ies.get(ap.ie_id(m.proto, "UE_NGAP_IDs" if m.proto == "ngap" else "UE_S1AP_IDs"))
        if pair is not None:                 # UE Context Release Command: both ids in one CHOICE
            alt, v = pair
            if alt.endswith("pair"):
                want = (next(x for k, x in v.items() if k.lower().startswith(("ran", "enb"))),
                        next(x for k, x in v.items() if k.lower().startswith(("amf", "mme"))))
            else:
                want = (None, v)
        assert want == (m.ran_ue, m.core_ue), (m.frame, m.name)
        nas_id = ap.ie_id(m.proto, "NAS_PDU")
        pdu = ap.decode(m.data, m.proto)
        assert ap.nas_pdu(pdu) == ies.get(nas_id)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("name", ["open5gs/testregistration.pcapng", "open5gs/testattach.pcapng"])
def test_pdus_pycrate_rejects_leave_nothing_behind(corpus, name):
    """pycrate's APER decoder keeps its stack of bit offsets in a class attribute that a PDU it rejects never
    pops (ap.full): real NGAP/S1AP messages cut short at every length are rejected by it, thousands of them, and
    the stack is as it was after them; a whole message still decodes to what it did before."""
    from pycrate_asn1rt.codecs import ASN1CodecPER

    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    msgs = [m for m in run(path, keep_data=True)[1] if m.proto in ("ngap", "s1ap")][:60]
    whole = msgs[0]
    want = ap.full(whole.data, whole.proto)
    depth = len(ASN1CodecPER._off)
    rejected = 0
    for m in msgs:
        for cut in range(1, len(m.data)):
            try:
                ap.full(m.data[:cut], m.proto)
            except ValueError:
                rejected += 1
    assert rejected > 1000
    assert len(ASN1CodecPER._off) == depth
    assert ap.full(whole.data, whole.proto) == want


def test_registration_completes_are_tsharks_registration_complete_messages(corpus):
    """Every registration we call complete ends with a Registration Complete tshark also reads for that UE, and
    each Registration Complete tshark reads closes one of ours."""
    path = corpus / "open5gs/testregistration.pcapng"
    if not path.exists():
        pytest.skip("no open5gs capture")
    _t, _msgs, doc = run(path)
    ours = {(s["frame"]) for u in doc["ues"] if u.get("complete") for s in u["steps"][-1:]}
    theirs = set()
    # NAS after a Security Mode Command selecting 5G-EA0 is "ciphered" with the identity: read as plain (tshark:
    # nas-5gs.null_decipher)
    for frame, layer in tshark_layers(path, "ngap", {"nas-5gs.null_decipher": "TRUE"}):
        mt = layer.get_field("nas_5gs_mm_message_type")      # the NAS inside, dissected within the NGAP layer
        if mt is not None and int(mt, 0) == 0x43:                # Registration complete
            theirs.add(frame)
    assert ours and ours == theirs
    reg = doc["registration"]["registration"]
    assert reg["complete"] == len(ours)
    assert reg["started"] == reg["complete"] + reg["incomplete"] + reg["not_readable"]


@pytest.mark.parametrize("name", DIAMETER_CAPTURES)
def test_diameter_requests_meet_their_answers(corpus, name):
    path = corpus / name
    if not path.exists():
        pytest.skip(f"{name} not in the corpus")
    _t, msgs, doc = run(path)
    answered = sum(d["answered"] for d in doc["diameter"])
    answers = [m for m in msgs if m.proto == "diameter" and m.kind == "answer"]
    assert answered == sum(1 for m in answers if m.latency_ns is not None) > 0
    assert all(m.latency_ns >= 0 for m in answers if m.latency_ns is not None)


def test_a_message_split_into_two_data_chunks_is_put_back_together(corpus):
    """magma gx_gy: frames 30 and 31 carry one credit-control message in two fragments (README row 43)."""
    path = corpus / "magma/gx_gy_combined_06_210505_133132-1.pcapng"
    if not path.exists():
        pytest.skip("no magma capture")
    _t, msgs, doc = run(path, keep_data=True)
    (m,) = [m for m in msgs if m.fragments > 1]
    assert (m.frame, m.fragments, m.proto) == (31, 2, "diameter")
    assert int.from_bytes(m.data[1:4], "big") == len(m.data) == m.length      # the Diameter length field
    assert doc["reassembled"] == 1 and doc["fragments_given_up"] == 0


def test_m3ua_classes(corpus):
    path = corpus / "suricata-verify/sctp-keywords_input.pcap"
    if not path.exists():
        pytest.skip("no M3UA capture")
    _t, msgs, doc = run(path)
    theirs = collections.Counter()
    for _frame, layer in tshark_layers(path, "m3ua"):
        theirs[(int(layer.get_field("message_class")), int(layer.get_field("message_type")))] += 1
    assert sum(m["count"] for m in doc["m3ua"]) == sum(theirs.values()) == doc["messages"]["m3ua"]


def test_pcap_telecom_outputs(corpus, tmp_path):
    """`pcap --telecom`: the text shows the procedures and registrations; --json carries the section; --jsonl one
    message record per message."""
    path = corpus / "open5gs/testregistration.pcapng"
    if not path.exists():
        pytest.skip("no open5gs capture")
    cmd = [sys.executable, "-m", "sctpcorr.cli", "pcap", "--telecom", str(path)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert "PROCEDURES" in text and "NGAP InitialContextSetup" in text and "REGISTRATIONS" in text
    doc = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert doc["telecom"]["messages"] == {"ngap": 1306}
    lines = subprocess.run(cmd + ["--jsonl"], capture_output=True, text=True, check=True).stdout.splitlines()
    recs = [json.loads(x) for x in lines]
    assert sum(1 for r in recs if r["type"] == "message") == 1306
    assert recs[-1]["type"] == "summary" and recs[-1]["telecom"]["messages"] == {"ngap": 1306}
    plain = json.loads(subprocess.run(cmd[:4] + ["--json", str(path)], capture_output=True, text=True,
                                      check=True).stdout)
    assert "telecom" not in plain and plain["associations"] == doc["associations"]


def test_decode_shows_the_selected_messages_as_wireshark_dissects_them(corpus):
    path = corpus / "open5gs/testregistration.pcapng"
    if not path.exists():
        pytest.skip("no open5gs capture")
    cmd = [sys.executable, "-m", "sctpcorr.cli", "decode", str(path)]
    p = subprocess.run(cmd + ["--ue", "1:1", "--message", "Security Mode"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    heads = [x for x in p.stdout.splitlines() if x.startswith("frame ")]
    assert len(heads) == 2 and "[Security Mode Command]" in heads[0] and "[Security Mode Complete]" in heads[1]
    assert "Message type: Security mode command (0x5d)" in p.stdout            # tshark's tree, NAS inside
    assert "5G-EA0 (null ciphering algorithm)" in p.stdout
    assert "Message type: Security mode complete (0x5e)" in p.stdout          # read through 5G-EA0
    bad = subprocess.run(cmd + ["--ue", "one"], capture_output=True, text=True)
    assert bad.returncode == 2 and "expected ASSOC:RAN_UE_ID" in bad.stderr and "Traceback" not in bad.stderr
    none = subprocess.run(cmd + ["--message", "NoSuchThing"], capture_output=True, text=True)
    assert none.returncode == 1 and "no message matches" in none.stderr


def test_compare_names_the_faster_side_and_draws_the_cdfs(corpus, tmp_path):
    """Two real captures: the headline is a series both have, its numbers are each side's own `pcap --telecom`
    figures, the verdict names the side with the lower median, and the plot file is written."""
    a, b = corpus / "tempo/ULRerror.pcap", corpus / "open5gs/testattach.pcapng"
    if not a.exists() or not b.exists():
        pytest.skip("corpus captures missing")
    png = tmp_path / "cmp.png"
    p = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "compare", str(a), str(b), "--json", "--plot", str(png)],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)
    h = c["headline"]
    assert h["metric"] == "S1AP UEContextRelease latency"          # the series both captures have most of
    for side, path in (("a", a), ("b", b)):
        doc = json.loads(subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--telecom", "--json",
                                         str(path)], capture_output=True, text=True, check=True).stdout)
        row = next(r for r in doc["telecom"]["procedures"] if r["procedure"] == "UEContextRelease")
        assert h[side]["n"] == row["latency"]["n"] and h[side]["p50_ns"] == row["latency"]["p50_ns"]
    faster = str(a) if h["a"]["p50_ns"] < h["b"]["p50_ns"] else str(b)
    assert c["verdict"][0].startswith(f"{faster} is faster")
    assert "transport" in c["verdict"][1]
    assert png.exists() and png.stat().st_size > 10_000 and c["plot"] == str(png)
    text = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "compare", str(a), str(b)], capture_output=True,
                          text=True, check=True).stdout
    assert "VERDICT" in text and "RTT p50 / p99" in text
