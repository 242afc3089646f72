"""The Python mirror of ``bpf/sctpcorr_abi.h`` and the decoder of recorded event bytes (no BCC, no root).

Every ``ctypes.Structure`` here mirrors one struct of the C header field by field (same names, same order, the
same explicit padding); ``tests/kernel/test_abi_layout.py`` compiles the header with the host compiler and checks
``sizeof``/``offsetof`` of every struct and field against these classes.  Change both together and bump
``ABI_VERSION`` (the C ``SCTPCORR_ABI_VERSION``).

``decode(raw, hz)`` turns the bytes of one ring-buffer record into the flat dict written to the JSONL file
(field names and units: docs/probe.md, FIELDS).  Every quantity the kernel keeps in jiffies is given twice:
``<name>_jiffies`` exactly as read, and ``<name>_ns`` converted with the running kernel's HZ (omitted when HZ is
unknown).  Kernel addresses and the 64-bit heartbeat nonce are hex strings (``"0x..."``) so that JSON readers that
store numbers as doubles keep them exact; TSNs, vtags and ports are integers.

Standard library only.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
from typing import Any

__all__ = [
    "ABI_VERSION",
    "MAX_CHUNKS",
    "NR_TYPES",
    "COUNTERS",
    "EVENT_TYPES",
    "STRUCTS",
    "AbiError",
    "Hdr",
    "decode",
    "encode_struct",
    "jiffies_to_ns",
    "event_type_of",
]

ABI_VERSION = 2
MAX_CHUNKS = 16
NR_TYPES = 16

u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64


class AbiError(ValueError):
    """Bytes that are not a complete event of a known type (a truncated or foreign record)."""


class _S(ctypes.Structure):
    """Native byte order and alignment: the same rules the C compiler applies to the header."""


class Hdr(_S):
    _fields_ = [
        ("type", u32), ("cpu", u32), ("ts_ns", u64), ("jiffies", u64), ("asoc", u64),
        ("netns", u32), ("tgid", u32), ("my_vtag", u32), ("peer_vtag", u32), ("assoc_id", u32),
        ("lport", u16), ("pport", u16), ("state", u8), ("_pad0", u8 * 3), ("_pad1", u32),
    ]


class Addr(_S):
    _fields_ = [("family", u16), ("port", u16), ("_pad", u32), ("addr", u8 * 16)]


class Path(_S):
    _fields_ = [("addr", Addr), ("transport", u64), ("hb_nonce", u64)]


class RtoUpdate(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("rtt_j", u32), ("srtt_before_j", u32), ("rttvar_before_j", u32),
        ("srtt_j", u32), ("rttvar_j", u32), ("source", u8), ("paired", u8), ("_pad0", u16),
        ("rto_before_j", u64), ("rto_j", u64), ("rto_min_j", u64), ("rto_max_j", u64),
    ]


class Sack(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("cum_tsn_ack", u32), ("a_rwnd", u32), ("n_gap_blocks", u16),
        ("n_dup_tsns", u16), ("unack_data", u16), ("_pad0", u16), ("peer_rwnd", u32), ("pathmtu", u32),
        ("mark", u32), ("next_tsn", u32), ("ctsn_ack_point", u32), ("outstanding_bytes", u32), ("out_qlen", u32),
        ("sndbuf_used", u32), ("sk_wmem_queued", u32), ("sk_sndbuf", u32),
    ]


class PathInfo(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("cwnd", u32), ("ssthresh", u32), ("flight_size", u32),
        ("partial_bytes_acked", u32), ("pathmtu", u32), ("srtt_j", u32), ("rttvar_j", u32), ("rtt_j", u32),
        ("rto_j", u64), ("error_count", u16), ("primary", u8), ("active", u8), ("path_state", u8),
        ("_pad0", u8 * 3),
    ]


class Cwnd(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("op", u8), ("reason", u8), ("fast_recovery", u8), ("paired", u8),
        ("cwnd_before", u32), ("cwnd_after", u32), ("ssthresh_before", u32), ("ssthresh_after", u32),
        ("pba_before", u32), ("pba_after", u32), ("flight_size", u32), ("sack_ctsn", u32), ("bytes_acked", u32),
    ]


class RtxMark(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("reason", u8), ("_pad0", u8), ("error_count", u16), ("flight_size", u32),
        ("cwnd", u32), ("outstanding_bytes", u32), ("rto_j", u64),
    ]


class T3(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("rto_j", u64), ("flight_size", u32), ("cwnd", u32), ("error_count", u16),
        ("deferred", u8), ("_pad0", u8 * 5),
    ]


class Hb(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("sent_at_j", u64), ("rtt_j", u32), ("probe_size", u32), ("rto_j", u64),
        ("hbinterval_j", u32), ("error_count", u16), ("path_state", u8), ("_pad0", u8),
    ]


class PathState(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("command", u8), ("state_before", u8), ("state_after", u8),
        ("primary", u8), ("active", u8), ("paired", u8), ("error_count", u16), ("sn_error", u32), ("_pad0", u32),
    ]


class AssocChange(_S):
    _fields_ = [
        ("hdr", Hdr), ("kind", u8), ("_pad0", u8), ("sac_state", u16), ("sac_error", u16), ("sac_flags", u16),
        ("outbound_streams", u16), ("inbound_streams", u16), ("_pad1", u32),
    ]


class Chunk(_S):
    _fields_ = [
        ("value", u32), ("length", u16), ("type", u8), ("flags", u8), ("sent_count", u16), ("fast_rtx", u8),
        ("rtx_reason", u8), ("sent_at_lo", u32),
    ]


class Egress(_S):
    _fields_ = [
        ("hdr", Hdr), ("path", Path), ("vtag", u32), ("sport", u16), ("dport", u16), ("size", u32),
        ("n_chunks", u16), ("n_recorded", u16), ("cwnd", u32), ("flight_size", u32), ("ssthresh", u32),
        ("pba", u32), ("rwnd", u32), ("a_rwnd", u32), ("rwnd_over", u32), ("rwnd_press", u32), ("rmem_alloc", u32),
        ("rcvbuf", u32), ("chunks", Chunk * MAX_CHUNKS),
    ]


# C struct name -> mirror (the ABI test walks this table)
STRUCTS: dict[str, type[ctypes.Structure]] = {
    "sctpcorr_hdr": Hdr, "sctpcorr_addr": Addr, "sctpcorr_path": Path, "sctpcorr_rto_update": RtoUpdate,
    "sctpcorr_sack": Sack, "sctpcorr_pathinfo": PathInfo, "sctpcorr_cwnd": Cwnd, "sctpcorr_rtx_mark": RtxMark,
    "sctpcorr_t3": T3, "sctpcorr_hb": Hb, "sctpcorr_path_state": PathState,
    "sctpcorr_assoc_change": AssocChange, "sctpcorr_chunk": Chunk,
    "sctpcorr_egress": Egress,
}

# enum sctpcorr_event_type value -> (JSONL type name, struct)
EVENT_TYPES: dict[int, tuple[str, type[ctypes.Structure]]] = {
    1: ("rto_update", RtoUpdate),
    2: ("sack", Sack),
    3: ("path", PathInfo),
    4: ("cwnd", Cwnd),
    5: ("rtx_mark", RtxMark),
    6: ("t3_expire", T3),
    7: ("hb_sent", Hb),
    8: ("hb_ack", Hb),
    9: ("path_state", PathState),
    12: ("egress", Egress),
    13: ("assoc_change", AssocChange),
}
EVENT_NAMES = {v[0]: k for k, v in EVENT_TYPES.items()}
_WITH_PATH = {cls for _n, cls in EVENT_TYPES.values() if any(f[0] == "path" for f in cls._fields_)}

# enum sctpcorr_counter: index -> name (EMITTED+type and LOST+type are expanded by counter_names())
_MISC_COUNTERS = [
    "filtered", "inflight_full", "inflight_stale", "ret_unpaired", "chunks_truncated", "no_asoc", "hb_sample", "rtx_cause_set",
    "path_unchanged",
]
NR_COUNTERS = 2 * NR_TYPES + len(_MISC_COUNTERS)


def counter_names() -> list[str]:
    """Name of every slot of the BPF counter array, in index order."""
    names = []
    for base in ("emitted", "lost"):
        for t in range(NR_TYPES):
            names.append(f"{base}.{EVENT_TYPES[t][0] if t in EVENT_TYPES else t}")
    return names + _MISC_COUNTERS


COUNTERS = counter_names()

ASSOC_STATES = {0: "CLOSED", 1: "COOKIE_WAIT", 2: "COOKIE_ECHOED", 3: "ESTABLISHED", 4: "SHUTDOWN_PENDING",
                5: "SHUTDOWN_SENT", 6: "SHUTDOWN_RECEIVED", 7: "SHUTDOWN_ACK_SENT"}
PATH_STATES = {0: "INACTIVE", 1: "PF", 2: "ACTIVE", 3: "UNCONFIRMED", 255: "UNKNOWN", 0xFFFF: "UNKNOWN"}
CHUNK_TYPES = {0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT_ACK", 6: "ABORT",
               7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECNE",
               13: "CWR", 14: "SHUTDOWN_COMPLETE", 15: "AUTH", 16: "NR_SACK", 64: "I_DATA", 128: "ASCONF_ACK",
               130: "RE_CONFIG", 132: "PAD", 192: "FORWARD_TSN", 193: "ASCONF", 194: "I_FORWARD_TSN"}
RTX_REASONS = {0: None, 1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}
RTT_SOURCES = {0: "data", 1: "heartbeat"}
LOWER_CWND_REASONS = {1: "t3_rtx", 2: "fast_rtx", 3: "ecne", 4: "inactive"}
RAISE_CWND_REASONS = {0: "slow_start", 1: "congestion_avoidance"}
TRANSPORT_COMMANDS = {0: "UP", 1: "DOWN", 2: "PF"}
SN_ERRORS = {0: "FAILED_THRESHOLD", 1: "RECEIVED_SACK", 2: "HEARTBEAT_SUCCESS", 3: "RESPONSE_TO_USER_REQ",
             4: "INTERNAL_ERROR", 5: "SHUTDOWN_GUARD_EXPIRES", 6: "PEER_FAULTY"}
SAC_STATES = {0: "COMM_UP", 1: "COMM_LOST", 2: "RESTART", 3: "SHUTDOWN_COMP", 4: "CANT_STR_ASSOC"}

_TSN_CHUNKS = {0: "tsn", 64: "tsn", 3: "cum_tsn_ack", 16: "cum_tsn_ack", 192: "new_cum_tsn", 194: "new_cum_tsn"}


def jiffies_to_ns(j: int, hz: int) -> int:
    """Jiffies to nanoseconds with the kernel's HZ (exact for HZ 100/250/1000; floor otherwise)."""
    return j * 1_000_000_000 // hz


def event_type_of(raw: bytes) -> int:
    if len(raw) < 4:
        raise AbiError(f"{len(raw)} bytes: shorter than an event type")
    return int.from_bytes(raw[:4], "little")


def _widen(lo32: int, ref: int) -> int:
    """The 64-bit jiffies value whose low 32 bits are ``lo32``, at or just before ``ref``."""
    v = (ref & ~0xFFFFFFFF) | lo32
    return v - (1 << 32) if v > ref else v


def _hex(v: int) -> str:
    return f"0x{v:016x}"


def _addr(a: Addr) -> str | None:
    if a.family == 2:
        return socket.inet_ntop(socket.AF_INET, bytes(a.addr[:4]))
    if a.family == 10:
        return str(ipaddress.IPv6Address(bytes(a.addr)))      # the compressed form, as everywhere else
    return None


def decode(raw: bytes, hz: int | None = None) -> dict[str, Any]:
    """One ring-buffer record -> one JSONL record (a flat dict). Raises AbiError for a short or unknown record."""
    etype = event_type_of(raw)
    try:
        name, cls = EVENT_TYPES[etype]
    except KeyError:
        raise AbiError(f"unknown event type {etype}") from None
    if len(raw) < ctypes.sizeof(cls):
        raise AbiError(f"{name}: {len(raw)} bytes, the structure has {ctypes.sizeof(cls)}")
    ev = cls.from_buffer_copy(raw[: ctypes.sizeof(cls)])
    h = ev.hdr
    rec: dict[str, Any] = {
        "type": name, "ts_ns": h.ts_ns, "jiffies": h.jiffies, "cpu": h.cpu, "tgid": h.tgid, "netns": h.netns,
        "asoc": _hex(h.asoc), "assoc_id": h.assoc_id, "my_vtag": h.my_vtag, "peer_vtag": h.peer_vtag,
        "lport": h.lport, "pport": h.pport, "state": ASSOC_STATES.get(h.state, str(h.state)),
    }

    def jif(key: str, value: int) -> None:
        rec[f"{key}_jiffies"] = value
        if hz:
            rec[f"{key}_ns"] = jiffies_to_ns(value, hz)

    if cls in _WITH_PATH:
        p = ev.path
        rec.update(path_addr=_addr(p.addr), path_port=p.addr.port or None,
                   transport=_hex(p.transport) if p.transport else None,
                   hb_nonce=_hex(p.hb_nonce) if (p.hb_nonce or p.transport) else None)

    if isinstance(ev, RtoUpdate):
        rec.update(source=RTT_SOURCES.get(ev.source, str(ev.source)), paired=bool(ev.paired))
        jif("rtt", ev.rtt_j)
        jif("srtt_before", ev.srtt_before_j)
        jif("rttvar_before", ev.rttvar_before_j)
        jif("rto_before", ev.rto_before_j)
        jif("srtt", ev.srtt_j)
        jif("rttvar", ev.rttvar_j)
        jif("rto", ev.rto_j)
        jif("rto_min", ev.rto_min_j)
        jif("rto_max", ev.rto_max_j)
    elif isinstance(ev, Sack):
        for k in ("cum_tsn_ack", "a_rwnd", "n_gap_blocks", "n_dup_tsns", "unack_data", "peer_rwnd", "pathmtu",
                  "mark", "next_tsn", "ctsn_ack_point", "outstanding_bytes", "out_qlen", "sndbuf_used",
                  "sk_wmem_queued", "sk_sndbuf"):
            rec[k] = getattr(ev, k)
    elif isinstance(ev, PathInfo):
        for k in ("cwnd", "ssthresh", "flight_size", "partial_bytes_acked", "pathmtu", "error_count"):
            rec[k] = getattr(ev, k)
        rec.update(primary=bool(ev.primary), active=bool(ev.active),
                   path_state=PATH_STATES.get(ev.path_state, str(ev.path_state)))
        jif("srtt", ev.srtt_j)
        jif("rttvar", ev.rttvar_j)
        jif("rtt", ev.rtt_j)
        jif("rto", ev.rto_j)
    elif isinstance(ev, Cwnd):
        raise_ = ev.op == 1
        rec.update(op="raise" if raise_ else "lower",
                   reason=(RAISE_CWND_REASONS if raise_ else LOWER_CWND_REASONS).get(ev.reason, str(ev.reason)),
                   fast_recovery=bool(ev.fast_recovery))
        for k in ("cwnd_before", "cwnd_after", "ssthresh_before", "ssthresh_after", "pba_before", "pba_after",
                  "flight_size"):
            rec[k] = getattr(ev, k)
        if raise_:
            rec.update(sack_ctsn=ev.sack_ctsn, bytes_acked=ev.bytes_acked)
    elif isinstance(ev, RtxMark):
        rec.update(reason=RTX_REASONS.get(ev.reason) or str(ev.reason), error_count=ev.error_count,
                   flight_size=ev.flight_size, cwnd=ev.cwnd, outstanding_bytes=ev.outstanding_bytes)
        jif("rto", ev.rto_j)
    elif isinstance(ev, T3):
        rec.update(flight_size=ev.flight_size, cwnd=ev.cwnd, error_count=ev.error_count,
                   deferred=bool(ev.deferred))
        jif("rto", ev.rto_j)
    elif isinstance(ev, Hb):
        rec.update(sent_at_jiffies=ev.sent_at_j, probe_size=ev.probe_size)
        if name == "hb_sent":
            rec.update(error_count=ev.error_count, path_state=PATH_STATES.get(ev.path_state, str(ev.path_state)))
            jif("rto", ev.rto_j)
            jif("hbinterval", ev.hbinterval_j)
        else:
            jif("rtt", ev.rtt_j)
    elif isinstance(ev, PathState):
        rec.update(command=TRANSPORT_COMMANDS.get(ev.command, str(ev.command)),
                   sn_error=SN_ERRORS.get(ev.sn_error, str(ev.sn_error)),
                   state_before=PATH_STATES.get(ev.state_before, str(ev.state_before)),
                   state_after=PATH_STATES.get(ev.state_after, str(ev.state_after)),
                   primary=bool(ev.primary), active=bool(ev.active), error_count=ev.error_count)
    elif isinstance(ev, AssocChange):
        if ev.kind == 1:
            rec.update(kind="notification", sac_state=SAC_STATES.get(ev.sac_state, str(ev.sac_state)),
                       sac_error=ev.sac_error, sac_flags=ev.sac_flags, outbound_streams=ev.outbound_streams,
                       inbound_streams=ev.inbound_streams)
        else:
            rec.update(kind="freed")
    elif isinstance(ev, Egress):
        rec.update(vtag=ev.vtag, sport=ev.sport, dport=ev.dport, size=ev.size, n_chunks=ev.n_chunks,
                   cwnd=ev.cwnd, flight_size=ev.flight_size, ssthresh=ev.ssthresh, partial_bytes_acked=ev.pba,
                   rwnd=ev.rwnd, a_rwnd=ev.a_rwnd, rwnd_over=ev.rwnd_over, rwnd_press=ev.rwnd_press,
                   rmem_alloc=ev.rmem_alloc, rcvbuf=ev.rcvbuf)
        chunks = []
        for c in ev.chunks[: min(ev.n_recorded, MAX_CHUNKS)]:
            d: dict[str, Any] = {"type": CHUNK_TYPES.get(c.type, str(c.type)), "length": c.length,
                                 "flags": c.flags}
            d[_TSN_CHUNKS.get(c.type, "value")] = c.value
            if c.type in (0, 64):
                d.update(sent_count=c.sent_count, fast_rtx=c.fast_rtx,
                         rtx_reason=RTX_REASONS.get(c.rtx_reason, str(c.rtx_reason)),
                         sent_at_jiffies=_widen(c.sent_at_lo, h.jiffies))
            chunks.append(d)
        rec["chunks"] = chunks
        rec["chunks_truncated"] = ev.n_chunks > ev.n_recorded
        rec["retransmitted_tsns"] = [c["tsn"] for c in chunks if c.get("rtx_reason")]
    return rec


# ---- the inverse: JSONL events -> ABI records ------------------------------------------------------------------
_RTX_CODE = {v: k for k, v in RTX_REASONS.items()}
_CHUNK_CODE = {v: k for k, v in CHUNK_TYPES.items()}
_STATE_CODE = {v: k for k, v in ASSOC_STATES.items()}
_PSTATE_CODE = {v: k for k, v in PATH_STATES.items() if k < 256}


def _put_addr(a: Addr, ip: str | None, port: int | None) -> None:
    if not ip:
        return
    x = ipaddress.ip_address(ip)
    a.family = 2 if x.version == 4 else 10
    a.port = port or 0
    for i, b in enumerate(x.packed):
        a.addr[i] = b


def _put_hdr(h: Hdr, e: dict[str, Any], etype: int) -> None:
    h.type, h.cpu, h.ts_ns, h.jiffies = etype, e.get("cpu", 0), e["ts_ns"], e["jiffies"]
    h.asoc, h.netns, h.tgid = int(e["asoc"], 16), e["netns"], e.get("tgid", 0)
    h.my_vtag, h.peer_vtag, h.assoc_id = e["my_vtag"], e["peer_vtag"], e.get("assoc_id", 0)
    h.lport, h.pport, h.state = e["lport"], e["pport"], _STATE_CODE.get(e.get("state"), 0)


def _put_path(p: Path, e: dict[str, Any]) -> None:
    _put_addr(p.addr, e.get("path_addr"), e.get("path_port"))
    p.transport = int(e["transport"], 16) if e.get("transport") else 0
    p.hb_nonce = int(e["hb_nonce"], 16) if e.get("hb_nonce") else 0


def encode_struct(e: dict[str, Any]) -> ctypes.Structure | None:
    """The inverse of ``decode``: one JSONL event as its ABI structure (``bytes()`` of it is the ring-buffer
    record); None for a derived event (rwnd, cwnd raises, assoc_state), which has no record.  Tests and the
    correlator's benchmark use it to make --raw recordings from JSONL ones."""
    t = e["type"]
    by_name = {name: (code, cls) for code, (name, cls) in EVENT_TYPES.items()}
    if t not in by_name or e.get("derived"):
        return None
    code, cls = by_name[t]
    ev = cls()
    _put_hdr(ev.hdr, e, code)
    if hasattr(ev, "path"):
        _put_path(ev.path, e)
    if t == "rto_update":
        for f in ("rtt", "srtt_before", "rttvar_before", "srtt", "rttvar", "rto_before", "rto", "rto_min", "rto_max"):
            setattr(ev, f + "_j", e[f + "_jiffies"])
        ev.source, ev.paired = int(e["source"] == "heartbeat"), int(e["paired"])
    elif t == "sack":
        for k in ("cum_tsn_ack", "a_rwnd", "n_gap_blocks", "n_dup_tsns", "unack_data", "peer_rwnd", "pathmtu",
                  "mark", "next_tsn", "ctsn_ack_point", "outstanding_bytes", "out_qlen", "sndbuf_used",
                  "sk_wmem_queued", "sk_sndbuf"):
            setattr(ev, k, e[k])
    elif t == "path":
        for k in ("cwnd", "ssthresh", "flight_size", "partial_bytes_acked", "pathmtu", "error_count"):
            setattr(ev, k, e[k])
        for f in ("srtt", "rttvar", "rtt", "rto"):
            setattr(ev, f + "_j", e[f + "_jiffies"])
        ev.primary, ev.active = int(e["primary"]), int(e["active"])
        ev.path_state = _PSTATE_CODE.get(e["path_state"], 255)
    elif t == "cwnd":
        ev.op = 2
        ev.reason = {"t3_rtx": 1, "fast_rtx": 2, "ecne": 3, "inactive": 4}.get(e.get("reason"), 0)
        ev.fast_recovery, ev.paired = int(bool(e.get("fast_recovery"))), 1
        for k in ("cwnd_before", "cwnd_after", "ssthresh_before", "ssthresh_after", "pba_before", "pba_after",
                  "flight_size"):
            setattr(ev, k, e.get(k) or 0)
    elif t == "rtx_mark":
        ev.reason = _RTX_CODE.get(e["reason"], 5)
        ev.error_count, ev.flight_size, ev.cwnd, ev.outstanding_bytes, ev.rto_j = (
            e["error_count"], e["flight_size"], e["cwnd"], e["outstanding_bytes"], e["rto_jiffies"])
    elif t == "t3_expire":
        ev.rto_j, ev.flight_size, ev.cwnd, ev.error_count, ev.deferred = (
            e["rto_jiffies"], e["flight_size"], e["cwnd"], e["error_count"], int(e["deferred"]))
    elif t in ("hb_sent", "hb_ack"):
        ev.sent_at_j, ev.probe_size = e["sent_at_jiffies"], e.get("probe_size", 0)
        if t == "hb_sent":
            ev.rto_j, ev.hbinterval_j, ev.error_count = e["rto_jiffies"], e["hbinterval_jiffies"], e["error_count"]
            ev.path_state = _PSTATE_CODE.get(e["path_state"], 255)
        else:
            ev.rtt_j = e["rtt_jiffies"]
    elif t == "path_state":
        ev.command = {"UP": 0, "DOWN": 1, "PF": 2}[e["command"]]
        ev.state_before = _PSTATE_CODE.get(e["state_before"], 255)
        ev.state_after = _PSTATE_CODE.get(e["state_after"], 255)
        ev.primary, ev.active, ev.paired, ev.error_count = int(e["primary"]), int(e["active"]), 1, e["error_count"]
        ev.sn_error = {v: k for k, v in SN_ERRORS.items()}.get(e["sn_error"], 0)
    elif t == "assoc_change":
        ev.kind = 1 if e["kind"] == "notification" else 2
        if ev.kind == 1:
            ev.sac_state = {v: k for k, v in SAC_STATES.items()}[e["sac_state"]]
            ev.sac_error, ev.sac_flags = e.get("sac_error", 0), e.get("sac_flags", 0)
            ev.outbound_streams, ev.inbound_streams = e.get("outbound_streams", 0), e.get("inbound_streams", 0)
    elif t == "egress":
        ev.vtag, ev.sport, ev.dport, ev.size = e["vtag"], e["sport"], e["dport"], e["size"]
        ev.n_chunks, ev.n_recorded = e["n_chunks"], len(e["chunks"])
        for k, a in (("cwnd", "cwnd"), ("flight_size", "flight_size"), ("ssthresh", "ssthresh"),
                     ("partial_bytes_acked", "pba"), ("rwnd", "rwnd"), ("a_rwnd", "a_rwnd"),
                     ("rwnd_over", "rwnd_over"), ("rwnd_press", "rwnd_press"), ("rmem_alloc", "rmem_alloc"),
                     ("rcvbuf", "rcvbuf")):
            setattr(ev, a, e[k])
        for i, c in enumerate(e["chunks"]):
            ch = ev.chunks[i]
            ch.type, ch.flags, ch.length = _CHUNK_CODE.get(c["type"], 255), c["flags"], c["length"]
            ch.value = c.get("tsn", c.get("cum_tsn_ack", c.get("new_cum_tsn", c.get("value", 0))))
            if c["type"] in ("DATA", "I_DATA"):
                ch.sent_count, ch.fast_rtx = c["sent_count"], c["fast_rtx"]
                ch.rtx_reason = _RTX_CODE.get(c["rtx_reason"], 0)
                ch.sent_at_lo = c["sent_at_jiffies"] & 0xFFFFFFFF
    else:
        return None
    return ev

