"""The host side of `sctpcorr lab run`: check prerequisites, boot the guest once, collect the bundles.

The guest is Debian's own kernel (``linux-image-amd64``: SCTP as a module, kprobes, BTF), found in /boot and
booted by virtme-ng over the host's root filesystem in QEMU TCG mode (nested KVM hangs at boot on the machines
this was built on).  One boot runs a group of scenarios one after another; each writes its own bundle.

Interruptions: the runner writes every bundle's manifest (``complete: false``, phase ``pending``) before the
boot; the guest rewrites it at each phase.  If the guest never finishes (timeout, Ctrl-C, kernel panic, QEMU
dying) the runner kills the QEMU process group and records in each unfinished manifest why it stopped.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sctpcorr.lab import bundle as bdl
from sctpcorr.outfile import describe

__all__ = ["LabError", "Prerequisites", "check_prerequisites", "find_kernel", "run_group", "GroupResult"]

BOOT_ALLOWANCE_S = 240.0   # TCG boot is ~20-40 s here; CI machines may be slower
PER_SCENARIO_EXTRA_S = 90.0
PROBE_COMPILE_ALLOWANCE_S = 1200   # per scenario with a probe recorder: BCC compiles under TCG (2.5-9 min measured)


class LabError(RuntimeError):
    """The lab cannot run here (missing prerequisite, no kernel); the message says what to install."""


class BundleUnwritable(LabError):
    """The bundle directory cannot be written (a full disk) before the guest started: nothing was run."""


def _kver_key(v: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)]


def find_kernel(boot: str | Path = "/boot") -> tuple[str, Path]:
    """(version, vmlinuz) of the newest kernel in /boot whose config has SCTP (built in or module)."""
    cands = []
    for img in Path(boot).glob("vmlinuz-*"):
        ver = img.name[len("vmlinuz-"):]
        cfg = Path(boot) / f"config-{ver}"
        try:
            text = cfg.read_text()
        except OSError:
            continue
        if re.search(r"^CONFIG_IP_SCTP=[ym]$", text, re.M) and os.access(img, os.R_OK):
            cands.append((ver, img))
    if not cands:
        raise LabError("no kernel with SCTP in /boot: apt-get install -y linux-image-amd64")
    return max(cands, key=lambda c: _kver_key(c[0]))


def _is_static_elf(path: str) -> bool:
    """True if the ELF file has no PT_INTERP (statically linked)."""
    import struct
    try:
        with open(path, "rb") as f:
            hdr = f.read(64)
            if hdr[:4] != b"\x7fELF" or hdr[4] != 2:
                return False
            phoff, = struct.unpack_from("<Q", hdr, 32)
            phentsize, phnum = struct.unpack_from("<HH", hdr, 54)
            f.seek(phoff)
            ph = f.read(phentsize * phnum)
        return all(struct.unpack_from("<I", ph, i * phentsize)[0] != 3 for i in range(phnum))
    except OSError:
        return False


def find_vng() -> str | None:
    """vng next to this Python (the venv) first, then on PATH."""
    here = Path(sys.executable).parent / "vng"
    return str(here) if here.exists() else shutil.which("vng")


@dataclass
class Prerequisites:
    ok: bool
    apt: list[str] = field(default_factory=list)    # Debian packages to install
    pip: list[str] = field(default_factory=list)    # PyPI packages to install
    notes: list[str] = field(default_factory=list)
    kernel: tuple[str, Path] | None = None

    def message(self) -> str:
        """One line: what to install."""
        parts = []
        if self.apt:
            parts.append("apt-get install -y " + " ".join(self.apt))
        if self.pip:
            parts.append(f"{Path(sys.executable).parent / 'pip'} install " + " ".join(self.pip))
        parts += self.notes
        return "lab prerequisites missing: " + "; ".join(parts) + " (or run scripts/setup-lab)"


def check_prerequisites() -> Prerequisites:
    """What the lab needs on the host; nothing is installed here."""
    pr = Prerequisites(ok=True)
    try:
        pr.kernel = find_kernel()
    except LabError:
        pr.apt.append("linux-image-amd64")
    tools = [("qemu-system-x86_64", "qemu-system-x86"), ("ip", "iproute2"), ("tc", "iproute2"),
             ("ss", "iproute2"), ("modprobe", "kmod"), ("ethtool", "ethtool"), ("dumpcap", "tshark")]
    for exe, pkg in tools:
        if not shutil.which(exe) and not Path("/usr/sbin", exe).exists() and pkg not in pr.apt:
            pr.apt.append(pkg)
    bb = shutil.which("busybox") or "/bin/busybox"
    if not _is_static_elf(bb) and not _is_static_elf("/usr/bin/busybox"):
        pr.apt.append("busybox-static")
    if not find_vng():
        pr.pip.append("virtme-ng")
    if os.geteuid() != 0:
        pr.notes.append("run as root (the guest is booted with --user root and builds network namespaces)")
    pr.ok = not (pr.apt or pr.pip or pr.notes)
    return pr


@dataclass
class GroupResult:
    out: Path
    bundles: list[Path]
    returncode: int | None     # vng's exit code (the guest script's), None if killed
    reason: str | None         # why the run stopped early (timeout, interrupted, guest crashed...), or None
    elapsed_s: float
    console: Path
    disk_error: str | None = None   # a bundle file the host could not write (full disk): console or manifest


def _package_root() -> Path:
    import sctpcorr
    return Path(sctpcorr.__file__).resolve().parent.parent


GUEST_KERNEL_ARGS = "clocksource=tsc tsc=reliable"


def vng_command(kernel: Path, rwdirs: list[Path], exec_cmd: str, memory: str = "2G",
                cpus: int | None = None) -> list[str]:
    vng = find_vng()
    if not vng:
        raise LabError(Prerequisites(ok=False, pip=["virtme-ng"]).message())
    # Under TCG the guest kernel does not trust the TSC and runs on the HPET clocksource: every ktime read (each
    # BPF event's timestamp, the stack's own) is then an emulated I/O access, which made one timestamp per probe
    # hit cost 9 % of bulk throughput (bench, 2026-12-06; 4.5 % with the TSC).  Real machines read the TSC.
    cmd = [vng, "--run", str(kernel), "--disable-kvm", "--force-9p", "--disable-microvm", "--memory", memory,
           "--user", "root", "--append", GUEST_KERNEL_ARGS]
    if cpus:
        cmd += ["--cpus", str(cpus)]
    for d in rwdirs:
        cmd += ["--rwdir", str(d)]
    return cmd + ["--exec", exec_cmd]


def vng_env() -> dict[str, str]:
    """The environment vng runs in: this venv's bin first (vng itself), then PATH, then the sbin directories."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '/usr/bin:/bin')}:/usr/sbin:/sbin"
    return env


BOOT_SILENCE_S = 150.0   # a guest that has printed nothing by then is hung at boot (seen under TCG): retry once


def run_in_guest(exec_cmd: str, rwdir: Path, *, memory: str = "2G", timeout_s: float = 3600,
                 boot_silence_s: float = BOOT_SILENCE_S) -> int:
    """Boot the lab kernel and run ``exec_cmd`` (one shell command line) in it, ``rwdir`` writable, the console
    in rwdir/console.log; returns vng's exit code.  For sessions that are not scenario groups (the probe tests
    and the probe overhead bench); ``run_group`` runs scenarios.  ``exec_cmd`` must print something within
    ``boot_silence_s`` of the boot (the guest sessions log as they start): a guest that stays silent that long
    hung while booting, which happens now and then under TCG, and is killed and booted once more."""
    pr = check_prerequisites()
    if not pr.ok or pr.kernel is None:
        raise LabError(pr.message())
    cmd = vng_command(pr.kernel[1], [rwdir], exec_cmd, memory=memory)
    console = rwdir / "console.log"
    t_start = time.monotonic()
    with open(console, "wb") as con:
        for attempt in (1, 2):
            con.write(f"# attempt {attempt}: {shlex.join(cmd)}\n".encode())
            con.flush()
            # through a pipe, never the file itself: QEMU reopens its stdout, which would truncate a file
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=vng_env(), cwd=rwdir, start_new_session=True)
            assert proc.stdout is not None
            os.set_blocking(proc.stdout.fileno(), False)
            t0 = time.monotonic()
            heard = False
            try:
                while True:
                    chunk = proc.stdout.read()
                    if chunk:
                        heard = True
                        con.write(chunk)
                        con.flush()
                    if proc.poll() is not None:
                        con.write(proc.stdout.read() or b"")
                        return proc.returncode
                    if time.monotonic() - t_start > timeout_s:
                        _kill_group(proc)
                        raise LabError(f"the guest was still running after {timeout_s:.0f} s and was killed "
                                       f"(console: {console})")
                    if not heard and time.monotonic() - t0 > boot_silence_s:
                        _kill_group(proc)
                        con.write(f"# no output within {boot_silence_s:.0f} s: hung at boot, killed\n".encode())
                        break
                    time.sleep(0.2)
            except KeyboardInterrupt:
                _kill_group(proc)
                raise
    raise LabError(f"the guest hung at boot twice (no output within {boot_silence_s:.0f} s; console: {console})")


def run_group(scenarios: list[dict], out: str | Path, *, timeout_s: float | None = None, memory: str = "2G",
              cpus: int | None = None, crash_after_s: float | None = None,
              probe_command: list[str] | None = None, echo_console: bool = False) -> GroupResult:
    """Boot once and run ``scenarios`` (validated dicts) in order.

    One scenario: ``out`` is its bundle.  Several: ``out/<name>/`` each.  Returns when the guest is gone."""
    pr = check_prerequisites()
    if not pr.ok:
        raise LabError(pr.message())
    assert pr.kernel is not None
    kver, vmlinuz = pr.kernel
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = [s["name"] for s in scenarios]
    if len(set(names)) != len(names):
        raise LabError(f"scenario names repeat in one run: {names}")
    dirs = [out] if len(scenarios) == 1 else [out / n for n in names]
    started_real = time.time_ns()
    bundles = []
    for d, sc in zip(dirs, scenarios):
        d.mkdir(parents=True, exist_ok=True)
        for stale in ("manifest.json", "manifest.json.tmp"):
            (d / stale).unlink(missing_ok=True)
        try:
            if sc.get("source") and Path(sc["source"]).exists():
                shutil.copyfile(sc["source"], d / "scenario.toml")
            bdl.write_manifest(d, {
                "schema": bdl.SCHEMA, "tool": "sctpcorr lab", "complete": False, "phase": "pending",
                "interrupted": None, "scenario": sc,
                "host": {"kernel_image": str(vmlinuz), "kernel_version": kver, "started_real_ns": started_real,
                         "python": sys.executable},
            })
        except OSError as exc:
            raise BundleUnwritable(f"{describe(str(d), exc)}: nothing was run") from None
        bundles.append(d)
    group = {"bundles": [{"dir": str(d), "scenario": sc} for d, sc in zip(dirs, scenarios)],
             "options": {"python": sys.executable, "crash_after_s": crash_after_s,
                         "probe_command": probe_command}}
    gpath = out / "lab-group.json"
    try:
        gpath.write_text(json.dumps(group, indent=1) + "\n")
    except OSError as exc:
        raise BundleUnwritable(f"{describe(str(gpath), exc)}: nothing was run") from None
    root = _package_root()
    exec_cmd = " ".join([
        "env", f"PYTHONPATH={shlex.quote(str(root))}", "PYTHONDONTWRITEBYTECODE=1", "PYTHONUNBUFFERED=1",
        shlex.quote(sys.executable), "-S", "-m", "sctpcorr.lab.guest", shlex.quote(str(gpath))])
    cmd = vng_command(vmlinuz, [out], exec_cmd, memory=memory, cpus=cpus)
    if timeout_s is None:
        per = PER_SCENARIO_EXTRA_S + (PROBE_COMPILE_ALLOWANCE_S if probe_command else 0)
        timeout_s = BOOT_ALLOWANCE_S + sum(s["duration_s"] + per for s in scenarios)
    console = out / "console.log"
    env = vng_env()
    t0 = time.monotonic()
    reason = None
    rc = None
    disk_error: str | None = None

    def keep(con: Any, data: bytes) -> None:
        """Console output to console.log; a full disk stops the log (said at the end), not the guest."""
        nonlocal disk_error
        if disk_error is None and data:
            try:
                con.write(data)
                con.flush()
            except OSError as exc:
                disk_error = describe(str(console), exc)

    with open(console, "wb") as con:
        keep(con, f"# {shlex.join(cmd)}\n".encode())
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=str(out))
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        try:
            while True:
                chunk = proc.stdout.read()
                if chunk:
                    keep(con, chunk)
                    if echo_console:
                        sys.stderr.buffer.write(chunk)
                        sys.stderr.flush()
                if proc.poll() is not None:
                    keep(con, proc.stdout.read() or b"")
                    break
                if time.monotonic() - t0 > timeout_s:
                    reason = f"timeout: the guest was still running after {timeout_s:.0f} s and was killed"
                    _kill_group(proc)
                    break
                time.sleep(0.2)
        except KeyboardInterrupt:
            reason = "interrupted: Ctrl-C (SIGINT) on the host; the guest was killed"
            _kill_group(proc)
        rc = proc.returncode if reason is None else None
    elapsed = time.monotonic() - t0
    text = console.read_bytes().decode(errors="replace")
    if reason is None and rc not in (0, 1):
        # vng returns 255 when the guest left no exit status: a kernel panic (panic=-1 makes QEMU exit; the
        # console is quiet, so the panic text may not show) or QEMU dying
        if "Kernel panic" in text:
            reason = "guest crashed: kernel panic"
        elif rc == 255:
            reason = "guest crashed: no exit status from the guest (kernel panic or QEMU died)"
        else:
            reason = f"the guest exited with code {rc} before finishing"
    ended_real = time.time_ns()
    for d in bundles:
        try:
            m = bdl.read_manifest(d)
        except FileNotFoundError:
            m = {"schema": bdl.SCHEMA, "complete": False}
        host = dict(m.get("host") or {})
        host.update(ended_real_ns=ended_real, elapsed_s=round(elapsed, 3), vng_returncode=rc,
                    command=cmd, console="console.log" if d == out else "../console.log")
        m["host"] = host
        if not m.get("complete"):
            m["complete"] = False
            if m.get("phase") not in ("done", "failed"):
                m["interrupted"] = {"reason": reason or "the guest stopped before this scenario finished",
                                    "phase": m.get("phase")}
            elif m.get("phase") == "failed" and not m.get("interrupted"):
                m["interrupted"] = None
        try:
            bdl.write_manifest(d, m)
        except OSError as exc:
            disk_error = disk_error or describe(str(d / bdl.MANIFEST), exc)
    return GroupResult(out=out, bundles=bundles, returncode=rc, reason=reason, elapsed_s=elapsed, console=console,
                       disk_error=disk_error)


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM then SIGKILL the process group of vng (virtme-run and QEMU are in it)."""
    for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
