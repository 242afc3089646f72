#!/usr/bin/env python3
"""Build the scale corpus: real associations, whole lives (INIT to SHUTDOWN-COMPLETE), replayed N times as N
distinct associations that come and go (issue #12: many associations, and churn).

Sources (../shared/pcaps): the single-homed IPv4 associations of the corpus that the capture shows from INIT to
SHUTDOWN-COMPLETE: an OAI gNB's NGAP link (5Greplay/oai.pcap), two eNB S1AP links with their Diameter-triggering
procedures (tempo/MAGMA-NSA-TEST.pcap, tempo/ULRerror.pcap), an X2AP link (tempo/nrmodulelogseNB2.pcap) and a
short generic one (temp/sctp.pcap); 38 packets an association on average.

Copy k of a source association: its first endpoint (the one that sent INIT) gets the address 10.a.b.c made of
k (a RAN node each), the other keeps its own (the core); both verification tags (the common header's and the
initiate tags of INIT and INIT-ACK) are XORed with a number made of k, so every copy is a distinct association by
tags and by addresses. IPv4 header checksums are recomputed, SCTP CRC32c checksums are not (the analysers
analyse them anyway, as with a capture from a host that offloads checksums). Idle gaps longer than
``--max-gap`` are shortened, copies start every ``--spacing`` seconds, and all are merged by time: with the
defaults about 1,300 associations are open at any moment while new ones start and old ones shut down.

    python bench/build_scale_corpus.py --assocs 100000 --out bench/out/scale-100k.pcap
"""
from __future__ import annotations

import argparse
import heapq
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_corpus import ip_checksum, parse_sctp_frame, read_capture, to_ethernet  # noqa: E402

SOURCES = [("5Greplay/oai.pcap", 1), ("tempo/MAGMA-NSA-TEST.pcap", 1), ("tempo/ULRerror.pcap", 1),
           ("tempo/nrmodulelogseNB2.pcap", 2), ("temp/sctp.pcap", 1)]
INIT, INIT_ACK = 1, 2


def associations(pcaps: str) -> list[list[tuple[int, bytes, int]]]:
    """Each source association: its frames as (time since its first, Ethernet frame, SCTP offset), in order; the
    association is found as the engine numbers it (its packets by port pair and addresses)."""
    from sctpcorr.wire.engine import Analyzer

    out = []
    for rel, aid in SOURCES:
        path = os.path.join(pcaps, rel)
        a = Analyzer()
        with open(path, "rb") as f:
            a.feed_capture(f.read())
        a.finish_capture()
        info = a.association(aid)
        ports, addrs = info["ports"], info["addresses"]
        key = {(addrs[0][0], ports[0], addrs[1][0], ports[1]), (addrs[1][0], ports[1], addrs[0][0], ports[0])}
        frames, seen = [], set()
        for ts, lt, frame, origlen in read_capture(path):
            eth = to_ethernet(lt, frame)
            t = parse_sctp_frame(ts, eth, origlen, len(frame)) if eth is not None else None
            if t is None or t.ip_version != 4:
                continue
            src = ".".join(map(str, eth[t.ip_off + 12:t.ip_off + 16]))
            dst = ".".join(map(str, eth[t.ip_off + 16:t.ip_off + 20]))
            if (src, t.sport, dst, t.dport) not in key or eth[t.ip_off:t.ip_end] in seen:
                continue                          # another association, or a duplicate frame (tcpdump -i any)
            seen.add(eth[t.ip_off:t.ip_end])
            frames.append((ts, eth[:t.ip_end], t.ip_off, t.sctp_off, [(c[0], c[2]) for c in t.chunks]))
        t0, first, ip_off = frames[0][0], frames[0][1], frames[0][2]
        initiator = first[ip_off + 12:ip_off + 16]           # the INIT sender's address
        out.append([(ts - t0, eth, io, so, chunks, initiator) for ts, eth, io, so, chunks in frames])
    return out


def shorten(frames: list, max_gap_ns: int) -> list:
    out, shift, prev = [], 0, None
    for ts, *rest in frames:
        if prev is not None and ts - prev > max_gap_ns:
            shift += ts - prev - max_gap_ns
        prev = ts
        out.append((ts - shift, *rest))
    return out


def copy_frame(eth: bytes, ip_off: int, sctp_off: int, chunks: list, initiator: bytes, k: int) -> bytes:
    b = bytearray(eth)
    node = bytes((10, (k >> 16) & 0xFF, (k >> 8) & 0xFF, k & 0xFF))
    for o in (ip_off + 12, ip_off + 16):                      # the RAN node's address, wherever it appears
        if b[o:o + 4] == initiator:
            b[o:o + 4] = node
    ihl = (b[ip_off] & 0x0F) * 4
    struct.pack_into(">H", b, ip_off + 10, 0)
    struct.pack_into(">H", b, ip_off + 10, ip_checksum(bytes(b[ip_off:ip_off + ihl])))
    x = (k * 2654435761 + 0x5BD1E995) & 0xFFFFFFFF
    vtag = struct.unpack_from(">I", b, sctp_off + 4)[0]
    if vtag:                                                  # 0: an INIT's
        struct.pack_into(">I", b, sctp_off + 4, vtag ^ x)
    for ctype, off in chunks:
        if ctype in (INIT, INIT_ACK) and off + 8 <= len(b):
            tag = struct.unpack_from(">I", b, off + 4)[0]
            struct.pack_into(">I", b, off + 4, tag ^ x)
    return bytes(b)


def build(assocs: int, out: str, pcaps: str, spacing_s: float, max_gap_s: float) -> dict:
    sources = [shorten(f, int(max_gap_s * 1e9)) for f in associations(pcaps)]
    base_ns = 1_704_067_200 * 1_000_000_000
    spacing = int(spacing_s * 1e9)

    def copy(k: int):
        frames = sources[k % len(sources)]
        start = base_ns + k * spacing
        for ts, *rest in frames:
            yield start + ts, rest

    packets = 0
    with open(out + ".tmp", "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        rec = struct.Struct("<IIII")
        # copies start in order, so a heap over the copies that have started merges them by time
        heap: list = []
        nxt = 0
        while nxt < assocs or heap:
            while nxt < assocs and (not heap or base_ns + nxt * spacing <= heap[0][0]):
                g = copy(nxt)
                first = next(g)
                heapq.heappush(heap, (first[0], nxt, first, g))
                nxt += 1
            ts, k, item, g = heapq.heappop(heap)
            frame = copy_frame(*item[1], k)
            us = ts // 1000
            f.write(rec.pack(us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)
            packets += 1
            nx = next(g, None)
            if nx is not None:
                heapq.heappush(heap, (nx[0], k, nx, g))
    os.replace(out + ".tmp", out)
    durations = [f[-1][0] for f in sources]
    mean = sum(durations) / len(durations)
    return {"assocs": assocs, "packets": packets, "sources": [s for s, _ in SOURCES],
            "packets_per_assoc": packets / assocs, "span_s": (assocs * spacing + max(durations)) / 1e9,
            "open_at_once": round(mean / spacing), "path": out}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--assocs", type=int, default=100_000)
    ap.add_argument("--out", default=None)
    ap.add_argument("--pcaps", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                    "shared", "pcaps"))
    ap.add_argument("--spacing", type=float, default=0.002, help="seconds between two copies' starts")
    ap.add_argument("--max-gap", type=float, default=0.5, help="idle gaps longer than this are shortened (s)")
    a = ap.parse_args(argv)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", f"scale-{a.assocs}.pcap")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    info = build(a.assocs, out, a.pcaps, a.spacing, a.max_gap)
    with open(out + ".json", "w") as f:                       # what bench/scale.py reads
        json.dump(info, f, indent=1)
    print(info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
