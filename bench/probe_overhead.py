"""What `sctpcorr probe` costs: bulk SCTP throughput with every probe attached vs detached, as a ratio.

Runs INSIDE the lab guest (root, SCTP, the probe process already running with ``--toggle-signals``): two network
namespaces joined by one veth pair (MTU 1500, SCTP checksum offload and GSO off, like the lab), a one-to-one
association, a sender pushing 16 KiB messages (12 DATA chunks each) as fast as the socket takes them and a
receiver reading them, for ``seconds`` per round.  Rounds alternate probes on/off (SIGUSR2/SIGUSR1 to the probe
process, which attaches/detaches its kprobes without recompiling) in the order on,off,off,on,on,off... so that
a slow drift of the machine does not favour either side.  Result: throughput per round and
``ratio = mean(on) / mean(off)``; the cost is ``1 - ratio``.

Caveat: the lab guest runs under QEMU TCG (no KVM), so every instruction (kernel, BPF JIT output, Python) is
emulated; the ratio is a proxy for the probes' relative per-packet cost, not a measurement of real hardware.

    python bench/probe_overhead.py --probe-pid PID --seconds 5 --rounds 6 --out result.json
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

NS = ("bencha", "benchb")
ADDR = ("10.77.0.1", "10.77.0.2")
PORT = 7777
MSG = 16384
CLONE_NEWNET = 0x40000000


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60)


def setup() -> None:
    teardown()
    for n in NS:
        sh("ip", "netns", "add", n)
    sh("ip", "link", "add", "bva", "netns", NS[0], "type", "veth", "peer", "name", "bvb", "netns", NS[1])
    for n, dev, a in ((NS[0], "bva", ADDR[0]), (NS[1], "bvb", ADDR[1])):
        sh("ip", "-n", n, "addr", "add", f"{a}/24", "dev", dev)
        sh("ip", "-n", n, "link", "set", dev, "up")
        sh("ip", "-n", n, "link", "set", "lo", "up")
        subprocess.run(["ip", "netns", "exec", n, "ethtool", "-K", dev, "tx-checksum-sctp", "off",
                        "tx-sctp-segmentation", "off"], capture_output=True)


def teardown() -> None:
    for n in NS:
        subprocess.run(["ip", "netns", "del", n], capture_output=True)


def _enter(name: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {name}")
    finally:
        os.close(fd)


def _in_ns(name: str, fn, *args):
    """Run fn(*args) in a thread that entered netns ``name``; returns the thread and a result box."""
    box: dict = {}

    def body() -> None:
        try:
            _enter(name)
            box["result"] = fn(*args)
        except Exception as e:  # noqa: BLE001 - reported by the caller
            box["error"] = e
    th = threading.Thread(target=body, daemon=True)
    th.start()
    return th, box


def _listener() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ADDR[1], PORT))
    s.listen(1)
    return s


def _connect() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    s.connect((ADDR[1], PORT))
    return s


def measure(conn_tx: socket.socket, conn_rx: socket.socket, seconds: float) -> float:
    """Bytes per second delivered to the receiver over ``seconds``."""
    stop = threading.Event()
    got = [0]

    def rx() -> None:
        conn_rx.settimeout(0.5)
        while not stop.is_set():
            try:
                d = conn_rx.recv(1 << 16)
            except socket.timeout:
                continue
            if not d:
                return
            got[0] += len(d)

    th = threading.Thread(target=rx, daemon=True)
    th.start()
    payload = b"b" * MSG
    conn_tx.settimeout(0.5)
    t0 = time.monotonic()
    start_bytes = got[0]
    while time.monotonic() - t0 < seconds:
        try:
            conn_tx.send(payload)
        except socket.timeout:
            pass
    t1 = time.monotonic()
    n = got[0] - start_bytes
    stop.set()
    th.join(2)
    return n / (t1 - t0)


def run(probe_pid: int, seconds: float, rounds: int, settle_s: float = 1.0) -> dict:
    setup()
    try:
        th, box = _in_ns(NS[1], _listener)
        th.join(30)
        lst = box["result"]
        th, box = _in_ns(NS[0], _connect)
        th.join(30)
        if "error" in box:
            raise box["error"]
        tx = box["result"]
        rx, _ = lst.accept()
        order = []
        for i in range(rounds):
            order += ["on", "off"] if i % 2 == 0 else ["off", "on"]
        results = []
        state = None
        for want in order:
            if want != state:
                os.kill(probe_pid, signal.SIGUSR2 if want == "on" else signal.SIGUSR1)
                state = want
                time.sleep(settle_s)
            bps = measure(tx, rx, seconds)
            results.append({"probes": want, "bytes_per_s": round(bps), "seconds": seconds})
        os.kill(probe_pid, signal.SIGUSR2)   # leave the probes attached
        tx.close()
        rx.close()
        lst.close()
    finally:
        teardown()
    on = [r["bytes_per_s"] for r in results if r["probes"] == "on"]
    off = [r["bytes_per_s"] for r in results if r["probes"] == "off"]
    ratio = statistics.mean(on) / statistics.mean(off) if off and statistics.mean(off) else None
    return {"rounds": results, "mean_on_bytes_per_s": statistics.mean(on), "mean_off_bytes_per_s":
            statistics.mean(off), "ratio_on_over_off": ratio, "cost_pct": None if ratio is None else
            round((1 - ratio) * 100, 2), "message_bytes": MSG, "target_cost_pct": 5.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--probe-pid", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="pairs of (on, off) measurements")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    res = run(a.probe_pid, a.seconds, a.rounds)
    text = json.dumps(res, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
