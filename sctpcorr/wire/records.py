"""The wire engine's per-chunk records as numpy arrays (``Analyzer(records=True)``, ``drain_records()``).

With ``records=True`` the engine keeps one fixed-size 64-byte record per chunk it analysed, in capture order, plus
after each SACK / NR-SACK one ``GAP`` record per gap ack block and one ``DUP`` record per duplicate TSN
(docs/design/engine.md, "Records"). ``drain_records()`` hands them over as one ``bytes`` object; ``as_array``
views it as a structured array without copying, so a million packets cost a few numpy column operations, not a
million Python objects:

>>> a = Analyzer(records=True)                     # doctest: +SKIP
>>> a.feed_capture(block)                          # doctest: +SKIP
>>> r = as_array(a.drain_records())                # doctest: +SKIP
>>> data = r[(r["type"] == DATA) & (r["note"] & RTX != 0)]   # the retransmitted DATA chunks   # doctest: +SKIP

``RECORD_DTYPE`` mirrors the C struct ``sc_wrec`` (sctpcorr/wire/_engine/analyze.h) field by field; at import it
is checked against ``_engine.RECORD_FIELDS`` (name, offset, size of each field, from the compiler), so a change on
one side that the other misses fails at once. This is the only module of sctpcorr.wire that imports numpy.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from sctpcorr.wire.engine import _engine

__all__ = [
    "RECORD_DTYPE", "RECORD_SIZE", "as_array",
    "DATA", "INIT", "INIT_ACK", "SACK", "HEARTBEAT", "HEARTBEAT_ACK", "ABORT", "SHUTDOWN", "SHUTDOWN_ACK", "ERROR",
    "COOKIE_ECHO", "COOKIE_ACK", "ECNE", "CWR", "SHUTDOWN_COMPLETE", "AUTH", "NR_SACK", "I_DATA", "ASCONF_ACK",
    "RE_CONFIG", "PAD", "FORWARD_TSN", "ASCONF", "I_FORWARD_TSN", "GAP", "DUP",
    "RTX", "KIND_MASK", "KIND_SHIFT", "KIND_FAST", "KIND_TIMEOUT", "KIND_UNKNOWN", "SPURIOUS", "IBIT", "FIRST",
    "HB_LINUX", "NR",
]

#: One record (native byte order, no padding): see docs/design/engine.md "Records" for what each field holds per
#: ``type``.
RECORD_DTYPE: Final = np.dtype([
    ("ts_ns", np.int64),         # capture timestamp of the packet, ns since the epoch
    ("frame_no", np.uint64),     # frame of the packet (numbered like the events)
    ("assoc_id", np.uint32),     # report()["associations"][i]["id"]
    ("vtag", np.uint32),         # the packet's verification tag
    ("path", np.uint16),         # index in the association's "paths"; 0xffff: path table full
    ("type", np.uint8),          # chunk type, or GAP / DUP
    ("flags", np.uint8),         # chunk flags (GAP/DUP: their SACK's)
    ("dir", np.uint8),           # 0: sent by endpoint A, 1: by B
    ("note", np.uint8),          # bits below, per type
    ("chunk_index", np.uint16),  # position of the chunk in its packet (GAP/DUP: their SACK's)
    ("tsn", np.uint32),
    ("a", np.uint32),
    ("b", np.uint32),
    ("c", np.uint32),
    ("x", np.uint64),
    ("y", np.uint64),
])

#: Bytes per record (64).
RECORD_SIZE: Final[int] = _engine.RECORD_SIZE

# record types: the chunk types (RFC 9260, 3758, 4895, 5061, 6525, 8260, NR-SACK draft, 4820), and two of the
# engine's own that follow a SACK / NR-SACK
DATA, INIT, INIT_ACK, SACK, HEARTBEAT, HEARTBEAT_ACK, ABORT, SHUTDOWN, SHUTDOWN_ACK, ERROR = range(10)
COOKIE_ECHO, COOKIE_ACK, ECNE, CWR, SHUTDOWN_COMPLETE, AUTH, NR_SACK = range(10, 17)
I_DATA, ASCONF_ACK, RE_CONFIG, PAD, FORWARD_TSN, ASCONF, I_FORWARD_TSN = 64, 128, 130, 132, 192, 193, 194
GAP: Final = 0xF0   # one gap ack block: tsn = first TSN, a = last TSN (absolute)
DUP: Final = 0xF1   # one duplicate TSN reported: tsn

# ``note`` bits. DATA / I-DATA:
RTX: Final = 0x01          # the engine counted the chunk as a retransmission
KIND_MASK: Final = 0x06    # (note & KIND_MASK) >> KIND_SHIFT: the retransmission's kind (valid with RTX)
KIND_SHIFT: Final = 1
KIND_FAST, KIND_TIMEOUT, KIND_UNKNOWN = 0, 1, 2
SPURIOUS: Final = 0x08     # resent after the wire had shown it acked (as known when sent)
IBIT: Final = 0x10         # I (SACK-IMMEDIATELY) flag
FIRST: Final = 0x20        # first time this TSN is seen in this direction (a new TSN)
# HEARTBEAT / HEARTBEAT-ACK:
HB_LINUX: Final = 0x01     # Linux 56-byte HB info: x = hb_nonce, y = sent_at (the sender's jiffies)
# GAP:
NR: Final = 0x01           # an NR gap block (NR-SACK)


def _check_layout() -> None:
    c_fields = tuple(tuple(f) for f in _engine.RECORD_FIELDS)
    py_fields = tuple((name, RECORD_DTYPE.fields[name][1], RECORD_DTYPE.fields[name][0].itemsize)
                      for name in RECORD_DTYPE.names)
    if c_fields != py_fields or RECORD_DTYPE.itemsize != RECORD_SIZE:
        raise ImportError(f"sctpcorr.wire.records: RECORD_DTYPE {py_fields} ({RECORD_DTYPE.itemsize} bytes) does "
                          f"not match the engine's record {c_fields} ({RECORD_SIZE} bytes): rebuild the engine")


_check_layout()


def as_array(buf: bytes | bytearray | memoryview) -> np.ndarray:
    """The records of ``drain_records()`` as a structured array (a view: no copy; read-only for ``bytes``)."""
    if len(buf) % RECORD_SIZE:
        raise ValueError(f"{len(buf)} bytes is not a whole number of {RECORD_SIZE}-byte records")
    return np.frombuffer(buf, dtype=RECORD_DTYPE)
