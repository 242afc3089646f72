"""``sctpcorr live`` on a veth pair of this machine's kernel: real captures replayed onto one end.

What must hold (issue #9): the final --json equals ``sctpcorr pcap --json`` of the same packets (its own -w file:
exactly, the live section and file names aside; the original capture: every count, state, TSN and chunk, time
values aside, since a replay cannot reproduce the original timing to the nanosecond); the pcapng reads back with
tshark; SIGTERM, Ctrl-C and the interface going down mid-capture leave every output complete and readable.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from corpora import CORPUS, OWN_PCAPS
from livenet import first_difference, pcap_json, timeless, to_ethernet, tshark_count

# (capture, why it is here); replayed with its own timing (all are a few seconds long at most)
REPLAYED = [
    ("open5gs/testregistration.pcapng", "5G NGAP registration: 15 associations, Linux cooked capture"),
    ("open5gs/testattach.pcapng", "LTE S1AP attach: 19 associations"),
    ("pkts/sctp-addip.cap", "ASCONF: addresses added to an association"),
    ("pkts/sctp-test.cap", "a bulk transfer with SACKs"),
    ("suricata-verify/sctp-keywords_input.pcap", "two associations, handshake to shutdown"),
    ("PcapFlowLab/16_sctp_vlan_ipv4_data_s1ap.pcap", "VLAN-tagged S1AP"),
    ("PcapFlowLab/02_sctp_ipv6_data_s1ap.pcap", "S1AP over IPv6"),
]
OWN = [("lab/lossy/client.pcapng.gz", "the lab's lossy path: fast and timeout retransmissions")]


def _source(rel: str) -> Path:
    for base in (CORPUS, OWN_PCAPS):
        if (base / rel).is_file():
            return base / rel
    pytest.skip(f"{rel} not found")


def _stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return out, err


def _gunzip(src: Path, tmp: Path) -> Path:
    if src.suffix != ".gz":
        return src
    import gzip

    dst = tmp / src.stem
    dst.write_bytes(gzip.decompress(src.read_bytes()))
    return dst


def _sctp_only(doc: dict) -> dict:
    """The parts of a document that a capture filter keeping only SCTP cannot change."""
    cap = {k: v for k, v in doc["capture"].items() if k not in ("packets",)}
    return {"capture": timeless(cap), "associations": timeless(doc["associations"])}


@pytest.mark.parametrize("rel,why", REPLAYED + OWN, ids=[r for r, _ in REPLAYED + OWN])
def test_live_report_equals_pcap_of_the_same_packets(veth, tmp_path, rel, why):
    src = _gunzip(_source(rel), tmp_path)
    eth = tmp_path / "eth.pcap"
    to_ethernet(src, eth)
    out = tmp_path / "live.pcapng"
    proc = veth.live("-i", veth.rx_if, "-w", out, "--json", tmp_path / "live.json", "--events",
                     tmp_path / "ev.jsonl", "--plain", ready=tmp_path / "ready")
    veth.replay(eth)
    time.sleep(0.5)                     # the ring hands a partly filled block over after its 100 ms timeout
    _out, err = _stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    live = json.loads((tmp_path / "live.json").read_text())
    again = pcap_json(out)
    # (1) the same bytes through the same engine: the same document
    for key in again:
        if key not in ("files", "tool"):
            assert live[key] == again[key], first_difference(live[key], again[key])
    assert live["tool"]["command"] == "live" and live["live"]["stopped_by"] == "SIGTERM"
    assert live["live"]["kernel_dropped"] == 0
    # (2) the same packets as the original capture: every count, state, TSN, chunk and stream
    orig = pcap_json(src)
    assert live["capture"]["packets"] == orig["capture"]["sctp_packets"] > 0
    assert _sctp_only(live) == _sctp_only(orig), first_difference(_sctp_only(live), _sctp_only(orig))
    # (3) the pcapng reads back with tshark, every packet
    assert tshark_count(out) == live["capture"]["packets"]
    # (4) the events file is complete: a startup record first, a summary last, the engine's events between
    lines = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "startup" and lines[-1]["type"] == "summary"
    assert lines[-1]["capture"]["packets"] == live["capture"]["packets"]
    assert sum(1 for x in lines if x["type"] == "assoc_new") == len(orig["associations"])


def _bulk(tmp_path: Path) -> Path:
    """The lab's bulk transfer (Ethernet), replayed paced so that a signal lands in the middle of it."""
    eth = tmp_path / "bulk.pcap"
    to_ethernet(_gunzip(_source("lab/bulk/client.pcapng.gz"), tmp_path), eth)
    return eth


def _wait_for_packets(proc: subprocess.Popen[str], at_least: int) -> None:
    """Read the --plain lines until the live count reaches ``at_least``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        assert line, "sctpcorr live ended early"
        if int(line.split("packets ")[1].split()[0]) >= at_least:
            return
    raise AssertionError("no packets seen")


def _complete_outputs(tmp_path: Path, out: Path) -> dict:
    """Every output is whole: the pcapng reads back in full, the JSON parses and matches it, the JSONL ends with
    its summary; returns the JSON document."""
    live = json.loads((tmp_path / "live.json").read_text())
    n = live["capture"]["packets"]
    assert n > 0 and tshark_count(out) == n
    again = pcap_json(out)
    assert again["capture"] == live["capture"] and again["associations"] == live["associations"]
    lines = [json.loads(x) for x in (tmp_path / "ev.jsonl").read_text().splitlines()]
    assert lines[0]["type"] == "startup" and lines[-1]["type"] == "summary"
    assert lines[-1]["capture"]["packets"] == n
    return live


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_mid_capture_closes_every_file_whole(veth, tmp_path, sig):
    proc, replay, eth, out = _live_during_a_paced_replay(veth, tmp_path)
    try:
        _wait_for_packets(proc, 500)
        _out, err = _stop(proc, sig)
        still_sending = replay.poll() is None
    finally:
        replay.kill()
        replay.wait()
    assert still_sending, "the signal came after the replay ended: not mid-capture"
    assert proc.returncode == 0, err
    assert "Traceback" not in err and f"stopped by {sig.name}" in err
    live = _complete_outputs(tmp_path, out)
    assert live["live"]["stopped_by"] == sig.name
    assert live["capture"]["packets"] >= 500


def _live_during_a_paced_replay(veth, tmp_path: Path):
    """live with -w, --json, --events and --plain on rx0, and the bulk capture replayed at 400 pps (about 5 s)
    so that what the test does next lands mid-capture: (live, replay, the replayed file, the -w file)."""
    eth = _bulk(tmp_path)
    out = tmp_path / "live.pcapng"
    proc = veth.live("-i", veth.rx_if, "-w", out, "--json", tmp_path / "live.json", "--events",
                     tmp_path / "ev.jsonl", "--plain", ready=tmp_path / "ready")
    replay = subprocess.Popen(["ip", "netns", "exec", veth.tx, "tcpreplay", "-q", "-i", veth.tx_if, "-p", "400",
                               str(eth)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, replay, eth, out


def test_the_interface_going_down_and_up_mid_capture_is_reported_and_capture_resumes(veth, tmp_path):
    """libpcap keeps waiting on an interface that goes down; live says so every second and captures again when it
    comes back.  Stopped afterwards, every file is whole."""
    proc, replay, eth, out = _live_during_a_paced_replay(veth, tmp_path)
    try:
        _wait_for_packets(proc, 300)
        veth.link(False)
        line = ""
        while " rx0 DOWN" not in line:
            line = proc.stdout.readline()
            assert line, "live ended when the link went down"
        down_at = int(line.split("packets ")[1].split()[0])
        veth.link(True)
        replay.wait(60)
        veth.replay(eth)                   # after it came back: captured again
        time.sleep(0.5)
        _out, err = _stop(proc)
    finally:
        replay.kill()
        replay.wait()
        veth.link(True)
    assert proc.returncode == 0, err
    live = _complete_outputs(tmp_path, out)
    iface = live["live"]["interfaces"][0]
    assert iface["went_down"] == 1 and iface["link"] == "up" and iface["ended"] is None
    assert live["capture"]["packets"] >= down_at + 1945     # the second replay, whole


def test_the_interface_removed_mid_capture_ends_the_run_and_keeps_what_was_captured(veth, tmp_path):
    proc, replay, eth, out = _live_during_a_paced_replay(veth, tmp_path)
    try:
        _wait_for_packets(proc, 300)
        veth.remove_link()
        _out, err = proc.communicate(timeout=60)
    finally:
        replay.kill()
        replay.wait()
        veth.up()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("sctpcorr: error: capture ended on every interface: rx0: The interface disappeared"), err
    live = _complete_outputs(tmp_path, out)
    assert live["live"]["stopped_by"] == "interfaces down" and live["live"]["interfaces"][0]["ended"]
    assert live["capture"]["packets"] >= 300
