"""The Linux SCTP socket API (RFC 6458) from the standard library alone.

Python's ``socket`` module knows ``IPPROTO_SCTP`` and nothing else, so the constants and structures the lab's
workload needs are spelled out here, copied from ``<linux/sctp.h>`` (uapi, stable ABI).  Structures marked
``packed, aligned(4)`` in the header are packed here with ``=`` formats and padded to a multiple of 4.

Byte order: every field is host order except ``ppid`` in SCTP_SNDINFO/SCTP_RCVINFO, which the kernel copies
to and from the wire untouched (RFC 6458 §5.3.4: "in network byte order"); ``pack_sndinfo`` and
``unpack_rcvinfo`` take and give it as the integer seen on the wire.
"""
from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

__all__ = [
    "IPPROTO_SCTP", "SOL_SCTP", "open_socket", "sockaddr_in", "parse_sockaddr", "bindx_add", "set_initmsg",
    "set_rtoinfo", "set_nodelay", "set_peer_addr_params", "set_delayed_sack", "set_assoc_max_retrans",
    "subscribe_events", "enable_rcvinfo", "pack_sndinfo", "unpack_rcvinfo", "parse_notification", "get_status",
    "get_peer_addr_info", "RcvInfo",
]

IPPROTO_SCTP = 132
SOL_SCTP = 132

# socket options (level SOL_SCTP)
SCTP_RTOINFO = 0
SCTP_ASSOCINFO = 1
SCTP_INITMSG = 2
SCTP_NODELAY = 3
SCTP_PEER_ADDR_PARAMS = 9
SCTP_STATUS = 14
SCTP_GET_PEER_ADDR_INFO = 15
SCTP_DELAYED_SACK = 16
SCTP_RECVRCVINFO = 32
SCTP_SOCKOPT_BINDX_ADD = 100
SCTP_EVENT = 127

# ancillary data types (cmsg_type at level IPPROTO_SCTP)
SCTP_SNDINFO = 2
SCTP_RCVINFO = 3

SCTP_FUTURE_ASSOC = 0

# snd_flags
SCTP_UNORDERED = 1 << 0
SCTP_EOF = 0x200  # MSG_FIN

MSG_NOTIFICATION = 0x8000

# spp_flags
SPP_HB_ENABLE = 1 << 0
SPP_SACKDELAY_ENABLE = 1 << 5

# notification types (enum sctp_sn_type)
SCTP_ASSOC_CHANGE = 0x8001
SCTP_PEER_ADDR_CHANGE = 0x8002
SCTP_SEND_FAILED = 0x8003
SCTP_REMOTE_ERROR = 0x8004
SCTP_SHUTDOWN_EVENT = 0x8005
SCTP_SEND_FAILED_EVENT = 0x800D

ASSOC_STATES = ["COMM_UP", "COMM_LOST", "RESTART", "SHUTDOWN_COMP", "CANT_STR_ASSOC"]
PADDR_STATES = ["ADDR_AVAILABLE", "ADDR_UNREACHABLE", "ADDR_REMOVED", "ADDR_ADDED", "ADDR_MADE_PRIM",
                "ADDR_CONFIRMED", "ADDR_POTENTIALLY_FAILED"]
# spinfo_state (enum sctp_spinfo_state)
TRANSPORT_STATES = ["INACTIVE", "PF", "ACTIVE", "UNCONFIRMED"]
# sstat_state (enum sctp_sstat_state)
ASSOC_SSTATES = ["EMPTY", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_PENDING",
                 "SHUTDOWN_SENT", "SHUTDOWN_RECEIVED", "SHUTDOWN_ACK_SENT"]

_SOCKADDR_STORAGE = 128
_RCVINFO = struct.Struct("=HHH2xIIIIi")        # struct sctp_rcvinfo, 28 bytes
_SNDINFO = struct.Struct("=HHIIi")             # struct sctp_sndinfo, 16 bytes
_PADDRPARAMS = struct.Struct("=i128sIHIIIIB1x")  # packed, aligned(4): 155 -> 156 bytes
_PADDRINFO = struct.Struct("=i128siIIII")      # packed, aligned(4): 152 bytes
_STATUS_HEAD = struct.Struct("=iiIHHHHI")      # 24 bytes, then struct sctp_paddrinfo


def open_socket(style: str) -> socket.socket:
    """A fresh IPv4 SCTP socket: ``one-to-one`` (SOCK_STREAM) or ``one-to-many`` (SOCK_SEQPACKET)."""
    kind = {"one-to-one": socket.SOCK_STREAM, "one-to-many": socket.SOCK_SEQPACKET}[style]
    return socket.socket(socket.AF_INET, kind, IPPROTO_SCTP)


def sockaddr_in(addr: str, port: int) -> bytes:
    """struct sockaddr_in (16 bytes): family in host order, port and address in network order."""
    return struct.pack("=H", socket.AF_INET) + struct.pack("!H", port) + socket.inet_aton(addr) + bytes(8)


def parse_sockaddr(raw: bytes) -> str | None:
    """The address in a sockaddr_storage (IPv4 or IPv6), or None."""
    if len(raw) < 2:
        return None
    family = struct.unpack_from("=H", raw)[0]
    if family == socket.AF_INET and len(raw) >= 8:
        return socket.inet_ntoa(raw[4:8])
    if family == socket.AF_INET6 and len(raw) >= 24:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


def bindx_add(sock: socket.socket, addrs: list[str], port: int) -> None:
    """sctp_bindx(SCTP_BINDX_ADD_ADDR): add local addresses (RFC 6458 §9.1); port must equal the bound one."""
    sock.setsockopt(SOL_SCTP, SCTP_SOCKOPT_BINDX_ADD, b"".join(sockaddr_in(a, port) for a in addrs))


def set_initmsg(sock: socket.socket, ostreams: int, max_instreams: int, max_attempts: int = 0,
                max_init_timeo_ms: int = 0) -> None:
    """SCTP_INITMSG: streams requested in INIT (RFC 6458 §8.1.3)."""
    sock.setsockopt(SOL_SCTP, SCTP_INITMSG, struct.pack("=HHHH", ostreams, max_instreams, max_attempts,
                                                        max_init_timeo_ms))


def set_rtoinfo(sock: socket.socket, initial_ms: int, max_ms: int, min_ms: int, assoc_id: int = 0) -> None:
    """SCTP_RTOINFO: RTO.Initial/Max/Min in ms (RFC 6458 §8.1.1); 0 keeps a value."""
    sock.setsockopt(SOL_SCTP, SCTP_RTOINFO, struct.pack("=iIII", assoc_id, initial_ms, max_ms, min_ms))


def set_assoc_max_retrans(sock: socket.socket, max_retrans: int, assoc_id: int = 0) -> None:
    """SCTP_ASSOCINFO sasoc_asocmaxrxt: Association.Max.Retrans (RFC 6458 §8.1.2)."""
    sock.setsockopt(SOL_SCTP, SCTP_ASSOCINFO, struct.pack("=iHHIII", assoc_id, max_retrans, 0, 0, 0, 0))


def set_nodelay(sock: socket.socket, on: bool = True) -> None:
    """SCTP_NODELAY: no Nagle-like bundling delay (RFC 6458 §8.1.5)."""
    sock.setsockopt(SOL_SCTP, SCTP_NODELAY, 1 if on else 0)


def set_peer_addr_params(sock: socket.socket, hb_interval_ms: int | None = None, path_max_retrans: int = 0,
                         sack_delay_ms: int | None = None, assoc_id: int = 0) -> None:
    """SCTP_PEER_ADDR_PARAMS for every peer address (spp_address all zero): heartbeat interval in ms,
    Path.Max.Retrans, SACK delay in ms (RFC 6458 §8.1.9)."""
    flags = 0
    if hb_interval_ms is not None:
        flags |= SPP_HB_ENABLE
    if sack_delay_ms is not None:
        flags |= SPP_SACKDELAY_ENABLE
    raw = _PADDRPARAMS.pack(assoc_id, bytes(_SOCKADDR_STORAGE), hb_interval_ms or 0, path_max_retrans, 0,
                            sack_delay_ms or 0, flags, 0, 0)
    sock.setsockopt(SOL_SCTP, SCTP_PEER_ADDR_PARAMS, raw)


def set_delayed_sack(sock: socket.socket, delay_ms: int, freq: int, assoc_id: int = 0) -> None:
    """SCTP_DELAYED_SACK (struct sctp_sack_info): delay in ms and SACK frequency (1 = SACK every packet)."""
    sock.setsockopt(SOL_SCTP, SCTP_DELAYED_SACK, struct.pack("=iII", assoc_id, delay_ms, freq))


def subscribe_events(sock: socket.socket, types: tuple[int, ...] = (
        SCTP_ASSOC_CHANGE, SCTP_PEER_ADDR_CHANGE, SCTP_SHUTDOWN_EVENT, SCTP_SEND_FAILED_EVENT,
        SCTP_REMOTE_ERROR)) -> None:
    """SCTP_EVENT (RFC 6458 §6.2.2): turn on each notification type for future associations."""
    for t in types:
        sock.setsockopt(SOL_SCTP, SCTP_EVENT, struct.pack("=iHB1x", SCTP_FUTURE_ASSOC, t, 1))


def enable_rcvinfo(sock: socket.socket) -> None:
    """SCTP_RECVRCVINFO: every recvmsg carries a SCTP_RCVINFO cmsg (sid, ssn, ppid, tsn...)."""
    sock.setsockopt(SOL_SCTP, SCTP_RECVRCVINFO, 1)


def pack_sndinfo(sid: int, ppid: int, flags: int = 0, context: int = 0, assoc_id: int = 0) -> tuple:
    """An SCTP_SNDINFO ancillary item for sendmsg (RFC 6458 §5.3.4); ppid as it appears on the wire."""
    data = _SNDINFO.pack(sid, flags, socket.htonl(ppid), context, assoc_id)
    return (IPPROTO_SCTP, SCTP_SNDINFO, data)


@dataclass(frozen=True, slots=True)
class RcvInfo:
    """struct sctp_rcvinfo (RFC 6458 §5.3.5): what the stack says about a received message."""
    sid: int
    ssn: int
    flags: int
    ppid: int     # as on the wire
    tsn: int      # a TSN of the message, as Linux reports it (the last chunk delivered)
    cumtsn: int
    context: int
    assoc_id: int


def unpack_rcvinfo(ancdata: list) -> RcvInfo | None:
    """The SCTP_RCVINFO item of a recvmsg result, if present."""
    for level, ctype, data in ancdata:
        if level == IPPROTO_SCTP and ctype == SCTP_RCVINFO and len(data) >= _RCVINFO.size:
            sid, ssn, flags, ppid, tsn, cumtsn, ctx, assoc = _RCVINFO.unpack_from(data)
            return RcvInfo(sid, ssn, flags, socket.ntohl(ppid), tsn, cumtsn, ctx, assoc)
    return None


def rcvinfo_space() -> int:
    """Ancillary buffer size for one SCTP_RCVINFO."""
    return socket.CMSG_SPACE(_RCVINFO.size)


def parse_notification(raw: bytes) -> dict:
    """A notification (MSG_NOTIFICATION) as a dict with at least ``kind``; unknown types keep their number."""
    if len(raw) < 8:
        return {"kind": "truncated", "length": len(raw)}
    ntype, flags, length = struct.unpack_from("=HHI", raw)
    if ntype == SCTP_ASSOC_CHANGE and len(raw) >= 20:
        _, _, _, state, error, outs, ins, assoc = struct.unpack_from("=HHIHHHHi", raw)
        name = ASSOC_STATES[state] if state < len(ASSOC_STATES) else str(state)
        return {"kind": "assoc_change", "state": name, "error": error, "outbound_streams": outs,
                "inbound_streams": ins, "assoc_id": assoc}
    if ntype == SCTP_PEER_ADDR_CHANGE and len(raw) >= 148:
        addr = parse_sockaddr(raw[8:8 + _SOCKADDR_STORAGE])
        state, error, assoc = struct.unpack_from("=iii", raw, 8 + _SOCKADDR_STORAGE)
        name = PADDR_STATES[state] if 0 <= state < len(PADDR_STATES) else str(state)
        return {"kind": "peer_addr_change", "addr": addr, "state": name, "error": error, "assoc_id": assoc}
    if ntype == SCTP_SHUTDOWN_EVENT and len(raw) >= 12:
        return {"kind": "shutdown_event", "assoc_id": struct.unpack_from("=i", raw, 8)[0]}
    if ntype == SCTP_SEND_FAILED_EVENT:
        return {"kind": "send_failed", "flags": flags, "length": length}
    if ntype == SCTP_REMOTE_ERROR:
        return {"kind": "remote_error", "length": length}
    return {"kind": f"0x{ntype:04x}", "length": length}


def _paddrinfo(raw: bytes, off: int) -> dict:
    # Units as Linux 6.1 fills struct sctp_paddrinfo: spinfo_srtt is the transport's raw srtt in jiffies,
    # spinfo_rto is jiffies_to_msecs(rto) (net/sctp/socket.c sctp_getsockopt_peer_addr_info); checked against
    # sock_diag's p_srtt on the same association.
    assoc, addr, state, cwnd, srtt, rto, mtu = _PADDRINFO.unpack_from(raw, off)
    return {"addr": parse_sockaddr(addr),
            "state": TRANSPORT_STATES[state] if 0 <= state < len(TRANSPORT_STATES) else str(state),
            "cwnd": cwnd, "srtt_jiffies": srtt, "rto_ms": rto, "mtu": mtu}


def get_status(sock: socket.socket, assoc_id: int = 0) -> dict:
    """SCTP_STATUS (RFC 6458 §8.2.1): association state, peer rwnd, unacked/pending chunks, primary path."""
    buf = bytearray(_STATUS_HEAD.size + _PADDRINFO.size)
    struct.pack_into("=i", buf, 0, assoc_id)
    raw = _getsockopt_inout(sock, SCTP_STATUS, bytes(buf))
    _, state, rwnd, unack, pend, ins, outs, frag = _STATUS_HEAD.unpack_from(raw)
    return {"state": ASSOC_SSTATES[state] if 0 <= state < len(ASSOC_SSTATES) else str(state),
            "peer_rwnd": rwnd, "unacked": unack, "pending": pend, "instreams": ins, "outstreams": outs,
            "frag_point": frag, "primary": _paddrinfo(raw, _STATUS_HEAD.size)}


def get_peer_addr_info(sock: socket.socket, addr: str, port: int, assoc_id: int = 0) -> dict:
    """SCTP_GET_PEER_ADDR_INFO (RFC 6458 §8.2.2) for one peer address."""
    sa = sockaddr_in(addr, port).ljust(_SOCKADDR_STORAGE, b"\0")
    raw = _getsockopt_inout(sock, SCTP_GET_PEER_ADDR_INFO, _PADDRINFO.pack(assoc_id, sa, 0, 0, 0, 0, 0))
    return _paddrinfo(raw, 0)


_libc = None


def _getsockopt_inout(sock: socket.socket, opt: int, inbuf: bytes) -> bytes:
    """getsockopt whose buffer is also an input (Linux SCTP reads assoc_id/address from it).

    Python's getsockopt(level, opt, buflen) passes a zeroed buffer, so the in-out options go through ctypes."""
    import ctypes

    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)   # the process's own symbols: libc is among them
    buf = ctypes.create_string_buffer(inbuf, len(inbuf))
    length = ctypes.c_uint32(len(inbuf))
    if _libc.getsockopt(sock.fileno(), SOL_SCTP, opt, buf, ctypes.byref(length)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"getsockopt(SOL_SCTP, {opt}): {errno.errorcode.get(err, err)}")
    return buf.raw[:length.value]
