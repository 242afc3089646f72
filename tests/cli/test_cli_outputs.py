"""The output formats on real captures: --json schema, --jsonl records, --csv rows, -o, gzip/stdin/multi-file."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat

import pytest
from cli_helpers import ROOT, analysis, corpus_file, pcap_record_ends, run_cli, run_json

from sctpcorr.pipeline import EVENT_FIELDS
from sctpcorr.report.csv import COLUMNS

RTT_KEYS = {"samples", "data_samples", "heartbeat_samples", "handshake_samples", "delayed_sack_samples", "min_ns",
            "max_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "srtt_ns", "rttvar_ns", "rto_ns"}


def test_json_document_schema():
    """oai.pcap: a real OpenAirInterface NGAP run (753 frames, 31 SCTP, one association, full lifecycle)."""
    doc = run_json(corpus_file("5Greplay/oai.pcap"))
    assert doc["schema_version"] == 1
    assert doc["tool"]["name"] == "sctpcorr" and doc["tool"]["version"]
    assert {"schema_version", "tool", "files", "capture", "associations"} <= doc.keys()
    assert doc["interrupted"] is False and doc["errors"] == []
    f = doc["files"][0]
    assert (f["format"], f["packets"], f["complete"], f["compressed"]) == ("pcap", 753, True, False)
    assert f["link_types"] == [{"linktype": 1, "name": "ETHERNET"}]

    cap = doc["capture"]
    assert {"packets", "sctp_packets", "malformed", "bad_checksum", "duplicates"} <= cap.keys()
    assert (cap["packets"], cap["sctp_packets"], cap["associations"]) == (753, 31, 1)
    assert cap["chunks"]["DATA"] == 14 and cap["chunks"]["SACK"] == 14  # tshark's counts (corpus README)

    (a,) = doc["associations"]
    assert {"ports", "vtags", "addresses", "chunks", "handshake", "paths", "directions"} <= a.keys()
    assert sorted(a["ports"]) == [34206, 38412]
    assert a["state"] == "CLOSED" and a["mid_association"] is False
    assert set(a["directions"]) == {"A>B", "B>A"}
    for d in a["directions"].values():
        assert {"data_chunks", "data_bytes", "retransmissions", "rtt", "streams"} <= d.keys()
        assert RTT_KEYS <= d["rtt"].keys()
    assert sum(d["data_chunks"] for d in a["directions"].values()) == 14
    assert a["handshake"]["init_to_init_ack_ns"] is not None
    assert {(p["src"], p["dst"]) for p in a["paths"]} == {("192.168.70.129", "192.168.70.132"),
                                                          ("192.168.70.132", "192.168.70.129")}


def parse_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_jsonl_records():
    path = corpus_file("5Greplay/oai.pcap")
    r = run_cli("pcap", "--jsonl", path)
    assert r.returncode == 0, r.stderr
    recs = parse_jsonl(r.stdout)
    first, last = recs[0], recs[-1]
    assert first["type"] == "startup" and first["schema_version"] == 1 and first["files"] == [str(path)]
    assert last["type"] == "summary"
    assert last["events_dropped"] == 0 and last["interrupted"] is False
    events = [x for x in recs if x["type"] not in ("startup", "association", "summary")]
    assert last["events_written"] == len(events) > 0
    assert sum(last["events_seen"].values()) == len(events)  # no filter: everything drained is written
    for e in events:  # every event carries exactly the documented fields (no "extra")
        assert set(e) == {"type", "ts_ns", "file", "frame_no", "assoc_id", *EVENT_FIELDS[e["type"]]}, e
        assert e["file"] == 0
    assert [x["type"] for x in recs].count("association") == 1

    # Cross-check with the JSON report: one "rtt" event per RTT sample, one "sack" event per SACK.
    (a,) = run_json(path)["associations"]
    dirs = a["directions"].values()
    assert sum(1 for e in events if e["type"] == "rtt") == sum(d["rtt"]["samples"] for d in dirs)
    assert sum(1 for e in events if e["type"] == "sack") == sum(d["sacks"] for d in dirs)
    assert [e["new"] for e in events if e["type"] == "state"][-1] == a["state"]
    assert recs[-2] == {"type": "association", **a}


def test_csv_rows_match_json():
    path = corpus_file("tcpdump/forces3.pcap")
    r = run_cli("pcap", "--csv", path)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == [name for name, _ in COLUMNS]
    body = [dict(zip(rows[0], row)) for row in rows[1:]]
    doc = run_json(path)
    assert len(body) == 2 * len(doc["associations"]) == 12
    for row in body:
        a = doc["associations"][int(row["assoc_id"]) - 1]
        d = a["directions"][row["direction"]]
        assert int(row["data_chunks"]) == d["data_chunks"]
        assert int(row["sacks"]) == d["sacks"]
        assert int(row["rtt_samples"]) == d["rtt"]["samples"]
        assert row["srtt_ns"] == ("" if d["rtt"]["srtt_ns"] is None else str(d["rtt"]["srtt_ns"]))
        assert int(row["src_port"]) == d["src_port"]


def test_gzip_equals_plain(tmp_path):
    plain = corpus_file("PcapPlusPlus/ip-frag.pcap")
    gz = tmp_path / "ip-frag.pcap.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    a, b = run_json(plain), run_json(gz)
    assert analysis(a) == analysis(b)
    assert b["files"][0]["compressed"] is True and b["files"][0]["size_bytes"] == gz.stat().st_size


def test_stdin_equals_file():
    path = corpus_file("5Greplay/oai.pcap")
    via_pipe = run_json("-", input=path.read_bytes())
    assert analysis(via_pipe) == analysis(run_json(path))
    assert via_pipe["files"][0]["path"] == "-" and via_pipe["files"][0]["size_bytes"] is None


def test_split_files_are_one_capture(tmp_path):
    """forces3.pcap split in three at record boundaries (the middle part gzipped) = the original capture."""
    data = corpus_file("tcpdump/forces3.pcap").read_bytes()
    ends = pcap_record_ends(data)
    header, cut1, cut2 = data[:24], ends[40], ends[100]
    parts = [data[:cut1], header + data[cut1:cut2], header + data[cut2:]]
    paths = []
    for i, part in enumerate(parts):
        p = tmp_path / (f"rot{i}.pcap" + (".gz" if i == 1 else ""))
        p.write_bytes(gzip.compress(part) if i == 1 else part)
        paths.append(p)
    whole = run_json(corpus_file("tcpdump/forces3.pcap"))
    split = run_json(*paths)
    assert [f["packets"] for f in split["files"]] == [41, 60, len(ends) - 101]
    assert analysis(split) == analysis(whole)


def test_split_files_same_events(tmp_path):
    """The JSONL events of a capture split in two are those of the whole, with (file, frame_no) renumbered."""
    src = corpus_file("tcpdump/forces3.pcap")
    data = src.read_bytes()
    ends = pcap_record_ends(data)
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    first.write_bytes(data[: ends[76]])
    second.write_bytes(data[:24] + data[ends[76]:])

    def events(*paths):
        r = run_cli("pcap", "--jsonl", *paths)
        assert r.returncode == 0, r.stderr
        recs = [json.loads(line) for line in r.stdout.splitlines()]
        return [e for e in recs if "frame_no" in e]

    whole = events(src)
    split = events(first, second)
    assert {e["file"] for e in split} == {0, 1}
    renumbered = [{**e, "file": 0, "frame_no": e["frame_no"] + (77 if e["file"] else 0)} for e in split]
    assert renumbered == whole


def test_output_file_atomic(tmp_path):
    out = tmp_path / "r.json"
    r = run_cli("pcap", "--json", "-o", out, corpus_file("pkts/sctp.cap"))
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert json.loads(out.read_text())["capture"]["packets"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_output_to_a_named_pipe_writes_into_it(tmp_path):
    """-o on a FIFO (or a device: -o /dev/null) writes into it: renaming a temporary file onto it, as for a
    regular file, would replace the pipe (as root, /dev/null itself) with a regular file."""
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader first, so the writer's open does not block
    try:
        r = run_cli("pcap", "-o", fifo, corpus_file("pkts/sctp.cap"))
        got = b""
        while chunk := os.read(reader, 65536):
            got += chunk
    finally:
        os.close(reader)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["report.fifo"]
    assert got.decode() == run_cli("pcap", corpus_file("pkts/sctp.cap")).stdout
    assert "ASSOCIATION 1" in got.decode()


def test_output_file_written_for_truncated_input(tmp_path):
    data = corpus_file("pkts/sctp-test.cap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 7])
    out = tmp_path / "r.txt"
    r = run_cli("pcap", "-o", out, cut)
    assert r.returncode == 2
    assert "truncated capture" in r.stderr
    assert "ASSOCIATION 1" in out.read_text()


def test_version_and_help():
    from sctpcorr import __version__

    r = run_cli("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"sctpcorr {__version__}"
    for args in (["--help"], ["pcap", "--help"]):
        r = run_cli(*args)
        assert r.returncode == 0
        assert "Examples:" in r.stdout
        tail = r.stdout[r.stdout.rindex("Examples:"):].splitlines()[1:]
        assert any("sctpcorr pcap" in line for line in tail)
        assert all(line.startswith("  ") for line in tail if line.strip()), tail  # Examples end the help


OWN_CAPTURES = sorted(p for p in (ROOT / "pcaps").rglob("*") if p.is_file() and ".pcap" in p.name)


@pytest.mark.skipif(not OWN_CAPTURES, reason="no capture in pcaps/")
@pytest.mark.parametrize("path", OWN_CAPTURES, ids=lambda p: p.name)
def test_jsonl_events_agree_with_report(path):
    """On the project's own captures (loss, failover, zero window): the event stream and the final report tell
    the same story, and every event has exactly the documented fields."""
    r = run_cli("pcap", "--jsonl", path)
    assert r.returncode == 0, r.stderr
    recs = parse_jsonl(r.stdout)
    events = [x for x in recs if x["type"] not in ("startup", "association", "summary")]
    assocs = [x for x in recs if x["type"] == "association"]
    for e in events:
        assert set(e) == {"type", "ts_ns", "file", "frame_no", "assoc_id", *EVENT_FIELDS[e["type"]]}, e
    dirs = [d for a in assocs for d in a["directions"].values()]
    count = lambda t, **kw: sum(1 for e in events if e["type"] == t and all(e[k] == v for k, v in kw.items()))
    assert count("retransmission") == sum(d["retransmissions"]["total"] for d in dirs)
    assert count("retransmission", spurious=True) + count("spurious") == sum(
        d["retransmissions"]["spurious"] for d in dirs)
    assert count("rtt") == sum(d["rtt"]["samples"] for d in dirs)
    assert count("sack") == sum(d["sacks"] + d["nr_sacks"] for d in dirs)
    assert count("window", zero=True) == sum(d["a_rwnd"]["zero_window_episodes"] for d in dirs)
    assert count("assoc_new") == len(assocs)
