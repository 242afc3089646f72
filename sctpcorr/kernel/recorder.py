"""The JSONL recording of `sctpcorr probe`: a startup record, events, periodic clock records, a closing record.

File layout (one JSON object per line, field reference in docs/probe.md):

* ``{"type": "startup", "schema": 2, ...}`` first: kernel release, HZ and where it came from, the monotonic ->
  realtime/boottime clock offsets, the source (bpf or diag), filters, and for each probe whether it attached or,
  if not, which metric is missing and why.
* event records (``"type"`` = an event name from ``abi.EVENT_TYPES``, or ``"diag"``), ``ts_ns`` in
  CLOCK_MONOTONIC nanoseconds (the clock of bpf_ktime_get_ns);
* ``{"type": "clock", ...}`` every ``clock_every_s`` seconds (the offsets drift when NTP slews the realtime clock),
  with the loss counters so far (so that a loss can be placed in time);
* ``{"type": "end", ...}`` last: events by type, ring-buffer losses per type (never silent), the BPF-side
  counters, kprobe misses from the kernel's kprobe_profile, HZ measured from the events' jiffies.

A recording cut short (killed, power loss) has no end record: ``load()`` reports that instead of guessing.
Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from sctpcorr.timebase import clock_offsets, clocksource

__all__ = ["SCHEMA", "Recorder", "Recording", "clock_offsets", "kprobe_misses", "load"]

SCHEMA = 2   # 2: assoc_state, rwnd and cwnd raises are derived events (derive.py); assoc_change; egress window fields


def kprobe_misses(pid: int | None = None) -> dict[str, dict[str, int]]:
    """BCC's kprobes of process ``pid`` (default: this one) from the kernel's kprobe_profile:
    {probe: {"hits": n, "misses": m}}.  A miss is a probe the kernel skipped (recursion, or no free kretprobe
    instance): its event is missing."""
    pid = os.getpid() if pid is None else pid
    for base in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        try:
            text = Path(base, "kprobe_profile").read_text()
        except OSError:
            continue
        out = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 3 and re.search(rf"_bcc_{pid}$", parts[0]):
                out[parts[0]] = {"hits": int(parts[1]), "misses": int(parts[2])}
        return out
    return {}


class Recorder:
    """Writes one recording.  ``out`` may be None (live view only): the counts are still kept."""

    def __init__(self, out: IO[str] | None, hz: int | None, clock_every_s: float = 10.0):
        self.out = out
        self.hz = hz
        self.clock_every_ns = int(clock_every_s * 1e9)
        self.counts: Counter[str] = Counter()      # events the probes emitted (and diag/toggle records)
        self.derived: Counter[str] = Counter()     # events derived from them in user space (derive.py)
        self.decode_errors = 0
        self.first: tuple[int, int] | None = None   # (ts_ns, jiffies) of the first BPF event
        self.last: tuple[int, int] | None = None
        self.t0 = time.monotonic_ns()
        self.next_clock = self.t0 + self.clock_every_ns

    def _write(self, rec: dict[str, Any]) -> None:
        if self.out is not None:
            self.out.write(json.dumps(rec, separators=(",", ":")) + "\n")

    def startup(self, **fields: Any) -> dict[str, Any]:
        self._startup_fields = fields
        rec = {"type": "startup", "schema": SCHEMA, "tool": "sctpcorr probe", "ts_ns": time.monotonic_ns(),
               "real_ns": time.time_ns(), "pid": os.getpid(), "kernel_release": os.uname().release,
               "hz": self.hz, "clock": clock_offsets(), "clocksource": clocksource(), **fields}
        self._write(rec)
        self.flush()
        return rec

    def rotate(self, out: IO[str] | None, part: int) -> dict[str, Any]:
        """Go on in ``out`` (the previous file has had its end record): counts start again, and the new file
        opens with the same startup record (new times and clock offsets) and ``part`` = how many files came
        before it in this session."""
        self.out = out
        self.counts.clear()
        self.derived.clear()
        self.decode_errors = 0
        self.first = self.last = None
        self.t0 = time.monotonic_ns()
        return self.startup(**{**getattr(self, "_startup_fields", {}), "part": part})

    def event(self, rec: dict[str, Any]) -> None:
        (self.derived if rec.get("derived") else self.counts)[rec["type"]] += 1
        if "jiffies" in rec:
            pair = (rec["ts_ns"], rec["jiffies"])
            if self.first is None:
                self.first = pair
            self.last = pair
        self._write(rec)

    def meta(self, rec: dict[str, Any]) -> None:
        """A record that is not an event (clock records): written, not counted."""
        self._write(rec)

    def clock_due(self, stats: Callable[[], dict[str, Any]] | None = None) -> dict[str, Any] | None:
        """A clock record, with ``stats()`` (running loss counters) in it, when one is due; else None."""
        now = time.monotonic_ns()
        if now < self.next_clock:
            return None
        self.next_clock = now + self.clock_every_ns
        return {"type": "clock", "ts_ns": now, **clock_offsets(), **(stats() if stats else {})}

    def tick(self, stats: Callable[[], dict[str, Any]] | None = None) -> None:
        """Call often: writes a clock record when one is due."""
        rec = self.clock_due(stats)
        if rec is not None:
            self.meta(rec)

    def hz_measured(self) -> float | None:
        """Jiffies per second between the first and last BPF event (None if they span less than 2 s)."""
        if not self.first or not self.last or self.last[0] - self.first[0] < 2_000_000_000:
            return None
        return round((self.last[1] - self.first[1]) * 1e9 / (self.last[0] - self.first[0]), 2)

    def end(self, **fields: Any) -> dict[str, Any]:
        now = time.monotonic_ns()
        rec = {"type": "end", "ts_ns": now, "real_ns": time.time_ns(), "duration_ns": now - self.t0,
               "events": dict(sorted(self.counts.items())), "derived": dict(sorted(self.derived.items())),
               "decode_errors": self.decode_errors,
               "hz_measured": self.hz_measured(), "clock": clock_offsets(), **fields}
        self._write(rec)
        self.flush()
        return rec

    def flush(self) -> None:
        if self.out is not None:
            self.out.flush()


class Recording:
    """A loaded recording: ``startup``, ``events`` (every record between), ``end`` (None if cut short)."""

    def __init__(self, startup: dict[str, Any] | None, events: list[dict[str, Any]], end: dict[str, Any] | None,
                 bad_lines: int):
        self.startup = startup
        self.events = events
        self.end = end
        self.bad_lines = bad_lines

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") in types]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.events)


def load(path: str | Path) -> Recording:
    """Read a recording; a line that is not JSON (a torn last line) is counted, not fatal."""
    startup = end = None
    events: list[dict[str, Any]] = []
    bad = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                bad += 1
                continue
            t = rec.get("type")
            if t == "startup" and startup is None:
                startup = rec
            elif t == "end":
                end = rec
            else:
                events.append(rec)
    return Recording(startup, events, end, bad)
