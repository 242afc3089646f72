"""SCTP sock_diag (what `ss -S -i` reads) from the standard library: one netlink dump, decoded.

The kernel's sctp_diag module answers SOCK_DIAG_BY_FAMILY requests for IPPROTO_SCTP with one message per
endpoint (listening socket) and per association; with INET_DIAG_INFO requested, an association carries
``struct sctp_info`` (uapi <linux/sctp.h>): its state, windows, queues, counters and the primary path's cwnd,
SRTT, RTO and flight size.  Units are the kernel's: ``p_rto`` and ``p_sackdelay`` in ms, but ``p_srtt`` and
``p_hbinterval`` in jiffies (HZ is in the lab manifest).  The socket is per network namespace: create it in a thread that entered the
namespace (netns.py) and keep using it from there.
"""
from __future__ import annotations

import socket
import struct

__all__ = ["open_socket", "dump", "decode_sctp_info"]

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
INET_DIAG_MEMINFO, INET_DIAG_INFO, INET_DIAG_LOCALS, INET_DIAG_PEERS = 1, 2, 12, 13

_NLH = struct.Struct("=IHHII")
_MSG = struct.Struct("=BBBB2s2s16s16sI8sIIIII")   # struct inet_diag_msg (72 bytes)
_INFO = struct.Struct("=IIIHHHHIIIIIIIIBBH14Q128siIIIIIIIIIIHHIIIBBBBII")
_INFO_FIELDS = (
    "tag state rwnd unackdata penddata instrms outstrms fragmentation_point inqueue outqueue overall_error "
    "max_burst maxseg peer_rwnd peer_tag peer_capable peer_sack _r1 isacks osacks opackets ipackets "
    "rtxchunks outofseqtsns idupchunks gapcnt ouodchunks iuodchunks oodchunks iodchunks octrlchunks "
    "ictrlchunks p_address p_state p_cwnd p_srtt p_rto p_hbinterval p_pathmaxrxt p_sackdelay p_sackfreq "
    "p_ssthresh p_partial_bytes_acked p_flight_size p_error _r2 s_autoclose s_adaptation_ind s_pd_point "
    "s_nodelay s_disable_fragments s_v4mapped s_frag_interleave s_type _r3").split()
# idiag_state: an association entry carries asoc->state (enum sctp_state), an endpoint entry sk->sk_state
# (the TCP values Linux SCTP reuses: 10 LISTEN, 7 CLOSE, 1 ESTABLISHED)
ASSOC_STATES = {0: "CLOSED", 1: "COOKIE_WAIT", 2: "COOKIE_ECHOED", 3: "ESTABLISHED", 4: "SHUTDOWN_PENDING",
                5: "SHUTDOWN_SENT", 6: "SHUTDOWN_RECEIVED", 7: "SHUTDOWN_ACK_SENT"}
SOCK_STATES = {1: "ESTABLISHED", 7: "CLOSE", 10: "LISTEN"}
_seq = 0


def open_socket() -> socket.socket:
    return socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)


def _addr(raw: bytes) -> str | None:
    fam = struct.unpack_from("=H", raw)[0] if len(raw) >= 2 else 0
    if fam == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8])
    if fam == socket.AF_INET6:
        return socket.inet_ntop(socket.AF_INET6, raw[8:24])
    return None


def decode_sctp_info(raw: bytes) -> dict:
    """struct sctp_info -> dict (sctpi_ prefix dropped; p_address as a string)."""
    if len(raw) < _INFO.size:
        raw = raw + bytes(_INFO.size - len(raw))
    d = dict(zip(_INFO_FIELDS, _INFO.unpack_from(raw)))
    d["p_address"] = _addr(d["p_address"])
    return {k: v for k, v in d.items() if not k.startswith("_")}


def dump(sock: socket.socket, family: int = socket.AF_INET) -> list[dict]:
    """Every SCTP endpoint and association of the socket's namespace, decoded."""
    global _seq
    _seq += 1
    req = struct.pack("=BBBBI", family, 132, (1 << (INET_DIAG_INFO - 1)) | (1 << (INET_DIAG_MEMINFO - 1)), 0,
                      0xFFFFFFFF) + bytes(48)
    sock.send(_NLH.pack(_NLH.size + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, _seq, 0) + req)
    out: list[dict] = []
    while True:
        data = sock.recv(1 << 16)
        off = 0
        while off + _NLH.size <= len(data):
            ln, typ, _fl, _sq, _pid = _NLH.unpack_from(data, off)
            if ln < _NLH.size:
                return out
            body = data[off + _NLH.size:off + ln]
            off += (ln + 3) & ~3
            if typ == NLMSG_DONE:
                return out
            if typ == NLMSG_ERROR:
                err = struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                if err:
                    raise OSError(-err, f"sock_diag: {err}")
                return out
            if len(body) < _MSG.size:
                continue
            fam, state, timer, retrans, sport, dport, src, dst, _if, _ck, expires, rq, wq, uid, inode = \
                _MSG.unpack_from(body)
            af = socket.AF_INET6 if fam == socket.AF_INET6 else socket.AF_INET
            n = 16 if af == socket.AF_INET6 else 4
            ent: dict = {"state": state, "timer": timer, "retrans": retrans,
                         "sport": struct.unpack("!H", sport)[0], "dport": struct.unpack("!H", dport)[0],
                         "src": socket.inet_ntop(af, src[:n]), "dst": socket.inet_ntop(af, dst[:n]),
                         "expires_ms": expires, "rqueue": rq, "wqueue": wq, "inode": inode}
            a = _MSG.size
            while a + 4 <= len(body):
                alen, atype = struct.unpack_from("=HH", body, a)
                if alen < 4:
                    break
                val = body[a + 4:a + alen]
                if atype == INET_DIAG_INFO:
                    ent["info"] = decode_sctp_info(val)
                elif atype in (INET_DIAG_LOCALS, INET_DIAG_PEERS):
                    ent["locals" if atype == INET_DIAG_LOCALS else "peers"] = [
                        _addr(val[i:i + 128]) for i in range(0, len(val) - 127, 128)]
                elif atype == INET_DIAG_MEMINFO and len(val) >= 16:
                    ent["meminfo"] = dict(zip(("rmem", "wmem", "fmem", "tmem"), struct.unpack_from("=IIII", val)))
                a += (alen + 3) & ~3
            if "peers" in ent:   # an association
                ent["kind"] = "assoc"
                ent["state"] = ASSOC_STATES.get(state, state)
            else:                # an endpoint (socket); its sctp_info association fields are zero
                ent["kind"] = "endpoint"
                ent["state"] = SOCK_STATES.get(state, state)
                ent.pop("info", None)
            out.append(ent)
