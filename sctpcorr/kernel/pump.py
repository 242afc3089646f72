"""Moves events from the BPF ring buffer to the recording without losing them to a slow decoder.

Two halves, two threads:

* the **drain** (the caller's thread, normal priority): ``_ringbuf.Reader.drain()`` copies every committed record
  out of the ring in one C call and the raw bytes go onto a queue (and into ``--raw`` at once).  This is all
  that has to keep up with the kernel, and it costs microseconds per wake-up, not per event;
* the **decoder** (a thread at nice 19): takes the queue in order, decodes each record with ``abi.decode`` and
  hands it to ``sink``.  It runs when the machine has time; under a bulk transfer it falls behind and catches up
  afterwards (``close()`` waits for it), instead of the ring overflowing while Python decodes.

Records made in user space (sock_diag snapshots, clock records, toggles) go through the same queue with
``put()`` so the file keeps the order in which things were drained.  The backlog is bounded (``cap_bytes``):
beyond it raw records are dropped and counted (``dropped_records``), never silently.  An exception in ``sink``
(a full disk) stops the decoder; the drain sees it in ``error`` and the caller ends the recording.

``defer=True`` holds the decoder until ``close()``: nothing but the drain runs while recording (bulk loads,
benchmarks), and the whole recording is decoded at the end.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import struct
import threading
from collections.abc import Callable
from typing import IO, Any

from sctpcorr.kernel import abi

__all__ = ["Pump", "iter_raw"]

_LEN = struct.Struct("<I")


def iter_raw(buf: bytes | memoryview):
    """The records of a raw spool chunk: ``<u32 length><bytes>`` repeated (a torn tail is ignored)."""
    mv = memoryview(buf)
    o, end = 0, len(mv)
    while o + 4 <= end:
        (n,) = _LEN.unpack_from(mv, o)
        if o + 4 + n > end:
            return
        yield bytes(mv[o + 4:o + 4 + n])
        o += 4 + n


class Pump:
    def __init__(self, drain: Callable[[], bytes], hz: int | None,
                 sink: Callable[[str, dict[str, Any]], None], raw: IO[bytes] | None = None,
                 cap_bytes: int = 512 << 20, nice: int = 19, defer: bool = False):
        self._drain = drain
        self.hz = hz
        self.sink = sink              # sink("event" | "meta", record)
        self.raw = raw
        self._raw_size = 0
        self.cap_bytes = cap_bytes
        self.nice = nice
        self._q: collections.deque[tuple[str, Any]] = collections.deque()
        self._cv = threading.Condition()
        self._closing = False
        self._held = defer             # --defer-decode: the decoder waits for close()
        self._abort = False
        self._cut_short = 0            # records of the chunk being decoded when abort() came
        self.backlog_bytes = 0        # raw bytes drained and not yet decoded
        self.backlog_peak = 0
        self.drained_records = 0
        self.dropped_records = 0      # raw records dropped because the backlog was full
        self.decode_errors = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="sctpcorr-decoder", daemon=True)
        self._thread.start()

    # ---- the drain side ------------------------------------------------------------------------------------

    def drain(self) -> int:
        """Empty the ring now; returns the number of bytes taken."""
        buf = self._drain()
        if not buf:
            return 0
        if self.raw is not None and self.error is None:
            self._write_raw(buf)
        if self.backlog_bytes + len(buf) > self.cap_bytes:
            dropped = sum(1 for _ in iter_raw(buf))
            with self._cv:
                self.dropped_records += dropped
            return len(buf)
        with self._cv:
            self._q.append(("raw", buf))
            self.backlog_bytes += len(buf)
            self.backlog_peak = max(self.backlog_peak, self.backlog_bytes)
            self._cv.notify()
        return len(buf)

    def _write_raw(self, buf: bytes) -> None:
        """``--raw``: whole drains (whole records) only; a failed write is cut back to the last whole one, ends
        the raw file and, through ``error``, the recording (a full disk)."""
        from sctpcorr.outfile import WriteFailed, write_all

        if not isinstance(self.raw, io.FileIO):
            self.raw.write(buf)                     # type: ignore[union-attr]
            return
        try:
            self._raw_size = write_all(self.raw.fileno(), buf, self._raw_size)
        except OSError as e:
            self.error = WriteFailed(e.errno, e.strerror, getattr(self.raw, "shown", self.raw.name))

    def put(self, kind: str, rec: dict[str, Any]) -> None:
        """A record made in user space, written in queue order (kind "event" is counted, "meta" is not)."""
        with self._cv:
            self._q.append((kind, rec))
            self._cv.notify()

    def close(self, timeout: float | None = None) -> bool:
        """No more input: wait for the decoder to finish the backlog.  False if it did not within ``timeout``."""
        with self._cv:
            self._closing = True
            self._held = False
            self._cv.notify()
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def abort(self) -> int:
        """Stop decoding now (a second Ctrl-C while the backlog is decoded): the decoder writes nothing more.
        Returns the records left undecoded (they are in --raw, if it was given)."""
        with self._cv:
            self._abort = True
            left = [item for kind, item in self._q if kind == "raw"]
            self._q.clear()
            self._cv.notify()
        self._thread.join()
        return sum(1 for chunk in left for _ in iter_raw(chunk)) + self._cut_short

    # ---- the decoder thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while True:
            with self._cv:
                while (not self._q or self._held) and not self._closing and not self._abort:
                    self._cv.wait()
                if not self._q or self._abort:
                    return
                kind, item = self._q.popleft()
            if self.error is not None:
                continue                  # a write failed: keep draining the queue, record nothing more
            try:
                if kind == "raw":
                    for raw in iter_raw(item):
                        if self._abort:
                            self._cut_short += 1
                            continue
                        self.drained_records += 1
                        try:
                            rec = abi.decode(raw, self.hz)
                        except abi.AbiError:
                            self.decode_errors += 1
                            continue
                        self.sink("event", rec)
                    with self._cv:
                        self.backlog_bytes -= len(item)
                else:
                    self.sink(kind, item)
            except BaseException as e:  # noqa: BLE001 - handed to the drain side, which ends the recording
                self.error = e
