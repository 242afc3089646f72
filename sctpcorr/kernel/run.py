"""The `sctpcorr probe` session: check the environment, choose probes, compile, attach, record until told to stop.

Two sources produce the same JSONL shape:

* ``bpf`` - the BPF program of ``bpf/sctpcorr.bpf.c`` through BCC (``loader``); optionally also sock_diag
  snapshots (``with_diag``) so that both views of the same moment are in one file;
* ``diag`` - sock_diag only (``diag.DiagClient``), polled every ``interval_s``: no BPF, no headers.

Stopping: ``duration_s`` elapsed, SIGINT or SIGTERM.  The closing record is written in every case.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from sctpcorr import outfile
from sctpcorr.kernel import abi, derive, diag, loader, probes, recorder, view
from sctpcorr.kernel.pump import Pump

__all__ = ["Config", "ProbeUnavailable", "RecordingError", "replay", "run", "list_probes", "socket_inodes"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_UNAVAILABLE = 3


class RecordingError(Exception):
    """The recording could not be written (a full disk); the message is one line."""

    exit_code = EXIT_ERROR


class ProbeUnavailable(Exception):
    """The probes cannot run here; the message is one line with the fix."""

    exit_code = EXIT_UNAVAILABLE


@dataclass
class Config:
    source: str = "bpf"
    jsonl: IO[str] | None = None
    duration_s: float | None = None
    interval_s: float = 1.0
    summary_s: float | None = None
    quiet: bool = False
    show: tuple[str, ...] = view.DEFAULT_SHOW
    wide: bool = False
    pid: int | None = None
    port: int | None = None
    vtag: int | None = None
    addr: str | None = None
    netns: list[str] = field(default_factory=list)
    with_diag: bool = False
    only: list[str] | None = None
    exclude: list[str] = field(default_factory=list)
    level: str | None = None       # probes.LEVELS; None: every probe (--probes names its own)
    hooks: str = "auto"            # auto: BPF trampolines where the kernel allows, else kprobes; kprobe: kprobes only
    ready_file: str | None = None
    ringbuf_pages: int = loader.RINGBUF_PAGES
    clock_every_s: float = 10.0
    flush_every_s: float = 0.0     # write the JSONL through at least this often (0: when its buffer fills)
    toggle_signals: bool = False   # SIGUSR1 detaches every probe, SIGUSR2 attaches them again (benchmarks)
    raw: IO[bytes] | None = None   # every ring-buffer record as <u32 length><bytes> (fixtures, debugging)
    backlog_mb: int = 512          # events drained but not yet decoded, at most (beyond: dropped and counted)
    defer_decode: bool = False     # decode only when the recording stops (nothing but the drain runs meanwhile)
    extra_cflags: list[str] = field(default_factory=list)
    jsonl_path: str | None = None  # where `jsonl` was opened: SIGHUP ends that file and opens it (or the path
    #                                named by READY_FILE.next) anew, each file a recording of its own
    force: bool = False            # --force: SIGHUP's new file may replace an existing one (else: refused)


def socket_inodes(pid: int) -> set[int]:
    """Inodes of the sockets process ``pid`` holds (from /proc/PID/fd)."""
    out = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError as e:
        raise ProbeUnavailable(f"--pid {pid}: cannot read /proc/{pid}/fd: {e.strerror}") from None
    for fd in fds:
        with contextlib.suppress(OSError):
            m = re.match(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
            if m:
                out.add(int(m.group(1)))
    return out


def plan(cfg: Config, env: probes.KernelEnv | None = None) -> tuple[list[probes.Probe], list[dict[str, str]]]:
    """(probes to compile, missing: [{probe, metrics, reason}]) for this kernel."""
    env = env or probes.KernelEnv()
    try:
        wanted = probes.select(cfg.only, cfg.exclude, cfg.level)
    except ValueError as e:
        raise ProbeUnavailable(str(e)) from None
    run_, missing = [], []
    for p in probes.PROBES:
        if p not in wanted:
            why = "not selected (--probes/--no-probe)"
            if cfg.only is None and p.name not in cfg.exclude and cfg.level is not None:
                why = f"not at --level {cfg.level} (needs --level {p.level})"
            missing.append({"probe": p.name, "metrics": p.metrics, "reason": why})
            continue
        ok, why = p.can_run(env)
        if ok:
            run_.append(p)
        else:
            missing.append({"probe": p.name, "metrics": p.metrics, "reason": why})
    return run_, missing


def default_level(summary: bool, show: tuple[str, ...]) -> str:
    """The cheapest level that serves the command: the default live view of the decisions needs no per-packet
    hook (its per-chunk retransmission lines then go: rtx_mark and cwnd reductions still say why); the summary's
    cwnd, flight and windows come from the per-SACK samples; types named in --show need their own level."""
    need = ["sacks"] if summary else []
    if show != view.DEFAULT_SHOW:
        if "all" in show:
            return "packets"
        for t in show:
            if t != "diag":
                need.append(probes.event_level("egress" if t == "retransmission" else t) or "decisions")
    return max(need, key=probes.LEVELS.index, default="decisions")


def list_probes(echo: Callable[[str], None]) -> int:
    """The catalogue: each probe's level, whether it can run here, and the hook type each of its attachments
    takes on the running kernel (a BPF trampoline where the kernel and the module's BTF allow it, else a
    kprobe / kretprobe; the SCTP tracepoints as raw tracepoints)."""
    env = probes.KernelEnv()
    echo(f"{'PROBE':<16} {'LEVEL':<9} {'RUNS':<4} {'HOOK':<16} {'ATTACHES TO':<36} WHY NOT / METRICS")
    for p in probes.PROBES:
        ok, why = p.can_run(env)
        targets = ",".join(dict.fromkeys(f"{a.target}" for a in p.attachments))
        hooks = "+".join(env.hook_kind(a) for a in p.attachments) if ok else "-"
        echo(f"{p.name:<16} {p.level:<9} {'yes' if ok else 'NO':<4} {hooks:<16} {targets[:36]:<36} "
             f"{why or p.metrics}")
    echo(f"levels: {', '.join(probes.LEVELS)} (each adds to the one before; --level picks one)")
    why = {a.target: env.trampoline_why(a.target) if a.trampoline_fn else probes.NO_TRAMPOLINE[a.target]
           for p in probes.PROBES if p.can_run(env)[0] for a in p.attachments
           if a.kind in ("kprobe", "kretprobe") and env.hook_kind(a) == a.kind}
    for target, reason in why.items():
        echo(f"kprobe, not a BPF trampoline, on {target}: {reason}")
    problems = probes.check_environment("bpf")
    for pr in problems:
        echo(f"note: {pr.message}")
    return EXIT_OK


def _toggle_level(cfg: Config) -> str | None:
    """With --toggle-signals and --ready-file F: the level SIGUSR2 attaches, from the file F.level (the
    overhead benchmark writes it before the signal); None (every probe compiled in) without it."""
    if not cfg.ready_file:
        return None
    try:
        level = Path(cfg.ready_file + ".level").read_text().strip()
    except OSError:
        return None
    return level if level in probes.LEVELS else None


def _match_filters(cfg: Config, rec: dict[str, Any], inodes: set[int] | None) -> bool:
    """Filters for diag records and for recorded events (--replay); the BPF side filters in the kernel."""
    if cfg.port is not None and cfg.port not in (rec.get("lport"), rec.get("pport")):
        return False
    if cfg.vtag is not None and cfg.vtag not in (rec.get("my_vtag"), rec.get("peer_vtag")):
        return False
    if cfg.addr is not None and cfg.addr not in (rec.get("peers") or []) and cfg.addr != rec.get("path_addr"):
        return False
    return inodes is None or rec.get("inode") in inodes


class _Stop:
    def __init__(self) -> None:
        self.reason: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _Stop:
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._old[sig] = signal.signal(sig, self._handler)
        return self

    def _handler(self, signum: int, _frame: Any) -> None:
        self.reason = signal.Signals(signum).name

    def __exit__(self, *exc: object) -> None:
        for sig, h in self._old.items():
            signal.signal(sig, h)


def run(cfg: Config, echo: Callable[[str], None], warn: Callable[[str], None]) -> int:
    problems = probes.check_environment(cfg.source)
    if problems:
        raise ProbeUnavailable(problems[0].message + (f" (and {len(problems) - 1} more problem(s): "
                                                      + "; ".join(p.what for p in problems[1:]) + ")"
                                                      if len(problems) > 1 else ""))
    hz, hz_source = probes.kernel_hz()
    if hz is None:
        warn(f"HZ of the running kernel unknown ({hz_source}): jiffies are recorded raw, without *_ns")
    rec = recorder.Recorder(cfg.jsonl, hz, cfg.clock_every_s)
    inodes = socket_inodes(cfg.pid) if cfg.pid is not None else None
    if cfg.source == "diag":
        return _run_diag(cfg, rec, hz, hz_source, inodes, echo, warn)
    return _run_bpf(cfg, rec, hz, hz_source, inodes, echo, warn)


def replay(cfg: Config, path: str, echo: Callable[[str], None], warn: Callable[[str], None]) -> int:
    """Show a recording (``--jsonl`` of an earlier run, here or in the lab) through the live view or the summary:
    no root, no BCC.  ``--addr`` matches the event's path address or peers here (recording time: any peer
    address)."""
    try:
        r = recorder.load(path)
    except (OSError, UnicodeDecodeError) as e:
        raise ProbeUnavailable(f"{path}: {getattr(e, 'strerror', None) or e}") from None
    if r.startup is None or r.startup.get("tool") != "sctpcorr probe":
        raise RecordingError(f"{path}: not a recording of sctpcorr probe (no startup record)")
    s = r.startup
    if s.get("source") == "diag":
        what = "sock_diag snapshots (no BPF events)"
    else:
        what = "BPF probes; missing: " + (", ".join(m["probe"] for m in s.get("missing") or []) or "none")
    echo(f"Recording on {s.get('kernel_release')} (HZ {s.get('hz')}) of {what}")
    ev, summ = _views(cfg, echo)
    if ev:
        ev.header()
    every_ns = int((cfg.summary_s or 1) * 1e9)
    next_flush = None
    for e in r.events:
        if e.get("type") in ("clock", "toggle") or not _match_filters(cfg, e, None):
            continue
        if ev:
            ev.feed(e)
        if summ:
            ts = e.get("ts_ns", 0)
            if next_flush is not None and ts >= next_flush:
                summ.flush()
            if next_flush is None or ts >= next_flush:
                next_flush = ts + every_ns
            summ.feed(e)
    if summ:
        summ.flush()
    if r.bad_lines:
        warn(f"{r.bad_lines} lines of {path} were not JSON (a torn last line?)")
    if r.end is None:
        warn(f"{path} has no closing record: the recorder was killed, counts of lost events are unknown")
    else:
        echo(f"{sum(r.end.get('events', {}).values())} events in {r.end['duration_ns'] / 1e9:.1f} s; lost "
             f"{r.end.get('lost_total', 0)}; dropped in user space {r.end.get('backlog_dropped', 0)}")
    return EXIT_OK


def _views(cfg: Config, echo: Callable[[str], None]) -> tuple[view.EventView | None, view.SummaryView | None]:
    if cfg.quiet:
        return None, None
    if cfg.summary_s:
        return None, view.SummaryView(echo)
    return view.EventView(echo, cfg.show, cfg.wide), None


def _diag_clients(cfg: Config, hz: int | None) -> list[diag.DiagClient]:
    try:
        return [diag.DiagClient(n, hz) for n in (cfg.netns or [None])]  # type: ignore[list-item]
    except OSError as e:
        raise ProbeUnavailable(f"sock_diag: {e.strerror or e}") from None


def _poll_diag(clients: list[diag.DiagClient], cfg: Config, inodes: set[int] | None) -> list[dict[str, Any]]:
    out = []
    for c in clients:
        for r in c.associations():
            if _match_filters(cfg, r, inodes):
                out.append(r)
    return out


def _run_diag(cfg: Config, rec: recorder.Recorder, hz: int | None, hz_source: str, inodes: set[int] | None,
              echo: Callable[[str], None], warn: Callable[[str], None]) -> int:
    clients = _diag_clients(cfg, hz)
    rec.startup(source="diag", hz_source=hz_source, abi=abi.ABI_VERSION, filters=_filters(cfg, inodes),
                netns=[{"name": c.netns_name, "inode": c.netns} for c in clients], interval_s=cfg.interval_s,
                capabilities={"diag": True}, probes=[], missing=[
                    {"probe": p.name, "metrics": p.metrics, "reason": "--source diag: no BPF"} for p in probes.PROBES])
    ev, summ = _views(cfg, echo)
    if ev:
        echo(f"Polling SCTP sock_diag every {cfg.interval_s:g} s in {len(clients)} namespace(s)... Ctrl-C to end.")
        ev.header()
    polls = errors = 0
    t_end = time.monotonic() + cfg.duration_s if cfg.duration_s else None
    with _Stop() as stop:
        while stop.reason is None:
            try:
                snaps = _poll_diag(clients, cfg, inodes)
                polls += 1
            except OSError as e:
                errors += 1
                warn(f"sock_diag poll failed: {e}")
                snaps = []
            try:
                for r in snaps:
                    rec.event(r)
                    if ev:
                        ev.feed(r)
                    if summ:
                        summ.feed(r)
                rec.tick()
            except OSError as e:           # the recording cannot be written (full disk): stop, say so
                for c in clients:
                    c.close()
                raise RecordingError(_write_error_message(e, cfg, 0)) from None
            if summ:
                summ.flush()
            if t_end is not None and time.monotonic() >= t_end:
                stop.reason = "duration"
                break
            _sleep_until(min(time.monotonic() + cfg.interval_s, t_end or float("inf")), stop)
    for c in clients:
        c.close()
    rec.end(reason=stop.reason, polls=polls, poll_errors=errors)
    return EXIT_OK


def _sleep_until(deadline: float, stop: _Stop) -> None:
    while stop.reason is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.1))


def _filters(cfg: Config, inodes: set[int] | None) -> dict[str, Any]:
    return {"pid": cfg.pid, "port": cfg.port, "vtag": cfg.vtag, "addr": cfg.addr,
            "socket_inodes": sorted(inodes) if inodes is not None else None}


def _split_counters(c: dict[str, int]) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """The BPF counter array by name -> (lost per type, emitted per type: non-zero only; the other counters)."""
    lost = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("lost.") and v}
    emitted = {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("emitted.") and v}
    misc = {k: v for k, v in c.items() if "." not in k}
    return lost, emitted, misc


def _add_profile(acc: dict[str, dict[str, int]], now: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Add one reading of kprobe_profile to ``acc`` (in place) and return it: hits and misses over every attach
    period of a probe (a detach removes the kprobe and its counts; the next attach starts from zero)."""
    for name, v in now.items():
        a = acc.setdefault(name, {"hits": 0, "misses": 0})
        a["hits"] += v["hits"]
        a["misses"] += v["misses"]
    return acc


def _minus(now: Any, base: Any) -> Any:
    """``now - base`` for the cumulative counters of an end record (numbers, and dicts of them, nested); keys
    missing from ``base`` count from 0.  What a file's end record says is then what happened while that file was
    being written."""
    if isinstance(now, dict):
        base = base if isinstance(base, dict) else {}
        return {k: _minus(v, base.get(k)) for k, v in now.items()}
    if isinstance(now, (int, float)) and not isinstance(now, bool) and isinstance(base, (int, float)):
        return now - base
    return now


def _drop_zero(d: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in d.items() if v}


def _running_stats(lo: Any) -> dict[str, Any]:
    lost, emitted, misc = _split_counters(lo.counters())
    return {"lost_total": sum(lost.values()), "lost": lost, "emitted_total": sum(emitted.values()),
            "counters": {k: v for k, v in misc.items() if v}}


def _cumulative(lo: Any, profile_acc: dict[str, dict[str, int]], diag_errors: int, drained: int,
                backlog_dropped: int) -> dict[str, Any]:
    """Every counter of an end record that only grows, read now (a file's end record subtracts the reading
    taken when the file began)."""
    lost, emitted, misc = _split_counters(lo.counters())
    return {"lost": lost, "bpf_emitted": emitted, "counters": misc,
            "kprobe_profile": _add_profile({k: dict(v) for k, v in profile_acc.items()}, recorder.kprobe_misses()),
            "bpf_prog_stats": lo.prog_stats(), "diag_errors": diag_errors, "drained_records": drained,
            "backlog_dropped": backlog_dropped}


def _end_fields(reason: str | None, c: dict[str, Any], inflight_left: Any, backlog_peak: int) -> dict[str, Any]:
    """The end record's fields from the counters of one file's period (``c``: a _cumulative() difference)."""
    lost, misses, prog = _drop_zero(c["lost"]), c["kprobe_profile"], c["bpf_prog_stats"]
    return dict(reason=reason, lost=lost, lost_total=sum(lost.values()), bpf_emitted=_drop_zero(c["bpf_emitted"]),
                counters=c["counters"], inflight_left=inflight_left, kprobe_profile=misses,
                kprobe_missed_total=sum(m["misses"] for m in misses.values()), diag_errors=c["diag_errors"],
                drained_records=c["drained_records"], backlog_peak_bytes=backlog_peak,
                backlog_dropped=c["backlog_dropped"], undecoded=0, bpf_prog_stats=prog,
                recursion_misses={k: v["recursion_misses"] for k, v in prog.items() if v.get("recursion_misses")},
                recursion_misses_total=sum(v.get("recursion_misses", 0) for v in prog.values()))


def _write_error_message(exc: BaseException, cfg: Config, unwritten: int) -> str:
    """One line: which file, what happened, what the file holds (its writer is cut after its last whole line
    or record when it is closed: kernel/cli.py), how many drained events were not written."""
    if isinstance(exc, OSError) and exc.filename:
        what = outfile.describe(str(exc.filename), exc)
    else:
        what = str(exc) if not isinstance(exc, OSError) else outfile.describe(cfg.jsonl_path or "the recording", exc)
    return (f"{what}: the recording stopped there; the file holds the events drained until then, up to its "
            f"last complete record; {unwritten} drained events after it were not written")


def _run_bpf(cfg: Config, rec: recorder.Recorder, hz: int | None, hz_source: str, inodes: set[int] | None,
             echo: Callable[[str], None], warn: Callable[[str], None]) -> int:
    from sctpcorr.kernel import loader as ld

    chosen, missing = plan(cfg)
    if not chosen:
        raise ProbeUnavailable("no probe can run on this kernel: " + "; ".join(
            f"{m['probe']}: {m['reason']}" for m in missing))
    excluded = [p for p in probes.PROBES if p not in chosen]
    filters = ld.Filters(port=cfg.port, vtag=cfg.vtag, addr=cfg.addr, inodes=inodes)
    lo = ld.Loader(chosen, excluded, filters, cfg.ringbuf_pages, cfg.extra_cflags,
                   trampolines=cfg.hooks != "kprobe")
    t_compile = time.monotonic()
    try:
        lo.compile()
    except Exception as e:  # noqa: BLE001 - bcc raises plain Exception for compile errors
        raise ProbeUnavailable(f"the BPF program did not compile for this kernel: {e} (kernel headers of "
                               f"{os.uname().release} installed and matching?)") from None
    compile_s = time.monotonic() - t_compile
    status = lo.attach()
    for st in status.values():
        if not st.attached:
            missing.append({"probe": st.name, "metrics": st.metrics, "reason": f"attach failed: {st.reason}"})
    attached = [st for st in status.values() if st.attached]
    if not attached:
        lo.close()
        raise ProbeUnavailable("no probe attached: " + "; ".join(f"{m['probe']}: {m['reason']}" for m in missing))
    for m in missing:
        warn(f"probe {m['probe']} not running ({m['reason']}): missing {m['metrics']}")
    clients = _diag_clients(cfg, hz) if cfg.with_diag else []
    caps = {t: False for t, _c in abi.EVENT_TYPES.values()}
    for p in probes.PROBES:
        if p.name in status and status[p.name].attached:
            for t in p.events:
                caps[t] = True
    for t, on in derive.capabilities({t for t, on in caps.items() if on}).items():
        caps[t] = caps.get(t, False) or on
    caps["diag"] = bool(clients)
    deriver = derive.Deriver()
    rec.startup(source="bpf", hz_source=hz_source, abi=abi.ABI_VERSION, filters=_filters(cfg, inodes),
                level=cfg.level if cfg.only is None else None,
                capabilities=caps, compile_s=round(compile_s, 3), cflags=lo.cflags,
                probes=[{"probe": st.name, "attached": st.attached, "attachments": st.attachments,
                         "reason": st.reason or None, "fallback": st.fallback or None} for st in status.values()],
                hooks=cfg.hooks,
                missing=missing, interval_s=cfg.interval_s,
                netns=[{"name": c.netns_name, "inode": c.netns} for c in clients])
    ev, summ = _views(cfg, echo)

    parts = 0

    def sink(kind: str, r: dict[str, Any]) -> None:     # the decoder thread: the only writer of the JSONL
        nonlocal parts
        if kind == "meta":
            rec.meta(r)
            return
        if kind == "rotate":    # SIGHUP: end this file, go on in the next one
            rec.end(**r["end"])
            if rec.out is not None:
                rec.out.close()
                # an existing file at the path (not moved away before the SIGHUP) is not overwritten without
                # --force: the recording stops there (OutputExists ends it as a write error would)
                rec.out = cfg.jsonl = outfile.open_text(r["path"], cfg.force)
            parts += 1
            rec.rotate(rec.out, parts)
            if cfg.ready_file:
                tmp = Path(cfg.ready_file + ".tmp")
                tmp.write_text(f"{os.getpid()} rotated {parts}\n")
                tmp.replace(cfg.ready_file)
            return
        if kind == "flush":
            if summ:
                summ.flush()
            if cfg.flush_every_s:
                rec.flush()
            return
        for d in deriver.feed(r):
            rec.event(d)
            if ev:
                ev.feed(d)
            if summ:
                summ.feed(d)

    reader = lo.reader()
    pump = Pump(reader.drain, hz, sink, raw=cfg.raw, cap_bytes=cfg.backlog_mb << 20, defer=cfg.defer_decode)
    if cfg.ready_file:
        Path(cfg.ready_file).write_text(f"{os.getpid()}\n")
    if ev:
        echo(f"Tracing SCTP in the kernel: {len(attached)} probes attached, {len(missing)} missing"
             f"{' (see warnings)' if missing else ''}... Ctrl-C to end.")
        ev.header()
    t_end = time.monotonic() + cfg.duration_s if cfg.duration_s else None
    next_diag = time.monotonic()
    next_summary = time.monotonic() + (cfg.summary_s or 0)
    next_inodes = time.monotonic() + cfg.interval_s
    diag_errors = 0
    toggles: list[int] = []
    if cfg.toggle_signals:
        signal.signal(signal.SIGUSR1, lambda *_: toggles.append(signal.SIGUSR1))
        signal.signal(signal.SIGUSR2, lambda *_: toggles.append(signal.SIGUSR2))
    rotations: list[int] = []
    old_hup = signal.signal(signal.SIGHUP, lambda *_: rotations.append(1))
    base: dict[str, Any] = {}           # the cumulative counters when the current file began
    detached = False
    n_toggles = 0
    profile_acc: dict[str, dict[str, int]] = {}     # kprobe_profile counts of kprobes detached by a toggle
    write_error = None

    def stats() -> dict[str, Any]:
        return {**_running_stats(lo), "backlog_bytes": pump.backlog_bytes, "backlog_dropped": pump.dropped_records}

    with _Stop() as stop:
        while stop.reason is None:
            # the BPF side wakes us every SCTPCORR_WAKEUP_EVERY events; drain at least every 100 ms regardless
            reader.wait(100)
            pump.drain()
            if pump.error is not None:
                write_error = pump.error
                stop.reason = "write_error"
                break
            while toggles:
                sig = toggles.pop(0)
                if sig == signal.SIGUSR1 and not detached:
                    # a detached kprobe takes its kprobe_profile counts with it: keep them
                    _add_profile(profile_acc, recorder.kprobe_misses())
                    lo.detach_all()
                    detached = True
                elif sig == signal.SIGUSR2 and detached:
                    level = _toggle_level(cfg)
                    lo.reattach(None if level is None else {p.name for p in probes.select(level=level)})
                    detached = False
                pump.drain()     # what was emitted before the toggle is filed before it
                pump.put("event", {"type": "toggle", "ts_ns": time.monotonic_ns(), "attached": not detached,
                                   "probes": ",".join(sorted(lo.live))})
                n_toggles += 1
                if cfg.ready_file:   # attaching/detaching takes a while (seconds under TCG): say when it is done
                    # each BPF program's run count and time so far: the overhead bench takes the difference
                    # between an attach and the next detach as what that level's programs cost
                    stats_tmp = Path(cfg.ready_file + ".stats.tmp")
                    stats_tmp.write_text(json.dumps(lo.prog_stats()) + "\n")
                    stats_tmp.replace(cfg.ready_file + ".stats")
                    tmp = Path(cfg.ready_file + ".tmp")
                    tmp.write_text(f"{os.getpid()} {'detached' if detached else 'attached'} {n_toggles}\n")
                    tmp.replace(cfg.ready_file)
            while rotations:
                rotations.pop()
                pump.drain()     # what the kernel emitted before the signal ends up in the file it ends
                cum = _cumulative(lo, profile_acc, diag_errors, reader.records, pump.dropped_records)
                nxt = cfg.jsonl_path
                if cfg.ready_file and Path(cfg.ready_file + ".next").exists():
                    nxt = Path(cfg.ready_file + ".next").read_text().strip() or nxt
                    Path(cfg.ready_file + ".next").unlink()
                pump.put("rotate", {"path": nxt, "end": _end_fields("SIGHUP", _minus(cum, base), lo.inflight_entries(),
                                                                    pump.backlog_peak)})
                base = cum
            now = time.monotonic()
            if clients and now >= next_diag:
                try:
                    snaps = _poll_diag(clients, cfg, inodes)
                    pump.drain()
                    for r in snaps:
                        pump.put("event", r)
                except OSError as e:
                    diag_errors += 1
                    warn(f"sock_diag poll failed: {e}")
                next_diag = now + cfg.interval_s
            if cfg.pid is not None and now >= next_inodes:
                with contextlib.suppress(ProbeUnavailable):
                    inodes = socket_inodes(cfg.pid)
                    lo.set_inodes(inodes)
                next_inodes = now + cfg.interval_s
            if (summ or cfg.flush_every_s) and now >= next_summary:
                pump.put("flush", {})
                next_summary = now + min(x for x in ((cfg.summary_s or 1) if summ else 0, cfg.flush_every_s) if x)
            clock = rec.clock_due(stats)
            if clock is not None:
                pump.put("meta", clock)
            if t_end is not None and now >= t_end:
                stop.reason = "duration"
    signal.signal(signal.SIGHUP, old_hup)
    # drain what the kernel wrote before the probes go away
    pump.drain()
    cum = _cumulative(lo, profile_acc, diag_errors, reader.records, pump.dropped_records)
    inflight_left = lo.inflight_entries()
    drained = reader.records
    reader.close()
    lo.close()
    for c in clients:
        c.close()
    if pump.backlog_bytes > (4 << 20):
        warn(f"decoding {pump.backlog_bytes >> 20} MB of events drained but not yet decoded... "
             f"(Ctrl-C stops it; the recording then ends here)")
    undecoded = 0
    try:
        pump.close()
    except KeyboardInterrupt:
        undecoded = pump.abort()
        warn(f"decoding interrupted: {undecoded} drained events were not written"
             + (" (they are in the --raw file)" if cfg.raw is not None else ""))
    if pump.error is not None:
        write_error = write_error or pump.error
    rec.decode_errors += pump.decode_errors
    end_fields = _end_fields(stop.reason, _minus(cum, base), inflight_left, pump.backlog_peak)
    end_fields["undecoded"] = undecoded
    lost, misc = end_fields["lost"], end_fields["counters"]
    if write_error is not None:
        raise RecordingError(_write_error_message(write_error, cfg, drained - pump.drained_records))
    end = rec.end(**end_fields)
    if end["lost_total"]:
        warn(f"{end['lost_total']} events lost: the ring buffer was full ({lost}); raise --ringbuf-pages")
    if end["backlog_dropped"]:
        warn(f"{end['backlog_dropped']} events dropped: more than --backlog-mb {cfg.backlog_mb} MB waited for "
             f"the decoder")
    if end["kprobe_missed_total"]:
        warn(f"the kernel skipped {end['kprobe_missed_total']} probe hits (kprobe_profile misses)")
    if end["recursion_misses_total"]:
        warn(f"the kernel skipped {end['recursion_misses_total']} probe runs that fired while another probe ran on "
             f"the same CPU ({end['recursion_misses']}): those events are missing")
    if end["decode_errors"]:
        warn(f"{end['decode_errors']} records could not be decoded")
    if ev or summ:
        echo(f"{sum(rec.counts.values())} events; lost {end['lost_total']}; kprobe misses "
             f"{end['kprobe_missed_total'] + end['recursion_misses_total']}; unpaired returns "
             f"{misc.get('ret_unpaired', 0)}")
    return EXIT_OK
