"""What `sctpcorr probe` costs, per level: the CPU the guest spends per message and the bulk throughput, with
the probes of one level attached against none, in adjacent pairs.

Runs INSIDE the lab guest (root, SCTP, the probe process already running with ``--toggle-signals``, every probe
compiled in): two network namespaces joined by one veth pair (MTU 1500, SCTP checksum offload and GSO off, like
the lab), a one-to-one association, a sender (bench/sctp_blast.c, compiled with cc at start) pushing 16 KiB
messages (12 DATA chunks each) as fast as the socket takes them and a receiver reading them, for ``seconds`` per
round.  The recorder attaches the probes of the level named in READY_FILE.level on SIGUSR2 and detaches them
all on SIGUSR1, without recompiling.  For each level, ``rounds`` pairs of one round on and one off, in the order
on,off,off,on,... and the levels interleaved pair by pair, so that a slow drift of the machine favours no side
and no level.

Per round: messages received, the guest's CPU time from /proc/stat (busy = everything but idle and iowait, which
includes the BPF programs, the kprobe traps around them and the recorder draining the ring; kernel = system +
irq + softirq), the BPF programs' own run time (kernel.bpf_stats_enabled) and the recorder's CPU time.  Per pair:
the cost = CPU per message on / off - 1, and the throughput cost = 1 - bytes/s on / off.  Per level: the median of
the pairs with a 90 % bootstrap interval, and the verdict against the level's target by CPU per message
(decisions < 1 %, sacks < 3 %, packets < 5 %): "met" only if the whole interval is below it.  Per level also the
run time per message of each BPF program (the difference of the recorder's READY_FILE.stats, written at each
attach and detach), which says which hook costs what.

Caveat: the lab guest runs under QEMU TCG (no KVM here), so every instruction (kernel, BPF JIT output, Python)
is emulated and a trap costs what emulating it costs; the shares are a proxy for real hardware, not a
measurement of it.  This machine has no hardware performance counters: no instructions per message.

    .venv/bin/python bench/probe_overhead.py --lab --seconds 2 --rounds 8    # from the host: boots the guest
    python bench/probe_overhead.py --probe-pid PID --seconds 2 --rounds 8   # inside the guest
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


LEVELS = ("decisions", "sacks", "packets")
TARGET_PCT = {"decisions": 1.0, "sacks": 3.0, "packets": 5.0}   # issue #11: by CPU per message


def _cpu_ticks() -> tuple[int, int]:
    """(busy, kernel) guest CPU time, all CPUs, in clock ticks (/proc/stat): busy is everything but idle and
    iowait; kernel is system + irq + softirq."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    return sum(v) - v[3] - v[4], v[2] + v[5] + v[6]


def _proc_ticks(pid: int) -> int:
    """utime + stime of process ``pid`` (all its threads), clock ticks."""
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def _bpf_prog_ns(pid: int) -> int:
    """Run time of every BPF program process ``pid`` holds, ns (needs kernel.bpf_stats_enabled=1)."""
    from sctpcorr.kernel.loader import fdinfo

    total = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if "bpf-prog" in os.readlink(f"/proc/{pid}/fd/{fd}"):
                total += int(fdinfo(fd, pid).get("run_time_ns", "0"))
        except OSError:
            continue
    return total


def _bootstrap_ci(xs: list[float], n: int = 4000, seed: int = 1) -> tuple[float, float]:
    """90 % percentile bootstrap interval of the median of ``xs``."""
    import random

    rnd = random.Random(seed)
    meds = sorted(statistics.median(rnd.choices(xs, k=len(xs))) for _ in range(n))
    return meds[int(0.05 * n)], meds[int(0.95 * n) - 1]


def _toggle(probe_pid: int, want: str, ready_file: Path | None, level: str | None = None,
            timeout_s: float = 300) -> float:
    """Ask the recorder to attach the probes of ``level`` (SIGUSR2, the level in READY_FILE.level) or detach
    every probe (SIGUSR1) and wait until it says it did (it rewrites its --ready-file as "PID attached|detached
    N"); returns the seconds that took."""
    before = ready_file.read_text() if ready_file and ready_file.exists() else ""
    if ready_file is not None and want == "on" and level is not None:
        Path(str(ready_file) + ".level").write_text(level + "\n")
    t0 = time.monotonic()
    os.kill(probe_pid, signal.SIGUSR2 if want == "on" else signal.SIGUSR1)
    if ready_file is None:
        time.sleep(2.0)
        return time.monotonic() - t0
    state = "attached" if want == "on" else "detached"
    while time.monotonic() - t0 < timeout_s:
        now = ready_file.read_text() if ready_file.exists() else ""
        if now != before and now.split()[1:2] == [state]:
            return time.monotonic() - t0
        time.sleep(0.05)
    raise RuntimeError(f"the recorder did not report '{state}' within {timeout_s:.0f} s")


def _prog_stats(ready_file: Path | None) -> dict[str, dict[str, int]]:
    """The recorder's per-program run counts and times at its last toggle (READY_FILE.stats)."""
    try:
        return json.loads(Path(str(ready_file) + ".stats").read_text()) if ready_file else {}
    except (OSError, ValueError):
        return {}


def _median_ci(xs: list[float]) -> tuple[float | None, list[float] | None]:
    if not xs:
        return None, None
    med = statistics.median(xs)
    if len(xs) < 3:
        return med, None
    lo, hi = _bootstrap_ci(xs)
    return med, [lo, hi]


def _pct(x: float | None) -> float | None:
    return None if x is None else round(100 * x, 2)


def summarize(results: list[dict], level: str, progs: dict[str, dict[str, int]]) -> dict:
    """One level's pairs: throughput and CPU-per-message costs (median, 90 % interval) and the verdict."""
    mine = [r for r in results if r["level"] == level]
    pairs: dict[int, dict[str, dict]] = {}
    for r in mine:
        pairs.setdefault(r["pair"], {})[r["probes"]] = r
    full = [p for p in pairs.values() if "on" in p and "off" in p and p["on"]["messages"] and p["off"]["messages"]]
    thr = [1 - p["on"]["bytes_per_s"] / p["off"]["bytes_per_s"] for p in full if p["off"]["bytes_per_s"]]
    cpu = [p["on"]["busy_us_per_msg"] / p["off"]["busy_us_per_msg"] - 1 for p in full if p["off"]["busy_us_per_msg"]]
    kern = [p["on"]["kernel_us_per_msg"] / p["off"]["kernel_us_per_msg"] - 1 for p in full
            if p["off"]["kernel_us_per_msg"]]
    ons = [p["on"] for p in full]
    msgs_on = sum(r["messages"] for r in ons)
    bpf_share = [r["bpf_run_s"] / r["busy_cpu_s"] for r in ons if r["busy_cpu_s"]]
    thr_m, thr_ci = _median_ci(thr)
    cpu_m, cpu_ci = _median_ci(cpu)
    kern_m, kern_ci = _median_ci(kern)
    target = TARGET_PCT[level]
    if cpu_ci is None:
        verdict = "unresolved"
    elif 100 * cpu_ci[1] < target:
        verdict = "met"                 # even the pessimistic end of the interval is below the target
    elif 100 * cpu_ci[0] >= target:
        verdict = "not met"
    else:
        verdict = "unresolved"
    per_prog = {name: {"runs_per_msg": round(v["run_cnt"] / msgs_on, 3) if msgs_on else None,
                       "ns_per_msg": round(v["run_time_ns"] / msgs_on) if msgs_on else None,
                       "ns_per_run": round(v["run_time_ns"] / v["run_cnt"]) if v["run_cnt"] else None}
                for name, v in sorted(progs.items(), key=lambda kv: -kv[1]["run_time_ns"]) if v["run_cnt"]}
    return {"pairs": len(full), "target_cpu_pct": target, "verdict": verdict,
            "cpu_cost_pct": _pct(cpu_m), "cpu_cost_pct_ci90": cpu_ci and [_pct(x) for x in cpu_ci],
            "kernel_cpu_cost_pct": _pct(kern_m), "kernel_cpu_cost_pct_ci90": kern_ci and [_pct(x) for x in kern_ci],
            "throughput_cost_pct": _pct(thr_m), "throughput_cost_pct_ci90": thr_ci and [_pct(x) for x in thr_ci],
            "busy_us_per_msg_on": round(statistics.median([p["on"]["busy_us_per_msg"] for p in full]), 1)
            if full else None,
            "busy_us_per_msg_off": round(statistics.median([p["off"]["busy_us_per_msg"] for p in full]), 1)
            if full else None,
            "bpf_ns_per_msg": round(sum(r["bpf_run_s"] for r in ons) * 1e9 / msgs_on) if msgs_on else None,
            "bpf_share_of_busy_pct": _pct(statistics.median(bpf_share)) if bpf_share else None,
            "recorder_us_per_msg": round(sum(r["recorder_cpu_s"] for r in ons) * 1e6 / msgs_on, 2)
            if msgs_on else None,
            "programs": per_prog}


def run(probe_pid: int, seconds: float, rounds: int, settle_s: float = 0.3,
        ready_file: Path | None = None, levels: tuple[str, ...] = LEVELS) -> dict:
    """``rounds`` adjacent (on, off) pairs per level.  The ratio of each pair is one observation: a slow drift
    of the machine cancels within a pair, and the bootstrap interval of the median says what the noise lets us
    conclude."""
    build_blast()
    setup()
    tick = os.sysconf("SC_CLK_TCK")
    stats_path = Path("/proc/sys/kernel/bpf_stats_enabled")
    stats_was = stats_path.read_text().strip() if stats_path.exists() else None
    if stats_was is not None and stats_was != "1":
        stats_path.write_text("1\n")
    progs: dict[str, dict[str, dict[str, int]]] = {lv: {} for lv in levels}
    try:
        order = []              # (pair, level, on|off)
        k = 0
        for i in range(rounds):
            for j in range(len(levels)):
                lv = levels[(i + j) % len(levels)]
                order += [(k, lv, "on"), (k, lv, "off")] if k % 2 == 0 else [(k, lv, "off"), (k, lv, "on")]
                k += 1
        results = []
        at_attach: dict[str, dict[str, int]] = {}

        def switch(target: str, cur: str) -> float:
            """Attach level ``target`` or detach ("off") from state ``cur``; a level's programs' run time is
            its detach's stats minus its attach's.  Returns the seconds the toggles took."""
            nonlocal at_attach
            took = 0.0
            if cur != "off":
                took += _toggle(probe_pid, "off", ready_file)
                now = _prog_stats(ready_file)
                acc = progs[cur]
                for name, v in now.items():
                    b = at_attach.get(name, {})
                    a = acc.setdefault(name, {"run_cnt": 0, "run_time_ns": 0})
                    a["run_cnt"] += v["run_cnt"] - b.get("run_cnt", 0)
                    a["run_time_ns"] += v["run_time_ns"] - b.get("run_time_ns", 0)
            if target != "off":
                took += _toggle(probe_pid, "on", ready_file, target)
                at_attach = _prog_stats(ready_file)
            return took

        _toggle(probe_pid, "off", ready_file)     # the recorder starts with every probe attached
        cur = "off"
        for n, (pair, lv, want) in enumerate(order):
            target = lv if want == "on" else "off"
            toggle_s = 0.0
            if target != cur:
                toggle_s = switch(target, cur)
                cur = target
                time.sleep(settle_s)
            (b0, k0), r0, p0 = _cpu_ticks(), _proc_ticks(probe_pid), _bpf_prog_ns(probe_pid)
            r = measure(seconds, PORT + n)
            (b1, k1), r1, p1 = _cpu_ticks(), _proc_ticks(probe_pid), _bpf_prog_ns(probe_pid)
            msgs = r["bytes_received"] // MSG
            busy, kern = (b1 - b0) / tick, (k1 - k0) / tick
            r.update(level=lv, pair=pair, probes=want, seconds=seconds, toggle_s=round(toggle_s, 2), messages=msgs,
                     busy_cpu_s=round(busy, 3), kernel_cpu_s=round(kern, 3),
                     busy_us_per_msg=round(busy * 1e6 / msgs, 2) if msgs else None,
                     kernel_us_per_msg=round(kern * 1e6 / msgs, 2) if msgs else None,
                     recorder_cpu_s=round((r1 - r0) / tick, 3), bpf_run_s=round((p1 - p0) / 1e9, 4))
            results.append(r)
        switch("off", cur)
        if ready_file is not None:
            Path(str(ready_file) + ".level").unlink(missing_ok=True)
        _toggle(probe_pid, "on", ready_file)      # leave every probe attached, as the recorder started
    finally:
        if stats_was is not None and stats_was != "1":
            stats_path.write_text(stats_was + "\n")
        teardown()
    off = [r["bytes_per_s"] for r in results if r["probes"] == "off"]
    return {"rounds": results, "levels": {lv: summarize(results, lv, progs[lv]) for lv in levels},
            "message_bytes": MSG, "seconds": seconds, "bpf_stats": stats_was is not None,
            "stdev_off_pct": round(100 * statistics.pstdev(off) / statistics.mean(off), 1) if off else None,
            "machine": machine()}


def machine() -> dict:
    """What ran the rounds (the guest's view; the host adds its own under --lab)."""
    cpus = os.cpu_count()
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    return {"guest_kernel": os.uname().release, "guest_cpus": cpus, "guest_cpu_model": model,
            "clocksource": Path("/sys/devices/system/clocksource/clocksource0/current_clocksource").read_text()
            .strip() if Path("/sys/devices/system/clocksource/clocksource0/current_clocksource").exists() else None}


def print_result(r: dict, echo=print) -> None:  # noqa: ANN001
    """The per-level table (what docs/probe.md's OVERHEAD table shows)."""
    echo(f"{'LEVEL':<10} {'PAIRS':>5} {'CPU/MSG COST %':>15} {'90 % INTERVAL':>16} {'TARGET':>7} {'VERDICT':<10} "
         f"{'THROUGHPUT COST %':>17} {'90 % INTERVAL':>16} {'BPF NS/MSG':>10} {'US/MSG OFF':>10}")
    for lv, x in r["levels"].items():
        ci = x["cpu_cost_pct_ci90"] or [None, None]
        tci = x["throughput_cost_pct_ci90"] or [None, None]
        echo(f"{lv:<10} {x['pairs']:>5} {x['cpu_cost_pct']!s:>15} {f'{ci[0]} .. {ci[1]}':>16} "
             f"{'<' + str(x['target_cpu_pct']):>7} {x['verdict']:<10} {x['throughput_cost_pct']!s:>17} "
             f"{f'{tci[0]} .. {tci[1]}':>16} {x['bpf_ns_per_msg']!s:>10} {x['busy_us_per_msg_off']!s:>10}")
    for lv, x in r["levels"].items():
        progs = ", ".join(f"{n} {v['ns_per_msg']} ns/msg ({v['runs_per_msg']} runs/msg, {v['ns_per_run']} ns/run)"
                          for n, v in x["programs"].items())
        echo(f"  {lv}: kernel-only CPU/msg cost {x['kernel_cpu_cost_pct']} % {x['kernel_cpu_cost_pct_ci90']}; "
             f"recorder {x['recorder_us_per_msg']} us/msg; BPF {x['bpf_share_of_busy_pct']} % of busy CPU; {progs}")


def lab(seconds: float, rounds: int, out: Path, hooks: str = "auto") -> int:
    """From the host: boot the lab guest, start one `sctpcorr probe` (all probes, --defer-decode), run ``run()``
    in it and print the result.  The BPF compile alone takes minutes under TCG."""
    import shlex
    import sys

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from sctpcorr.lab import runner

    out.mkdir(parents=True, exist_ok=True)
    (out / "session.json").unlink(missing_ok=True)
    guest = (f"{shlex.quote(sys.executable)} {root / 'tests/lab_probe/guest_session.py'} {out} '' --bench-only "
             f"--hooks {hooks} "
             f"--bench-seconds {seconds} --bench-rounds {rounds}")
    print(f"booting the lab kernel under QEMU (TCG); BCC compiles the probes first (minutes); log: "
          f"{out}/console.log")
    try:
        runner.run_in_guest(guest, out, memory="3G", timeout_s=5400)
    except runner.LabError as e:
        print(e)
        return 3
    try:
        session = json.loads((out / "session.json").read_text())
        r = session["bench"]["result"]
    except (OSError, KeyError, ValueError) as e:
        print(f"the guest session left no bench result ({e}); see {out}/console.log")
        return 1
    print(f"{'ROUND':>5} {'LEVEL':<9} {'PROBES':<6} {'MB/S':>6} {'US/MSG':>7} {'BUSY_CPU_S':>10} {'BPF_S':>6} "
          f"{'RECORDER_S':>10}")
    for k, x in enumerate(r["rounds"]):
        print(f"{k:>5} {x['level']:<9} {x['probes']:<6} {x['bytes_per_s'] / 1e6:>6.2f} {x['busy_us_per_msg']!s:>7} "
              f"{x['busy_cpu_s']:>10.2f} {x['bpf_run_s']:>6.3f} {x['recorder_cpu_s']:>10.2f}")
    r["machine"].update(host_cpu_model=next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                                             if ln.startswith("model name")), "?"),
                        host_cpus=os.cpu_count(), emulation="QEMU TCG (no KVM)",
                        date=time.strftime("%Y-%m-%d", time.gmtime()))
    print(f"machine: {json.dumps(r['machine'])}")
    print_result(r)
    (out / "result.json").write_text(json.dumps(r, indent=1) + "\n")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="store_true", help="run from the host: boot the lab guest and do it all there")
    ap.add_argument("--lab-out", default="bench/out/probe-lab", help="with --lab: where the guest writes")
    ap.add_argument("--probe-pid", type=int, help="inside the guest: the recorder started with --toggle-signals")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3, help="pairs of (on, off) measurements")
    ap.add_argument("--out", default=None)
    ap.add_argument("--hooks", choices=("auto", "kprobe"), default="auto",
                    help="with --lab: the recorder's hooks (sctpcorr probe --hooks): compare kprobes with trampolines")
    a = ap.parse_args()
    if a.lab:
        return lab(a.seconds, a.rounds, Path(a.lab_out).resolve(), a.hooks)
    if a.probe_pid is None:
        ap.error("--probe-pid (inside the guest) or --lab (from the host)")
    res = run(a.probe_pid, a.seconds, a.rounds)
    text = json.dumps(res, indent=1)
    if a.out:
        Path(a.out).write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
