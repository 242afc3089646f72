"""One record per user message: the numpy view of ``_fast``'s tc_rec, and a block of payloads made into records.

``decode(payloads, reassembler, block)`` runs ``_fast.decode`` over one ``drain_payloads()`` buffer (every
unfragmented chunk named in C), hands the fragments to :class:`~sctpcorr.telecom.payloads.Reassembler`, sends each
message it completes through the same decoder (:func:`~sctpcorr.telecom.payloads.pack`) and returns the block's
records in capture order (time, frame, place in the packet).  ``configure`` gives the C side the IE ids and the
class-1 procedures of spec.py.
"""
from __future__ import annotations

import functools

import numpy as np

from sctpcorr.telecom import ap
from sctpcorr.telecom.payloads import Reassembler, chunk_at, pack

__all__ = ["REC", "UE", "MATCH", "LEAN", "CAND", "DIA", "PROTOS", "AP_PROTOS", "DIAMETER", "M3UA", "ERRORS", "configure", "decode"]

#: tc_rec (fast.c), field for field
REC = np.dtype([
    ("ts_ns", "=i8"), ("frame", "=u8"), ("ran_ue", "=i8"), ("core_ue", "=i8"), ("result", "=i8"),
    ("rtt_ns", "=i8"), ("a_rwnd", "=i8"), ("latency_ns", "=i8"), ("data_off", "=u8"), ("seq", "=u8"),
    ("assoc", "=u4"), ("vtag", "=u4"), ("tsn0", "=u4"), ("tsn1", "=u4"), ("ppid", "=u4"), ("length", "=u4"),
    ("caplen", "=u4"), ("app", "=u4"), ("hbh", "=u4"), ("e2e", "=u4"), ("block", "=u4"), ("code", "=i4"),
    ("sid", "=u2"), ("sport", "=u2"), ("dport", "=u2"), ("fragments", "=u2"), ("nas", "=u2"), ("inner", "=u2"),
    ("proto", "u1"), ("kind", "u1"), ("err", "u1"), ("flags", "u1"), ("dir", "u1"), ("pad", "V1"), ("steps", "=u2"),
    ("ue", "=u4")])

#: ue_t (fast.c): one UE as the Follower summed it up
UE = np.dtype([("ran_ue", "=i8"), ("core_ue", "=i8"), ("first_ts", "=i8"), ("last_ts", "=i8"),
               ("last_ciphered_ts", "=i8"), ("first", "=u8"), ("messages", "=u8"), ("assoc", "=u4"), ("proto", "u1"),
               ("null_cipher", "u1"), ("pad", "V2")])

#: what is kept of each record after it was followed (columns, block by block)
#: what the telecom layer keeps of every record: what Telecom.finish reads (40 bytes)
LEAN = ("ts_ns", "assoc", "vtag", "tsn0", "tsn1", "code", "ue", "sid", "nas", "proto", "kind", "err", "flags")
#: and beside it, for the records that can be a step of a UE's timeline and for Diameter messages
CAND = np.dtype([("idx", "=i8"), ("bits", "=u2"), ("frame", "=u8"), ("rtt_ns", "=i8"), ("a_rwnd", "=i8")])
DIA = np.dtype([("idx", "=i8"), ("app", "=u4"), ("result", "=i8"), ("latency_ns", "=i8")])
#: match_t (fast.c): a matched AP response
MATCH = np.dtype([("latency_ns", "=i8"), ("index", "=u8"), ("key", "=u2"), ("kind", "u1"), ("pad", "V5")])

PROTOS = (None, "ngap", "s1ap", "x2ap", "xnap", "diameter", "m3ua")
AP_PROTOS = (1, 2, 3, 4)
DIAMETER, M3UA = 5, 6
# err: what went wrong reading the message (fast.c's E_*)
E_NOTDIA, E_NOTM3UA = 6, 7
ERRORS = {1: "an extension of the PDU choice", 2: "PDU choice 3", 3: "cut short", 4: "IE list cut short",
          5: "fragmented length (a value of 16 K or more)", E_NOTDIA: "not a Diameter header",
          E_NOTM3UA: "not an M3UA header"}
# flags (fast.c's F_*)
F_UNORDERED, F_TRUNC, F_SMC_NULL, F_MATCHED, F_NEEDS, F_REQ, F_READ_NULL = 1, 2, 4, 8, 16, 32, 64


def concat(arrays: list[np.ndarray], dtype: np.dtype = REC) -> np.ndarray:
    """``np.concatenate`` of record arrays of one structured ``dtype``, as bytes: numpy (2.x) promotes a
    structured dtype field by field for every array it joins, which took 240 us for 8 blocks of REC against 11 us
    for their bytes (the same array)."""
    if not arrays:
        return np.zeros(0, dtype)
    return np.concatenate([np.ascontiguousarray(a, dtype).view(np.uint8).reshape(-1) for a in arrays]).view(dtype)


@functools.lru_cache(maxsize=None)
def configure() -> None:
    from sctpcorr.telecom import _fast

    assert (REC.itemsize, UE.itemsize, MATCH.itemsize) == (_fast.REC_SIZE, _fast.UE_SIZE, 24), "columns.py, fast.c"
    assert LEAN == _fast.LEAN, "columns.LEAN and fast.c's LEAN_NAMES differ"
    ids = {p: tuple(ap.ie_id(p, n) for n in names) for p, names in
           (("ngap", ("RAN_UE_NGAP_ID", "AMF_UE_NGAP_ID", "UE_NGAP_IDs", "NAS_PDU")),
            ("s1ap", ("eNB_UE_S1AP_ID", "MME_UE_S1AP_ID", "UE_S1AP_IDs", "NAS_PDU")))}
    class1 = {}
    for i, p in zip(AP_PROTOS, ("ngap", "s1ap", "x2ap", "xnap")):
        bits = bytearray(32)
        for code, proc in ap.procedures(p).items():
            if proc.class1 and 0 <= code < 256:
                bits[code >> 3] |= 1 << (code & 7)
        class1[i] = bytes(bits)
    from sctpcorr.telecom.core import step_tables

    nas_steps, ap_steps = step_tables()
    _fast.configure(ids["ngap"], ids["s1ap"], class1, nas_steps.tobytes(), ap_steps.tobytes())


def decode(payloads: bytes, reasm: Reassembler, block: int) -> tuple[np.ndarray, bytes | None]:
    """The records of one ``drain_payloads()`` buffer (their ``block`` field: ``block``; messages put together
    from fragments: ``block + 1``, the returned buffer their bytes are in), in capture order."""
    from sctpcorr.telecom import _fast

    raw, frags = _fast.decode(payloads)
    arr = np.frombuffer(raw, REC)
    arr["block"] = block
    extra = None
    if frags:
        msgs = [m for off in frags if (m := reasm.feed(chunk_at(payloads, off)[0])) is not None]
        if msgs:
            extra = b"".join(pack(m) for m in msgs)
            raw2, _ = _fast.decode(extra)
            more = np.frombuffer(raw2, REC).copy()
            more["block"] = block + 1
            more["tsn1"] = [m.tsns[1] for m in msgs]
            more["fragments"] = [m.fragments for m in msgs]
            more["seq"] = [m.seq for m in msgs]        # the last fragment's place: where the message was whole
            arr = concat([arr, more])
    if len(arr) > 1:
        ts, fr = arr["ts_ns"], arr["frame"]
        if extra is not None or (ts[1:] < ts[:-1]).any():
            arr = arr[np.lexsort((arr["seq"], fr, ts))]
    return arr, extra
