"""The default text report: every corpus capture runs without a traceback and fits in 99 columns; streams are
ranked and cut; the progress bar only draws when asked and when the job is long."""

from __future__ import annotations

import io
import math
import re

import pytest
from cli_helpers import CORPUS, corpus_file, run_cli, run_json

from sctpcorr.report.progress import ProgressBar
from sctpcorr.report.text import WIDTH

CORPUS_FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap")) \
    if CORPUS.is_dir() else []


@pytest.mark.skipif(not CORPUS_FILES, reason="corpus not found")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_every_corpus_capture_renders(path):
    r = run_cli("pcap", "--streams", "0", path)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode in (0, 2), r.stderr
    if r.returncode == 2:  # damaged on purpose (fuzz/truncated corpus files): each problem on one line
        assert all(line.startswith("sctpcorr: error: ") for line in r.stderr.splitlines()), r.stderr
    else:
        assert r.stderr == ""
    lines = r.stdout.splitlines()
    assert lines and lines[0].startswith("sctpcorr ")
    too_wide = [line for line in lines if len(line) > WIDTH and str(path) not in line]
    assert not too_wide, too_wide
    assert lines[-1].startswith(("Limits:", "LIMITS REACHED", "Note:", "Filter", "INCOMPLETE", "  "))


def test_text_report_content():
    """oai.pcap: the header, the three direction tables, timings and paths carry the JSON's numbers."""
    path = corpus_file("5Greplay/oai.pcap")
    (a,) = run_json(path)["associations"]
    text = run_cli("pcap", path).stdout
    ab = a["directions"]["A>B"]
    head = f"ASSOCIATION 1  192.168.70.129:{a['ports'][0]} <-> 192.168.70.132:{a['ports'][1]}  CLOSED"
    assert head in text
    headers = [line.split() for line in text.splitlines()]
    for header in ("DIR PACKETS DATA DATA_BYTES UNIQUE_TSNS RETX FAST TIMEOUT SPURIOUS",
                   "DIR SACKS GAP_BLOCKS DUP_TSNS A_RWND_MIN..MAX ZERO_WIN FLIGHT_MAX_B FLIGHT_MEAN_B",
                   "DIR RTT_N DATA/HB/HS DLY_SACK SRTT_MS MIN_MS P50_MS P99_MS MAX_MS RTO_MS JITTER_MS",
                   "PATH (SRC -> DST) PKTS DATA RETX HB_SENT HB_ACK HB_LOST RTT_N SRTT_MS"):
        assert header.split() in headers, header
    row = next(line.split() for line in text.splitlines() if line.strip().startswith("A>B") and "/" in line)
    assert row[1] == str(ab["rtt"]["samples"])
    assert row[3] == str(ab["rtt"]["delayed_sack_samples"])
    assert math.isclose(float(row[4]), ab["rtt"]["srtt_ns"] / 1e6, rel_tol=1e-3, abs_tol=5e-4)
    assert f"INIT->INIT-ACK {a['handshake']['init_to_init_ack_ns'] / 1e6:.3f} ms" in text
    assert "60 NGAP" in text  # PPID named
    assert "15 bad checksum" in text


def test_streams_ranked_and_cut():
    """sctp-test.cap has 12 streams: --streams 3 shows the 3 busiest and sums up the rest."""
    path = corpus_file("pkts/sctp-test.cap")
    (a,) = run_json(path)["associations"]
    d_key, d = max(a["directions"].items(), key=lambda kv: len(kv[1]["streams"]))
    streams = sorted(d["streams"], key=lambda s: (-s["chunks"], s["sid"]))
    assert len(streams) > 3
    text = run_cli("pcap", "--streams", "3", path).stdout
    section = text[text.index(f"streams {d_key}: {len(streams)} used"):]
    rows = [line.split() for line in section.splitlines()[2:5]]
    assert [int(r[0]) for r in rows] == [s["sid"] for s in streams[:3]]
    rest = streams[3:]
    assert (f"... {len(rest)} more streams ({sum(s['chunks'] for s in rest)} chunks, "
            f"{sum(s['bytes'] for s in rest)} bytes)") in section
    full = run_cli("pcap", "--streams", "0", path).stdout
    assert "more streams" not in full


def test_progress_bar_draws_only_when_enabled_and_long():
    out = io.StringIO()
    bar = ProgressBar([30_000_000], stream=out, force=True)  # > 20 MB: drawn at once
    bar.update(0, "x.pcap", 15_000_000, 30_000_000, 123456)
    drawn = out.getvalue()
    assert re.search(r"50\.0% 14\.3 MiB/28\.6 MiB 123,456 pkts [\d,]+ pkt/s", drawn), drawn
    bar.close()
    assert out.getvalue().endswith("\r") and out.getvalue()[len(drawn):].strip() == ""

    small = io.StringIO()
    bar = ProgressBar([1_000_000], stream=small, force=True)  # small and fast: nothing drawn
    bar.update(0, "x.pcap", 500_000, 1_000_000, 10)
    bar.close()
    assert small.getvalue() == ""

    not_tty = io.StringIO()  # default: only on a terminal
    bar = ProgressBar([30_000_000], stream=not_tty)
    bar.update(0, "x.pcap", 15_000_000, 30_000_000, 10)
    assert not_tty.getvalue() == ""
