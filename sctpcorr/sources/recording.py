"""Read kernel recordings: the only place that opens them for the correlator.

Three shapes, recognised by their bytes (never by the file name), gzip-compressed or not:

* **JSONL** of ``sctpcorr probe --jsonl`` (BPF events, or ``--source diag`` snapshots): the first byte is ``{``;
* **raw** of ``sctpcorr probe --raw``: ring-buffer records as ``<u32 little-endian length><record>``, each record
  an ABI struct starting with its ``__u32`` event type (``sctpcorr/kernel/bpf/sctpcorr_abi.h``).  Raw records
  carry no startup record, so the HZ comes from the caller (``--hz``, or the JSONL recording made alongside);
  they are decoded with ``kernel.abi`` and the derived events are made with ``kernel.derive``, as the recorder
  would have.

A torn last line (a recorder that was killed) is counted, not fatal: ``Loaded.bad_records``.
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sctpcorr.errors import CorruptCapture, FileUnreadable, InputError

__all__ = ["Loaded", "load_recording", "NotARecording"]


class NotARecording(InputError):
    """Neither JSONL of sctpcorr probe nor its --raw records."""


@dataclass
class Loaded:
    path: str
    kind: str                         # "jsonl" or "raw"
    records: list[dict[str, Any]] = field(default_factory=list)
    bad_records: int = 0


def _open(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise FileUnreadable(path, e.strerror or str(e)) from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise CorruptCapture(path, f"corrupt gzip data ({e})") from None
    return data


def _jsonl(path: str, data: bytes) -> Loaded:
    out = Loaded(path, "jsonl")
    for line in io.BytesIO(data):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            out.bad_records += 1
            continue
        if isinstance(rec, dict):
            out.records.append(rec)
        else:
            out.bad_records += 1
    if not any(r.get("type") == "startup" and r.get("tool") == "sctpcorr probe" for r in out.records[:1]):
        if not any(r.get("tool") == "sctpcorr probe" for r in out.records[:5]):
            raise NotARecording(path, "not a recording of sctpcorr probe (no startup record)")
    return out


def _raw(path: str, data: bytes, hz: int | None) -> Loaded:
    from sctpcorr.kernel import abi, derive
    from sctpcorr.kernel.pump import iter_raw

    out = Loaded(path, "raw")
    out.records.append({"type": "startup", "tool": "sctpcorr probe", "source": "bpf", "hz": hz,
                        "note": "from --raw records: no clock offsets, no losses recorded"})
    d = derive.Deriver()
    n = 0
    for raw in iter_raw(data):
        n += 1
        try:
            rec = abi.decode(raw, hz)
        except abi.AbiError:
            out.bad_records += 1
            continue
        out.records.extend(d.feed(rec))
    if not n:
        raise NotARecording(path, "not a recording of sctpcorr probe (neither JSONL nor --raw records)")
    return out


def _looks_raw(data: bytes) -> bool:
    if len(data) < 8:
        return False
    n = int.from_bytes(data[:4], "little")
    t = int.from_bytes(data[4:8], "little")
    return 64 <= n <= 4096 and 1 <= t <= 15 and len(data) >= 4 + n


def read_raw_or_none(path: str) -> bytes | None:
    """The bytes of a --raw recording (gunzipped), or None when ``path`` holds something else (JSONL...)."""
    data = _open(path)
    return data if data.lstrip()[:1] != b"{" and _looks_raw(data) else None


def load_recording(path: str, hz: int | None = None) -> Loaded:
    """The records of one recording (raise InputError with a one-line reason when it is not one)."""
    data = _open(path)
    head = data.lstrip()[:1]
    if head == b"{":
        return _jsonl(path, data)
    if _looks_raw(data):
        return _raw(path, data, hz)
    raise NotARecording(path, "not a recording of sctpcorr probe (neither JSONL nor --raw records)")


def iter_lines(path: str) -> Iterator[str]:   # pragma: no cover - kept for callers that stream
    data = _open(path)
    yield from io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace")
