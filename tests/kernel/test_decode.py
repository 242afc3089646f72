"""Decoding recorded ring-buffer bytes without BCC: real records of the lab guest (Debian 6.1, HZ=250).

Fixture: tests/kernel/fixtures/probe61/events.raw (<u32 little-endian length><record bytes>...) and
slices.json (which lab scenario each slice of records comes from; README.md there says how it was made).
Each slice is a contiguous run of records, so relations between records can be checked, not just fields.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sctpcorr.kernel import abi

FIX = Path(__file__).parent / "fixtures" / "probe61"


def _raw_records() -> list[bytes]:
    data = (FIX / "events.raw").read_bytes()
    out, off = [], 0
    while off + 4 <= len(data):
        n = int.from_bytes(data[off:off + 4], "little")
        out.append(data[off + 4: off + 4 + n])
        off += 4 + n
    assert off == len(data)
    return out


@pytest.fixture(scope="module")
def slices() -> dict[str, list[dict]]:
    raws = _raw_records()
    meta = json.loads((FIX / "slices.json").read_text())
    out, i = {}, 0
    for s in meta["slices"]:
        out[s["name"]] = [abi.decode(r, hz=250) for r in raws[i:i + s["count"]]]
        i += s["count"]
    assert i == len(raws)
    return out


def test_every_event_type_is_in_the_fixture_and_decodes(slices):
    types = {e["type"] for sl in slices.values() for e in sl}
    assert types == {name for name, _cls in abi.EVENT_TYPES.values()}


def test_rto_updates_obey_the_kernel_formula(slices):
    ups = [e for sl in slices.values() for e in sl if e["type"] == "rto_update"]
    assert len(ups) >= 10
    for u in ups:
        r, s0, v0 = u["rtt_jiffies"], u["srtt_before_jiffies"], u["rttvar_before_jiffies"]
        s, v = (s0 - (s0 >> 3) + (r >> 3), v0 - (v0 >> 2) + (abs(s0 - r) >> 2)) if (s0 or v0) else (r, r >> 1)
        v = v or 1
        assert (u["srtt_jiffies"], u["rttvar_jiffies"]) == (s, v)
        assert u["rto_jiffies"] == min(max(s + 4 * v, u["rto_min_jiffies"]), u["rto_max_jiffies"])
        assert u["srtt_ns"] == u["srtt_jiffies"] * 4_000_000 and u["paired"]


def test_handshake_states_and_vtags(slices):
    a = slices["baseline"]
    states = [(e["state_before"], e["state_after"]) for e in a if e["type"] == "assoc_state"]
    assert states[:3] == [("CLOSED", "COOKIE_WAIT"), ("COOKIE_WAIT", "COOKIE_ECHOED"),
                          ("COOKIE_ECHOED", "ESTABLISHED")]
    egress = [e for e in a if e["type"] == "egress"]
    init = next(e for e in egress if e["chunks"][0]["type"] == "INIT")
    assert init["vtag"] == 0 and init["peer_vtag"] == 0
    for e in egress:
        if e["chunks"][0]["type"] != "INIT":
            assert e["vtag"] == e["peer_vtag"] != 0          # the tag on the wire is the peer's
            assert (e["sport"], e["dport"]) == (e["lport"], e["pport"])
    # both ends of the association: each one's my_vtag is the other's peer_vtag
    ends = {(e["lport"], e["pport"]): (e["my_vtag"], e["peer_vtag"]) for e in a if e["state"] == "ESTABLISHED"}
    for (lp, pp), (mine, peer) in ends.items():
        assert ends[(pp, lp)] == (peer, mine)


def test_heartbeat_acks_echo_a_heartbeat_that_was_sent(slices):
    a = slices["baseline"]
    sent = {(e["asoc"], e["hb_nonce"], e["sent_at_jiffies"]) for e in a if e["type"] == "hb_sent"}
    acks = [e for e in a if e["type"] == "hb_ack"]
    assert acks and all((e["asoc"], e["hb_nonce"], e["sent_at_jiffies"]) in sent for e in acks)
    for e in acks:
        assert e["rtt_jiffies"] == e["jiffies"] - e["sent_at_jiffies"] and e["transport"] is None
    hb_ups = [e for e in a if e["type"] == "rto_update" and e["source"] == "heartbeat"]
    assert hb_ups and all(any(x["hb_nonce"] == u["hb_nonce"] for x in acks) for u in hb_ups)


def test_retransmitted_tsns_were_sent_before(slices):
    b = slices["lossy"]
    first: dict[tuple, int] = {}
    rtx = 0
    for e in b:
        if e["type"] != "egress":
            continue
        for c in e["chunks"]:
            if c["type"] != "DATA":
                continue
            key = (e["asoc"], c["tsn"])
            if c["sent_count"] == 1:
                assert c["rtx_reason"] is None
                first.setdefault(key, e["ts_ns"])
            else:
                rtx += 1
                assert c["rtx_reason"] in ("fast", "t3") and c["tsn"] in e["retransmitted_tsns"]
                assert key in first and first[key] < e["ts_ns"]
            assert c["sent_at_jiffies"] <= e["jiffies"] and e["jiffies"] - c["sent_at_jiffies"] < 250
    assert rtx >= 3
    lowered = [e for e in b if e["type"] == "cwnd" and e["op"] == "lower"]
    assert lowered and all(e["cwnd_after"] < e["cwnd_before"] or e["cwnd_before"] <= e["cwnd_after"]
                           for e in lowered)
    assert {e["reason"] for e in lowered} <= {"t3_rtx", "fast_rtx", "ecne", "inactive"}


def test_failover_path_goes_down(slices):
    c = slices["failover"]
    downs = [e for e in c if e["type"] == "path_state" and e["state_after"] == "INACTIVE"]
    assert downs and downs[0]["sn_error"] == "FAILED_THRESHOLD" and downs[0]["command"] == "DOWN"
    t3 = [e for e in slices["failover_t3"] if e["type"] == "t3_expire"]
    assert t3 and t3[0]["path_addr"] == downs[0]["path_addr"] and t3[0]["ts_ns"] < downs[0]["ts_ns"]
    assert t3[0]["rto_jiffies"] > 0 and not t3[0]["deferred"]


def test_clock_and_jiffies_run_together(slices):
    for sl in slices.values():
        a, b = sl[0], sl[-1]
        if b["ts_ns"] - a["ts_ns"] > 2_000_000_000:
            rate = (b["jiffies"] - a["jiffies"]) * 1e9 / (b["ts_ns"] - a["ts_ns"])
            assert 240 < rate < 260


def test_decode_without_hz_has_no_ns_fields():
    r = abi.decode(next(x for x in _raw_records() if abi.event_type_of(x) == 1))
    assert "srtt_jiffies" in r and not any(k.endswith("_ns") and k != "ts_ns" for k in r)


def test_bad_records_raise_abi_error():
    raw = _raw_records()[0]
    with pytest.raises(abi.AbiError, match="bytes, the structure has"):
        abi.decode(raw[:-1])
    with pytest.raises(abi.AbiError, match="unknown event type 99"):
        abi.decode((99).to_bytes(4, "little") + raw[4:])
    with pytest.raises(abi.AbiError):
        abi.decode(b"\x01")


def test_widen_jiffies_across_a_32_bit_wrap():
    assert abi._widen(0xFFFFFFF0, 0x1_0000_0010) == 0x0_FFFF_FFF0
    assert abi._widen(0x10, 0x1_0000_0010) == 0x1_0000_0010
