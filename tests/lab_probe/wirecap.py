"""Just enough capture reading for the lab probe tests (dpkt, IPv4 over Ethernet, SCTP chunks).

Independent of sctpcorr's own wire engine on purpose: the kernel probe is checked against a second reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Pkt:
    ts_ns: int           # capture timestamp, CLOCK_REALTIME ns
    src: str
    dst: str
    vtag: int
    chunks: list[tuple[int, bytes]]   # (chunk type, chunk bytes incl. header)


def read(pcap: Path) -> list[Pkt]:
    import dpkt

    out = []
    with open(pcap, "rb") as f:
        for ts, buf in dpkt.pcapng.Reader(f):
            try:
                ip = dpkt.ethernet.Ethernet(buf).data
            except dpkt.UnpackError:
                continue
            if not isinstance(ip, dpkt.ip.IP) or ip.p != 132:
                continue
            raw = bytes(ip.data)
            if len(raw) < 12:
                continue
            chunks, off = [], 12
            while off + 4 <= len(raw):
                ctype, clen = raw[off], int.from_bytes(raw[off + 2:off + 4], "big")
                if clen < 4:
                    break
                chunks.append((ctype, raw[off:off + clen]))
                off += (clen + 3) & ~3
            out.append(Pkt(round(ts * 1e9), ".".join(map(str, ip.src)), ".".join(map(str, ip.dst)),
                           int.from_bytes(raw[4:8], "big"), chunks))
    return out


def data_chunks(pkts: list[Pkt], src_prefix: str) -> list[tuple[int, int, int]]:
    """(ts_ns, vtag, TSN) of every DATA chunk sent from src_prefix*, in capture order."""
    return [(p.ts_ns, p.vtag, int.from_bytes(c[4:8], "big")) for p in pkts if p.src.startswith(src_prefix)
            for t, c in p.chunks if t == 0 and len(c) >= 8]


def sacks(pkts: list[Pkt], dst_prefix: str) -> list[tuple[int, int, int]]:
    """(ts_ns, vtag, cumulative TSN ack) of every SACK arriving at dst_prefix*."""
    return [(p.ts_ns, p.vtag, int.from_bytes(c[4:8], "big")) for p in pkts if p.dst.startswith(dst_prefix)
            for t, c in p.chunks if t == 3 and len(c) >= 8]


def tsn_le(a: int, b: int) -> bool:
    """RFC 1982 serial-number a <= b for 32-bit TSNs."""
    return ((b - a) & 0xFFFFFFFF) < 0x80000000


def sacks_sent(pkts: list[Pkt], src_prefix: str) -> list[tuple[int, int, int, int]]:
    """(ts_ns, vtag, cumulative TSN ack, a_rwnd) of every SACK sent from src_prefix*, in capture order."""
    return [(p.ts_ns, p.vtag, int.from_bytes(c[4:8], "big"), int.from_bytes(c[8:12], "big")) for p in pkts
            if p.src.startswith(src_prefix) for t, c in p.chunks if t == 3 and len(c) >= 12]
