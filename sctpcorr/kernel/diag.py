"""A pure-Python NETLINK_SOCK_DIAG client for SCTP: the kernel's ``struct sctp_info`` per association, no BPF.

``ss --sctp -i`` shows a subset of what the kernel sends (no SRTT, RTO, cwnd, ssthresh, flight size, none of the
14 association counters); this module decodes all of it.  Request: ``SOCK_DIAG_BY_FAMILY`` with an
``inet_diag_req_v2`` (``sdiag_protocol = IPPROTO_SCTP``, every state, extensions INFO + SKMEMINFO), once for
AF_INET and once for AF_INET6.  Answer (net/sctp/diag.c): one ``inet_diag_msg`` per endpoint and per
association, with attributes ``INET_DIAG_INFO`` (struct sctp_info), ``INET_DIAG_LOCALS`` / ``INET_DIAG_PEERS``
(arrays of ``struct sockaddr_storage``; PEERS only for associations) and ``INET_DIAG_SKMEMINFO``.

Units as the kernel fills them (net/sctp/socket.c ``sctp_get_sctp_info``): ``sctpi_p_srtt`` and
``sctpi_p_hbinterval`` are raw jiffies, ``sctpi_p_rto`` and ``sctpi_p_sackdelay`` milliseconds.  The decoded
record gives both the raw value and ``*_ns``.

sock_diag answers for the network namespace of the socket that asks: ``DiagClient(netns=...)`` opens its netlink
socket inside another namespace (``/run/netns/NAME`` or any nsfs path) and keeps using it from the caller's.

The byte-level functions (``build_request``, ``iter_messages``, ``parse_diag_msg``, ``parse_sctp_info``) are pure and
unit-tested on recorded dumps; ``DiagClient`` does the I/O.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import ipaddress
import os
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

__all__ = [
    "SctpInfo",
    "DiagError",
    "DiagClient",
    "build_request",
    "iter_messages",
    "parse_diag_msg",
    "parse_sctp_info",
    "parse_sockaddr",
    "records",
]

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLM_F_DUMP = 0x300
NLMSG_ERROR = 2
NLMSG_DONE = 3
IPPROTO_SCTP = 132

INET_DIAG_MEMINFO = 1
INET_DIAG_INFO = 2
INET_DIAG_CONG = 4
INET_DIAG_SKMEMINFO = 7
INET_DIAG_LOCALS = 12
INET_DIAG_PEERS = 13

NLMSGHDR = struct.Struct("=IHHII")                 # len, type, flags, seq, pid
REQ_V2 = struct.Struct("=BBBBI")                   # family, protocol, ext, pad, states (+ inet_diag_sockid)
SOCKID = struct.Struct("!HH16s16s")               # inet_diag_sockid: sport, dport, src, dst (network order)
                                                   # (then if, cookie[2]: 12 more bytes, 48 in all)
DIAG_MSG = struct.Struct("=BBBB")                  # family, state, timer, retrans (+ sockid + 5 x u32)
DIAG_MSG_LEN = 4 + 48 + 20
RTA = struct.Struct("=HH")

u8, u16, u32, u64, s32 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_int32


class SctpInfo(ctypes.Structure):
    """Mirror of ``struct sctp_info`` (include/uapi/linux/sctp.h); checked against the C header by the tests."""

    _fields_ = [
        ("sctpi_tag", u32), ("sctpi_state", u32), ("sctpi_rwnd", u32), ("sctpi_unackdata", u16),
        ("sctpi_penddata", u16), ("sctpi_instrms", u16), ("sctpi_outstrms", u16),
        ("sctpi_fragmentation_point", u32), ("sctpi_inqueue", u32), ("sctpi_outqueue", u32),
        ("sctpi_overall_error", u32), ("sctpi_max_burst", u32), ("sctpi_maxseg", u32), ("sctpi_peer_rwnd", u32),
        ("sctpi_peer_tag", u32), ("sctpi_peer_capable", u8), ("sctpi_peer_sack", u8), ("__reserved1", u16),
        ("sctpi_isacks", u64), ("sctpi_osacks", u64), ("sctpi_opackets", u64), ("sctpi_ipackets", u64),
        ("sctpi_rtxchunks", u64), ("sctpi_outofseqtsns", u64), ("sctpi_idupchunks", u64), ("sctpi_gapcnt", u64),
        ("sctpi_ouodchunks", u64), ("sctpi_iuodchunks", u64), ("sctpi_oodchunks", u64),
        ("sctpi_iodchunks", u64), ("sctpi_octrlchunks", u64), ("sctpi_ictrlchunks", u64),
        ("sctpi_p_address", u8 * 128), ("sctpi_p_state", s32), ("sctpi_p_cwnd", u32), ("sctpi_p_srtt", u32),
        ("sctpi_p_rto", u32), ("sctpi_p_hbinterval", u32), ("sctpi_p_pathmaxrxt", u32),
        ("sctpi_p_sackdelay", u32), ("sctpi_p_sackfreq", u32), ("sctpi_p_ssthresh", u32),
        ("sctpi_p_partial_bytes_acked", u32), ("sctpi_p_flight_size", u32), ("sctpi_p_error", u16),
        ("__reserved2", u16), ("sctpi_s_autoclose", u32), ("sctpi_s_adaptation_ind", u32),
        ("sctpi_s_pd_point", u32), ("sctpi_s_nodelay", u8), ("sctpi_s_disable_fragments", u8),
        ("sctpi_s_v4mapped", u8), ("sctpi_s_frag_interleave", u8), ("sctpi_s_type", u32), ("__reserved3", u32),
    ]


class DiagError(OSError):
    """The kernel refused or could not answer the dump (e.g. sctp_diag not loaded: ENOENT)."""


ASSOC_STATES = {0: "CLOSED", 1: "COOKIE_WAIT", 2: "COOKIE_ECHOED", 3: "ESTABLISHED", 4: "SHUTDOWN_PENDING",
                5: "SHUTDOWN_SENT", 6: "SHUTDOWN_RECEIVED", 7: "SHUTDOWN_ACK_SENT"}
PATH_STATES = {0: "INACTIVE", 1: "PF", 2: "ACTIVE", 3: "UNCONFIRMED", 0xFFFF: "UNKNOWN"}
SKMEMINFO = ("rmem_alloc", "rcvbuf", "wmem_alloc", "sndbuf", "fwd_alloc", "wmem_queued", "optmem", "backlog",
             "drops")
COUNTERS = ("isacks", "osacks", "opackets", "ipackets", "rtxchunks", "outofseqtsns", "idupchunks", "gapcnt",
            "ouodchunks", "iuodchunks", "oodchunks", "iodchunks", "octrlchunks", "ictrlchunks")


def build_request(family: int, seq: int = 1, ext: int | None = None, states: int = 0xFFFFFFFF) -> bytes:
    """One SOCK_DIAG_BY_FAMILY dump request for SCTP sockets of ``family`` (AF_INET or AF_INET6)."""
    if ext is None:
        ext = (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_SKMEMINFO - 1))
    body = REQ_V2.pack(family, IPPROTO_SCTP, ext, 0, states) + bytes(48)
    return NLMSGHDR.pack(NLMSGHDR.size + len(body), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + body


def iter_messages(buf: bytes) -> Iterator[tuple[int, bytes]]:
    """(nlmsg_type, payload) of each netlink message in ``buf``; stops at a truncated or malformed one."""
    off = 0
    while off + NLMSGHDR.size <= len(buf):
        length, mtype, _flags, _seq, _pid = NLMSGHDR.unpack_from(buf, off)
        if length < NLMSGHDR.size or off + length > len(buf):
            return
        yield mtype, bytes(buf[off + NLMSGHDR.size: off + length])
        off += (length + 3) & ~3


def parse_sockaddr(raw: bytes) -> tuple[str, int] | None:
    """(address, port) of a sockaddr_in / sockaddr_in6 (family in host order, port in network order)."""
    if len(raw) < 2:
        return None
    family = int.from_bytes(raw[:2], "little")
    if family == socket.AF_INET and len(raw) >= 8:
        return str(ipaddress.IPv4Address(raw[4:8])), int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET6 and len(raw) >= 24:
        return str(ipaddress.IPv6Address(raw[8:24])), int.from_bytes(raw[2:4], "big")
    return None


def parse_sctp_info(raw: bytes, hz: int | None = None) -> dict[str, Any]:
    """struct sctp_info -> dict with documented names and units (a shorter blob is zero-extended: older kernels
    send fewer fields)."""
    raw = bytes(raw[: ctypes.sizeof(SctpInfo)]).ljust(ctypes.sizeof(SctpInfo), b"\0")
    i = SctpInfo.from_buffer_copy(raw)
    paddr = parse_sockaddr(bytes(i.sctpi_p_address))
    d: dict[str, Any] = {
        "my_vtag": i.sctpi_tag, "peer_vtag": i.sctpi_peer_tag,
        "state": ASSOC_STATES.get(i.sctpi_state, str(i.sctpi_state)),
        "a_rwnd": i.sctpi_rwnd, "peer_rwnd": i.sctpi_peer_rwnd, "unack_data": i.sctpi_unackdata,
        "pend_data": i.sctpi_penddata, "instrms": i.sctpi_instrms, "outstrms": i.sctpi_outstrms,
        "fragmentation_point": i.sctpi_fragmentation_point, "inqueue": i.sctpi_inqueue,
        "outqueue": i.sctpi_outqueue, "overall_error": i.sctpi_overall_error, "max_burst": i.sctpi_max_burst,
        "maxseg": i.sctpi_maxseg, "peer_capable": i.sctpi_peer_capable, "peer_sack": i.sctpi_peer_sack,
        "path_addr": paddr[0] if paddr else None, "path_port": paddr[1] if paddr else None,
        "path_state": PATH_STATES.get(i.sctpi_p_state & 0xFFFF, str(i.sctpi_p_state)),
        "cwnd": i.sctpi_p_cwnd, "ssthresh": i.sctpi_p_ssthresh, "flight_size": i.sctpi_p_flight_size,
        "partial_bytes_acked": i.sctpi_p_partial_bytes_acked, "error_count": i.sctpi_p_error,
        "srtt_jiffies": i.sctpi_p_srtt, "rto_ms": i.sctpi_p_rto, "hbinterval_jiffies": i.sctpi_p_hbinterval,
        "pathmaxrxt": i.sctpi_p_pathmaxrxt, "sackdelay_ms": i.sctpi_p_sackdelay, "sackfreq": i.sctpi_p_sackfreq,
        "counters": {c: getattr(i, f"sctpi_{c}") for c in COUNTERS},
        "sock": {"autoclose": i.sctpi_s_autoclose, "adaptation_ind": i.sctpi_s_adaptation_ind,
                 "pd_point": i.sctpi_s_pd_point, "nodelay": i.sctpi_s_nodelay,
                 "disable_fragments": i.sctpi_s_disable_fragments, "v4mapped": i.sctpi_s_v4mapped,
                 "frag_interleave": i.sctpi_s_frag_interleave, "type": i.sctpi_s_type},
    }
    d["rto_ns"] = i.sctpi_p_rto * 1_000_000
    d["sackdelay_ns"] = i.sctpi_p_sackdelay * 1_000_000
    if hz:
        d["srtt_ns"] = i.sctpi_p_srtt * 1_000_000_000 // hz
        d["hbinterval_ns"] = i.sctpi_p_hbinterval * 1_000_000_000 // hz
    return d


def _addr_list(raw: bytes) -> list[str]:
    out = []
    for off in range(0, len(raw) - 127, 128):   # struct sockaddr_storage each
        a = parse_sockaddr(raw[off: off + 128])
        if a:
            out.append(a[0])
    return out


def parse_diag_msg(payload: bytes, hz: int | None = None) -> dict[str, Any] | None:
    """One inet_diag_msg (+ attributes) -> a record, or None if it is shorter than the fixed part."""
    if len(payload) < DIAG_MSG_LEN:
        return None
    family, state, timer, retrans = DIAG_MSG.unpack_from(payload, 0)
    sport, dport, _src, _dst = SOCKID.unpack_from(payload, 4)
    expires, rqueue, wqueue, uid, inode = struct.unpack_from("=IIIII", payload, 52)
    rec: dict[str, Any] = {
        "family": family, "lport": sport, "pport": dport, "idiag_state": state, "timer": timer,
        "retrans": retrans, "expires_ms": expires, "rqueue": rqueue, "wqueue": wqueue, "uid": uid,
        "inode": inode,
    }
    is_assoc = False
    off = DIAG_MSG_LEN
    while off + RTA.size <= len(payload):
        rlen, rtype = RTA.unpack_from(payload, off)
        if rlen < RTA.size or off + rlen > len(payload):
            break
        data = payload[off + RTA.size: off + rlen]
        rtype &= 0x7FFF  # NLA_F_NESTED / NLA_F_NET_BYTEORDER bits
        if rtype == INET_DIAG_INFO:
            rec["info"] = parse_sctp_info(data, hz)
        elif rtype == INET_DIAG_LOCALS:
            rec["locals"] = _addr_list(data)
        elif rtype == INET_DIAG_PEERS:
            rec["peers"] = _addr_list(data)
            is_assoc = True
        elif rtype == INET_DIAG_SKMEMINFO:
            vals = struct.unpack_from(f"={len(data) // 4}I", data)
            rec["skmeminfo"] = dict(zip(SKMEMINFO, vals))
        off += (rlen + 3) & ~3
    rec["kind"] = "assoc" if is_assoc else "endpoint"
    return rec


def records(buf: bytes, hz: int | None = None) -> tuple[list[dict[str, Any]], bool, int]:
    """Decode one dump's bytes: (records, done seen, error number or 0)."""
    out: list[dict[str, Any]] = []
    for mtype, payload in iter_messages(buf):
        if mtype == NLMSG_DONE:
            return out, True, 0
        if mtype == NLMSG_ERROR:
            err = -struct.unpack_from("=i", payload, 0)[0] if len(payload) >= 4 else errno.EIO
            return out, True, err
        if mtype == SOCK_DIAG_BY_FAMILY:
            r = parse_diag_msg(payload, hz)
            if r is not None:
                out.append(r)
    return out, False, 0


def flatten(rec: dict[str, Any]) -> dict[str, Any]:
    """A diag association record in the flat JSONL shape of `sctpcorr probe` (type "diag")."""
    info = dict(rec.get("info") or {})
    out: dict[str, Any] = {"type": "diag"}
    for k in ("netns", "ts_ns", "ts_end_ns", "family", "lport", "pport"):
        if k in rec:
            out[k] = rec[k]
    out.update({k: v for k, v in info.items() if k not in ("counters", "sock")})
    out["counters"] = info.get("counters")
    out.update(locals=rec.get("locals", []), peers=rec.get("peers", []), inode=rec["inode"], uid=rec["uid"],
               t3_pending=rec["timer"] == 1, rtx_data_chunks=rec["retrans"] if rec["timer"] == 1 else None,
               t3_expires_ms=rec["expires_ms"] if rec["timer"] == 1 else None,
               skmeminfo=rec.get("skmeminfo"))
    return out


# ---- I/O ---------------------------------------------------------------------------------------------------------

_CLONE_NEWNET = 0x40000000


def _setns(fd: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if libc.setns(fd, _CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def netns_path(name: str) -> str:
    """A netns given as a name under /run/netns, or a path (e.g. /proc/PID/ns/net)."""
    return name if "/" in name else f"/run/netns/{name}"


class DiagClient:
    """A netlink sock_diag socket, optionally opened inside another network namespace."""

    def __init__(self, netns: str | None = None, hz: int | None = None):
        self.hz = hz
        self.netns_name = netns
        self.seq = 0
        if netns is None:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
            self.netns = os.stat("/proc/self/ns/net").st_ino
        else:
            path = netns_path(netns)
            own = os.open("/proc/self/ns/net", os.O_RDONLY)
            try:
                target = os.open(path, os.O_RDONLY)
            except OSError as e:
                os.close(own)
                raise DiagError(e.errno, f"network namespace {netns}: {e.strerror}") from None
            try:
                self.netns = os.fstat(target).st_ino
                _setns(target)
                try:
                    self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
                finally:
                    _setns(own)
            finally:
                os.close(target)
                os.close(own)
        self.sock.bind((0, 0))

    def close(self) -> None:
        self.sock.close()

    def dump_raw(self, family: int) -> bytes:
        """The raw bytes of one dump (for fixtures and debugging)."""
        self.seq += 1
        self.sock.send(build_request(family, self.seq))
        chunks = []
        while True:
            data = self.sock.recv(1 << 16)
            if not data:
                break
            chunks.append(data)
            if any(t in (NLMSG_DONE, NLMSG_ERROR) for t, _ in iter_messages(data)):
                break
        return b"".join(chunks)

    def dump(self) -> list[dict[str, Any]]:
        """Every SCTP endpoint and association of the namespace (AF_INET and AF_INET6 sockets)."""
        out: list[dict[str, Any]] = []
        for family in (socket.AF_INET, socket.AF_INET6):
            t0 = time.monotonic_ns()
            buf = self.dump_raw(family)
            t1 = time.monotonic_ns()
            recs, _done, err = records(buf, self.hz)
            if err:
                raise DiagError(err, f"sock_diag SCTP dump: {os.strerror(err)}"
                                + (" (is sctp_diag loaded? modprobe sctp_diag)" if err == errno.ENOENT else ""))
            for r in recs:
                r.update(ts_ns=t0, ts_end_ns=t1, netns=self.netns)
            out += recs
        return out

    def associations(self) -> list[dict[str, Any]]:
        """Flat "diag" records of the associations only."""
        return [flatten(r) for r in self.dump() if r["kind"] == "assoc"]

    def __enter__(self) -> DiagClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
