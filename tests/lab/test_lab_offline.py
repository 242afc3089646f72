"""Lab pieces that need no guest: scenarios, topology commands, the socket-API structs, the pcapng writer and
the bundle reader (including the truncated files an interrupted run leaves)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from sctpcorr.lab import bundle, capture, scenario, sctp_api, topology

ROOT = Path(__file__).resolve().parents[2]


# --- scenarios ------------------------------------------------------------------------------------------------

def test_shipped_scenarios_load_and_cover_the_issue():
    ships = scenario.shipped()
    assert set(ships) >= {"baseline", "lossy", "failover", "ngap-like", "bulk", "slow-receiver"}
    for name, path in ships.items():
        sc = scenario.load_file(path)
        assert sc["name"] == name
        assert sc["description"]
    ngap = scenario.load("ngap-like")
    assert ngap["server"]["port"] == 38412 and ngap["client"]["ppid"] == 60
    assert len(ngap["client"]["streams"]) >= 10
    fo = scenario.load("failover")
    assert fo["timeline"] and fo["timeline"][0]["c2s"]["loss_pct"] == 100
    assert scenario.load("lossy")["paths"]["p1"]["c2s"]["loss_pct"] > 0
    hd = scenario.load("hostdelay")
    assert hd["paths"]["p1"]["client_egress"]["delay_ms"] == 15 == hd["paths"]["p2"]["client_egress"]["delay_ms"]


def test_host_egress_netem_is_set_on_the_endpoints_own_interface():
    """client_egress/server_egress shape the endpoint's own interface (inside that host, before its capture
    point); c2s/s2c the router's."""
    assert topology.netem_command("p1", "client_egress", {"delay_ms": 15.0}) == [
        "tc", "-n", "cli", "qdisc", "replace", "dev", "c1", "root", "netem", "delay", "15ms", "limit", "10000"]
    assert topology.netem_command("p2", "server_egress", {"delay_ms": 5.0})[:7] == [
        "tc", "-n", "srv", "qdisc", "replace", "dev", "s2"]
    assert topology.netem_command("p1", "c2s", {})[:7] == ["tc", "-n", "rtr", "qdisc", "replace", "dev", "rs1"]
    sc = scenario.validate({"name": "x", "timeline": [{"at_s": 1, "path": "p1", "client_egress": {"delay_ms": 3}}]})
    assert sc["timeline"][0]["client_egress"] == {"delay_ms": 3.0}


@pytest.mark.parametrize("bad, msg", [
    ({"clinet": {}}, "unknown key 'clinet'"),
    ({"client": {"sise": 3}}, "unknown key client.'sise'"),
    ({"paths": {"p3": {}}}, "unknown path"),
    ({"paths": {"p1": {"c2s": {"delay": 5}}}}, "unknown netem key"),
    ({"paths": {"p1": {"c2s": {"loss_pct": 140}}}}, "<= 100"),
    ({"paths": {"p1": {"c2s": {"reorder_pct": 5}}}}, "needs delay_ms"),
    ({"paths": {"p1": {"client_out": {"delay_ms": 5}}}}, "unknown direction 'client_out'"),
    ({"client": {"streams": [9]}}, "below association.streams"),
    ({"client": {"size": 8}}, "16 <= min"),
    ({"client": {"style": "one-to-many", "associations": 2}}, "one association per server"),
    ({"timeline": [{"path": "p1"}]}, "needs at_s"),
])
def test_bad_scenarios_are_refused_before_boot(bad, msg):
    with pytest.raises(scenario.ScenarioError, match=msg.replace("(", r"\(").replace(".", r"\.")):
        scenario.validate(dict(bad, name="x"))


def test_user_copy_of_a_scenario(tmp_path):
    src = scenario.find("baseline").read_text()
    p = tmp_path / "mine.toml"
    p.write_text(src.replace('name = "baseline"', 'name = "mine"').replace("messages = 100", "messages = 7"))
    sc = scenario.load(str(p))
    assert sc["name"] == "mine" and sc["client"]["messages"] == 7 and sc["source"] == str(p)
    with pytest.raises(scenario.ScenarioError, match="unknown scenario"):
        scenario.load("no-such-scenario")


# --- topology --------------------------------------------------------------------------------------------------

def test_netem_arguments():
    assert topology.netem_args({}) == ["limit", "10000"]
    args = topology.netem_args({"delay_ms": 20, "jitter_ms": 2.5, "loss_pct": 5, "reorder_pct": 10,
                                "rate_kbit": 20000, "limit": 500})
    assert args == ["delay", "20ms", "2.5ms", "loss", "random", "5%", "reorder", "10%", "rate", "20000kbit",
                    "limit", "500"]
    # impairments in the middle: c2s shapes the router's interface towards the server
    assert topology.netem_command("p1", "c2s", {})[:7] == ["tc", "-n", "rtr", "qdisc", "replace", "dev", "rs1"]
    assert topology.netem_line("p2", "s2c", {"delay_ms": 1}).startswith("qdisc replace dev rc2 root netem delay 1ms")


def test_topology_is_two_disjoint_paths():
    t = topology.topology()
    assert t["client_addrs"] == ["198.18.1.1", "198.18.2.1"]
    assert t["server_addrs"] == ["198.19.1.1", "198.19.2.1"]
    batches = topology.setup_batches()
    cli_lines = next(lines for argv, lines in batches if argv[:3] == ["ip", "-n", "cli"])
    assert "route add 198.19.1.0/24 via 198.18.1.254 dev c1" in cli_lines
    assert "route add 198.19.2.0/24 via 198.18.2.254 dev c2" in cli_lines
    assert not any("default" in line for _, lines in batches for line in lines)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2 (netns)")
def test_topology_builds_and_forwards_on_this_kernel():
    """The exact batches the guest runs build a working network here too (no SCTP needed: ping both paths)."""
    if subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.strip():
        pytest.skip("network namespaces already exist on this host; not touching them")
    fwd = Path("/proc/sys/net/ipv4/ip_forward")
    old = fwd.read_text()
    try:
        fwd.write_text("1\n")
        for argv, lines in topology.setup_batches():
            r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
        from sctpcorr.lab import netns
        for p in ("p1", "p2"):   # UDP across each path, through the router namespace
            dst = topology.PATHS[p]["server"]
            got = []

            def serve(addr=dst):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((addr, 9999))
                s.settimeout(5)
                got.append(s.recvfrom(100))

            srv = netns.spawn("srv", "srv", serve)
            time.sleep(0.2)
            cli = netns.spawn("cli", "cli", lambda a=dst: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                              .sendto(b"hi", (a, 9999)))
            cli.join(5)
            srv.join(6)
            assert srv.error is None and got and got[0][1][0] == topology.PATHS[p]["client"], (srv.error, got)
        route = subprocess.run(["ip", "-n", "cli", "route", "get", "198.19.2.1"], capture_output=True,
                               text=True).stdout
        assert "dev c2" in route and "src 198.18.2.1" in route
    finally:
        subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(topology.teardown_lines()) + "\n",
                       capture_output=True, text=True)
        fwd.write_text(old)


# --- socket API structs ------------------------------------------------------------------------------------------

C_SIZES = r"""
#include <stdio.h>
#include <stddef.h>
#include <netinet/in.h>
#include <linux/sctp.h>
int main(void) {
  printf("%zu %zu %zu %zu %zu %zu %zu %zu\n", sizeof(struct sctp_sndinfo), sizeof(struct sctp_rcvinfo),
         sizeof(struct sctp_paddrparams), sizeof(struct sctp_paddrinfo), sizeof(struct sctp_status),
         offsetof(struct sctp_paddrparams, spp_flags), sizeof(struct sctp_info),
         offsetof(struct sctp_info, sctpi_p_cwnd));
  return 0;
}
"""


@pytest.mark.skipif(not shutil.which("cc") or not Path("/usr/include/linux/sctp.h").exists(),
                    reason="needs a C compiler and linux/sctp.h (linux-libc-dev)")
def test_struct_layouts_match_linux_headers(tmp_path):
    from sctpcorr.lab import sockdiag
    src = tmp_path / "s.c"
    src.write_text(C_SIZES)
    subprocess.run(["cc", "-o", str(tmp_path / "s"), str(src)], check=True)
    got = [int(x) for x in subprocess.run([str(tmp_path / "s")], capture_output=True, text=True).stdout.split()]
    ours = [sctp_api._SNDINFO.size, sctp_api._RCVINFO.size, sctp_api._PADDRPARAMS.size,
            sctp_api._PADDRINFO.size, sctp_api._STATUS_HEAD.size + sctp_api._PADDRINFO.size,
            struct.calcsize("=i128sIHII"), sockdiag._INFO.size,
            struct.calcsize("=IIIHHHHIIIIIIIIBBH14Q128si")]
    assert ours == got


def test_notification_and_rcvinfo_decoding():
    raw = struct.pack("=HHIHHHHi", sctp_api.SCTP_ASSOC_CHANGE, 0, 20, 0, 0, 10, 12, 7)
    n = sctp_api.parse_notification(raw)
    assert n == {"kind": "assoc_change", "state": "COMM_UP", "error": 0, "outbound_streams": 10,
                 "inbound_streams": 12, "assoc_id": 7}
    sa = sctp_api.sockaddr_in("198.18.1.1", 5000).ljust(128, b"\0")
    raw = struct.pack("=HHI", sctp_api.SCTP_PEER_ADDR_CHANGE, 0, 148) + sa + struct.pack("=iii", 1, 0, 3)
    assert sctp_api.parse_notification(raw) == {"kind": "peer_addr_change", "addr": "198.18.1.1",
                                                "state": "ADDR_UNREACHABLE", "error": 0, "assoc_id": 3}
    assert sctp_api.parse_notification(b"\x01") == {"kind": "truncated", "length": 1}
    info = struct.pack("=HHH2xIIIIi", 3, 9, 0, socket.htonl(60), 1234, 1233, 0, 5)
    r = sctp_api.unpack_rcvinfo([(132, sctp_api.SCTP_RCVINFO, info)])
    assert (r.sid, r.ssn, r.ppid, r.tsn, r.assoc_id) == (3, 9, 60, 1234, 5)
    lvl, typ, data = sctp_api.pack_sndinfo(4, 60, sctp_api.SCTP_UNORDERED)
    assert (lvl, typ) == (132, 2) and data[4:8] == b"\x00\x00\x00\x3c"


# --- pcapng writer and the bundle reader ---------------------------------------------------------------------------

def _frame() -> bytes:
    ip = bytes.fromhex("450000200001000040840000c6120101c6130101")   # IPv4, proto 132, 198.18.1.1 -> 198.19.1.1
    return bytes(12) + b"\x08\x00" + ip + bytes(12)


def test_pcapng_blocks_read_back(tmp_path):
    p = tmp_path / "x.pcapng"
    t = 1_795_000_000_123_456_789
    p.write_bytes(capture.pcapng_shb() + capture.pcapng_idb("c1", 65535) + capture.pcapng_idb("c2", 65535)
                  + capture.pcapng_epb(0, t, _frame(), 46, True) + capture.pcapng_epb(1, t + 1000, _frame(), 46,
                                                                                       False)
                  + capture.pcapng_isb(0, t + 2000, 2, 0))
    info = bundle.capture_info(p)
    assert info["format"] == "pcapng" and info["packets"] == 2 and info["interfaces"] == ["c1", "c2"]
    assert info["first_ts_ns"] == t and info["last_ts_ns"] == t + 1000 and not info["truncated_tail"]
    if shutil.which("tshark"):
        out = subprocess.run(["tshark", "-r", str(p), "-T", "fields", "-e", "frame.time_epoch", "-e",
                              "frame.interface_name", "-e", "ip.src", "-e", "frame.packet_flags_direction"],
                             capture_output=True, text=True, check=True).stdout.splitlines()
        assert out[0].split("\t")[:3] == ["1795000000.123456789", "c1", "198.18.1.1"]
        assert out[1].split("\t")[1] == "c2"
    # an interrupted writer: cut inside the last block
    data = p.read_bytes()
    (tmp_path / "cut.pcapng").write_bytes(data[:-30])
    cut = bundle.capture_info(tmp_path / "cut.pcapng")
    assert cut["truncated_tail"] and cut["packets"] == 2   # the ISB was cut, both packets survive


@contextlib.contextmanager
def _veth_in_netns(ns: str, inner: str, outer: str, net: str):
    """A veth pair: ``inner`` in a new namespace ``ns`` as NET.1/24, ``outer`` here as NET.2/24 (skips where
    namespaces cannot be made); both gone afterwards."""
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
        pytest.skip("cannot create a network namespace")
    try:
        cmds = [f"link add {inner} type veth peer name {outer}", f"link set {inner} netns {ns}"]
        subprocess.run(["ip", "-batch", "-"], input="\n".join(cmds) + "\n", text=True, check=True)
        subprocess.run(["ip", "-n", ns, "-batch", "-"], input=f"addr add {net}.1/24 dev {inner}\n"
                       f"link set {inner} up\nlink set lo up\n", text=True, check=True)
        subprocess.run(["ip", "link", "set", outer, "up"], check=True)
        subprocess.run(["ip", "addr", "add", f"{net}.2/24", "dev", outer], check=True)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        subprocess.run(["ip", "link", "del", outer], capture_output=True)


def _started_capture(path: str, iface: str, ns: str):
    """capture.Capture of ``iface`` into ``path``, run in namespace ``ns`` by a thread, once it is capturing."""
    from sctpcorr.lab import netns

    cap = capture.Capture(path, [iface])

    def body():
        cap.open()
        return cap.run()
    th = netns.spawn("cap", ns, body)
    assert cap.ready.wait(10), th.error
    return cap, th


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, AF_PACKET)")
def test_capture_thread_records_both_directions(tmp_path):
    """capture.Capture on a veth pair in a namespace of this host: outbound and inbound, kernel timestamps."""
    with _veth_in_netns("sctpcorr-captest", "cta", "ctb", "198.18.77") as ns:
        cap, th = _started_capture(str(tmp_path / "c.pcapng"), "cta", ns)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("198.18.77.2", 0))
        for i in range(5):
            u.sendto(b"x" * (10 + i), ("198.18.77.1", 9))   # in: to the namespace (answered by ICMP: out)
        time.sleep(0.5)
        cap.stop.set()
        th.join(10)
        assert th.error is None and not th.is_alive()
        counts = th.result["cta"]
        assert counts["captured"] >= 5 and counts["kernel_drops"] == 0
        info = bundle.capture_info(tmp_path / "c.pcapng")
        assert info["packets"] == counts["captured"] and info["interfaces"] == ["cta"]
        if shutil.which("tshark"):
            out = subprocess.run(["tshark", "-r", str(tmp_path / "c.pcapng"), "-Y", "udp or icmp", "-T", "fields",
                                  "-e", "ip.src", "-e", "frame.packet_flags_direction"],
                                 capture_output=True, text=True, check=True).stdout.split("\n")
            rows = {(r.split("\t")[0].split(",")[0], int(r.split("\t")[1], 16)) for r in out if r}
            assert ("198.18.77.2", 1) in rows        # inbound UDP
            assert ("198.18.77.1", 2) in rows        # outbound ICMP port unreachable


def test_bundle_reader_tolerates_an_interrupted_run(tmp_path):
    b = tmp_path / "b"
    (b / "workload").mkdir(parents=True)
    bundle.write_manifest(b, {"schema": 1, "complete": False, "phase": "workload",
                              "scenario": {"name": "baseline"}, "interrupted": {"reason": "timeout", "phase": "workload"}})
    lines = [json.dumps({"type": "send", "seq": i}) for i in range(3)]
    (b / "workload" / "client.jsonl").write_text("\n".join(lines) + '\n{"type": "se')   # cut mid-record
    (b / "client.pcapng").write_bytes(capture.pcapng_shb() + capture.pcapng_idb("c1", 65535)
                                      + capture.pcapng_epb(0, 1, _frame(), 46, True)[:-8])
    s = bundle.summary(b)
    assert s["complete"] is False and s["interrupted"]["reason"] == "timeout"
    assert s["workload"]["client"] == {"records": 3, "bad_lines": 1, "sent": 3, "received": 0,
                                       "paddr_changes": 0, "errors": 0, "ended": False}
    assert s["captures"]["client"]["packets"] == 0 and s["captures"]["client"]["truncated_tail"]
    # a manifest replaced mid-write leaves the previous one readable
    (b / "manifest.json").write_text('{"schema": 1, "compl')
    (b / "manifest.json.tmp").write_text(json.dumps({"schema": 1, "complete": False, "phase": "setup"}))
    assert bundle.read_manifest(b)["phase"] == "setup"


def test_cli_list_and_show(tmp_path):
    from click.testing import CliRunner

    from sctpcorr.lab.cli import lab
    r = CliRunner().invoke(lab, ["list"])
    assert r.exit_code == 0 and "ngap-like" in r.output and "failover" in r.output
    r = CliRunner().invoke(lab, ["show", str(tmp_path)])
    assert r.exit_code != 0 and "not a lab bundle" in r.output
    r = CliRunner().invoke(lab, ["run", "no-such", "--out", str(tmp_path / "o")])
    assert r.exit_code == 1 and "unknown scenario" in r.output


def test_prerequisite_message_is_one_line_naming_packages(monkeypatch):
    from sctpcorr.lab import runner
    monkeypatch.setattr(runner.shutil, "which", lambda exe: None)
    monkeypatch.setattr(runner, "find_vng", lambda: None)
    monkeypatch.setattr(runner, "find_kernel", lambda: (_ for _ in ()).throw(runner.LabError("x")))
    monkeypatch.setattr(runner, "_is_static_elf", lambda p: False)
    pr = runner.check_prerequisites()
    msg = pr.message()
    assert not pr.ok and "\n" not in msg
    for pkg in ("linux-image-amd64", "qemu-system-x86", "busybox-static", "iproute2", "virtme-ng"):
        assert pkg in msg


def test_find_kernel_reads_boot(tmp_path):
    from sctpcorr.lab import runner
    for ver, sctp in (("6.1.0-9-amd64", "m"), ("6.1.0-12-amd64", "m"), ("6.5.0-1-amd64", None)):
        (tmp_path / f"vmlinuz-{ver}").write_bytes(b"x")
        (tmp_path / f"config-{ver}").write_text(f"CONFIG_HZ=250\n" + (f"CONFIG_IP_SCTP={sctp}\n" if sctp else ""))
    assert runner.find_kernel(tmp_path)[0] == "6.1.0-12-amd64"   # newest with SCTP, numeric order
    with pytest.raises(runner.LabError, match="linux-image-amd64"):
        runner.find_kernel(tmp_path / "none")


def test_probe_hook_waits_for_the_ready_file_and_reports_a_dead_recorder(tmp_path):
    """The lab's probe hook starts the recorder and holds the workload back until `--ready-file` appears (BCC
    compiles for minutes under TCG); a recorder that dies first is an error with its output, not a silent run."""
    from sctpcorr.lab import guest, scenario

    sc = scenario.load("baseline")
    lab = guest.Lab(str(tmp_path / "ok"), sc, {"probe_command": [
        "sh", "-c", "sleep 1.5; echo compiled; echo $$ > {ready}; sleep 30"]})
    t0 = time.monotonic()
    lab.start_probe_recorder()
    waited = time.monotonic() - t0
    m = bundle.read_manifest(tmp_path / "ok")
    assert waited >= 1.5 and m["probe"]["status"] == "started" and m["probe"]["ready_after_s"] >= 1.5
    assert (tmp_path / "ok" / "kernel" / "probe.ready").exists()
    lab.procs["probe"].kill()
    lab.procs["probe"].wait()

    bad = guest.Lab(str(tmp_path / "bad"), sc, {"probe_command": [
        "sh", "-c", "echo 'sctpcorr: error: BCC is not installed' ; exit 3 ; touch {ready}"]})
    with pytest.raises(RuntimeError, match="exited \\(3\\) before it was ready: sctpcorr: error: BCC"):
        bad.start_probe_recorder()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (netns, AF_PACKET, tmpfs)")
def test_a_full_disk_cuts_the_capture_at_its_last_whole_packet(small_disk):
    """capture.Capture writing to a 256 KiB tmpfs while 1 KB datagrams pass: the write that finds the disk full
    leaves the file whole up to its last packet, the error names the file, the rest is counted, not written."""
    with _veth_in_netns("sctpcorr-capfull", "cfa", "cfb", "198.18.78") as ns:
        path = small_disk.path / "c.pcapng"
        cap, th = _started_capture(str(path), "cfa", ns)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("198.18.78.2", 0))
        for i in range(600):                       # ~600 KB in, more than the disk holds
            u.sendto(b"x" * 1000, ("198.18.78.1", 9))
            if i % 50 == 49:
                time.sleep(0.12)                   # past the capture's flush interval
        time.sleep(0.5)
        cap.stop.set()
        th.join(10)
        assert th.error is None and not th.is_alive()
        res = th.result
        assert res["write_error"].startswith(f"{path}: no space left on device after ")
        assert res["packets_not_written"] > 0
        info = bundle.capture_info(path)
        assert not info.get("truncated_tail") and not info.get("error")
        assert info["packets"] == cap.packets > 50
        assert info["packets"] + res["packets_not_written"] == res["cfa"]["captured"]
