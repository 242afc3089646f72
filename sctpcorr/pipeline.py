"""The I/O integration layer of ``sctpcorr pcap``: files -> C engine -> one report document (+ an event stream).

Theory of operation
-------------------
The protocol work happens in the sans-IO C engine (``sctpcorr.wire._engine.Analyzer``, see
docs/design/engine.md). This module only moves bytes and dicts around it:

1. Every path is checked for readability first, so a mistyped third file fails at once, not after analysing the
   first two.
2. Each file is read in blocks (:mod:`sctpcorr.sources.pcapfile`, which also gunzips) and each block is fed to
   ``Analyzer.feed_capture``. ``finish_capture`` ends each file; the analysis state carries on, so several files
   are one capture (rotated ``tcpdump -C/-W`` files, given in order).
3. With ``events=True`` the engine's event queue is drained after every block, turned into dicts with the field
   names of engine.md (plus ``"type"``), filtered, and handed to ``on_events``: memory stays bounded however
   long the capture is.
4. A damaged file (not a capture, corrupt gzip, format error, truncated tail) is recorded as an
   :class:`~sctpcorr.errors.InputError` and the run goes on with the next file; the caller reports what was
   readable and exits 2. Ctrl-C stops reading and the run returns what was analysed so far, marked interrupted.
5. ``report()`` is called once at the end; :func:`build_document` wraps it into the ``--json`` document that the
   text, JSON and CSV writers all render.

Filters (``--assoc``, ``--port``, ``--addr``) select associations: the same kind is OR-ed, different kinds are
AND-ed (``--port 38412 --addr 10.0.0.0/24``: on port 38412 *and* with an address in 10.0.0.0/24). Capture totals
are never filtered.
"""

from __future__ import annotations

import ipaddress
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sctpcorr import __version__
from sctpcorr.errors import (
    CorruptCapture,
    InputError,
    NotACapture,
    TruncatedCapture,
)
from sctpcorr.sources.pcapfile import BLOCK_SIZE, STDIN, CaptureReader, check_readable
from sctpcorr.wire.engine import EVENT_FIELDS  # names of each event tuple's items (docs/design/engine.md)

__all__ = [
    "SCHEMA_VERSION",
    "EVENT_FIELDS",
    "LINKTYPE_NAMES",
    "Filters",
    "PcapOptions",
    "FileResult",
    "PcapRun",
    "Progress",
    "event_to_dict",
    "run_pcap",
    "build_document",
]

SCHEMA_VERSION = 1

# LINKTYPE_* values the engine decodes (https://www.tcpdump.org/linktypes.html), for display.
LINKTYPE_NAMES: dict[int, str] = {
    0: "NULL", 1: "ETHERNET", 101: "RAW", 108: "LOOP", 113: "LINUX_SLL", 228: "IPV4", 229: "IPV6",
    276: "LINUX_SLL2",
}


_EVENT_KEYS: dict[str, tuple[str, ...]] = {
    kind: ("type", "ts_ns", "file", "frame_no", "assoc_id", *names) for kind, names in EVENT_FIELDS.items()
}


def event_to_dict(ev: Sequence[Any], file_index: int = 0) -> dict[str, Any]:
    """``("rtt", ts, frame, assoc, "A>B", ...)`` -> ``{"type": "rtt", "ts_ns": ts, "file": 0, "frame_no": frame,
    "assoc_id": assoc, "direction": "A>B", ...}``.

    ``file`` is the index of the input file the frame came from (frame numbers restart at 1 in each file, like
    tshark's). Tuples stay tuples (JSON writes them as arrays). An unknown kind, or more items than documented,
    keeps the surplus under ``"extra"`` rather than losing it.
    """
    kind = ev[0]
    keys = _EVENT_KEYS.get(kind)
    if keys is not None and len(ev) == len(keys) - 1:  # the common case, kept fast (one dict per event)
        return dict(zip(keys, (kind, ev[1], file_index, *ev[2:])))
    kind, ts_ns, frame_no, assoc_id, *rest = ev
    out: dict[str, Any] = {"type": kind, "ts_ns": ts_ns, "file": file_index, "frame_no": frame_no,
                           "assoc_id": assoc_id}
    names = EVENT_FIELDS.get(kind, ())
    out.update(zip(names, rest))
    if len(rest) > len(names):
        out["extra"] = list(rest[len(names):])
    return out


# ---------------------------------------------------------------------------------------------------------------
# Filters
# ---------------------------------------------------------------------------------------------------------------
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_net(text: str) -> IPNetwork:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or prefix (e.g. 10.0.0.1, 2001:db8::/32)") from None


@dataclass(frozen=True)
class Filters:
    """Which associations to show. Empty = all. Same kind OR-ed, different kinds AND-ed."""

    assoc_ids: frozenset[int] = frozenset()
    ports: frozenset[int] = frozenset()
    addrs: tuple[IPNetwork, ...] = ()
    _memo: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)  # address -> in addrs?

    @classmethod
    def build(cls, assoc_ids: Iterable[int] = (), ports: Iterable[int] = (), addrs: Iterable[str] = ()) -> Filters:
        """Raises ValueError for an address that does not parse."""
        return cls(frozenset(assoc_ids), frozenset(ports), tuple(_parse_net(a) for a in addrs))

    @property
    def active(self) -> bool:
        return bool(self.assoc_ids or self.ports or self.addrs)

    def to_json(self) -> dict[str, list[Any]]:
        return {
            "assoc": sorted(self.assoc_ids),
            "port": sorted(self.ports),
            "addr": [str(n) if n.prefixlen != n.max_prefixlen else str(n.network_address) for n in self.addrs],
        }

    def describe(self) -> str:
        """``--assoc 1 --port 38412`` (for the text report)."""
        j = self.to_json()
        return " ".join(f"--{k} {v}" for k in ("assoc", "port", "addr") for v in j[k])

    def addr_matches(self, addr: str | None) -> bool:
        if not addr:
            return False
        hit = self._memo.get(addr)
        if hit is None:
            try:
                ip = ipaddress.ip_address(addr)
                hit = any(ip.version == n.version and ip in n for n in self.addrs)
            except ValueError:
                hit = False
            if len(self._memo) < 100_000:
                self._memo[addr] = hit
        return hit

    def addrs_match(self, assoc: dict[str, Any]) -> bool:
        """Has this association an address (either endpoint, or a path end) in the ``--addr`` networks?"""
        addrs = [a for side in assoc.get("addresses") or () for a in side or ()]
        addrs += [p.get(k) for p in assoc.get("paths") or () for k in ("src", "dst")]
        return any(self.addr_matches(a) for a in addrs)

    def matches(self, assoc: dict[str, Any]) -> bool:
        """Does this association (a ``report()["associations"]`` entry) pass?"""
        if self.assoc_ids and assoc.get("id") not in self.assoc_ids:
            return False
        if self.ports and not self.ports.intersection(p for p in assoc.get("ports") or () if p is not None):
            return False
        return not self.addrs or self.addrs_match(assoc)


class _EventFilter:
    """Decides, per association id, whether its events pass the filters, batch by batch, holding nothing back.

    ``--assoc`` decides from the id at once, ``--port`` from the association's ``assoc_new`` event. ``--addr``
    decides at once for an association whose event carries a matching ``src``/``dst``; otherwise from its
    address sets, read with ``Analyzer.association(id)`` (one association's report entry: its cost does not
    depend on how many associations there are) once the batch in which the association first appears has been
    read. Each batch is therefore written as soon as it is drained. An association that did not match starts
    matching when a later event carries a matching address (added by ASCONF, or learnt later).
    """

    def __init__(self, filters: Filters, association: Callable[[Any], dict[str, Any] | None]) -> None:
        self.f = filters
        self._association = association
        self._static: dict[Any, bool] = {}  # --assoc and --port criteria: final once known
        self._addr: dict[Any, bool] = {}  # --addr criterion: False may still turn True

    def _undecided(self, aid: Any) -> bool:
        return aid not in self._static or (bool(self.f.addrs) and aid not in self._addr)

    def apply(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The events of this batch that pass, in order."""
        f = self.f
        if not f.active:
            return events
        waiting: set[Any] = set()
        for e in events:
            aid = e["assoc_id"]
            if aid not in self._static:
                if f.assoc_ids and aid not in f.assoc_ids:
                    self._static[aid] = False
                elif not f.ports:
                    self._static[aid] = True
                elif e["type"] == "assoc_new":
                    self._static[aid] = bool(f.ports.intersection(e["ports"]))
            if f.addrs and not self._addr.get(aid) and (f.addr_matches(e.get("src"))
                                                        or f.addr_matches(e.get("dst"))):
                self._addr[aid] = True
            if self._undecided(aid):
                waiting.add(aid)
        for aid in waiting:
            assoc = self._association(aid) if isinstance(aid, int) else None
            if aid not in self._static:
                self._static[aid] = assoc is not None and bool(f.ports.intersection(assoc.get("ports") or ()))
            if f.addrs and aid not in self._addr:
                self._addr[aid] = assoc is not None and f.addrs_match(assoc)
        return [e for e in events
                if self._static.get(e["assoc_id"]) and (not f.addrs or self._addr.get(e["assoc_id"]))]


# ---------------------------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------------------------
class Progress(Protocol):
    """What run_pcap tells a progress display (report/progress.py)."""

    def update(self, file_index: int, path: str, position: int, size: int | None, packets: int) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class PcapOptions:
    files: tuple[str, ...]
    filters: Filters = Filters()
    events: bool = False
    dup_window_ns: int = 5_000_000
    max_assocs: int = 1_000_000
    max_outstanding: int = 65536
    fold_linger_ns: int = 0        # an association that ended leaves memory this long after its last packet
    fold_idle_ns: int = 0          # ... and one without a packet for this long (0: never; wire/_engine/fold.c)
    block_size: int = BLOCK_SIZE
    telecom: bool = False          # name the user messages (NGAP, S1AP, Diameter...): sctpcorr.telecom
    telecom_rtt: bool = False      # and keep the wire's RTT samples beside them (compare)
    telecom_messages: bool = False  # and every message whole (Telecom.messages: sctpcorr decode)


@dataclass
class FileResult:
    """One input file as read (the ``files`` entries of the JSON document)."""

    path: str
    size_bytes: int | None = None
    compressed: bool = False
    format: str | None = None
    packets: int = 0
    truncated_bytes: int = 0
    caplen_gt_origlen: int = 0
    link_types: list[int] = field(default_factory=list)
    complete: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "compressed": self.compressed,
            "format": self.format,
            "packets": self.packets,
            "truncated_bytes": self.truncated_bytes,
            "caplen_gt_origlen": self.caplen_gt_origlen,
            "link_types": [{"linktype": lt, "name": LINKTYPE_NAMES.get(lt, f"LINKTYPE_{lt}")}
                           for lt in self.link_types],
            "complete": self.complete,
            "error": self.error,
        }


@dataclass
class PcapRun:
    """Everything one ``sctpcorr pcap`` run produced."""

    options: PcapOptions
    files: list[FileResult]
    report_data: dict[str, Any] | None   # the engine's report (report): made when first asked for
    errors: list[InputError]
    interrupted: bool
    elapsed_ns: int
    events_seen: Counter[str] = field(default_factory=Counter)  # drained from the engine, by type
    events_written: int = 0  # handed to on_events after filtering
    command: str = "pcap"  # the command whose document this is ("live" shares the schema)
    telecom: dict[str, Any] | None = None  # the telecom section (options.telecom)
    telecom_state: Any = None              # the sctpcorr.telecom.core.Telecom that made it (raw latencies)
    analyzer: Any = None                   # the engine that read it (associations written without a report)

    @property
    def report(self) -> dict[str, Any]:
        """The engine's report (``Analyzer.report()``): every association as Python objects, made on first use
        (the --json writer does without: write_json)."""
        if self.report_data is None:
            self.report_data = self.analyzer.report() if self.analyzer is not None else {}
        return self.report_data

    @report.setter
    def report(self, value: dict[str, Any]) -> None:
        self.report_data = value

    @property
    def exit_code(self) -> int:
        from sctpcorr.errors import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK

        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_INPUT if self.errors else EXIT_OK

    @property
    def readable(self) -> bool:
        """Was any input a capture at all? If not, there is no report worth printing, only the errors."""
        return any(f.format in ("pcap", "pcapng") for f in self.files)

    @property
    def document(self) -> dict[str, Any]:
        return build_document(self)


def run_pcap(
    opts: PcapOptions,
    *,
    on_events: Callable[[list[dict[str, Any]]], None] | None = None,
    on_event_lines: Callable[[bytes, int], None] | None = None,
    progress: Progress | None = None,
) -> PcapRun:
    """Analyse ``opts.files`` as one capture. Raises FileUnreadable (before analysing anything) if a path cannot
    be opened; every later input problem is returned in ``PcapRun.errors``.

    ``on_event_lines`` (the --jsonl writer's): when nothing needs the events as dicts (no filter, no
    ``telecom``), each batch goes to it instead of ``on_events`` as the engine writes it
    (``Analyzer.drain_events_jsonl``: the UTF-8 JSON lines of the dicts ``on_events`` would get, and how many),
    at the engine's speed rather than a Python dict and str per event (issue #12)."""
    for path in opts.files:
        check_readable(path)
    if opts.files.count(STDIN) > 1:
        raise ValueError("standard input ('-') can be given only once")
    from sctpcorr.wire.engine import Analyzer

    # --telecom: the engine's payloads (each header carries the RTT and window of its moment) and its
    # retransmission events (and RTT samples for compare); --jsonl wants every event anyway
    kinds = None if opts.events else ("retransmission", "rtt") if opts.telecom_rtt else ("retransmission",)
    a = Analyzer(events=opts.events or opts.telecom, dup_window_ns=opts.dup_window_ns, max_assocs=opts.max_assocs,
                 max_outstanding=opts.max_outstanding, payloads=opts.telecom, event_kinds=kinds,
                 fold_linger_ns=opts.fold_linger_ns, fold_idle_ns=opts.fold_idle_ns)
    tel = None
    if opts.telecom:
        from sctpcorr.telecom.core import Telecom

        tel = Telecom(rtt_samples=opts.telecom_rtt, keep_messages=opts.telecom_messages)
    started = time.monotonic_ns()
    run = PcapRun(options=opts, files=[], report_data=None, errors=[], interrupted=False, elapsed_ns=0)

    def association(aid: int) -> dict[str, Any] | None:
        try:
            return a.association(aid)
        except KeyError:
            return None

    evfilter = _EventFilter(opts.filters, association)
    total_packets = 0

    lines = (on_event_lines if opts.events and tel is None and not opts.filters.active
             and hasattr(a, "drain_events_jsonl") else None)

    def drain(file_index: int) -> None:
        if lines is not None:
            data, counts = a.drain_events_jsonl(file_index)
            if counts:
                n = sum(counts.values())
                run.events_seen.update(counts)
                lines(data, n)
                run.events_written += n
            return
        if tel is not None:
            raw = a.drain_events()
            msgs = tel.feed(a.drain_payloads(), raw)
            if not opts.events:
                return
            events = [event_to_dict(e, file_index) for e in raw]
            events.extend(message_event(m, file_index) for m in msgs)
            events.sort(key=lambda e: (e["ts_ns"], e["frame_no"]))
        elif not opts.events:
            return
        else:
            events = [event_to_dict(e, file_index) for e in a.drain_events()]
        run.events_seen.update(e["type"] for e in events)
        ready = evfilter.apply(events) if events else []
        if ready and on_events is not None:
            on_events(ready)
            run.events_written += len(ready)

    current: tuple[FileResult, CaptureReader] | None = None

    def finish_file(fr: FileResult, reader: CaptureReader, *, interrupted: bool = False) -> None:
        """End the file in the engine and record what it says; add a TruncatedCapture / NotACapture if due."""
        try:
            info = a.finish_capture()
        except ValueError as exc:  # the engine refusing to close a broken stream: keep its word for it
            info = {}
            if fr.error is None:
                fr.error = str(exc)
                run.errors.append(CorruptCapture(fr.path, str(exc)))
        reader.close()
        fr.format = info.get("format") or fr.format
        fr.packets = int(info.get("packets", 0) or 0)
        fr.truncated_bytes = int(info.get("truncated_bytes", 0) or 0)
        fr.caplen_gt_origlen = int(info.get("caplen_gt_origlen", 0) or 0)
        fr.link_types = list(info.get("link_types", ()) or ())
        if fr.error is not None or interrupted:
            return
        if reader.bytes_out == 0:
            err: InputError = NotACapture(fr.path, "empty file: not a pcap or pcapng capture"
                                          + (" (after gunzip)" if reader.compressed else ""))
        elif fr.format not in ("pcap", "pcapng"):
            err = NotACapture(fr.path, f"not a pcap or pcapng capture (only {reader.bytes_out} bytes)")
        elif fr.truncated_bytes:
            err = TruncatedCapture(
                fr.path, f"truncated capture: the last {fr.truncated_bytes} bytes are an incomplete record; "
                         f"the {fr.packets} complete packets before them were analysed")
        else:
            fr.complete = True
            return
        fr.error = err.reason
        run.errors.append(err)

    try:
        for index, path in enumerate(opts.files):
            fr = FileResult(path=path)
            run.files.append(fr)
            reader = CaptureReader(path, opts.block_size)
            try:
                reader.open()
            except InputError as exc:  # vanished or changed since check_readable()
                fr.error = exc.reason
                run.errors.append(exc)
                continue
            fr.size_bytes, fr.compressed = reader.size, reader.compressed
            current = (fr, reader)
            try:
                first = True
                for block in reader.blocks():
                    try:
                        total_packets += a.feed_capture(block)
                    except ValueError as exc:
                        msg = str(exc)
                        if first and msg.startswith("not a pcap"):
                            raise NotACapture(path, msg + (" after gunzip" if reader.compressed else "")) from None
                        raise CorruptCapture(path, msg) from None
                    first = False
                    drain(index)
                    if progress is not None:
                        progress.update(index, path, reader.position, reader.size, total_packets)
            except InputError as exc:
                fr.error = exc.reason
                run.errors.append(exc)
            current = None
            finish_file(fr, reader)
            drain(index)
        drain(max(0, len(opts.files) - 1))
    except KeyboardInterrupt:
        run.interrupted = True
        if current is not None:
            finish_file(*current, interrupted=True)
        drain(max(0, len(run.files) - 1))
    finally:
        if progress is not None:
            progress.close()
    run.analyzer = a
    if tel is not None:
        run.telecom = tel.finish(run.report)
        run.telecom_state = tel
    run.elapsed_ns = time.monotonic_ns() - started
    return run


def message_event(m: Any, file_index: int = 0) -> dict[str, Any]:
    """A telecom message as a JSONL event (``"type": "message"``)."""
    d = m.as_dict()
    out = {"type": "message", "ts_ns": d.pop("ts_ns"), "file": file_index, "frame_no": d.pop("frame"),
           "assoc_id": d.pop("assoc")}
    out.update(d)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The --json document
# ---------------------------------------------------------------------------------------------------------------
def build_document(run: PcapRun, associations: bool = True) -> dict[str, Any]:
    """The ``--json`` document (docs/output.md): the engine's report wrapped with files, filters and status.
    Without ``associations`` (a writer that streams them: json.write_run) its ``associations`` is an empty list
    and the engine's report is not made."""
    if associations or run.analyzer is None or run.report_data is not None:
        report = run.report
        assocs = report.get("associations", [])
        capture = dict(report.get("capture", {}))
        capture["associations"] = len(assocs)
    else:
        assocs = []
        capture = dict(run.analyzer.capture_summary())
        capture["associations"] = run.analyzer.associations_count
    filters = run.options.filters
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "sctpcorr", "version": __version__, "command": run.command},
        "files": [f.to_json() for f in run.files],
        "filters": filters.to_json(),
        "interrupted": run.interrupted,
        "errors": [str(e) for e in run.errors],
        "capture": capture,
        "associations": [x for x in assocs if filters.matches(x)] if associations else [],
        **({"telecom": run.telecom} if run.telecom is not None else {}),
    }
