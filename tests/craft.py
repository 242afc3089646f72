"""Craft SCTP packet sequences for the wire-engine tests (scapy), and read/write pcap and pcapng.

Theory of operation
-------------------
An :class:`Assoc` describes one association as a capture point sees it: endpoint A (the initiator) and endpoint B,
each with one or more addresses, a port, the verification tag it expects to receive, and a next TSN. A test moves a
clock (``at``/``wait``) and calls ``a_sends``/``b_sends`` with chunks built by the helper functions below (``data``,
``sack``, ``heartbeat``...). Every call appends one :class:`Frame` (integer ns timestamp, link type, bytes) to
``assoc.frames``, built with scapy so that the bytes come from an encoder independent of the engine under test; the
CRC32c is computed by scapy unless a test asks for a bad one.

Gap blocks are given as *absolute* TSN ranges and converted to the 16-bit offsets of RFC 9260 §3.3.4 with serial
arithmetic, so tests read like the wire they describe. ``linux_hb_info`` builds the 56-byte HEARTBEAT info parameter
Linux 6.1 sends (``struct sctp_sender_hb_info``: sent_at jiffies at byte 32, nonce at byte 40).

``feed``/``analyze`` run frames through ``Analyzer.feed_packet``; ``pcap_bytes``/``pcapng_bytes`` serialise them so a
test can compare one-packet-at-a-time feeding with ``feed_capture``; ``read_frames`` is a small independent
pcap/pcapng reader used by the corpus tests to pick single frames out of real captures.
"""
from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.layers.sctp import (
    SCTP,
    SCTPChunkAbort,
    SCTPChunkCookieAck,
    SCTPChunkCookieEcho,
    SCTPChunkData,
    SCTPChunkError,
    SCTPChunkInit,
    SCTPChunkInitAck,
    SCTPChunkParamCookiePreservative,
    SCTPChunkParamECNCapable,
    SCTPChunkParamFwdTSN,
    SCTPChunkParamHostname,
    SCTPChunkParamIPv4Addr,
    SCTPChunkParamIPv6Addr,
    SCTPChunkParamStateCookie,
    SCTPChunkParamSupportedExtensions,
    SCTPChunkSACK,
    SCTPChunkShutdown,
    SCTPChunkShutdownAck,
    SCTPChunkShutdownComplete,
)
from scapy.packet import Raw

# time units, in ns
US = 1_000
MS = 1_000_000
S = 1_000_000_000
T0 = 1_700_000_000 * S  # a plausible capture start (2023-11-14)

# link types (LINKTYPE_*)
ETHERNET = 1
RAW = 101
LINUX_SLL = 113
IPV4 = 228
IPV6 = 229

# chunk type numbers -> the names the report uses (RFC 9260 names with '_')
CHUNK_NAMES = {
    0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT_ACK", 6: "ABORT",
    7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECNE", 13: "CWR",
    14: "SHUTDOWN_COMPLETE", 15: "AUTH", 16: "NR_SACK", 64: "I_DATA", 128: "ASCONF_ACK", 130: "RE_CONFIG",
    132: "PAD", 192: "FORWARD_TSN", 193: "ASCONF", 194: "I_FORWARD_TSN",
}


def norm_chunk_name(name: str) -> str:
    """'INIT ACK', 'INIT-ACK', 'init_ack' -> 'INIT_ACK' (how tests compare chunk names)."""
    return name.upper().replace("-", "_").replace(" ", "_")


@dataclass(frozen=True)
class Frame:
    ts_ns: int
    linktype: int
    data: bytes


def _u32(x: int) -> int:
    return x & 0xFFFFFFFF


# ------------------------------------------------------------------------------------------------ chunks


def data(tsn: int, sid: int = 0, ssn: int = 0, ppid: int = 0, payload: bytes | int = 32, *, unordered=False,
         begin=True, end=True, immediate=False):
    """A DATA chunk; ``payload`` is bytes or a length (filled with a recognisable pattern)."""
    if isinstance(payload, int):
        payload = bytes((tsn + i) & 0xFF for i in range(payload))
    return SCTPChunkData(tsn=_u32(tsn), stream_id=sid, stream_seq=ssn & 0xFFFF, proto_id=ppid, data=payload,
                         reserved=0, delay_sack=int(immediate), unordered=int(unordered), beginning=int(begin),
                         ending=int(end))


def sack(cum: int, a_rwnd: int = 65536, gaps: Sequence[tuple[int, int]] = (), dups: Sequence[int] = ()):
    """A SACK; ``gaps`` are absolute inclusive TSN ranges above ``cum`` (converted to RFC offsets, mod 2**32)."""
    blocks = []
    for start, stop in gaps:
        s, e = _u32(start - cum), _u32(stop - cum)
        assert 1 <= s <= e <= 0xFFFF, (start, stop, cum)
        blocks.append((s, e))
    return SCTPChunkSACK(cumul_tsn_ack=_u32(cum), a_rwnd=a_rwnd, gap_ack_list=blocks,
                         dup_tsn_list=[_u32(d) for d in dups], flags=0)


def _addr_params(addrs: Iterable[str]):
    out = []
    for a in addrs:
        if ipaddress.ip_address(a).version == 4:
            out.append(SCTPChunkParamIPv4Addr(addr=a))
        else:
            out.append(SCTPChunkParamIPv6Addr(addr=a))
    return out


def init(tag: int, tsn: int, a_rwnd: int = 106496, os: int = 10, mis: int = 10, addrs: Sequence[str] = (),
         extensions: Sequence[int] = (), cookie_preservative_ms: int | None = None, forward_tsn: bool = False,
         ecn: bool = False, host_name: str | None = None):
    params = _addr_params(addrs)
    if forward_tsn:
        params.append(SCTPChunkParamFwdTSN())
    if ecn:
        params.append(SCTPChunkParamECNCapable())
    if host_name is not None:
        params.append(SCTPChunkParamHostname(hostname=host_name.encode() + b"\0"))
    if cookie_preservative_ms is not None:
        params.append(SCTPChunkParamCookiePreservative(sug_cookie_inc=cookie_preservative_ms))
    if extensions:
        params.append(SCTPChunkParamSupportedExtensions(supported_extensions=list(extensions)))
    return SCTPChunkInit(init_tag=tag, a_rwnd=a_rwnd, n_out_streams=os, n_in_streams=mis, init_tsn=_u32(tsn),
                         params=params, flags=0)


def init_ack(tag: int, tsn: int, a_rwnd: int = 106496, os: int = 10, mis: int = 10, addrs: Sequence[str] = (),
             cookie: bytes = b"\xc0" * 24):
    params = [SCTPChunkParamStateCookie(cookie=cookie)] + _addr_params(addrs)
    return SCTPChunkInitAck(init_tag=tag, a_rwnd=a_rwnd, n_out_streams=os, n_in_streams=mis, init_tsn=_u32(tsn),
                            params=params, flags=0)


def cookie_echo(cookie: bytes = b"\xc0" * 24):
    return SCTPChunkCookieEcho(cookie=cookie, flags=0)


def cookie_ack():
    return SCTPChunkCookieAck(flags=0)


def linux_hb_info(dst: str, sent_at_jiffies: int, nonce: int, probe_size: int = 0, port: int = 0) -> bytes:
    """The 56-byte HEARTBEAT info parameter of Linux 6.1 (struct sctp_sender_hb_info), header included."""
    ip = ipaddress.ip_address(dst)
    if ip.version == 4:  # struct sockaddr_in in a 28-byte union sctp_addr
        addr = struct.pack("<H", 2) + struct.pack(">H", port) + ip.packed + bytes(8)
    else:  # struct sockaddr_in6
        addr = struct.pack("<H", 10) + struct.pack(">H", port) + bytes(4) + ip.packed + bytes(4)
    addr = addr.ljust(28, b"\0")
    body = addr + struct.pack("<QQI", sent_at_jiffies, nonce, probe_size) + bytes(4)
    assert len(body) == 52
    return struct.pack(">HH", 1, 56) + body


def hb_param(info: bytes) -> bytes:
    """A Heartbeat Info parameter: ``info`` as is when it already is one (type 1, matching length), else wrapped."""
    if len(info) >= 4 and info[:2] == b"\x00\x01" and struct.unpack(">H", info[2:4])[0] == len(info):
        return info
    return struct.pack(">HH", 1, 4 + len(info)) + info


def heartbeat(info: bytes):
    return raw_chunk(4, 0, hb_param(info))


def heartbeat_ack(info: bytes):
    return raw_chunk(5, 0, hb_param(info))


def raw_chunk(ctype: int, flags: int, body: bytes, length: int | None = None):
    """Any chunk from raw bytes (padded to 4); ``length`` overrides the declared length (malformed tests)."""
    ln = 4 + len(body) if length is None else length
    pad = (-len(body)) % 4
    return Raw(struct.pack(">BBH", ctype, flags, ln) + body + bytes(pad))


def cause(code: int, info: bytes = b"") -> bytes:
    ln = 4 + len(info)
    return struct.pack(">HH", code, ln) + info + bytes((-ln) % 4)


def abort(causes: Sequence[bytes] = (), t_bit: bool = False):
    return SCTPChunkAbort(TCB=int(t_bit), reserved=0, error_causes=b"".join(causes))


def error(causes: Sequence[bytes]):
    return SCTPChunkError(error_causes=b"".join(causes), flags=0)


def shutdown(cum: int):
    return SCTPChunkShutdown(cumul_tsn_ack=_u32(cum), flags=0)


def shutdown_ack():
    return SCTPChunkShutdownAck(flags=0)


def shutdown_complete(t_bit: bool = False):
    return SCTPChunkShutdownComplete(TCB=int(t_bit), reserved=0)


# ------------------------------------------------------------------------------------------------ framing


def sctp_packet(sport: int, dport: int, vtag: int, chunks: Sequence, bad_checksum: bool = False) -> bytes:
    p = SCTP(sport=sport, dport=dport, tag=vtag)
    for c in chunks:
        p = p / c
    b = bytes(p)
    if bad_checksum:
        b = b[:8] + bytes((x ^ 0xFF) for x in b[8:12]) + b[12:]
    return b


_MAC_A = "02:00:00:00:00:0a"
_MAC_B = "02:00:00:00:00:0b"


def ip_frame(src: str, dst: str, payload: bytes, linktype: int = ETHERNET, ip_id: int = 0, proto: int = 132,
             vlans: Sequence[int] = ()) -> bytes:
    """Wrap an IP payload (SCTP bytes by default) into IPv4/IPv6 and the given link type."""
    if ipaddress.ip_address(src).version == 4:
        l3 = IP(src=src, dst=dst, id=ip_id, flags="DF", ttl=64, proto=proto) / Raw(payload)
    else:
        l3 = IPv6(src=src, dst=dst, nh=proto, hlim=64) / Raw(payload)
    if linktype in (RAW, IPV4, IPV6):
        return bytes(l3)
    if linktype == ETHERNET:
        l2 = Ether(src=_MAC_A, dst=_MAC_B)
        for v in vlans:
            l2 = l2 / Dot1Q(vlan=v)
        return bytes(l2 / l3)
    if linktype == LINUX_SLL:
        etype = 0x0800 if isinstance(l3, IP) else 0x86DD
        return struct.pack(">HHH8sH", 0, 1, 6, bytes.fromhex("02000000000a0000"), etype) + bytes(l3)
    raise ValueError(f"unsupported link type {linktype}")


# ------------------------------------------------------------------------------------------------ associations


@dataclass
class Endpoint:
    addrs: tuple[str, ...]
    port: int
    tag: int  # the verification tag this endpoint expects to receive (its Initiate Tag)
    tsn: int  # next TSN it will send


@dataclass
class Assoc:
    """Packets of one association as a capture point sees them (A = initiator)."""
    a: Endpoint = field(default_factory=lambda: Endpoint(("10.0.0.1",), 2905, 0x0A0A0A0A, 1000))
    b: Endpoint = field(default_factory=lambda: Endpoint(("10.0.0.2",), 3000, 0x0B0B0B0B, 5000))
    linktype: int = ETHERNET
    t: int = T0
    frames: list[Frame] = field(default_factory=list)
    ip_id: int = 1

    @classmethod
    def make(cls, a_addrs=("10.0.0.1",), b_addrs=("10.0.0.2",), ports=(2905, 3000), tags=(0x0A0A0A0A, 0x0B0B0B0B),
             tsns=(1000, 5000), linktype=ETHERNET, t=T0) -> "Assoc":
        return cls(Endpoint(tuple(a_addrs), ports[0], tags[0], tsns[0]),
                   Endpoint(tuple(b_addrs), ports[1], tags[1], tsns[1]), linktype, t)

    # clock
    def at(self, t_ns: int) -> "Assoc":
        self.t = t_ns
        return self

    def wait(self, dt_ns: int) -> "Assoc":
        self.t += dt_ns
        return self

    def _send(self, frm: Endpoint, to: Endpoint, chunks, src, dst, vtag, bad_checksum, ip_id) -> Frame:
        src = src or frm.addrs[0]
        dst = dst or to.addrs[0]
        vtag = to.tag if vtag is None else vtag
        if ip_id is None:
            ip_id = self.ip_id
            self.ip_id = (self.ip_id + 1) & 0xFFFF
        sctp = sctp_packet(frm.port, to.port, vtag, chunks, bad_checksum)
        f = Frame(self.t, self.linktype, ip_frame(src, dst, sctp, self.linktype, ip_id))
        self.frames.append(f)
        return f

    def a_sends(self, *chunks, src=None, dst=None, vtag=None, bad_checksum=False, ip_id=None) -> Frame:
        return self._send(self.a, self.b, chunks, src, dst, vtag, bad_checksum, ip_id)

    def b_sends(self, *chunks, src=None, dst=None, vtag=None, bad_checksum=False, ip_id=None) -> Frame:
        return self._send(self.b, self.a, chunks, src, dst, vtag, bad_checksum, ip_id)

    def repeat(self, frame: Frame, dt_ns: int = 0) -> Frame:
        """The same frame captured again ``dt_ns`` after the clock (tcpdump -i any style duplicate)."""
        f = Frame(self.t + dt_ns, frame.linktype, frame.data)
        self.frames.append(f)
        return f

    def next_tsn(self, side: str) -> int:
        ep = self.a if side == "A" else self.b
        t = ep.tsn
        ep.tsn = _u32(ep.tsn + 1)
        return t

    def handshake(self, rtt_ns: int = 20 * MS, proc_ns: int = 100 * US, a_rwnd=(106496, 106496),
                  streams=(10, 10), addrs: bool = False) -> None:
        """INIT / INIT-ACK / COOKIE-ECHO / COOKIE-ACK; the capture point sits next to A."""
        self.a_sends(init(self.a.tag, self.a.tsn, a_rwnd[0], streams[0], streams[1],
                          self.a.addrs if addrs else ()), vtag=0)
        self.wait(rtt_ns)
        self.b_sends(init_ack(self.b.tag, self.b.tsn, a_rwnd[1], streams[1], streams[0],
                              self.b.addrs if addrs else ()))
        self.wait(proc_ns)
        self.a_sends(cookie_echo())
        self.wait(rtt_ns)
        self.b_sends(cookie_ack())


# ------------------------------------------------------------------------------------------------ running


def feed(analyzer, frames: Iterable[Frame]):
    for f in frames:
        analyzer.feed_packet(f.ts_ns, f.linktype, f.data)
    return analyzer


def analyze(frames: Iterable[Frame], **kw) -> tuple[dict, list[tuple]]:
    """Feed frames one at a time into a fresh Analyzer(events=True); return (report, events)."""
    from sctpcorr.wire._engine import Analyzer

    a = Analyzer(events=True, **kw)
    feed(a, frames)
    return a.report(), a.drain_events()


def path(assoc_report: dict, src: str, dst: str) -> dict:
    for p in assoc_report["paths"]:
        if p["src"] == src and p["dst"] == dst:
            return p
    raise KeyError(f"no path {src}->{dst} in {[(p['src'], p['dst']) for p in assoc_report['paths']]}")


# ------------------------------------------------------------------------------------------------ pcap / pcapng


def pcap_bytes(frames: Sequence[Frame], nanosecond: bool = False, big_endian: bool = False,
               snaplen: int = 262144) -> bytes:
    """Classic pcap; every frame must have the same link type."""
    e = ">" if big_endian else "<"
    lt = frames[0].linktype if frames else ETHERNET
    magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, lt)]
    div = 1 if nanosecond else 1000
    for f in frames:
        assert f.linktype == lt, "classic pcap has one link type"
        sec, frac = divmod(f.ts_ns, S)
        out.append(struct.pack(e + "IIII", sec, frac // div, len(f.data), len(f.data)) + f.data)
    return b"".join(out)


def _pad4(b: bytes) -> bytes:
    return b + bytes((-len(b)) % 4)


def _opt(code: int, value: bytes, e: str) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + _pad4(value)


def pcapng_bytes(frames: Sequence[Frame], tsresol: int = 9, big_endian: bool = False,
                 comment: str | None = None, tsresols: dict[int, int] | None = None) -> bytes:
    """pcapng with one IDB per link type (in order of first use); ``tsresol`` is the if_tsresol byte (a power of
    ten, or 0x80|n for 2**-n), ``tsresols`` overrides it per link type."""
    e = ">" if big_endian else "<"

    def block(btype: int, body: bytes) -> bytes:
        body = _pad4(body)
        ln = 12 + len(body)
        return struct.pack(e + "II", btype, ln) + body + struct.pack(e + "I", ln)

    opts = _opt(1, comment.encode(), e) + struct.pack(e + "HH", 0, 0) if comment else b""
    out = [block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + opts)]
    ifaces: dict[int, int] = {}
    for f in frames:
        res = (tsresols or {}).get(f.linktype, tsresol)
        if f.linktype not in ifaces:
            ifaces[f.linktype] = len(ifaces)
            idb_opts = _opt(9, bytes([res]), e) + struct.pack(e + "HH", 0, 0)
            out.append(block(1, struct.pack(e + "HHI", f.linktype, 0, 262144) + idb_opts))
        ts = f.ts_ns * 2 ** (res & 0x7F) // S if res & 0x80 else f.ts_ns // 10 ** (9 - res)
        out.append(block(6, struct.pack(e + "IIIII", ifaces[f.linktype], ts >> 32, ts & 0xFFFFFFFF, len(f.data),
                                        len(f.data)) + _pad4(f.data)))
    return b"".join(out)


def read_capture(path) -> bytes:
    """A capture file's bytes, gunzipped when it is gzip (format by magic, never by extension)."""
    import gzip
    from pathlib import Path

    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def read_frames(buf: bytes) -> list[Frame]:
    """Minimal pcap / pcapng reader (test-side, independent of the engine). Frame numbers = list index + 1.

    Records with caplen > origlen keep caplen bytes; a truncated tail ends the list."""
    return read_frames_end(buf)[0]


def read_frames_end(buf: bytes) -> tuple[list[Frame], int]:
    """``read_frames`` plus the offset where the last complete record (or block) ends."""
    frames: list[Frame] = []
    magic = buf[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d",
                 b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34"):
        e = "<" if magic[0] in (0xD4, 0x4D, 0x34) else ">"
        m = struct.unpack(e + "I", magic)[0]
        nano = m == 0xA1B23C4D
        lt = struct.unpack(e + "I", buf[20:24])[0] & 0x0FFFFFFF
        rec = 24 if m == 0xA1B2CD34 else 16
        off = 24
        while off + rec <= len(buf):
            sec, frac, caplen, _orig = struct.unpack(e + "IIII", buf[off:off + 16])
            off += rec
            if off + caplen > len(buf):
                off -= rec
                break
            frames.append(Frame(sec * S + frac * (1 if nano else 1000), lt, buf[off:off + caplen]))
            off += caplen
        return frames, off
    if magic == b"\x0a\x0d\x0d\x0a":
        off, e = 0, "<"
        ifaces: list[tuple[int, int, int]] = []  # (linktype, ticks per second, offset s)
        while off + 12 <= len(buf):
            if buf[off:off + 4] == b"\x0a\x0d\x0d\x0a":
                e = "<" if buf[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
                ifaces = []
            btype, blen = struct.unpack(e + "II", buf[off:off + 8])
            if blen < 12 or off + blen > len(buf):
                break
            body = buf[off + 8:off + blen - 4]
            if btype == 1:
                lt = struct.unpack(e + "H", body[:2])[0]
                tps, tsoff, o = 1_000_000, 0, 8
                while o + 4 <= len(body):
                    code, ln = struct.unpack(e + "HH", body[o:o + 4])
                    if code == 0:
                        break
                    v = body[o + 4:o + 4 + ln]
                    if code == 9 and ln >= 1:
                        r = v[0]
                        tps = 2 ** (r & 0x7F) if r & 0x80 else 10 ** r
                    elif code == 14 and ln == 8:
                        tsoff = struct.unpack(e + "q", v)[0]
                    o += 4 + ln + ((-ln) % 4)
                ifaces.append((lt, tps, tsoff))
            elif btype == 6:
                iid, hi, lo, caplen, _orig = struct.unpack(e + "IIIII", body[:20])
                lt, tps, tsoff = ifaces[iid]
                ticks = (hi << 32) | lo
                frames.append(Frame(tsoff * S + ticks * S // tps, lt, body[20:20 + caplen]))
            elif btype == 3:
                lt, tps, tsoff = ifaces[0]
                (orig,) = struct.unpack(e + "I", body[:4])
                frames.append(Frame(0, lt, body[4:4 + orig]))
            off += blen
        return frames, off
    raise ValueError("not a pcap or pcapng capture")


# ------------------------------------------------------------------------------------------------ IP, test side


def ip_datagram(linktype: int, frame: bytes):
    """Independent minimal decode: (src, dst, ip_id, proto, payload clipped to the IP length, is_fragment) or None.

    Covers what the corpus uses: Ethernet (+802.1Q/QinQ), Linux SLL/SLL2, raw IP, BSD loopback."""
    off, etype = 0, None
    if linktype == ETHERNET:
        off, etype = 14, frame[12:14]
        while etype in (b"\x81\x00", b"\x88\xa8", b"\x91\x00") and len(frame) >= off + 4:
            etype, off = frame[off + 2:off + 4], off + 4
    elif linktype == LINUX_SLL:
        off, etype = 16, frame[14:16]
    elif linktype == 276:  # SLL2
        off, etype = 20, frame[0:2]
    elif linktype in (RAW, IPV4, IPV6, 12, 14):
        off = 0
    elif linktype in (0, 108):
        off = 4
    else:
        return None
    if etype is not None and etype not in (b"\x08\x00", b"\x86\xdd"):
        return None
    ip = frame[off:]
    if len(ip) < 20:
        return None
    if ip[0] >> 4 == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        ip_id = struct.unpack(">H", ip[4:6])[0]
        frag = struct.unpack(">H", ip[6:8])[0] & 0x3FFF != 0
        return ip[12:16], ip[16:20], ip_id, ip[9], ip[ihl:total], frag
    if ip[0] >> 4 == 6 and len(ip) >= 40:
        nh, o, frag = ip[6], 40, False
        end = 40 + struct.unpack(">H", ip[4:6])[0]
        while nh in (0, 43, 60, 44) and len(ip) >= o + 8:
            frag = frag or nh == 44
            nh, o = ip[o], o + (8 if nh == 44 else (ip[o + 1] + 1) * 8)
        return ip[8:24], ip[24:40], 0, nh, ip[o:end], frag
    return None


# ------------------------------------------------------------------------------------------------ events

# The names of each event tuple's items after (kind, ts_ns, frame_no, assoc_id): the engine's own table, which
# tests/cli/test_cli_docs.py checks against docs/output.md; named() below asserts every tuple has exactly those.
from sctpcorr.wire.engine import EVENT_FIELDS  # noqa: E402


def named(events, kind: str | None = None) -> list[dict]:
    """Events as dicts named after engine.md, optionally only one kind."""
    out = []
    for e in events:
        if kind is not None and e[0] != kind:
            continue
        names = ("kind", "ts_ns", "frame_no", "assoc_id") + EVENT_FIELDS[e[0]]
        assert len(e) == len(names), f"event {e[0]} has {len(e)} items, engine.md documents {len(names)}"
        out.append(dict(zip(names, e)))
    return out


def rtts(events, method: str = "data", direction: str | None = None) -> list[tuple[int | None, int]]:
    """[(tsn, rtt_ns)] of the RTT samples of one method, in order."""
    return [(e["tsn"], e["rtt_ns"]) for e in named(events, "rtt")
            if e["method"] == method and (direction is None or e["direction"] == direction)]
