"""The Analyzer against the ground truth of the project's synthetic captures (tools/make_pcaps.py).

The generator is re-run in the test (it is deterministic and takes well under a second), which proves the committed
files are what it makes and gives the test the simulator's full knowledge: every TSN's transmissions and first
covering SACK on the wire, so each DATA RTT sample the Analyzer reports can be checked to the nanosecond and
against RFC 9260 §6.3.1 C4/C5.
"""
from __future__ import annotations

import gzip
import importlib.util
import sys
from collections import defaultdict
from fractions import Fraction

import pytest

import craft
from corpora import OWN_PCAPS, ROOT

SYN = OWN_PCAPS / "synthetic"
MS = 1_000_000

_spec = importlib.util.spec_from_file_location("make_pcaps", ROOT / "tools" / "make_pcaps.py")
make_pcaps = importlib.util.module_from_spec(_spec)
sys.modules["make_pcaps"] = make_pcaps  # dataclasses look their module up
_spec.loader.exec_module(make_pcaps)


@pytest.fixture(scope="module", params=list(make_pcaps.SCENARIOS))
def scenario(request, Analyzer):
    name = request.param
    make, truth_name = make_pcaps.SCENARIOS[name]
    blob, truth, sim = make()
    path = SYN / name
    assert path.exists(), f"{path} missing: run tools/make_pcaps.py"
    committed = path.read_bytes()
    a = Analyzer(events=True)
    a.feed_capture(gzip.decompress(committed) if name.endswith(".gz") else committed)
    summary = a.finish_capture()
    return dict(name=name, truth_name=truth_name, committed=committed, blob=blob, truth=truth, sim=sim,
                summary=summary, report=a.report(), events=a.drain_events())


def the_assoc(sc):
    assert len(sc["report"]["associations"]) == 1
    return sc["report"]["associations"][0]


# ------------------------------------------------------------------------------------------------ the files


def test_committed_files_are_what_the_generator_makes(scenario):
    assert make_pcaps.same_capture(scenario["name"], scenario["committed"], scenario["blob"])
    committed_truth = (SYN / scenario["truth_name"]).read_text()
    assert committed_truth == make_pcaps.truth_json(scenario["truth"])


def test_size_budget():
    files = [p for p in SYN.iterdir() if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 200_000, {p.name: p.stat().st_size for p in files}


def test_tshark_reads_them_too(scenario):
    # the same frames through an independent reader (the parity test compares them with tshark as well)
    data = gzip.decompress(scenario["committed"]) if scenario["name"].endswith(".gz") else scenario["committed"]
    frames = craft.read_frames(data)
    assert len(frames) == scenario["truth"]["capture"]["packets"]
    assert [f.ts_ns for f in frames] == [c.ts for c in scenario["sim"].captured]


# ------------------------------------------------------------------------------------------------ the counts


def test_capture_and_association(scenario):
    t, rep = scenario["truth"], scenario["report"]
    cap = rep["capture"]
    for k in ("packets", "sctp_packets", "duplicates", "bad_checksum", "malformed", "first_ts_ns", "last_ts_ns"):
        assert cap[k] == t["capture"][k], k
    assert {craft.norm_chunk_name(k): v for k, v in cap["chunks"].items() if v} == t["capture"]["chunks"]
    s, ta = the_assoc(scenario), t["association"]
    assert (s["ports"], s["vtags"], s["state"], s["mid_association"]) == (ta["ports"], ta["vtags"], ta["state"], False)
    assert [sorted(x) for x in s["addresses"]] == ta["addresses"]
    for mine, theirs in zip(s["init"], ta["init"]):
        assert {k: mine[k] for k in theirs} == theirs
    h = s["handshake"]
    for k, v in ta["handshake"].items():
        assert h[k] == v, k
    assert h["setup_ns"] == ta["handshake"]["cookie_ack_ns"] - ta["handshake"]["init_ns"]


def test_shutdown_or_abort(scenario):
    s, ta = the_assoc(scenario), scenario["truth"]["association"]
    sd, tsd = s["shutdown"], ta["shutdown"]
    for k in ("shutdown_ns", "shutdown_ack_ns", "shutdown_complete_ns"):
        assert sd[k] == tsd[k], k
    if "duration_ns" in tsd:
        assert sd["duration_ns"] == tsd["duration_ns"]
    if tsd["abort"] is None:
        assert sd["abort"] is None
    else:
        ab = sd["abort"]
        ta = tsd["abort"]
        assert (ab["ts_ns"], ab["by"], ab["t_bit"]) == (ta["ts_ns"], ta["by"], ta["t_bit"])
        assert [c["code"] for c in ab["causes"]] == tsd["abort"]["cause_codes"]


@pytest.mark.parametrize("direction", ["A>B", "B>A"])
def test_directions(scenario, direction):
    d = the_assoc(scenario)["directions"][direction]
    t = scenario["truth"]["association"]["directions"][direction]
    for k in ("packets", "data_chunks", "data_bytes", "unique_tsns", "sacks", "gap_blocks",
              "duplicate_tsns_reported"):
        assert d[k] == t[k], k
    assert {k: d["retransmissions"][k] for k in t["retransmissions"]} == t["retransmissions"]
    assert d["retransmissions"]["unknown"] == 0, "every retransmission in these captures has a known cause"
    assert d["a_rwnd"] == t["a_rwnd"]
    streams = {str(s["sid"]): s for s in d["streams"]}
    assert sorted(streams) == sorted(t["streams"])
    for sid, ts in t["streams"].items():
        s = streams[sid]
        assert (s["chunks"], s["bytes"], s["ppids"], s["ssn_gaps"]) == (ts["chunks"], ts["bytes"], ts["ppids"], 0), sid


def test_paths_and_heartbeats(scenario):
    s = the_assoc(scenario)
    truth_paths = scenario["truth"]["association"]["paths"]
    assert sorted((p["src"], p["dst"], p["direction"]) for p in s["paths"]) == \
        sorted((p["src"], p["dst"], p["direction"]) for p in truth_paths)
    hb_events = defaultdict(list)
    for e in craft.named(scenario["events"], "rtt"):
        if e["method"] == "heartbeat":
            hb_events[(e["src"], e["dst"])].append(e["rtt_ns"])
    for tp in truth_paths:
        p = craft.path(s, tp["src"], tp["dst"])
        where = f"path {tp['src']}->{tp['dst']}"
        assert (p["packets"], p["data_chunks"], p["retransmissions"]) == (
            tp["packets"], tp["data_chunks"], tp["retransmissions"]), where
        assert {k: p["heartbeats"][k] for k in ("sent", "acked", "unanswered")} == tp["heartbeats"], where
        assert p["heartbeats"]["rtt_samples"] == len(tp["heartbeat_rtts_ns"]) == p["rtt"]["heartbeat_samples"], where
        assert hb_events[(tp["src"], tp["dst"])] == tp["heartbeat_rtts_ns"], where


# ------------------------------------------------------------------------------------------------ DATA RTT


def ser_le(a, b):
    return a == b or ((b - a) & 0xFFFFFFFF) < 0x80000000


def linux_like_samples(sim, direction):
    """How many DATA RTT samples a Linux sender would take from this wire: one timed TSN per path (the first new
    TSN of a packet sent while none is timed), void when it is retransmitted, a sample when first acked."""
    frm = direction[0]
    slot: dict = {}
    count = defaultdict(int)
    sent = set()
    for c in sim.captured:
        if c.frm == frm:
            for ch in c.chunks:
                if isinstance(ch, make_pcaps.Data):
                    if ch.tsn in sent:
                        for p, t in list(slot.items()):
                            if t == ch.tsn:
                                del slot[p]
                    else:
                        sent.add(ch.tsn)
                        if (c.src, c.dst) not in slot:
                            slot[(c.src, c.dst)] = ch.tsn
        else:
            for ch in c.chunks:
                if isinstance(ch, make_pcaps.Sack):
                    for p, t in list(slot.items()):
                        if ch.covers(t):
                            count[p] += 1
                            del slot[p]
    return count


@pytest.mark.parametrize("direction", ["A>B", "B>A"])
def test_every_data_rtt_sample_is_exact_and_karn_valid(scenario, direction):
    sim = scenario["sim"]
    log = make_pcaps.tsn_log(sim)[direction]
    retx = sorted((tx[2], tsn) for tsn, e in log.items() for tx in e["tx"][1:])   # (capture index, TSN)
    newly_acked_packets = defaultdict(set)   # SACK capture index -> capture indexes of the DATA packets it acks
    for tsn, e in log.items():
        if e["ack"] is not None:
            newly_acked_packets[e["ack"][1]].add([tx for tx in e["tx"] if tx[2] < e["ack"][1]][-1][2])
    samples = [e for e in craft.named(scenario["events"], "rtt")
               if e["method"] == "data" and e["direction"] == direction]
    by_path = defaultdict(list)
    for e in samples:
        tsn = e["tsn"]
        w = f"{direction} TSN {tsn:#x} sampled at {e['ts_ns']}"
        assert tsn in log, w
        entry = log[tsn]
        assert entry["ack"] is not None, w
        ack_ts, ack_idx = entry["ack"]
        before = [tx for tx in entry["tx"] if tx[2] < ack_idx]
        assert len(before) == 1, f"{w}: TSN sent {len(before)} times before the SACK (Karn)"
        tx_ts, tx_path, tx_idx = before[0]
        assert (e["src"], e["dst"]) == tx_path, w
        assert e["ts_ns"] == ack_ts and e["rtt_ns"] == ack_ts - tx_ts, w
        bad = [(i, t) for i, t in retx if tx_idx < i < ack_idx and ser_le(t, tsn)]
        assert not bad, f"{w}: TSN(s) <= it retransmitted meanwhile (C5): {bad}"
        expect_delayed = e["rtt_ns"] >= 150 * MS and len(newly_acked_packets[ack_idx]) == 1
        assert e["delayed_sack"] == expect_delayed, w
        by_path[tx_path].append((tx_idx, ack_idx))
    for p, iv in by_path.items():
        iv.sort()
        for (s1, a1), (s2, a2) in zip(iv, iv[1:]):
            assert s2 >= a1, f"path {p}: two TSNs timed at once (C4): {(s1, a1)} and {(s2, a2)}"
    # how many: like a Linux sender, give or take one per retransmission (where C5 voids a timed TSN, the next
    # one timed depends on when the slot is freed, which RFC 9260 leaves open)
    s = the_assoc(scenario)
    linux = linux_like_samples(sim, direction)
    n_retx = scenario["truth"]["association"]["directions"][direction]["retransmissions"]["total"]
    for p in s["paths"]:
        if p["direction"] != direction:
            continue
        ours = p["rtt"]["data_samples"]
        assert ours == len(by_path[(p["src"], p["dst"])])
        assert abs(ours - linux[(p["src"], p["dst"])]) <= n_retx, (p["src"], p["dst"], ours, linux)
    d = s["directions"][direction]["rtt"]
    assert d["data_samples"] == len(samples)
    assert d["delayed_sack_samples"] == sum(e["delayed_sack"] for e in samples)


def test_srtt_rttvar_rto_follow_rfc9260_from_the_samples(scenario):
    s = the_assoc(scenario)
    series = defaultdict(list)
    for e in craft.named(scenario["events"], "rtt"):
        series[(e["src"], e["dst"])].append(e["rtt_ns"])
    for p in s["paths"]:
        rs = series[(p["src"], p["dst"])]
        assert p["rtt"]["samples"] == len(rs)
        if not rs:
            assert p["rtt"]["srtt_ns"] is None
            continue
        srtt, rttvar = Fraction(rs[0]), Fraction(rs[0], 2)
        for r in rs[1:]:
            rttvar = Fraction(3, 4) * rttvar + Fraction(1, 4) * abs(srtt - r)
            srtt = Fraction(7, 8) * srtt + Fraction(1, 8) * r
        rto = min(max(srtt + 4 * rttvar, Fraction(10**9)), Fraction(60 * 10**9))
        assert abs(p["rtt"]["srtt_ns"] - srtt) <= 8 and abs(p["rtt"]["rttvar_ns"] - rttvar) <= 8
        assert abs(p["rtt"]["rto_ns"] - rto) <= 40
        assert p["rtt"]["min_ns"] == min(rs) and p["rtt"]["max_ns"] == max(rs)
