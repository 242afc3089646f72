"""Runs INSIDE the lab guest (root): one `sctpcorr probe` for the whole boot, then lab scenarios, then the bench.

    python tests/lab_probe/guest_session.py OUT baseline,lossy,failover [--bench-seconds S --bench-rounds N]

Beside the main recorder (everything: --level packets, OUT/probe.jsonl) two filtered ones run during the loopback
association and the scenarios: ``--addr 198.19.1.1 --level sacks`` (OUT/probe-addr.jsonl) and ``--pid <loopback
helper> --port 36412 --level decisions`` (OUT/probe-pid.jsonl); the tests compare them with the main recording,
type by type of their level.  A fourth, unfiltered at ``--level decisions`` (OUT/probe-decisions.jsonl), is
joined to the scenarios' captures by the correlator, as the main one is.  ``sctpcorr live --probes`` runs from the
start to the end of the baseline scenario, following its client capture (OUT/live-probes.json).

Why one probe for all scenarios: BCC compiles the BPF program when the probe starts, and under QEMU TCG that
takes 5-10 minutes; the BPF probe sees every network namespace from the root namespace, so one recording covers
every scenario (OUT/probe.jsonl; session.json says when each scenario ran).  Per scenario, the lab's own
orchestrator (sctpcorr.lab.guest.Lab) builds the namespaces, netem, captures and workload in OUT/<scenario>/; its
probe hook is used for the sock_diag source (`sctpcorr probe --source diag --netns cli --netns srv`), which
must run per scenario because the namespaces are rebuilt each time (kernel/diag.jsonl in the bundle).
Also saved for the unit tests: raw sock_diag dumps (kernel/diag-*.raw).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from children import default_signals  # noqa: E402

from sctpcorr.lab import guest as lab_guest  # noqa: E402
from sctpcorr.lab import scenario as lab_scenario  # noqa: E402
from sctpcorr.lab import topology as lab_topology  # noqa: E402

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
        if self.dir.name == LIVE_SCENARIO:
            self.start_live(kdir)

    def start_live(self, kdir: Path) -> None:
        """`sctpcorr live --diag` on the client's interfaces, in the client's namespace, beside everything else:
        its kernel view (sock_diag) joined to what it captures (kernel/live.json, kernel/live.pcapng)."""
        ready = kdir / "live.ready"
        ifaces = [x for p in lab_topology.topology()["paths"].values() for x in ("-i", p["client_if"])]
        argv = ["ip", "netns", "exec", "cli", PY, "-m", "sctpcorr.cli", "live", *ifaces, "--diag", "--plain",
                "-w", str(kdir / "live.pcapng"), "--json", str(kdir / "live.json"), "--ready-file", str(ready)]
        self.spawn("live", argv, stdout=open(kdir / "live.out", "w"), stderr=subprocess.STDOUT,
                   env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=default_signals)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not ready.exists() and self.procs["live"].poll() is None:
            time.sleep(0.2)

    def finish(self) -> None:
        live = self.procs.get("live")
        if live is not None and live.poll() is None:
            time.sleep(1.5)                     # a tick after the last packets: the final join sees them
            live.send_signal(signal.SIGTERM)
            try:
                live.wait(120)
            except subprocess.TimeoutExpired:
                live.kill()
        super().finish()


LIVE_SCENARIO = "baseline"      # `sctpcorr live --diag` runs beside this one (kernel/live.json)
ADDR_FILTER = "198.19.1.1"      # the server's first address: the peer of every client-side lab association
LOOP_PORT = 36412


def loopback_helper(go: Path, seconds: float) -> None:
    """A process with one SCTP association over 127.0.0.1 (the --pid filter's target).  Its sockets exist from
    the start (the probe reads the process's socket inodes when it starts); it connects once ``go`` exists and
    exchanges small messages for ``seconds``."""
    import socket
    import threading

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", LOOP_PORT))
    srv.listen(1)
    cl = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)
    print("READY", flush=True)
    while not go.exists():
        time.sleep(0.2)
    box: dict = {}
    th = threading.Thread(target=lambda: box.setdefault("c", srv.accept()[0]))
    th.start()
    cl.connect(("127.0.0.1", LOOP_PORT))
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


def start_probe(out: Path, name: str, extra: list[str]) -> tuple[subprocess.Popen, Path]:
    ready = out / f"{name}.ready"
    ready.unlink(missing_ok=True)
    argv = PROBE + ["--jsonl", str(out / f"{name}.jsonl"), "--ready-file", str(ready), "-q"] + extra
    proc = subprocess.Popen(argv, stdout=open(out / f"{name}.out", "w"), stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=default_signals)
    return proc, ready


def start_live_probes(out: Path) -> tuple[subprocess.Popen, Path]:
    """`sctpcorr live --probes` from the root namespace (where a BPF probe must run), following the lab's capture
    of the client in LIVE_SCENARIO as it is written (the file appears when that scenario starts).  Started with
    the other recorders so that its BCC compile runs beside theirs; stopped when that scenario ends."""
    ready = out / "live-probes.ready"
    ready.unlink(missing_ok=True)
    argv = [PY, "-m", "sctpcorr.cli", "live", "--follow", str(out / LIVE_SCENARIO / "client.pcapng"), "--probes",
            "--probes-jsonl", str(out / "live-probes.jsonl"), "--plain", "--json", str(out / "live-probes.json"),
            "--ready-file", str(ready)]
    proc = subprocess.Popen(argv, stdout=open(out / "live-probes.out", "w"), stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), preexec_fn=default_signals)
    return proc, ready


def stop(proc: subprocess.Popen, sig: int = signal.SIGINT) -> object:
    proc.send_signal(sig)
    try:
        return proc.wait(600)          # the decoder may still have a backlog to write
    except subprocess.TimeoutExpired:
        proc.kill()
        return "killed"


def main() -> int:
    if sys.argv[1] == "--loopback-helper":
        loopback_helper(Path(sys.argv[2]), float(sys.argv[3]))
        return 0
    out = Path(sys.argv[1]).resolve()
    names = [n for n in sys.argv[2].split(",") if n]
    bench_only = "--bench-only" in sys.argv      # bench/probe_overhead.py --lab: one recorder, no scenarios
    bench_s = float(sys.argv[sys.argv.index("--bench-seconds") + 1]) if "--bench-seconds" in sys.argv else 0
    bench_rounds = int(sys.argv[sys.argv.index("--bench-rounds") + 1]) if "--bench-rounds" in sys.argv else 3
    hooks = sys.argv[sys.argv.index("--hooks") + 1] if "--hooks" in sys.argv else "auto"   # the main recorder's
    # --raw: the main recorder also keeps the ring-buffer records as received (the source of
    # tests/kernel/fixtures/probe61, cut by tools/make_probe_fixture.py); written to the guest's /tmp (memory),
    # copied out at the end, so the 9p share costs nothing while recording
    raw = Path("/tmp/sctpcorr-probe.raw") if "--raw" in sys.argv else None
    out.mkdir(parents=True, exist_ok=True)
    session: dict = {"kernel": os.uname().release, "scenarios": [], "started_mono_ns": time.monotonic_ns()}
    sess_path = out / "session.json"

    def save() -> None:
        sess_path.write_text(json.dumps(session, indent=1) + "\n")

    for mod in lab_guest.MODULES:
        subprocess.run(["modprobe", mod], capture_output=True)
    # the kernel's per-program run time accounting: the recorders' end records then say what each probe cost
    Path("/proc/sys/kernel/bpf_stats_enabled").write_text("1\n")
    save()
    go = out / "loopback.go"
    go.unlink(missing_ok=True)
    helper = subprocess.Popen([PY, __file__, "--loopback-helper", str(go), "4"], stdout=subprocess.PIPE, text=True)
    assert helper.stdout is not None
    if "READY" not in helper.stdout.readline():
        session["probe_error"] = "the loopback helper did not start"
        save()
        return 1
    # the recorders compile at once (2 vCPUs): everything, --addr, --pid with --port, the decisions level, and
    # live --probes
    log("starting the BPF probes (BCC compiles under TCG: minutes)")
    t0 = time.monotonic()
    probes = {
        "probe": start_probe(out, "probe", ["--level", "packets", "--hooks", hooks, "--toggle-signals", "--defer-decode",
                                            "--clock-interval", "2", "--with-diag", "--interval", "0.5"]
                             + (["--raw", str(raw)] if raw else [])),
    }
    if not bench_only:
        # the filtered ones at the cheaper levels (each test compares the event types of its level), and one
        # unfiltered recorder at the cheapest level, which the correlator joins to the scenarios' captures
        probes["probe-addr"] = start_probe(out, "probe-addr", ["--addr", ADDR_FILTER, "--level", "sacks"])
        probes["probe-pid"] = start_probe(out, "probe-pid", ["--pid", str(helper.pid), "--port", str(LOOP_PORT),
                                                             "--interval", "0.5", "--level", "decisions"])
        probes["probe-decisions"] = start_probe(out, "probe-decisions", ["--level", "decisions"])
    if not bench_only:
        probes["live-probes"] = start_live_probes(out)
    session["filters"] = {"probe-addr": {"addr": ADDR_FILTER},
                          "probe-pid": {"pid": helper.pid, "port": LOOP_PORT}}
    pending = dict(probes)
    while pending:
        for name, (proc, ready) in list(pending.items()):
            if ready.exists():
                session[f"{name}_ready_s"] = round(time.monotonic() - t0, 1)
                del pending[name]
            elif proc.poll() is not None and name == "live-probes":     # its own test says so; the rest goes on
                session["live-probes_error"] = (out / f"{name}.out").read_text()[-2000:]
                del pending[name], probes[name]
            elif proc.poll() is not None:
                session["probe_error"] = f"{name}: " + (out / f"{name}.out").read_text()[-2000:]
        if session.get("probe_error") or time.monotonic() - t0 > 1800:
            session.setdefault("probe_error", "not ready after 1800 s")
            for proc, _r in probes.values():
                proc.kill()
            helper.kill()
            save()
            log("a probe did not start")
            return 1
        time.sleep(1)
    session["probe_pid"] = probes["probe"][0].pid
    log(f"probes ready after {session['probe_ready_s']} s")
    save()
    # the loopback association (root namespace: the main probe's --with-diag polls it; --pid follows it)
    entry = {"name": "loopback", "pid": helper.pid, "start_mono_ns": time.monotonic_ns()}
    go.touch()
    try:
        helper.wait(120)
        if helper.returncode:
            entry["error"] = f"loopback helper exited {helper.returncode}"
    except subprocess.TimeoutExpired:
        helper.kill()
        entry["error"] = "loopback helper hung"
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
        if name == LIVE_SCENARIO and "live-probes" in probes:
            session["live-probes_rc"] = stop(probes.pop("live-probes")[0], signal.SIGTERM)
            save()
    for name in ("probe-addr", "probe-pid", "probe-decisions", "live-probes"):
        if name not in probes:
            continue
        session[f"{name}_stopped_mono_ns"] = time.monotonic_ns()
        session[f"{name}_rc"] = stop(probes[name][0])
    save()
    if bench_s:
        sys.path.insert(0, str(ROOT / "bench"))
        import probe_overhead
        log("bench: probes on/off, per level")
        entry = {"start_mono_ns": time.monotonic_ns()}
        try:
            entry["result"] = probe_overhead.run(probes["probe"][0].pid, bench_s, bench_rounds,
                                                 ready_file=probes["probe"][1])
        except Exception as e:  # noqa: BLE001 - recorded, the session still ends cleanly
            entry["error"] = f"{type(e).__name__}: {e}"
        entry["end_mono_ns"] = time.monotonic_ns()
        session["bench"] = entry
        save()
    time.sleep(1)
    session["probe_rc"] = stop(probes["probe"][0])
    if raw is not None and raw.exists():
        shutil.copyfile(raw, out / "probe.raw")
    session["ended_mono_ns"] = time.monotonic_ns()
    session["complete"] = True
    save()
    log("done")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
