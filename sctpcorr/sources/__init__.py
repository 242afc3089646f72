"""I/O adapters: the only code that reads capture files and hands their bytes to the sans-IO wire engine."""
from __future__ import annotations

import os
from typing import Any


def read_size(f: Any, limit: int, at_least: int = 0) -> int:
    """How many bytes to ask ``f.read`` for: what the file has left (at least ``at_least``, for one still growing),
    up to ``limit``; ``limit`` when that is unknown (a pipe).  ``read(n)`` allocates n bytes and shrinks them to
    what came, and glibc serves a large request from its heap once it has freed one: asking for megabytes at
    every poll of a small or slowly growing file fragmented the heap, which then grew a little at each call and
    never came back (the fuzz targets' growth; ``live`` polls for days)."""
    try:
        left = os.fstat(f.fileno()).st_size - f.tell()
    except (OSError, ValueError, AttributeError):
        return limit
    return max(0, min(limit, max(left, at_least)))
