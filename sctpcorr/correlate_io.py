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
from typing import Any

from sctpcorr.correlate import Correlation, Tolerances, correlate
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.wire import WireView
from sctpcorr.errors import FileUnreadable, InputError, TruncatedCapture
from sctpcorr.sources.pcapfile import CaptureReader, check_readable
from sctpcorr.sources.recording import load_recording

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


def load_capture(path: str, host: str | None = None, name: str | None = None,
                 meta: dict[str, Any] | None = None) -> WireView:
    """A capture through the wire engine, with its per-chunk records."""
    from sctpcorr.wire.engine import Analyzer
    from sctpcorr.wire.records import as_array

    check_readable(path)
    a = Analyzer(records=True)
    chunks: list[bytes] = []
    truncated = None
    with CaptureReader(path) as r:
        try:
            for block in r.blocks():
                try:
                    a.feed_capture(block)
                except ValueError as e:
                    raise InputError(path, str(e)) from None
                chunks.append(a.drain_records())
        finally:
            info = a.finish_capture()
    if info.get("truncated_bytes"):
        truncated = info["truncated_bytes"]
    chunks.append(a.drain_records())
    import numpy as np

    recs = as_array(b"".join(chunks)) if any(chunks) else np.zeros(0, dtype=as_array(b"").dtype)
    m = dict(meta or {})
    m.update(format=info.get("format"), path=path)
    if truncated:
        m["truncated_bytes"] = truncated
    return WireView(name or Path(path).name, recs, a.report(), host=host, meta=m)


def load_kernel(path: str, host: str | None = None, hz: int | None = None, name: str | None = None) -> KernelView:
    from sctpcorr.sources.recording import read_raw_or_none

    data = read_raw_or_none(path)
    if data is not None:     # --raw records: straight into columns
        return KernelView.build_raw(data, hz, name or Path(path).name, host)
    loaded = load_recording(path, hz)
    kv = KernelView.build(loaded.records, name or Path(path).name, host, loaded.bad_records)
    kv.raw = loaded.kind == "raw"
    return kv


@dataclass
class Inputs:
    captures: list[WireView] = field(default_factory=list)
    kernels: list[KernelView] = field(default_factory=list)
    same_host: set[tuple[int, int]] = field(default_factory=set)
    bundles: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_same_host_by_label(self) -> None:
        for ri, kv in enumerate(self.kernels):
            hosts = {kv.host, *kv.end_hosts.values()} - {None}
            for ci, cap in enumerate(self.captures):
                if cap.host is not None and cap.host in hosts:
                    self.same_host.add((ri, ci))


def _first_existing(d: Path, names: list[str]) -> Path | None:
    for n in names:
        for cand in (d / n, d / (n + ".gz")):
            if cand.exists():
                return cand
    return None


def load_bundle(d: str | Path, into: Inputs | None = None) -> Inputs:
    """A lab bundle's captures and kernel recording, labelled by host (see the module doc)."""
    d = Path(d)
    inp = into or Inputs()
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise FileUnreadable(str(d), f"not a lab bundle (manifest.json: {getattr(e, 'strerror', None) or e})") from None
    files = manifest.get("files") or {}
    counts = manifest.get("capture_counts") or {}
    base = len(inp.captures)
    for role in ("client", "server"):
        p = _first_existing(d, [files.get(f"{role}_capture") or f"{role}.pcapng"])
        if p is None:
            inp.notes.append(f"{d}: no {role} capture")
            continue
        drops = sum(int(v.get("kernel_drops") or 0) for v in (counts.get(role) or {}).values()
                    if isinstance(v, dict))
        inp.captures.append(load_capture(str(p), host=role, name=f"{d.name}/{p.name}", meta={"drops": drops}))
    kp = _first_existing(d / "kernel", ["probe.jsonl", "probe.raw", "diag.jsonl"])
    if kp is None:
        inp.notes.append(f"{d}: no kernel recording (kernel/probe.jsonl): run the lab with --probe")
    else:
        kv = load_kernel(str(kp), name=f"{d.name}/kernel/{kp.name}", hz=(manifest.get("guest") or {}).get("hz"))
        if kv.startup is not None and not kv.startup.get("clock") and manifest.get("clock_offsets"):
            # --raw records carry no clock offsets: the manifest read them in the same guest
            kv.startup["clock"] = manifest["clock_offsets"][0]
            kv.clocks.extend(manifest["clock_offsets"][1:])
        inodes = ((manifest.get("topology") or {}).get("netns_inodes") or {})
        if inodes:
            kv.label_hosts({int(v): k for k, v in inodes.items()})
        else:   # bundles made before the lab recorded inodes: the client starts the association
            by_ns: dict[int, str] = {}
            for e in kv.ends:
                if e.states and e.states[0][1] in ("COOKIE_WAIT", "COOKIE_ECHOED"):
                    by_ns.setdefault(e.netns, "client")
            for e in kv.ends:
                if e.netns not in by_ns:
                    by_ns.setdefault(e.netns, "server" if "client" in by_ns.values() else "client")
            kv.label_hosts(by_ns)
        ri = len(inp.kernels)
        inp.kernels.append(kv)
        for ci in range(base, len(inp.captures)):
            inp.same_host.add((ri, ci))     # one guest kernel: every capture shares the recording's clocks
    inp.bundles.append(str(d))
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


def run(bundles: list[str] = (), captures: list[str] = (), kernels: list[str] = (), hz: int | None = None,
        tolerances: Tolerances | None = None, use_recorded_clock: bool = True) -> tuple[Correlation, Inputs]:
    """Load everything named and correlate it.  Raises InputError (one line) for what cannot be read."""
    inp = Inputs()
    for b in bundles:
        load_bundle(b, inp)
    for text in captures:
        s = parse_spec(text)
        inp.captures.append(load_capture(s.path, s.host))
    for text in kernels:
        s = parse_spec(text)
        inp.kernels.append(load_kernel(s.path, s.host, hz))
    inp.add_same_host_by_label()
    cx = correlate(inp.captures, inp.kernels, tolerances, inp.same_host, use_recorded_clock)
    return cx, inp


__all__ += ["TruncatedCapture"]
