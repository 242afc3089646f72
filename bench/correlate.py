#!/usr/bin/env python3
"""Time ``sctpcorr correlate`` against the wire analysis alone (``sctpcorr pcap --json``) on the same captures.

The issue's target: correlating a bulk bundle of at least 1,000,000 wire packets with its kernel events takes no
more than twice as long as ``sctpcorr pcap --json`` on the same captures, measured in the same run, with flat
memory.

* **Input**: ``bench/out/corr-1m`` (1,000,000+ packets in two captures, ~900k kernel events as ``--raw``
  records), ``corr-500k`` and ``corr-250k`` (half and a quarter of it), built by
  ``bench/build_correlate_corpus.py`` from the committed lab bundle ``pcaps/lab/bulk`` when missing (~15 s each).
* **Peers, each in its own process pinned to one core** (``taskset -c 0``, or the core ``--cpu`` /
  ``SCTPCORR_BENCH_CPU`` names; the launcher of ``bench/run.py`` reads that child's own wall time, CPU time and
  peak RSS):

  - ``pcap client`` / ``pcap server``: ``sctpcorr pcap --json F`` on each capture (the wire analysis alone);
    their sum is what the correlator is compared with (it analyses both captures too);
  - ``correlate``: ``sctpcorr correlate BUNDLE`` (the text report, the main job);
  - ``validate``: ``sctpcorr validate BUNDLE`` (the CI gate; the run must PASS);
  - ``correlate --json``: the joined view with every RTT sample as JSON (reported, not part of the target);
  - ``correlate 500k`` and ``correlate 250k``: the same bundle at half and a quarter of the size, for memory: the
    correlator reads in windows of 300,000 kernel events (~300,000 packets here), so the peak RSS stops growing
    once a run is longer than a window: 1M / 500k should be about 1 (250k fits in one window: it shows the
    smaller peak of a run shorter than a window).

* **Rounds**: every peer runs once per round, in the order above, ``--repeat`` rounds (default 3); the table
  shows each peer's median wall time (all runs are in the JSON). The ratio is median(correlate) /
  (median(pcap client) + median(pcap server)); the PASS/FAIL line is a measurement printed for people, not a
  test.

Usage: ``.venv/bin/python bench/correlate.py [--repeat N] [--cpu 0|none] [--quick] [--corpus DIR]``; writes
``bench/out/correlate-results.json``.  ``--corpus DIR``: read (or build) the corr-* bundles there instead of
bench/out (another checkout's, say, with ``PYTHONPATH`` naming the checkout whose sctpcorr is measured).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
sys.path.insert(0, HERE)

from run import VENV_BIN, compile_bytecode, cpu_model, measure  # noqa: E402

SCTPCORR = os.path.join(VENV_BIN, "sctpcorr")
TARGET_RATIO = 2.0


def ensure_bundle(packets: int, name: str, corpus: str = OUT) -> dict:
    d = os.path.join(corpus, name)
    man = os.path.join(d, "manifest.json")
    if not os.path.exists(man):
        print(f"building {d} ({packets} packets) ...", flush=True)
        subprocess.run([os.path.join(VENV_BIN, "python"), os.path.join(HERE, "build_correlate_corpus.py"),
                        "--packets", str(packets), "--out", d], check=True, stdout=subprocess.DEVNULL)
    with open(man) as f:
        return json.load(f)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="rounds (every peer once per round)")
    ap.add_argument("--cpu", default=os.environ.get("SCTPCORR_BENCH_CPU", "0"),
                    help="core to pin to, or 'none' (default: $SCTPCORR_BENCH_CPU, else 0)")
    ap.add_argument("--corpus", default=OUT, help="where the corr-* bundles are (built there when missing)")
    ap.add_argument("--quick", action="store_true", help="100k/25k packets instead of 1M/250k")
    args = ap.parse_args(argv)
    os.makedirs(OUT, exist_ok=True)
    big, half, small = (100_000, 50_000, 25_000) if args.quick else (1_000_000, 500_000, 250_000)
    nb, nh, ns = ("corr-100k", "corr-50k", "corr-25k") if args.quick else ("corr-1m", "corr-500k", "corr-250k")
    mb = ensure_bundle(big, nb, args.corpus)
    ensure_bundle(half, nh, args.corpus)
    ensure_bundle(small, ns, args.corpus)
    db, dh, ds = (os.path.join(args.corpus, n) for n in (nb, nh, ns))
    pin = [] if args.cpu == "none" or not shutil.which("taskset") else ["taskset", "-c", args.cpu]
    code = subprocess.run([os.path.join(VENV_BIN, "python"), "-c", "import sctpcorr; print(sctpcorr.__file__)"],
                          capture_output=True, text=True).stdout.strip()     # which checkout runs (PYTHONPATH)
    compile_bytecode()
    for f in os.listdir(db):     # the page cache, as for every peer
        p = os.path.join(db, f)
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                while fh.read(1 << 24):
                    pass
    peers = {
        "pcap client": [SCTPCORR, "pcap", "--json", os.path.join(db, "client.pcapng")],
        "pcap server": [SCTPCORR, "pcap", "--json", os.path.join(db, "server.pcapng")],
        "correlate": [SCTPCORR, "correlate", db],
        "validate": [SCTPCORR, "validate", db],
        "correlate --json": [SCTPCORR, "correlate", "--json", db],
        f"correlate {nh[5:]}": [SCTPCORR, "correlate", dh],
        f"correlate {ns[5:]}": [SCTPCORR, "correlate", ds],
    }
    runs: dict[str, list[dict]] = {k: [] for k in peers}
    for r in range(args.repeat):
        for name, argv_ in peers.items():
            out = os.path.join(OUT, "corr-" + name.replace(" ", "_").replace("-", "") + ".out")
            res = measure(argv_, out, pin)
            runs[name].append(res)
            print(f"round {r + 1}/{args.repeat}  {name:18} {res['wall_s']:7.2f} s wall {res['cpu_s']:7.2f} s cpu "
                  f"{res['max_rss_mb']:7.0f} MB  rc {res['rc']}", flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(x[key] for x in runs[name])

    wire = med("pcap client", "wall_s") + med("pcap server", "wall_s")
    wire_cpu = med("pcap client", "cpu_s") + med("pcap server", "cpu_s")
    corr, corr_cpu = med("correlate", "wall_s"), med("correlate", "cpu_s")
    ratio, ratio_cpu = corr / wire, corr_cpu / wire_cpu
    rss_big = max(x["max_rss_mb"] for x in runs["correlate"])
    rss_half = max(x["max_rss_mb"] for x in runs[f"correlate {nh[5:]}"])
    rss_small = max(x["max_rss_mb"] for x in runs[f"correlate {ns[5:]}"])
    validate_ok = all(x["rc"] == 0 for x in runs["validate"])
    bench = mb.get("bench") or {}
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pinned: {' '.join(pin) or 'no'}; medians of {args.repeat} rounds; {code}")
    print(f"input: {nb}: {bench.get('wire_packets')} wire packets in 2 captures, {bench.get('kernel_records')} "
          f"kernel events (--raw); {nh}, {ns}: a half, a quarter")
    print(f"{'peer':20} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
    for name in peers:
        print(f"{name:20} {med(name, 'wall_s'):8.2f} {med(name, 'cpu_s'):8.2f} "
              f"{max(x['max_rss_mb'] for x in runs[name]):8.0f}")
    print(f"wire analysis alone (pcap client + server): {wire:.2f} s wall, {wire_cpu:.2f} s cpu")
    print(f"correlate / wire analysis: {ratio:.2f} x wall, {ratio_cpu:.2f} x cpu (target <= {TARGET_RATIO:g}): "
          f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    print(f"peak RSS {nb} / {nh}: {rss_big:.0f} / {rss_half:.0f} MB = {rss_big / rss_half:.2f} (flat: ~1); "
          f"{ns} (shorter than a window): {rss_small:.0f} MB")
    print(f"validate: {'PASS (exit 0) every round' if validate_ok else 'did not pass: see ' + OUT}")
    res = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version(),
                       "pinned": " ".join(pin) or None, "sctpcorr": code},
           "input": {"big": nb, "half": nh, "small": ns, "bench": bench}, "runs": runs,
           "wire_s": wire, "correlate_s": corr, "ratio_wall": ratio, "ratio_cpu": ratio_cpu,
           "rss_big_mb": rss_big, "rss_half_mb": rss_half, "rss_small_mb": rss_small, "validate_pass": validate_ok}
    with open(os.path.join(OUT, "correlate-results.json"), "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
