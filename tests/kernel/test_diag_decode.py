"""sock_diag decoding on real dumps of a Debian 6.1 kernel, checked against iproute2's `ss` and SCTP_STATUS.

Fixtures: tests/kernel/fixtures/diag61 (README.md there says how they were made).
"""
from __future__ import annotations

import json
import re
import socket
import struct
from pathlib import Path

import pytest

from sctpcorr.kernel import diag

FIX = Path(__file__).parent / "fixtures" / "diag61"


def _load(name: str) -> list[dict]:
    recs, done, err = diag.records((FIX / name).read_bytes(), hz=250)
    assert done and err == 0
    return recs


def _ss_assocs() -> dict[tuple[int, int], dict[str, str]]:
    """(lport, pport) -> the key:value pairs ss printed for that association."""
    out = {}
    lines = (FIX / "ss.txt").read_text().splitlines()
    for head, info in zip(lines, lines[1:]):
        if not head.startswith("`- ESTAB"):
            continue
        m = re.findall(r"(\S+):(\d+)\s", head)
        lport, pport = int(m[0][1]), int(m[1][1])
        out[(lport, pport)] = dict(re.findall(r"(\w+):(\S+)", info))
    return out


def test_dump_has_endpoints_and_associations_of_each_family():
    v4, v6 = _load("diag-inet.raw"), _load("diag-inet6.raw")
    assert [r["kind"] for r in v4] == ["endpoint", "endpoint", "assoc", "endpoint", "assoc"]
    assert sorted(r["lport"] for r in v4 if r["kind"] == "assoc") == sorted([36412, 46791])
    assert {r["family"] for r in v4} == {socket.AF_INET} and {r["family"] for r in v6} == {socket.AF_INET6}
    assert sum(r["kind"] == "assoc" for r in v6) == 2


def test_associations_match_what_ss_prints():
    ss = _ss_assocs()
    assocs = [diag.flatten(r) for r in _load("diag-inet.raw") + _load("diag-inet6.raw") if r["kind"] == "assoc"]
    assert len(assocs) == 4 and set(ss) == {(a["lport"], a["pport"]) for a in assocs}
    for a in assocs:
        s = ss[(a["lport"], a["pport"])]
        assert a["my_vtag"] == int(s["tag"], 16) and a["peer_vtag"] == int(s["ptag"], 16)
        assert a["a_rwnd"] == int(s["rwnd"]) and a["peer_rwnd"] == int(s["prwnd"])
        assert (a["instrms"], a["outstrms"]) == (int(s["instrms"]), int(s["outstrms"]))
        assert a["max_burst"] == int(s["maxburst"]) and a["maxseg"] == int(s["maxseg"])
        assert a["peer_capable"] == int(s["pcapable"]) and a["peer_sack"] == int(s["psack"])
        assert a["state"] == "ESTABLISHED" and s["state"] == "ESTAB"
        assert ",".join(a["locals"]) == s["locals"] and ",".join(a["peers"]) == s["peers"]
        # the two ends of one association see each other's tags
    by_port = {(a["lport"], a["pport"]): a for a in assocs}
    for (lp, pp), a in by_port.items():
        assert by_port[(pp, lp)]["my_vtag"] == a["peer_vtag"]


def test_primary_path_values_match_sctp_status():
    """SRTT (jiffies), RTO (ms), cwnd and the peer window of the primary path equal what the socket owner read
    with SCTP_STATUS, which ss does not print."""
    status = json.loads((FIX / "status.json").read_text())
    assocs = {(a["lport"], a["pport"]): a for a in (diag.flatten(r) for r in
              _load("diag-inet.raw") + _load("diag-inet6.raw") if r["kind"] == "assoc")}
    checked = 0
    for fam, server_port in (("inet", 36412), ("inet6", 38412)):
        cport = status[fam]["client_port"]
        for side, key in (("client", (cport, server_port)), ("server", (server_port, cport))):
            st, a = status[fam][side], assocs[key]
            assert a["srtt_jiffies"] == st["primary"]["srtt_ms"]     # both raw jiffies (see README)
            assert a["srtt_ns"] == a["srtt_jiffies"] * 4_000_000
            assert a["rto_ms"] == st["primary"]["rto_ms"] and a["rto_ns"] == a["rto_ms"] * 1_000_000
            assert a["cwnd"] == st["primary"]["cwnd"] and a["peer_rwnd"] == st["peer_rwnd"]
            assert a["path_addr"] == st["primary"]["addr"] and a["path_state"] == st["primary"]["state"]
            # sctp_info carries asoc->frag_point (0 unless SCTP_MAXSEG was set); SCTP_STATUS the effective one
            assert a["fragmentation_point"] == 0 and st["frag_point"] > 0
            checked += 1
    assert checked == 4


def test_counters_and_queues_are_plausible():
    for r in _load("diag-inet.raw"):
        if r["kind"] != "assoc":
            continue
        a = diag.flatten(r)
        c = a["counters"]
        # 20 request/response exchanges each way (+1 unread message to the server): DATA chunks in order
        assert c["oodchunks"] >= 20 and c["iodchunks"] >= 20 and c["rtxchunks"] == 0
        assert c["opackets"] > 0 and c["ipackets"] > 0
        assert a["skmeminfo"] is not None and a["skmeminfo"]["rcvbuf"] > 0
    server = next(r for r in _load("diag-inet.raw") if r["kind"] == "assoc" and r["lport"] == 36412)
    assert server["rqueue"] == 292   # ss: Recv-Q 292 (the 60 unread bytes as the kernel charges them)


def test_truncated_and_garbage_input_never_raise():
    raw = (FIX / "diag-inet.raw").read_bytes()
    for cut in range(0, len(raw), 37):
        recs, _done, _err = diag.records(raw[:cut], hz=250)
        assert all(isinstance(r, dict) for r in recs)
    # a length field that points past the end stops the walk; a short sctp_info is zero-extended
    bad = bytearray(raw)
    struct.pack_into("=I", bad, 0, 0xFFFF)
    assert diag.records(bytes(bad))[0] == []
    assert diag.parse_sctp_info(b"\x01\x00\x00\x00")["my_vtag"] == 1


def test_error_message_is_reported():
    err = struct.pack("=IHHII", 36, diag.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -2) + bytes(16)
    assert diag.records(err) == ([], True, 2)


def test_request_layout():
    req = diag.build_request(socket.AF_INET6, seq=7)
    length, mtype, flags, seq, _pid = struct.unpack_from("=IHHII", req)
    assert (length, mtype, seq) == (len(req), 20, 7) and len(req) == 16 + 56
    assert flags == diag.NLM_F_REQUEST | diag.NLM_F_DUMP
    fam, proto, ext, _pad, states = struct.unpack_from("=BBBBI", req, 16)
    assert (fam, proto, states) == (socket.AF_INET6, 132, 0xFFFFFFFF)
    assert ext & (1 << (diag.INET_DIAG_INFO - 1))


@pytest.mark.parametrize("raw,expect", [
    (struct.pack("=H", 2) + struct.pack("!H", 5000) + bytes([198, 19, 1, 1]) + bytes(8), ("198.19.1.1", 5000)),
    (struct.pack("=H", 10) + struct.pack("!H", 1) + bytes(4) + bytes(15) + b"\x01" + bytes(4), ("::1", 1)),
    (b"\x02", None),
    (struct.pack("=H", 99) + bytes(30), None),
])
def test_parse_sockaddr(raw, expect):
    assert diag.parse_sockaddr(raw) == expect
