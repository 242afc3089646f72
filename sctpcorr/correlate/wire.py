"""The wire's side of a correlation: one capture as the wire engine saw it, chunk by chunk.

The I/O layer feeds a capture to ``sctpcorr.wire.engine.Analyzer(records=True)`` and hands over the engine's
per-chunk records (``sctpcorr.wire.records``: one 64-byte record per chunk, plus GAP and DUP records after each
SACK) and its ``report()``.  ``WireView`` splits the records into column tables the joins index:

* ``data``: every DATA/I-DATA chunk: ts, frame, association, direction (0 = sent by the association's A), path,
  TSN, SID, SSN, length, and what the engine decided (``rtx``, ``kind``: 0 fast / 1 timeout / 2 unknown,
  ``spurious``, ``first``: first time this TSN was seen);
* ``sacks`` (SACK and NR-SACK, direction = the SACK's sender) with cum TSN ack, a_rwnd, gap and dup counts and
  the engine's flight after it; ``gaps`` (one row per gap block, absolute TSNs, ``sack`` = its SACK's row);
  ``dups`` (duplicate TSNs reported);
* ``hbs``: HEARTBEAT and HEARTBEAT-ACK (``ack`` true for the latter) with the Linux info's nonce and sent_at;
* ``ctrl``: every other chunk (INIT, INIT-ACK, COOKIE-*, SHUTDOWN-*, ABORT...): type, ts, direction, values.

Times are the capture's clock (ns since the epoch, as the capture file says).  Association ids, directions and
path indexes are the engine's (``report()["associations"]``).  Pure: arrays in, tables out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sctpcorr.correlate.tables import Table

__all__ = ["WireView", "WireAssoc", "T_DATA", "T_IDATA", "T_SACK", "T_NRSACK", "T_HB", "T_HBACK", "T_GAP",
           "T_DUP"]

T_DATA, T_INIT, T_INIT_ACK, T_SACK, T_HB, T_HBACK, T_ABORT = 0, 1, 2, 3, 4, 5, 6
T_SHUTDOWN, T_SHUTDOWN_ACK, T_COOKIE_ECHO, T_COOKIE_ACK, T_SHUTDOWN_COMPLETE = 7, 8, 10, 11, 14
T_NRSACK, T_IDATA, T_GAP, T_DUP = 16, 64, 0xF0, 0xF1

N_RTX, N_KIND_SHIFT, N_SPURIOUS, N_IBIT, N_FIRST = 0x01, 1, 0x08, 0x10, 0x20
N_HB_LINUX = 0x01


def _take(r: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``r[idx]`` for an array of records, gathered as rows of 64-bit words (numpy's gather of a structured
    dtype goes record by record, ten times slower)."""
    if not len(r) or r.dtype.itemsize % 8:
        return r[idx]
    words = np.ascontiguousarray(r).view(np.uint64).reshape(len(r), r.dtype.itemsize // 8)
    return np.take(words, idx, axis=0).reshape(-1).view(r.dtype)


KINDS = ("data", "sacks", "gaps", "dups", "hbs", "ctrl")
_COMMON = (("ts", np.int64), ("frame", np.int64), ("assoc", np.int64), ("dir", np.int8), ("path", np.int64))
# each table's columns after the common ones, as _cjoin.wire_fill writes them (the order of its COLS)
_OWN = {"data": (("tsn", np.uint32), ("sid", np.int32), ("ssn", np.int64), ("length", np.int64),
                 ("ppid", np.uint32), ("rtx", np.bool_), ("kind", np.int8), ("spurious", np.bool_),
                 ("ibit", np.bool_), ("first", np.bool_)),
        "sacks": (("cum", np.uint32), ("a_rwnd", np.int64), ("ngap", np.int32), ("ndup", np.int32),
                  ("flight", np.int64), ("nr", np.bool_)),
        "gaps": (("start", np.uint32), ("end", np.uint32), ("sack", np.int64), ("nr", np.bool_)),
        "dups": (("tsn", np.uint32), ("sack", np.int64)),
        "hbs": (("ack", np.bool_), ("linux", np.bool_), ("nonce", np.uint64), ("sent_at", np.int64),
                ("info_len", np.uint32)),
        "ctrl": (("type", np.uint8), ("flags", np.uint8), ("value", np.uint32), ("a", np.uint32), ("b", np.uint32),
                 ("c", np.uint32))}
_OFFSETS = {"ts_ns": 0, "frame_no": 8, "assoc_id": 16, "vtag": 20, "path": 24, "type": 26, "flags": 27, "dir": 28,
            "note": 29, "chunk_index": 30, "tsn": 32, "a": 36, "b": 40, "c": 44, "x": 48, "y": 56}


def _split(records: np.ndarray | list[np.ndarray]) -> tuple[dict[str, Table], int | None, int | None]:
    """The records (one array, or pieces of one in order: ``RecordBuffer.pieces``) as the six tables (see the
    module doc), and their first and last ts: one pass in C (``_cjoin.wire_fill``; ``_split_np`` is the numpy
    reference the tests hold it to)."""
    from sctpcorr.correlate import _cjoin
    from sctpcorr.wire.records import RECORD_DTYPE

    pieces = records if isinstance(records, list) else [records]
    if any(p.dtype != RECORD_DTYPE for p in pieces) or \
            {k: v[1] for k, v in RECORD_DTYPE.fields.items()} != _OFFSETS:
        return _split_np(np.concatenate(pieces) if isinstance(records, list) else records)
    pieces = [np.ascontiguousarray(p) for p in pieces if len(p)]
    counts, first, last = [0] * len(KINDS), None, None
    for p in pieces:
        *cs, f, la = _cjoin.wire_counts(p)
        counts = [a + b for a, b in zip(counts, cs)]
        first = f if first is None else min(first, f)
        last = la if last is None else max(last, la)
    cols = {k: [np.empty(n, dtype=dt) for _name, dt in _COMMON + _OWN[k]] for k, n in zip(KINDS, counts)}
    _cjoin.wire_fill(pieces, [cols[k] for k in KINDS])
    tabs = {k: Table({name: a for (name, _dt), a in zip(_COMMON + _OWN[k], cols[k])}) for k in KINDS}
    return tabs, first, last


def _split_np(records: np.ndarray) -> tuple[dict[str, Table], int | None, int | None]:
    """``_split`` in numpy: a stable sort of the records by kind, then each table a slice."""
    r = records
    t = r["type"] if len(r) else np.zeros(0, dtype=np.uint8)
    # each GAP/DUP record follows its SACK: its SACK's row is the last SACK record before it
    ms_all = (t == T_SACK) | (t == T_NRSACK)
    sack_no = np.cumsum(ms_all) - 1                  # the SACK table's row of the last SACK so far
    # one gather by kind (stable: capture order kept), then each table is a contiguous slice
    kind = np.full(len(t), 5, dtype=np.int8)          # 5: control
    kind[(t == T_DATA) | (t == T_IDATA)] = 0
    kind[ms_all] = 1
    kind[t == T_GAP] = 2
    kind[t == T_DUP] = 3
    kind[(t == T_HB) | (t == T_HBACK)] = 4
    order = np.argsort(kind, kind="stable")
    r, t, owner = _take(r, order), t[order], sack_no[order]
    bounds = np.searchsorted(kind[order], np.arange(7))

    def pick(k: int, **extra: Any) -> Table:
        a, b = int(bounds[k]), int(bounds[k + 1])
        s = r[a:b]
        cols = {"ts": s["ts_ns"].astype(np.int64), "frame": s["frame_no"].astype(np.int64),
                "assoc": s["assoc_id"].astype(np.int64), "dir": s["dir"].astype(np.int8),
                "path": s["path"].astype(np.int64)}
        cols.update({n: f(s, t[a:b], owner[a:b]) for n, f in extra.items()})
        return Table(cols)

    def note(s: np.ndarray) -> np.ndarray:
        return s["note"].astype(np.int16)

    data = pick(0, tsn=lambda s, tt, o: s["tsn"].astype(np.uint32),
                sid=lambda s, tt, o: (s["c"] >> 16).astype(np.int32),
                ssn=lambda s, tt, o: np.where(tt == T_IDATA, s["x"].astype(np.int64) & 0xFFFFFFFF,
                                              s["c"] & 0xFFFF),
                length=lambda s, tt, o: s["b"].astype(np.int64), ppid=lambda s, tt, o: s["a"].copy(),
                rtx=lambda s, tt, o: (note(s) & N_RTX) > 0,
                kind=lambda s, tt, o: ((note(s) >> N_KIND_SHIFT) & 3).astype(np.int8),
                spurious=lambda s, tt, o: (note(s) & N_SPURIOUS) > 0,
                ibit=lambda s, tt, o: (note(s) & N_IBIT) > 0,
                first=lambda s, tt, o: (note(s) & N_FIRST) > 0)
    sacks = pick(1, cum=lambda s, tt, o: s["tsn"].astype(np.uint32),
                 a_rwnd=lambda s, tt, o: s["a"].astype(np.int64),
                 ngap=lambda s, tt, o: (s["b"] >> 16).astype(np.int32),
                 ndup=lambda s, tt, o: (s["b"] & 0xFFFF).astype(np.int32),
                 flight=lambda s, tt, o: s["c"].astype(np.int64), nr=lambda s, tt, o: tt == T_NRSACK)
    gaps = pick(2, start=lambda s, tt, o: s["tsn"].astype(np.uint32),
                end=lambda s, tt, o: s["a"].astype(np.uint32), sack=lambda s, tt, o: o.astype(np.int64),
                nr=lambda s, tt, o: (note(s) & 1) > 0)
    dups = pick(3, tsn=lambda s, tt, o: s["tsn"].astype(np.uint32), sack=lambda s, tt, o: o.astype(np.int64))
    hbs = pick(4, ack=lambda s, tt, o: tt == T_HBACK, linux=lambda s, tt, o: (note(s) & N_HB_LINUX) > 0,
               nonce=lambda s, tt, o: s["x"].astype(np.uint64),
               sent_at=lambda s, tt, o: s["y"].astype(np.int64), info_len=lambda s, tt, o: s["a"].copy())
    ctrl = pick(5, type=lambda s, tt, o: tt.copy(), flags=lambda s, tt, o: s["flags"].copy(),
                value=lambda s, tt, o: s["tsn"].astype(np.uint32), a=lambda s, tt, o: s["a"].copy(),
                b=lambda s, tt, o: s["b"].copy(), c=lambda s, tt, o: s["c"].copy())
    r = records
    first_ns = int(r["ts_ns"].min()) if len(r) else None
    last_ns = int(r["ts_ns"].max()) if len(r) else None
    return dict(zip(KINDS, (data, sacks, gaps, dups, hbs, ctrl))), first_ns, last_ns


@dataclass
class WireAssoc:
    """One association of one capture (an entry of the engine's report)."""

    id: int
    ports: tuple[int, int]
    vtags: tuple[int | None, int | None]    # [A, B]: the tag each endpoint expects to receive
    paths: list[dict[str, Any]]
    vantage: str                             # "A", "B", "middle", "local", "unknown"
    report: dict[str, Any] = field(repr=False, default_factory=dict)

    def ident(self, side: int) -> tuple[int, int | None]:
        """(port, tag it expects to receive) of endpoint ``side`` (0 = A, 1 = B)."""
        return (self.ports[side], self.vtags[side])

    def path_addrs(self, pidx: int) -> tuple[str | None, str | None]:
        if 0 <= pidx < len(self.paths):
            return self.paths[pidx].get("src"), self.paths[pidx].get("dst")
        return None, None


class WireView:
    """One capture (see the module doc)."""

    def __init__(self, name: str, records: np.ndarray | list[np.ndarray], report: dict[str, Any],
                 host: str | None = None, meta: dict[str, Any] | None = None):
        self.name = name
        self.host = host
        self.report = report
        self.meta = meta or {}
        self.assocs: dict[int, WireAssoc] = {}
        for a in report.get("associations") or ():
            self.assocs[a["id"]] = WireAssoc(a["id"], tuple(a.get("ports") or (0, 0)),  # type: ignore[arg-type]
                                             tuple(a.get("vtags") or (None, None)),  # type: ignore[arg-type]
                                             a.get("paths") or [], (a.get("vantage") or {}).get("point", "unknown"),
                                             a)
        tabs, self.first_ns, self.last_ns = _split(records)
        self.data, self.sacks, self.gaps, self.dups, self.hbs, self.ctrl = (tabs[k] for k in KINDS)

    def summary(self) -> dict[str, Any]:
        cap = self.report.get("capture") or {}
        return {"name": self.name, "host": self.host, "packets": cap.get("packets"),
                "sctp_packets": cap.get("sctp_packets"), "associations": len(self.assocs),
                "first_ns": self.first_ns, "last_ns": self.last_ns, **self.meta}


class RecordBuffer:
    """The wire engine's per-chunk records of the windows still open, as they come: kept block by block as
    drained (views of the engine's bytes: no copy), selected by time, dropped from the front once no window needs
    them.  A window's records are ``pieces(lo, hi)`` (views, which ``WireView`` splits without joining them) or
    ``records(lo, hi)`` (one array, a copy).  Used by the file feeds of ``correlate`` and by ``live --probes``."""

    def __init__(self) -> None:
        from sctpcorr.wire.records import RECORD_DTYPE

        self._dtype = RECORD_DTYPE
        self._blocks: list[np.ndarray] = []     # records kept, oldest first
        self._ends: list[tuple[int, int]] = []  # each block's smallest and largest time
        self._n = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None         # the newest record so far
        self._sorted = True

    def add(self, recs: bytes) -> None:
        """A block of records (``Analyzer.drain_records()``: bytes, which the block keeps a view of)."""
        if not recs:
            return
        from sctpcorr.correlate import _cjoin

        first, lo, hi, in_order = _cjoin.wire_ts(recs)     # (one pass, not four strided ones)
        if self._sorted and ((self.last_ns is not None and first < self.last_ns) or not in_order):
            self._sorted = False        # out of order: windows select with a mask instead of a slice
        b = np.frombuffer(recs, dtype=self._dtype)
        self._blocks.append(b)
        self._ends.append((lo, hi))
        self._n += len(b)
        self.first_ns = lo if self.first_ns is None else min(self.first_ns, lo)
        self.last_ns = hi if self.last_ns is None else max(self.last_ns, hi)

    def __len__(self) -> int:
        return self._n

    def pieces(self, lo: int | None = None, hi: int | None = None) -> list[np.ndarray]:
        """The records kept, or those with ``lo <= ts < hi``, as a list of arrays in capture order (slices of the
        blocks when the records are in time order, as a capture's packets nearly always are)."""
        if lo is None or hi is None:
            return list(self._blocks)
        out = []
        for b, (b_lo, b_hi) in zip(self._blocks, self._ends):
            if b_hi < lo or b_lo >= hi:
                continue
            if b_lo >= lo and b_hi < hi:
                out.append(b)                   # all of it (most blocks of a window)
                continue
            ts = b["ts_ns"]
            if self._sorted:
                a, z = int(np.searchsorted(ts, lo, side="left")), int(np.searchsorted(ts, hi, side="left"))
                if z > a:
                    out.append(b[a:z])
            else:
                m = (ts >= lo) & (ts < hi)
                if m.any():
                    out.append(b[m])
        return out

    def records(self, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        """``pieces(lo, hi)`` as one array."""
        p = self.pieces(lo, hi)
        return np.concatenate(p) if p else np.zeros(0, dtype=self._dtype)

    def drop_before(self, t: int) -> None:
        """Forget the records with ts < t."""
        blocks, ends = [], []
        for b, (b_lo, b_hi) in zip(self._blocks, self._ends):
            if b_hi < t:
                continue                        # (whole blocks: in time order, those at the front)
            if b_lo < t:
                ts = b["ts_ns"]
                b = b[int(np.searchsorted(ts, t, side="left")):] if self._sorted else b[ts >= t]
                if not len(b):
                    continue
                ts = b["ts_ns"]
                b_lo = int(ts.min())
            blocks.append(b)
            ends.append((b_lo, b_hi))
        self._blocks, self._ends = blocks, ends
        self._n = sum(len(b) for b in blocks)


__all__ += ["RecordBuffer"]
