"""The I/O integration layer of ``sctpcorr correlate`` and ``sctpcorr validate``: files in, a Correlation out.

The correlator itself (``sctpcorr.correlate``) is pure; this module opens what the user named and feeds it:

* a **capture** goes through the wire engine with per-chunk records on (``Analyzer(records=True)``, read in
  blocks by ``sources.pcapfile``), and becomes a ``correlate.wire.WireView``;
* a **kernel recording** (JSONL, ``--raw`` records, or sock_diag snapshots; gzip or not) is read by
  ``sources.recording`` and becomes a ``correlate.kernel.KernelView``;
* a **lab bundle** (``manifest.json``, ``client.pcapng``, ``server.pcapng``, ``kernel/probe.jsonl``) gives both,
  with host labels (the client capture and the client's kernel ends are host "client", by network namespace)
  and the recorded clock offsets (the captures and the recording come from one guest kernel).

Inputs name their host with ``FILE@HOST``: a capture and a recording with the same host label share a clock
(the recording's CLOCK_REALTIME - CLOCK_MONOTONIC applies) and the capture sits next to that host's end.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np

from sctpcorr.correlate import Correlation, Tolerances, correlate
from sctpcorr.correlate.checks import CAPTURE_TAIL_NS
from sctpcorr.correlate.clock import recorded_offset
from sctpcorr.correlate.core import Correlator
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.wire import RecordBuffer, WireView
from sctpcorr.errors import FileUnreadable, InputError, TruncatedCapture
from sctpcorr.sources.pcapfile import CaptureReader, check_readable
from sctpcorr.sources.recording import RecordingStream

__all__ = ["Spec", "parse_spec", "expand_bundles", "load_capture", "load_kernel", "load_bundle", "Inputs", "run"]


@dataclass
class Spec:
    path: str
    host: str | None = None


def parse_spec(text: str) -> Spec:
    """``FILE`` or ``FILE@HOST`` (a path that itself contains @ and exists is taken whole)."""
    if "@" in text and not os.path.exists(text):
        path, host = text.rsplit("@", 1)
        return Spec(path, host or None)
    return Spec(text, None)


def load_kernel(path: str, host: str | None = None, hz: int | None = None, name: str | None = None) -> KernelView:
    """A whole recording (see ``KernelFeed`` for one read as it goes)."""
    feed = KernelFeed(path, host, hz, name)
    while feed.more():
        pass
    return feed.kv


class KernelFeed:
    """A kernel recording read block by block into a ``KernelView`` (--raw records column by column, JSONL in
    batches of lines)."""

    def __init__(self, path: str, host: str | None = None, hz: int | None = None, name: str | None = None):
        self.stream = RecordingStream(path)
        self.kv = KernelView(name or Path(path).name, host)
        self.done = False
        if self.stream.kind == "raw":
            self.kv.raw = True
            self.kv.startup = {"type": "startup", "tool": "sctpcorr probe", "source": "bpf", "hz": hz,
                               "note": "from --raw records: no clock offsets, no losses recorded"}
            self._it = self.stream.raw_feed(self.kv.add_raw)  # type: ignore[arg-type]
        else:
            self._it = (self.kv.add_records(b) for b in self.stream.jsonl_batches())

    def more(self) -> bool:
        """Read one more block; False at the end of the recording."""
        if self.done:
            return False
        try:
            next(self._it)
            return True
        except StopIteration:
            pass
        self.done = True
        self.kv.bad_records += self.stream.bad_records
        self.close()
        return False

    def close(self) -> None:
        self.stream.close()


class CaptureFeed:
    """A capture fed to the wire engine block by block (per-chunk records on); the records of the windows still
    open are kept, older ones dropped."""

    def __init__(self, path: str, host: str | None = None, name: str | None = None,
                 meta: dict[str, Any] | None = None):
        from sctpcorr.wire.engine import Analyzer

        check_readable(path)
        self.path, self.host, self.name = path, host, name or Path(path).name
        self.meta = dict(meta or {})
        self.analyzer = Analyzer(records=True)
        self.reader = CaptureReader(path)
        self.reader.open()
        self._blocks = self.reader.blocks()
        self.buf = RecordBuffer()               # the records of the windows still open
        self.done = False
        self.info: dict[str, Any] = {}
        self._gen = self._produce()

    @property
    def first_ns(self) -> int | None:
        return self.buf.first_ns

    @property
    def last_ns(self) -> int | None:
        return self.buf.last_ns

    def _produce(self) -> Iterator[tuple[bytes, dict[str, Any] | None]]:
        """(records of the next block, None), ..., then (the last records, finish_capture()'s info)."""
        a = self.analyzer
        for block in self._blocks:
            try:
                a.feed_capture(block)
            except ValueError as e:
                raise InputError(self.path, str(e)) from None
            yield a.drain_records(), None
        info = a.finish_capture()
        yield a.drain_records(), info

    def more(self) -> bool:
        """One more block of records; False at the end of the capture."""
        if self.done:
            return False
        try:
            item = next(self._gen, None)
            ok = item is not None
        except BaseException:
            self.close()
            raise
        recs, info = item if ok else (b"", {})
        self.buf.add(recs)
        if info is not None:
            self.info = info
            self.done = True
            self.close()
        return not self.done

    def close(self) -> None:
        self.reader.close()

    def records(self, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        return self.buf.records(lo, hi)

    def view(self, lo: int | None = None, hi: int | None = None) -> WireView:
        """The records with ``lo <= ts < hi`` (capture clock; None: all kept), with the engine's report so far."""
        m = dict(self.meta)
        m.update(format=self.info.get("format"), path=self.path)
        if self.info.get("truncated_bytes"):
            m["truncated_bytes"] = self.info["truncated_bytes"]
        return WireView(self.name, self.buf.pieces(lo, hi), self.analyzer.report(), host=self.host, meta=m)

    def final_view(self) -> WireView:
        """What the run's summary needs once every window is done: the report and the capture's time span."""
        v = self.view(0, 0)
        v.first_ns, v.last_ns = self.first_ns, self.last_ns
        return v

    def drop_before(self, t: int) -> None:
        self.buf.drop_before(t)


def load_capture(path: str, host: str | None = None, name: str | None = None,
                 meta: dict[str, Any] | None = None) -> WireView:
    """A whole capture through the wire engine, with its per-chunk records."""
    feed = CaptureFeed(path, host, name, meta)
    while feed.more():
        pass
    return feed.view()


@dataclass
class Inputs:
    """What the user named, opened but not yet read: one feed per capture and per recording."""

    cap_feeds: list[CaptureFeed] = field(default_factory=list)
    kern_feeds: list[KernelFeed] = field(default_factory=list)
    same_host: set[tuple[int, int]] = field(default_factory=set)
    bundles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    captures: list[WireView] = field(default_factory=list)      # filled by read_all()
    kernels: list[KernelView] = field(default_factory=list)

    def read_all(self) -> None:
        """Read every input whole (a one-piece correlation)."""
        for f in self.cap_feeds:
            while f.more():
                pass
        for k in self.kern_feeds:
            while k.more():
                pass
        self.captures = [f.view() for f in self.cap_feeds]
        self.kernels = [k.kv for k in self.kern_feeds]
        self.add_same_host_by_label()

    def add_same_host_by_label(self) -> None:
        for ri, kv in enumerate(self.kernels):
            hosts = {kv.host, *kv.end_host_labels} - {None}
            for ci, cap in enumerate(self.cap_feeds):
                if cap.host is not None and cap.host in hosts:
                    self.same_host.add((ri, ci))

    def close(self) -> None:
        for f in self.cap_feeds:
            f.close()
        for k in self.kern_feeds:
            k.close()

    def input_bytes(self) -> int:
        paths = [f.path for f in self.cap_feeds] + [k.stream.path for k in self.kern_feeds]
        return sum(os.path.getsize(p) for p in paths if os.path.isfile(p))


def _first_existing(d: Path, names: list[str]) -> Path | None:
    for n in names:
        for cand in (d / n, d / (n + ".gz")):
            if cand.exists():
                return cand
    return None


def open_bundle(d: str | Path, into: Inputs | None = None) -> Inputs:
    """A lab bundle's captures and kernel recording, labelled by host (see the module doc)."""
    d = Path(d)
    inp = into or Inputs()
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise FileUnreadable(str(d), f"not a lab bundle (manifest.json: {getattr(e, 'strerror', None) or e})") from None
    files = manifest.get("files") or {}
    counts = manifest.get("capture_counts") or {}
    base = len(inp.cap_feeds)
    for role in ("client", "server"):
        p = _first_existing(d, [files.get(f"{role}_capture") or f"{role}.pcapng"])
        if p is None:
            inp.notes.append(f"{d}: no {role} capture")
            continue
        drops = sum(int(v.get("kernel_drops") or 0) for v in (counts.get(role) or {}).values()
                    if isinstance(v, dict))
        inp.cap_feeds.append(CaptureFeed(str(p), host=role, name=f"{d.name}/{p.name}", meta={"drops": drops}))
    kp = _first_existing(d / "kernel", ["probe.jsonl", "probe.raw", "diag.jsonl"])
    if kp is None:
        inp.notes.append(f"{d}: no kernel recording (kernel/probe.jsonl): run the lab with --probe")
    else:
        kf = KernelFeed(str(kp), name=f"{d.name}/kernel/{kp.name}", hz=(manifest.get("guest") or {}).get("hz"))
        kv = kf.kv
        if kv.raw and manifest.get("clock_offsets"):
            # --raw records carry no clock offsets: the manifest read them in the same guest
            kv.startup["clock"] = manifest["clock_offsets"][0]     # type: ignore[index]
            kv.clocks.extend(manifest["clock_offsets"][1:])
        inodes = ((manifest.get("topology") or {}).get("netns_inodes") or {})
        if inodes:
            kv.label_hosts({int(v): k for k, v in inodes.items()})
        else:   # bundles made before the lab recorded inodes: the client starts the association
            kv.infer_client_server = True
        ri = len(inp.kern_feeds)
        inp.kern_feeds.append(kf)
        for ci in range(base, len(inp.cap_feeds)):
            inp.same_host.add((ri, ci))     # one guest kernel: every capture shares the recording's clocks
    inp.bundles.append(str(d))
    return inp


def load_bundle(d: str | Path) -> Inputs:
    """A lab bundle read whole."""
    inp = open_bundle(d)
    inp.read_all()
    return inp


def expand_bundles(path: str) -> list[str]:
    """A bundle directory, or a group directory (``lab run A B --out G``: G/A, G/B): the bundles in it."""
    d = Path(path)
    if not d.exists():
        raise FileUnreadable(path, "No such file or directory")
    if not d.is_dir():
        raise FileUnreadable(path, "not a lab bundle (a directory with manifest.json); for a capture use "
                             "--capture, for a recording --kernel")
    if (d / "manifest.json").exists():
        return [str(d)]
    subs = sorted(str(p.parent) for p in d.glob("*/manifest.json"))
    if not subs:
        raise FileUnreadable(path, "not a lab bundle (no manifest.json in it or in its subdirectories)")
    return subs


# ---- windows -----------------------------------------------------------------------------------------------------
STREAM_BYTES = 96 << 20       # inputs at least this large (on disk) are read in windows
WINDOW_EVENTS = 300_000       # kernel events per window (its tables, and the capture records of the same time)
WINDOW_EVENTS_TSN_RECORDS = 60_000   # with per-TSN records (--jsonl): a window's records are held until written
MARGIN_NS = 20_000_000_000    # context on each side of a window: a chunk's SACK, retransmissions, HEARTBEATs
_FAR = 1 << 62


def plan_windows(inp: Inputs, use_recorded_clock: bool, window_events: int = WINDOW_EVENTS) -> int | None:
    """Whether the inputs can be read in windows, and the capture-minus-kernel offset to cut them with: one
    recording, every capture taken with it on one host (one clock), the offset recorded with the data.  None: read
    them in one piece.  Sets the recording's read size to a fraction of a window."""
    if len(inp.kern_feeds) != 1 or not inp.cap_feeds or not use_recorded_clock:
        return None
    if any((0, ci) not in inp.same_host for ci in range(len(inp.cap_feeds))):
        return None
    kf = inp.kern_feeds[0]
    kf.stream.batch_lines = max(256, min(20000, window_events // 8))        # JSON lines
    kf.stream.block_bytes = max(64 << 10, min(8 << 20, window_events * 32))  # raw records (~250 bytes each)
    if kf.kv.startup is None:
        kf.more()                    # JSONL: the startup record comes with the first batch
    rec = recorded_offset(kf.kv.real_minus_mono())
    return None if rec is None else rec[0]


def correlate_windows(inp: Inputs, off: int, tolerances: Tolerances | None, use_recorded_clock: bool,
                      window_events: int = WINDOW_EVENTS, margin_ns: int = MARGIN_NS,
                      tsn_sink: Any = None) -> Correlation:
    """Read the inputs a window at a time (``window_events`` kernel events, the captures over the same time,
    ``margin_ns`` of context on each side) and correlate each as it comes: memory holds one window, not the
    run.  ``off``: capture clock - kernel clock."""
    kf, caps = inp.kern_feeds[0], inp.cap_feeds
    kv = kf.kv
    cor = Correlator(tolerances, inp.same_host, use_recorded_clock, tsn_sink=tsn_sink)
    lo = -_FAR
    while True:
        target = sum(kv.counts.values()) + window_events
        while not kf.done and sum(kv.counts.values()) < target:
            kf.more()
        hi = (kv.last_ns + 1) if kv.last_ns is not None else -_FAR
        while not kf.done and (kv.last_ns or 0) < hi + margin_ns:
            kf.more()
        if kf.done:
            hi = _FAR                # the last window takes everything left (captures that outlast the recording)
        for f in caps:   # (and far enough to know whether the capture ends near the window: CAPTURE_TAIL_NS)
            while not f.done and (f.last_ns is None
                                  or f.last_ns < min(hi, _FAR // 2) + margin_ns + CAPTURE_TAIL_NS + off):
                f.more()
        kv.window(lo - margin_ns, hi + margin_ns)
        views = [f.view(lo - margin_ns + off, hi + margin_ns + off) for f in caps]
        spans = {i: (f.first_ns, f.last_ns if f.done else None) for i, f in enumerate(caps) if f.first_ns is not None}
        cor.step(views, [kv], (lo, hi), spans)
        kv.window(None, None)
        if hi >= _FAR:
            break
        kv.drop_before(hi - margin_ns)
        for f in caps:
            f.drop_before(hi - margin_ns + off)
        lo = hi
    return cor.finish([f.final_view() for f in caps], [kv])


def _keep_freed_memory() -> None:
    """Ask glibc to keep what the windows free for the next one: each window allocates and frees arrays of
    tens of megabytes, which glibc otherwise hands back to the kernel (mmap'd blocks, a trimmed heap) and then
    faults in again page by page: a third of the run's system time.  The peak is unchanged (a window's worth)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:       # not glibc: nothing to tune
        return
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)
    libc.mallopt(m_top_pad, 64 << 20)


def run(bundles: list[str] = (), captures: list[str] = (), kernels: list[str] = (), hz: int | None = None,
        tolerances: Tolerances | None = None, use_recorded_clock: bool = True, keep_tables: bool = False,
        window_events: int | None = None, tsn_sink: Any = None) -> tuple[Correlation, Inputs]:
    """Open everything named and correlate it: in windows when the inputs are large and share one recorded
    clock (``window_events``: force windows of that many kernel events; 0: one piece), else in one piece
    (``keep_tables``: one piece, keeping the joined tables the plots draw).  Raises InputError (one line) for
    what cannot be read."""
    _keep_freed_memory()
    inp = Inputs()
    try:
        for b in bundles:
            open_bundle(b, inp)
        for text in captures:
            s = parse_spec(text)
            inp.cap_feeds.append(CaptureFeed(s.path, s.host))
        for text in kernels:
            s = parse_spec(text)
            inp.kern_feeds.append(KernelFeed(s.path, s.host, hz))
        for ri, kf in enumerate(inp.kern_feeds):          # explicit labels; end labels are known once read
            for ci, cf in enumerate(inp.cap_feeds):
                if kf.kv.host is not None and cf.host == kf.kv.host:
                    inp.same_host.add((ri, ci))
        off = None
        if window_events is None and tsn_sink is not None:
            window_events = WINDOW_EVENTS_TSN_RECORDS if inp.input_bytes() >= STREAM_BYTES else None
        if not keep_tables and window_events != 0 and (window_events or inp.input_bytes() >= STREAM_BYTES):
            off = plan_windows(inp, use_recorded_clock, window_events or WINDOW_EVENTS)
        if off is not None:
            cx = correlate_windows(inp, off, tolerances, use_recorded_clock, window_events or WINDOW_EVENTS,
                                   tsn_sink=tsn_sink)
        else:
            inp.read_all()
            cx = correlate(inp.captures, inp.kernels, tolerances, inp.same_host, use_recorded_clock)
    finally:
        inp.close()
    return cx, inp


__all__ += ["TruncatedCapture", "KernelFeed", "CaptureFeed", "open_bundle", "correlate_windows", "plan_windows"]
