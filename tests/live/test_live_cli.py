"""``sctpcorr live``: metrics, rotation, --count/--duration, --follow and the errors a user meets first."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from children import default_signals
from corpora import CORPUS
from livenet import ROOT, pcap_json, to_ethernet, tshark_count


def _corpus(rel: str) -> Path:
    p = CORPUS / rel
    if not p.is_file():
        pytest.skip(f"{rel} not in the corpus")
    return p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(netns: str, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET url from inside ``netns`` (live listens on that namespace's loopback), parsed by the client library."""
    from prometheus_client.parser import text_string_to_metric_families

    get = f"import sys, urllib.request; sys.stdout.write(urllib.request.urlopen({url!r}, timeout=10).read().decode())"
    r = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", get], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_endpoint_serves_the_values_of_the_final_json(veth, tmp_path):
    pytest.importorskip("prometheus_client")
    eth = tmp_path / "eth.pcap"
    to_ethernet(_corpus("open5gs/testregistration.pcapng"), eth)
    port = _free_port()
    proc = veth.live("-i", veth.rx_if, "--metrics", f"127.0.0.1:{port}", "--top", "5", "--json",
                     tmp_path / "live.json", "--plain", ready=tmp_path / "ready")
    try:
        veth.replay(eth)
        # the metrics show a tick's snapshot: wait for a tick after the last packet
        deadline = time.monotonic() + 30
        while True:
            line = proc.stdout.readline()
            if "(0/s)" in line and "packets 0 " not in line:
                break
            assert time.monotonic() < deadline and line
        m = _scrape(veth.rx, f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads((tmp_path / "live.json").read_text())
    assocs = sorted(doc["associations"], key=lambda a: (-a["packets"], a["id"]))
    assert m[("sctpcorr_packets_total", ())] == doc["capture"]["packets"]
    assert m[("sctpcorr_interface_dropped_packets_total", (("interface", "rx0"), ("where", "kernel")))] == 0
    states = {}
    for a in assocs:
        states[a["state"]] = states.get(a["state"], 0) + 1
    for st, n in states.items():
        assert m[("sctpcorr_associations", (("state", st),))] == n
    # the top 5 one by one, the rest summed: bounded labels, nothing lost
    per = {k[1]: v for k, v in m.items() if k[0] == "sctpcorr_association_packets_total"}
    assert len(per) == 6
    for a in assocs[:5]:
        lab = (("assoc", str(a["id"])), ("ports", "/".join(map(str, a["ports"]))))
        assert per[lab] == a["packets"]
        for p in a["paths"]:
            plab = tuple(sorted(lab + (("src", p["src"]), ("dst", p["dst"]))))
            assert m[("sctpcorr_path_retransmissions_total", plab)] == p["retransmissions"]
            if p["rtt"].get("srtt_ns") is not None and p["rtt_scope"] == "path":
                assert m[("sctpcorr_path_srtt_seconds", plab)] == pytest.approx(p["rtt"]["srtt_ns"] / 1e9)
    assert per[(("assoc", "other"), ("ports", ""))] == sum(a["packets"] for a in assocs[5:])
    assert sum(per.values()) == sum(a["packets"] for a in assocs)


def test_rotation_count_and_duration(veth, tmp_path):
    """-C splits the -w file (each part reads alone, together they hold every packet once); --count stops at
    exactly N packets; --duration stops by itself."""
    eth = tmp_path / "eth.pcap"
    to_ethernet(_corpus("open5gs/testregistration.pcapng"), eth)
    out = tmp_path / "rot.pcapng"
    proc = veth.live("-i", veth.rx_if, "-w", out, "-C", "0.05", "-c", "1000", "--json", tmp_path / "live.json",
                     "-q", ready=tmp_path / "ready")
    veth.replay(eth)
    _o, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads((tmp_path / "live.json").read_text())
    assert doc["live"]["stopped_by"] == "count" and doc["capture"]["packets"] == 1000
    files = [Path(f) for f in doc["live"]["files_written"]]
    assert len(files) >= 3 and files[0] == out and files[1] == Path(f"{out}1")
    assert sum(tshark_count(f) for f in files) == 1000
    whole = pcap_json(*files)                  # the parts, in order, are the capture
    assert whole["associations"] == doc["associations"]
    t0 = time.monotonic()
    proc = veth.live("-i", veth.rx_if, "--duration", "1.5", "-q", ready=tmp_path / "ready2")
    _o, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped by duration" in err and time.monotonic() - t0 < 30


def test_follow_reads_a_capture_while_it_grows(tmp_path):
    """--follow: a file written in pieces (as tcpdump -w would) is read as it grows; the result equals pcap's."""
    src = _corpus("open5gs/testattach.pcapng").read_bytes()
    growing = tmp_path / "growing.pcapng"
    growing.write_bytes(src[:1000])
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "sctpcorr.cli", "live", "--follow", str(growing), "--json",
                             str(tmp_path / "f.json"), "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT, env=env, preexec_fn=default_signals)
    with open(growing, "ab") as f:
        for i in range(1000, len(src), 7001):      # pieces that end inside records
            time.sleep(0.05)
            f.write(src[i:i + 7001])
            f.flush()
    time.sleep(0.6)
    proc.send_signal(signal.SIGINT)
    _o, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads((tmp_path / "f.json").read_text())
    ref = pcap_json(growing)
    assert doc["capture"] == ref["capture"] and doc["associations"] == ref["associations"]


def _live(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "sctpcorr.cli", "live", *args]
    if user:
        cmd = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", "--inh-caps=-all", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=60)


def test_errors_are_one_line_and_exit_2():
    pytest.importorskip("sctpcorr.sources._livecap")
    r = _live("-i", "nosuch0", "--duration", "1")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("sctpcorr: error: nosuch0: no such interface")
    r = _live("-i", "lo", "-f", "sctp and and", "--duration", "1")
    assert r.returncode == 2 and r.stderr.startswith("sctpcorr: error: lo: the capture filter does not compile")
    r = _live("--duration", "1")
    assert r.returncode == 2 and "give -i IFACE" in r.stderr
    r = _live("-i", "lo", "--metrics", "nonsense:port")
    assert r.returncode == 2 and "expected HOST:PORT" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop it")
def test_not_permitted_names_the_missing_capability():
    pytest.importorskip("sctpcorr.sources._livecap")
    r = _live("-i", "lo", "--duration", "1", user="nobody")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert re.match(r"sctpcorr: error: lo: not permitted: capturing needs root or the CAP_NET_RAW capability",
                    r.stderr), r.stderr


def test_an_interface_down_at_start_is_a_one_line_error(veth, tmp_path):
    veth.link(False)
    try:
        r = subprocess.run(["ip", "netns", "exec", veth.rx, sys.executable, "-m", "sctpcorr.cli", "live", "-i",
                            veth.rx_if, "--duration", "1"], capture_output=True, text=True, cwd=ROOT, timeout=60,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
    finally:
        veth.link(True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"sctpcorr: error: {veth.rx_if}: the interface is down (ip link set {veth.rx_if} up)")


def test_any_interface_captures_linux_cooked_with_the_same_analysis(veth, tmp_path):
    """-i any: libpcap's Linux cooked capture, where the default filter's VLAN half does not compile (plain SCTP
    is then the same selection); the analysis equals the Ethernet capture's, link layer aside."""
    from livenet import timeless

    eth = tmp_path / "eth.pcap"
    to_ethernet(_corpus("open5gs/testregistration.pcapng"), eth)
    out = tmp_path / "any.pcapng"
    proc = veth.live("-i", "any", "-w", out, "--json", tmp_path / "any.json", "-q", ready=tmp_path / "ready")
    veth.replay(eth)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _o, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    doc = json.loads((tmp_path / "any.json").read_text())
    assert doc["files"][0]["link_types"][0]["name"] in ("LINUX_SLL", "LINUX_SLL2")
    assert tshark_count(out) == doc["capture"]["packets"] == 1306
    orig = pcap_json(_corpus("open5gs/testregistration.pcapng"))
    assert timeless(doc["associations"]) == timeless(orig["associations"])
