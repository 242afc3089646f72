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

    def __init__(self, name: str, records: np.ndarray, report: dict[str, Any], host: str | None = None,
                 meta: dict[str, Any] | None = None):
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
        r = records
        t = r["type"] if len(r) else np.zeros(0, dtype=np.uint8)
        base = {"ts": r["ts_ns"], "frame": r["frame_no"], "assoc": r["assoc_id"], "dir": r["dir"],
                "path": r["path"]}

        def pick(mask: np.ndarray, **extra: np.ndarray) -> Table:
            return Table({**{k: v[mask] for k, v in base.items()}, **{k: v[mask] for k, v in extra.items()}})

        m = (t == T_DATA) | (t == T_IDATA)
        note = r["note"].astype(np.int16)
        self.data = pick(m, tsn=r["tsn"], sid=(r["c"] >> 16).astype(np.int32),
                         ssn=np.where(t == T_IDATA, r["x"].astype(np.int64) & 0xFFFFFFFF, r["c"] & 0xFFFF),
                         length=r["b"].astype(np.int64), ppid=r["a"], rtx=(note & N_RTX) > 0,
                         kind=((note >> N_KIND_SHIFT) & 3).astype(np.int8), spurious=(note & N_SPURIOUS) > 0,
                         ibit=(note & N_IBIT) > 0, first=(note & N_FIRST) > 0)
        ms = (t == T_SACK) | (t == T_NRSACK)
        sack_rows = np.flatnonzero(ms)
        self.sacks = pick(ms, cum=r["tsn"], a_rwnd=r["a"].astype(np.int64), ngap=(r["b"] >> 16).astype(np.int32),
                          ndup=(r["b"] & 0xFFFF).astype(np.int32), flight=r["c"].astype(np.int64),
                          nr=t == T_NRSACK)
        # each GAP/DUP record follows its SACK: its SACK's row is the last SACK record before it
        mg, md = t == T_GAP, t == T_DUP
        owner = np.searchsorted(sack_rows, np.flatnonzero(mg | md), side="right") - 1
        gd_owner = np.zeros(len(r), dtype=np.int64)
        gd_owner[mg | md] = owner
        self.gaps = pick(mg, start=r["tsn"], end=r["a"], sack=gd_owner, nr=(note & 1) > 0)
        self.dups = pick(md, tsn=r["tsn"], sack=gd_owner)
        mh = (t == T_HB) | (t == T_HBACK)
        self.hbs = pick(mh, ack=t == T_HBACK, linux=(note & N_HB_LINUX) > 0, nonce=r["x"],
                        sent_at=r["y"].astype(np.int64), info_len=r["a"])
        mc = ~(m | ms | mg | md | mh)
        self.ctrl = pick(mc, type=t, flags=r["flags"], value=r["tsn"], a=r["a"], b=r["b"], c=r["c"])
        self.first_ns = int(r["ts_ns"].min()) if len(r) else None
        self.last_ns = int(r["ts_ns"].max()) if len(r) else None

    def summary(self) -> dict[str, Any]:
        cap = self.report.get("capture") or {}
        return {"name": self.name, "host": self.host, "packets": cap.get("packets"),
                "sctp_packets": cap.get("sctp_packets"), "associations": len(self.assocs),
                "first_ns": self.first_ns, "last_ns": self.last_ns, **self.meta}
