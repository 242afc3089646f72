"""Bad input: one clear line on stderr, exit code 2, never a traceback; the readable part is still reported."""

from __future__ import annotations

import gzip
import json
import os
import re

import pytest
from cli_helpers import corpus_file, pcap_record_ends, pcapng_packet_block_ends, run_cli, run_json

ERROR_LINE = re.compile(r"^sctpcorr: error: .+: .+$")


def one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert ERROR_LINE.match(lines[0]), lines[0]
    assert "Traceback" not in stderr
    return lines[0]


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.pcap"
    r = run_cli("pcap", missing)
    assert r.returncode == 2
    assert r.stdout == ""
    assert one_error_line(r.stderr) == f"sctpcorr: error: {missing}: No such file or directory"


def test_directory(tmp_path):
    r = run_cli("pcap", tmp_path)
    assert r.returncode == 2
    assert r.stdout == ""
    assert one_error_line(r.stderr).endswith(": is a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(tmp_path):
    f = tmp_path / "secret.pcap"
    f.write_bytes(corpus_file("pkts/sctp.cap").read_bytes())
    f.chmod(0)
    r = run_cli("pcap", f)
    assert r.returncode == 2
    assert one_error_line(r.stderr).endswith(": Permission denied")


def test_text_file(tmp_path):
    f = tmp_path / "notes.pcap"  # the name says pcap; the bytes decide
    f.write_text("hello, this is not a capture\n")
    r = run_cli("pcap", f)
    assert r.returncode == 2
    assert r.stdout == ""  # nothing readable: no empty report
    line = one_error_line(r.stderr)
    assert re.fullmatch(rf"sctpcorr: error: {re.escape(str(f))}: not a pcap or pcapng capture "
                        r"\(magic 0x68656c6c\)", line), line


def test_empty_file(tmp_path):
    f = tmp_path / "empty.pcapng"
    f.write_bytes(b"")
    r = run_cli("pcap", f)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "empty file" in one_error_line(r.stderr)


def test_too_short_file(tmp_path):
    f = tmp_path / "short.pcap"
    f.write_bytes(b"\xd4\xc3")
    r = run_cli("pcap", "--json", f)
    assert r.returncode == 2
    assert r.stdout == ""
    assert "not a pcap or pcapng capture" in one_error_line(r.stderr)


def test_gzip_of_text(tmp_path):
    f = tmp_path / "x.pcap.gz"
    f.write_bytes(gzip.compress(b"GET / HTTP/1.1\r\n\r\n"))
    r = run_cli("pcap", f)
    assert r.returncode == 2
    assert "not a pcap or pcapng capture (magic 0x47455420) after gunzip" in one_error_line(r.stderr)


def test_truncated_pcap_reports_readable_part(tmp_path):
    """A copy of a real capture cut inside record 50: the 49 complete records are analysed and reported."""
    data = corpus_file("pkts/sctp-test.cap").read_bytes()
    ends = pcap_record_ends(data)
    cut = ends[48] + (ends[49] - ends[48]) // 2
    f = tmp_path / "cut.pcap"
    f.write_bytes(data[:cut])

    r = run_cli("pcap", f)
    assert r.returncode == 2
    assert "ASSOCIATION 1" in r.stdout  # the report of the readable part
    line = one_error_line(r.stderr)
    assert f"truncated capture: the last {cut - ends[48]} bytes are an incomplete record; the 49 complete " \
           "packets before them were analysed" in line
    assert "INCOMPLETE:" in r.stdout  # the report itself says it is partial

    doc = run_json(f, expect_rc=2)
    assert doc["capture"]["packets"] == 49
    assert doc["files"][0]["truncated_bytes"] == cut - ends[48]
    assert doc["files"][0]["complete"] is False
    assert len(doc["errors"]) == 1 and "truncated capture" in doc["errors"][0]


def test_truncated_pcapng(tmp_path):
    data = corpus_file("tempo/s1ap.pcap").read_bytes()  # pcapng despite its name
    ends = pcapng_packet_block_ends(data)
    cut = ends[29] + 10
    f = tmp_path / "cut.pcapng"
    f.write_bytes(data[:cut])
    doc = run_json(f, expect_rc=2)
    assert doc["files"][0]["format"] == "pcapng"
    assert doc["capture"]["packets"] == 30
    assert doc["files"][0]["truncated_bytes"] == 10


def test_cut_gzip_reports_what_decompressed(tmp_path):
    plain = corpus_file("PcapPlusPlus/ip-frag.pcap").read_bytes()
    gz = gzip.compress(plain)
    f = tmp_path / "cut.pcap.gz"
    f.write_bytes(gz[: len(gz) // 2])
    r = run_cli("pcap", "--json", f)
    assert r.returncode == 2
    assert "gzip stream cut short" in one_error_line(r.stderr)
    doc = json.loads(r.stdout)
    total = len(pcap_record_ends(plain))
    assert 0 < doc["capture"]["packets"] < total
    assert doc["files"][0]["compressed"] is True and doc["files"][0]["complete"] is False


def test_corrupt_gzip(tmp_path):
    plain = corpus_file("PcapPlusPlus/ip-frag.pcap").read_bytes()
    gz = bytearray(gzip.compress(plain))
    mid = len(gz) // 2
    gz[mid:mid + 64] = bytes(b ^ 0x5A for b in gz[mid:mid + 64])
    f = tmp_path / "corrupt.pcap.gz"
    f.write_bytes(bytes(gz))
    r = run_cli("pcap", "--json", f)
    assert r.returncode == 2
    line = one_error_line(r.stderr)
    assert str(f) in line
    doc = json.loads(r.stdout)  # the part before the damage is reported
    assert 0 < doc["capture"]["packets"] < len(pcap_record_ends(plain))
    assert doc["files"][0]["complete"] is False and doc["errors"]


def test_mistyped_second_file_fails_before_analysis(tmp_path):
    good = corpus_file("pkts/sctp.cap")
    r = run_cli("pcap", good, tmp_path / "typo.pcap")
    assert r.returncode == 2
    assert r.stdout == ""
    assert "typo.pcap: No such file or directory" in one_error_line(r.stderr)


def test_good_file_then_text_file(tmp_path):
    """The good file is reported; the bad one is named on stderr; exit 2."""
    bad = tmp_path / "bad.pcap"
    bad.write_text("not a capture")
    doc = run_json(corpus_file("5Greplay/oai.pcap"), bad, expect_rc=2)
    assert [f["complete"] for f in doc["files"]] == [True, False]
    assert doc["capture"]["packets"] == 753
    assert len(doc["associations"]) == 1
    assert "not a pcap or pcapng capture" in doc["files"][1]["error"]


def test_output_file_untouched_when_nothing_readable(tmp_path):
    out = tmp_path / "report.json"
    out.write_text("previous report\n")
    bad = tmp_path / "bad.pcap"
    bad.write_text("nope")
    r = run_cli("pcap", "--json", "-o", out, bad)
    assert r.returncode == 2
    assert out.read_text() == "previous report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pcap", "report.json"]  # no temp file left


@pytest.mark.parametrize("args, message", [
    (["--json", "--csv"], "choose one of --json, --jsonl, --csv"),
    (["--addr", "10.0.0.300"], "is not an IP address or prefix"),
    (["--port", "70000"], "70000"),
    (["--assoc", "0"], "0"),
])
def test_usage_errors(args, message):
    r = run_cli("pcap", *args, corpus_file("pkts/sctp.cap"))
    assert r.returncode == 2
    assert r.stdout == ""
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_no_arguments():
    r = run_cli("pcap")
    assert r.returncode == 2
    assert "Missing argument 'CAPTURE...'" in r.stderr


def test_output_path_problems_fail_before_analysis(tmp_path):
    good = corpus_file("pkts/sctp.cap")
    r = run_cli("pcap", "-o", tmp_path, good)
    assert r.returncode == 2 and r.stdout == ""
    assert one_error_line(r.stderr) == f"sctpcorr: error: {tmp_path}: is a directory (-o needs a file name)"
    missing_dir = tmp_path / "no" / "such" / "r.txt"
    r = run_cli("pcap", "-o", missing_dir, good)
    assert r.returncode == 2
    assert one_error_line(r.stderr).endswith("cannot write here: No such file or directory")


def test_damaged_files_do_not_spoil_the_next_one(tmp_path):
    """A truncated file and a corrupt gzip before a good file: the good file is read completely."""
    data = corpus_file("pkts/sctp-test.cap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 100])
    bad_gz = tmp_path / "bad.pcap.gz"
    bad_gz.write_bytes(gzip.compress(data)[:200])
    good = corpus_file("5Greplay/oai.pcap")
    r = run_cli("pcap", "--json", cut, bad_gz, good)
    assert r.returncode == 2
    assert len(r.stderr.splitlines()) == 2 and "Traceback" not in r.stderr
    doc = json.loads(r.stdout)
    assert [f["complete"] for f in doc["files"]] == [False, False, True]
    assert doc["files"][2]["packets"] == 753
    assert doc["capture"]["packets"] == sum(f["packets"] for f in doc["files"])
