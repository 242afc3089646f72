"""What `sctpcorr probe` costs: bulk SCTP throughput with every probe attached vs detached, as a ratio.

Runs INSIDE the lab guest (root, SCTP, the probe process already running with ``--toggle-signals``): two network
namespaces joined by one veth pair (MTU 1500, SCTP checksum offload and GSO off, like the lab), a one-to-one
association, a sender (bench/sctp_blast.c, compiled with cc at start) pushing 16 KiB messages (12 DATA chunks
each) as fast as the socket takes them and a receiver reading them, for ``seconds`` per round.  Rounds alternate probes on/off (SIGUSR2/SIGUSR1 to the probe
process, which attaches/detaches its kprobes without recompiling) in the order on,off,off,on,on,off... so that
a slow drift of the machine does not favour either side.  Result: throughput per round and
``ratio = median(on) / median(off)``; the cost is ``1 - ratio``; ``stdev_off_pct`` says how noisy the machine was
(a cost smaller than that noise is not resolved).  "On" includes the recorder decoding and writing every event.

Caveat: the lab guest runs under QEMU TCG (no KVM), so every instruction (kernel, BPF JIT output, Python) is
emulated; the ratio is a proxy for the probes' relative per-packet cost, not a measurement of real hardware.

    python bench/probe_overhead.py --probe-pid PID --seconds 5 --rounds 6 --out result.json
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

NS = ("bencha", "benchb")
ADDR = ("10.77.0.1", "10.77.0.2")
PORT = 7777
MSG = 16384


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


BLAST_SRC = Path(__file__).resolve().parent / "sctp_blast.c"
BLAST = "/tmp/sctp_blast"


def build_blast() -> str:
    subprocess.run(["cc", "-O2", "-o", BLAST, str(BLAST_SRC)], check=True, capture_output=True, text=True)
    return BLAST


def measure(seconds: float, port: int) -> dict:
    """One bulk transfer from netns A to netns B for ``seconds``: bytes per second the receiver got."""
    srv = subprocess.Popen(["ip", "netns", "exec", NS[1], BLAST, "server", ADDR[1], str(port)],
                           stdout=subprocess.PIPE, text=True)
    assert srv.stdout is not None
    if "READY" not in srv.stdout.readline():
        srv.kill()
        raise RuntimeError("sctp_blast server did not start")
    cli = subprocess.run(["ip", "netns", "exec", NS[0], BLAST, "client", ADDR[1], str(port), str(seconds),
                          str(MSG)], capture_output=True, text=True, timeout=seconds + 120)
    out, _ = srv.communicate(timeout=120)
    if cli.returncode or srv.returncode:
        raise RuntimeError(f"sctp_blast failed: client {cli.returncode} {cli.stderr.strip()}, server "
                           f"{srv.returncode}")
    got, dur = out.split()
    sent, _sdur = cli.stdout.split()
    return {"bytes_received": int(got), "bytes_sent": int(sent), "receive_s": float(dur),
            "bytes_per_s": round(int(got) / float(dur)) if float(dur) > 0 else 0}


def run(probe_pid: int, seconds: float, rounds: int, settle_s: float = 1.0) -> dict:
    build_blast()
    setup()
    try:
        order = []
        for i in range(rounds):
            order += ["on", "off"] if i % 2 == 0 else ["off", "on"]
        results = []
        state = None
        for i, want in enumerate(order):
            if want != state:
                os.kill(probe_pid, signal.SIGUSR2 if want == "on" else signal.SIGUSR1)
                state = want
                time.sleep(settle_s)
            r = measure(seconds, PORT + i)
            r.update(probes=want, seconds=seconds)
            results.append(r)
        os.kill(probe_pid, signal.SIGUSR2)   # leave the probes attached
    finally:
        teardown()
    on = [r["bytes_per_s"] for r in results if r["probes"] == "on"]
    off = [r["bytes_per_s"] for r in results if r["probes"] == "off"]
    ratio = statistics.median(on) / statistics.median(off) if off and statistics.median(off) else None
    return {"rounds": results, "median_on_bytes_per_s": statistics.median(on),
            "median_off_bytes_per_s": statistics.median(off), "mean_on_bytes_per_s": statistics.mean(on),
            "mean_off_bytes_per_s": statistics.mean(off),
            "stdev_off_pct": round(100 * statistics.pstdev(off) / statistics.mean(off), 1),
            "ratio_on_over_off": ratio, "cost_pct": None if ratio is None else round((1 - ratio) * 100, 2),
            "message_bytes": MSG, "target_cost_pct": 5.0}


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
