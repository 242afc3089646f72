#!/usr/bin/env python3
"""Time sctpcorr against tshark, dpkt and scapy on the benchmark corpus, in one run.

Every tool runs in its own child process, pinned to one core (``taskset -c 0``), after the corpus has been read
once so that it sits in the page cache. For each run we take the wall time and the child's own resource usage
(each tool is forked by a minimal launcher process that reads ``getrusage(RUSAGE_CHILDREN)`` once its only child
has exited: that child's peak RSS and CPU time; see LAUNCHER for why not from this script directly).
packets/s = SCTP packets of the input / wall seconds of the whole process, start-up included.

Peers:
  sctpcorr CLI      ``sctpcorr pcap --json F``: the product, full analysis, the JSON report written to a file.
  sctpcorr API      ``Analyzer().feed_capture()`` over 1 MiB blocks, then ``report()``: the engine without the CLI.
  tshark sctp,stat  ``tshark -n -q -z sctp,stat -r F``: what the issue quotes (85,000 pkt/s). tshark 4.0 has
                    ``sctp.tsn_analysis`` on by default, so it already tracks TSNs, but with no protocol tree.
  tshark dissection ``tshark -n -q -z io,stat,0 -r F``: the same dissection with a trivial tap, which separates
                    tshark's dissection cost from the cost of the sctp,stat tap (a per-packet walk over its rows,
                    one per address/port direction, so it grows with the number of associations).
  tshark TSN        ``tshark -n -r F -o sctp.tsn_analysis:TRUE -o sctp.association_index:TRUE
                    -Y "sctp.retransmission || sctp.sack_rtt" -T fields -e frame.number -e sctp.assoc_index
                    -e sctp.retransmission -e sctp.sack_rtt``: association indexing plus the TSN analysis results
                    (per-SACK RTTs, retransmissions) actually produced, which needs the protocol tree; this is
                    the nearest thing tshark has to sctpcorr's analysis.
  dpkt              a Python loop: dpkt.pcap.Reader, Ethernet -> IP -> SCTP decode, chunks counted per type (the
                    minimal Python parser: no association state at all).
  scapy             PcapReader + SCTP layer walk, chunks counted per type, on a prefix (scapy is slow).

Before measuring, sctpcorr's modules are compiled to bytecode (as an installed copy has them; see
compile_bytecode). With ``--repeat N`` every tool runs N times and the run with the best wall time is kept (all
the wall and CPU times are in results.json).

Memory: sctpcorr CLI also runs on the first quarter of the corpus; its peak RSS must not grow with the number of
packets (the corpus has a fixed set of long-lived associations, see build_corpus.py), so the ratio should be ~1.

Usage: ``python bench/run.py [--quick] [--repeat N] [--cpu 0]``. Prints a table, writes bench/out/results.json.
The 500,000 pkt/s target is printed as PASS/FAIL; this is a measurement, not a test.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT_DIR = os.path.join(HERE, "out")
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python") if os.path.exists(os.path.join(VENV_BIN, "python")) else sys.executable
TARGET_PPS = 500_000
TSHARK_TSN_FILTER = "sctp.retransmission || sctp.sack_rtt"

# chunk type numbers -> the names sctpcorr uses (RFC 9260 names, '-' as in the design note)
CHUNK_NAMES = {0: "DATA", 1: "INIT", 2: "INIT-ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT-ACK", 6: "ABORT",
               7: "SHUTDOWN", 8: "SHUTDOWN-ACK", 9: "ERROR", 10: "COOKIE-ECHO", 11: "COOKIE-ACK", 12: "ECNE",
               13: "CWR", 14: "SHUTDOWN-COMPLETE", 15: "AUTH", 16: "NR-SACK", 64: "I-DATA", 128: "ASCONF-ACK",
               130: "RE-CONFIG", 132: "PAD", 192: "FORWARD-TSN", 193: "ASCONF", 194: "I-FORWARD-TSN"}


def norm(name: str) -> str:
    """Chunk names compared across tools: upper case, '_' and ' ' as '-'."""
    return name.upper().replace("_", "-").replace(" ", "-")


# ------------------------------------------------------------------------------------------------------------
# workers: run in a child process (``run.py --worker KIND FILE``), print one JSON line on stdout
# ------------------------------------------------------------------------------------------------------------

def worker_api(path: str, limit: int) -> dict:
    from sctpcorr.wire._engine import Analyzer

    t0 = time.perf_counter()
    a = Analyzer()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            a.feed_capture(block)
    info = a.finish_capture()
    rep = a.report()
    cap = rep["capture"]
    return {"loop_s": time.perf_counter() - t0, "packets": cap["packets"], "sctp_packets": cap["sctp_packets"],
            "associations": len(rep["associations"]), "chunks": {norm(k): v for k, v in cap["chunks"].items()},
            "format": info.get("format")}


def worker_dpkt(path: str, limit: int) -> dict:
    import dpkt

    counts: Counter = Counter()
    packets = sctp = undecoded = 0
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            packets += 1
            try:
                ip = dpkt.ethernet.Ethernet(buf).data
            except (dpkt.UnpackError, struct.error):
                undecoded += 1
                continue
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)):
                continue
            s = ip.data
            if isinstance(s, dpkt.sctp.SCTP):
                sctp += 1
                for c in s.chunks:
                    counts[c.type] += 1
            elif (ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt) == 132:
                undecoded += 1
            if packets == limit:
                break
    return {"loop_s": time.perf_counter() - t0, "packets": packets, "sctp_packets": sctp, "undecoded": undecoded,
            "chunks": {CHUNK_NAMES.get(t, str(t)): n for t, n in counts.items()}}


def worker_scapy(path: str, limit: int) -> dict:
    from scapy.layers.sctp import SCTP
    from scapy.packet import NoPayload
    from scapy.utils import PcapReader

    counts: Counter = Counter()
    packets = sctp = 0
    t0 = time.perf_counter()
    with PcapReader(path) as reader:
        for pkt in reader:
            packets += 1
            s = pkt.getlayer(SCTP)
            if s is not None:
                sctp += 1
                layer = s.payload
                while not isinstance(layer, NoPayload):
                    t = getattr(layer, "type", None)
                    if t is not None:
                        counts[t] += 1
                    layer = layer.payload
            if packets == limit:
                break
    return {"loop_s": time.perf_counter() - t0, "packets": packets, "sctp_packets": sctp,
            "chunks": {CHUNK_NAMES.get(t, str(t)): n for t, n in counts.items()}}


WORKERS = {"api": worker_api, "dpkt": worker_dpkt, "scapy": worker_scapy}


# ------------------------------------------------------------------------------------------------------------
# running a child and measuring it
# ------------------------------------------------------------------------------------------------------------

# The launcher that runs each tool. Linux carries a process's peak RSS across execve (exec_mmap records the old
# address space's high-water mark), so a tool forked from this (large) script would report at least this script's
# peak. Each tool is therefore forked by a fresh, minimal interpreter (``python -S``, a few MB, its floor is
# measured and reported), which waits for its only child and reads getrusage(RUSAGE_CHILDREN): that child's peak
# RSS and CPU time, and nothing else's.
LAUNCHER = r"""
import os, sys, time, resource
out, err, res = sys.argv[1:4]
argv = sys.argv[4:]
t0 = time.perf_counter()
pid = os.fork()
if pid == 0:
    fi = os.open(os.devnull, os.O_RDONLY)
    fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fi, 0); os.dup2(fo, 1); os.dup2(fe, 2)
    try:
        os.execvp(argv[0], argv)
    except OSError as e:
        os.write(2, ("cannot run %s: %s\n" % (argv[0], e)).encode())
    os._exit(127)
_, status = os.waitpid(pid, 0)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(res, "w") as f:
    f.write("%d %r %r %r %d\n" % (os.waitstatus_to_exitcode(status), wall, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
"""


def measure(argv: list[str], stdout_path: str, pin: list[str]) -> dict:
    """Run argv (pinned) with stdout to a file; wall time, CPU time and peak RSS of that child alone."""
    stderr_path = stdout_path + ".stderr"
    res_path = stdout_path + ".rusage"
    subprocess.run([sys.executable, "-S", "-c", LAUNCHER, stdout_path, stderr_path, res_path] + pin + argv,
                   check=True)
    with open(res_path) as fh:
        rc, wall, utime, stime, maxrss = fh.read().split()
    os.unlink(res_path)
    with open(stderr_path, "rb") as err:
        tail = err.read()[-600:].decode("utf-8", "replace").strip()
    small = None
    if os.path.getsize(stdout_path) < 65536:  # a worker's one-line result: keep this run's own copy
        with open(stdout_path, errors="replace") as fh:
            small = fh.read()
    return {"argv": argv, "rc": int(rc), "wall_s": float(wall), "cpu_s": float(utime) + float(stime),
            "user_s": float(utime), "sys_s": float(stime), "max_rss_mb": int(maxrss) / 1024,
            "stdout": os.path.relpath(stdout_path, ROOT), "stdout_text": small, "stderr_tail": tail}


def best_of(n: int, argv: list[str], stdout_path: str, pin: list[str]) -> dict:
    runs = [measure(argv, stdout_path, pin) for _ in range(max(1, n))]
    ok = [r for r in runs if r["rc"] == 0] or runs
    best = min(ok, key=lambda r: r["wall_s"])
    best["repeats"] = n
    best["all_wall_s"] = [round(r["wall_s"], 3) for r in runs]
    best["all_cpu_s"] = [round(r["cpu_s"], 3) for r in runs]
    return best


def compile_bytecode() -> bool:
    """Compile sctpcorr's modules to bytecode (__pycache__, git-ignored), as `pip install` does for an installed
    package. Without it, an environment with PYTHONDONTWRITEBYTECODE set (this sandbox) compiles every
    sctpcorr module from source in every CLI run, ~20 ms that no installed copy pays. The peers' modules
    (dpkt, scapy, the standard library) come with their bytecode already."""
    import compileall

    return bool(compileall.compile_dir(os.path.join(ROOT, "sctpcorr"), quiet=1))


def pcap_prefix(src: str, dst: str, packets: int) -> int:
    """Copy the first `packets` records of a classic little-endian pcap; returns the number copied."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as g:
        head = f.read(24)
        if struct.unpack("<I", head[:4])[0] not in (0xA1B2C3D4, 0xA1B23C4D):
            raise SystemExit(f"{src}: not a little-endian classic pcap")
        g.write(head)
        while n < packets:
            rh = f.read(16)
            if len(rh) < 16:
                break
            caplen = struct.unpack_from("<I", rh, 8)[0]
            g.write(rh + f.read(caplen))
            n += 1
    return n


def ensure_corpus(packets: int, rebuild: bool) -> tuple[str, dict]:
    sys.path.insert(0, HERE)
    import build_corpus

    path = os.path.join(OUT_DIR, build_corpus.corpus_name(packets))
    meta_path = os.path.splitext(path)[0] + ".json"
    if not rebuild and os.path.exists(path) and os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta.get("packets") == packets and meta.get("bytes") == os.path.getsize(path):
            return path, meta
    print(f"building {path} ...", file=sys.stderr)
    meta = build_corpus.build(packets, path, build_corpus.DEFAULT_PCAPS, quiet=True)
    return path, meta


def tool_version(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
        return out.strip().splitlines()[0] if out.strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def parse_tshark_stat(path: str) -> dict:
    """Column totals of `tshark -z sctp,stat` (its rows are per address/port direction) and its packet total."""
    totals: Counter = Counter()
    cols = None
    with open(path, errors="replace") as fh:
        for line in fh:
            if "Total packets RX/TX" in line:
                totals["total_packets"] = int(line.split()[-1])
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cols is None and "DATA" in cells:
                cols = cells
            elif cols and len(cells) == len(cols):
                for name, v in zip(cols, cells):
                    if v.isdigit() and not name.startswith("Port"):
                        totals[name] += int(v)
    return dict(totals)


def count_lines(path: str) -> int:
    with open(path, "rb") as fh:
        return sum(1 for _ in fh)


def chunk_diff(a: dict, b: dict) -> dict:
    a, b = {norm(k): v for k, v in a.items()}, {norm(k): v for k, v in b.items()}
    return {k: [a.get(k, 0), b.get(k, 0)] for k in sorted(set(a) | set(b)) if a.get(k, 0) != b.get(k, 0)}


# ------------------------------------------------------------------------------------------------------------
# the benchmark
# ------------------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="100k-packet corpus, scapy on 5k: a fast sanity run")
    ap.add_argument("--packets", type=int, help="corpus size (default 1,000,000; --quick 100,000)")
    ap.add_argument("--scapy-packets", type=int, help="scapy prefix (default 20,000; --quick 5,000)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool, the fastest is kept (default 1)")
    ap.add_argument("--cpu", default="0", help="core for taskset -c (default 0); 'none' to not pin")
    ap.add_argument("--skip", action="append", default=[], choices=["cli", "api", "tshark", "tshark-dissect",
                                                                   "tshark-tsn", "dpkt", "scapy", "memory"], help="leave a peer out")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if it exists")
    ap.add_argument("--out", default=os.path.join(OUT_DIR, "results.json"))
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--limit", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("file", nargs="?", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.worker:
        print(json.dumps(WORKERS[a.worker](a.file, a.limit)))
        return 0

    packets = a.packets or (100_000 if a.quick else 1_000_000)
    scapy_n = a.scapy_packets or (5_000 if a.quick else 20_000)
    pin = [] if a.cpu == "none" or not shutil.which("taskset") else ["taskset", "-c", a.cpu]
    os.makedirs(OUT_DIR, exist_ok=True)
    corpus, meta = ensure_corpus(packets, a.rebuild)
    tag = os.path.splitext(os.path.basename(corpus))[0].replace("corpus-", "")
    with open(corpus, "rb") as fh:  # page cache warm-up, so no tool pays the first read
        while fh.read(1 << 24):
            pass
    bytecode = compile_bytecode()
    floor = measure(["true"], os.path.join(OUT_DIR, "launcher-floor.out"), [])
    load_before = os.getloadavg()
    sctpcorr = os.path.join(VENV_BIN, "sctpcorr")
    me = os.path.abspath(__file__)
    runs: dict[str, dict] = {}
    checks: dict[str, object] = {}

    def run(key: str, label: str, argv: list[str], n_packets: int, prefix: bool = False) -> dict:
        print(f"  running {label} ...", file=sys.stderr, flush=True)
        r = best_of(a.repeat, argv, os.path.join(OUT_DIR, f"{key}-{tag}.out"), pin)
        r.update(label=label, packets=n_packets, prefix=prefix)
        r["pps"] = n_packets / r["wall_s"] if r["rc"] == 0 and r["wall_s"] > 0 else None
        runs[key] = r
        return r

    def worker_result(r: dict) -> dict | None:
        if r["rc"] != 0 or not r.get("stdout_text"):
            return None
        try:
            return json.loads(r.pop("stdout_text").strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None

    # --- sctpcorr ----------------------------------------------------------------------------------------
    if "cli" not in a.skip:
        if os.path.exists(sctpcorr):
            r = run("sctpcorr-cli", "sctpcorr pcap --json", [sctpcorr, "pcap", "--json", corpus], packets)
            if r["rc"] == 0:
                try:
                    with open(os.path.join(ROOT, r["stdout"])) as fh:
                        rep = json.load(fh)
                    cap = rep["capture"]
                    r["sctp_packets_reported"] = cap["sctp_packets"]
                    r["associations"] = len(rep["associations"])
                    checks["cli_sctp_packets_match"] = cap["sctp_packets"] == meta["sctp_packets"]
                    checks["cli_chunks_vs_corpus"] = chunk_diff(cap["chunks"], meta["chunks"]) or "identical"
                except (OSError, ValueError, KeyError) as e:
                    r["report_error"] = f"{type(e).__name__}: {e}"
        else:
            runs["sctpcorr-cli"] = {"label": "sctpcorr pcap --json", "rc": None, "error": f"{sctpcorr} missing"}
    if "api" not in a.skip:
        r = run("sctpcorr-api", "sctpcorr Analyzer (Python API)", [PYTHON, me, "--worker", "api", corpus], packets)
        res = worker_result(r)
        if res:
            r["sctp_packets_reported"], r["associations"] = res["sctp_packets"], res["associations"]
            r["loop_s"] = res["loop_s"]
            checks["api_sctp_packets_match"] = res["sctp_packets"] == meta["sctp_packets"]
            checks["api_chunks_vs_corpus"] = chunk_diff(res["chunks"], meta["chunks"]) or "identical"

    # --- tshark ------------------------------------------------------------------------------------------
    if shutil.which("tshark"):
        if "tshark" not in a.skip:
            r = run("tshark-stat", "tshark -q -z sctp,stat", ["tshark", "-n", "-q", "-z", "sctp,stat", "-r", corpus],
                    packets)
            if r["rc"] == 0:
                r["stat_totals"] = parse_tshark_stat(os.path.join(ROOT, r["stdout"]))
                checks["tshark_stat_total_packets"] = r["stat_totals"].get("total_packets")
        if "tshark-dissect" not in a.skip:
            run("tshark-dissect", "tshark dissection only (-q -z io,stat,0)",
                ["tshark", "-n", "-q", "-z", "io,stat,0", "-r", corpus], packets)
        if "tshark-tsn" not in a.skip:
            r = run("tshark-tsn", "tshark TSN analysis (+assoc index, RTT/retrans fields)",
                    ["tshark", "-n", "-r", corpus, "-o", "sctp.tsn_analysis:TRUE", "-o",
                     "sctp.association_index:TRUE", "-Y", TSHARK_TSN_FILTER, "-T", "fields", "-e", "frame.number",
                     "-e", "sctp.assoc_index", "-e", "sctp.retransmission", "-e", "sctp.sack_rtt"], packets)
            if r["rc"] == 0:
                r["output_lines"] = count_lines(os.path.join(ROOT, r["stdout"]))
    else:
        runs["tshark-stat"] = {"label": "tshark -q -z sctp,stat", "rc": None, "error": "tshark not installed"}

    # --- Python parsers ----------------------------------------------------------------------------------
    if "dpkt" not in a.skip:
        r = run("dpkt", "dpkt (Python loop, chunk counts)", [PYTHON, me, "--worker", "dpkt", corpus], packets)
        res = worker_result(r)
        if res:
            r["sctp_packets_reported"], r["loop_s"] = res["sctp_packets"], res["loop_s"]
            r["undecoded"] = res["undecoded"]
            checks["dpkt_sctp_packets_it_cannot_decode"] = res["undecoded"]
            checks["dpkt_chunks_vs_corpus"] = chunk_diff(res["chunks"], meta["chunks"]) or "identical"
    if "scapy" not in a.skip:
        n = min(scapy_n, packets)
        r = run("scapy", f"scapy (PcapReader + SCTP layers) [first {n:,}]",
                [PYTHON, me, "--worker", "scapy", "--limit", str(n), corpus], n, prefix=True)
        res = worker_result(r)
        if res:
            r["sctp_packets_reported"], r["loop_s"] = res["sctp_packets"], res["loop_s"]

    # --- memory vs packets -------------------------------------------------------------------------------
    memory = None
    if "memory" not in a.skip and os.path.exists(sctpcorr):
        small_n = packets // 4
        small = os.path.join(OUT_DIR, f"prefix-{small_n // 1000}k.pcap")
        pcap_prefix(corpus, small, small_n)
        print(f"  running sctpcorr on the {small_n:,}-packet prefix ...", file=sys.stderr, flush=True)
        rs = best_of(a.repeat, [sctpcorr, "pcap", "--json", small], os.path.join(OUT_DIR, f"memory-{small_n}.out"),
                     pin)
        full = runs.get("sctpcorr-cli")
        memory = {"small_packets": small_n, "small_rss_mb": rs["max_rss_mb"], "small_rc": rs["rc"],
                  "small_wall_s": rs["wall_s"], "large_packets": packets,
                  "large_rss_mb": full["max_rss_mb"] if full and full.get("rc") == 0 else None}
        try:
            with open(os.path.join(ROOT, rs["stdout"])) as fh:
                memory["small_associations"] = len(json.load(fh)["associations"])
        except (OSError, ValueError, KeyError):
            memory["small_associations"] = None
        memory["large_associations"] = full.get("associations") if full else None
        if memory["large_rss_mb"] and rs["rc"] == 0:
            memory["ratio"] = memory["large_rss_mb"] / memory["small_rss_mb"]
        memory["same_associations"] = (memory["small_associations"] is not None
                                       and memory["small_associations"] == memory["large_associations"])
        all_at = meta.get("all_associations_started_by_packet")
        if not all_at or all_at > small_n:
            memory["note"] = (f"the {small_n:,}-packet prefix does not hold every association of the corpus ("
                              + (f"all exist from packet {all_at:,}" if all_at else "some start later") +
                              "): the ratio includes the growth of the association table")
        os.unlink(small)

    # --- report ------------------------------------------------------------------------------------------
    load_after = os.getloadavg()
    for r in runs.values():
        r.pop("stdout_text", None)
    ref = runs.get("sctpcorr-cli", {}).get("pps")
    for r in runs.values():
        r["sctpcorr_speedup"] = (ref / r["pps"]) if ref and r.get("pps") else None
    cli = runs.get("sctpcorr-cli", {})
    target = {"pps": TARGET_PPS, "measured_pps": ref,
              "pps_per_cpu_s": cli["packets"] / cli["cpu_s"] if ref and cli.get("cpu_s") else None,
              "result": None if ref is None else ("PASS" if ref >= TARGET_PPS else "FAIL")}
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": {"cpu": cpu_model(), "cores": os.cpu_count(), "pinned_to": a.cpu if pin else None,
                 "loadavg_before": load_before, "loadavg_after": load_after, "python": platform.python_version(),
                 "rss_floor_mb": floor["max_rss_mb"], "sctpcorr_bytecode_compiled": bytecode,
                 "kernel": platform.release()},
        "versions": {"tshark": tool_version(["tshark", "--version"]), "dpkt": _mod_version("dpkt"),
                     "scapy": _mod_version("scapy"), "sctpcorr": _mod_version("sctpcorr"),
                     "git_head": tool_version(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]),
                     "engine_built": _engine_mtime()},
        "corpus": {"file": os.path.relpath(corpus, ROOT), **{k: meta[k] for k in
                   ("packets", "sctp_packets", "bytes", "sha256", "duration_s", "lanes", "associations_expected",
                    "all_lanes_started_by_packet", "all_associations_started_by_packet", "data_sack_heartbeat_share",
                    "chunks")}},
        "runs": runs, "memory": memory, "target": target, "checks": checks, "quick": a.quick,
    }
    with open(a.out, "w") as fh:
        json.dump(results, fh, indent=1, default=str)
    print_table(results)
    print(f"results: {os.path.relpath(a.out)}")
    return 0


def _engine_mtime() -> str | None:
    """When the C extension in the source tree was built (the benchmark runs whatever is built)."""
    import glob

    so = glob.glob(os.path.join(ROOT, "sctpcorr", "wire", "_engine*.so"))
    if not so:
        return None
    return datetime.datetime.fromtimestamp(os.path.getmtime(so[0]), datetime.timezone.utc).isoformat(
        timespec="seconds")


def _mod_version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001 - any failure means "unknown"
        return None


def print_table(res: dict) -> None:
    c, h = res["corpus"], res["host"]
    print()
    print(f"corpus  {c['file']}: {c['sctp_packets']:,} SCTP packets, {c['bytes'] / 1e6:.0f} MB, "
          f"{c['associations_expected']:,} associations in {c['lanes']:,} lanes, {c['duration_s']:.0f} s of traffic")
    print(f"host    {h['cpu']}, {h['cores']} cores, pinned to core {h['pinned_to']}, load average "
          f"{h['loadavg_before'][0]:.2f} before / {h['loadavg_after'][0]:.2f} after, {res['date']}")
    print(f"        peak RSS of each tool alone (floor {h['rss_floor_mb']:.1f} MB: the launcher's own, kept by the "
          f"kernel across exec)")
    print()
    hdr = f"{'tool':56s} {'packets':>10s} {'wall s':>8s} {'CPU s':>8s} {'pkt/s':>11s} {'pkt/CPU s':>11s} " \
          f"{'peak RSS MB':>12s} {'sctpcorr x':>10s} {'in-loop pkt/s':>13s}"
    print(hdr)
    print("-" * len(hdr))
    for r in res["runs"].values():
        if r.get("rc") != 0:
            why = r.get("error") or f"exit {r.get('rc')}: {r.get('stderr_tail', '')[-120:]}"
            print(f"{r['label'][:56]:56s} {'FAILED':>10s}  {why}")
            continue
        speed = f"{r['sctpcorr_speedup']:.1f}x" if r.get("sctpcorr_speedup") else "-"
        loop = f"{r['packets'] / r['loop_s']:,.0f}" if r.get("loop_s") else "-"
        print(f"{r['label'][:56]:56s} {r['packets']:>10,} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} "
              f"{r['pps']:>11,.0f} {r['packets'] / r['cpu_s']:>11,.0f} {r['max_rss_mb']:>12.1f} {speed:>10s} "
              f"{loop:>13s}")
    print("pkt/s = packets / wall time of the whole process (start-up included); pkt/CPU s = packets / its user+sys "
          "CPU time\n(less sensitive to other load on the core); sctpcorr x = how many times more pkt/s the sctpcorr "
          "CLI does;\nin-loop pkt/s = packets / time inside the worker's loop, without interpreter start-up and imports "
          "(Python workers only)")
    print()
    for r in res["runs"].values():
        if r.get("rc") == 0 and r.get("repeats", 1) > 1:
            print(f"runs    {r['label'][:40]}: wall s {r['all_wall_s']}, CPU s {r['all_cpu_s']}")
    m = res.get("memory")
    if m:
        if m.get("ratio"):
            print(f"memory  sctpcorr peak RSS: {m['small_packets']:,} packets {m['small_rss_mb']:.1f} MB "
                  f"({m['small_associations']} associations), {m['large_packets']:,} packets "
                  f"{m['large_rss_mb']:.1f} MB ({m['large_associations']} associations): ratio {m['ratio']:.2f}")
            if m.get("note"):
                print(f"        note: {m['note']}")
        else:
            print(f"memory  not measured (sctpcorr run failed: exit {m.get('small_rc')})")
    for k, v in res["checks"].items():
        print(f"check   {k}: {v}")
    t = res["target"]
    if t["result"]:
        print(f"target  sctpcorr full analysis >= {t['pps']:,} pkt/s on one core: {t['result']} "
              f"({t['measured_pps']:,.0f} pkt/s wall; {t['pps_per_cpu_s']:,.0f} packets per CPU second)")
    else:
        print(f"target  sctpcorr full analysis >= {t['pps']:,} pkt/s on one core: NOT MEASURED (no sctpcorr run)")


if __name__ == "__main__":
    sys.exit(main())
