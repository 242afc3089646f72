"""`sctpcorr lab run baseline --probe`, as a user runs it: one guest boot, the BPF recorder started by the lab's
hook before the workload (it waits for the recorder's ready file: BCC compiles for minutes under TCG), the
scenario, and the kernel's view in the bundle beside the captures.  About 4-5 minutes; skipped like the rest of
the lab (SCTPCORR_NO_LAB, SCTPCORR_NO_LAB_PROBE, prerequisites missing)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sctpcorr.kernel import cli as probe_cli
from sctpcorr.kernel import recorder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    given = os.environ.get("SCTPCORR_LAB_RUN_PROBE_DIR")
    if given:
        return Path(given)
    if os.environ.get("SCTPCORR_NO_LAB") or os.environ.get("SCTPCORR_NO_LAB_PROBE"):
        pytest.skip("SCTPCORR_NO_LAB / SCTPCORR_NO_LAB_PROBE is set: no guest is booted")
    if os.geteuid() != 0:
        pytest.skip("the lab guest needs root")
    from sctpcorr.lab import runner

    pr = runner.check_prerequisites()
    if not pr.ok:
        pytest.skip(f"lab prerequisites missing: {pr.message()}")
    out = tmp_path_factory.mktemp("lab-run-probe") / "baseline"
    r = subprocess.run([sys.executable, "-m", "sctpcorr", "lab", "run", "baseline", "--probe", "--out", str(out)],
                       capture_output=True, text=True, timeout=2400, cwd=ROOT)
    assert r.returncode == 0, f"lab run --probe exited {r.returncode}: {r.stderr[-2000:]}"
    (out.parent / "lab-run.stdout").write_text(r.stdout)
    return out


def test_the_bundle_is_complete_with_the_kernel_recording(bundle):
    m = json.loads((bundle / "manifest.json").read_text())
    assert m["complete"] is True and m["phase"] == "done"
    assert m["probe"]["status"] == "started" and m["probe"]["ready_after_s"] > 0
    assert m["results"]["client_sent"] == m["results"]["server_received"] == 100
    rec = recorder.load(bundle / "kernel" / "probe.jsonl")
    assert rec.startup is not None and rec.startup["source"] == "bpf" and rec.startup["missing"] == []
    assert rec.end is not None and rec.end["reason"] == "SIGINT"
    assert rec.end["lost_total"] == 0 and rec.end["backlog_dropped"] == 0 and rec.end["decode_errors"] == 0


def test_the_kernel_and_the_capture_name_the_same_association(bundle):
    """The recording's association (vtags, ports) is the one the client capture shows, and the kernel's egress
    events carry as many DATA chunks from the client as the capture does."""
    from sctpcorr.wire.engine import Analyzer

    a = Analyzer()
    a.feed_capture((bundle / "client.pcapng").read_bytes())
    a.finish_capture()
    wire = a.report()["associations"]
    assert len(wire) == 1
    vtags, ports = set(wire[0]["vtags"]), set(wire[0]["ports"])
    rec = recorder.load(bundle / "kernel" / "probe.jsonl")
    ups = rec.of("rto_update")
    assert ups and all({u["my_vtag"], u["peer_vtag"]} == vtags and {u["lport"], u["pport"]} == ports
                       for u in ups)
    client_port = next(p for p in ports if p != 5000)
    k_data = sum(1 for e in rec.of("egress") if e["sport"] == client_port
                 for c in e["chunks"] if c["type"] == "DATA")
    w_data = sum(d["data_chunks"] for d in wire[0]["directions"].values() if d["src_port"] == client_port)
    assert w_data >= 100 and k_data == w_data   # 100 messages, one DATA chunk each, plus any retransmission


def test_replay_reads_the_bundles_recording(bundle):
    res = CliRunner().invoke(probe_cli.probe, ["--replay", str(bundle / "kernel" / "probe.jsonl"), "--summary",
                                               "30", "--port", "5000"])
    assert res.exit_code == 0, res.output
    assert "ESTABLISHED" in res.output or "SHUTDOWN" in res.output or "CLOSED" in res.output
    assert "lost 0" in res.output.splitlines()[-1]


def test_the_run_ends_by_validating_the_bundle(bundle):
    """`lab run --probe` joins the new recording with the new captures (sctpcorr validate): on the baseline
    scenario nothing may disagree, the verdicts are in validation.json, and the run says so."""
    v = json.loads((bundle / "validation.json").read_text())
    assert v["verdict"] in ("agree", "explained"), [c for c in v["checks"] if c["verdict"] == "disagree"]
    names = {c["check"] for c in v["checks"]}
    assert {"tsn_coverage", "rtt_samples", "rto", "flight", "retransmissions"} <= names
    out = bundle.parent / "lab-run.stdout"
    if out.exists():
        assert f"{bundle}: validate: PASS" in out.read_text()
