"""The live view and the metrics render what the engine reported: rows, lines and samples checked against the
report of a real capture (the lab's lossy run: fast and timeout retransmissions)."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sctpcorr.live import Tick
from sctpcorr.report.live import LiveView, _Memory, assoc_rows, enrich, event_text, plain_line
from sctpcorr.sources.live import IfaceStats

ROOT = Path(__file__).resolve().parents[2]
LOSSY = ROOT / "pcaps" / "lab" / "lossy" / "client.pcapng.gz"


@pytest.fixture(scope="module")
def report():
    if not LOSSY.is_file():
        pytest.skip("lab bundle missing")
    r = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--jsonl", str(LOSSY)], capture_output=True,
                       text=True, cwd=ROOT, check=True)
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assocs = [{k: v for k, v in x.items() if k != "type"} for x in lines if x["type"] == "association"]
    summary = lines[-1]
    events = [x for x in lines if x["type"] not in ("startup", "association", "summary")]
    return {"capture": summary["capture"], "associations": assocs}, events


def _tick(rep, events, final=False):
    return Tick.from_report(2.0, rep, [IfaceStats("eth0", 1, 10, 10, 3, 1)], events, packets_per_s=100.0,
                            final=final)


def test_rows_and_line_carry_the_reported_numbers(report):
    rep, events = report
    a = rep["associations"][0]
    rows = assoc_rows(_tick(rep, events), _Memory())
    r = enrich(rows[0], a, _Memory())
    retx = a["directions"]["A>B"]["retransmissions"]
    assert (r["fast"], r["timeout"], r["spurious"]) == (retx["fast"], retx["timeout"], retx["spurious"]) == (13, 1, 1)
    assert r["packets"] == a["packets"] and r["state"] == a["state"]
    assert r["paths"] == len({frozenset((p["src"], p["dst"])) for p in a["paths"]})
    line = plain_line(_tick(rep, events), rows)
    assert f"packets {rep['capture']['packets']}" in line and "retransmissions 14" in line
    assert "kernel-drops 3 if-drops 1" in line


def test_rich_table_and_drill_down_render(report):
    from rich.console import Console

    rep, events = report
    buf = io.StringIO()
    con = Console(file=buf, width=140, force_terminal=False, color_system=None)
    v = LiveView(tty=True, console=con)
    v.update(_tick(rep, events))
    v.close()
    text = buf.getvalue()
    assert "ESTABLISHED" in text or "CLOSED" in text
    assert "13/1/1" in text                                  # retx fast/timeout/spurious
    buf2 = io.StringIO()
    v = LiveView(tty=True, assoc=1, console=Console(file=buf2, width=140, color_system=None))
    v.update(_tick(rep, events))
    v.close()
    drill = buf2.getvalue()
    assert "198.18.1.1 > 198.19.1.1" in drill and "recent events" in drill


def test_event_lines(report):
    _rep, events = report
    retx = next(e for e in events if e["type"] == "retransmission")
    assert event_text(retx).startswith(f"retransmission {retx['direction']} TSN {retx['tsn']} {retx['kind']}")
    rtt = next(e for e in events if e["type"] == "rtt")
    assert f"{rtt['rtt_ns'] / 1e6:.1f} ms" in event_text(rtt)


def test_metrics_families_bound_the_labels(report):
    pytest.importorskip("prometheus_client")
    from sctpcorr.report.metrics import families

    rep, events = report
    fams = {f.name: f for f in families(_tick(rep, events), top=1)}
    retx = {tuple(s.labels.values()): s.value for s in fams["sctpcorr_association_retransmissions"].samples}
    assert retx[("1", "/".join(map(str, rep["associations"][0]["ports"])), "fast")] == 13
    drops = {tuple(s.labels.values()): s.value for s in fams["sctpcorr_interface_dropped_packets"].samples}
    assert drops == {("eth0", "kernel"): 3, ("eth0", "interface"): 1}


def test_the_grafana_dashboard_queries_metrics_that_exist(report):
    """Every metric the shipped dashboard queries is one live serves (a renamed metric would blank a panel)."""
    pytest.importorskip("prometheus_client")
    import re

    from sctpcorr.report.metrics import families

    rep, events = report
    served = {s.name for f in families(_tick(rep, events), top=5) for s in f.samples}
    dash = json.loads((ROOT / "docs" / "monitoring" / "grafana-dashboard.json").read_text())
    used = {m for p in dash["panels"] for t in p["targets"] for m in re.findall(r"sctpcorr_[a-z0-9_]+", t["expr"])}
    assert len(used) >= 9 and used <= served, used - served


@pytest.mark.parametrize("rel", ["lossy/client.pcapng.gz", "ngap-like/client.pcapng.gz", "failover/server.pcapng.gz",
                                 "slow-receiver/server.pcapng.gz"])
def test_engine_summary_is_the_report_in_small(rel):
    """Analyzer.summary() (C, what live reads every second) carries the same numbers as the full report entries
    (summary_of, the Python mirror used for a final report)."""
    import gzip

    from sctpcorr.live import summary_of
    from sctpcorr.wire.engine import SUMMARY_FIELDS, Analyzer

    path = ROOT / "pcaps" / "lab" / rel
    if not path.is_file():
        pytest.skip(f"{rel} missing")
    a = Analyzer()
    a.feed_capture(gzip.decompress(path.read_bytes()))
    got = a.summary()
    want = [summary_of(x) for x in a.report()["associations"]]
    assert got == want and len(got[0]) == len(SUMMARY_FIELDS)
    assert a.capture_summary() == a.report()["capture"]
