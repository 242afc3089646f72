"""What the probes' hooks cost before the probes do anything: every attach point of `sctpcorr probe`'s catalogue
with an EMPTY BPF program (``return 0``), bulk SCTP throughput on against off, as in probe_overhead.py.

This is the floor under any probe body: the kprobe/kretprobe/raw-tracepoint dispatch alone.  Variant ``ktime``
adds one ``bpf_ktime_get_ns()`` per hit (every sctpcorr event takes one timestamp), which shows what the guest's
clocksource costs (an HPET read is an emulated I/O access under TCG, a TSC read is not).

    .venv/bin/python bench/probe_floor.py --lab                  # from the host: boots the guest (~4 minutes)
    python bench/probe_floor.py --in-guest OUT empty,ktime 8     # inside the guest
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

BODIES = {
    "empty": "return 0;",
    "ktime": "u64 t = bpf_ktime_get_ns(); u32 z = 0; u64 *v = acc.lookup(&z); if (v) *v += t; return 0;",
}


def in_guest(out: Path, variants: list[str], pairs: int, seconds: float) -> dict:
    import probe_overhead as po
    from bcc import BPF

    from sctpcorr.kernel.probes import PROBES
    from sctpcorr.timebase import clocksource

    subprocess.run(["modprobe", "sctp"], check=True)
    atts = [a for p in PROBES for a in p.attachments]
    po.build_blast()
    po.setup()
    res: dict = {"clocksource": clocksource(), "hooks": [f"{a.kind}:{a.target}" for a in atts], "variants": {}}
    try:
        for vi, var in enumerate(variants):
            fns = sorted({a.fn for a in atts})
            src = "#include <uapi/linux/ptrace.h>\nBPF_PERCPU_ARRAY(acc, u64, 1);\n" + "\n".join(
                f"int {f}(void *ctx) {{ {BODIES[var]} }}" for f in fns)
            b = BPF(text=src)

            def attach(on: bool) -> None:
                for a in atts:
                    if a.kind == "kprobe":
                        (b.attach_kprobe if on else b.detach_kprobe)(event=a.target, fn_name=a.fn)
                    elif a.kind == "kretprobe":
                        (b.attach_kretprobe if on else b.detach_kretprobe)(event=a.target, fn_name=a.fn)
                    elif on:
                        b.attach_raw_tracepoint(tp=a.target, fn_name=a.fn)
                    else:
                        b.detach_raw_tracepoint(tp=a.target)

            order: list[str] = []
            for i in range(pairs):
                order += ["on", "off"] if i % 2 == 0 else ["off", "on"]
            state, rows = "off", []
            for i, want in enumerate(order):
                if want != state:
                    attach(want == "on")
                    state = want
                    time.sleep(0.3)
                r = po.measure(seconds, 7000 + 100 * vi + i)
                rows.append((want, r["bytes_per_s"]))
                print(f"{var} {i} {want} {r['bytes_per_s'] / 1e6:.2f} MB/s", flush=True)
            if state == "on":
                attach(False)
            b.cleanup()
            ratios = []
            for k in range(0, len(rows), 2):
                (wa, a), (_wb, c) = rows[k], rows[k + 1]
                on, off = (a, c) if wa == "on" else (c, a)
                ratios.append(on / off)
            med = statistics.median(ratios)
            lo, hi = po._bootstrap_ci(ratios)
            res["variants"][var] = {"ratios": [round(x, 4) for x in ratios], "cost_pct": round(100 * (1 - med), 1),
                                    "cost_pct_ci90": [round(100 * (1 - hi), 1), round(100 * (1 - lo), 1)]}
    finally:
        po.teardown()
    (out / "floor.json").write_text(json.dumps(res, indent=1) + "\n")
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lab", action="store_true", help="from the host: boot the lab guest and run it there")
    ap.add_argument("--in-guest", nargs=3, metavar=("OUT", "VARIANTS", "PAIRS"))
    ap.add_argument("--out", default="bench/out/probe-floor")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=2.0)
    a = ap.parse_args()
    if a.in_guest:
        out, variants, pairs = a.in_guest
        in_guest(Path(out), variants.split(","), int(pairs), a.seconds)
        return 0
    if not a.lab:
        ap.error("--lab (from the host) or --in-guest (inside the guest)")
    from sctpcorr.lab import runner

    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "floor.json").unlink(missing_ok=True)
    print(f"booting the lab kernel under QEMU (TCG); log: {out}/console.log")
    try:
        runner.run_in_guest(f"{sys.executable} {Path(__file__).resolve()} --in-guest {out} empty,ktime {a.pairs} "
                            f"--seconds {a.seconds}", out, memory="2G", timeout_s=3600)
    except runner.LabError as e:
        print(e)
        return 3
    try:
        res = json.loads((out / "floor.json").read_text())
    except (OSError, ValueError) as e:
        print(f"the guest left no result ({e}); see {out}/console.log")
        return 1
    print(f"guest clocksource: {res['clocksource']}; {len(res['hooks'])} hooks")
    for var, r in res["variants"].items():
        print(f"{var:<6} throughput cost {r['cost_pct']} % (median of {len(r['ratios'])} on/off pairs; 90 % "
              f"interval {r['cost_pct_ci90']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
