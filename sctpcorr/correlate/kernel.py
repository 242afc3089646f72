"""The kernel's side of a correlation: one `sctpcorr probe` recording as association ends and column tables.

A recording (JSONL records of ``sctpcorr probe``, or ``--raw`` records put in columns by the C reader
``_ringbuf.columns``; field reference in docs/probe.md) mixes events of every association the kernel had, from
every network namespace.  ``KernelView.build(records)`` / ``add_records`` (JSONL) and ``build_raw`` / ``add_raw``
(raw records, block by block) sort them out:

* **ends**: one per association *end* the kernel knew, keyed by (network namespace, local port, my_vtag): the
  tag the peer puts in packets to this end, which the wire carries.  A kernel pointer is reused after an
  association is freed and the vtags are not, so the pointer is never part of the key; a restart gets new tags
  and therefore a new end (the wire engine opens a new association for it too).  ``peer_vtag`` is 0 until the
  INIT-ACK; the end takes it from the first event that has it.
* **tables** (``sctpcorr.correlate.tables.Table``): ``egress`` (one row per packet leaving the stack) and
  ``echunks`` (one row per chunk of it: DATA with TSN, sent_count, sent_at jiffies and the retransmission
  reason; SACK with its cumulative TSN ack), ``sacks`` (SACKs the stack processed, before processing),
  ``paths`` (per transport, per SACK: its cwnd, ssthresh, flight and state), ``rto`` (every RTT sample with
  SRTT/RTTVAR/RTO before and after),
  ``hb_sent`` / ``hb_ack`` (HEARTBEATs built and HEARTBEAT-ACKs taken, with nonce and sent_at).
* **other**: the rare events as dicts (path_state, assoc_change, rtx_mark, t3_expire, cwnd reductions; from JSONL
  also derived assoc_state and cwnd changes), each with ``end`` set; **diag**: sock_diag snapshots, each with ``end``.

Only the columns the checks and plots read are kept (a bulk recording is a million events); a long recording is
read block by block, each block a *batch*, and ``window(lo, hi)`` / ``drop_before(t)`` show and forget them as
the correlator's windows go by.

Times stay in the recording's clock: ``ts_ns`` is CLOCK_MONOTONIC, ``jif`` the kernel's jiffies.  What the
recording says about itself (startup: HZ, clock offsets, missing probes; clock records; end: losses) is kept in
``startup``, ``clocks`` and ``end``.  Pure: records in, tables out.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sctpcorr.correlate.tables import Rows, Table, in_order, small_unique, unique_inverse
from sctpcorr.kernel.abi import CHUNK_TYPES, PATH_STATES, RTX_REASONS
from sctpcorr.kernel.probes import LEVELS, PROBES, level_events

__all__ = ["KEnd", "KernelView", "RTX_CODE", "CHUNK_CODE", "PATH_STATE_CODE"]

CHUNK_CODE = {name: code for code, name in CHUNK_TYPES.items()}
RTX_CODE = {name: code for code, name in RTX_REASONS.items()}          # None -> 0, "t3" -> 1, "fast" -> 2 ...
PATH_STATE_CODE = {name: code for code, name in PATH_STATES.items() if code < 256}
DATA_TYPES = (0, 64)       # DATA, I-DATA
SACK_TYPES = (3, 16)       # SACK, NR-SACK


@dataclass
class KEnd:
    """One association end the kernel knew (see the module doc for the key)."""

    id: int
    netns: int
    lport: int
    pport: int
    my_vtag: int           # the tag packets TO this end carry
    peer_vtag: int         # the tag packets FROM this end carry (0 until the INIT-ACK)
    asoc: str              # the kernel pointer it had (informative: pointers are reused)
    assoc_id: int          # the host-local association id (never on the wire)
    first_ns: int
    last_ns: int
    events: int = 0
    peer_addrs: set[str] = field(default_factory=set)
    states: list[tuple[int, str]] = field(default_factory=list)   # (ts_ns, state) whenever the header's state changed

    @property
    def ident(self) -> tuple[int, int]:
        """(port, tag it expects to receive): how the wire names this endpoint."""
        return (self.lport, self.my_vtag)

    def describe(self) -> str:
        return f"port {self.lport} vtag 0x{self.my_vtag:08x} (peer {self.pport}, 0x{self.peer_vtag:08x})"


_EGRESS = {"ts": np.int64, "jif": np.int64, "end": np.int32, "path": np.int32, "size": np.int32, "cwnd": np.int64,
           "flight": np.int64, "a_rwnd": np.int64, "nchunks": np.int32, "truncated": np.bool_}
_ECHUNK = {"ts": np.int64, "jif": np.int64, "end": np.int32, "path": np.int32, "type": np.int16,
           "value": np.uint32, "sent_count": np.int32, "sent_at": np.int64, "rtx": np.int8, "length": np.int32,
           "flags": np.int16, "pos": np.int16, "a_rwnd": np.int64}
_SACK = {"ts": np.int64, "jif": np.int64, "end": np.int32, "path": np.int32, "cum": np.uint32,
         "a_rwnd": np.int64, "ngap": np.int32, "ndup": np.int32, "peer_rwnd": np.int64, "outstanding": np.int64,
         "next_tsn": np.uint32, "ctsn": np.uint32, "pathmtu": np.int32, "out_qlen": np.int64}
_PATHEV = {"ts": np.int64, "end": np.int32, "path": np.int32, "cwnd": np.int64, "ssthresh": np.int64,
           "flight": np.int64, "state": np.int16}
_RTO = {"ts": np.int64, "jif": np.int64, "end": np.int32, "path": np.int32, "rtt_j": np.int64,
        "srtt_b": np.int64, "rttvar_b": np.int64, "rto_b": np.int64, "srtt": np.int64, "rttvar": np.int64,
        "rto": np.int64, "rto_min": np.int64, "rto_max": np.int64, "hb": np.bool_, "paired": np.bool_}
_HB = {"ts": np.int64, "jif": np.int64, "end": np.int32, "path": np.int32, "nonce": np.uint64,
       "sent_at": np.int64, "rtt_j": np.int64, "rto_j": np.int64}

# event types whose loss weakens a join (the checks cite them)
TABLE_TYPES = ("egress", "sack", "path", "rto_update", "hb_sent", "hb_ack")
OTHER_TYPES = ("path_state", "assoc_change", "assoc_state", "rtx_mark", "t3_expire", "cwnd", "rwnd")


# the kernel functions the probes hook -> the event type a missed hit takes away (docs/probe.md, Probes)
_HOOK_EVENTS = {"sctp_packet_transmit": "egress", "sctp_transport_update_rto": "rto_update",
                "sctp_transport_lower_cwnd": "cwnd", "sctp_retransmit": "rtx_mark",
                "sctp_generate_t3_rtx_event": "t3_expire", "sctp_make_heartbeat": "hb_sent",
                "sctp_sf_backbeat_8_3": "hb_ack", "sctp_assoc_control_transport": "path_state",
                "sctp_ulpevent_make_assoc_change": "assoc_change", "sctp_association_free": "assoc_change",
                "sctp_probe": "sack", "sctp_probe_path": "path", "packet_transmit": "egress", "update_rto": "rto_update"}


def _kprobe_event_type(name: str) -> str:
    """``p_sctp_packet_transmit_bcc_258`` -> ``egress`` (unknown hooks keep their function name)."""
    fn = name[2:] if name[:2] in ("p_", "r_") else name
    fn = fn.split("_bcc_")[0]
    return _HOOK_EVENTS.get(fn, fn)


def _prog_event_type(name: str) -> str:
    """A BPF program name (``kp_packet_transmit``, its trampoline twin ``fe_packet_transmit``,
    ``rtp_sctp_probe_path``) -> its event type."""
    for p in PROBES:
        for a in p.attachments:
            if name in (a.fn, a.trampoline_fn):
                return p.events[0]
    for prefix in ("krp_", "kp_", "rtp_", "tp_"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return _HOOK_EVENTS.get(name, _HOOK_EVENTS.get("sctp_" + name, name))


def _hex(v: Any) -> int:
    if v is None:
        return 0
    return int(v, 16) if isinstance(v, str) else int(v)


_DTYPES: dict[Any, np.dtype] = {}
RAW_SLICE = 16 << 20     # bytes of --raw records per call of the C reader (a block of a windowed read: one call)


def _dtype_of(struct_cls: Any) -> np.dtype:
    """numpy's dtype of a ctypes mirror (made once: numpy builds it field by field)."""
    dt = _DTYPES.get(struct_cls)
    if dt is None:
        dt = _DTYPES[struct_cls] = np.dtype(struct_cls)
    return dt


def raw_columns(data: bytes | memoryview) -> tuple[list[dict[int, Any]], int, int]:
    """--raw records into columns with the C reader (``_ringbuf.columns``), ``RAW_SLICE`` bytes at a time (once
    it staged its rows it ran as fast on 16 MB as on 4 MB, and a block read in one piece needs no concatenation
    of pieces afterwards: 0.03 s of the 1M bench): (the pieces, for
    ``KernelView.add_columns``; bytes consumed, the rest being a record cut at the end; records skipped).  Pure."""
    from sctpcorr.kernel import _ringbuf

    mv = memoryview(data)
    parts: list[dict[int, Any]] = []
    off, n, bad_n = 0, len(mv), 0
    while off < n:
        piece = mv[off:off + RAW_SLICE]
        by_type, used, bad = _ringbuf.columns(piece)
        bad_n += int(bad)
        if by_type:
            parts.append(by_type)
        off += int(used)
        if not used or (used < len(piece) and off + len(piece) - used >= n):
            break            # the rest is a record cut at the end of the block: left for the next one
    return parts, off, bad_n


def decode_rare(tname: str, recs: np.ndarray) -> list[dict[str, Any]]:
    """``abi.decode`` of each record of a rare event type: path_state and assoc_change (a bulk recording has one
    per HEARTBEAT-ACK) column by column instead of a ctypes structure per record, the same dicts with keys in the
    same order (a test holds the two together); any other type (cwnd, rtx_mark, t3_expire: a few a run) record by
    record."""
    from sctpcorr.kernel import abi

    if not len(recs):
        return []
    h = recs["hdr"]
    hx = "0x{:016x}".format
    states = abi.ASSOC_STATES
    cols: list[tuple[str, list[Any]]] = [
        ("ts_ns", h["ts_ns"].tolist()), ("jiffies", h["jiffies"].tolist()), ("cpu", h["cpu"].tolist()),
        ("tgid", h["tgid"].tolist()), ("netns", h["netns"].tolist()), ("asoc", [hx(v) for v in h["asoc"].tolist()]),
        ("assoc_id", h["assoc_id"].tolist()), ("my_vtag", h["my_vtag"].tolist()),
        ("peer_vtag", h["peer_vtag"].tolist()), ("lport", h["lport"].tolist()), ("pport", h["pport"].tolist()),
        ("state", [states.get(v, str(v)) for v in h["state"].tolist()])]

    def named(values: np.ndarray, names: dict[int, str]) -> list[str]:
        return [names.get(v, str(v)) for v in values.tolist()]

    if tname == "path_state":
        p = recs["path"]
        fam, port = p["addr"]["family"].tolist(), p["addr"]["port"].tolist()
        raw = p["addr"]["addr"]
        memo: dict[tuple[int, bytes], str | None] = {}
        addrs = []
        for i, f in enumerate(fam):
            k = (f, raw[i].tobytes())
            if k not in memo:
                a = abi.Addr()
                a.family = f
                for j, b in enumerate(k[1]):
                    a.addr[j] = b
                memo[k] = abi._addr(a)          # (the decoder's own formatting)
            addrs.append(memo[k])
        tr, nonce = p["transport"].tolist(), p["hb_nonce"].tolist()
        cols += [("path_addr", addrs), ("path_port", [v or None for v in port]),
                 ("transport", [hx(v) if v else None for v in tr]),
                 ("hb_nonce", [hx(n) if (n or t) else None for n, t in zip(nonce, tr)]),
                 ("command", named(recs["command"], abi.TRANSPORT_COMMANDS)),
                 ("sn_error", named(recs["sn_error"], abi.SN_ERRORS)),
                 ("state_before", named(recs["state_before"], abi.PATH_STATES)),
                 ("state_after", named(recs["state_after"], abi.PATH_STATES)),
                 ("primary", [bool(v) for v in recs["primary"].tolist()]),
                 ("active", [bool(v) for v in recs["active"].tolist()]),
                 ("error_count", recs["error_count"].tolist())]
        names = [n for n, _v in cols]
        return [{"type": tname, **dict(zip(names, row))} for row in zip(*(v for _n, v in cols))]
    if tname == "assoc_change":
        base = [n for n, _v in cols]
        out = []
        kind = recs["kind"].tolist()
        notif = [("sac_state", named(recs["sac_state"], abi.SAC_STATES)), ("sac_error", recs["sac_error"].tolist()),
                 ("sac_flags", recs["sac_flags"].tolist()), ("outbound_streams", recs["outbound_streams"].tolist()),
                 ("inbound_streams", recs["inbound_streams"].tolist())]
        for i, row in enumerate(zip(*(v for _n, v in cols))):
            rec = {"type": tname, **dict(zip(base, row))}
            if kind[i] == 1:
                rec["kind"] = "notification"
                for n, v in notif:
                    rec[n] = v[i]
            else:
                rec["kind"] = "freed"
            out.append(rec)
        return out
    return [abi.decode(r.tobytes()) for r in recs]


def _addr_str(family: int, a: int, b: int) -> str | None:
    """An address from the probe's (family, first and last 8 of its 16 bytes as native-order u64)."""
    import ipaddress

    raw = (a & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") + (b & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")
    if family == 2:
        return str(ipaddress.IPv4Address(raw[:4]))
    if family == 10:
        return str(ipaddress.IPv6Address(raw))
    return None


class KernelView:
    """One recording, sorted into ends and tables (see the module doc)."""

    def __init__(self, name: str = "kernel", host: str | None = None):
        self.name = name
        self.host = host
        self.startup: dict[str, Any] | None = None
        self.end: dict[str, Any] | None = None
        self.clocks: list[dict[str, Any]] = []
        self.ends: list[KEnd] = []
        self.addrs: list[str] = []
        self.counts: dict[str, int] = {}
        self.bad_records = 0
        self._ends_by_key: dict[tuple[int, int, int], KEnd] = {}
        self._addr_ids: dict[str, int] = {}
        self._raw_addr_ids: dict[tuple[int, int, int], int] = {}
        self._batches: list[dict[str, Any]] = []     # tables as read, chunk by chunk (see window())
        self._win: tuple[int, int] | None = None
        self._cache: dict[str, Any] = {}
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.netns_hosts: dict[int, str] = {}   # network namespace inode -> host
        self.infer_client_server = False        # see host_of
        self.raw = False                         # made from --raw records: no end record, no loss counters

    # ---- tables: every batch read so far, or the rows of the current window ---------------------------------
    _SCHEMAS = {"egress": _EGRESS, "echunks": _ECHUNK, "sacks": _SACK, "paths": _PATHEV, "rto": _RTO,
                "hb_sent": _HB, "hb_ack": _HB}

    def _table(self, name: str) -> Table:
        t = self._cache.get(name)
        if t is None:
            win = self._win
            parts = [b[name] for b in self._batches if name in b and len(b[name])
                     and (win is None or (b["lo"] < win[1] and b["hi"] >= win[0]))]   # (batches outside: none)
            t = Table.concat(parts) if parts else Table.empty(self._SCHEMAS[name])
            if win is not None and len(t):
                ts = t.ts
                if in_order(ts):                       # in time order (nearly always): a slice, no copy
                    t = t[int(np.searchsorted(ts, win[0], side="left")):int(np.searchsorted(ts, win[1], side="left"))]
                else:
                    t = t[(ts >= win[0]) & (ts < win[1])]
            self._cache[name] = t
        return t

    def _list(self, name: str) -> list[dict[str, Any]]:
        out = self._cache.get(name)
        if out is None:
            out = [r for b in self._batches for r in b.get(name, ())
                   if self._win is None or self._win[0] <= r.get("ts_ns", 0) < self._win[1]]
            self._cache[name] = out
        return out

    egress = property(lambda self: self._table("egress"))
    echunks = property(lambda self: self._table("echunks"))
    sacks = property(lambda self: self._table("sacks"))
    paths = property(lambda self: self._table("paths"))
    rto = property(lambda self: self._table("rto"))
    hb_sent = property(lambda self: self._table("hb_sent"))
    hb_ack = property(lambda self: self._table("hb_ack"))
    other = property(lambda self: self._list("other"))
    diag = property(lambda self: self._list("diag"))

    def window(self, lo: int | None, hi: int | None) -> None:
        """Show only rows with ``lo <= ts_ns < hi`` (None: everything read).  Ends, addresses and what the
        recording says about itself stay whole."""
        self._win = None if lo is None or hi is None else (lo, hi)
        self._cache.clear()

    def drop_before(self, t: int) -> None:
        """Forget the batches that end before ``t`` (streaming: memory stays bounded)."""
        self._batches = [b for b in self._batches if b["hi"] >= t]
        self._cache.clear()

    def _add_batch(self, batch: dict[str, Any]) -> None:
        ts = [int(v.ts.min()) for k, v in batch.items() if isinstance(v, Table) and len(v)]
        te = [int(v.ts.max()) for k, v in batch.items() if isinstance(v, Table) and len(v)]
        ts += [r["ts_ns"] for k in ("other", "diag") for r in batch.get(k, ()) if "ts_ns" in r]
        te += [r["ts_ns"] for k in ("other", "diag") for r in batch.get(k, ()) if "ts_ns" in r]
        if not ts:
            return
        batch["lo"], batch["hi"] = min(ts), max(te)
        self.first_ns = batch["lo"] if self.first_ns is None else min(self.first_ns, batch["lo"])
        self.last_ns = batch["hi"] if self.last_ns is None else max(self.last_ns, batch["hi"])
        self._batches.append(batch)
        self._cache.clear()

    def host_of(self, end: int) -> str | None:
        """The host an end lived on: its network namespace's label (one recording of several namespaces: the
        lab), else the recording's."""
        ns = self.ends[end].netns if 0 <= end < len(self.ends) else None
        if ns in self.netns_hosts:
            return self.netns_hosts[ns]
        if self.infer_client_server and ns is not None:
            # a lab bundle made before it recorded namespace inodes: the client's namespace is the one whose
            # ends opened their associations (COOKIE_WAIT)
            client = {e.netns for e in self.ends if e.states and e.states[0][1] in ("COOKIE_WAIT", "COOKIE_ECHOED")}
            if client:
                return "client" if ns in client else "server"
        return self.host

    def label_hosts(self, netns_hosts: dict[int, str]) -> None:
        """Name the host of each end by its network namespace inode (``{inode: "client"}``)."""
        self.netns_hosts.update(netns_hosts)

    @property
    def end_host_labels(self) -> set[str]:
        return {h for h in (self.host_of(e.id) for e in self.ends) if h is not None}

    # ---- what the recording says about itself ------------------------------------------------------------
    @property
    def hz(self) -> int | None:
        return (self.startup or {}).get("hz")

    @property
    def jiffy_ns(self) -> int | None:
        return 1_000_000_000 // self.hz if self.hz else None

    @property
    def source(self) -> str:
        """'bpf' (per-event probes) or 'diag' (sock_diag snapshots only: weaker evidence)."""
        return (self.startup or {}).get("source") or ("diag" if self.diag and not len(self.egress) else "bpf")

    @property
    def snapshots_only(self) -> bool:
        return self.source == "diag"

    def capability(self, event_type: str) -> bool:
        caps = (self.startup or {}).get("capabilities")
        if caps is None:
            return self.counts.get(event_type, 0) > 0
        return bool(caps.get(event_type))

    @property
    def level(self) -> str | None:
        """The probe level it was recorded at (``sctpcorr probe --level``); for a recording that does not say,
        the highest level whose event types it holds all of; None for diag snapshots or when nothing is known."""
        st = self.startup or {}
        if st.get("level") in LEVELS:
            return st["level"]
        caps = st.get("capabilities")
        if self.snapshots_only or not caps:
            return None
        have = {t for t, on in caps.items() if on}
        got = None
        for lv in LEVELS:
            if level_events(lv) <= have:
                got = lv
        return got

    def real_minus_mono(self) -> list[tuple[int, int, int]]:
        """Recorded CLOCK_REALTIME - CLOCK_MONOTONIC offsets: [(at_mono_ns, offset_ns, uncertainty_ns)]."""
        out = []
        for c in [(self.startup or {}).get("clock")] + self.clocks + [(self.end or {}).get("clock")]:
            if c and c.get("real_minus_mono_ns") is not None:
                out.append((int(c.get("at_mono_ns") or c.get("ts_ns") or 0), int(c["real_minus_mono_ns"]),
                            int(c.get("uncertainty_ns") or 0)))
        return out

    def losses(self) -> dict[str, Any]:
        """What the recording says it could not record: {lost: {type: n}, kprobe_missed (and
        ``missed_by_type``: {event type: n} from the kprobe names), recursion_misses, backlog_dropped,
        decode_errors, undecoded, truncated (no end record), bad_records}."""
        e = self.end or {}
        by_type: dict[str, int] = {}
        for name, v in (e.get("kprobe_profile") or {}).items():
            if v.get("misses"):
                t = _kprobe_event_type(name)
                by_type[t] = by_type.get(t, 0) + int(v["misses"])
        for name, n in (e.get("recursion_misses") or {}).items():
            t = _prog_event_type(name)
            by_type[t] = by_type.get(t, 0) + int(n)
        return {"lost": {k: v for k, v in (e.get("lost") or {}).items() if v},
                "missed_by_type": by_type,
                "kprobe_missed": int(e.get("kprobe_missed_total") or 0),
                "recursion_misses": int(e.get("recursion_misses_total") or 0),
                "backlog_dropped": int(e.get("backlog_dropped") or 0),
                "decode_errors": int(e.get("decode_errors") or 0),
                "undecoded": int(e.get("undecoded") or 0),
                "truncated": self.end is None and not self.raw,
                "bad_records": self.bad_records}

    # ---- building ---------------------------------------------------------------------------------------------
    @classmethod
    def build(cls, records: Iterable[dict[str, Any]], name: str = "kernel", host: str | None = None,
              bad_records: int = 0) -> KernelView:
        kv = cls(name, host)
        kv.bad_records = bad_records
        kv._build(records)
        return kv

    def _addr(self, a: Any, ids: dict[str, int] | None = None) -> int:
        if not a:
            return -1
        i = self._addr_ids.get(a)
        if i is None:
            i = self._addr_ids[a] = len(self.addrs)
            self.addrs.append(a)
        return i

    def _addr_id(self, family: int, a: int, b: int) -> int:
        """The address id of a raw record's (family, address bytes as two u64)."""
        k = (family, a, b)
        i = self._raw_addr_ids.get(k)
        if i is None:
            i = self._raw_addr_ids[k] = self._addr(_addr_str(family, a, b))
        return i

    def _addr_ids_by_rows(self, fam: np.ndarray, aa: np.ndarray, ab: np.ndarray) -> np.ndarray:
        """The address id of every row (the numpy numbering, for what _cjoin.addr_groups leaves: a family
        conflict): new addresses numbered in (family, address) order."""
        if not ab.any() and bool(((fam == 2) | (fam == 0)).all()):     # IPv4 (or none): one 32-bit key
            key = np.where(fam == 2, aa & 0xFFFFFFFF, -1)
            uk, inv = unique_inverse(key)
            ids = np.array([self._addr_id(2, k, 0) if k >= 0 else -1 for k in uk.tolist()], dtype=np.int32)
        else:
            order_ = np.lexsort((ab, aa, fam))
            new = np.zeros(len(fam), dtype=bool)
            new[:1] = True
            for x in (fam, aa, ab):
                sx = x[order_]
                new[1:] |= sx[1:] != sx[:-1]
            firsts = order_[new]
            ids = np.array([self._addr_id(int(fam[j]), int(aa[j]), int(ab[j])) for j in firsts.tolist()],
                           dtype=np.int32)
            inv = np.empty(len(fam), dtype=np.int64)
            inv[order_] = np.cumsum(new) - 1
        return ids[inv.reshape(-1)]

    def _group_addr_ids(self, groups: list[tuple[int, int, int]]) -> np.ndarray:
        """The address id of each distinct (family, addr_a, addr_b) of a block (``_cjoin.addr_groups``), new ones
        numbered in the order the per-row code of ``_from_columns`` numbers them: IPv4 (or none) by the 32-bit
        address, ascending, else by (family, addr_a, addr_b)."""
        if all(b == 0 for _f, _a, b in groups) and all(f in (2, 0) for f, _a, _b in groups):
            keys = [a & 0xFFFFFFFF if f == 2 else -1 for f, a, _b in groups]
            by_key = {k: (self._addr_id(2, k, 0) if k >= 0 else -1) for k in sorted(set(keys))}
            return np.array([by_key[k] for k in keys], dtype=np.int32)
        ids: dict[int, int] = {}
        for g in sorted(range(len(groups)), key=lambda g: groups[g]):
            ids[g] = self._addr_id(*groups[g])
        return np.array([ids[g] for g in range(len(groups))], dtype=np.int32)

    def add_records(self, records: Iterable[dict[str, Any]]) -> None:
        """More decoded records (JSONL), e.g. the next chunk of a recording read as it goes."""
        self._build(records)

    def _build(self, records: Iterable[dict[str, Any]]) -> None:
        ends = self._ends_by_key
        addr_ids = self._addr_ids
        eg, ch, sk, pa, rt = Rows(_EGRESS), Rows(_ECHUNK), Rows(_SACK), Rows(_PATHEV), Rows(_RTO)
        hs, ha = Rows(_HB), Rows(_HB)
        other: list[dict[str, Any]] = []
        diag: list[dict[str, Any]] = []
        counts = self.counts
        for r in records:
            t = r.get("type")
            if t == "startup":
                if self.startup is None:
                    self.startup = r
                continue
            if t == "end":
                self.end = r
                continue
            if t == "clock":
                self.clocks.append(r)
                continue
            if t == "toggle" or t is None:
                continue
            counts[t] = counts.get(t, 0) + 1
            ts = r.get("ts_ns")
            my_vtag = r.get("my_vtag")
            if ts is None or not my_vtag:
                continue
            key = (int(r.get("netns") or 0), int(r["lport"]), int(my_vtag))
            e = ends.get(key)
            if e is None:
                e = ends[key] = KEnd(len(self.ends), key[0], key[1], int(r.get("pport") or 0), key[2],
                                     int(r.get("peer_vtag") or 0), str(r.get("asoc") or ""),
                                     int(r.get("assoc_id") or 0), ts, ts)
                self.ends.append(e)
            else:
                if ts < e.first_ns:
                    e.first_ns = ts
                if ts > e.last_ns:
                    e.last_ns = ts
                if not e.peer_vtag and r.get("peer_vtag"):
                    e.peer_vtag = int(r["peer_vtag"])
                if not e.assoc_id and r.get("assoc_id"):
                    e.assoc_id = int(r["assoc_id"])
            e.events += 1
            st = r.get("state")
            if st and t != "diag" and (not e.states or e.states[-1][1] != st):
                e.states.append((ts, st))
            pa_addr = r.get("path_addr")
            if pa_addr:
                e.peer_addrs.add(pa_addr)
            p = self._addr(pa_addr, addr_ids)
            if t == "egress":
                row = eg.add(ts, r.get("jiffies") or 0, e.id, p, r.get("size") or 0, r.get("cwnd") or 0,
                             r.get("flight_size") or 0, r.get("a_rwnd") or 0, r.get("n_chunks") or 0,
                             bool(r.get("chunks_truncated")))
                for pos, c in enumerate(r.get("chunks") or ()):
                    ct = c.get("type")
                    code = CHUNK_CODE.get(ct, ct if isinstance(ct, int) else (int(ct) if str(ct).isdigit() else 255))
                    value = c.get("tsn", c.get("cum_tsn_ack", c.get("new_cum_tsn", c.get("value", 0)))) or 0
                    ch.add(ts, r.get("jiffies") or 0, e.id, p, code, value, c.get("sent_count") or 0,
                           c.get("sent_at_jiffies") or 0, RTX_CODE.get(c.get("rtx_reason"), 5), c.get("length") or 0,
                           c.get("flags") or 0, pos, r.get("a_rwnd") or 0)
                del row
            elif t == "sack":
                sk.add(ts, r.get("jiffies") or 0, e.id, p, r["cum_tsn_ack"], r.get("a_rwnd") or 0,
                       r.get("n_gap_blocks") or 0, r.get("n_dup_tsns") or 0, r.get("peer_rwnd") or 0,
                       r.get("outstanding_bytes") or 0, r.get("next_tsn") or 0, r.get("ctsn_ack_point") or 0,
                       r.get("pathmtu") or 0, r.get("out_qlen") or 0)
            elif t == "path":
                pa.add(ts, e.id, p, r.get("cwnd") or 0, r.get("ssthresh") or 0, r.get("flight_size") or 0,
                       PATH_STATE_CODE.get(r.get("path_state"), 255))
            elif t == "rto_update":
                rt.add(ts, r.get("jiffies") or 0, e.id, p, r["rtt_jiffies"], r.get("srtt_before_jiffies") or 0,
                       r.get("rttvar_before_jiffies") or 0, r.get("rto_before_jiffies") or 0,
                       r.get("srtt_jiffies") or 0, r.get("rttvar_jiffies") or 0, r.get("rto_jiffies") or 0,
                       r.get("rto_min_jiffies") or 0, r.get("rto_max_jiffies") or 0,
                       r.get("source") == "heartbeat", bool(r.get("paired", True)))
            elif t == "hb_sent":
                hs.add(ts, r.get("jiffies") or 0, e.id, p, _hex(r.get("hb_nonce")), r.get("sent_at_jiffies") or 0,
                       0, r.get("rto_jiffies") or 0)
            elif t == "hb_ack":
                ha.add(ts, r.get("jiffies") or 0, e.id, p, _hex(r.get("hb_nonce")), r.get("sent_at_jiffies") or 0,
                       r.get("rtt_jiffies") or 0, 0)
            elif t == "diag":
                diag.append({**r, "end": e.id})
            else:
                other.append({**r, "end": e.id})
        tables = {"egress": eg.table(), "echunks": ch.table(), "sacks": sk.table(), "paths": pa.table(),
                  "rto": rt.table(), "hb_sent": hs.table(), "hb_ack": ha.table()}
        self.bad_records += sum(r.dropped for r in (eg, ch, sk, pa, rt, hs, ha))
        self._add_batch({**tables, "other": other, "diag": diag})

    # ---- --raw records, vectorized --------------------------------------------------------------------------
    @classmethod
    def build_raw(cls, data: bytes, hz: int | None, name: str = "kernel", host: str | None = None) -> KernelView:
        """A recording of ``--raw`` records (``<u32 len><ABI struct>``...), built column by column: a million
        events are a few numpy passes, not a million Python objects.  Derived events (derive.py) are not made:
        the correlator reads the samples they come from directly."""
        kv = cls(name, host)
        kv.raw = True
        kv.startup = {"type": "startup", "tool": "sctpcorr probe", "source": "bpf", "hz": hz,
                      "note": "from --raw records: no clock offsets, no losses recorded"}
        if kv.add_raw(data) != len(data):
            kv.bad_records += 1       # a torn last record
        return kv

    def add_raw(self, data: bytes) -> int:
        """More --raw records (the next block of a recording read as it goes); returns the bytes consumed (a
        torn last record is left for the next block).  The C reader (``_ringbuf.columns``) writes every field
        read here into an int64 column in one pass; the rare event types come back as records."""
        parts, used, bad = raw_columns(data)
        self.bad_records += bad
        self.add_columns(parts)
        return used

    def add_columns(self, parts: list[dict[int, Any]]) -> None:
        """What ``_ringbuf.columns`` made of consecutive pieces of --raw records, as one batch."""
        from sctpcorr.kernel.abi import EVENT_TYPES

        cols: dict[str, dict[str, np.ndarray]] = {}
        rare: dict[str, np.ndarray] = {}
        codes = sorted({c for p in parts for c in p})
        for code in codes:
            if code not in EVENT_TYPES:
                self.bad_records += 1
                continue
            tname, struct_cls = EVENT_TYPES[code]
            vs = [p[code] for p in parts if code in p]
            if isinstance(vs[0], dict):
                if len(vs) == 1:
                    cols[tname] = {k: np.frombuffer(x, dtype=np.int64) for k, x in vs[0].items()}
                    continue
                c = {k: np.concatenate([np.frombuffer(v[k], dtype=np.int64) for v in vs]) for k in vs[0]}
                if "c.row" in c:     # a chunk's egress row counts from its piece's first: from the batch's
                    rows = np.cumsum([0] + [len(v["ts_ns"]) // 8 for v in vs[:-1]])
                    c["c.row"] += np.repeat(rows, [len(v["c.row"]) // 8 for v in vs])
                cols[tname] = c
                continue
            v = vs[0] if len(vs) == 1 else b"".join(vs)
            dt = _dtype_of(struct_cls)
            n = len(v) // dt.itemsize
            if n * dt.itemsize != len(v):
                self.bad_records += 1
                continue
            arr = np.frombuffer(v, dtype=dt, count=n)
            # the C reader concatenates a kept type's records at the lengths they came with: a record longer or
            # shorter than the structure (a corrupt file) shifts the ones after it, whose own type field then
            # disagrees with the frame's: those are counted, not read as garbage (nor raised by abi.decode)
            same = arr["hdr"]["type"] == code
            if not same.all():
                self.bad_records += int(len(same) - same.sum())
                arr = arr[same]
            rare[tname] = arr
        self._from_columns(cols, rare)

    _HDR = ("ts_ns", "netns", "lport", "my_vtag", "pport", "peer_vtag", "asoc", "assoc_id", "state")

    def _from_columns(self, cols: dict[str, dict[str, np.ndarray]], rare: dict[str, np.ndarray]) -> None:
        """One block of raw records into tables: ``cols`` (event type -> int64 columns, see columns.c) and
        ``rare`` (event type -> records as structured arrays of the ctypes mirrors)."""
        from sctpcorr.kernel.abi import ASSOC_STATES

        names = sorted(t for t in cols if len(cols[t]["ts_ns"])) + sorted(t for t in rare if len(rare[t]))
        if not names:
            return
        for t in names:
            self.counts[t] = self.counts.get(t, 0) + (len(cols[t]["ts_ns"]) if t in cols else len(rare[t]))

        def hdr(t: str, f: str) -> np.ndarray:
            return cols[t][f] if t in cols else rare[t]["hdr"][f].astype(np.int64)

        sizes = [len(hdr(t, "ts_ns")) for t in names]

        def cat(f: str) -> np.ndarray:
            return np.concatenate([hdr(t, f) for t in names])

        # the ends: one pass in C over the header columns (_cjoin.end_groups), then a few Python steps per end
        from sctpcorr.correlate import _cjoin

        gid = np.empty(sum(sizes), dtype=np.int64)
        groups = _cjoin.end_groups(gid, [tuple(np.ascontiguousarray(hdr(t, f), dtype=np.int64) for f in
                                               ("ts_ns", "netns", "lport", "my_vtag", "state")) for t in names])
        once: dict[str, np.ndarray] = {}

        def col(f: str) -> np.ndarray:      # read for new ends, state changes (after the first block: hardly ever)
            if f not in once:
                once[f] = cat(f)
            return once[f]

        end_of_group = np.full(len(groups), -1, dtype=np.int32)
        # in the order of their keys (as sorted 64-bit integers); each end's rows in the order they came
        for g in sorted(range(len(groups)), key=lambda g: groups[g][0]):
            _key, i, n, t_lo, t_hi, s_lo, s_hi, g_ns, g_lp, g_vt = groups[g]
            if not g_vt:
                continue
            k = (g_ns, g_lp, g_vt)
            e = self._ends_by_key.get(k)
            if e is None:
                e = self._ends_by_key[k] = KEnd(len(self.ends), k[0], k[1], int(col("pport")[i]), k[2], 0,
                                                f"0x{int(col('asoc')[i]) & 0xFFFFFFFFFFFFFFFF:016x}",
                                                int(col("assoc_id")[i]), t_lo, t_hi)
                self.ends.append(e)
            e.first_ns, e.last_ns = min(e.first_ns, t_lo), max(e.last_ns, t_hi)
            e.events += n
            rows = None
            if not e.peer_vtag:
                rows = np.flatnonzero(gid == g)
                e.peer_vtag = int(col("peer_vtag")[rows].max())
            if not e.assoc_id:
                rows = np.flatnonzero(gid == g) if rows is None else rows
                e.assoc_id = int(col("assoc_id")[rows].max())
            if e.states and s_lo == s_hi and ASSOC_STATES.get(s_lo, str(s_lo)) == e.states[-1][1]:
                pass                         # no change of state in this block (the usual case): nothing to sort
            elif len(e.states) < 16:         # the first changes are what the host labels read
                rows = np.flatnonzero(gid == g) if rows is None else rows
                tsr = col("ts_ns")[rows]
                st = col("state")[rows][np.argsort(tsr, kind="stable")]
                chg = np.flatnonzero(np.concatenate([[True], st[1:] != st[:-1]]))
                tss = np.sort(tsr)
                for j in chg[:16].tolist():
                    name = ASSOC_STATES.get(int(st[j]), str(int(st[j])))
                    if not e.states or e.states[-1][1] != name:
                        e.states.append((int(tss[j]), name))
            end_of_group[g] = e.id
        end_of_row = end_of_group[gid]
        ends_by_type, o = {}, 0
        for t, n in zip(names, sizes):
            ends_by_type[t] = end_of_row[o:o + n]
            o += n
        # path addresses -> ids, one lookup per distinct (family, 16 address bytes)
        path_ids: dict[str, np.ndarray] = {}
        for t in cols:
            c = cols[t]
            fam, aa, ab = c["family"], c["addr_a"], c["addr_b"]
            dense = np.empty(len(fam), dtype=np.int64)
            got = _cjoin.addr_groups(dense, fam, aa, ab, ends_by_type[t].astype(np.int64))
            if got is not None:     # the distinct addresses (a handful) found by one C pass, numbered as below
                groups, pairs = got
                gid = self._group_addr_ids(groups)
                path_ids[t] = gid[dense]
                for eid, g in pairs:
                    pid = int(gid[g])
                    if eid >= 0 and 0 <= pid < len(self.addrs):
                        self.ends[eid].peer_addrs.add(self.addrs[pid])
                continue
            path_ids[t] = self._addr_ids_by_rows(fam, aa, ab)
            m = len(self.addrs) + 1          # each (end, address) once: small numbers, counted, not sorted
            pe = small_unique((ends_by_type[t].astype(np.int64) + 1) * m + path_ids[t].astype(np.int64) + 1)
            for v in pe.tolist():
                eid, pid = v // m - 1, v % m - 1
                if eid >= 0 and 0 <= pid < len(self.addrs):
                    self.ends[eid].peer_addrs.add(self.addrs[pid])
        batch: dict[str, Any] = {}
        if "egress" in cols:
            a = cols["egress"]
            eg = Table({"ts": a["ts_ns"], "jif": a["jiffies"], "end": ends_by_type["egress"],
                        "path": path_ids["egress"], "size": a["size"].astype(np.int32), "cwnd": a["cwnd"],
                        "flight": a["flight_size"], "a_rwnd": a["a_rwnd"], "nchunks": a["n_chunks"].astype(np.int32),
                        "truncated": a["n_chunks"] > a["n_recorded"]})
            batch["egress"] = eg
            eg_idx = a["c.row"]
            ref = eg.jif[eg_idx]
            sent_at = (ref & ~0xFFFFFFFF) | a["c.sent_at_lo"]
            sent_at = np.where(sent_at > ref, sent_at - (1 << 32), sent_at)
            ctype, scount = a["c.type"], a["c.sent_count"]
            is_data = (ctype == 0) | (ctype == 64)
            batch["echunks"] = Table({
                "ts": eg.ts[eg_idx], "jif": ref, "end": eg.end[eg_idx], "path": eg.path[eg_idx],
                "type": ctype.astype(np.int16), "value": a["c.value"].astype(np.uint32),
                "sent_count": scount.astype(np.int32), "sent_at": np.where(is_data, sent_at, 0),
                "rtx": np.where(is_data & (scount > 1), a["c.rtx_reason"], 0).astype(np.int8),
                "length": a["c.length"].astype(np.int32), "flags": a["c.flags"].astype(np.int16),
                "pos": a["c.pos"].astype(np.int16), "a_rwnd": eg.a_rwnd[eg_idx]})
        if "sack" in cols:
            a = cols["sack"]
            batch["sacks"] = Table({
                "ts": a["ts_ns"], "jif": a["jiffies"], "end": ends_by_type["sack"], "path": path_ids["sack"],
                "cum": a["cum_tsn_ack"].astype(np.uint32), "a_rwnd": a["a_rwnd"],
                "ngap": a["n_gap_blocks"].astype(np.int32), "ndup": a["n_dup_tsns"].astype(np.int32),
                "peer_rwnd": a["peer_rwnd"], "outstanding": a["outstanding_bytes"],
                "next_tsn": a["next_tsn"].astype(np.uint32), "ctsn": a["ctsn_ack_point"].astype(np.uint32),
                "pathmtu": a["pathmtu"].astype(np.int32), "out_qlen": a["out_qlen"]})
        if "path" in cols:
            a = cols["path"]
            batch["paths"] = Table({
                "ts": a["ts_ns"], "end": ends_by_type["path"], "path": path_ids["path"], "cwnd": a["cwnd"],
                "ssthresh": a["ssthresh"], "flight": a["flight_size"], "state": a["path_state"].astype(np.int16)})
        if "rto_update" in cols:
            a = cols["rto_update"]
            batch["rto"] = Table({
                "ts": a["ts_ns"], "jif": a["jiffies"], "end": ends_by_type["rto_update"],
                "path": path_ids["rto_update"], "rtt_j": a["rtt_j"], "srtt_b": a["srtt_before_j"],
                "rttvar_b": a["rttvar_before_j"], "rto_b": a["rto_before_j"], "srtt": a["srtt_j"],
                "rttvar": a["rttvar_j"], "rto": a["rto_j"], "rto_min": a["rto_min_j"], "rto_max": a["rto_max_j"],
                "hb": a["source"] == 1, "paired": a["paired"] > 0})
        for t in ("hb_sent", "hb_ack"):
            if t in cols:
                a = cols[t]
                batch[t] = Table({
                    "ts": a["ts_ns"], "jif": a["jiffies"], "end": ends_by_type[t], "path": path_ids[t],
                    "nonce": a["hb_nonce"].view(np.uint64), "sent_at": a["sent_at_j"],
                    "rtt_j": a["rtt_j"] if t == "hb_ack" else np.zeros(len(a["ts_ns"]), dtype=np.int64),
                    "rto_j": a["rto_j"]})
        # the rare events the checks read, as the JSONL recorder would write them (the others are counted)
        other: list[dict[str, Any]] = []
        # (cwnd, rtx_mark and t3_expire: the retransmission causes checks.retransmissions reads)
        for t in ("path_state", "assoc_change", "cwnd", "rtx_mark", "t3_expire"):
            if t not in rare:
                continue
            eids = ends_by_type[t].tolist()
            keep = [i for i, eid in enumerate(eids) if eid >= 0]
            for i, rec in zip(keep, decode_rare(t, rare[t][keep] if len(keep) < len(eids) else rare[t])):
                rec["end"] = eids[i]
                other.append(rec)
        batch["other"] = other
        self._add_batch(batch)

    # ---- lookups --------------------------------------------------------------------------------------------
    def of(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.other if e.get("type") in types]

    def addr(self, i: int) -> str | None:
        return self.addrs[i] if 0 <= i < len(self.addrs) else None

    def summary(self) -> dict[str, Any]:
        s = self.startup or {}
        return {"name": self.name, "host": self.host, "source": self.source, "kernel": s.get("kernel_release"),
                "hz": self.hz, "events": sum(self.counts.values()), "by_type": dict(sorted(self.counts.items())),
                "ends": len(self.ends), "first_ns": self.first_ns, "last_ns": self.last_ns,
                "missing_probes": [m.get("probe") for m in s.get("missing") or []], "losses": self.losses()}
