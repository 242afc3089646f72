"""The I/O integration layer of ``sctpcorr live``: a live source -> the C engine -> files, view and metrics.

Theory of operation
-------------------
1. The source (:mod:`sctpcorr.sources.live`) hands out capture bytes: for interfaces, a pcapng stream whose
   packets libpcap's kernel filter selected and the C extension packed as Enhanced Packet Blocks, one bytes object
   per poll (never one Python call per packet); for ``--follow``, what was appended to the file.
2. Every batch goes, as it is, to the ``-w`` file (:class:`RotatingWriter`) and to ``Analyzer.feed_capture``, the
   entry point ``sctpcorr pcap`` uses: live and offline analyses are the same code on the same bytes.
3. With events on (``--events`` JSONL, or the view's drill-down), the engine's queue is drained after every
   batch; off, the engine keeps none (a Python dict per event would cost more than the analysis itself).
4. Once a second (``tick_s``) ``on_tick`` gets a :class:`Tick`: the engine's report, the interfaces' counters
   (kernel drops included) and rates.  The view and the metrics endpoint render that; they compute nothing.
   A tick reads every association's summary (~1 µs each, folded ones included): when ticks take more than
   ``TICK_SHARE`` of the time, they come less often (every ~10 s at a million associations), so that the
   capture keeps its CPU.
5. It ends on ``--duration``, ``--count``, SIGINT/SIGTERM (``stop``), or when every interface went down.  In
   every case the engine's report is taken, the files are closed whole, and the document is the ``pcap --json``
   one with a ``live`` section (interfaces, drops, why it stopped, files written).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sctpcorr.pipeline import FileResult, Filters, PcapOptions, PcapRun, _EventFilter, event_to_dict
from sctpcorr.sources.live import DEFAULT_FILTER, FollowSource, IfaceStats, InterfaceSource, split_blocks
from sctpcorr.wire.engine import summary_of

TICK_SHARE = 0.1     # at most this share of the time in ticks (summaries, the view, the kernel's join)

__all__ = ["LiveOptions", "LiveRun", "Tick", "KernelDiag", "KernelProbes", "JsonlTail", "RotatingWriter", "StopFlag",
           "run_live"]


@dataclass(frozen=True)
class LiveOptions:
    interfaces: tuple[str, ...] = ()
    follow: str | None = None
    filter: str = DEFAULT_FILTER
    write: str | None = None
    force: bool = False                   # --force: -w may overwrite existing files
    rotate_bytes: int = 0                 # -C: start a new file when this one passes N bytes (0: never)
    rotate_seconds: float = 0.0           # -G: start a new file every N seconds (0: never)
    events: bool = False                  # the engine's events, for --events
    recent_events: bool = False           # keep the last RECENT_EVENTS for the view's drill-down
    filters: Filters = Filters()
    duration_s: float | None = None
    count: int | None = None
    snaplen: int = 262144
    buffer_bytes: int = 32 << 20
    promisc: bool = False
    dup_window_ns: int = 5_000_000
    max_assocs: int = 1_000_000
    max_outstanding: int = 65536
    fold_linger_ns: int = 0               # as `pcap --linger`: an ended association leaves memory (fold.c)
    fold_idle_ns: int = 0                 # as `pcap --idle-timeout`
    tick_s: float = 1.0
    diag: bool = False                    # sock_diag beside the wire: the kernel's view of each association
    diag_netns: str | None = None         # read it in this network namespace (default: live's own)


class StopFlag:
    """Set by SIGINT/SIGTERM (``install()``), by a test, or by the caller; the loop checks it at least every 0.1 s.
    A SIGINT ignored by the parent (a background job of a script) stays ignored."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event = threading.Event()

    def set(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def install(self) -> Callable[[], None]:
        """Catch SIGINT and SIGTERM; returns a function restoring the previous handlers."""
        old = {}
        for sig, name in ((signal.SIGINT, "SIGINT"), (signal.SIGTERM, "SIGTERM")):
            prev = signal.getsignal(sig)
            if prev is signal.SIG_IGN:
                continue
            old[sig] = prev
            signal.signal(sig, lambda _s, _f, name=name: self.set(name))

        def restore() -> None:
            for sig, prev in old.items():
                signal.signal(sig, prev)
        return restore


class RotatingWriter:
    """The ``-w`` file(s): every batch written as it arrives (unbuffered: a crash loses nothing already read),
    whole blocks only.  Rotation as tcpdump's ``-C``/``-G``: FILE, then FILE1, FILE2...; each file starts with the
    pcapng header and reads alone.  A file may pass ``-C`` by one batch (one read of the ring).  Existing files
    are not overwritten unless ``force`` (:meth:`check` refuses them before the capture starts).  A write error
    (disk full) truncates the file back to its last whole block, stops writing and is reported; capture and
    analysis go on (live_cli exits non-zero at the end)."""

    def __init__(self, path: str, header: bytes, max_bytes: int = 0, max_seconds: float = 0.0,
                 force: bool = False) -> None:
        self.path, self.header = path, header
        self.max_bytes, self.max_seconds = max_bytes, max_seconds
        self.force = force
        self.files: list[str] = []
        self.error: str | None = None
        self.bytes = 0
        self._fd: int | None = None
        self._size = 0
        self._opened_at = 0.0
        self._open_next()

    @staticmethod
    def check(path: str, force: bool, rotating: bool) -> None:
        """Refuse (OutputExists) an existing FILE, and with rotation an existing FILE1, FILE2... of an earlier
        run, unless ``force``: before the capture starts, not at the first rotation."""
        from sctpcorr.outfile import check_new

        check_new(path, force)
        if rotating and not force:
            d, base = os.path.split(os.path.abspath(path))
            try:
                names = sorted(n for n in os.listdir(d) if n.startswith(base) and n[len(base):].isdigit())
            except OSError:
                names = []
            for n in names:
                check_new(os.path.join(os.path.dirname(path), n), force, "a rotated file of an earlier run; "
                                                                           "use --force to overwrite")

    def _name(self, n: int) -> str:
        return self.path if n == 0 else f"{self.path}{n}"

    def _open_next(self) -> None:
        from sctpcorr.errors import OutputUnwritable
        from sctpcorr.outfile import describe, is_special

        self.close()
        name = self._name(len(self.files))
        # O_EXCL without --force: a file that appeared since check() is not overwritten either
        replace = self.force or is_special(name)
        try:
            self._fd = os.open(name, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL), 0o644)
        except OSError as exc:
            why = f"{name} exists (use --force to overwrite)" if isinstance(exc, FileExistsError) \
                else describe(name, exc)
            if not self.files:
                raise OutputUnwritable(why) from None
            self.error = f"{why}: -w stopped"
            return
        self.files.append(name)
        self._size = 0
        self._opened_at = time.monotonic()
        self._write(self.header)

    def _write(self, data: bytes) -> None:
        from sctpcorr.outfile import describe, write_all

        if self._fd is None or not data:
            return
        try:
            self._size = write_all(self._fd, data, self._size)      # cut back to the last whole block on error
        except OSError as exc:
            self.error = f"{describe(self.files[-1], exc)} after {self._size} bytes: -w stopped there (the file " \
                         "is whole up to its last packet); the analysis goes on"
            self.close()
            return
        self.bytes += len(data)

    def write(self, data: bytes) -> None:
        if self._fd is None:
            return
        if (self.max_bytes and self._size >= self.max_bytes) or \
                (self.max_seconds and time.monotonic() - self._opened_at >= self.max_seconds):
            self._open_next()
        self._write(data)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.close(fd)
            except OSError as exc:      # NFS and some filesystems report a failed write only here
                if self.error is None:
                    from sctpcorr.outfile import describe

                    self.error = f"{describe(self.files[-1], exc)}: the end of the -w file may be lost"


@dataclass
class Tick:
    """What the view and the metrics are given once a second: the capture section of the report, one small tuple
    per association (``Analyzer.summary()``, engine.SUMMARY_FIELDS) and ``association(id)`` for the full entry of
    the few a consumer shows (the whole report of thousands of associations every second would cost the capture
    its time)."""

    elapsed_s: float
    packets: int
    packets_per_s: float
    capture: dict[str, Any]
    summary: list[tuple[Any, ...]]
    association: Callable[[int], dict[str, Any] | None]
    interfaces: list[IfaceStats]
    recent_events: list[dict[str, Any]]
    writer_error: str | None = None
    final: bool = False
    kernel: list[Any] | None = None       # correlate.snapshots.Joined per association, with --diag

    @classmethod
    def from_report(cls, elapsed_s: float, report: dict[str, Any], interfaces: list[IfaceStats],
                    recent_events: list[dict[str, Any]] | None = None, **kw: Any) -> Tick:
        """A tick made of a whole report (the final one; tests)."""
        by_id = {a["id"]: a for a in report.get("associations", [])}
        return cls(elapsed_s, report.get("capture", {}).get("packets", 0), kw.pop("packets_per_s", 0.0),
                   report.get("capture", {}), [summary_of(a) for a in by_id.values()], by_id.get, interfaces,
                   recent_events or [], **kw)


@dataclass
class LiveRun:
    """What a live run produced; ``run`` is the ``PcapRun`` whose document ``pcap --json`` would write."""

    run: PcapRun
    interfaces: list[IfaceStats]
    stopped_by: str
    files_written: list[str] = field(default_factory=list)
    writer_error: str | None = None
    started_at_ns: int = 0
    kernel: dict[str, Any] | None = None  # with --diag: the last join per association, and what was not joined

    @property
    def dropped(self) -> int:
        return sum(s.dropped + s.ifdropped for s in self.interfaces)

    @property
    def document(self) -> dict[str, Any]:
        doc = self.run.document
        doc["live"] = {
            "started_at_ns": self.started_at_ns,
            "stopped_by": self.stopped_by,
            "interfaces": [s.to_json() for s in self.interfaces],
            "kernel_dropped": sum(s.dropped for s in self.interfaces),
            "interface_dropped": sum(s.ifdropped for s in self.interfaces),
            "files_written": self.files_written,
            "write_error": self.writer_error,
        }
        if self.kernel is not None:
            doc["live"]["kernel"] = self.kernel
        return doc


RECENT_EVENTS = 200


class KernelDiag:
    """``--diag``: the kernel's ``sctp_info`` per association by sock_diag, once a tick, joined to the wire by
    :class:`~sctpcorr.correlate.snapshots.SnapshotJoin` (pure).  sock_diag answers for one network namespace:
    live's own, or ``netns``.  Opening it makes one dump, so a missing ``sctp_diag`` fails before capture."""

    def __init__(self, netns: str | None = None) -> None:
        from sctpcorr.correlate.snapshots import SnapshotJoin
        from sctpcorr.errors import SctpcorrError
        from sctpcorr.kernel.diag import DiagClient, DiagError
        from sctpcorr.kernel.probes import kernel_hz

        self.hz, _how = kernel_hz()
        if not os.path.exists("/proc/net/sctp"):
            err = SctpcorrError("--diag: this kernel has no SCTP stack loaded (no /proc/net/sctp; modprobe sctp): "
                                "there is no kernel view to compare")
            err.exit_code = 2
            raise err
        try:
            self.client = DiagClient(netns, self.hz)
            self.client.associations()
        except (DiagError, OSError) as exc:
            err = SctpcorrError(f"--diag: sock_diag for SCTP: {exc.strerror or exc}"
                                + ("" if "sctp_diag" in str(exc) else " (is the sctp module loaded?)"))
            err.exit_code = 2
            raise err from None
        self.join = SnapshotJoin(self.hz)
        self.errors = 0
        self.last_error: str | None = None

    wants_records = False

    def add_wire(self, recs: bytes) -> None:
        pass

    def step(self, summary: list[tuple[Any, ...]], association: Callable[[int], dict[str, Any] | None]) -> list[Any]:
        """One dump, joined to the wire associations whose tags it names (only those are fetched whole)."""
        from sctpcorr.correlate.snapshots import KernelAssoc

        try:
            recs = self.client.associations()
        except OSError as exc:                 # counted and shown; the capture goes on
            self.errors += 1
            self.last_error = str(exc)
            return list(self.join.joined.values())
        kern = [KernelAssoc.from_diag(r) for r in recs]
        want = {frozenset((k.my_vtag, k.peer_vtag)) for k in kern}
        ids = [t[0] for t in summary if frozenset((t[10], t[11])) in want]
        self.join.step({"associations": [a for a in map(association, ids) if a is not None]}, kern)
        return list(self.join.joined.values())

    def final(self, report: dict[str, Any]) -> list[Any]:
        """The last dump, joined to the final report."""
        by_id = {a["id"]: a for a in report.get("associations", [])}
        return self.step([summary_of(a) for a in by_id.values()], by_id.get)

    def summary(self) -> dict[str, Any]:
        return {"source": "sock_diag", "hz": self.hz, "associations": [j.as_dict() for j in self.join.joined.values()],
                "kernel_not_on_wire": self.join.unmatched_kernel, "dump_errors": self.errors,
                "last_error": self.last_error}

    def close(self) -> None:
        self.client.close()


class JsonlTail:
    """The complete lines appended to a JSONL file since the last read, parsed (``tail -f`` of a recording
    another process writes).  A line cut at the end of what was written waits for its end; lines that are not
    JSON objects shaped like the probe's records (sources.recording.well_formed) are counted."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._f: Any = None
        self._rest = b""
        self.bad_lines = 0
        self.bytes = 0

    def read(self, limit: int = 8 << 20) -> list[dict[str, Any]]:
        import json

        from sctpcorr.sources import read_size
        from sctpcorr.sources.recording import well_formed

        if self._f is None:
            try:
                self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()
            except FileNotFoundError:
                return []
        n = read_size(self._f, limit)         # what the file has left, no more (read_size says why)
        data = self._f.read(n) if n else b""
        if not data:
            return []
        self.bytes += len(data)
        data = self._rest + data
        cut = data.rfind(b"\n") + 1
        self._rest = data[cut:]
        out = []
        for line in data[:cut].splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                self.bad_lines += 1
                continue
            if isinstance(rec, dict) and well_formed(rec):     # the shape RecordingStream accepts
                out.append(rec)
            else:
                self.bad_lines += 1
        return out

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


def _die_with_parent() -> None:
    """In the child, before exec: SIGINT when the parent dies; SIGINT/SIGTERM at their defaults."""
    import ctypes

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGINT), 0, 0, 0)


def _root_netns() -> bool | None:
    """Whether this process is in the host's network namespace: not one of the named ones (``ip netns``), and
    PID 1's where that can be read.  None if it cannot tell."""
    try:
        mine = os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return None
    for d in ("/run/netns", "/var/run/netns"):
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            try:
                if os.stat(os.path.join(d, n)).st_ino == mine:
                    return False
            except OSError:
                pass
    try:
        return os.stat("/proc/1/ns/net").st_ino == mine
    except OSError:
        return None


class KernelProbes:
    """``--probes``: ``sctpcorr probe`` as a child process recording the stack's every decision (BPF), its JSONL
    followed as it is written and joined to the capture by :class:`~sctpcorr.correlate.stream.LiveCorrelator`
    (pure).  The probe sees every network namespace but must run from the host's own: kprobes are global, and a
    BCC process under ``ip netns exec`` (which remounts /sys) cannot detach them at exit.  Starting compiles the
    BPF programs (seconds; minutes under emulation): the constructor returns once they are attached."""

    wants_records = True

    def __init__(self, jsonl: str | None = None, probe_args: tuple[str, ...] = (),
                 say: Callable[[str], None] | None = None, timeout_s: float = 1800.0,
                 command: list[str] | None = None, force: bool = False) -> None:
        import subprocess
        import sys
        import tempfile

        from sctpcorr.correlate.stream import LiveCorrelator
        from sctpcorr.errors import SctpcorrError

        def fail(msg: str) -> SctpcorrError:
            err = SctpcorrError("--probes: " + msg)
            err.exit_code = 2
            return err

        if command is None and os.geteuid() != 0:
            raise fail("the BPF probes need root (CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN for kprobes)")
        if command is None and _root_netns() is False:
            raise fail("run live from the host's network namespace (kprobes are global, and BCC under "
                       "`ip netns exec` cannot detach them); to watch another namespace's traffic, capture it "
                       "there (tcpdump -U -w FILE) and read it with --follow FILE")
        self._tmp = None if jsonl else tempfile.mkdtemp(prefix="sctpcorr-live-")
        self.path = jsonl or os.path.join(self._tmp, "probe.jsonl")       # type: ignore[arg-type]
        self.kept = jsonl is not None
        ready = self.path + ".ready"
        self.log_path = self.path + ".log"
        if self.kept:       # --probes-jsonl FILE and the probe's log FILE.log: an earlier run's only with --force
            from sctpcorr.outfile import check_new

            check_new(self.path, force)
            check_new(self.log_path, force)
        for p in (ready, self.path):
            if os.path.exists(p):
                os.unlink(p)
        # a clock record every second: the recording's progress when the stack is idle (LiveCorrelator.step)
        argv = [*(command or [sys.executable, "-m", "sctpcorr.kernel.cli"]), "--jsonl", self.path, "--force", "-q",
                "--ready-file", ready, "--flush-interval", "0.5", "--clock-interval", "1", *probe_args]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in close()
        if say:
            say("sctpcorr live: compiling and attaching the BPF probes (sctpcorr probe)...")
        # its own session: Ctrl-C reaches live, which stops the probe after the capture; and should live die
        # without stopping it, the kernel sends it SIGINT (PR_SET_PDEATHSIG), so no probe outlives live
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        t0 = time.monotonic()
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                self._log.close()
                raise fail(f"sctpcorr probe exited ({self.proc.returncode}): {self._last_log_line()}")
            if time.monotonic() - t0 > timeout_s:
                self.close()
                raise fail(f"the probes were not attached after {timeout_s:.0f} s")
            time.sleep(0.2)
        self.attach_s = time.monotonic() - t0
        self.tail = JsonlTail(self.path)
        self.lc = LiveCorrelator(capture_name="live", recording_name=os.path.basename(self.path))
        self.correlation: Any = None
        self._final: list[Any] = []

    def _last_log_line(self) -> str:
        try:
            lines = [x for x in open(self.log_path, errors="replace").read().splitlines() if x.strip()]
        except OSError:
            return "(no output)"
        errs = [x for x in lines if "error" in x.lower()]
        return (errs or lines or ["(no output)"])[-1].removeprefix("sctpcorr: error: ")

    def add_wire(self, recs: bytes) -> None:
        self.lc.add_wire(recs)

    def _read(self) -> None:
        while True:
            recs = self.tail.read()
            if not recs:
                return
            self.lc.add_kernel(recs)

    def _report(self, summary: list[tuple[Any, ...]],
                association: Callable[[int], dict[str, Any] | None]) -> dict[str, Any]:
        """The associations the kernel knows an end of (fetched whole: only those)."""
        idents = set(self.lc.latest)
        ids = [t[0] for t in summary if (t[12], t[10]) in idents or (t[13], t[11]) in idents]
        return {"associations": [a for a in map(association, ids) if a is not None]}

    def step(self, summary: list[tuple[Any, ...]], association: Callable[[int], dict[str, Any] | None]) -> list[Any]:
        self._read()
        report = self._report(summary, association)
        self.lc.step(report, now_ns=time.monotonic_ns())
        return self.lc.joined(report)

    def final(self, report: dict[str, Any]) -> list[Any]:
        """Stop the probe (it writes what it holds and its end record), read the rest, judge everything."""
        self._stop()
        self._read()
        self.correlation = self.lc.finish(report)
        self._final = self.lc.joined(report)
        return self._final

    def _stop(self) -> None:
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def summary(self) -> dict[str, Any]:
        cx = self.correlation
        return {"source": "probe", "recording": self.path if self.kept else None,
                "attach_s": round(self.attach_s, 1), "probe_exit": self.proc.returncode,
                "kernel_records": self.lc.kernel_records, "bad_lines": self.tail.bad_lines,
                "associations": [j.as_dict() for j in self._final],
                "correlation": cx.as_dict() if cx is not None else None}

    def close(self) -> None:
        import shutil

        self._stop()
        if hasattr(self, "tail"):
            self.tail.close()
        self._log.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def open_source(opts: LiveOptions) -> InterfaceSource | FollowSource:
    if opts.follow:
        return FollowSource(opts.follow)
    return InterfaceSource(list(opts.interfaces), opts.filter, opts.snaplen, opts.buffer_bytes, opts.promisc)


def pcap_options(opts: LiveOptions, label: str) -> PcapOptions:
    """The options a ``pcap`` run of the same packets would have (for the shared document and JSONL writers)."""
    return PcapOptions(files=(label,), filters=opts.filters, events=opts.events, dup_window_ns=opts.dup_window_ns,
                       max_assocs=opts.max_assocs, max_outstanding=opts.max_outstanding,
                       fold_linger_ns=opts.fold_linger_ns, fold_idle_ns=opts.fold_idle_ns)


def run_live(opts: LiveOptions, source: InterfaceSource | FollowSource, stop: StopFlag, *,
             on_events: Callable[[list[dict[str, Any]]], None] | None = None,
             on_tick: Callable[[Tick], None] | None = None, kernel: KernelDiag | KernelProbes | None = None) -> LiveRun:
    """Capture until stopped; see the module's docstring.  ``source`` is opened by the caller (errors about the
    interface come before anything is written) and closed here."""
    from sctpcorr.wire.engine import Analyzer

    want_events = opts.events or opts.recent_events      # off otherwise: see 3. above
    records = kernel is not None and kernel.wants_records      # --probes: the per-chunk records, for per-TSN joins
    a = Analyzer(events=want_events, dup_window_ns=opts.dup_window_ns, max_assocs=opts.max_assocs,
                 max_outstanding=opts.max_outstanding, records=records, fold_linger_ns=opts.fold_linger_ns,
                 fold_idle_ns=opts.fold_idle_ns)
    started_ns, t0 = time.time_ns(), time.monotonic()
    run = PcapRun(options=pcap_options(opts, source.label), files=[FileResult(path=source.label)], report_data={},
                  errors=[], interrupted=False, elapsed_ns=0, command="live")
    header = source.header()
    writer = RotatingWriter(opts.write, header, opts.rotate_bytes, opts.rotate_seconds, force=opts.force) \
        if opts.write else None
    def assoc(aid: int) -> dict[str, Any] | None:
        return _association(a, aid)

    evfilter = _EventFilter(opts.filters, assoc)
    recent: list[dict[str, Any]] = []
    packets = 0
    last_tick, last_packets = t0, 0
    tick_cost = 0.0                                      # seconds the last tick took (see 4. above)
    stopped_by = "end"
    if header:
        a.feed_capture(header)

    def drain() -> None:
        if not want_events:
            return
        events = [event_to_dict(e) for e in a.drain_events()]
        if not events:
            return
        run.events_seen.update(e["type"] for e in events)
        ready = evfilter.apply(events)
        recent.extend(ready[-RECENT_EVENTS:])
        del recent[:-RECENT_EVENTS]
        if ready and on_events is not None and opts.events:
            on_events(ready)
            run.events_written += len(ready)

    def tick() -> None:
        nonlocal last_tick, last_packets, tick_cost
        if on_tick is None and kernel is None:
            return
        now = time.monotonic()
        try:
            _tick(now)
        finally:
            tick_cost = time.monotonic() - now

    def _tick(now: float) -> None:
        nonlocal last_tick, last_packets
        rate = (packets - last_packets) / max(now - last_tick, 1e-9)
        last_tick, last_packets = now, packets
        summary = a.summary()
        joined = kernel.step(summary, assoc) if kernel is not None else None
        if on_tick is None:
            return
        on_tick(Tick(now - t0, packets, rate, a.capture_summary(), summary, assoc, source.refresh_stats(),
                     list(recent), writer.error if writer else None, False, joined))

    def consume(data: bytes) -> bool:
        nonlocal packets
        if not data:
            return False
        if opts.count is not None and isinstance(source, InterfaceSource):
            data, _rest = split_blocks(data, opts.count - packets)
        if writer is not None:
            writer.write(data)
        packets += a.feed_capture(data)
        source.note_packets(packets)
        if records:
            kernel.add_wire(a.drain_records())           # type: ignore[union-attr]
        drain()
        return True

    try:
        while True:
            if stop:
                stopped_by = stop.reason or "stopped"
                break
            if opts.duration_s is not None and time.monotonic() - t0 >= opts.duration_s:
                stopped_by = "duration"
                break
            if source.done:
                stopped_by = "interfaces down"
                break
            consume(source.poll(0.1))
            if opts.count is not None and packets >= opts.count:
                stopped_by = "count"
                break
            if time.monotonic() - last_tick >= max(opts.tick_s, tick_cost / TICK_SHARE):
                tick()
        if stopped_by not in ("count", "interfaces down"):
            # what the kernel had captured when told to stop: the ring hands over a partly filled block only
            # after its 100 ms timeout, so wait for that; bounded, as traffic that goes on would never end it
            for _ in range(3):
                if not consume(source.poll(0.15)):
                    break
    except KeyboardInterrupt:
        stopped_by = "SIGINT"
    finally:
        source.refresh_stats()
        source.close()
        if writer is not None:
            writer.close()
    try:
        info = a.finish_capture()
    except ValueError as exc:
        info = {}
        run.files[0].error = str(exc)
    if records:
        kernel.add_wire(a.drain_records())               # type: ignore[union-attr]
    drain()
    fr = run.files[0]
    fr.format = info.get("format") or ("pcapng" if header else None)
    fr.packets = int(info.get("packets", 0) or 0)
    fr.truncated_bytes = int(info.get("truncated_bytes", 0) or 0)
    fr.link_types = list(info.get("link_types", ()) or ())
    fr.complete = fr.error is None and not fr.truncated_bytes
    run.report = a.report()
    run.elapsed_ns = int((time.monotonic() - t0) * 1e9)
    if kernel is not None or on_tick is not None:
        final = Tick.from_report(time.monotonic() - t0, run.report, source.stats, list(recent),
                                 writer_error=writer.error if writer else None, final=True)
        final.packets = packets
        final.kernel = kernel.final(run.report) if kernel is not None else None
        if on_tick is not None:
            on_tick(final)
    return LiveRun(run, source.stats, stopped_by, writer.files if writer else [], writer.error if writer else None,
                   started_ns, kernel.summary() if kernel is not None else None)


def _association(a: Any, aid: int) -> dict[str, Any] | None:
    try:
        return a.association(aid)
    except KeyError:
        return None

