"""`sctpcorr probe` against real associations in the lab guest (Debian 6.1, HZ=250, QEMU TCG).

One guest boot runs tests/lab_probe/guest_session.py: the BPF probe attached once, then the lab scenarios
baseline, lossy and failover (captures on both sides, netem on the router), each with the sock_diag source
recording next to it, then the overhead bench.  The tests below read what it left.

Four recorders run at once: everything (probe.jsonl, --level packets), ``--addr`` at --level sacks and ``--pid
--port`` at --level decisions (the filters, checked against the first type by type), and an unfiltered one at
--level decisions (joined to the captures by the correlator, as the first is).  The bench measures each level.  The session takes about 10 minutes on an idle 2-core host (BCC compiles for minutes under TCG) and
runs with the rest of the suite whenever the lab's prerequisites are installed (scripts/setup-lab):
  pytest tests/lab_probe                             # boot the guest into a temporary directory
  SCTPCORR_LAB_PROBE_DIR=DIR pytest tests/lab_probe  # read a session already run into DIR
  SCTPCORR_NO_LAB_PROBE=1 (or SCTPCORR_NO_LAB=1)     # do not boot it
Without the prerequisites every test here is skipped with the reason.
"""
from __future__ import annotations

import collections
import json
import re
import subprocess
import os
import statistics
import sys
from pathlib import Path

import pytest

from sctpcorr.kernel import probes, recorder

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = "baseline,lossy,failover"


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory) -> Path:
    given = os.environ.get("SCTPCORR_LAB_PROBE_DIR")
    if given:
        d = Path(given)
        if not (d / "session.json").exists():
            pytest.skip(f"SCTPCORR_LAB_PROBE_DIR={given} has no session.json")
        return d
    if os.environ.get("SCTPCORR_NO_LAB") or os.environ.get("SCTPCORR_NO_LAB_PROBE"):
        pytest.skip("SCTPCORR_NO_LAB / SCTPCORR_NO_LAB_PROBE is set: the probe lab session is not booted")
    if os.geteuid() != 0:
        pytest.skip("the lab guest needs root")
    from sctpcorr.lab import runner

    pr = runner.check_prerequisites()
    if not pr.ok or pr.kernel is None:
        pytest.skip(f"lab prerequisites missing: {pr.message()} (run scripts/setup-lab)")
    d = tmp_path_factory.mktemp("lab_probe")
    # 5 G: five BCC compiles run at once in the guest (the main recorder, two filtered ones, the decisions level,
    # live --probes)
    runner.run_in_guest(f"{sys.executable} {ROOT / 'tests/lab_probe/guest_session.py'} {d} {SCENARIOS} "
                        f"--bench-seconds 3 --bench-rounds 8", d, memory="5G", timeout_s=3600)
    return d


@pytest.fixture(scope="session")
def session(session_dir) -> dict:
    s = json.loads((session_dir / "session.json").read_text())
    if s.get("probe_error"):
        pytest.fail(f"the probe did not start in the guest: {s['probe_error']}")
    return s


@pytest.fixture(scope="session")
def rec(session_dir, session) -> recorder.Recording:
    r = recorder.load(session_dir / "probe.jsonl")
    assert r.startup is not None, "no startup record"
    return r


def window(session: dict, rec: recorder.Recording, name: str) -> list[dict]:
    sc = next((s for s in session["scenarios"] if s["name"] == name), None)
    if sc is None:
        pytest.skip(f"scenario {name} did not run in this session")
    return [e for e in rec.events if sc["start_mono_ns"] <= e.get("ts_ns", 0) <= sc["end_mono_ns"]]


def netns_inodes(session_dir: Path, name: str) -> dict[str, int]:
    """{"cli": inode, "srv": inode} of a scenario, from its diag recorder's startup record."""
    d = recorder.load(session_dir / name / "kernel" / "diag.jsonl")
    assert d.startup is not None
    return {n["name"]: n["inode"] for n in d.startup["netns"]}


def scenario_json(session_dir: Path, name: str) -> dict:
    return json.loads((session_dir / name / "scenario.json").read_text())


# ---- the recording itself -------------------------------------------------------------------------------------

def test_every_probe_attached_and_nothing_was_lost(rec):
    s = rec.startup
    assert s["hz"] == 250 and s["hz_source"].startswith("CONFIG_HZ")
    assert s["missing"] == [], s["missing"]
    assert all(s["capabilities"][t] for t in ("rto_update", "sack", "path", "cwnd", "rtx_mark", "t3_expire",
                                               "hb_sent", "hb_ack", "path_state", "assoc_state", "rwnd",
                                               "egress"))
    e = rec.end
    assert e is not None, "no closing record"
    assert 245 <= e["hz_measured"] <= 255
    assert e["decode_errors"] == 0
    # what the BPF side submitted is what was written (toggle records are the bench's, written in user space)
    written = {k: v for k, v in e["events"].items() if k not in ("toggle", "diag")}
    assert written == e["bpf_emitted"]
    assert e["counters"]["inflight_full"] == 0
    assert e["lost_total"] == sum(e["lost"].values())
    # every kprobe and kretprobe is listed in kprobe_profile (created through tracefs), so hits the kernel skipped
    # are counted there, not lost silently
    # (the hooks the startup record lists: BPF trampolines where the kernel allowed them, kprobes elsewhere)
    hooks = [h.split(":", 1) for p in s["probes"] for h in p["attachments"]]
    print("hooks:", sorted(f"{k}:{t}" for k, t in hooks), "fallbacks:",
          {p["probe"]: p.get("fallback") for p in s["probes"] if p.get("fallback")})
    assert len(hooks) == sum(len(p.attachments) for p in probes.PROBES)
    want = {("p_" if k == "kprobe" else "r_") + t for k, t in hooks if k in ("kprobe", "kretprobe")}
    assert want <= {k.rsplit("_bcc_", 1)[0] for k in e["kprobe_profile"]}, sorted(e["kprobe_profile"])
    assert e["backlog_dropped"] == 0 and e["drained_records"] == sum(written.values())


def test_no_event_was_lost_during_the_scenarios(session, rec):
    """Losses are counted, never silent: the running counters of the clock records (every 2 s) place them in
    time.  The scenarios must be loss-free; the bench afterwards floods the ring on purpose."""
    last = session["scenarios"][-1]["end_mono_ns"]
    clocks = [c for c in rec.of("clock") if "lost_total" in c]
    assert clocks, "no clock records with counters"
    after = [c for c in clocks if c["ts_ns"] >= last]
    upto = after[0] if after else rec.end
    print(f"lost by the end of the scenarios: {upto.get('lost_total')}; in the whole session: "
          f"{rec.end['lost_total']} {rec.end['lost']}; BPF counters then {upto.get('counters')}, at the end "
          f"{rec.end['counters']}")
    assert upto["lost_total"] == 0
    # every return probe found its entry (the bench's attach/detach toggles later leave some, counted)
    assert upto["counters"].get("ret_unpaired", 0) == 0


def test_srtt_rttvar_rto_follow_the_kernel_formula(rec):
    """The entry values, the sample and the return values of every rto_update obey RFC 9260 6.3.1 as Linux
    computes it (alpha 1/8, beta 1/4, integer shifts, rttvar 0 -> 1 jiffy, RTO clamped): the entry/return
    pairing is right and the return reads the post-update values."""
    ups = rec.of("rto_update")
    assert len(ups) > 50
    for u in ups:
        r, s0, v0 = u["rtt_jiffies"], u["srtt_before_jiffies"], u["rttvar_before_jiffies"]
        if s0 or v0:
            v = v0 - (v0 >> 2) + (abs(s0 - r) >> 2)
            s = s0 - (s0 >> 3) + (r >> 3)
        else:
            s, v = r, r >> 1
        v = v or 1
        rto = min(max(s + (v << 2), u["rto_min_jiffies"]), u["rto_max_jiffies"])
        assert (u["srtt_jiffies"], u["rttvar_jiffies"], u["rto_jiffies"]) == (s, v, rto), u


# ---- Done when: netem delay D => RTT samples and SRTT are 2D within the jiffy granularity --------------------
#
# What the lab can show, and what it cannot: under QEMU TCG (no KVM) every exchange takes 5-150 ms more than the
# netem delay, and the captures show the same extra time (the emulated stacks and netem's timers are slow), so
# "the kernel's sample is 2D" holds only for the exchanges the wire itself shows at 2D.  The tests therefore
# check (1) the kernel's DATA samples are exactly its own jiffies interval from the timed chunk's transmission to
# the SACK, and its HEARTBEAT samples exactly jiffies - sent_at of the echoed heartbeat; (2) each sample agrees
# with the wire RTT of the same exchange within a jiffy once the stack's own delays (measured: BPF timestamps vs
# capture timestamps) are added; (3) no sample is ever shorter than 2D, and where the wire RTT is within one
# jiffy of 2D, the kernel's sample is too.

ROLE = {"cli": {"capture": "client.pcapng", "me": "198.18.", "peer_side": "server"},
        "srv": {"capture": "server.pcapng", "me": "198.19.", "peer_side": "client"}}


def _rtt_rows(session_dir, session, rec, name):
    """One row per kernel DATA RTT sample: the timed chunk found, its kernel and wire timings."""
    import wirecap  # noqa: PLC0415 - this directory is on sys.path (pytest rootdir-less import)

    ev = window(session, rec, name)
    ns = netns_inodes(session_dir, name)
    off = rec.startup["clock"]["real_minus_mono_ns"]
    rows = []
    for role, r in ROLE.items():
        pk = wirecap.read(session_dir / name / r["capture"])
        sent = {}
        for ts, vtag, tsn in wirecap.data_chunks(pk, r["me"]):
            sent.setdefault((vtag, tsn), ts - off)          # first transmission, on the mono clock
        acks = [(ts - off, vtag, cum) for ts, vtag, cum in wirecap.sacks(pk, r["me"])]
        mine = [e for e in ev if e.get("netns") == ns[role]]
        egress = [e for e in mine if e["type"] == "egress"]
        sacks_k = [e for e in mine if e["type"] == "sack"]
        for u in (e for e in mine if e["type"] == "rto_update" and e["source"] == "data"):
            t_j = u["jiffies"] - u["rtt_jiffies"]
            sk = [s for s in sacks_k if s["asoc"] == u["asoc"] and s["ts_ns"] <= u["ts_ns"]]
            sack_k = sk[-1] if sk else None
            # the kernel computed rtt = jiffies - chunk->sent_at a moment before the return probe read jiffies:
            # the timed chunk was stamped at t_j, or one tick earlier when a tick fell in between (the first
            # such chunk sent); only when neither is there, up to JIFFY_SLACK ticks earlier, the latest: the
            # emulated guest's timer interrupts came late and in a burst (a busy host: 3 of 49 samples in one
            # run), the window the correlator searches too (rtt.JIFFY_SLACK)
            from sctpcorr.correlate.rtt import JIFFY_SLACK

            timed = [(e, c) for e in egress if e["asoc"] == u["asoc"] and e["path_addr"] == u["path_addr"]
                     for c in e["chunks"] if c["type"] == "DATA" and c["sent_count"] == 1
                     and t_j - JIFFY_SLACK <= c["sent_at_jiffies"] <= t_j
                     and sack_k is not None and ((sack_k["cum_tsn_ack"] - c["tsn"]) & 0xFFFFFFFF) < 0x80000000]
            cands = [ec for ec in timed if ec[1]["sent_at_jiffies"] in (t_j, t_j - 1)] or \
                sorted(timed, key=lambda ec: -ec[1]["sent_at_jiffies"])
            row = {"role": role, "path": u["path_addr"], "k": u["rtt_jiffies"], "found": bool(cands)}
            if cands:
                e, c = cands[0]
                w_send = sent.get((e["vtag"], c["tsn"]))
                w_ack = next((a for a in acks if w_send is not None and a[0] > w_send and a[1] == u["my_vtag"]
                              and ((a[2] - c["tsn"]) & 0xFFFFFFFF) < 0x80000000), None)
                row.update(tsn=c["tsn"], kernel_interval_ns=u["ts_ns"] - e["ts_ns"])
                if w_send is not None and w_ack is not None:
                    row.update(wire_ns=w_ack[0] - w_send,
                               stack_ns=(w_send - e["ts_ns"]) + (sack_k["ts_ns"] - w_ack[0]))
            rows.append(row)
    return rows


def test_data_rtt_samples_are_the_kernels_own_interval_and_match_the_wire(session_dir, session, rec):
    pytest.importorskip("dpkt")
    jiffy = 1_000_000_000 // rec.startup["hz"]
    rows = _rtt_rows(session_dir, session, rec, "baseline")
    found = [r for r in rows if r["found"]]
    print(f"baseline DATA samples: {len(rows)}, timed chunk identified for {len(found)}")
    # (1) the sample is jiffies(SACK processed) - jiffies(timed chunk packed), for a chunk that SACK acked
    assert len(rows) >= 20 and len(found) >= 0.95 * len(rows)
    # (2) the probe's own clock: egress -> sample interval == wire RTT + the stack's delays either side (egress
    #     probe -> capture, capture -> SACK tracepoint) + the SACK's processing up to the RTT update: never
    #     negative (that would be a wrong pairing), under a jiffy (0.1-1.7 ms measured under TCG) except when
    #     the emulator stalls the guest (one of 73 took 6.6 ms on a busy host)
    wired = [r for r in found if "wire_ns" in r]
    rest = [r["kernel_interval_ns"] - r["wire_ns"] - r["stack_ns"] for r in wired]
    same = [x for x in rest if 0 <= x < jiffy]
    assert len(wired) >= 0.9 * len(found) and min(rest) >= 0 and len(same) >= 0.95 * len(wired)
    # (3) the jiffies sample vs the same interval in ktime: the guest's jiffies advance unevenly under TCG
    #     (measured over every consecutive pair of events, printed), so this is reported, not asserted
    exact = [r for r in found if abs(r["k"] * jiffy - r["kernel_interval_ns"]) <= jiffy]
    pairs = [(a, b) for a, b in zip(rec.events, rec.events[1:]) if "jiffies" in a and "jiffies" in b
             and b["ts_ns"] >= a["ts_ns"]]
    uneven = sum(1 for a, b in pairs
                 if abs((b["jiffies"] - a["jiffies"]) - (b["ts_ns"] - a["ts_ns"]) / jiffy) >= 2)
    print(f"wire RTT + stack delays + SACK processing == kernel ktime interval: {len(same)}/{len(wired)}; jiffies sample "
          f"within a jiffy of that interval: {len(exact)}/{len(found)}; consecutive events whose jiffies and "
          f"ktime deltas differ by >= 2 jiffies: {uneven}/{len(pairs)}")


def test_heartbeat_rtt_samples_are_jiffies_minus_the_echoed_stamp(session_dir, session, rec):
    ev = window(session, rec, "baseline")
    ups = [e for e in ev if e["type"] == "rto_update" and e["source"] == "heartbeat"]
    sent = {(e["asoc"], e["hb_nonce"], e["sent_at_jiffies"]) for e in ev if e["type"] == "hb_sent"}
    acks = [e for e in ev if e["type"] == "hb_ack"]
    assert len(ups) >= 10
    for u in ups:
        a = [x for x in acks if x["asoc"] == u["asoc"] and x["hb_nonce"] == u["hb_nonce"]
             and x["ts_ns"] <= u["ts_ns"]][-1]
        # the kernel computed rtt = jiffies - sent_at a moment before the probe read jiffies: 0 or 1 tick later,
        # or a few when the emulated guest's timer ticks come late and in a burst (a busy host; the correlator
        # allows the same, rtt.JIFFY_SLACK)
        from sctpcorr.correlate.rtt import JIFFY_SLACK
        assert 0 <= u["jiffies"] - a["sent_at_jiffies"] - u["rtt_jiffies"] <= JIFFY_SLACK
        assert (u["asoc"], u["hb_nonce"], a["sent_at_jiffies"]) in sent   # the HEARTBEAT we saw leave
        assert a["path_addr"] == u["path_addr"]


def test_baseline_rtt_samples_and_srtt_are_2d_within_a_jiffy(session_dir, session, rec):
    """netem delays each direction by D; the kernel's RTT samples (jiffies, HZ=250: 4 ms) and its SRTT must be 2D
    within that granularity.  Under QEMU TCG an exchange also takes the emulator's own time (the captures show
    it: about 1 ms on an idle host, tens of ms on a busy one), so: where the capture shows the path at 2D, the
    kernel must too; where the capture shows more, the kernel must show what the capture shows, not 2D."""
    pytest.importorskip("dpkt")
    ev = window(session, rec, "baseline")
    ns = netns_inodes(session_dir, "baseline")
    sc = scenario_json(session_dir, "baseline")
    jiffy = 1_000_000_000 // rec.startup["hz"]
    two_d = {}
    for p, path in sc["topology"]["paths"].items():
        d_ns = int((sc["paths"][p]["c2s"]["delay_ms"] + sc["paths"][p]["s2c"]["delay_ms"]) * 1e6)
        two_d[("cli", path["server"])] = d_ns
        two_d[("srv", path["client"])] = d_ns
    rows = [r for r in _rtt_rows(session_dir, session, rec, "baseline") if "wire_ns" in r]
    for r in rows:
        d = two_d[(r["role"], r["path"])]
        assert r["wire_ns"] >= d and r["kernel_interval_ns"] >= d, r    # netem's delay is a floor
    report, checked = {}, 0
    for (role, addr), d_ns in two_d.items():
        ups = [e for e in ev if e["type"] == "rto_update" and e.get("netns") == ns[role] and e["path_addr"] == addr]
        if not ups:
            continue
        ks = [u["rtt_jiffies"] for u in ups]
        srtts = [u["srtt_jiffies"] for u in ups]
        wire = [r["wire_ns"] for r in rows if (r["role"], r["path"]) == (role, addr)]
        two = d_ns // jiffy
        report[f"{role}->{addr}"] = {"2D_jiffies": two, "samples": len(ks), "min": min(ks),
                                     "median": statistics.median(ks), "median_srtt": statistics.median(srtts),
                                     "wire_median_ms": round(statistics.median(wire) / 1e6, 2) if wire else None}
        assert min(ks) >= two - 1, (role, addr, ks)     # one jiffy below: the guest's jiffies run unevenly
        if len(wire) < 10:
            continue                                     # p2 carries heartbeats only: reported above
        checked += 1
        # the kernel's sample spans more than the wire: the stack's time either side of the capture point (egress
        # probe -> capture, capture -> SACK processed) is in it, and under a loaded TCG host that alone can be a
        # jiffy or two (CI saw wire within 2D + 1 jiffy, kernel 12 jiffies for 2D = 10).  So "undisturbed" is
        # judged on the kernel's own ktime interval for the timed chunk, which includes that time
        mine = [r for r in rows if (r["role"], r["path"]) == (role, addr)]
        report[f"{role}->{addr}"]["ktime_median_ms"] = round(statistics.median(r["kernel_interval_ns"]
                                                                               for r in mine) / 1e6, 2)
        if statistics.median(r["kernel_interval_ns"] for r in mine) <= d_ns + jiffy:
            assert two <= statistics.median(ks) <= two + 1, report[f"{role}->{addr}"]
            # SRTT: Linux updates it in whole jiffies with shifts, srtt += (rtt >> 3) - (srtt >> 3), so while
            # samples and SRTT both lie in the same 8-jiffy band (8..15 jiffies = 32-60 ms at HZ=250) it cannot
            # move at all: it stays at the first sample, whatever the later ones say (seen: 13 jiffies for 40
            # samples of 10-12; the formula test above checks every update).  The SRTT's granularity is that
            # band: it must lie in 2D's band and not below 2D by more than the jiffies' own unevenness
            band = (two >> 3) << 3
            assert all(max(two - 1, band) <= x <= band + 7 for x in srtts), report[f"{role}->{addr}"]
        else:
            # the emulator slowed this path down: the kernel's sample is then what its own clock saw, the wire RTT
            # plus the stack's time either side (egress probe -> capture, capture -> SACK processed), which under a
            # loaded TCG host is itself milliseconds (CI saw wire 47.9 ms, kernel 13 jiffies = 52 ms).  So, per
            # DATA sample: never less than the wire showed (a jiffy below for rounding), and within a jiffy of the
            # kernel's own ktime interval for the same chunk (median over samples: the guest's jiffies run unevenly)
            below = [r["k"] * jiffy - r["wire_ns"] for r in mine]
            off_k = [r["k"] * jiffy - r["kernel_interval_ns"] for r in mine]
            report[f"{role}->{addr}"].update(k_minus_wire_ms=round(statistics.median(below) / 1e6, 2),
                                             k_minus_ktime_ms=round(statistics.median(off_k) / 1e6, 2))
            assert statistics.median(below) >= -jiffy, report[f"{role}->{addr}"]
            assert abs(statistics.median(off_k)) <= jiffy, report[f"{role}->{addr}"]
    print(f"baseline RTT samples and SRTT vs 2D (jiffies): {report}")
    assert len(report) == 4, "samples on every path from both ends (DATA or HEARTBEAT)"
    assert checked == 2, "DATA RTT samples on p1 from both ends"
    # exchanges the emulator did not slow down: the kernel's own ktime interval (transmission of the timed chunk
    # to the SACK's processing) is within one jiffy of 2D; their jiffies sample must then be 2D within a jiffy
    clean = [r for r in rows if r["kernel_interval_ns"] <= two_d[(r["role"], r["path"])] + jiffy]
    near = [r for r in clean
            if two_d[(r["role"], r["path"])] // jiffy <= r["k"] <= two_d[(r["role"], r["path"])] // jiffy + 1]
    print(f"exchanges that took 2D..2D+1 jiffy in the kernel's ktime: {len(clean)} of {len(rows)}; jiffies sample "
          f"2D/jiffy or 2D/jiffy+1 for {len(near)} of them")
    # judged on ten undisturbed exchanges or more: on a busy host the emulator slows nearly every exchange (3 of
    # 54 undisturbed in one run, 1 of them in band), and the per-sample checks above still hold the rest to the
    # kernel's own clock
    if len(clean) >= 10:
        assert len(near) >= 0.9 * len(clean)
    else:
        print(f"only {len(clean)} undisturbed exchanges: too few to compare with 2D (a busy host)")


# ---- Done when: lossy => retransmission events match the capture ---------------------------------------------

def _capture_data_chunks(pcap: Path, src_prefix: str) -> list[tuple[int, int]]:
    """(vtag, TSN) of every DATA chunk sent from an address starting with src_prefix, in capture order."""
    import dpkt

    out = []
    with open(pcap, "rb") as f:
        for _ts, buf in dpkt.pcapng.Reader(f):
            try:
                eth = dpkt.ethernet.Ethernet(buf)
            except dpkt.UnpackError:
                continue
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP) or ip.p != 132:
                continue
            src = ".".join(str(b) for b in ip.src)
            if not src.startswith(src_prefix):
                continue
            raw = bytes(ip.data)
            vtag = int.from_bytes(raw[4:8], "big")
            off = 12
            while off + 4 <= len(raw):
                ctype, _flags, clen = raw[off], raw[off + 1], int.from_bytes(raw[off + 2:off + 4], "big")
                if clen < 4:
                    break
                if ctype == 0 and off + 8 <= len(raw):
                    out.append((vtag, int.from_bytes(raw[off + 4:off + 8], "big")))
                off += (clen + 3) & ~3
    return out


def test_lossy_retransmission_events_match_the_capture(session_dir, session, rec):
    pytest.importorskip("dpkt")
    ev = window(session, rec, "lossy")
    ns = netns_inodes(session_dir, "lossy")
    wire = _capture_data_chunks(session_dir / "lossy" / "client.pcapng", "198.18.")
    assert wire, "no DATA in the client capture"
    seen: set[tuple[int, int]] = set()
    wire_rtx = 0
    for key in wire:
        wire_rtx += key in seen
        seen.add(key)
    egress = [e for e in ev if e["type"] == "egress" and e["netns"] == ns["cli"]]
    k_chunks = [(e["vtag"], c["tsn"], c["rtx_reason"]) for e in egress for c in e["chunks"] if c["type"] == "DATA"]
    k_rtx = [c for c in k_chunks if c[2]]
    reasons = {r: sum(1 for c in k_rtx if c[2] == r) for r in {c[2] for c in k_rtx}}
    print(f"lossy: wire DATA {len(wire)} ({wire_rtx} retransmitted); kernel egress DATA {len(k_chunks)} "
          f"({len(k_rtx)} retransmitted, by reason {reasons})")
    assert wire_rtx > 5, "the lossy scenario produced too few retransmissions to compare"
    assert not any(e["chunks_truncated"] for e in egress)
    assert len(k_chunks) == len(wire)
    assert sorted((v, t) for v, t, _r in k_chunks) == sorted(wire)
    assert len(k_rtx) == wire_rtx
    assert "unknown" not in reasons


# ---- Done when: failover => the path state change ------------------------------------------------------------

def test_failover_marks_the_dead_path_and_matches_the_notifications(session_dir, session, rec):
    ev = window(session, rec, "failover")
    ns = netns_inodes(session_dir, "failover")
    sc = scenario_json(session_dir, "failover")
    dead = sc["topology"]["paths"]["p1"]["server"]
    changes = [e for e in ev if e["type"] == "path_state" and e["netns"] == ns["cli"] and e["path_addr"] == dead]
    states = [(e["state_before"], e["state_after"], e["command"]) for e in changes]
    print(f"failover: client path {dead}: {states}")
    assert any(s[1] == "INACTIVE" for s in states), states
    down = next(e for e in changes if e["state_after"] == "INACTIVE")
    assert down["sn_error"] == "FAILED_THRESHOLD" and not down["active"]
    # the T3 expiries and heartbeats that led there, on that path
    t3 = [e for e in ev if e["type"] == "t3_expire" and e["netns"] == ns["cli"] and e["path_addr"] == dead]
    assert t3 and t3[0]["ts_ns"] < down["ts_ns"]
    # the socket API saw the same: SCTP_PEER_ADDR_CHANGE ADDR_UNREACHABLE for that address
    wl, _ = _read_jsonl(session_dir / "failover" / "workload" / "client.jsonl")
    notes = [r for r in wl if r.get("type") == "paddr" and r.get("addr") == dead]
    assert any("UNREACHABLE" in str(r.get("state")) for r in notes), notes
    # and DATA moved to p2 afterwards
    alt = sc["topology"]["paths"]["p2"]["server"]
    later = [e for e in ev if e["type"] == "egress" and e["netns"] == ns["cli"] and e["ts_ns"] > down["ts_ns"]
             and any(c["type"] == "DATA" for c in e["chunks"])]
    assert later and all(e["path_addr"] == alt for e in later if not e["retransmitted_tsns"])


# ---- association changes and the receive window: derived events against the application and the wire --------

def test_assoc_notifications_are_what_the_application_received(session_dir, session, rec):
    """assoc_change (the kernel building SCTP_ASSOC_CHANGE) vs the notification the lab workload read from its
    socket: same association id and stream counts, built before the application got it.  The derived state
    sequence of the baseline client follows the handshake and ends CLOSED."""
    checked = 0
    for name in ("baseline", "lossy", "failover"):
        ev = window(session, rec, name)
        ns = netns_inodes(session_dir, name)
        for role, side in (("cli", "client"), ("srv", "server")):
            wl, _ = _read_jsonl(session_dir / name / "workload" / f"{side}.jsonl")
            app = [r for r in wl if r.get("type") == "assoc" and r.get("event") == "COMM_UP"]
            k = [e for e in ev if e["type"] == "assoc_change" and e.get("sac_state") == "COMM_UP"
                 and e["netns"] == ns[role]]
            assert len(app) == len(k) >= 1, (name, side, app, k)
            for a, e in zip(app, k):
                assert (e["assoc_id"], e["outbound_streams"], e["inbound_streams"]) == (
                    a["assoc_id"], a["outbound_streams"], a["inbound_streams"]), (name, side)
                assert 0 < a["mono_ns"] - e["ts_ns"] < 2_000_000_000, (name, side, a["mono_ns"] - e["ts_ns"])
                checked += 1
    assert checked >= 6
    ev = window(session, rec, "baseline")
    ns = netns_inodes(session_dir, "baseline")
    seq = [(e["state_before"], e["state_after"]) for e in ev if e["type"] == "assoc_state" and e["netns"] == ns["cli"]]
    print(f"baseline client states (derived): {seq}")
    assert seq[:3] == [("CLOSED", "COOKIE_WAIT"), ("COOKIE_WAIT", "COOKIE_ECHOED"), ("COOKIE_ECHOED", "ESTABLISHED")]
    assert seq[-1][1] == "CLOSED"


def test_the_window_each_sack_advertised_is_the_kernels(session_dir, session, rec):
    """Every egress event carries asoc->a_rwnd, which sctp_make_sack sets to the window it writes into the SACK:
    each SACK that left the stack must be on the wire with that window (same vtag and cumulative TSN ack, within
    50 ms after the probe).  A SACK on the wire that no egress event announced was a probe hit the kernel skipped:
    there may be no more of those than the misses the recording reports for the egress probe."""
    pytest.importorskip("dpkt")
    import wirecap  # noqa: PLC0415

    off = rec.startup["clock"]["real_minus_mono_ns"]
    total = matched = unseen = 0
    for name in ("baseline", "lossy"):
        ev = window(session, rec, name)
        ns = netns_inodes(session_dir, name)
        for role, r in ROLE.items():
            wire = [(ts - off, vtag, cum, a) for ts, vtag, cum, a in
                    wirecap.sacks_sent(wirecap.read(session_dir / name / r["capture"]), r["me"])]
            used = [False] * len(wire)
            for e in ev:
                if e["type"] != "egress" or e["netns"] != ns[role]:
                    continue
                for c in e["chunks"]:
                    if c["type"] != "SACK":
                        continue
                    total += 1
                    k = next((i for i, (ts, vtag, cum, a) in enumerate(wire) if not used[i] and vtag == e["vtag"]
                              and cum == c["cum_tsn_ack"] and 0 <= ts - e["ts_ns"] < 50_000_000), None)
                    if k is not None:
                        used[k] = True
                        matched += 1
                        assert wire[k][3] == e["a_rwnd"], (name, role, c["cum_tsn_ack"], wire[k][3], e["a_rwnd"])
            unseen += used.count(False)
    # skipped by the kernel: a kprobe hit while another probe's handler ran on that CPU (kprobe_profile misses),
    # or a BPF run while another BPF program ran there, or the same trampoline program was running on that CPU
    # (a softirq sending a SACK inside the egress program: recursion_misses)
    rm = rec.end["recursion_misses"]
    skipped = rm.get("kp_packet_transmit", 0) + rm.get("fe_packet_transmit", 0) + sum(
        v["misses"] for k, v in rec.end["kprobe_profile"].items() if k.startswith("p_sctp_packet_transmit_bcc_"))
    print(f"SACKs that left the stack: {total}, on the wire with the same window: {matched}; wire SACKs without an "
          f"egress event: {unseen} (egress runs the kernel skipped in the whole session: {skipped})")
    assert total >= 50 and matched == total
    assert unseen <= skipped


def _read_jsonl(p: Path) -> tuple[list[dict], int]:
    out, bad = [], 0
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            bad += 1
    return out, bad


# ---- Done when: the diag fallback agrees with the probe events of the same moment ---------------------------

def test_diag_srtt_rto_cwnd_agree_with_probe_events(session_dir, session, rec):
    """For every sock_diag record taken while no probe event of that path happened (the dump's own window), the
    primary path's SRTT, RTO and cwnd equal the latest values the probe events carried before it."""
    hz = rec.startup["hz"]
    stats = {"srtt": [0, 0], "rto": [0, 0], "cwnd": [0, 0]}
    for name in ("baseline", "lossy", "failover"):
        ev = window(session, rec, name)
        diag = recorder.load(session_dir / name / "kernel" / "diag.jsonl")
        assert diag.startup["source"] == "diag" and diag.end is not None
        for d in diag.of("diag"):
            if d["state"] != "ESTABLISHED":
                continue
            key = (d["netns"], d["my_vtag"], d["peer_vtag"])
            mine = [e for e in ev if (e.get("netns"), e.get("my_vtag"), e.get("peer_vtag")) == key
                    and e.get("path_addr") == d["path_addr"]]
            if any(d["ts_ns"] <= e["ts_ns"] <= d["ts_end_ns"] for e in mine):
                continue     # something changed while the kernel answered the dump: ambiguous
            before = [e for e in mine if e["ts_ns"] < d["ts_ns"]]
            srtt = [e for e in before if e["type"] in ("rto_update", "path")]
            if srtt:
                stats["srtt"][0] += 1
                stats["srtt"][1] += d["srtt_jiffies"] == srtt[-1]["srtt_jiffies"]
            rto = [e for e in before if "rto_jiffies" in e and e["type"] != "t3_expire"]
            t3 = [e for e in before if e["type"] == "t3_expire"]
            # after a T3 expiry the kernel doubles the RTO (not probed: a .constprop clone) until the next event
            if rto and not (t3 and t3[-1]["ts_ns"] > rto[-1]["ts_ns"]):
                stats["rto"][0] += 1
                stats["rto"][1] += d["rto_ms"] == rto[-1]["rto_jiffies"] * 1000 // hz
            cw = [e for e in before if e["type"] in ("path", "cwnd")]
            if cw:
                stats["cwnd"][0] += 1
                stats["cwnd"][1] += d["cwnd"] == (cw[-1]["cwnd"] if cw[-1]["type"] == "path"
                                                  else cw[-1]["cwnd_after"])
    print(f"diag vs probe [compared, equal]: {stats}")
    for k, (n, eq) in stats.items():
        assert n >= 20, f"too few comparable {k} samples: {n}"
        assert eq / n >= 0.95, f"{k}: {eq} of {n} agree"


PATH_CHANGE = ("cwnd", "ssthresh", "pathmtu", "srtt_jiffies", "rttvar_jiffies", "rto_jiffies", "error_count",
               "path_state", "primary", "active")


def test_path_events_are_written_when_the_path_changed(session, rec):
    """sctp_probe_path runs for every transport at every SACK; an event is written only when the path's cwnd,
    ssthresh, MTU, SRTT/RTTVAR/RTO, error count, state or role changed since its last one (its flight size is
    the value at that moment).  On the multi-homed scenarios' associations the idle path's hits are skipped and
    counted."""
    last = session["scenarios"][-1]["end_mono_ns"]
    paths = [e for e in rec.of("path") if e["ts_ns"] <= last]
    by_transport: dict = collections.defaultdict(list)
    for e in paths:
        by_transport[(e["transport"], e["my_vtag"])].append(e)
    same = sum(1 for evs in by_transport.values() for a, b in zip(evs, evs[1:])
               if all(a.get(k) == b.get(k) for k in PATH_CHANGE))
    sacks = [e for e in rec.of("sack") if e["ts_ns"] <= last]
    skipped = rec.end["counters"].get("path_unchanged", 0)
    print(f"path events {len(paths)} over {len(by_transport)} transports, sack events {len(sacks)}; consecutive "
          f"events of a transport with nothing changed: {same}; hits skipped in the whole session: {skipped}")
    assert paths and sacks and same == 0
    assert skipped > 0


def test_with_diag_puts_both_views_in_one_recording(session, rec):
    """--with-diag: the BPF probe also polls sock_diag (root namespace: the loopback association) into the same
    file; the diag records name the association by the same vtags as the BPF events."""
    lb = session.get("loopback")
    if not lb:
        pytest.skip("this session ran no loopback association")
    assert "error" not in lb, lb.get("error")
    assert rec.startup["capabilities"]["diag"] is True
    inside = [e for e in rec.events if lb["start_mono_ns"] <= e.get("ts_ns", 0) <= lb["end_mono_ns"] + 10**9]
    ds = [e for e in inside if e["type"] == "diag" and 36412 in (e["lport"], e["pport"])]
    bpf = {(e["my_vtag"], e["peer_vtag"]) for e in inside if e["type"] == "rto_update"}
    print(f"loopback: {len(ds)} diag records, BPF vtag pairs {bpf}")
    assert len(ds) >= 2
    assert {(d["my_vtag"], d["peer_vtag"]) for d in ds if d["state"] == "ESTABLISHED"} <= bpf


# ---- filters, in the kernel: the filtered recorders keep exactly what they should -----------------------------

def _identity(e: dict) -> str:
    """Two recorders see the same kernel event with different BPF timestamps (their programs run one after the
    other: about 1 ms apart under TCG, so now and then a jiffy apart too) and nothing else different."""
    skip = ("ts_ns", "jiffies")
    if e["type"] == "hb_ack":
        skip += ("rtt_jiffies", "rtt_ns")     # jiffies - sent_at, computed by each program
    if e["type"] == "t3_expire":
        skip += ("deferred",)                 # sock_owned_by_user() at that instant: another CPU may take the lock
        skip += ("rto_jiffies", "rto_ns")     # the transport's RTO at that instant: a SACK on the other CPU may
        #                                       update it between the two programs (seen once: 25 vs 38 jiffies)
    if e["type"] == "rto_update":
        skip += ("source",)                   # data or heartbeat, from each recorder's own pairing state when a
        #                                       SACK and a HEARTBEAT-ACK are processed at once on two CPUs (seen once,
        #                                       with `live --diag` loading the guest beside the probes)
    return json.dumps({k: v for k, v in e.items() if k not in skip}, sort_keys=True)


def _filtered(session_dir: Path, session: dict, name: str) -> recorder.Recording:
    p = session_dir / f"{name}.jsonl"
    if not p.exists():
        pytest.skip(f"this session ran without {name}")
    f = recorder.load(p)
    assert f.startup is not None and f.end is not None, f"{name}: cut short"
    assert f.end["lost_total"] == 0 and f.end["decode_errors"] == 0 and f.end["backlog_dropped"] == 0
    return f


def _bpf_events(r: recorder.Recording) -> list[dict]:
    """What the BPF side emitted: derived events depend on which events a recording saw (a filtered one sees
    fewer samples), so the filter tests compare the kernel's events only."""
    return [e for e in r.events if e.get("type") not in ("clock", "toggle", "diag") and not e.get("derived")]


def test_addr_filter_keeps_exactly_the_associations_with_that_peer(session_dir, session, rec):
    f = _filtered(session_dir, session, "probe-addr")
    addr = session["filters"]["probe-addr"]["addr"]
    assert f.startup["filters"]["addr"] == addr
    lo, hi = session["loopback"]["start_mono_ns"], session["probe-addr_stopped_mono_ns"]
    kinds = probes.level_events(f.startup["level"])         # it records at --level sacks: those types only
    main = [e for e in _bpf_events(rec) if lo <= e["ts_ns"] <= hi and e["type"] in kinds]
    key = lambda e: (e["asoc"], e["my_vtag"], e["peer_vtag"])  # noqa: E731
    with_peer = {key(e) for e in main if e.get("path_addr") == addr}
    want = collections.Counter(_identity(e) for e in main if key(e) in with_peer)
    got = collections.Counter(_identity(e) for e in _bpf_events(f))
    print(f"--addr {addr}: {len(with_peer)} associations, {sum(want.values())} of {len(main)} main events; "
          f"filtered recording {sum(got.values())} events, in-kernel 'filtered' counter "
          f"{f.end['counters']['filtered']}; differences {list((got - want).items())[:2]} / "
          f"{list((want - got).items())[:2]}")
    assert len(with_peer) >= len(session["scenarios"])      # the client end of each scenario's association
    assert got == want
    assert f.end["counters"]["filtered"] > 0


def test_pid_filter_follows_the_sockets_of_one_process(session_dir, session, rec):
    f = _filtered(session_dir, session, "probe-pid")
    flt = session["filters"]["probe-pid"]
    assert f.startup["filters"]["pid"] == flt["pid"] and f.startup["filters"]["port"] == flt["port"]
    lb = session["loopback"]
    assert "error" not in lb, lb
    ev = _bpf_events(f)
    assert ev and all(flt["port"] in (e["lport"], e["pport"]) for e in ev)
    kinds = probes.level_events(f.startup["level"])         # it records at --level decisions: those types only
    main = [e for e in _bpf_events(rec) if flt["port"] in (e["lport"], e["pport"]) and e["type"] in kinds
            and lb["start_mono_ns"] <= e["ts_ns"] <= session["probe-pid_stopped_mono_ns"]]
    got = collections.Counter(_identity(e) for e in ev)
    assert not got - collections.Counter(_identity(e) for e in main), "events the main recorder did not see"
    # the accepted socket is new: its inode joins the filter at the next refresh (--interval 0.5 s); from
    # 2 s after the connect on, every event of the process's associations is in the filtered recording
    later = collections.Counter(_identity(e) for e in main if e["ts_ns"] >= lb["start_mono_ns"] + 2_000_000_000)
    missing = later - got
    both_ends = {(e["my_vtag"], e["peer_vtag"]) for e in ev if e["peer_vtag"]}
    print(f"--pid {flt['pid']} --port {flt['port']}: {len(ev)} events, {len(both_ends)} association ends; "
          f"main recording after the refresh {sum(later.values())}, missing from the filtered one "
          f"{sum(missing.values())}; in-kernel 'filtered' {f.end['counters']['filtered']}")
    assert len(both_ends) == 2 and later and not missing
    assert f.end["counters"]["filtered"] > 0        # the lab scenarios' events were dropped in the kernel


# ---- levels: each recorder attached its level's probes, and its events join the wire as the correlator needs -----

LEVEL_OF = {"probe": "packets", "probe-addr": "sacks", "probe-pid": "decisions", "probe-decisions": "decisions"}


@pytest.mark.parametrize("name", sorted(LEVEL_OF))
def test_each_recorder_attached_exactly_its_levels_probes(session_dir, session, rec, name):
    r = rec if name == "probe" else _filtered(session_dir, session, name)
    level = LEVEL_OF[name]
    want = {p.name for p in probes.select(level=level)}
    st = r.startup
    assert st["level"] == level
    assert {p["probe"] for p in st["probes"] if p["attached"]} == want, st["probes"]
    assert {m["probe"] for m in st["missing"]} == {p.name for p in probes.PROBES} - want
    assert {t for t, on in st["capabilities"].items() if on and t != "diag"} == probes.level_events(level)
    got = collections.Counter(e["type"] for e in _bpf_events(r) if not e.get("derived"))
    print(f"{name} (--level {level}): {dict(got)}")
    assert set(got) <= probes.level_events(level) and got


def _cut(src: recorder.Recording, lo: int, hi: int, dst: Path) -> Path:
    """The startup record, the events of [lo, hi] and the end record of a recording (a scenario's share of a
    session-long one), as a file the correlator reads."""
    lines = [src.startup] + [e for e in src.events if lo <= e.get("ts_ns", 0) <= hi] + [src.end]
    dst.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return dst


PER_LEVEL = ("tsn_coverage", "retransmissions", "rtt_samples", "rto", "flight", "peer_rwnd", "local_rwnd",
             "path_state", "assoc_state")


@pytest.mark.parametrize("scenario", SCENARIOS.split(","))
def test_each_levels_events_join_the_wire_as_the_correlator_needs(session_dir, session, rec, tmp_path, scenario):
    """The same scenario's two captures correlated with the recording of each level: the checks a level serves
    give the verdicts they give with everything recorded (the main recorder), the rest are not checkable and
    say which level they need; no level makes a disagreement out of events it did not record."""
    pytest.importorskip("dpkt")
    from sctpcorr import correlate_io
    from sctpcorr.correlate.checks import needed_level

    sc = next((s for s in session["scenarios"] if s["name"] == scenario), None)
    if sc is None:
        pytest.skip(f"scenario {scenario} did not run")
    lo, hi = sc["start_mono_ns"], sc["end_mono_ns"]
    caps = [f"{session_dir / scenario / 'client.pcapng'}@client", f"{session_dir / scenario / 'server.pcapng'}@server"]

    def checks(r: recorder.Recording, name: str) -> dict:
        cx, _ = correlate_io.run(captures=caps, kernels=[str(_cut(r, lo, hi, tmp_path / f"{name}.jsonl"))])
        return {(c.name, c.assoc, c.direction): c for c in cx.checks if c.name in PER_LEVEL}

    full = checks(rec, "probe")
    # (the full recording's own verdicts are other tests' business: a lossy run now and then has a retransmission
    # the kernel calls t3 and the wire fast; what matters here is that a cheaper level says the same or "not
    # checkable")
    assert full
    for name in ("probe-decisions", "probe-addr"):
        level = LEVEL_OF[name]
        got = checks(_filtered(session_dir, session, name), name)
        served = {k: c for k, c in got.items() if probes.LEVELS.index(needed_level(k[0])) <=
                  probes.LEVELS.index(level)}
        print(f"{scenario} at --level {level} ({name}): " + "; ".join(
            f"{k[0]} {k[2]} {c.verdict}" for k, c in sorted(got.items(), key=str)))
        assert served, f"{name}: no check served at --level {level}"
        for k, c in got.items():
            if k in served:
                if name == "probe-decisions":       # both ends recorded, as in the main recording
                    assert k in full and c.verdict == full[k].verdict, (c.as_dict(), full.get(k))
                else:       # --addr: the client's end only; never a disagreement the full recording does not have
                    assert c.verdict != "disagree" or (k in full and full[k].verdict == "disagree"), c.as_dict()
            else:
                assert c.verdict == "not checkable" and f"--level {needed_level(k[0])}" in c.sentence, c.as_dict()
        if name == "probe-decisions":           # every check the full recording makes at this level, made again
            assert {k for k in full if k[0] in {k2[0] for k2 in served}} <= set(got)


# ---- bench: probe cost per level, by CPU per message -------------------------------------------------------------

def test_bench_reports_cpu_per_message_and_throughput_per_level(session):
    b = session.get("bench")
    if not b:
        pytest.skip("the session ran without the bench")
    assert "error" not in b, b.get("error")
    r = b["result"]
    for lv, x in r["levels"].items():
        print(f"bench {lv}: {x['pairs']} pairs; CPU/msg cost {x['cpu_cost_pct']} % {x['cpu_cost_pct_ci90']} "
              f"(target < {x['target_cpu_pct']} %: {x['verdict']}); throughput cost {x['throughput_cost_pct']} % "
              f"{x['throughput_cost_pct_ci90']}; BPF {x['bpf_ns_per_msg']} ns/msg; programs "
              f"{ {n: v['ns_per_msg'] for n, v in x['programs'].items()} }")
    assert set(r["levels"]) == set(probes.LEVELS)
    assert all(x["bytes_per_s"] > 0 and x["bytes_received"] == x["bytes_sent"] and x["messages"] > 0
               for x in r["rounds"])
    # the toggles were complete before each round: no BPF time in any "off" round, some in every "on" round
    assert all(x["bpf_run_s"] == 0 for x in r["rounds"] if x["probes"] == "off")
    assert all(x["bpf_run_s"] > 0 for x in r["rounds"] if x["probes"] == "on")
    for lv, x in r["levels"].items():
        assert x["pairs"] >= 6 and x["cpu_cost_pct_ci90"] and x["verdict"] in ("met", "not met", "unresolved")
        # each level ran its own programs and no others: the per-SACK tracepoints and the egress kprobe only
        # from the level that adds them
        progs = set(x["programs"])
        egress = {a.fn for a in probes.select(["egress"])[0].attachments} | {"fe_packet_transmit"}
        assert ("rtp_sctp_probe" in progs) == (lv != "decisions"), progs
        assert bool(progs & egress) == (lv == "packets"), progs
    # a cheaper level costs less BPF time per message
    ns = [r["levels"][lv]["bpf_ns_per_msg"] for lv in probes.LEVELS]
    assert ns[0] < ns[1] < ns[2], ns


@pytest.mark.xfail(strict=True, reason="issue #11: the per-level targets by CPU per message (decisions < 1 %, "
                   "sacks < 3 %, packets < 5 %) are not all resolved as met under TCG (docs/probe.md, OVERHEAD)")
def test_bench_every_level_meets_its_target(session):
    b = session.get("bench")
    if not b or "result" not in b:
        pytest.skip("the session ran without the bench")
    assert {lv: x["verdict"] for lv, x in b["result"]["levels"].items()} == {lv: "met" for lv in probes.LEVELS}


# ---- issue #9: `sctpcorr live --diag` beside a real association ---------------------------------------------------

def test_live_diag_shows_kernel_and_wire_values_with_verdicts_for_the_same_association(session_dir, session):
    """During baseline, `sctpcorr live -i c1 -i c2 --diag` ran in the client's namespace (guest_session.py): it
    captured the client's traffic, read the kernel's sctp_info once a second, joined the two by tags and judged
    them.  Its final JSON must name the lab's association with the kernel's values beside the wire's."""
    kdir = session_dir / "baseline" / "kernel"
    out = (kdir / "live.out").read_text() if (kdir / "live.out").exists() else "(no live.out)"
    assert (kdir / "live.json").exists(), out
    doc = json.loads((kdir / "live.json").read_text())
    assert doc["live"]["stopped_by"] == "SIGTERM" and doc["live"]["kernel_dropped"] == 0, doc["live"]
    kern = doc["live"]["kernel"]
    assert kern["source"] == "sock_diag" and kern["dump_errors"] == 0 and kern["hz"] == 250
    # the lab's own capture of the client (same namespace, same interfaces) names the same association
    lab_cap = session_dir / "baseline" / "client.pcapng"
    import subprocess

    r = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--json", str(lab_cap)], capture_output=True,
                       text=True, cwd=ROOT)
    lab = json.loads(r.stdout)
    assert len(lab["associations"]) == 1 and len(kern["associations"]) == 1, kern
    j = kern["associations"][0]
    wa = next(a for a in doc["associations"] if a["id"] == j["assoc"])
    assert sorted(wa["vtags"]) == sorted(lab["associations"][0]["vtags"])
    assert j["side"] == "A"                                  # the client sent the INIT
    assert wa["directions"]["A>B"]["data_chunks"] == lab["associations"][0]["directions"]["A>B"]["data_chunks"]
    k = j["kernel"]
    assert k["srtt_ns"] and k["rto_ns"] and k["cwnd"] > 0 and k["path_addr"] == "198.19.1.1"
    v = {c["check"]: c for c in j["checks"]}
    print("live --diag in the guest:", json.dumps({n: (c["verdict"], c["sentence"]) for n, c in v.items()}))
    for n in ("packets_out", "packets_in", "retransmissions"):
        assert v[n]["verdict"] == "agree", v[n]
        assert v[n]["numbers"]["kernel"] > 0 or n == "retransmissions"
    assert v["state"]["verdict"] == "agree", v["state"]
    # SRTT: judged (100 DATA samples on p1); the kernel's may only be higher than the wire's (its own stack time,
    # stretched by the emulator), never lower by more than the tolerance
    assert v["srtt"]["verdict"] in ("agree", "disagree"), v["srtt"]
    if v["srtt"]["verdict"] == "disagree":
        assert v["srtt"]["numbers"]["kernel_ns"] > v["srtt"]["numbers"]["wire_ns"], v["srtt"]
    # what live wrote is what it analysed (live does not fold ended associations out of memory: nor does this)
    r = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--json", "--linger", "0", "--idle-timeout", "0",
                        str(kdir / "live.pcapng")],
                       capture_output=True, text=True, cwd=ROOT)
    again = json.loads(r.stdout)
    assert again["associations"] == doc["associations"] and again["capture"] == doc["capture"]


# ---- issue #9: `sctpcorr live --probes` beside a real association -------------------------------------------------

def test_live_probes_shows_kernel_and_wire_values_with_verdicts_for_the_same_association(session_dir, session):
    """`sctpcorr live --follow baseline/client.pcapng --probes` ran from the root namespace from the session's
    start to the end of baseline (guest_session.py): its own BPF probe, the lab's client capture as it was
    written, joined and judged while it ran.  It must name the lab's association with the kernel's values beside
    the wire's and the correlator's verdicts, during the run and at the end, and those verdicts must be what the
    batch correlator says of the same capture and recording."""
    out = (session_dir / "live-probes.out").read_text() if (session_dir / "live-probes.out").exists() else ""
    assert not session.get("live-probes_error"), session.get("live-probes_error")
    assert (session_dir / "live-probes.json").exists(), out[-3000:]
    doc = json.loads((session_dir / "live-probes.json").read_text())
    assert doc["live"]["stopped_by"] == "SIGTERM", doc["live"]
    kern = doc["live"]["kernel"]
    assert kern["source"] == "probe" and kern["probe_exit"] == 0 and kern["bad_lines"] == 0, kern["probe_exit"]
    assert kern["kernel_records"] > 100
    # the lab's association, as the lab's own capture names it
    lab_cap = session_dir / "baseline" / "client.pcapng"
    r = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--json", str(lab_cap)], capture_output=True,
                       text=True, cwd=ROOT)
    lab = json.loads(r.stdout)
    assert doc["associations"] == lab["associations"]                 # live read the whole capture as it grew
    (j,) = kern["associations"]
    wa = next(a for a in doc["associations"] if a["id"] == j["assoc"])
    assert j["side"] == "A" and j["source"] == "probe"                 # the client: the capture was taken there
    k = j["kernel"]
    assert k["srtt_ns"] and k["rto_ns"] and k["cwnd"] > 0 and k["path_addr"] == "198.19.1.1", k
    assert k["counters"]["rtt_updates"] > 0 and j["wire"]["rtt_samples"] > 0
    v = {(c["check"], c["direction"]): c for c in j["checks"]}
    print("live --probes in the guest:", json.dumps({f"{n} {d}": (c["verdict"], c["sentence"])
                                                      for (n, d), c in v.items()}))
    cov = v[("tsn_coverage", "A>B")]
    assert cov["verdict"] == "agree", cov
    assert cov["numbers"]["kernel_sent"] == wa["directions"]["A>B"]["data_chunks"] > 0, cov
    for name in ("retransmissions", "rtt_samples", "rto"):
        assert v[(name, "A>B")]["verdict"] in ("agree", "explained"), v[(name, "A>B")]
    assert "disagree" not in {c["verdict"] for c in j["checks"]}
    # while it ran, not only at the end: the plain lines carried the join and its verdict
    assert re.search(r"kernel: 1 joined \((agree|explained) 1\)", out), out[-3000:]
    # the same verdicts as the batch correlator on the same two files
    from sctpcorr.correlate import correlate
    from sctpcorr.correlate_io import load_capture, load_kernel

    batch = correlate([load_capture(str(lab_cap))], [load_kernel(str(session_dir / "live-probes.jsonl"))],
                      same_host={(0, 0)})
    ba = next(a for a in batch.assocs if a.wire.get(0) == j["assoc"])
    want = {(c.name, c.direction): c.verdict for c in batch.checks if c.assoc == ba.id}
    assert {key: c["verdict"] for key, c in v.items()} == want
