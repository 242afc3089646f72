#!/usr/bin/env python3
"""What the telecom layer costs: ``sctpcorr pcap --json`` with ``--telecom`` beside the same run without it and
beside tshark's NGAP dissection, on a million-packet NGAP capture.

The corpus: ``bench/build_corpus.py --sources open5gs/testregistration.pcapng`` (the open5gs 5G registrations
replayed as 27 lanes, ~405 long-lived associations, every packet one NGAP DATA chunk or a SACK), written to
bench/out/ngap-<N>.pcap when missing.  Each tool runs pinned to one core (taskset), ``--repeat`` times, the best
wall time kept; CPU time (user + system of the child) and peak memory are printed beside it.

  sctpcorr            ``sctpcorr pcap --json -o /dev/null F``: the wire analysis alone
  sctpcorr --telecom  the same with every user message named, matched and followed (pcap --telecom)
  tshark NGAP         ``tshark -r F -Y ngap -T fields -e ngap.procedureCode``: tshark dissecting every NGAP PDU

Target (issue #10): the layer costs at most half of the wire analysis' speed: packets/s with ``--telecom`` at
least 0.5 x packets/s without.  A measurement printed for people, not a test.  Writes bench/out/telecom.json.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
PY = os.path.join(ROOT, ".venv", "bin", "python")
SOURCE = "open5gs/testregistration.pcapng"


def corpus(packets: int) -> str:
    path = os.path.join(OUT, f"ngap-{packets // 1000}k.pcap" if packets % 1_000_000 else
                        f"ngap-{packets // 1_000_000}m.pcap")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(HERE, "build_corpus.py"), "--sources", SOURCE, "--packets",
                        str(packets), "--out", path, "-q"], check=True)
    return path


# as installed: Python's compiled modules written and used (an environment that says PYTHONDONTWRITEBYTECODE
# would have every run compile sctpcorr's modules again, ~30 ms)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], cpu: str) -> dict:
    pre = ["taskset", "-c", cpu] if cpu != "none" else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.monotonic()
    wrap = ["/usr/bin/time", "-f", "MAXRSS %M"] if os.path.exists("/usr/bin/time") else []   # Debian: "time"
    p = subprocess.run([*wrap, *pre, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    wall = time.monotonic() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"{argv[0]}: exit {p.returncode}: {p.stderr[-500:]}")
    rss = next((int(x.split()[1]) for x in reversed(p.stderr.splitlines()) if x.startswith("MAXRSS ")), 0)
    return {"wall_s": round(wall, 3), "cpu_s": round(after.ru_utime - before.ru_utime + after.ru_stime
                                                      - before.ru_stime, 3), "max_rss_mb": round(rss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cpu", default="0")
    ap.add_argument("--skip-tshark", action="store_true")
    a = ap.parse_args(argv)
    f = corpus(a.packets)
    tools = {
        "sctpcorr": [PY, "-m", "sctpcorr.cli", "pcap", "--json", "-o", "/dev/null", f],
        "sctpcorr --telecom": [PY, "-m", "sctpcorr.cli", "pcap", "--telecom", "--json", "-o", "/dev/null", f],
    }
    if not a.skip_tshark:
        tools["tshark NGAP"] = ["tshark", "-r", f, "-Y", "ngap", "-T", "fields", "-e", "ngap.procedureCode"]
    for name in ("sctpcorr", "sctpcorr --telecom"):     # warm up: compiled modules written, file in the page cache
        timed(tools[name], a.cpu)
    runs: dict[str, list[dict]] = {k: [] for k in tools}
    for _ in range(a.repeat):                # alternate: a noisy machine moves every tool alike
        for name, cmd in tools.items():
            runs[name].append(timed(cmd, a.cpu))
    best = {k: min(v, key=lambda r: r["wall_s"]) for k, v in runs.items()}
    print(f"corpus {f}: {a.packets:,} SCTP packets (NGAP DATA and SACKs); one core ({a.cpu}); best of {a.repeat}")
    print(f"{'tool':22s} {'wall s':>8s} {'cpu s':>8s} {'packets/s':>12s} {'max RSS MB':>11s}")
    for k, r in best.items():
        r["packets_per_s"] = round(a.packets / r["wall_s"])
        print(f"{k:22s} {r['wall_s']:8.2f} {r['cpu_s']:8.2f} {r['packets_per_s']:12,d} {r['max_rss_mb']:11.1f}")
    ratio = best["sctpcorr --telecom"]["packets_per_s"] / best["sctpcorr"]["packets_per_s"]
    verdict = "PASS" if ratio >= 0.5 else "FAIL"
    line = f"target: --telecom at least 0.5x the speed without it: {ratio:.3f}x -> {verdict}"
    if "tshark NGAP" in best:
        line += (f"; --telecom is {best['sctpcorr --telecom']['packets_per_s'] / best['tshark NGAP']['packets_per_s']:.2f}x "
                 "tshark's NGAP dissection")
    print(line)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "telecom.json"), "w") as out:
        json.dump({"corpus": f, "packets": a.packets, "runs": runs, "best": best, "ratio": ratio,
                   "verdict": verdict, "machine": os.uname().nodename, "date": time.strftime("%Y-%m-%d")}, out,
                  indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
