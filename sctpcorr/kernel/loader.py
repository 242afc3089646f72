"""The thin BCC loader: read the C, add -D flags, compile once, attach probe by probe, drain the ring buffer.

The only module of sctpcorr that imports ``bcc`` (inside ``Loader.compile``).  Nothing here decodes events: ``reader()``
hands out the raw bytes of the ring-buffer records (``sctpcorr.kernel.abi.decode`` turns them into records).

Probes that ``probes.Probe.can_run`` rejects are compiled out (``-DSCTPCORR_NO_<DEFINE>``); a probe whose
attachment still fails is detached as a whole and reported with the kernel's error, and the others keep running.

Hooks: where the kernel allows a BPF trampoline on the function (``KernelEnv.hook_kind``), the probe's kprobe is
replaced by an fentry and its kretprobe by an fexit (``trampoline.py`` loads them: Debian's BCC cannot attach one
to a module's function).  A trampoline costs no trap; an fexit sees the call's arguments, so an entry + return pair
needs no stack-pointer bookkeeping.  If any trampoline of a probe fails to load or attach, the probe falls back to
kprobes as a whole (its pair must use one key scheme), and the status says why.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.resources
import ipaddress
import os
import socket
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sctpcorr.kernel import abi
from sctpcorr.kernel.probes import Attachment, Probe

__all__ = ["Filters", "Loader", "ProbeStatus", "bpf_dir", "bpf_source", "cflags_for", "fdinfo"]

MAIN_SOURCE = "sctpcorr.bpf.c"


@dataclass
class Filters:
    port: int | None = None
    vtag: int | None = None
    addr: str | None = None
    inodes: set[int] | None = None   # socket inodes (from --pid); None = no inode filter

    def describe(self) -> dict[str, Any]:
        return {"port": self.port, "vtag": self.vtag, "addr": self.addr,
                "socket_inodes": sorted(self.inodes) if self.inodes is not None else None}


@dataclass
class ProbeStatus:
    name: str
    attached: bool
    reason: str = ""
    metrics: str = ""
    attachments: list[str] = field(default_factory=list)   # "HOOK:target", the hook type used
    fallback: str = ""          # why kprobes were used where a trampoline was expected


def bpf_dir() -> Path:
    return Path(str(importlib.resources.files("sctpcorr.kernel.bpf")))


def bpf_source() -> str:
    return (bpf_dir() / MAIN_SOURCE).read_text()


# 4 MiB: about 10,000 egress events, most of a second of bulk load between two drains
RINGBUF_PAGES = 1024


def cflags_for(excluded: list[Probe], filters: Filters, ringbuf_pages: int = RINGBUF_PAGES,
               extra: list[str] | None = None) -> list[str]:
    """The -I/-D flags of one compile (also printed by --dump-bpf)."""
    if ringbuf_pages <= 0 or ringbuf_pages & (ringbuf_pages - 1):
        raise ValueError(f"ring buffer pages must be a power of two, not {ringbuf_pages}")
    flags = [f"-I{bpf_dir()}", f"-DSCTPCORR_RINGBUF_PAGES={ringbuf_pages}"]
    flags += [f"-DSCTPCORR_NO_{p.define}" for p in excluded]
    if filters.port is not None:
        flags.append(f"-DSCTPCORR_FILTER_PORT={int(filters.port)}")
    if filters.vtag is not None:
        flags.append(f"-DSCTPCORR_FILTER_VTAG={int(filters.vtag)}U")
    if filters.addr is not None:
        ip = ipaddress.ip_address(filters.addr)
        raw = ip.packed.ljust(16, b"\0")
        words = struct.unpack("=4I", raw)   # as the bytes lie in memory, read as __u32 on this host
        flags.append(f"-DSCTPCORR_FILTER_ADDR_FAMILY={socket.AF_INET if ip.version == 4 else socket.AF_INET6}")
        flags += [f"-DSCTPCORR_FILTER_ADDR_W{i}={w}U" for i, w in enumerate(words)]
    if filters.inodes is not None:
        flags.append("-DSCTPCORR_FILTER_INODES")
    return flags + list(extra or [])


def fdinfo(fd: int | str, pid: int | str = "self") -> dict[str, str]:
    """/proc/PID/fdinfo/FD as {key: value} (a BPF map's max_entries, a BPF program's run_cnt and run_time_ns);
    empty if it cannot be read."""
    try:
        text = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def ringbuf_size(fd: int) -> int | None:
    """max_entries (bytes) of the BPF map behind ``fd``."""
    v = fdinfo(fd).get("max_entries", "")
    return int(v) if v.isdigit() else None


class Loader:
    """One compiled BPF program with its probes attached."""

    def __init__(self, probes: list[Probe], excluded: list[Probe], filters: Filters,
                 ringbuf_pages: int = RINGBUF_PAGES, extra_cflags: list[str] | None = None,
                 trampolines: bool = True, env: Any = None):
        self.probes = probes
        self.excluded = excluded
        self.filters = filters
        self.ringbuf_pages = ringbuf_pages
        self.cflags = cflags_for(excluded, filters, ringbuf_pages, extra_cflags)
        self.bpf: Any = None
        self.status: dict[str, ProbeStatus] = {}
        self.live: set[str] = set()       # the probes attached now (detach_all / reattach change it)
        self.trampolines = trampolines    # False: kprobes everywhere (--hooks kprobe)
        self.env = env                    # probes.KernelEnv (hook types); made on first use
        self._links: dict[str, list[Any]] = {}          # probe -> its trampoline links (TrampolineLink)
        self._closed: dict[str, dict[str, int]] = {}    # run counts of trampoline programs closed by a detach
        self._in_map: set[int] = set()   # what filter_ino holds (set_inodes)

    def compile(self) -> None:
        from bcc import BPF  # the only bcc import of sctpcorr

        self.bpf = BPF(text=bpf_source(), cflags=self.cflags)
        if self.filters.inodes is not None:
            self.set_inodes(self.filters.inodes)

    def set_inodes(self, inodes: set[int]) -> None:
        """Replace the socket-inode filter set (the --pid filter is refreshed while running).  New inodes go in
        before gone ones come out, never clear-and-refill: the probes run meanwhile, and an event of a socket that
        stays in the set must never find the map without it (a lab run lost 4 of 466 events that way)."""
        table = self.bpf["filter_ino"]
        old = self._in_map
        for ino in set(inodes) - old:
            table[ctypes.c_uint64(ino)] = ctypes.c_uint8(1)
        for ino in old - set(inodes):
            with contextlib.suppress(KeyError):
                del table[ctypes.c_uint64(ino)]
        self._in_map = set(inodes)
        self.filters.inodes = set(inodes)

    def _hooks(self, p: Probe) -> list[str]:
        if not self.trampolines:
            return [a.kind for a in p.attachments]
        if self.env is None:
            from sctpcorr.kernel.probes import KernelEnv

            self.env = KernelEnv()
        return [self.env.hook_kind(a) for a in p.attachments]

    def attach(self) -> dict[str, ProbeStatus]:
        """Attach each probe, with the hooks ``_hooks`` gives it; a probe whose trampoline fails is detached as a
        whole and attached again with its kprobes (a pair must use one key scheme); one whose attachment still
        fails is detached as a whole and reported."""
        for p in self.probes:
            st = ProbeStatus(p.name, True, metrics=p.metrics)
            hooks = self._hooks(p)
            if any(h in ("fentry", "fexit") for h in hooks):
                try:
                    self._attach_all(p, hooks)
                except Exception as e:  # noqa: BLE001 - TrampolineError or bcc's; the probe falls back to kprobes
                    st.fallback = f"trampoline: {e}".splitlines()[0][:300]
                    hooks = [a.kind for a in p.attachments]
                else:
                    st.attachments = [f"{h}:{a.target}" for a, h in zip(p.attachments, hooks)]
                    self.live.add(p.name)
                    self.status[p.name] = st
                    continue
            try:
                self._attach_all(p, hooks)
            except Exception as e:  # noqa: BLE001 - bcc raises plain Exception; the reason is reported
                st.attached = False
                st.reason = str(e).replace("\n", " ")
            else:
                st.attachments = [f"{a.kind}:{a.target}" for a in p.attachments]
                self.live.add(p.name)
            self.status[p.name] = st
        return self.status

    def _attach_all(self, p: Probe, hooks: list[str]) -> None:
        """Attach every attachment of ``p`` with its hook, an fexit before its fentry (an fentry without its fexit
        would leave its slot unread); on a failure detach what was attached and raise "HOOK TARGET: why"."""
        done: list[tuple[Attachment, str]] = []
        for a, hook in sorted(zip(p.attachments, hooks), key=lambda ah: ah[1] != "fexit"):
            try:
                self._attach_one(p.name, a, hook)
            except Exception as e:
                for a2, hook2 in done:
                    self._detach_one(p.name, a2, hook2)
                raise RuntimeError(f"{hook} {a.target}: {e}") from e
            done.append((a, hook))

    def _attach_one(self, probe: str, a: Attachment, hook: str) -> None:
        if hook in ("fentry", "fexit"):
            from sctpcorr.kernel import trampoline

            assert self.env is not None and a.trampoline_fn
            module = self.env.trampoline_module(a.target) or "sctp"
            self._links.setdefault(probe, []).append(
                trampoline.attach(self.bpf, a.trampoline_fn, module, a.target, hook))
        elif hook == "kprobe":
            self._attach_counted_kprobe(a.target, a.fn)
        elif hook == "kretprobe":
            self.bpf.attach_kretprobe(event=a.target, fn_name=a.fn, maxactive=64)
        elif hook == "raw_tracepoint":
            self.bpf.attach_raw_tracepoint(tp=a.target, fn_name=a.fn)
        else:
            raise ValueError(f"unknown attachment kind {hook}")

    def _detach_one(self, probe: str, a: Attachment, hook: str) -> None:
        """Best effort (the cleanup at exit detaches too); a trampoline goes with all of its probe's links."""
        try:
            if hook in ("fentry", "fexit"):
                self._close_links(probe)
            elif hook == "kprobe":
                self.bpf.detach_kprobe(event=a.target)
            elif hook == "kretprobe":
                self.bpf.detach_kretprobe(event=a.target)
            elif hook == "raw_tracepoint":
                self.bpf.detach_raw_tracepoint(tp=a.target)
        except Exception:  # noqa: BLE001,S110
            pass

    def _close_links(self, name: str) -> None:
        """Detach (close) a probe's trampolines, keeping their run counts for prog_stats()."""
        for link in self._links.pop(name, []):
            acc = self._closed.setdefault(link.name, {"run_cnt": 0, "run_time_ns": 0, "recursion_misses": 0})
            for k, v in link.stats().items():
                if k in acc:
                    acc[k] += v
            link.close()

    def _attach_counted_kprobe(self, target: str, fn: str) -> None:
        """A kprobe whose skipped hits the kernel counts where we can read them.  BCC's attach_kprobe creates
        kprobes through the perf kprobe PMU: those are not listed in kprobe_profile, so a hit the kernel skips
        (a kprobe firing while another probe's handler runs on that CPU, e.g. a softirq sending a SACK inside a
        process-context probe) vanishes without a trace: the lab saw 6 SACKs on the wire with no egress event
        and every counter at 0.  Created through tracefs instead (what BCC does for any maxactive > 0; for an
        entry probe it changes nothing else), the kprobe's hits and misses are in kprobe_profile, which the
        recording's end reads (kprobe_missed_total)."""
        from bcc import BPF, lib  # noqa: PLC0415

        func = self.bpf.load_func(fn.encode(), BPF.KPROBE)
        ev_name = b"p_" + target.encode().replace(b"+", b"_").replace(b".", b"_")
        fd = lib.bpf_attach_kprobe(func.fd, 0, ev_name, target.encode(), 0, 1)
        if fd < 0:
            raise RuntimeError(f"cannot attach to {target} (not traceable: missing, inlined or notrace)")
        self.bpf._add_kprobe_fd(ev_name, fn.encode(), fd)

    def detach_all(self) -> None:
        """Remove every attached probe (the program and maps stay loaded; ``reattach`` puts them back)."""
        for p in self.probes:
            if p.name not in self.live:
                continue
            hooks = [h.split(":", 1)[0] for h in self.status[p.name].attachments]
            for a, hook in zip(p.attachments, hooks):
                self._detach_one(p.name, a, hook)
            self.live.discard(p.name)

    def reattach(self, names: set[str] | None = None) -> None:
        """Attach again the probes that attached at the start (only those in ``names``, when given: the
        overhead benchmark attaches one level at a time from one compiled program)."""
        was = [p for p in self.probes if self.status.get(p.name) and self.status[p.name].attached
               and (names is None or p.name in names) and p.name not in self.live]
        keep = self.probes
        self.probes = was
        try:
            self.attach()       # updates the status of each probe in `was` (the hooks it got this time)
        finally:
            self.probes = keep

    def reader(self) -> Any:
        """A bulk reader (``sctpcorr.kernel._ringbuf.Reader``) of the events ring: one C call drains every
        committed record, instead of BCC calling Python once per event."""
        from sctpcorr.kernel._ringbuf import Reader

        fd = self.bpf["events"].map_fd
        size = ringbuf_size(fd)
        if size is None:
            size = self.ringbuf_pages * os.sysconf("SC_PAGESIZE")
        return Reader(fd, size)

    def counters(self) -> dict[str, int]:
        """The per-CPU counter array summed over CPUs, by name (abi.COUNTERS)."""
        table = self.bpf["counters"]
        out = {}
        for i, name in enumerate(abi.COUNTERS):
            vals = table[ctypes.c_int(i)]
            out[name] = int(sum(int(v) for v in vals))
        return out

    def prog_stats(self) -> dict[str, dict[str, int]]:
        """Per BPF program: run count and run time (kernel.bpf_stats_enabled=1, else 0: what each probe costs, in
        the kernel's own accounting, the kprobe trap around it not included) and ``recursion_misses``, counted
        always: runs the kernel skipped because another kprobe/tracepoint program was running on that CPU (a
        softirq interrupting one, typically).  Trampoline programs count under their own names (fe_/fx_), those
        closed by a detach included.  Programs with nothing to report are left out."""
        out: dict[str, dict[str, int]] = {}

        def add(name: str, cnt: int, ns: int, miss: int) -> None:
            if cnt or miss:
                o = out.setdefault(name, {"run_cnt": 0, "run_time_ns": 0, "recursion_misses": 0})
                o["run_cnt"] += cnt
                o["run_time_ns"] += ns
                o["recursion_misses"] += miss

        for name, fn in (self.bpf.funcs or {}).items():
            vals = fdinfo(fn.fd)
            add(name.decode() if isinstance(name, bytes) else str(name), int(vals.get("run_cnt", "0")),
                int(vals.get("run_time_ns", "0")), int(vals.get("recursion_misses", "0")))
        for links in self._links.values():
            for link in links:
                v = link.stats()
                add(link.name, v.get("run_cnt", 0), v.get("run_time_ns", 0), v.get("recursion_misses", 0))
        for name, v in self._closed.items():
            add(name, v["run_cnt"], v["run_time_ns"], v["recursion_misses"])
        return out

    def inflight_entries(self) -> int:
        return sum(1 for _ in self.bpf["inflight"].keys())

    def close(self) -> None:
        for name in list(self._links):
            self._close_links(name)
        if self.bpf is not None:
            self.bpf.cleanup()
            self.bpf = None
