#!/usr/bin/env python3
"""Build the benchmark corpus: about one million SCTP packets replayed from real captures.

Theory of operation
-------------------
Sources are the REAL captures of ../shared/pcaps (the fuzzed ``mrp/`` and the crafted ``suricata-verify/`` and
``PcapFlowLab/`` files are left out, and so is ``packetgen/sctp.pcapng``, a copy of the first frames of
``pkts/sctp-www.cap``). Only frames that carry an SCTP packet directly in IPv4/IPv6 are used (no ICMP-quoted SCTP,
no IP fragments, no non-SCTP traffic), so every packet of the corpus is an SCTP packet.

Each source file is replayed by ``lanes``: a lane is one long-lived copy of the file's associations, replayed in a
loop. Loops of a lane are a *continuation* of the same associations, never fresh ones:

* the first loop keeps the handshake (INIT .. COOKIE-ACK); later loops drop INIT, INIT-ACK, COOKIE-ECHO and
  COOKIE-ACK chunks, and no loop replays SHUTDOWN, SHUTDOWN-ACK, SHUTDOWN-COMPLETE or ABORT (chunks are removed
  from bundles, packets left empty are dropped), so associations stay established like real NGAP/S1AP links,
  which live for days and carry DATA, SACK and HEARTBEAT;
* in loop ``k`` every TSN (DATA, I-DATA, FORWARD-TSN) of a direction is shifted by ``k * span`` where ``span`` is
  the number of TSNs that direction uses in one loop, and the cumulative TSN ack and duplicate TSNs of the SACKs
  that acknowledge it by the same amount (gap blocks are offsets and need nothing); the SSN of ordered DATA is
  shifted per stream the same way. Loop ``k+1`` therefore starts exactly where loop ``k`` ended: no false
  retransmission and no TSN or SSN hole beyond those the source capture itself has;
* every lane gets its own SCTP ports (each original port of the file is mapped to a port >= 10000 that no other
  lane and no source file uses; lane 0 of a file keeps the original ports when no earlier file uses them), so
  every lane is a distinct association with its own port pair. Verification tags are kept: lanes of one file
  share addresses and tags, and the port pair is what tells their associations apart (as it would for many
  gNBs behind one NAT address); it also keeps mid-association halves pairable without ambiguity.

Why continuation rather than fresh associations: a real capture of a busy AMF/MME holds a bounded set of
associations carrying an unbounded number of packets. With a fixed set of lanes the number of associations does
not grow with the corpus, so running the analyser on a 250k and a 1M prefix shows whether its *memory* grows with
packets (it must not), instead of measuring only the growth of the association table.

Time: inside a loop the original spacing of the frames is kept, with idle gaps longer than ``--max-gap`` (1 s)
shortened to it (long idle periods only dilute the corpus; RTTs, delayed SACKs and duplicate captures are far
shorter). The first loop, which holds the handshakes, is replayed with gaps capped at 0.1 s
(``--first-max-gap``), so that every association of every lane exists within the first ~170k packets: a 250k
prefix then holds the same associations as the whole corpus. A loop follows the previous one after half the gap
cap; the lanes of a file start staggered over its loop period or the first 3 s (``--start-window``), whichever is
shorter. All lanes are merged by time into one stream with strictly increasing timestamps (µs, starting
2024-01-01T00:00:00Z).

Mix: each file has a target share of the corpus packets (``SOURCES``); the number of lanes of a file is
``share * rate / file_rate`` where ``file_rate`` is its packets per loop period, so slow files (HEARTBEAT-only
idle links) get many lanes. NGAP/S1AP/X2AP links get 70 % of the packets, SIGTRAN (M3UA/ISUP/Megaco) and ForCES
18 %, generic SCTP applications 12 %; DATA, SACK and HEARTBEAT(-ACK) make up nearly all chunks.

Output: classic pcap, Ethernet link type (Linux cooked SLL/SLL2 frames are converted to Ethernet headers), µs
timestamps. Nothing is recomputed that the rewrite does not need: SCTP CRC32c checksums are left as they are and are
therefore wrong after a rewrite (real captures often have wrong ones because of checksum offload; analysers verify
them and analyse the packet anyway); the IPv4 header checksum and IP lengths are recomputed only where chunks were
removed. The output is deterministic: the same arguments give the same bytes, and the corpus of N packets is the
prefix of any larger one.

Usage: ``python bench/build_corpus.py [--packets N] [--out FILE]``; a JSON summary is written next to the pcap.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import heapq
import json
import os
import struct
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PCAPS = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "pcaps"))
OUT_DIR = os.path.join(HERE, "out")

# (file under ../shared/pcaps, target share of corpus packets in %, what it is)
SOURCES: list[tuple[str, float, str]] = [
    # NGAP / S1AP / X2AP: 70 %
    ("tempo/enb.pcap", 12, "S1AP eNB side, mid-association DATA/SACK/HB"),
    ("tempo/ULRerror.pcap", 12, "S1AP attach, 8 streams, bundled SACK+DATA"),
    ("tempo/s1ap.pcap", 10, "S1AP mid-association DATA/SACK/HB"),
    ("tempo/nrmodulelogseNB2.pcap", 8, "S1AP + X2AP, every frame captured twice (tcpdump -i any)"),
    ("5Greplay/oai.pcap", 8, "NGAP OpenAirInterface 5G SA"),
    ("tempo/MAGMA-NSA-TEST.pcap", 6, "S1AP Magma NSA, 4 streams"),
    ("5Greplay/ue_authetication.pcapng", 6, "NGAP mid-association, bundled DATA+SACK"),
    ("tempo/quectelTAUtest2.pcap", 4, "S1AP idle link: HEARTBEAT/HEARTBEAT-ACK only"),
    ("temp/sctp.pcap", 4, "NGAP short association"),
    # SIGTRAN and ForCES: 18 %
    ("PcapPlusPlus/ip-frag.pcap", 6, "M3UA/SCCP DATA/SACK/HB, INIT retries"),
    ("tcpdump/isup.pcap", 3, "ISUP/M3UA DATA only"),
    ("pkts/sctp.cap", 3, "Megaco DATA/SACK/HB, two associations"),
    ("tcpdump/forces3.pcap", 4, "ForCES, 6 associations, many HEARTBEATs"),
    ("tcpdump/forces2.pcap", 2, "ForCES, 6 associations"),
    # generic SCTP applications: 12 %
    ("pkts/sctp-test.cap", 4, "bulk DATA with bundling, 12 streams"),
    ("pkts/sctp-www.cap", 3, "HTTP over SCTP, 3 associations, fragmented messages"),
    ("pkts/sctp-addip.cap", 2, "ASCONF multihoming handover"),
    ("dpkt_doc/sctp.cap", 1, "2 multihomed associations"),
    ("pkts/sctp001.pcap", 1, "iperf3 over SCTP on loopback"),
    ("redes-terminal-distribuido/sctp.pcap", 1, "3 short associations in Docker"),
]

LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 1, 113, 276
BASE_TS_US = 1_704_067_200 * 1_000_000  # 2024-01-01T00:00:00Z

# chunk types
DATA, INIT, INIT_ACK, SACK, ABORT, SHUTDOWN, SHUTDOWN_ACK = 0, 1, 2, 3, 6, 7, 8
COOKIE_ECHO, COOKIE_ACK, SHUTDOWN_COMPLETE, NR_SACK, I_DATA = 10, 11, 14, 16, 64
FORWARD_TSN, I_FORWARD_TSN = 192, 194
CHUNK_NAMES = {0: "DATA", 1: "INIT", 2: "INIT_ACK", 3: "SACK", 4: "HEARTBEAT", 5: "HEARTBEAT_ACK", 6: "ABORT",
               7: "SHUTDOWN", 8: "SHUTDOWN_ACK", 9: "ERROR", 10: "COOKIE_ECHO", 11: "COOKIE_ACK", 12: "ECNE",
               13: "CWR", 14: "SHUTDOWN_COMPLETE", 15: "AUTH", 16: "NR_SACK", 64: "I_DATA", 128: "ASCONF_ACK",
               130: "RE_CONFIG", 132: "PAD", 192: "FORWARD_TSN", 193: "ASCONF", 194: "I_FORWARD_TSN"}
NEVER_REPLAYED = {ABORT, SHUTDOWN, SHUTDOWN_ACK, SHUTDOWN_COMPLETE}
FIRST_LOOP_ONLY = {INIT, INIT_ACK, COOKIE_ECHO, COOKIE_ACK}


# ------------------------------------------------------------------------------------------------------------
# reading the source captures (pcap / pcapng / gzip, by magic)
# ------------------------------------------------------------------------------------------------------------

def read_capture(path: str):
    """Yield (ts_ns, linktype, frame, origlen) for every packet record of a pcap or pcapng file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    magic = data[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(data)
    else:
        yield from _read_pcap(data, path)


def _read_pcap(data: bytes, path: str):
    magics = {0xA1B2C3D4: 1000, 0xA1B23C4D: 1, 0xA1B2CD34: 1000}
    for endian in "<>":
        (m,) = struct.unpack(endian + "I", data[:4])
        if m in magics:
            break
    else:
        raise ValueError(f"{path}: not a pcap or pcapng capture")
    scale = magics[m]
    extra = 8 if m == 0xA1B2CD34 else 0  # "modified" pcap: ifindex, protocol, pkt_type, pad after the header
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    hdr = struct.Struct(endian + "IIII")
    off = 24
    while off + 16 + extra <= len(data):
        sec, frac, caplen, origlen = hdr.unpack_from(data, off)
        off += 16 + extra
        frame = data[off:off + caplen]
        off += caplen
        if len(frame) < caplen:
            break
        yield (sec * 1_000_000_000 + frac * scale, linktype, frame, origlen)


def _read_pcapng(data: bytes):
    off, endian, ifaces = 0, "<", []
    while off + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, off)[0]
        if btype == 0x0A0D0D0A:  # section header: byte order from the byte-order magic
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or off + blen > len(data):
            break
        body = data[off + 8:off + blen - 4]
        if btype == 1:  # interface description
            linktype = struct.unpack_from(endian + "H", body, 0)[0]
            tsres, tsoff = 1000, 0  # ns per tick (default µs), offset in s
            o = 8
            while o + 4 <= len(body):
                code, olen = struct.unpack_from(endian + "HH", body, o)
                val = body[o + 4:o + 4 + olen]
                if code == 0:
                    break
                if code == 9 and olen >= 1:
                    r = val[0]
                    tsres = (2 ** -(r & 0x7F) if r & 0x80 else 10 ** -(r & 0x7F)) * 1e9
                if code == 14 and olen == 8:
                    tsoff = struct.unpack(endian + "q", val)[0]
                o += 4 + ((olen + 3) & ~3)
            ifaces.append((linktype, tsres, tsoff))
        elif btype == 6:  # enhanced packet
            iid, hi, lo, caplen, origlen = struct.unpack_from(endian + "IIIII", body, 0)
            linktype, tsres, tsoff = ifaces[iid]
            ticks = (hi << 32) | lo
            ts = int(ticks * tsres) if tsres != 1000 else ticks * 1000
            yield (ts + tsoff * 1_000_000_000, linktype, body[20:20 + caplen], origlen)
        elif btype == 3:  # simple packet (no timestamp): interface 0
            origlen = struct.unpack_from(endian + "I", body, 0)[0]
            yield (0, ifaces[0][0], body[4:4 + min(origlen, len(body) - 4)], origlen)
        off += blen


def to_ethernet(linktype: int, frame: bytes) -> bytes | None:
    """Return the frame with an Ethernet header (SLL/SLL2 converted), or None for other link types."""
    if linktype == LINKTYPE_ETHERNET:
        return frame
    if linktype == LINKTYPE_LINUX_SLL and len(frame) >= 16:
        halen = struct.unpack_from(">H", frame, 4)[0]
        src = frame[6:12] if halen == 6 else b"\x02\x00\x00\x00\x00\x02"
        return b"\x02\x00\x00\x00\x00\x01" + src + frame[14:16] + frame[16:]
    if linktype == LINKTYPE_LINUX_SLL2 and len(frame) >= 20:
        src = frame[12:18] if frame[11] == 6 else b"\x02\x00\x00\x00\x00\x02"
        return b"\x02\x00\x00\x00\x00\x01" + src + frame[0:2] + frame[20:]
    return None


# ------------------------------------------------------------------------------------------------------------
# templates: one per SCTP frame of a source file
# ------------------------------------------------------------------------------------------------------------

@dataclass
class Template:
    """One SCTP frame as it will be written, plus where its loop-dependent fields are."""

    ts_ns: int                  # original capture time
    frame: bytes                # Ethernet frame
    trunc: int                  # origlen - caplen (> 0 when the source was snaplen-truncated)
    sctp_off: int               # offset of the SCTP common header in frame
    sport: int
    dport: int
    vtag: int
    chunks: list = field(default_factory=list)  # (type, flags, offset in frame, declared length, complete)
    ip_off: int = 14
    ip_version: int = 4
    ip_end: int = 0             # end of the IP datagram in frame (link-layer trailer bytes may follow)


def parse_sctp_frame(ts_ns: int, eth: bytes, origlen: int, caplen: int) -> Template | None:
    """Locate IP and SCTP in an Ethernet frame; None unless it carries a whole, unfragmented SCTP datagram."""
    off, etype = 14, struct.unpack_from(">H", eth, 12)[0] if len(eth) >= 14 else 0
    while etype in (0x8100, 0x88A8) and len(eth) >= off + 4:
        etype = struct.unpack_from(">H", eth, off + 2)[0]
        off += 4
    ip_off = off
    if etype == 0x0800 and len(eth) >= off + 20:
        ihl = (eth[off] & 0x0F) * 4
        total, frag = struct.unpack_from(">H2xH", eth, off + 2)
        if eth[off] >> 4 != 4 or eth[off + 9] != 132 or frag & 0x3FFF or ihl < 20:
            return None
        sctp_off, ip_end, version = off + ihl, off + total, 4
    elif etype == 0x86DD and len(eth) >= off + 40:
        nh, plen = eth[off + 6], struct.unpack_from(">H", eth, off + 4)[0]
        o = off + 40
        while nh in (0, 43, 60) and len(eth) >= o + 8:
            nh, o = eth[o], o + (eth[o + 1] + 1) * 8
        if nh != 132:
            return None
        sctp_off, ip_end, version = o, off + 40 + plen, 6
    else:
        return None
    end = min(len(eth), ip_end)
    if end < sctp_off + 12:
        return None
    sport, dport, vtag = struct.unpack_from(">HHI", eth, sctp_off)
    t = Template(ts_ns, eth, max(0, origlen - caplen), sctp_off, sport, dport, vtag, ip_off=ip_off,
                 ip_version=version, ip_end=end)
    o = sctp_off + 12
    while o + 4 <= end:
        ctype, cflags, clen = struct.unpack_from(">BBH", eth, o)
        if clen < 4:
            break
        t.chunks.append((ctype, cflags, o, clen, o + clen <= end))
        o += (clen + 3) & ~3
    return t if t.chunks else None


def variant(t: Template, drop: set[int]) -> Template | None:
    """The template without the chunk types in drop (IP lengths and IPv4 checksum fixed); None if nothing is left."""
    keep = [c for c in t.chunks if c[0] not in drop]
    if len(keep) == len(t.chunks):
        return t
    if not keep:
        return None
    if not all(c[4] for c in t.chunks if c[0] in drop):
        return t  # a truncated chunk would be removed: keep the frame as it is
    f = t.frame
    body = bytearray(f[:t.sctp_off + 12])
    chunks = []
    for ctype, cflags, o, clen, complete in keep:
        chunks.append((ctype, cflags, len(body), clen, complete))
        body += f[o:min(o + ((clen + 3) & ~3), t.ip_end)]
    removed = t.ip_end - len(body)
    body += f[t.ip_end:]  # link-layer trailer, if any
    if t.ip_version == 4:
        total = struct.unpack_from(">H", body, t.ip_off + 2)[0] - removed
        struct.pack_into(">H", body, t.ip_off + 2, total)
        ihl = (body[t.ip_off] & 0x0F) * 4
        struct.pack_into(">H", body, t.ip_off + 10, 0)
        struct.pack_into(">H", body, t.ip_off + 10, ip_checksum(bytes(body[t.ip_off:t.ip_off + ihl])))
    else:
        plen = struct.unpack_from(">H", body, t.ip_off + 4)[0] - removed
        struct.pack_into(">H", body, t.ip_off + 4, plen)
    return Template(t.ts_ns, bytes(body), t.trunc, t.sctp_off, t.sport, t.dport, t.vtag, chunks, t.ip_off,
                    t.ip_version, t.ip_end - removed)


def ip_checksum(hdr: bytes) -> int:
    s = sum(struct.unpack(f">{len(hdr) // 2}H", hdr))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def _serial_span(values: list[int], bits: int) -> tuple[int, int]:
    """(min, span) of serial numbers (RFC 1982) that lie within half the space of the first one."""
    mod, half = 1 << bits, 1 << (bits - 1)
    rel = [((v - values[0] + half) % mod) - half for v in values]
    lo, hi = min(rel), max(rel)
    return (values[0] + lo) % mod, hi - lo + 1


def count_associations(templates: list[Template], partner: dict[int, int]) -> int:
    """Associations in a file (an estimate for the summary): verification tags joined by INIT-ACK, or, without a
    handshake, the single tag of each direction of a port pair; INITs never answered count one each."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    by_dir: dict[tuple, set[int]] = {}
    inits = set()
    for t in templates:
        if t.vtag:
            find(t.vtag)
            a = t.ip_off + (12 if t.ip_version == 4 else 8)
            n = 4 if t.ip_version == 4 else 16
            src, dst = t.frame[a:a + n], t.frame[a + n:a + 2 * n]
            by_dir.setdefault((src, dst, t.sport, t.dport), set()).add(t.vtag)
        for ctype, _fl, o, _clen, _ok in t.chunks:
            if ctype == INIT and o + 8 <= t.ip_end:
                inits.add(struct.unpack_from(">I", t.frame, o + 4)[0])
    for a, b in partner.items():
        parent[find(a)] = find(b)
    for (src, dst, sp, dp), tags in by_dir.items():
        back = by_dir.get((dst, src, dp, sp), set())
        if len(tags) == 1 and len(back) == 1:
            parent[find(next(iter(tags)))] = find(next(iter(back)))
    return len({find(v) for v in parent}) + len(inits - set(parent))


@dataclass
class Source:
    """A source file ready for replay: its two loop variants with the positions to shift."""

    name: str
    share: float
    note: str
    loops: list = field(default_factory=list)  # [first loop, later loops]: list of (rel_ns, frame, trunc, patches)
    lanes: int = 0
    period_ns: int = 0                          # duration of one later loop + gap
    first_ns: int = 0                           # duration of the first loop + gap
    chunk_counts: list = field(default_factory=list)  # per loop variant, per template: Counter
    assocs: int = 0


def load_source(pcaps: str, name: str, share: float, note: str, max_gap_ns: int,
                first_max_gap_ns: int | None = None) -> Source:
    templates = []
    for ts, lt, frame, origlen in read_capture(os.path.join(pcaps, name)):
        eth = to_ethernet(lt, frame)
        if eth is None:
            raise SystemExit(f"{name}: unsupported link type {lt}")
        t = parse_sctp_frame(ts, eth, origlen, len(frame))
        if t is not None:
            templates.append(t)
    if not templates:
        raise SystemExit(f"{name}: no SCTP frame")

    # TSN and SSN spans per sending direction (sport, dport, vtag): how far one loop moves them
    tsns, ssns = {}, {}
    partner = {}
    for t in templates:
        f = t.frame
        for ctype, cflags, o, clen, complete in t.chunks:
            if ctype in (DATA, I_DATA) and o + 16 <= t.ip_end:
                g = (t.sport, t.dport, t.vtag)
                tsns.setdefault(g, []).append(struct.unpack_from(">I", f, o + 4)[0])
                if ctype == DATA and not cflags & 0x04:  # ordered DATA: SSN per stream
                    sid, ssn = struct.unpack_from(">HH", f, o + 8)
                    ssns.setdefault((g, sid), []).append(ssn)
            elif ctype == INIT_ACK and o + 8 <= t.ip_end:
                itag = struct.unpack_from(">I", f, o + 4)[0]
                partner[t.vtag], partner[itag] = itag, t.vtag
    tspan = {g: _serial_span(v, 32) for g, v in tsns.items()}
    sspan = {k: _serial_span(v, 16)[1] for k, v in ssns.items()}
    assocs = count_associations(templates, partner)

    def acked_group(t: Template, cum: int):
        """The DATA direction a SACK sent on t acknowledges."""
        g = (t.dport, t.sport, partner.get(t.vtag))
        if g in tspan:
            return g
        cands = [g for g in tspan if g[:2] == (t.dport, t.sport)]
        if len(cands) > 1:
            cands = [g for g in cands if (cum + 1 - tspan[g][0]) % (1 << 32) <= tspan[g][1]]
        return cands[0] if len(cands) == 1 else None

    def patches(t: Template) -> list[tuple[int, int, int]]:
        """(offset, bits, shift per loop) of every TSN/SSN field of a template."""
        out, f = [], t.frame
        g = (t.sport, t.dport, t.vtag)
        for ctype, cflags, o, clen, complete in t.chunks:
            if ctype in (DATA, I_DATA) and o + 8 <= t.ip_end:
                out.append((o + 4, 32, tspan[g][1]))
                if ctype == DATA and not cflags & 0x04 and o + 12 <= t.ip_end:
                    sid = struct.unpack_from(">H", f, o + 8)[0]
                    out.append((o + 10, 16, sspan[(g, sid)]))
            elif ctype in (FORWARD_TSN, I_FORWARD_TSN) and o + 8 <= t.ip_end and g in tspan:
                out.append((o + 4, 32, tspan[g][1]))
            elif ctype in (SACK, NR_SACK) and o + 8 <= t.ip_end:
                cum = struct.unpack_from(">I", f, o + 4)[0]
                ag = acked_group(t, cum)
                if ag is None:
                    continue
                shift = tspan[ag][1]
                out.append((o + 4, 32, shift))
                if ctype == SACK and o + 16 <= t.ip_end:
                    ngap, ndup = struct.unpack_from(">HH", f, o + 12)
                    d = o + 16 + 4 * ngap
                    for i in range(ndup):
                        if d + 4 * i + 4 <= min(t.ip_end, o + clen):
                            out.append((d + 4 * i, 32, shift))
        return out

    src = Source(name, share, note, assocs=assocs)
    caps = (first_max_gap_ns if first_max_gap_ns is not None else max_gap_ns, max_gap_ns)
    for drop, cap in zip((NEVER_REPLAYED, NEVER_REPLAYED | FIRST_LOOP_ONLY), caps):
        loop, counts, prev, rel = [], [], None, 0
        for t in templates:
            v = variant(t, drop)
            if v is None:
                continue
            if prev is not None:
                rel += min(max(0, v.ts_ns - prev), cap)
            prev = v.ts_ns
            loop.append((rel, v.frame, v.trunc, v.sctp_off, patches(v)))
            counts.append(Counter(CHUNK_NAMES.get(c[0], f"TYPE_{c[0]}") for c in v.chunks))
        if not loop:
            raise SystemExit(f"{name}: nothing left to replay")
        src.loops.append(loop)
        src.chunk_counts.append(counts)
    src.first_ns = src.loops[0][-1][0] + caps[0] // 2
    src.period_ns = src.loops[1][-1][0] + max_gap_ns // 2
    return src


# ------------------------------------------------------------------------------------------------------------
# replay
# ------------------------------------------------------------------------------------------------------------

def lane_stream(src: Source, lane: int, start_ns: int):
    """Yield (ts_ns, loop, template index) for one lane, forever."""
    k, t0 = 0, start_ns
    while True:
        loop = src.loops[0 if k == 0 else 1]
        for i, item in enumerate(loop):
            yield t0 + item[0], k, i
        t0 += src.first_ns if k == 0 else src.period_ns
        k += 1


def render(src: Source, portmap: dict[int, int], k: int, i: int) -> tuple[bytes, int]:
    """The frame of template i in loop k of a lane (ports mapped by portmap), and its original length."""
    rel, frame, trunc, sctp_off, patches = src.loops[0 if k == 0 else 1][i]
    buf = bytearray(frame)
    if portmap:
        sp, dp = struct.unpack_from(">HH", buf, sctp_off)
        struct.pack_into(">HH", buf, sctp_off, portmap.get(sp, sp), portmap.get(dp, dp))
    if k:
        for o, bits, shift in patches:
            if bits == 32:
                struct.pack_into(">I", buf, o, (struct.unpack_from(">I", buf, o)[0] + k * shift) & 0xFFFFFFFF)
            else:
                struct.pack_into(">H", buf, o, (struct.unpack_from(">H", buf, o)[0] + k * shift) & 0xFFFF)
    return bytes(buf), len(buf) + trunc


def port_maps(sources: list[Source]) -> list[list[dict[int, int]]]:
    """Per source, per lane: {original port: port}. Every lane gets its own ports, so no two lanes share a port
    pair; lane 0 of a file keeps the original ports unless an earlier file already uses one of them."""
    ports = [sorted({p for item in s.loops[0] for p in struct.unpack_from(">HH", item[1], item[3])})
             for s in sources]
    reserved = {p for ps in ports for p in ps}
    free = (p for p in range(10000, 65536) if p not in reserved)
    used: set[int] = set()
    maps = []
    for s, ps in zip(sources, ports):
        lanes = []
        for lane in range(s.lanes):
            if lane == 0 and not used & set(ps):
                used |= set(ps)
                lanes.append({})
                continue
            try:
                lanes.append({p: next(free) for p in ps})
            except StopIteration:
                raise SystemExit("out of ports: lower --rate (fewer lanes)") from None
        maps.append(lanes)
    return maps


def corpus_name(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"corpus-{n // 1_000_000}m.pcap"
    if n % 1000 == 0:
        return f"corpus-{n // 1000}k.pcap"
    return f"corpus-{n}.pcap"


def build(packets: int, out: str, pcaps: str, rate: float = 10_000, max_gap_s: float = 1.0,
          first_max_gap_s: float = 0.1, start_window_s: float = 3.0, quiet: bool = False,
          only: list[str] | None = None) -> dict:
    t_start = time.monotonic()
    max_gap_ns = int(max_gap_s * 1e9)
    mix = [(n, 1.0, "chosen with --sources") for n in only] if only else SOURCES
    sources = [load_source(pcaps, n, s, note, max_gap_ns, int(first_max_gap_s * 1e9)) for n, s, note in mix]
    total_share = sum(s.share for s in sources)

    streams = []  # (source index, lane, generator)
    for si, src in enumerate(sources):
        file_rate = len(src.loops[1]) / (src.period_ns / 1e9)
        src.lanes = max(1, round(src.share / total_share * rate / file_rate))
        phase = (si + 1) / (len(sources) + 1)
        window = min(src.period_ns, int(start_window_s * 1e9))
        for lane in range(src.lanes):
            start = int((lane + phase) / src.lanes * window)
            streams.append((si, lane, lane_stream(src, lane, start)))

    # every lane must be a distinct association: no port pair may repeat across lanes
    maps = port_maps(sources)
    seen: dict[tuple[int, int], tuple[int, int]] = {}
    for si, lane, _ in streams:
        pm = maps[si][lane]
        for item in sources[si].loops[0]:
            sp, dp = (pm.get(p, p) for p in struct.unpack_from(">HH", item[1], item[3]))
            key = (min(sp, dp), max(sp, dp))
            if seen.setdefault(key, (si, lane)) != (si, lane):
                raise SystemExit(f"port pair {key} of {sources[si].name} lane {lane} reused by {seen[key]}")

    heap = []
    for idx, (si, lane, gen) in enumerate(streams):
        ts, k, i = next(gen)
        heap.append((ts, idx, k, i))
    heapq.heapify(heap)

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    chunks: Counter = Counter()
    use = [[Counter(), Counter()] for _ in sources]  # template uses per source per loop variant
    per_source = Counter()
    started, first_loop_done = set(), set()
    all_started_at = all_first_loops_at = None
    last_us = 0
    sha = hashlib.sha256()
    rec = struct.Struct("<IIII")
    with open(out, "wb") as fh:
        head = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, LINKTYPE_ETHERNET)
        fh.write(head)
        sha.update(head)
        buf = []
        for n in range(packets):
            ts, idx, k, i = heap[0]
            si, lane, gen = streams[idx]
            frame, origlen = render(sources[si], maps[si][lane], k, i)
            nts, nk, ni = next(gen)
            heapq.heapreplace(heap, (nts, idx, nk, ni))
            us = BASE_TS_US + ts // 1000
            if us <= last_us:
                us = last_us + 1
            last_us = us
            r = rec.pack(us // 1_000_000, us % 1_000_000, len(frame), origlen) + frame
            buf.append(r)
            use[si][0 if k == 0 else 1][i] += 1
            per_source[si] += 1
            if all_started_at is None:
                started.add(idx)
                if len(started) == len(streams):
                    all_started_at = n + 1
            if all_first_loops_at is None and k == 1:
                first_loop_done.add(idx)
                if len(first_loop_done) == len(streams):
                    all_first_loops_at = n  # every lane is past its first loop: every association exists
            if len(buf) >= 4096:
                blob = b"".join(buf)
                fh.write(blob)
                sha.update(blob)
                buf.clear()
            if not quiet and n and n % 200_000 == 0:
                print(f"  {n:,} packets", file=sys.stderr)
        blob = b"".join(buf)
        fh.write(blob)
        sha.update(blob)
    for si, src in enumerate(sources):
        for v in (0, 1):
            for i, cnt in use[si][v].items():
                for name, c in src.chunk_counts[v][i].items():
                    chunks[name] += c * cnt
    total_chunks = sum(chunks.values())
    summary = {
        "file": os.path.basename(out),
        "packets": packets,
        "sctp_packets": packets,
        "link_type": "ethernet",
        "bytes": os.path.getsize(out),
        "sha256": sha.hexdigest(),
        "duration_s": round((last_us - BASE_TS_US) / 1e6, 3),
        "lanes": len(streams),
        "associations_expected": sum(s.lanes * s.assocs for s in sources),
        "all_lanes_started_by_packet": all_started_at,
        "all_associations_started_by_packet": all_first_loops_at,
        "chunks": dict(chunks.most_common()),
        "data_sack_heartbeat_share": round(sum(chunks[c] for c in ("DATA", "SACK", "HEARTBEAT", "HEARTBEAT_ACK"))
                                           / total_chunks, 4) if total_chunks else None,
        "params": {"rate_pps": rate, "max_gap_s": max_gap_s, "first_max_gap_s": first_max_gap_s,
                   "start_window_s": start_window_s},
        "sources": [{"file": s.name, "note": s.note, "target_share": round(s.share / total_share, 4),
                     "share": round(per_source[si] / packets, 4) if packets else 0, "lanes": s.lanes,
                     "associations_per_lane": s.assocs, "packets_first_loop": len(s.loops[0]),
                     "packets_per_loop": len(s.loops[1]), "loop_period_s": round(s.period_ns / 1e9, 3)}
                    for si, s in enumerate(sources)],
        "build_seconds": round(time.monotonic() - t_start, 1),
    }
    with open(os.path.splitext(out)[0] + ".json", "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="SCTP packets to write (default 1,000,000)")
    ap.add_argument("--out", help="output pcap (default bench/out/corpus-<N>.pcap)")
    ap.add_argument("--pcaps", default=DEFAULT_PCAPS, help="folder of the real captures (../shared/pcaps)")
    ap.add_argument("--rate", type=float, default=10_000, help="mean corpus packet rate, sets the lanes (pkt/s)")
    ap.add_argument("--max-gap", type=float, default=1.0, help="idle gaps longer than this are shortened (s)")
    ap.add_argument("--first-max-gap", type=float, default=0.1,
                    help="idle gap cap in the first loop, which holds the handshakes (s)")
    ap.add_argument("--start-window", type=float, default=3.0, help="lanes start within this many seconds (s)")
    ap.add_argument("--sources", help="comma-separated files under --pcaps, in equal shares, instead of the mix "
                                      "(e.g. open5gs/testregistration.pcapng for an NGAP-only corpus)")
    ap.add_argument("-q", "--quiet", action="store_true")
    a = ap.parse_args(argv)
    if not os.path.isdir(a.pcaps):
        print(f"build_corpus: no capture folder {a.pcaps}", file=sys.stderr)
        return 2
    out = a.out or os.path.join(OUT_DIR, corpus_name(a.packets))
    s = build(a.packets, out, a.pcaps, a.rate, a.max_gap, a.first_max_gap, a.start_window, a.quiet,
              [x for x in a.sources.split(",") if x] if a.sources else None)
    if not a.quiet:
        print(f"{out}: {s['packets']:,} SCTP packets, {s['bytes'] / 1e6:.1f} MB, {s['duration_s']} s of traffic, "
              f"{s['lanes']} lanes (~{s['associations_expected']} associations), all lanes started by packet "
              f"{s['all_lanes_started_by_packet']} and all associations by {s['all_associations_started_by_packet']}, "
              f"DATA/SACK/HB share of chunks {s['data_sack_heartbeat_share']}, "
              f"sha256 {s['sha256'][:16]}, built in {s['build_seconds']} s")
        for src in s["sources"]:
            print(f"  {src['file']:40s} lanes {src['lanes']:5d}  share {src['share']:.3f} "
                  f"(target {src['target_share']:.3f})  {src['packets_per_loop']:4d} pkts/loop "
                  f"every {src['loop_period_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
