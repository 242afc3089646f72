"""A one-line progress bar on stderr for long analyses.

Shown only when stderr is a terminal, and only for a long job: input larger than 20 MB, or still running after 2 s.
It redraws at most 5 times a second and erases itself when done, so the report that follows is clean.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from typing import TextIO

__all__ = ["ProgressBar", "human_bytes"]

BIG_INPUT_BYTES = 20_000_000
SLOW_AFTER_S = 2.0
REDRAW_EVERY_S = 0.2


def human_bytes(n: int | None) -> str:
    """1536 -> '1.5 KiB'."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


class ProgressBar:
    """``progress`` for :func:`sctpcorr.pipeline.run_pcap`.

    ``sizes`` are the on-disk sizes of all input files (``None`` for a pipe), so the bar covers the whole run.
    """

    def __init__(self, sizes: list[int | None], stream: TextIO | None = None, force: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if force is None:
            try:
                force = self.stream.isatty() and os.environ.get("TERM") != "dumb"
            except (AttributeError, ValueError):
                force = False
        self.enabled = bool(force)
        self.sizes = sizes
        self.total = None if any(s is None for s in sizes) else sum(s for s in sizes if s is not None)
        self.big = self.total is not None and self.total > BIG_INPUT_BYTES
        self.started = time.monotonic()
        self._last_draw = 0.0
        self._drawn = False

    def update(self, file_index: int, path: str, position: int, size: int | None, packets: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        elapsed = now - self.started
        if not (self.big or elapsed >= SLOW_AFTER_S) or now - self._last_draw < REDRAW_EVERY_S:
            return
        self._last_draw = now
        done = sum(s or 0 for s in self.sizes[:file_index]) + position
        rate = packets / elapsed if elapsed > 0 else 0.0
        files = f"file {file_index + 1}/{len(self.sizes)} " if len(self.sizes) > 1 else ""
        width = max(20, min(100, shutil.get_terminal_size((80, 24)).columns) - 1)
        if self.total:
            frac = min(1.0, done / self.total)
            tail = (f" {frac * 100:5.1f}% {human_bytes(done)}/{human_bytes(self.total)} "
                    f"{files}{packets:,} pkts {rate:,.0f} pkt/s")
            bar_w = max(10, width - len(tail) - 2)
            fill = int(frac * bar_w)
            line = "[" + "#" * fill + "." * (bar_w - fill) + "]" + tail
        else:
            line = f"{human_bytes(done)} read {files}{packets:,} pkts {rate:,.0f} pkt/s"
        self.stream.write("\r" + line[:width].ljust(width))
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            width = max(20, min(100, shutil.get_terminal_size((80, 24)).columns) - 1)
            self.stream.write("\r" + " " * width + "\r")
            self.stream.flush()
            self._drawn = False
