"""The live join (sctpcorr.correlate.snapshots) on the lab bundles: the lab's own sock_diag snapshots of the
client (snapshots/client.jsonl, one a second) against the wire engine's report of the client's capture up to the
moment of each snapshot, i.e. what `sctpcorr live --diag` computes once a tick, replayed."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sctpcorr.correlate.model import AGREE, DISAGREE
from sctpcorr.correlate.snapshots import KernelAssoc, SnapshotJoin

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "pcaps" / "lab"
STATES = {0: "CLOSED", 1: "COOKIE-WAIT", 2: "COOKIE-ECHOED", 3: "ESTABLISHED", 4: "SHUTDOWN-PENDING",
          5: "SHUTDOWN-SENT", 6: "SHUTDOWN-RECEIVED", 7: "SHUTDOWN-ACK-SENT"}


def _lines(path: Path) -> list[dict]:
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def _kernel(sock: dict, hz: int) -> KernelAssoc:
    """The lab's snapshot record (sctpcorr.lab.sockdiag, raw sctp_info names) as the join takes it."""
    i = sock["info"]
    return KernelAssoc(my_vtag=i["tag"], peer_vtag=i["peer_tag"], lport=sock["sport"], pport=sock["dport"],
                       state=STATES[i["state"]], path_addr=i["p_address"],
                       srtt_ns=i["p_srtt"] * 1_000_000_000 // hz if i["p_srtt"] else None,
                       rto_ns=i["p_rto"] * 1_000_000, cwnd=i["p_cwnd"], flight_size=i["p_flight_size"],
                       peer_rwnd=i["peer_rwnd"],
                       counters={c: i[c] for c in ("opackets", "ipackets", "rtxchunks", "osacks", "isacks")})


def _packets(path: Path):
    import dpkt

    raw = gzip.open(path) if path.suffix == ".gz" else open(path, "rb")
    with raw as f:
        r = dpkt.pcapng.Reader(f)
        lt = r.datalink()
        for ts, buf in r:
            yield int(round(ts * 1e9)), lt, bytes(buf)


def replay(bundle: Path, role: str = "client") -> tuple[SnapshotJoin, list]:
    """Feed one endpoint's capture packet by packet; at each of its snapshots' real time, one join step."""
    pytest.importorskip("dpkt")
    from sctpcorr.wire.engine import Analyzer

    hz = json.loads((bundle / "manifest.json").read_text())["guest"]["hz"]
    snaps = [r for r in _lines(bundle / "snapshots" / f"{role}.jsonl.gz") if r.get("type") == "sock_diag"]
    join = SnapshotJoin(hz)
    a = Analyzer()
    pk = _packets(bundle / f"{role}.pcapng.gz")
    nxt = next(pk, None)
    steps = []
    for snap in snaps:
        while nxt is not None and nxt[0] <= snap["real_ns"]:
            a.feed_packet(*nxt)
            nxt = next(pk, None)
        kern = [_kernel(s, hz) for s in snap["sockets"] if s.get("kind") == "assoc" and "info" in s]
        steps.append((snap, join.step(a.report(), kern)))
    return join, steps


@pytest.mark.parametrize("role", ["client", "server"])
@pytest.mark.parametrize("name", ["baseline", "lossy", "ngap-like", "slow-receiver", "failover", "bulk"])
def test_every_snapshot_joins_its_wire_association_and_the_counts_agree(name, role):
    bundle = LAB / name
    if not bundle.is_dir():
        pytest.skip(f"{name} bundle missing")
    join, steps = replay(bundle, role)
    joined = [j for _s, js in steps for j in js]
    with_assocs = [s for s, _js in steps if any(x.get("kind") == "assoc" for x in s["sockets"])]
    assert joined and len([1 for _s, js in steps if js]) == len(with_assocs)   # every snapshot with one joins
    assert join.unmatched_kernel == 0
    last = {j.kernel.my_vtag: j for j in joined}
    for j in last.values():
        v = {c.name: c for c in j.checks}
        assert j.side == ("A" if role == "client" else "B")    # the client sent the INIT: it is A on the wire
        # the capture sits on the client's own interfaces: every packet it sent and received is on the wire
        for n in ("packets_out", "packets_in", "retransmissions", "state"):
            assert v[n].verdict == AGREE, v[n].as_dict()
        assert v["packets_out"].numbers["kernel"] > 0


def test_lossy_retransmissions_are_counted_alike():
    bundle = LAB / "lossy"
    if not bundle.is_dir():
        pytest.skip("lossy bundle missing")
    join, steps = replay(bundle)
    j = [j for _s, js in steps for j in js][-1]
    rtx = next(c for c in j.checks if c.name == "retransmissions")
    assert rtx.verdict == AGREE and rtx.numbers["kernel"] == rtx.numbers["wire"] > 0


def test_srtt_is_judged_and_the_hostdelay_bundle_shows_the_kernel_higher():
    """hostdelay adds 15 ms inside the client, before its capture point: the kernel's SRTT holds it, the wire's
    cannot; on baseline they agree."""
    base = LAB / "baseline"
    hd = LAB / "hostdelay"
    if not (base.is_dir() and hd.is_dir()):
        pytest.skip("bundles missing")
    _j, steps = replay(base)
    srtt = [c for _s, js in steps for j in js for c in j.checks if c.name == "srtt" and c.verdict != "not checkable"]
    assert srtt and srtt[-1].verdict == AGREE, srtt[-1].as_dict()
    # the dead band: a kernel SRTT stuck a few jiffies above the wire's, both in one 8-jiffy band, agrees
    j = SnapshotJoin(250)
    k = KernelAssoc(1, 2, 5000, 6000, "ESTABLISHED", "10.0.0.2", srtt_ns=60_000_000)
    c = j._srtt((1, 2), 1, k, {"srtt_ns": 48_190_565, "rtt_samples": 59}, {"src": "10.0.0.1", "dst": "10.0.0.2"})
    assert c.verdict == AGREE and "8-jiffy band (8..15 jiffies)" in c.sentence
    _j, steps = replay(hd)
    srtt = [c for _s, js in steps for j in js for c in j.checks if c.name == "srtt" and c.verdict != "not checkable"]
    assert srtt and srtt[-1].verdict == DISAGREE, srtt[-1].as_dict()
    assert srtt[-1].numbers["kernel_ns"] - srtt[-1].numbers["wire_ns"] >= 10_000_000
    assert "time the capture cannot see" in srtt[-1].sentence


def test_the_live_view_and_metrics_show_kernel_beside_wire():
    """What `live --diag` draws from one join: the kernel columns and verdict in the table, the checks in the
    drill-down, the kernel gauges in the metrics."""
    import io

    from rich.console import Console

    from sctpcorr.live import Tick
    from sctpcorr.report.live import LiveView, plain_line, assoc_rows, _Memory
    from sctpcorr.sources.live import IfaceStats

    bundle = LAB / "hostdelay"
    if not bundle.is_dir():
        pytest.skip("hostdelay bundle missing")
    join, steps = replay(bundle)
    from sctpcorr.wire.engine import Analyzer

    a = Analyzer()
    for p in _packets(bundle / "client.pcapng.gz"):
        a.feed_packet(*p)
    rep = a.report()
    joined = list(join.joined.values())
    tick = Tick.from_report(9.0, rep, [IfaceStats("c1", 1)], kernel=joined)
    buf = io.StringIO()
    v = LiveView(tty=True, console=Console(file=buf, width=220, color_system=None))
    v.update(tick)
    v.close()
    assert "DISAGREE: srtt" in buf.getvalue() and "k.SRTT ms" in buf.getvalue()
    buf = io.StringIO()
    v = LiveView(tty=True, assoc=joined[0].assoc, console=Console(file=buf, width=220, color_system=None))
    v.update(tick)
    v.close()
    assert "kernel (sock_diag, endpoint A)" in buf.getvalue() and "time the capture cannot see" in buf.getvalue()
    assert "kernel: 1 joined (disagree 1)" in plain_line(tick, assoc_rows(tick, _Memory()))
    pytest.importorskip("prometheus_client")
    from sctpcorr.report.metrics import families

    fams = {f.name: f for f in families(tick, top=5)}
    agree = {s.labels["check"]: s.value for s in fams["sctpcorr_kernel_wire_agree"].samples}
    assert agree["srtt"] == 0 and agree["packets_out"] == 1
    srtt = fams["sctpcorr_kernel_srtt_seconds"].samples[0].value
    assert srtt == pytest.approx(joined[0].kernel.srtt_ns / 1e9)
