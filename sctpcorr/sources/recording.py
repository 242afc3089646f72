"""Read kernel recordings: the only place that opens them for the correlator, block by block.

Shapes, recognised by their bytes (never by the file name), gzip-compressed or not:

* **JSONL** of ``sctpcorr probe --jsonl`` (BPF events, or ``--source diag`` snapshots): the first byte is ``{``;
  the first record must be the probe's (``tool: "sctpcorr probe"``);
* **raw** of ``sctpcorr probe --raw``: ring-buffer records as ``<u32 little-endian length><record>``, each record
  an ABI struct starting with its ``__u32`` event type (``sctpcorr/kernel/bpf/sctpcorr_abi.h``).  Raw records
  carry no startup record, so the HZ comes from the caller (``--hz``, or a lab bundle's manifest); the
  correlator reads them column by column (``correlate.kernel.KernelView.add_raw``).

A torn last line or record (a recorder that was killed) is counted, not fatal: ``RecordingStream.bad_records``.
"""
from __future__ import annotations

import gzip
import json
import re
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from sctpcorr.errors import CorruptCapture, FileUnreadable, InputError
from sctpcorr.sources import read_size

__all__ = ["RecordingStream", "NotARecording", "well_formed"]


class NotARecording(InputError):
    """Neither JSONL of sctpcorr probe nor its --raw records."""


def _looks_raw(data: bytes) -> bool:
    if len(data) < 8:
        return False
    n = int.from_bytes(data[:4], "little")
    t = int.from_bytes(data[4:8], "little")
    return 64 <= n <= 4096 and 1 <= t <= 15 and len(data) >= 4 + n


# The identity fields every event record carries (abi.decode's header): integers when present.
_HDR_INTS = ("ts_ns", "jiffies", "netns", "lport", "pport", "my_vtag", "peer_vtag", "assoc_id")
_SCALARS = (int, str, type(None))        # bool is an int
_HEX = ("asoc", "transport", "hb_nonce")  # kernel addresses and the heartbeat nonce: "0x..." (abi._hex)
_HEX_RE = re.compile(r"0x[0-9a-fA-F]{1,16}\Z")
_SHAPES: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] | None = None


def _shapes() -> dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]]:
    """Per ABI event type: (the keys abi.decode always writes as integers, as strings, as lists),
    from a zeroed record of each type (the path fields, null there, are left free)."""
    global _SHAPES
    if _SHAPES is None:
        import ctypes

        from sctpcorr.kernel import abi

        out = {}
        for code, (name, cls) in abi.EVENT_TYPES.items():
            zero = bytearray(ctypes.sizeof(cls))
            zero[:4] = code.to_bytes(4, "little")
            d = abi.decode(bytes(zero))
            out[name] = (frozenset(k for k, v in d.items() if type(v) is int),
                         frozenset(k for k, v in d.items() if type(v) is str),
                         frozenset(k for k, v in d.items() if type(v) is list))
        _SHAPES = out
    return _SHAPES


_NO_SHAPE: tuple[frozenset[str], frozenset[str], frozenset[str]] = (frozenset(), frozenset(), frozenset())

# Fields the correlator reads without a default (sctpcorr/correlate/kernel.py), beside the header's lport.
_REQUIRED = {"sack": ("cum_tsn_ack",), "rto_update": ("rtt_jiffies",)}


def well_formed(rec: dict[str, Any]) -> bool:
    """Is ``rec`` shaped like what ``sctpcorr probe`` writes, as far as the readers rely on it?  An event record
    (of an ABI type, or one with a ``my_vtag``) has integer identity fields, ``ts_ns`` and ``lport``, and its
    kernel addresses and nonce in hex (``"0x..."``); in one of an
    ABI event type every field abi.decode writes as an integer, string or list is one or null (the recorder's
    derived records leave some out), the fields read without a default are integers, the other values are
    scalars (no list where abi.decode writes none: ``path_addr`` keys a set; none at all in the recorder's
    derived records) and ``chunks`` is a list of flat objects.  Startup, clock and end records are not events and
    pass as they are."""
    t = rec.get("type")
    if t is not None and not isinstance(t, str):
        return False                      # the readers count and index records by their type
    shape = _shapes().get(t) if isinstance(t, str) else None
    if shape is None and not rec.get("my_vtag"):
        return True                       # not an event the readers index (startup, clock, end, toggle...)
    for k in _HDR_INTS:
        v = rec.get(k)
        if v is not None and type(v) is not int:
            return False
    if type(rec.get("lport")) is not int or type(rec.get("ts_ns")) is not int:
        return False
    for k in _HEX:
        v = rec.get(k)
        if v is not None and not (isinstance(v, str) and _HEX_RE.match(v)):
            return False
    ints, strs, lists = shape or _NO_SHAPE    # a derived record (rwnd, assoc_state...): scalars, no list
    for k, v in rec.items():
        if v is None:
            continue
        if k in ints:
            if not isinstance(v, int):
                return False
        elif k in strs:
            if not isinstance(v, str):
                return False
        elif k == "chunks":               # in any event type: the readers iterate it
            if not isinstance(v, list) or not all(
                    isinstance(x, dict) and all(isinstance(y, _SCALARS) for y in x.values()) for x in v):
                return False
        elif k in lists or isinstance(v, list):   # a list only where abi.decode writes one (the readers key
            if k not in lists or not isinstance(v, list) or not all(   # dicts and sets by the other fields)
                    isinstance(x, _SCALARS) or (isinstance(x, dict) and all(
                        isinstance(y, _SCALARS) for y in x.values())) for x in v):
                return False
        elif not isinstance(v, _SCALARS):
            return False
    return all(type(rec.get(k)) is int for k in _REQUIRED.get(t, ()))  # type: ignore[arg-type]


class RecordingStream:
    """A recording read block by block, so a long one never sits whole in memory (the correlator's windows).

    ``kind`` is "raw" or "jsonl" (from the first bytes, gzip or not).  ``raw_feed()`` hands buffers of whole
    ``<u32 len><record>`` records to a consumer (a record torn across two reads is carried over; a torn last one
    counts in ``bad_records``); ``jsonl_batches()`` yields lists of decoded records.  The block buffer is reused:
    what a raw block holds must be copied out before the next one is read."""

    def __init__(self, path: str, block_bytes: int = 8 << 20):
        self.path = path
        self.block_bytes = block_bytes
        self.batch_lines = 20000
        self.bad_records = 0
        try:
            raw = open(path, "rb")
        except OSError as e:
            raise FileUnreadable(path, e.strerror or str(e)) from None
        head = raw.read(2)
        raw.seek(0)
        self._f: Any = gzip.GzipFile(fileobj=raw, mode="rb") if head == b"\x1f\x8b" else raw
        self._raw = raw
        try:
            first = self._f.peek(8192)
        except (OSError, EOFError, zlib.error) as e:
            raise CorruptCapture(path, f"corrupt gzip data ({e})") from None
        if first.lstrip()[:1] == b"{":
            self.kind = "jsonl"
        elif _looks_raw(first):
            self.kind = "raw"
        else:
            self.close()
            raise NotARecording(path, "not a recording of sctpcorr probe (neither JSONL nor --raw records)")

    def close(self) -> None:
        self._f.close()
        self._raw.close()

    def __enter__(self) -> RecordingStream:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _readinto(self, mv: memoryview) -> int:
        try:
            return self._f.readinto(mv)
        except (OSError, EOFError, zlib.error) as e:
            raise CorruptCapture(self.path, f"corrupt gzip data ({e})") from None

    def raw_feed(self, consume: Callable[[memoryview], int]) -> Iterator[None]:
        """Feed whole-record blocks to ``consume(buffer) -> bytes consumed`` (where the last whole record it took
        ends; the rest is carried into the next block), one block per step of the iterator."""
        # a small uncompressed file gets a block of its size (read_size says why); the block grows for a larger
        # record, and a file still being written is read on in more blocks
        buf = bytearray(read_size(self._raw, self.block_bytes, 4096) if self._f is self._raw else self.block_bytes)
        have = 0
        while True:
            with memoryview(buf) as mv:
                n = self._readinto(mv[have:max(have + 1, self.block_bytes)])
            if n == 0 and have == len(buf):       # one record larger than the block: grow
                buf.extend(bytes(len(buf)))
                continue
            have += n
            if not have:
                return
            with memoryview(buf) as mv:
                used = int(consume(mv[:have]))
            if n == 0:                            # end of file: whatever is left is a torn record
                if have - used:
                    self.bad_records += 1
                return
            if used:
                buf[:have - used] = buf[used:have]
                have -= used
            yield

    def _lines(self) -> Iterator[bytes]:
        """The file's lines; broken gzip data (a bad CRC, a bad block) is the CorruptCapture raw_feed raises."""
        try:
            yield from self._f
        except (OSError, EOFError, zlib.error) as e:
            raise CorruptCapture(self.path, f"corrupt gzip data ({e})") from None

    def jsonl_batches(self) -> Iterator[list[dict[str, Any]]]:
        """Decoded records, ``batch_lines`` at a time (read at each batch: a caller may change it)."""
        batch: list[dict[str, Any]] = []
        seen_startup = False
        for line in self._lines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                self.bad_records += 1
                continue
            if not isinstance(rec, dict) or not well_formed(rec):
                self.bad_records += 1
                continue
            if not seen_startup:
                if rec.get("tool") != "sctpcorr probe":
                    raise NotARecording(self.path, "not a recording of sctpcorr probe (no startup record)")
                seen_startup = True
            batch.append(rec)
            if len(batch) >= self.batch_lines:
                yield batch
                batch = []
        if batch:
            yield batch

