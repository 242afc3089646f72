#!/usr/bin/env python3
"""Build the correlator's benchmark bundle: a bulk transfer of 1,000,000+ wire packets with its kernel events,
looped from the real lab bundle ``pcaps/lab/bulk`` (Debian 6.1 kernel, both captures, probe recording).

Theory of operation
-------------------
The lab's bulk run is one association: handshake, ~7 s of bulk DATA through a 20 Mbit/s bottleneck (with the
retransmissions, gap reports and heartbeats the real run had), an idle tail, shutdown.  The *steady segment* is
everything between just before the first DATA and the moment nothing is outstanding any more after the last one
(no DATA, no HEARTBEAT in flight), in the kernel's clock and, through the bundle's recorded clock offset, in
both captures' clocks.  The bundle is rebuilt as: the part before the segment, the segment ``K`` times, the part
after it.  Loop ``k`` is a continuation of the same association, not a new one (as in bench/build_corpus.py):

* every time moves by ``k * T`` (T = the segment's length rounded up to whole jiffies, so the kernel's jiffies
  move by exactly ``k * T / jiffy``): packet timestamps, event ``ts_ns`` and ``jiffies``, the ``sent_at`` of DATA
  chunks and HEARTBEATs (in the kernel's events and in the Linux HEARTBEAT info on the wire);
* every TSN of a direction moves by ``k * S`` (S = the TSNs that direction uses in the segment): DATA TSNs,
  SACK cumulative TSN acks and duplicate TSNs, SHUTDOWN's cumulative ack, the kernel's egress chunk TSNs and
  SACK values, its sack events' cum_tsn_ack, next_tsn and ctsn_ack_point; SSNs move per stream likewise.

So the bundle is what the lab would record from a bulk transfer K times as long: the kernel's RTT samples, SACK
joins and HEARTBEATs line up with the captures exactly as in the real run.  The kernel events are written as
``--raw`` records (``<u32 length><ABI struct>``, sctpcorr/kernel/bpf/sctpcorr_abi.h), the form a bulk recording
takes (``sctpcorr probe --raw``); derived events (rwnd, cwnd raises, assoc_state) are not raw records and are left
out.  SCTP checksums are not recomputed (rewritten packets carry wrong ones, as offloading hosts' captures do;
the engine analyses them all the same).

    .venv/bin/python bench/build_correlate_corpus.py --packets 1000000     # -> bench/out/corr-1m/
"""
from __future__ import annotations

import argparse
import ctypes
import gzip
import json
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sctpcorr.kernel import abi  # noqa: E402

SRC = ROOT / "pcaps" / "lab" / "bulk"


# ---- pcapng ----------------------------------------------------------------------------------------------------
def read_pcapng(path: Path) -> tuple[list[bytes], list[tuple[int, int, bytes, int]]]:
    """(header blocks SHB+IDBs as raw bytes, packets [(iface, ts_ns, frame, origlen)]); little-endian files."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    head, pkts, res = [], [], []
    off = 0
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, off)
        body = data[off + 8:off + blen - 4]
        if btype in (0x0A0D0D0A, 1):
            head.append(data[off:off + blen])
            if btype == 1:
                r, o = 6, 8
                while o + 4 <= len(body):
                    code, olen = struct.unpack_from("<HH", body, o)
                    if code == 0:
                        break
                    if code == 9:
                        r = body[o + 4]
                    o += 4 + olen + (-olen % 4)
                res.append(r)
        elif btype == 6:
            iface, hi, lo, cap, orig = struct.unpack_from("<IIIII", body)
            ticks = (hi << 32) | lo
            ts = ticks * 10 ** (9 - res[iface])
            pkts.append((iface, ts, body[20:20 + cap], orig))
        off += blen
    assert all(r == 9 for r in res), "the lab writes ns timestamps"
    return head, pkts


def epb(iface: int, ts_ns: int, frame: bytes, orig: int) -> bytes:
    pad = -len(frame) % 4
    blen = 32 + len(frame) + pad
    return (struct.pack("<IIIIIII", 6, blen, iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(frame), orig) + frame
            + b"\0" * pad + struct.pack("<I", blen))


# ---- SCTP rewriting --------------------------------------------------------------------------------------------
def sctp_offset(frame: bytes) -> int | None:
    """Offset of the SCTP header in an Ethernet/IPv4 frame (None: ARP, IPv6 neighbour discovery...)."""
    if frame[12:14] != b"\x08\x00" or len(frame) < 34 or frame[23] != 132:
        return None
    return 14 + (frame[14] & 0x0F) * 4


def chunks(frame: bytes):
    s = sctp_offset(frame)
    if s is None:
        return
    off = s + 12
    while off + 4 <= len(frame):
        ctype, flags, clen = frame[off], frame[off + 1], struct.unpack_from(">H", frame, off + 2)[0]
        if clen < 4:
            return
        yield ctype, off, clen
        off += clen + (-clen % 4)


def sctp_ports(frame: bytes) -> tuple[int, int]:
    s = sctp_offset(frame)
    return struct.unpack_from(">HH", frame, s)


def rewrite(frame: bytes, sender_port: int, shift: dict[int, int], ssn: dict[int, int], jif: int) -> bytes:
    """Loop shift of one packet: ``shift[port]`` = TSN shift of the direction that port's endpoint sends."""
    if sctp_offset(frame) is None:
        return frame
    f = bytearray(frame)
    sport, dport = sctp_ports(frame)
    own, peer = shift.get(sport, 0), shift.get(dport, 0)
    for ctype, off, clen in chunks(frame):
        if ctype == 0 and clen >= 16:                          # DATA: TSN, SID, SSN
            tsn, sid, s = struct.unpack_from(">IHH", f, off + 4)
            struct.pack_into(">I", f, off + 4, (tsn + own) & 0xFFFFFFFF)
            if not f[off + 1] & 0x04:                           # ordered
                struct.pack_into(">H", f, off + 10, (s + ssn.get(sid, 0)) & 0xFFFF)
        elif ctype in (3, 16) and clen >= 16:                  # SACK: cum ack, dup TSNs
            cum = struct.unpack_from(">I", f, off + 4)[0]
            struct.pack_into(">I", f, off + 4, (cum + peer) & 0xFFFFFFFF)
            ngap, ndup = struct.unpack_from(">HH", f, off + 12)
            d0 = off + 16 + 4 * ngap
            for i in range(ndup):
                t = struct.unpack_from(">I", f, d0 + 4 * i)[0]
                struct.pack_into(">I", f, d0 + 4 * i, (t + peer) & 0xFFFFFFFF)
        elif ctype == 7 and clen >= 8:                         # SHUTDOWN: cum ack
            cum = struct.unpack_from(">I", f, off + 4)[0]
            struct.pack_into(">I", f, off + 4, (cum + peer) & 0xFFFFFFFF)
        elif ctype in (4, 5) and clen >= 4 + 56:               # Linux HB info: sent_at (host order) at 32
            info = off + 4
            sa = struct.unpack_from("<Q", f, info + 32)[0]
            struct.pack_into("<Q", f, info + 32, sa + jif)
    return bytes(f)


# ---- kernel events -> raw ABI records --------------------------------------------------------------------------
def encode(e: dict) -> tuple[bytes, dict[str, int]] | None:
    """One decoded event as its ABI record (sctpcorr.kernel.abi.encode_struct), and the byte offsets of the fields
    a loop shifts."""
    ev = abi.encode_struct(e)
    if ev is None:
        return None
    cls, t = type(ev), e["type"]
    offs = {"ts": abi.Hdr.ts_ns.offset, "jif": abi.Hdr.jiffies.offset}
    if t == "sack":
        offs.update(cum=cls.cum_tsn_ack.offset, next=cls.next_tsn.offset, ctsn=cls.ctsn_ack_point.offset)
    elif t in ("hb_sent", "hb_ack"):
        offs["sent_at"] = cls.sent_at_j.offset
    elif t == "egress":
        coff = cls.chunks.offset
        for i, c in enumerate(e["chunks"]):
            at = coff + i * ctypes.sizeof(abi.Chunk)
            if c["type"] in ("DATA", "I_DATA"):
                offs[f"tsn{i}"] = at + abi.Chunk.value.offset
                offs[f"sat{i}"] = at + abi.Chunk.sent_at_lo.offset
            elif c["type"] in ("SACK", "NR_SACK"):
                offs[f"cum{i}"] = at + abi.Chunk.value.offset
    return bytes(ev), offs


def build(src: Path, out: Path, packets: int) -> dict:
    manifest = json.loads((src / "manifest.json").read_text())
    off = manifest["clock_offsets"][0]["real_minus_mono_ns"]
    hz = manifest["guest"]["hz"]
    jns = 1_000_000_000 // hz
    events = [json.loads(x) for x in gzip.decompress((src / "kernel" / "probe.jsonl.gz").read_bytes()).splitlines()]
    startup = events[0]
    evs = [e for e in events if e["type"] not in ("startup", "end", "clock") and not e.get("derived")
           and e["type"] != "diag"]
    caps = {role: read_pcapng(src / f"{role}.pcapng.gz") for role in ("client", "server")}
    # the steady segment in the kernel's clock: from the first DATA egress to the moment after the last DATA
    # chunk was acked and no HEARTBEAT was pending (the bulk's idle tail, before SHUTDOWN)
    data_eg = [e for e in evs if e["type"] == "egress" and any(c["type"] == "DATA" for c in e["chunks"])]
    t0 = data_eg[0]["ts_ns"] - 1_000_000
    shut = min(e["ts_ns"] for e in evs if e["type"] == "egress" and any(c["type"] == "SHUTDOWN" for c in e["chunks"]))
    last_data = data_eg[-1]["ts_ns"]
    last_sack = max(e["ts_ns"] for e in evs if e["type"] == "sack" and e["ts_ns"] > last_data)
    hb_open = [e["ts_ns"] for e in evs if e["type"] in ("hb_sent", "hb_ack") and last_sack < e["ts_ns"] < shut]
    t1 = last_sack + 20_000_000
    for e in sorted(evs, key=lambda x: x["ts_ns"]):          # move t1 to a moment with no HEARTBEAT in flight
        if e["type"] == "hb_sent" and t1 <= e["ts_ns"] < shut:
            break
    del hb_open
    seg = t1 - t0
    seg = -(-seg // jns) * jns + jns                          # whole jiffies
    J = seg // jns
    # TSNs and SSNs the segment uses, per sending port
    tsn_span: dict[int, int] = {}
    for e in data_eg:
        if t0 <= e["ts_ns"] < t1:
            for c in e["chunks"]:
                if c["type"] == "DATA" and c["sent_count"] == 1:
                    lo, hi = tsn_span.get(e["sport"], (c["tsn"], c["tsn"]))
                    tsn_span[e["sport"]] = (min(lo, c["tsn"]), max(hi, c["tsn"]))
    shift_per_loop = {p: hi - lo + 1 for p, (lo, hi) in tsn_span.items()}
    ssn_span: dict[int, tuple[int, int]] = {}
    for iface, ts, frame, orig in caps["client"][1]:
        if t0 + off <= ts < t1 + off:
            for ctype, o, clen in chunks(frame):
                if ctype == 0 and not frame[o + 1] & 0x04:
                    sid, s = struct.unpack_from(">HH", frame, o + 8)
                    lo, hi = ssn_span.get(sid, (s, s))
                    ssn_span[sid] = (min(lo, s), max(hi, s))
    ssn_per_loop = {sid: hi - lo + 1 for sid, (lo, hi) in ssn_span.items()}
    per_loop = sum(1 for role in caps for (_i, ts, _f, _o) in caps[role][1] if t0 + off <= ts < t1 + off)
    base = sum(len(caps[role][1]) for role in caps) - per_loop
    loops = max(1, -(-(packets - base) // per_loop))
    out.mkdir(parents=True, exist_ok=True)
    (out / "kernel").mkdir(exist_ok=True)
    # captures: the part before the segment, the segment in loops 0..K-1, the part after it (as after loop K-1)
    n_written = 0
    for role, (head, pkts) in caps.items():
        pre = [p for p in pkts if p[1] - off < t0]
        seg_p = [p for p in pkts if t0 <= p[1] - off < t1]
        post = [p for p in pkts if p[1] - off >= t1]
        with open(out / f"{role}.pcapng", "wb") as f:
            for b_ in head:
                f.write(b_)
            for k, group in [(0, pre)] + [(k, seg_p) for k in range(loops)] + [(loops - 1, post)]:
                sh = {p: k * s for p, s in shift_per_loop.items()}
                ssn = {sid: k * s for sid, s in ssn_per_loop.items()}
                for iface, ts, frame, orig in group:
                    fr = rewrite(frame, 0, sh, ssn, k * J) if k else frame
                    f.write(epb(iface, ts + k * seg, fr, orig))
                    n_written += 1
    # kernel events, as raw records in time order
    port_shift = shift_per_loop
    enc = [(e, encode(e)) for e in evs]
    nrec = 0
    with open(out / "kernel" / "probe.raw", "wb") as f:
        def put(e: dict, rec: bytes, offs: dict[str, int], k: int) -> None:
            nonlocal nrec
            b = bytearray(rec)
            dt, dj = k * seg, k * J
            struct.pack_into("<Q", b, offs["ts"], e["ts_ns"] + dt)
            struct.pack_into("<Q", b, offs["jif"], e["jiffies"] + dj)
            own = k * port_shift.get(e["lport"], 0)
            peer = k * port_shift.get(e["pport"], 0)
            for key, o in offs.items():
                if key.startswith("tsn"):
                    v = struct.unpack_from("<I", b, o)[0]
                    struct.pack_into("<I", b, o, (v + own) & 0xFFFFFFFF)
                elif key.startswith("sat"):
                    v = struct.unpack_from("<I", b, o)[0]
                    struct.pack_into("<I", b, o, (v + dj) & 0xFFFFFFFF)
                elif key.startswith("cum") and key != "cum":
                    v = struct.unpack_from("<I", b, o)[0]
                    struct.pack_into("<I", b, o, (v + peer) & 0xFFFFFFFF)
                elif key in ("cum", "next", "ctsn"):
                    v = struct.unpack_from("<I", b, o)[0]
                    struct.pack_into("<I", b, o, (v + own) & 0xFFFFFFFF)
                elif key == "sent_at":
                    v = struct.unpack_from("<Q", b, o)[0]
                    struct.pack_into("<Q", b, o, v + dj)
            f.write(struct.pack("<I", len(b)) + bytes(b))
            nrec += 1

        pre = [(e, x) for e, x in enc if x is not None and e["ts_ns"] < t0]
        seg_e = [(e, x) for e, x in enc if x is not None and t0 <= e["ts_ns"] < t1]
        post = [(e, x) for e, x in enc if x is not None and e["ts_ns"] >= t1]
        for k, group in [(0, pre)] + [(k, seg_e) for k in range(loops)] + [(loops - 1, post)]:
            for e, (rec, offs) in group:
                put(e, rec, offs, k)
    m = dict(manifest)
    m["files"] = dict(m.get("files") or {}, client_capture="client.pcapng", server_capture="server.pcapng")
    m["probe"] = {"status": "started", "raw": "kernel/probe.raw"}
    m["bench"] = {"source": str(src), "loops": loops, "segment_ns": seg, "segment_jiffies": J,
                  "tsn_per_loop": {str(p): s for p, s in shift_per_loop.items()}, "wire_packets": n_written,
                  "kernel_records": nrec, "hz": hz, "startup": {k: startup.get(k) for k in ("hz", "clock", "kernel_release")}}
    (out / "manifest.json").write_text(json.dumps(m, indent=1) + "\n")
    return m["bench"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=1_000_000, help="wire packets, both captures together")
    ap.add_argument("--src", type=Path, default=SRC)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    name = f"corr-{a.packets // 1000}k" if a.packets < 1_000_000 else f"corr-{a.packets // 1_000_000}m"
    out = a.out or ROOT / "bench" / "out" / name
    info = build(a.src, out, a.packets)
    print(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
