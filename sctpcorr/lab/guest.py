"""The guest side of `sctpcorr lab run`: runs as root inside the virtme-ng guest, one scenario after another.

Invoked by the host runner as ``python -m sctpcorr.lab.guest GROUP.json``; GROUP.json lists the bundles to make
(each with its validated scenario) and options.  Standard library only, and only the guest's own root
filesystem view (the host's, over 9p) plus the bundle directories, which the host shares read-write.

Per scenario: build the namespaces (topology.py), shape the paths with netem, start a capture next to each
endpoint (capture.py), start the probe recorder hook (root namespace), start periodic snapshots of
/proc/net/sctp and sock_diag inside each endpoint's namespace, run the workload server then client, apply the
scenario's timeline (netem changes at given times after the association is up), then stop everything, record
netem statistics and mark the manifest complete.  Captures, snapshots and the workload are threads of this
process, each inside its namespace (netns.py): a new process costs seconds in a TCG guest.  The manifest is rewritten at each phase, so whatever stops the guest, the bundle
says how far it got.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from sctpcorr.lab import bundle as bdl
from sctpcorr.lab import netns, sockdiag, workload
from sctpcorr.lab import topology as topo
from sctpcorr.lab.capture import Capture
from sctpcorr.outfile import LineLog
from sctpcorr.timebase import clock_offsets, clocksource

MODULES = ["sctp", "sctp_diag", "sch_netem", "veth"]


def kernel_info() -> dict:
    """Kernel release, HZ and capabilities from /boot/config-<release> (the guest sees the host's /boot)."""
    rel = os.uname().release
    info: dict[str, Any] = {"kernel_release": rel, "kernel_version": os.uname().version, "hz": None,
                            "config": None}
    cfg = Path(f"/boot/config-{rel}")
    if cfg.exists():
        info["config"] = str(cfg)
        want = {"CONFIG_HZ": "hz", "CONFIG_IP_SCTP": "sctp", "CONFIG_KPROBES": "kprobes",
                "CONFIG_DEBUG_INFO_BTF": "btf", "CONFIG_BPF_SYSCALL": "bpf"}
        for line in cfg.read_text().splitlines():
            k, _, v = line.partition("=")
            if k in want:
                info[want[k]] = int(v) if k == "CONFIG_HZ" else v
    try:
        info["uptime_at_start_s"] = float(Path("/proc/uptime").read_text().split()[0])
    except OSError:
        pass
    info["cpus"] = os.cpu_count()
    info["clocksource"] = clocksource()
    return info


class Lab:
    """One scenario run inside the guest."""

    def __init__(self, bundle_dir: str, scenario: dict, opts: dict):
        self.dir = Path(bundle_dir)
        self.sc = scenario
        self.opts = opts
        self.procs: dict[str, subprocess.Popen] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        (self.dir / "workload").mkdir(parents=True, exist_ok=True)
        (self.dir / "snapshots").mkdir(exist_ok=True)
        self.disk_error: str | None = None      # the first bundle file that could not be written (_disk)
        self.labf = LineLog(str(self.dir / "lab.jsonl"))
        self.netem_now = {p: {d: dict(v) for d, v in dirs.items()} for p, dirs in scenario["paths"].items()}

    # -- logging and manifest ---------------------------------------------------------------------------
    def log(self, rtype: str, **fields: Any) -> None:
        rec = {"type": rtype, "mono_ns": time.monotonic_ns(), "real_ns": time.time_ns(), **fields}
        with self.lock:
            self.labf.add(json.dumps(rec, separators=(",", ":")))
            if (exc := self.labf.flush()) is not None:
                self._disk(self.dir / "lab.jsonl", exc)

    def manifest(self, **changes: Any) -> None:
        with self.lock:
            try:
                m = bdl.read_manifest(self.dir)
            except FileNotFoundError:
                m = {"schema": bdl.SCHEMA}
            m.update(changes)
            try:
                bdl.write_manifest(self.dir, m)
            except OSError as exc:
                self._disk(self.dir / bdl.MANIFEST, exc)

    def _disk(self, path: Path, exc: OSError) -> None:
        """A bundle file that could not be written (a full disk): said once on the console, and the scenario
        fails with it (run()); the run goes on, so that the captures end whole and the guest shuts down."""
        if self.disk_error is None:
            from sctpcorr.outfile import describe

            self.disk_error = describe(str(path), exc)
            print(f"[lab] {self.sc['name']}: {self.disk_error}", flush=True)

    def phase(self, name: str) -> None:
        self.log("phase", phase=name)
        self.manifest(phase=name)
        print(f"[lab] {self.sc['name']}: {name}", flush=True)

    # -- commands -----------------------------------------------------------------------------------------
    def sh(self, argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            self.log("command_failed", argv=argv, rc=r.returncode, stderr=r.stderr[-2000:])
            if check:
                raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
        return r

    def batch(self, argv: list[str], lines: list[str]) -> None:
        """One ip/tc process for many commands (``-batch -``)."""
        r = subprocess.run(argv, input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            self.log("command_failed", argv=argv, stdin=lines, rc=r.returncode, stderr=r.stderr[-2000:])
            raise RuntimeError(f"{' '.join(argv)}: exit {r.returncode}: {r.stderr.strip()[-500:]}")

    def spawn(self, name: str, argv: list[str], **kw: Any) -> subprocess.Popen:
        p = subprocess.Popen(argv, **kw)
        self.procs[name] = p
        self.log("spawn", name=name, pid=p.pid, argv=argv)
        return p

    # -- the run --------------------------------------------------------------------------------------------
    def run(self) -> bool:
        t_start = time.monotonic_ns()
        start_real = time.time_ns()   # read together with t_start: the pair is one instant
        self.manifest(phase="guest-start", complete=False, guest=kernel_info(),
                      clock_offsets=[clock_offsets()],
                      times={"start_real_ns": start_real, "start_mono_ns": t_start})
        ok = False
        timing: dict[str, float] = {}
        try:
            t = time.monotonic()
            self.phase("setup")
            self.setup_network()
            self.start_captures()
            self.wait_captures()
            # the recorder first: it may take minutes to be ready (BCC compiles), and the server gives up on an
            # association that does not come within its timeout
            self.start_probe_recorder()
            server = self.start_server()
            self.start_snapshots()
            self.wait_server(server)
            timing["setup_s"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            self.phase("workload")
            rc = self.run_workload(server)
            timing["workload_s"] = round(time.monotonic() - t, 3)
            t = time.monotonic()
            self.phase("stopping")
            self.finish()
            timing["stop_s"] = round(time.monotonic() - t, 3)
            ok = rc == {"client": 0, "server": 0}
            self.manifest(workload_exit=rc)
            if self.disk_error:
                ok = False
                raise RuntimeError(self.disk_error)
        except Exception as e:  # noqa: BLE001 - recorded in the bundle, the next scenario still runs
            self.log("error", error=f"{type(e).__name__}: {e}", traceback=traceback.format_exc())
            print(f"[lab] {self.sc['name']}: FAILED: {e}", file=sys.stderr, flush=True)
            self.manifest(error=f"{type(e).__name__}: {e}")
            self.kill_all()
        finally:
            self.stop.set()
            self.teardown()
        m = bdl.read_manifest(self.dir)
        t_end = time.monotonic_ns()
        end_real = time.time_ns()
        offs = m.get("clock_offsets", []) + [clock_offsets()]
        times = dict(m.get("times") or {})
        times.update(end_real_ns=end_real, end_mono_ns=t_end, duration_s=round((t_end - t_start) / 1e9, 3),
                     **timing)
        results = self.results()
        self.manifest(clock_offsets=offs, times=times, results=results, complete=ok,
                      phase="done" if ok else "failed")
        print(f"[lab] {self.sc['name']}: {'done' if ok else 'FAILED'} in {times['duration_s']} s "
              f"(sent {results['client_sent']}, received {results['server_received']})", flush=True)
        if (exc := self.labf.close()) is not None:
            self._disk(self.dir / "lab.jsonl", exc)
        return ok

    def setup_network(self) -> None:
        self.teardown_network()
        # forwarding on in the root namespace first: new namespaces inherit IPv4 conf/all (the router needs it)
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        batches = topo.setup_batches()
        self.batch(*batches[0])
        for argv in topo.offload_commands():
            if self.sh(argv, check=False).returncode:
                self.log("warning", warning="could not turn off SCTP checksum offload/GSO: captures may show "
                         "unchecksummed or oversized packets", argv=argv)
        for argv, lines in batches[1:]:
            self.batch(argv, lines)
        self.apply_netem([(p, d, params) for p, dirs in self.sc["paths"].items() for d, params in dirs.items()
                          if params or d in ("c2s", "s2c")], at_s=None)
        inodes = {}
        for role, ns in topo.NS.items():
            try:   # the inode a probe event's netns field carries: which kernel end lived on which host
                inodes[role] = os.stat(f"/run/netns/{ns}").st_ino
            except OSError:
                pass
        self.manifest(topology={**topo.topology(), "netns_inodes": inodes}, netem=self.sc["paths"])

    def apply_netem(self, changes: list[tuple[str, str, dict]], at_s: float | None, **log: Any) -> None:
        """Set the netem of (path, direction, params), one ``tc -batch`` process per namespace (the router for
        the network, an endpoint for its own egress), and log each change."""
        by_ns: dict[str, list[str]] = {}
        for p, d, params in changes:
            by_ns.setdefault(topo.netem_namespace(d), []).append(topo.netem_line(p, d, params))
        for ns, lines in by_ns.items():
            self.batch(["tc", "-n", ns, "-batch", "-"], lines)
        for p, d, params in changes:
            self.log("netem", path=p, direction=d, params=params, at_s=at_s, **log)

    def teardown_network(self) -> None:
        subprocess.run(["ip", "-force", "-batch", "-"], input="\n".join(topo.teardown_lines()) + "\n",
                       capture_output=True, text=True, timeout=60)

    def start_captures(self) -> None:
        """One capture thread per endpoint namespace, on both of its interfaces."""
        self.captures: dict[str, tuple[Capture, threading.Thread]] = {}
        files: dict[str, Any] = {}
        for role in ("client", "server"):
            ifs = [topo.PATHS[p][f"{role}_if"] for p in ("p1", "p2")]
            cap = Capture(str(self.dir / f"{role}.pcapng"), ifs, int(self.sc.get("snaplen") or 0))

            def body(c: Capture = cap) -> dict:
                c.open()
                return c.run()
            th = netns.spawn(f"capture-{role}", topo.NS[role], body)
            self.captures[role] = (cap, th)
            files[f"{role}_capture"] = f"{role}.pcapng"
        files.update(workload={"client": "workload/client.jsonl", "server": "workload/server.jsonl"},
                     snapshots={"client": "snapshots/client.jsonl", "server": "snapshots/server.jsonl"},
                     lab_log="lab.jsonl", netem_stats="netem.json", scenario="scenario.json")
        self.files = files

    def wait_captures(self) -> None:
        for role, (cap, th) in self.captures.items():
            if not cap.ready.wait(30):
                raise RuntimeError(f"{role} capture did not start: {th.error!r}")  # type: ignore[attr-defined]
        self.manifest(files=self.files)

    def start_probe_recorder(self) -> None:
        """HOOK for the kernel probe recorder (`sctpcorr probe`).

        It must run from the ROOT network namespace (a BCC process started under `ip netns exec` failed to
        detach its kprobes at exit), and it sees every namespace's associations from there.  The host passes
        the command in ``opts["probe_command"]`` (an argv; ``{out}`` is replaced by the bundle's kernel/
        directory); without one, the manifest says no probe ran and the snapshots are the kernel's view.
        A recorder that can say when it is ready (``{ready}`` in its argv) runs once for the whole boot
        (``SessionProbe``: BCC compiles for minutes under TCG) and is already recording into this bundle."""
        sp: SessionProbe | None = self.opts.get("session_probe")
        if sp is not None:
            if not sp.alive():
                raise RuntimeError(f"the probe recorder of this boot is gone (exit {sp.proc and sp.proc.returncode};"
                                   f" see {sp.out_path})")
            self.manifest(probe=sp.status())
            return
        if self.opts.get("probe_error"):
            raise RuntimeError(self.opts["probe_error"])
        argv = self.opts.get("probe_command")
        if not argv:
            self.manifest(probe={"status": "not-run", "reason": "no probe recorder configured (sctpcorr probe is "
                                 "a separate issue); kernel state is in snapshots/"})
            return
        kdir = self.dir / "kernel"
        kdir.mkdir(exist_ok=True)
        ready = kdir / "probe.ready"
        ready.unlink(missing_ok=True)
        waits = any("{ready}" in a for a in argv)
        argv = [a.replace("{out}", str(kdir)).replace("{ready}", str(ready)) for a in argv]
        proc = self.spawn("probe", argv, stdout=open(kdir / "probe.out", "w"), stderr=subprocess.STDOUT)
        if not waits:       # the recorder cannot say when it is ready: give it a moment
            time.sleep(float(self.opts.get("probe_warmup_s", 2.0)))
            self.manifest(probe={"status": "started", "argv": argv})
            return
        # `sctpcorr probe --ready-file` writes the file once every probe is attached (BCC compiles first: minutes
        # under TCG); the workload must not start before, or its first events are not recorded
        t0 = time.monotonic()
        limit = float(self.opts.get("probe_ready_timeout_s", 1200))
        while not ready.exists():
            if proc.poll() is not None:
                tail = (kdir / "probe.out").read_text(errors="replace")[-500:]
                raise RuntimeError(f"the probe recorder exited ({proc.returncode}) before it was ready: {tail}")
            if time.monotonic() - t0 > limit:
                raise RuntimeError(f"the probe recorder was not ready after {limit:.0f} s")
            time.sleep(0.5)
        self.manifest(probe={"status": "started", "argv": argv, "ready_after_s": round(time.monotonic() - t0, 1)})

    def start_snapshots(self) -> None:
        """Per endpoint namespace, a thread that snapshots /proc/net/sctp/{assocs,remaddr,snmp} (its own
        namespace's view through /proc/thread-self) and a sock_diag dump, every snapshot_interval_s, and once
        more after the workload ended."""
        interval = float(self.sc.get("snapshot_interval_s") or 1.0)

        def body(role: str) -> None:
            f = LineLog(str(self.dir / "snapshots" / f"{role}.jsonl"))
            try:
                diag = sockdiag.open_socket()
            except OSError as e:
                diag = None
                f.add(json.dumps({"type": "error", "source": "sock_diag", "error": str(e)}))
            while True:
                self.snapshot(role, f, diag)
                if self.stop.wait(interval):
                    break
            self.snapshot(role, f, diag)
            if diag is not None:
                diag.close()
            if (exc := f.close()) is not None:
                with self.lock:
                    self._disk(Path(f.path), exc)
        for role in ("client", "server"):
            self.threads.append(netns.spawn(f"snapshots-{role}", topo.NS[role], body, role))

    def snapshot(self, role: str, f: LineLog, diag: Any) -> None:
        """One snapshot of ``role``'s namespace into ``f``: a full disk stops the file (LineLog), not the run."""
        ns = topo.NS[role]
        for name in ("assocs", "remaddr", "snmp"):
            try:
                text = Path(f"/proc/thread-self/net/sctp/{name}").read_text()
                f.add(json.dumps({"type": "proc", "source": name, "netns": ns, "mono_ns": time.monotonic_ns(),
                                  "real_ns": time.time_ns(), "text": text}, separators=(",", ":")))
            except OSError as e:
                f.add(json.dumps({"type": "error", "source": f"proc:{name}", "error": str(e)}))
        if diag is not None:
            try:
                ents = sockdiag.dump(diag)
                f.add(json.dumps({"type": "sock_diag", "netns": ns, "mono_ns": time.monotonic_ns(),
                                  "real_ns": time.time_ns(), "sockets": ents}, separators=(",", ":")))
            except OSError as e:
                f.add(json.dumps({"type": "error", "source": "sock_diag", "error": str(e)}))
        if (exc := f.flush()) is not None:
            with self.lock:
                self._disk(Path(f.path), exc)

    def start_server(self) -> threading.Thread:
        cfg = dict(self.sc)
        cfg["topology"] = topo.topology()
        (self.dir / "scenario.json").write_text(json.dumps(cfg, indent=1) + "\n")
        self.cfg = cfg
        self.server_ready = threading.Event()
        self.logs = {r: workload.Log(str(self.dir / "workload" / f"{r}.jsonl")) for r in ("client", "server")}
        self.log("workload_start", role="server")
        return netns.spawn("server", topo.NS["server"], workload.run_role, "server", cfg, self.logs["server"],
                           self.server_ready)

    def wait_server(self, srv: threading.Thread) -> None:
        if not self.server_ready.wait(60):
            raise RuntimeError(f"workload server did not start: {srv.error!r}")  # type: ignore[attr-defined]

    def run_workload(self, srv: threading.Thread) -> dict:
        t0 = time.monotonic()
        cli = netns.spawn("client", topo.NS["client"], workload.run_role, "client", self.cfg, self.logs["client"])
        self.log("workload_start", role="client")
        tl = threading.Thread(target=self.timeline, args=(t0,), name="timeline", daemon=True)
        tl.start()
        self.threads.append(tl)
        crash = self.opts.get("crash_after_s")
        if crash is not None:
            threading.Thread(target=self.crash, args=(float(crash),), daemon=True).start()
        rc: dict[str, Any] = {}
        for role, th, limit in (("client", cli, self.sc["duration_s"] + 60), ("server", srv, 40)):
            th.join(limit)
            if th.is_alive():
                rc[role] = "timeout"
            elif th.error is not None:  # type: ignore[attr-defined]
                rc[role] = f"error: {th.error!r}"  # type: ignore[attr-defined]
            else:
                rc[role] = th.result  # type: ignore[attr-defined]
        self.log("workload_end", rc=rc)
        return rc

    def timeline(self, spawned: float) -> None:
        """Apply the scenario's netem changes; ``at_s`` counts from the client's COMM_UP (its association is
        up), which comes seconds after the client process is spawned in a TCG guest."""
        if not self.sc["timeline"]:
            return
        if not self.logs["client"].comm_up.wait(120) or self.stop.is_set():
            return
        t0 = time.monotonic()
        self.log("timeline_start", after_spawn_s=round(t0 - spawned, 3))
        for ev in self.sc["timeline"]:
            if self.stop.wait(max(0.0, t0 + ev["at_s"] - time.monotonic())):
                return
            changes = []
            for d in topo.NETEM_PLACES:
                if ev.get(d):
                    self.netem_now[ev["path"]].setdefault(d, {}).update(ev[d])
                    changes.append((ev["path"], d, dict(self.netem_now[ev["path"]][d])))
            started = time.time_ns()   # tc takes a while in TCG: the change lands between this and the log
            try:   # both directions of the network in one tc process, so they change together
                self.apply_netem(changes, at_s=ev["at_s"], rel_s=round(time.monotonic() - t0, 6),
                                 started_real_ns=started)
            except Exception as e:  # noqa: BLE001
                self.log("error", error=f"timeline: {e}")

    def crash(self, after_s: float) -> None:
        """Testing aid: panic the guest kernel ``after_s`` after the association is up (an interrupted run)."""
        if not self.logs["client"].comm_up.wait(120):
            return
        time.sleep(after_s)
        self.log("crash", note="crash_after_s: writing c to /proc/sysrq-trigger")
        Path("/proc/sys/kernel/sysrq").write_text("1\n")
        Path("/proc/sysrq-trigger").write_text("c\n")

    def finish(self) -> None:
        time.sleep(0.5)   # the last SHUTDOWN-COMPLETE and SACKs reach the captures
        self.stop.set()
        for th in self.threads:
            th.join(timeout=20)
        for role, (cap, th) in self.captures.items():
            cap.stop.set()
        counts = {}
        for role, (cap, th) in self.captures.items():
            th.join(30)
            counts[role] = th.result if not th.is_alive() else "still running"  # type: ignore[attr-defined]
        self.manifest(capture_counts=counts)
        probe = self.procs.get("probe")
        if probe and probe.poll() is None:
            probe.send_signal(signal.SIGINT)
            try:
                probe.wait(30)
            except subprocess.TimeoutExpired:
                probe.kill()
        r = self.sh(["ip", "netns", "exec", topo.NS["router"], "tc", "-s", "-j", "qdisc", "show"], check=False)
        try:
            stats = json.loads(r.stdout)
        except ValueError:
            stats = {"raw": r.stdout}
        try:
            (self.dir / "netem.json").write_text(json.dumps(stats, indent=1) + "\n")
        except OSError as exc:
            self._disk(self.dir / "netem.json", exc)
        # a capture that could not be written whole (disk full) is kept up to its last whole packet; the run fails
        # with the reason, once everything else was stopped and recorded
        cut = [f"{role} capture: {c['write_error']} ({c.get('packets_not_written', 0)} packets not written)"
               for role, c in counts.items() if isinstance(c, dict) and c.get("write_error")]
        if cut:
            raise RuntimeError("; ".join(cut))

    def kill_all(self) -> None:
        self.stop.set()
        for cap, _th in getattr(self, "captures", {}).values():
            cap.stop.set()
        for name, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGINT if name == "probe" else signal.SIGKILL)
        for p in self.procs.values():
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    def teardown(self) -> None:
        self.kill_all()
        for cap, th in getattr(self, "captures", {}).values():
            th.join(10)
        for lg in getattr(self, "logs", {}).values():
            lg.flush()
            if lg.out.failed is not None:
                self._disk(Path(lg.out.path), lg.out.failed)
        self.teardown_network()

    def results(self) -> dict:
        cl, _ = bdl.read_jsonl(self.dir / "workload" / "client.jsonl")
        sv, _ = bdl.read_jsonl(self.dir / "workload" / "server.jsonl")
        ends = {r.get("role"): r for r in cl + sv if r.get("type") == "end"}
        return {
            "client_sent": sum(1 for r in cl if r.get("type") == "send"),
            "server_received": sum(1 for r in sv if r.get("type") == "recv"),
            "client_received": sum(1 for r in cl if r.get("type") == "recv"),
            "all_acked": (ends.get("client") or {}).get("all_acked"),
            "paddr_changes": [{k: r.get(k) for k in ("real_ns", "addr", "state")}
                              for r in cl + sv if r.get("type") == "paddr"],
        }


class SessionProbe:
    """One probe recorder for every scenario of a boot, one recording per bundle.

    Started before the first scenario, recording into that bundle's ``kernel/probe.jsonl``; when a scenario has
    ended, ``next_bundle()`` names the next bundle's file and sends SIGHUP: the recorder writes the end record
    of the file it had (what happened, and what was lost, while it was open) and goes on in the new one.  The
    last scenario's file is ended by SIGINT (``stop()``).  Each bundle thus holds a complete recording of its
    own, and BCC compiles once per boot instead of once per scenario."""

    def __init__(self, argv: list[str], bundle_dirs: list[str], ready: Path, timeout_s: float):
        self.argv_t, self.dirs, self.ready, self.timeout_s = argv, [Path(d) for d in bundle_dirs], ready, timeout_s
        self.proc: subprocess.Popen | None = None
        self.index = 0
        self.ready_after_s: float | None = None
        self.error: str | None = None

    def _kdir(self, i: int) -> Path:
        d = self.dirs[i] / "kernel"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def start(self) -> None:
        kdir = self._kdir(0)
        self.ready.unlink(missing_ok=True)
        self.argv = [a.replace("{out}", str(kdir)).replace("{ready}", str(self.ready)) for a in self.argv_t]
        self.out_path = self.ready.parent / "probe-session.out"
        self.proc = subprocess.Popen(self.argv, stdout=open(self.out_path, "w"), stderr=subprocess.STDOUT)
        print(f"[lab] probe recorder started (pid {self.proc.pid}); waiting until it is ready", flush=True)
        t0 = time.monotonic()
        while not self.ready.exists():
            if self.proc.poll() is not None:
                tail = self.out_path.read_text(errors="replace")[-500:]
                self.error = f"the probe recorder exited ({self.proc.returncode}) before it was ready: {tail}"
                raise RuntimeError(self.error)
            if time.monotonic() - t0 > self.timeout_s:
                self.proc.kill()
                self.error = f"the probe recorder was not ready after {self.timeout_s:.0f} s"
                raise RuntimeError(self.error)
            time.sleep(0.5)
        self.ready_after_s = round(time.monotonic() - t0, 1)
        print(f"[lab] probe recorder ready after {self.ready_after_s} s", flush=True)

    def status(self) -> dict:
        return {"status": "started", "argv": self.argv, "ready_after_s": self.ready_after_s,
                "session": {"part": self.index, "bundles": len(self.dirs)},
                "note": "one recorder for the boot; this bundle's file covers this scenario"}

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def next_bundle(self) -> None:
        """The scenario of bundle ``index`` has ended: go on in the next bundle's file."""
        if not self.alive():
            return
        nxt = self._kdir(self.index + 1) / "probe.jsonl"
        Path(str(self.ready) + ".next").write_text(str(nxt))
        assert self.proc is not None
        self.proc.send_signal(signal.SIGHUP)
        want = f"rotated {self.index + 1}"
        t0 = time.monotonic()
        while time.monotonic() - t0 < 600:     # the decoder may have a backlog to write first
            try:
                if want in self.ready.read_text():
                    break
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.index += 1

    def stop(self) -> object:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(900)             # the decoder may still have a backlog to write
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return "killed"
        return self.proc.returncode


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sctpcorr.lab.guest GROUP.json", file=sys.stderr)
        return 2
    group = json.loads(Path(args[0]).read_text())
    print(f"[lab] guest up: kernel {os.uname().release}, uptime "
          f"{Path('/proc/uptime').read_text().split()[0]} s", flush=True)
    for mod in MODULES:
        r = subprocess.run(["modprobe", mod], capture_output=True, text=True)
        if r.returncode:
            print(f"[lab] modprobe {mod} failed: {r.stderr.strip()}", file=sys.stderr, flush=True)
    failures = 0
    opts = dict(group.get("options", {}))
    argv_t = opts.get("probe_command") or []
    sp = None
    if any("{ready}" in a for a in argv_t):
        sp = SessionProbe(argv_t, [b["dir"] for b in group["bundles"]], Path(args[0]).parent / "probe.ready",
                          float(opts.get("probe_ready_timeout_s", 1800)))
        try:
            sp.start()
            opts["session_probe"] = sp
        except RuntimeError as e:
            print(f"[lab] {e}", file=sys.stderr, flush=True)
            opts["probe_error"] = str(e)     # every scenario fails with this reason in its manifest
            sp = None
    for i, b in enumerate(group["bundles"]):
        failures += not Lab(b["dir"], b["scenario"], opts).run()
        if sp is not None and i + 1 < len(group["bundles"]):
            sp.next_bundle()
    if sp is not None:
        rc = sp.stop()
        print(f"[lab] probe recorder stopped ({rc})", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
