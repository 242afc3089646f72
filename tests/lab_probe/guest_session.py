"""Runs INSIDE the lab guest (root): one `sctpcorr probe` for the whole boot, then lab scenarios, then the bench.

    python tests/lab_probe/guest_session.py OUT baseline,lossy,failover [--bench-seconds S --bench-rounds N]

Why one probe for all scenarios: BCC compiles the BPF program when the probe starts, and under QEMU TCG that
takes 5-10 minutes; the BPF probe sees every network namespace from the root namespace, so one recording covers
every scenario (OUT/probe.jsonl; session.json says when each scenario ran).  Per scenario, the lab's own
orchestrator (sctpcorr.lab.guest.Lab) builds the namespaces, netem, captures and workload in OUT/<scenario>/; its
probe hook is used for the sock_diag source (`sctpcorr probe --source diag --netns cli --netns srv`), which
must run per scenario because the namespaces are rebuilt each time (kernel/diag.jsonl in the bundle).
Also saved for the unit tests: raw sock_diag dumps (kernel/diag-*.raw) and raw ring-buffer records
(OUT/probe.raw).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sctpcorr.lab import guest as lab_guest  # noqa: E402
from sctpcorr.lab import scenario as lab_scenario  # noqa: E402

PY = sys.executable
PROBE = [PY, "-m", "sctpcorr.kernel.cli"]


def log(msg: str) -> None:
    print(f"[lab-probe] {time.monotonic():10.3f} {msg}", flush=True)


class ProbeLab(lab_guest.Lab):
    """The lab's scenario run, with the sock_diag recorder as its probe hook (the BPF probe runs outside)."""

    def start_probe_recorder(self) -> None:
        kdir = self.dir / "kernel"
        kdir.mkdir(exist_ok=True)
        out = kdir / "diag.jsonl"
        argv = PROBE + ["--source", "diag", "--netns", "cli", "--netns", "srv", "--interval", "0.25", "-q",
                        "--jsonl", str(out)]
        self.spawn("probe", argv, stdout=open(kdir / "diag.out", "w"), stderr=subprocess.STDOUT,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 0):
            time.sleep(0.2)
        # raw dumps for the decoder's unit tests (before and during the workload)
        try:
            from sctpcorr.kernel.diag import DiagClient
            for ns in ("cli", "srv"):
                with DiagClient(ns) as c:
                    (kdir / f"diag-{ns}-setup.raw").write_bytes(c.dump_raw(2))
        except OSError as e:
            log(f"raw diag dump failed: {e}")
        self.manifest(probe={"status": "started", "bpf": "session-wide, ../probe.jsonl", "diag": argv})


def loopback_pair(seconds: float) -> None:
    """One SCTP association over 127.0.0.1 exchanging small messages for ``seconds``."""
    import socket
    import threading

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    srv.bind(("127.0.0.1", 36412))
    srv.listen(1)
    box: dict = {}
    th = threading.Thread(target=lambda: box.setdefault("c", srv.accept()[0]))
    th.start()
    cl = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    cl.connect(("127.0.0.1", 36412))
    th.join(30)
    acc = box["c"]
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end:
        cl.send(b"x" * 200)
        acc.recv(4096)
        acc.send(b"y" * 100)
        cl.recv(4096)
        time.sleep(0.05)
    for s in (cl, acc, srv):
        s.close()


def main() -> int:
    out = Path(sys.argv[1]).resolve()
    names = [n for n in sys.argv[2].split(",") if n]
    bench_s = float(sys.argv[sys.argv.index("--bench-seconds") + 1]) if "--bench-seconds" in sys.argv else 0
    bench_rounds = int(sys.argv[sys.argv.index("--bench-rounds") + 1]) if "--bench-rounds" in sys.argv else 3
    out.mkdir(parents=True, exist_ok=True)
    session: dict = {"kernel": os.uname().release, "scenarios": [], "started_mono_ns": time.monotonic_ns()}
    sess_path = out / "session.json"

    def save() -> None:
        sess_path.write_text(json.dumps(session, indent=1) + "\n")

    for mod in lab_guest.MODULES:
        subprocess.run(["modprobe", mod], capture_output=True)
    save()
    ready = out / "probe.ready"
    ready.unlink(missing_ok=True)
    argv = PROBE + ["--jsonl", str(out / "probe.jsonl"), "--raw", str(out / "probe.raw"), "--ready-file",
                    str(ready), "-q", "--toggle-signals", "--clock-interval", "2", "--with-diag", "--interval", "0.5"]
    log("starting the BPF probe (compiles under TCG: minutes)")
    t0 = time.monotonic()
    probe = subprocess.Popen(argv, stdout=open(out / "probe.out", "w"), stderr=subprocess.STDOUT,
                             env=dict(os.environ, PYTHONPATH=str(ROOT)))
    while not ready.exists():
        if probe.poll() is not None:
            session["probe_error"] = (out / "probe.out").read_text()[-2000:]
            save()
            log("the probe exited before it was ready")
            return 1
        if time.monotonic() - t0 > 1500:
            session["probe_error"] = "not ready after 1500 s"
            probe.kill()
            save()
            return 1
        time.sleep(1)
    session["probe_ready_s"] = round(time.monotonic() - t0, 1)
    session["probe_pid"] = probe.pid
    log(f"probe ready after {session['probe_ready_s']} s")
    save()
    # a loopback association in the root namespace, where the probe's own --with-diag polls sock_diag
    entry = {"name": "loopback", "start_mono_ns": time.monotonic_ns()}
    try:
        loopback_pair(4.0)
    except Exception as e:  # noqa: BLE001 - recorded; the scenarios still run
        entry["error"] = f"{type(e).__name__}: {e}"
    entry["end_mono_ns"] = time.monotonic_ns()
    session["loopback"] = entry
    save()
    ok = True
    for name in names:
        sc = lab_scenario.load(name)
        bdir = out / name
        bdir.mkdir(exist_ok=True)
        entry = {"name": name, "start_mono_ns": time.monotonic_ns()}
        log(f"scenario {name}")
        ok &= ProbeLab(str(bdir), sc, {"python": PY}).run()
        entry["end_mono_ns"] = time.monotonic_ns()
        session["scenarios"].append(entry)
        save()
    if bench_s:
        sys.path.insert(0, str(ROOT / "bench"))
        import probe_overhead
        log("bench: probes on/off")
        entry = {"start_mono_ns": time.monotonic_ns()}
        try:
            entry["result"] = probe_overhead.run(probe.pid, bench_s, bench_rounds)
        except Exception as e:  # noqa: BLE001 - recorded, the session still ends cleanly
            entry["error"] = f"{type(e).__name__}: {e}"
        entry["end_mono_ns"] = time.monotonic_ns()
        session["bench"] = entry
        save()
    time.sleep(1)
    probe.send_signal(signal.SIGINT)
    try:
        session["probe_rc"] = probe.wait(120)
    except subprocess.TimeoutExpired:
        probe.kill()
        session["probe_rc"] = "killed"
    session["ended_mono_ns"] = time.monotonic_ns()
    session["complete"] = True
    save()
    log("done")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
