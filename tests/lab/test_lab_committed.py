"""The bundles committed under pcaps/lab/ (made by the lab) still hold their ground truth: no guest needed."""
from __future__ import annotations

from pathlib import Path

import pytest

import labtruth as lt
import test_lab_scenarios as t
from sctpcorr.lab import bundle

LAB = Path(__file__).resolve().parents[2] / "pcaps" / "lab"
BUNDLES = {n: LAB / n for n in ("baseline", "lossy", "failover", "hostdelay", "ngap-like", "bulk", "slow-receiver")}

pytestmark = [pytest.mark.skipif(not lt.have_tshark(), reason="needs tshark (apt-get install -y tshark)"),
              pytest.mark.skipif(not all(p.is_dir() for p in BUNDLES.values()), reason="pcaps/lab not present")]


def test_committed_bundles_are_small():
    """Seven bundles, each with both captures and the kernel recording, gzipped (tools/pack_lab_bundle.py)."""
    size = sum(p.stat().st_size for p in LAB.rglob("*") if p.is_file())
    assert size < 1_600_000


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_committed_bundle_is_complete_and_consistent(name):
    b = BUNDLES[name]
    m = bundle.read_manifest(b)
    assert m["complete"] is True and m["scenario"]["name"] == name
    assert m["guest"]["kernel_release"] and m["guest"]["hz"] in (100, 250, 300, 1000)
    for role in ("client", "server"):
        frs = lt.frames(bundle.find_file(b, f"{role}.pcapng"))
        assert frs and lt.in_time_order(frs) and all(f.checksum_ok for f in frs)
    t.test_workload_log_matches_data_chunks_on_the_wire(BUNDLES, name)


def test_committed_baseline_rtt():
    t.test_baseline_rtt_in_server_capture_is_twice_the_netem_delay(BUNDLES)
    t.test_multihoming_is_real(BUNDLES)
    t.test_snapshots_hold_the_kernels_view(BUNDLES)


def test_committed_failover():
    t.test_failover_heartbeats_unanswered_and_data_moves_to_p2(BUNDLES)


def test_show_on_committed_bundles():
    from click.testing import CliRunner

    from sctpcorr.lab.cli import lab
    r = CliRunner().invoke(lab, ["show", str(LAB)])
    assert r.exit_code == 0, r.output
    assert r.output.count("complete: yes") == len(BUNDLES) and "if=c1,c2" in r.output and "if=s1,s2" in r.output
    assert r.output.count("verdicts validate: PASS") == len(BUNDLES)
