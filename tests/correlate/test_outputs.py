"""What `sctpcorr correlate` writes: text under 100 columns, --json, --jsonl (per TSN and per RTT sample), --csv,
--plot; `lab show` with the verdicts."""
from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner

from bundles import bundle, correlation
from sctpcorr.cli import main


def _run(*args: str) -> str:
    r = CliRunner().invoke(main, list(args))
    assert r.exit_code == 0, r.output
    return r.output


def test_text_is_under_100_columns_and_tells_the_story():
    out = _run("correlate", str(bundle("hostdelay")))
    lines = out.splitlines()
    assert all(len(x) < 100 for x in lines), max(lines, key=len)
    assert lines[0].startswith("sctpcorr ") and "verdict: explained" in lines[0]
    assert "KERNEL RTT SAMPLES" in out and "HOST_TX" in out and "one_way_transit" in out
    assert any(x.split()[:2] == ["explained", "rtt_samples"] for x in lines)


def test_json_document_has_a_schema_version_and_every_sample():
    doc = json.loads(_run("correlate", "--json", str(bundle("lossy"))))
    cx = correlation("lossy")
    assert doc["schema_version"] == 1 and doc["verdict"] == cx.verdict
    assert len(doc["rtt_samples"]) == len(cx.samples) and len(doc["checks"]) == len(cx.checks)
    s = doc["rtt_samples"][0]
    assert s["clock"] == "kernel_mono" and {"host_tx_ns", "wire_rtt_ns", "host_rx_ns", "quantisation_ns"} <= set(s)
    assert all({"check", "verdict", "sentence", "tolerance", "numbers"} <= set(c) for c in doc["checks"])
    assert {j["measure"] for j in doc["jitter"]} >= {"one_way_transit", "rtt", "interarrival"}


def test_jsonl_has_one_record_per_tsn_and_per_rtt_sample():
    out = _run("correlate", "--jsonl", str(bundle("lossy")))
    recs = [json.loads(x) for x in out.splitlines()]
    assert recs[0]["type"] == "correlate" and recs[-1]["type"] == "summary"
    cx = correlation("lossy")
    tsn = [r for r in recs if r["type"] == "tsn"]
    d = cx.directions[(1, 0)]
    assert len([r for r in tsn if r["direction"] == "A>B"]) == len(set(d.k_tx.t.tolist()) | set(
        x for w in d.w_tx.values() for x in w.t.tolist()))
    assert len([r for r in recs if r["type"] == "rtt_sample"]) == len(cx.samples)
    # a retransmitted TSN: the kernel's two sends with their reason, the capture's two appearances, its ack
    rtx = [r for r in tsn if len(r["kernel"]) == 2 and r["direction"] == "A>B"]
    assert rtx
    r = rtx[0]
    assert r["kernel"][1]["reason"] in ("fast", "t3") and r["kernel"][0]["reason"] is None
    near = r["wire"]["0"]
    assert near["acked"] is not None and near["acked"]["kernel_processed_ns"] is not None


def test_csv_is_one_row_per_rtt_sample():
    out = _run("correlate", "--csv", str(bundle("baseline")))
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(correlation("baseline").samples)
    assert rows[0]["rtt_ns"] and "host_tx_ns" in rows[0]


def test_plots_are_png_and_svg(tmp_path):
    r = CliRunner().invoke(main, ["correlate", "--plot", str(tmp_path), str(bundle("lossy"))])
    assert r.exit_code == 0, r.output
    names = sorted(p.name for p in tmp_path.iterdir())
    for kind in ("rtt", "tsn", "window", "rtt-parts"):
        assert f"assoc1-{kind}.png" in names and f"assoc1-{kind}.svg" in names
    assert all((tmp_path / n).stat().st_size > 10_000 for n in names if n.endswith(".png"))


def test_lab_show_prints_the_verdicts():
    out = _run("lab", "show", str(bundle("hostdelay")))
    assert "verdicts validate: PASS" in out
    assert any(x.split()[:2] == ["explained", "rtt_samples"] for x in out.splitlines())
