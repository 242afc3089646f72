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
from sctpcorr.kernel.derive import Deriver

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


def _derived(records: list[dict]) -> list[dict]:
    d = Deriver()
    return [x for r in records for x in d.feed(r)]


def _states_by_asoc(records: list[dict]) -> dict[str, list[tuple]]:
    out: dict[str, list[tuple]] = {}
    for e in _derived(records):
        if e["type"] == "assoc_state":
            out.setdefault(e["asoc"], []).append((e["state_before"], e["state_after"], e.get("cause")))
    return out


def test_handshake_states_and_vtags(slices):
    a = slices["baseline"]
    # derived from the state every event carries, and the COMM_UP notifications (exact)
    states = sorted(_states_by_asoc(a).values(), key=len)
    assert states[0] == [("CLOSED", "ESTABLISHED", "COMM_UP")]                                 # the server end
    assert states[1][:3] == [("CLOSED", "COOKIE_WAIT", None), ("COOKIE_WAIT", "COOKIE_ECHOED", None),
                             ("COOKIE_ECHOED", "ESTABLISHED", "COMM_UP")]                       # the client end
    ups = [e for e in a if e["type"] == "assoc_change" and e.get("sac_state") == "COMM_UP"]
    assert len(ups) == 2 and all(e["outbound_streams"] > 0 and e["inbound_streams"] > 0 for e in ups)
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


def test_shutdown_ends_both_associations_closed(slices):
    z = slices["baseline_end"]
    states = _states_by_asoc(z)
    freed = {e["asoc"] for e in z if e["type"] == "assoc_change" and e["kind"] == "freed"}
    assert len(freed) == 2
    for asoc in freed:
        seq = states[asoc]
        assert seq[-1][1] == "CLOSED", seq
        assert any(after.startswith("SHUTDOWN") for _b, after, _c in seq), seq
    comp = [e for e in z if e["type"] == "assoc_change" and e.get("sac_state") == "SHUTDOWN_COMP"]
    assert len(comp) == 2


def test_egress_carries_the_window_its_sack_advertises(slices):
    """sctp_make_sack sets asoc->a_rwnd = asoc->rwnd: a packet carrying a SACK leaves with both equal."""
    eg = [e for sl in slices.values() for e in sl if e["type"] == "egress"]
    with_sack = [e for e in eg if any(c["type"] == "SACK" for c in e["chunks"])]
    assert len(with_sack) >= 50
    same = [e for e in with_sack if e["a_rwnd"] == e["rwnd"]]
    assert len(same) >= 0.95 * len(with_sack), (len(same), len(with_sack))
    assert all(0 < e["rcvbuf"] and e["rwnd"] <= e["rcvbuf"] for e in eg)
    rw = [e for e in _derived(slices["lossy"]) if e["type"] == "rwnd"]
    assert rw and all(e["derived"] and e["seen_in"] == "egress" for e in rw)


def test_derived_cwnd_changes_continue_from_the_probed_reductions(slices):
    """Reductions are probed (exact), growth is derived from the egress/path samples: a derived change starts from
    where the last probed reduction left cwnd, and growth in bulk transfer (the bench's records) is classified as
    Linux does (slow start while cwnd <= ssthresh)."""
    out = _derived(slices["lossy"] + slices["baseline"])
    cw = [e for e in out if e["type"] == "cwnd"]
    lowers = [e for e in cw if not e.get("derived")]
    assert lowers and {e["reason"] for e in lowers} <= {"t3_rtx", "fast_rtx", "ecne", "inactive"}
    for lo in lowers:
        nxt = next((e for e in cw[cw.index(lo) + 1:] if e.get("derived") and e["transport"] == lo["transport"]),
                   None)
        if nxt is not None:
            assert nxt["cwnd_before"] == lo["cwnd_after"] and nxt["ssthresh_before"] == lo["ssthresh_after"]
    bulk = [e for e in _derived(slices["bulk"]) if e["type"] == "cwnd" and e.get("derived")]
    raises = [e for e in bulk if e["op"] == "raise"]
    assert len(raises) >= 5
    for e in raises:
        assert e["cwnd_after"] > e["cwnd_before"] and e["not_before_ns"] < e["ts_ns"]
        assert e["reason"] == ("slow_start" if e["cwnd_before"] <= e["ssthresh_before"] else "congestion_avoidance")
