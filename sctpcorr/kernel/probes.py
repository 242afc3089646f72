"""The probe catalogue of `sctpcorr probe`, and the checks that say what can run here and why not.

Each ``Probe`` is one metric family: the BPF functions that produce it (``sctpcorr.bpf.c``), the kernel symbols or
tracepoints they attach to, and, in plain words, what is missing when it cannot run.  ``can_run(env)`` answers
from the kernel's own lists (``/proc/kallsyms``, the kprobe blacklist, tracepoint symbols) before anything is
compiled: a symbol that is absent was inlined or never built, a ``.constprop``/``.isra`` clone has a changed
signature, a blacklisted function cannot take a kprobe.  Probes that cannot run are left out of the BPF program
with ``-DSCTPCORR_NO_<DEFINE>``; the recording's first record lists them with the reason.

``check_environment()`` gives the one-line errors that stop the tool (not root, BCC missing, headers missing,
SCTP not loaded).  ``kernel_hz()`` finds HZ.  Standard library only; nothing here needs root to import.
"""

from __future__ import annotations

import gzip
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "Attachment",
    "LEVELS",
    "NO_TRAMPOLINE",
    "Probe",
    "PROBES",
    "KernelEnv",
    "Problem",
    "check_environment",
    "event_level",
    "kernel_hz",
    "level_events",
    "select",
]

# What a recording costs, cheapest first.  ``decisions``: the stack's rare decisions (RTT samples and the
# SRTT/RTO they produce, cwnd reductions, retransmission marks, T3 expiries, heartbeats, path and association
# state), no hook on the per-packet path.  ``sacks`` adds the two per-SACK tracepoints (peer rwnd, outstanding
# data, per-path cwnd/flight).  ``packets`` adds one record per packet the stack sends, with its TSNs: what
# per-TSN correlation (tsn_coverage, retransmissions, the timed chunk of each RTT sample, local_rwnd) needs.
LEVELS: tuple[str, ...] = ("decisions", "sacks", "packets")


@dataclass(frozen=True)
class Attachment:
    kind: str      # "kprobe", "kretprobe" or "raw_tracepoint": the hook everywhere (BPF trampolines replace
    #                kprobes where the kernel allows: KernelEnv.hook_kind)
    target: str    # kernel function, or tracepoint name (raw tracepoints take the bare name)
    fn: str        # BPF function in sctpcorr.bpf.c

    @property
    def trampoline_fn(self) -> str | None:
        """The same program for a BPF trampoline (fentry for kp_X: fe_X; fexit for krp_X: fx_X), when the source
        has one (functions of more than 6 arguments have none: x86-64 trampolines on 6.1 take 6)."""
        if self.fn.startswith("kp_") and self.target not in NO_TRAMPOLINE:
            return "fe_" + self.fn[3:]
        if self.fn.startswith("krp_") and self.target not in NO_TRAMPOLINE:
            return "fx_" + self.fn[4:]
        return None


# functions a trampoline cannot attach to on x86-64 6.1 (the kprobe stays), and why
NO_TRAMPOLINE = {
    "sctp_ulpevent_make_assoc_change": "8 arguments; x86-64 trampolines take at most 6 on 6.1",
    "sctp_sf_backbeat_8_3": "an argument passed by value as a union (union sctp_subtype): 6.1 refuses to load the "
                            "fentry program (EINVAL, seen in the lab guest)",
}


@dataclass(frozen=True)
class Probe:
    name: str
    define: str                      # -DSCTPCORR_NO_<define> leaves it out of the program
    attachments: tuple[Attachment, ...]
    events: tuple[str, ...]          # JSONL event types it produces
    metrics: str                     # what is missing without it
    level: str = "decisions"         # the cheapest LEVELS entry that attaches it
    optional_symbols: tuple[str, ...] = field(default=())

    def can_run(self, env: KernelEnv) -> tuple[bool, str]:
        """(True, "") or (False, why) from the kernel's symbol tables, without compiling or attaching."""
        for a in self.attachments:
            if a.kind == "raw_tracepoint":
                if not env.tracepoint_exists("sctp", a.target):
                    return False, f"tracepoint sctp:{a.target} does not exist in this kernel"
                continue
            status = env.symbol_status(a.target)
            if status == "ok":
                if env.kprobe_blacklisted(a.target):
                    return False, f"{a.target} is on the kprobe blacklist"
                continue
            if status == "clone":
                return False, (f"{a.target} exists only as a compiler clone ({', '.join(env.clones(a.target))}): "
                               "its signature changed, the probe would read wrong arguments")
            return False, f"symbol {a.target} not found in /proc/kallsyms (inlined or not built in this kernel)"
        return True, ""


def _kp(sym: str, fn: str, ret: bool = False) -> tuple[Attachment, ...]:
    entry = Attachment("kprobe", sym, f"kp_{fn}")
    return (entry, Attachment("kretprobe", sym, f"krp_{fn}")) if ret else (entry,)


PROBES: tuple[Probe, ...] = (
    Probe("rto_update", "RTO_UPDATE", _kp("sctp_transport_update_rto", "update_rto", ret=True), ("rto_update",),
          "kernel RTT samples and the SRTT/RTTVAR/RTO they produce"),
    Probe("sctp_probe", "SCTP_PROBE", (Attachment("raw_tracepoint", "sctp_probe", "rtp_sctp_probe"),), ("sack",),
          "per-SACK peer rwnd, unacked data, outstanding bytes and send-buffer use", level="sacks"),
    Probe("sctp_probe_path", "SCTP_PROBE_PATH",
          (Attachment("raw_tracepoint", "sctp_probe_path", "rtp_sctp_probe_path"),), ("path",),
          "per-SACK, per-path cwnd, ssthresh, flight size, SRTT/RTO and path state", level="sacks"),
    Probe("lower_cwnd", "LOWER_CWND", _kp("sctp_transport_lower_cwnd", "lower_cwnd", ret=True), ("cwnd",),
          "cwnd reductions and their reason; the fast-retransmit cause of retransmitted chunks (cwnd growth is "
          "derived from the egress and path samples)"),
    Probe("retransmit", "RETRANSMIT", _kp("sctp_retransmit", "retransmit"), ("rtx_mark",),
          "retransmission marking by T3 timeout / PMTU change (the fast-retransmit call is inlined on 6.1)"),
    Probe("t3_expire", "T3_EXPIRE", _kp("sctp_generate_t3_rtx_event", "t3_expire"), ("t3_expire",),
          "T3-rtx timer expiries"),
    Probe("hb_sent", "HB_SENT", (Attachment("kretprobe", "sctp_make_heartbeat", "krp_make_heartbeat"),),
          ("hb_sent",),
          "HEARTBEATs sent (nonce, jiffies stamp)"),
    Probe("hb_ack", "HB_ACK", _kp("sctp_sf_backbeat_8_3", "backbeat"), ("hb_ack",),
          "HEARTBEAT-ACKs, heartbeat RTTs, and telling heartbeat RTT samples from DATA ones"),
    Probe("path_state", "PATH_STATE", _kp("sctp_assoc_control_transport", "control_transport", ret=True),
          ("path_state",), "path state changes (ACTIVE / PF / INACTIVE)"),
    Probe("assoc_change", "ASSOC_CHANGE",
          _kp("sctp_ulpevent_make_assoc_change", "assoc_change") + _kp("sctp_association_free", "assoc_free"),
          ("assoc_change",),
          "exact times of association up/down (the notifications the application gets) and of its end; state "
          "changes in between are derived from the state every event carries"),
    Probe("egress", "EGRESS", _kp("sctp_packet_transmit", "packet_transmit"), ("egress",),
          "per-packet egress with its TSNs, every retransmitted DATA chunk with its reason, and the samples of the "
          "local receive window (rwnd events) and of cwnd growth", level="packets"),
)


def _rank(level: str) -> int:
    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r}; known: {', '.join(LEVELS)}")
    return LEVELS.index(level)


def select(names: list[str] | None = None, exclude: list[str] | None = None,
           level: str | None = None) -> list[Probe]:
    """The probes named (else those of ``level`` and the levels below it; else all), minus the excluded ones;
    unknown names or levels raise ValueError.  Named probes win over the level."""
    known = {p.name: p for p in PROBES}
    for n in (names or []) + (exclude or []):
        if n not in known:
            raise ValueError(f"unknown probe {n!r}; known: {', '.join(known)}")
    top = _rank(level) if level is not None else len(LEVELS) - 1
    if names is not None:
        chosen = [p for p in PROBES if p.name in names]
    else:
        chosen = [p for p in PROBES if _rank(p.level) <= top]
    return [p for p in chosen if p.name not in (exclude or [])]


def level_events(level: str) -> set[str]:
    """The event types a recording at ``level`` holds: its probes' and those derived from them."""
    from sctpcorr.kernel.derive import capabilities  # noqa: PLC0415 - pure; kept out of this module's import

    base = {t for p in select(level=level) for t in p.events}
    return base | {t for t, on in capabilities(base).items() if on}


def event_level(event_type: str) -> str | None:
    """The cheapest level whose recording holds ``event_type`` (None: no level does)."""
    for lv in LEVELS:
        if event_type in level_events(lv):
            return lv
    return None


class KernelEnv:
    """The running kernel's symbol tables, read once (or given as text, for tests)."""

    _CLONE = re.compile(r"^(?P<base>[A-Za-z0-9_]+)\.(?:constprop|isra|part|cold|llvm)\.?\d*")

    def __init__(self, kallsyms: str | None = None, blacklist: str | None = None):
        if kallsyms is None:
            kallsyms = _read("/proc/kallsyms") or ""
        if blacklist is None:
            blacklist = _read("/sys/kernel/debug/kprobes/blacklist") or ""
        self.symbols: set[str] = set()
        self._clones: dict[str, list[str]] = {}
        for line in kallsyms.splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            name = parts[2]
            m = self._CLONE.match(name)
            if m and not name.endswith(".cold"):
                self._clones.setdefault(m.group("base"), []).append(name)
            else:
                self.symbols.add(name)
        self.blacklist = {ln.split()[-1] for ln in blacklist.splitlines() if ln.split()}
        self._tramp: dict[str, tuple[str | None, str]] = {}   # function -> (BTF module, why not)

    def symbol_status(self, name: str) -> str:
        """"ok" (probe-able symbol), "clone" (only .constprop/.isra copies) or "absent"."""
        if name in self.symbols:
            return "ok"
        return "clone" if name in self._clones else "absent"

    def clones(self, name: str) -> list[str]:
        return sorted(self._clones.get(name, []))

    def kprobe_blacklisted(self, name: str) -> bool:
        return name in self.blacklist

    def hook_kind(self, a: Attachment) -> str:
        """The hook an attachment takes here: "fentry"/"fexit" where a BPF trampoline can attach to the function
        (the kernel has trampolines and the function is in its module's BTF with at most 6 arguments), else its
        own kind (kprobe, kretprobe, raw_tracepoint)."""
        if a.kind in ("kprobe", "kretprobe") and a.trampoline_fn and self.trampoline_module(a.target):
            return "fentry" if a.kind == "kprobe" else "fexit"
        return a.kind

    def trampoline_module(self, func: str) -> str | None:
        """The BTF object ("sctp" when SCTP is a module, else "vmlinux") a trampoline on ``func`` attaches
        through, or None when none can (``trampoline.available`` says why; ``trampoline_why`` keeps it)."""
        if func not in self._tramp:
            self._tramp[func] = (None, "trampolines not checked")
            try:
                from sctpcorr.kernel import trampoline  # noqa: PLC0415

                why = ""
                for module in ("sctp", "vmlinux"):
                    ok, why = trampoline.available(module, func)
                    if ok:
                        self._tramp[func] = (module, "")
                        break
                else:
                    self._tramp[func] = (None, why)
            except ImportError as e:
                self._tramp[func] = (None, str(e))
        return self._tramp[func][0]

    def trampoline_why(self, func: str) -> str:
        self.trampoline_module(func)
        return self._tramp.get(func, (None, "no BPF trampoline here"))[1]

    def tracepoint_exists(self, system: str, name: str) -> bool:
        if f"__tracepoint_{name}" in self.symbols:
            return True
        for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
            if Path(base, "events", system, name).is_dir():
                return True
        return False


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


# ---- environment ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    what: str        # "root", "bcc", "headers", "sctp", "kprobes", "sctp_diag"
    message: str     # one line, with the fix


def check_environment(source: str = "bpf", release: str | None = None) -> list[Problem]:
    """What stops ``sctpcorr probe --source SOURCE`` here; empty when it can run."""
    release = release or os.uname().release
    problems: list[Problem] = []
    if os.geteuid() != 0:
        problems.append(Problem("root", "sctpcorr probe needs root (BPF programs and kernel probes): run it with "
                                        "sudo" if source == "bpf" else
                                        "sctpcorr probe --source diag needs root to enter other network "
                                        "namespaces and to see every socket: run it with sudo"))
    if not Path("/sys/module/sctp").exists():
        problems.append(Problem("sctp", "SCTP is not loaded in this kernel: modprobe sctp (and sctp_diag), or "
                                        "start an SCTP socket first"))
    if source == "diag":
        if Path("/sys/module/sctp").exists() and not Path("/sys/module/sctp_diag").exists():
            problems.append(Problem("sctp_diag", "the kernel's SCTP sock_diag module is not loaded: "
                                                 "modprobe sctp_diag"))
        return problems
    try:
        import importlib.util
        found = importlib.util.find_spec("bcc") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        problems.append(Problem("bcc", "BCC's Python module is missing: apt-get install python3-bpfcc (and run "
                                       "a Python that sees the system site-packages), or use --source diag"))
    if not headers_present(release):
        problems.append(Problem("headers", f"kernel headers for the running kernel {release} are missing: "
                                           f"apt-get install linux-headers-{release} (BCC compiles against "
                                           f"them), or use --source diag"))
    cfg = kernel_config(release)
    if cfg is not None and cfg.get("CONFIG_KPROBES") not in ("y",):
        problems.append(Problem("kprobes", f"this kernel ({release}) was built without CONFIG_KPROBES: only "
                                           "--source diag works here"))
    return problems


def headers_present(release: str) -> bool:
    if os.environ.get("BCC_KERNEL_SOURCE"):
        return Path(os.environ["BCC_KERNEL_SOURCE"]).is_dir()
    build = Path(f"/lib/modules/{release}/build")
    if (build / "include").is_dir() or (build / "include" / "generated").is_dir():
        return True
    return Path("/sys/kernel/kheaders.tar.xz").exists()


def kernel_config(release: str | None = None) -> dict[str, str] | None:
    """CONFIG_* of the running kernel from /boot/config-<release> or /proc/config.gz; None if neither.
    The file it came from is under the key "__source__"."""
    release = release or os.uname().release
    src = f"/boot/config-{release}"
    text = _read(src)
    if text is None:
        src = "/proc/config.gz"
        try:
            with gzip.open(src, "rt") as f:
                text = f.read()
        except OSError:
            return None
    cfg = {"__source__": src}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.startswith("CONFIG_"):
            cfg[k] = v
    return cfg


def kernel_hz(release: str | None = None, measure_s: float = 0.3) -> tuple[int | None, str]:
    """(HZ, how it was found): CONFIG_HZ of the running kernel's config, else measured from /proc/timer_list
    jiffies over ``measure_s`` seconds (rounded to a standard HZ), else (None, why)."""
    cfg = kernel_config(release)
    if cfg and cfg.get("CONFIG_HZ", "").isdigit():
        return int(cfg["CONFIG_HZ"]), f"CONFIG_HZ in {cfg['__source__']}"
    j0, t0 = _timer_list_jiffies(), time.monotonic()
    if j0 is None:
        return None, "no kernel config and /proc/timer_list is not readable"
    time.sleep(measure_s)
    j1, t1 = _timer_list_jiffies(), time.monotonic()
    if j1 is None or t1 <= t0:
        return None, "/proc/timer_list became unreadable"
    rate = (j1 - j0) / (t1 - t0)
    hz = min((100, 250, 300, 1000), key=lambda h: abs(h - rate))
    return hz, f"measured from /proc/timer_list: {rate:.1f} jiffies/s"


def _timer_list_jiffies() -> int | None:
    text = _read("/proc/timer_list")
    if not text:
        return None
    m = re.search(r"^jiffies: (\d+)", text, re.M)
    return int(m.group(1)) if m else None
