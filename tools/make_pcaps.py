#!/usr/bin/env python3
"""Generate the project's own SYNTHETIC SCTP captures, and the ground truth of each, into pcaps/synthetic/.

These captures are made by sctpcorr itself, with a small deterministic (seeded) simulator: no packet in them was
ever on a real network. Because the simulator decides every loss, delay and retransmission, it knows the answers
an analyser should find (retransmissions by kind, heartbeat RTTs, window episodes...), and writes them next to each
capture as ``<name>.truth.json``; ``tests/corpus/test_synthetic_truth.py`` checks the Analyzer against them. Captures
taken on real Linux kernels in the project's lab complement these under ``pcaps/lab/``.

    python tools/make_pcaps.py            # (re)write pcaps/synthetic/*
    python tools/make_pcaps.py --check    # exit 1 if the committed files differ from what this script makes

Theory of operation
-------------------
Two endpoints, A and B, each with two IPv4 addresses; path k joins A's address k and B's address k. Each endpoint
is a compact SCTP sender and receiver, modelled on RFC 9260 and Linux 6.1 defaults:

* receiver: SACK for every second packet with DATA, at the latest 200 ms after the first unacknowledged one
  (delayed SACK), immediately when TSNs are missing or duplicated (§6.2, §6.7); the SACK goes to the address the
  DATA came from; duplicate TSNs are reported once; a_rwnd = buffer - bytes held (unread by the application, or
  out of order), each chunk charged its payload plus ``CHUNK_OVERHEAD`` bytes of buffer (Linux charges the skb).
* sender: messages go out at once, bundled into one packet when several are ready; a packet is sent only when the
  peer's window has room (no zero-window probing); a miss indication per SACK that reports a TSN missing (below
  the highest TSN the SACK newly acknowledges, not covered: the HTNA rule) and a fast retransmission on the
  third (§7.2.4); T3-rtx per
  path with RFC 9260 §6.3 RTO (RTO.Min 1 s) from one timed chunk per path (Linux ``rto_pending``; Karn); on T3
  expiry the chunks outstanding for at least one RTO are retransmitted to the other path when it is usable
  (§6.4.1), and the RTO doubles. A path whose T3 expires becomes potentially failed (RFC 7829; Linux
  ``pf_retrans`` 0): new data moves to the other path and the failed one is probed by HEARTBEATs every RTO.
* HEARTBEATs on every path idle for HB.interval (plus jitter), carrying Linux 6.1's 56-byte ``sctp_sender_hb_info``
  (sent_at in jiffies at HZ=250, a 64-bit nonce); the peer answers at once.
* network: a fixed one-way delay per path and direction plus a small seeded jitter; a loss model per scenario.
  Retransmitted packets are never lost, so every retransmission on the wire has exactly one cause the simulator
  can name (fast or timeout), and every spurious one is reported back by the peer as a duplicate TSN.
* capture point: the host of endpoint A (``tcpdump`` on A). A's packets are captured when sent, even those the
  network then drops; B's packets when they reach A. Every number in the truth is therefore what the wire at A
  shows: e.g. a DATA chunk of B lost on its way is not in the capture, so B's resend of it is not a retransmission
  on this wire.

Scenarios
---------
ngap-lossy-multihomed.pcapng.gz
    An NGAP-like association (gNB A -> AMF B on port 38412, PPID 60, 12 streams, two addresses per side in INIT and
    INIT-ACK), ~2000 packets. UE procedures arrive at random (bundled when several are ready), with two idle
    periods (heartbeats on both paths from both sides), a registration storm that overloads the AMF into a
    zero-window episode, 1 % loss of A's DATA-only packets (fast retransmissions, and a timeout one for a message
    lost just before an idle period), one SACK of B lost in the network (a spurious timeout retransmission), and a
    graceful SHUTDOWN. pcapng with two interfaces (one per path, Ethernet, ns timestamps), gzipped: ~1700
    packets do not fit the repository's size budget otherwise.
diameter-failover.pcap
    A Diameter peer connection (client A -> server B on port 3868, PPID 46), classic pcap (microseconds). The first
    INIT is lost (one INIT retry). Capabilities exchange, requests/answers and watchdogs on path 1; after 12 s path 1
    dies in both directions: A's DATA on it times out, moves to path 2, path 1 is probed by unanswered HEARTBEATs;
    SACKs lost with the path make some retransmissions spurious; the client finally ABORTs (User-Initiated Abort).

Everything comes from ``random.Random(seed)`` and integer nanoseconds: the same seed gives the same bytes.
"""
from __future__ import annotations

import argparse
import gzip
import heapq
import json
import random
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parents[1] / "pcaps" / "synthetic"

US, MS, S = 1_000, 1_000_000, 1_000_000_000

# ------------------------------------------------------------------------------------------------ encoding

_CRC32C_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    tab = _CRC32C_TABLE
    for b in data:
        crc = (crc >> 8) ^ tab[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def pad4(b: bytes) -> bytes:
    return b + bytes((-len(b)) % 4)


def chunk(ctype: int, flags: int, body: bytes) -> bytes:
    return pad4(struct.pack(">BBH", ctype, flags, 4 + len(body)) + body)


def ipv4_bytes(addr: str) -> bytes:
    return bytes(int(x) for x in addr.split("."))


def sctp_packet(sport: int, dport: int, vtag: int, chunks: list[bytes]) -> bytes:
    body = b"".join(chunks)
    hdr = struct.pack(">HHII", sport, dport, vtag, 0)
    crc = crc32c(hdr + body)
    # RFC 9260 Appendix A: the CRC32c is stored least-significant byte first ("reflected")
    return struct.pack(">HHI", sport, dport, vtag) + struct.pack("<I", crc) + body


def ip_checksum(h: bytes) -> int:
    s = sum(struct.unpack(">10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ethernet_ipv4(src: str, dst: str, ip_id: int, payload: bytes, macs: tuple[bytes, bytes]) -> bytes:
    h = struct.pack(">BBHHHBBH4s4s", 0x45, 0x02, 20 + len(payload), ip_id, 0x4000, 64, 132, 0,
                    ipv4_bytes(src), ipv4_bytes(dst))
    h = h[:10] + struct.pack(">H", ip_checksum(h)) + h[12:]
    return macs[1] + macs[0] + b"\x08\x00" + h + payload


def write_pcap(frames: list[tuple[int, bytes]]) -> bytes:
    """Classic pcap, little-endian, microseconds, Ethernet."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)]
    for ts, data in frames:
        sec, ns = divmod(ts, S)
        out.append(struct.pack("<IIII", sec, ns // 1000, len(data), len(data)) + data)
    return b"".join(out)


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + pad4(value)


def _block(btype: int, body: bytes) -> bytes:
    body = pad4(body)
    return struct.pack("<II", btype, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))


def write_pcapng(frames: list[tuple[int, int, bytes]], ifnames: list[str], comment: str) -> bytes:
    """pcapng, one Ethernet interface per name, ns timestamps; frames are (ts_ns, interface, bytes)."""
    shb_opts = _opt(1, comment.encode()) + _opt(4, b"sctpcorr tools/make_pcaps.py") + _opt(0, b"")
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)]
    for name in ifnames:
        idb_opts = _opt(2, name.encode()) + _opt(9, bytes([9])) + _opt(0, b"")
        out.append(_block(1, struct.pack("<HHI", 1, 0, 262144) + idb_opts))
    for ts, iface, data in frames:
        out.append(_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data), len(data)) + data))
    return b"".join(out)


# ------------------------------------------------------------------------------------------------ chunks


@dataclass
class Data:
    tsn: int
    sid: int
    ssn: int
    ppid: int
    payload: bytes
    # simulator knowledge, not on the wire:
    reason: str | None = None        # None for a first transmission, else "fast" / "timeout"
    receiver_had_it: bool = False    # (retransmissions) the peer had already received this TSN

    def encode(self) -> bytes:
        return chunk(0, 0x03, struct.pack(">IHHI", self.tsn, self.sid, self.ssn, self.ppid) + self.payload)


@dataclass
class Sack:
    cum: int
    a_rwnd: int
    gaps: list[tuple[int, int]]      # offsets from cum (RFC 9260 §3.3.4)
    dups: list[int]

    def encode(self) -> bytes:
        body = struct.pack(">IIHH", self.cum, self.a_rwnd, len(self.gaps), len(self.dups))
        body += b"".join(struct.pack(">HH", s, e) for s, e in self.gaps)
        body += b"".join(struct.pack(">I", d) for d in self.dups)
        return chunk(3, 0, body)

    def covers(self, tsn: int) -> bool:
        if ser_le(tsn, self.cum):
            return True
        off = (tsn - self.cum) & 0xFFFFFFFF
        return any(s <= off <= e for s, e in self.gaps)


@dataclass
class Ctrl:
    """Any other chunk, already encoded; ``kind`` names it for the simulator."""
    kind: str
    raw: bytes
    info: bytes = b""                # HEARTBEAT / HEARTBEAT-ACK info parameter

    def encode(self) -> bytes:
        return self.raw


def addr_params(addrs: list[str]) -> bytes:
    return b"".join(struct.pack(">HH4s", 5, 8, ipv4_bytes(a)) for a in addrs)


def init_chunk(ctype: int, tag: int, a_rwnd: int, os_: int, mis: int, tsn: int, addrs: list[str],
               cookie: bytes | None = None) -> Ctrl:
    params = b""
    if cookie is not None:
        params += pad4(struct.pack(">HH", 7, 4 + len(cookie)) + cookie)
    params += addr_params(addrs)
    params += struct.pack(">HH", 0xC000, 4)                                   # Forward-TSN supported
    params += pad4(struct.pack(">HH", 0x8008, 7) + bytes([0xC0, 0x82, 0x0F]))  # Supported Extensions
    body = struct.pack(">IIHHI", tag, a_rwnd, os_, mis, tsn) + params
    return Ctrl("INIT" if ctype == 1 else "INIT_ACK", chunk(ctype, 0, body))


def ser_lt(a: int, b: int) -> bool:
    return a != b and ((b - a) & 0xFFFFFFFF) < 0x80000000


def ser_le(a: int, b: int) -> bool:
    return a == b or ser_lt(a, b)


# ------------------------------------------------------------------------------------------------ simulator


@dataclass
class Captured:
    ts: int                 # capture timestamp, ns
    frm: str                # "A" or "B"
    src: str
    dst: str
    path: int
    vtag: int
    chunks: list
    frame: bytes


@dataclass
class Out:
    """A DATA chunk the sender has outstanding."""
    data: Data
    path: int
    sent_ts: int
    first_ts: int
    sent_count: int = 1
    gap_acked: bool = False
    miss: int = 0

    @property
    def size(self) -> int:
        return len(self.data.payload)


@dataclass
class PathState:
    srtt: int | None = None
    rttvar: int = 0
    rto: int = 1 * S
    t3_token: int = 0
    t3_at: int | None = None
    timed: int | None = None         # TSN timed for RTT (one per path)
    pf: bool = False                 # potentially failed (RFC 7829)
    hb_token: int = 0
    hb_unanswered: int = 0
    last_sent: int = 0               # last time DATA was sent on this path (heartbeats go on idle paths)


class Endpoint:
    RTO_MIN, RTO_MAX = 1 * S, 60 * S

    def __init__(self, sim: "Sim", name: str, addrs: list[str], port: int, tag: int, tsn: int, rwnd: int,
                 streams: int, hb_interval: int):
        self.sim, self.name, self.addrs, self.port, self.tag = sim, name, addrs, port, tag
        self.peer: Endpoint = None  # type: ignore[assignment]
        self.next_tsn, self.rwnd_cap, self.streams, self.hb_interval = tsn, rwnd, streams, hb_interval
        self.ssn = [0] * streams
        self.queue: list[tuple[int, int, bytes]] = []          # (sid, ppid, payload) waiting for the window
        self.out: dict[int, Out] = {}                          # outstanding, in TSN order
        self.peer_a_rwnd = 0
        self.peer_cum: int | None = None
        self.paths = [PathState() for _ in addrs]
        self.primary = 0
        self.established = False
        self.closing = False
        # receiver side
        self.cum: int | None = None
        self.recvd: set[int] = set()
        self.held: dict[int, int] = {}                         # out-of-order TSN -> buffer charge
        self.dups: list[int] = []
        self.unacked_pkts = 0
        self.sack_token = 0
        self.sack_timer_on = False
        self.sack_path = 0
        self.unread = 0                                        # buffer charge the application has not read
        self.app_stalled = False
        self.on_message = None                                 # application callback(sid, ppid, payload)
        self.ip_id = sim.rng.randrange(1, 60000)

    # -------------------------------------------------------------------------------------------- helpers
    @property
    def now(self) -> int:
        return self.sim.now

    def a_rwnd(self) -> int:
        return max(0, self.rwnd_cap - self.unread - sum(self.held.values()))

    def flight(self) -> int:
        return sum(o.size for o in self.out.values() if not o.gap_acked)

    def usable_path(self) -> int:
        if not self.paths[self.primary].pf:
            return self.primary
        for i, p in enumerate(self.paths):
            if not p.pf:
                return i
        return self.primary

    def alternate(self, path: int) -> int:
        for i, p in enumerate(self.paths):
            if i != path and not p.pf:
                return i
        return path

    def send_packet(self, chunks: list, path: int, vtag: int | None = None) -> None:
        self.ip_id = (self.ip_id + 1) & 0xFFFF
        self.sim.transmit(self, path, self.peer.tag if vtag is None else vtag, chunks, self.ip_id)
        if any(isinstance(c, Data) for c in chunks):
            self.paths[path].last_sent = self.now
            self.reset_hb(path)

    # -------------------------------------------------------------------------------------------- sending
    def submit(self, sid: int, ppid: int, payload: bytes) -> None:
        self.queue.append((sid, ppid, payload))
        self.sim.soon(self.flush)

    def flush(self) -> None:
        if not self.established or not self.queue:
            return
        path = self.usable_path()
        mtu_room = 1452 - 12
        while self.queue:
            window = self.peer_a_rwnd - self.flight()
            chunks: list = []
            room = mtu_room
            if len(self.queue[0][2]) > window and (self.out or window <= 0):
                break                                     # the peer's window is full (no zero-window probe)
            if self.sack_timer_on or self.dups:          # bundle a pending SACK in front of the DATA
                chunks.append(self.make_sack())
                room -= 16 + 4 * len(chunks[0].dups) + 4 * len(chunks[0].gaps)
            while self.queue:
                sid, ppid, payload = self.queue[0]
                need = 16 + len(payload) + (-len(payload)) % 4
                if need > room or (len(payload) > window and (self.out or window <= 0)):
                    break
                self.queue.pop(0)
                d = Data(self.next_tsn, sid, self.ssn[sid], ppid, payload)
                self.ssn[sid] = (self.ssn[sid] + 1) & 0xFFFF
                self.next_tsn = (self.next_tsn + 1) & 0xFFFFFFFF
                o = Out(d, path, self.now, self.now)
                self.out[d.tsn] = o
                if self.paths[path].timed is None:
                    self.paths[path].timed = d.tsn
                chunks.append(d)
                room -= need
                window -= len(payload)
            if not any(isinstance(c, Data) for c in chunks):
                break
            self.send_packet(chunks, path)
            self.start_t3(path, restart=False)

    def retransmit(self, outs: list[Out], path: int, reason: str) -> None:
        chunks: list = []
        room = 1452 - 12
        for o in outs:
            need = 16 + len(o.data.payload) + (-len(o.data.payload)) % 4
            if need > room and chunks:
                self.send_packet(chunks, path)
                chunks, room = [], 1452 - 12
            old_path = o.path
            if self.paths[old_path].timed == o.data.tsn:
                self.paths[old_path].timed = None          # Linux sctp_retransmit_mark: the sample is void
            o.path, o.sent_ts, o.sent_count, o.miss = path, self.now, o.sent_count + 1, 0
            d = Data(o.data.tsn, o.data.sid, o.data.ssn, o.data.ppid, o.data.payload, reason,
                     self.peer.has_tsn(o.data.tsn))
            chunks.append(d)
            room -= need
        if chunks:
            self.send_packet(chunks, path)
            self.start_t3(path, restart=False)

    def start_t3(self, path: int, restart: bool) -> None:
        p = self.paths[path]
        if p.t3_at is not None and not restart:
            return
        p.t3_token += 1
        p.t3_at = self.now + p.rto
        self.sim.at(p.t3_at, self.t3_expired, path, p.t3_token)

    def stop_t3(self, path: int) -> None:
        self.paths[path].t3_token += 1
        self.paths[path].t3_at = None

    def t3_expired(self, path: int, token: int) -> None:
        p = self.paths[path]
        if token != p.t3_token:
            return
        p.t3_at = None
        due = [o for o in self.out.values() if o.path == path and not o.gap_acked and self.now - o.sent_ts >= p.rto]
        if not due:
            if any(o.path == path and not o.gap_acked for o in self.out.values()):
                self.start_t3(path, restart=True)
            return
        p.rto = min(p.rto * 2, self.RTO_MAX)                      # RFC 9260 §6.3.3 E2
        if not p.pf and len(self.paths) > 1:
            p.pf = True                                           # RFC 7829: potentially failed
            self.sim.at(self.now + p.rto, self.probe_pf, path)
        self.retransmit(due, self.alternate(path), "timeout")
        if any(o.path == path and not o.gap_acked for o in self.out.values()):
            self.start_t3(path, restart=True)
        self.sim.soon(self.flush)

    def update_rto(self, path: int, r: int) -> None:
        p = self.paths[path]
        if p.srtt is None:
            p.srtt, p.rttvar = r, r // 2
        else:
            p.rttvar = (3 * p.rttvar + abs(p.srtt - r)) // 4
            p.srtt = (7 * p.srtt + r) // 8
        p.rto = min(max(p.srtt + 4 * p.rttvar, self.RTO_MIN), self.RTO_MAX)

    def on_sack(self, s: Sack, path_in: int) -> None:
        if self.peer_cum is not None and ser_lt(s.cum, self.peer_cum):
            return
        advanced = self.peer_cum is None or s.cum != self.peer_cum
        self.peer_cum = s.cum
        htna = None                                       # highest TSN newly acknowledged by this SACK
        for tsn in list(self.out):
            o = self.out[tsn]
            newly = False
            if ser_le(tsn, s.cum):
                del self.out[tsn]
                newly = not o.gap_acked
            elif not o.gap_acked and s.covers(tsn):
                o.gap_acked = True
                newly = True
            if newly:
                if htna is None or ser_lt(htna, tsn):
                    htna = tsn
                if self.paths[o.path].timed == tsn:
                    self.paths[o.path].timed = None
                    if o.sent_count == 1:
                        self.update_rto(o.path, self.now - o.first_ts)
        fast = []
        for tsn, o in self.out.items():                   # miss indications, HTNA rule (RFC 9260 §7.2.4)
            if htna is not None and not o.gap_acked and ser_lt(tsn, htna):
                o.miss += 1
                if o.miss == 3 and o.sent_count == 1:
                    fast.append(o)
        self.peer_a_rwnd = s.a_rwnd
        if fast:
            path = fast[0].path
            self.retransmit(fast, path if not self.paths[path].pf else self.usable_path(), "fast")
        for i in range(len(self.paths)):
            if not any(o.path == i and not o.gap_acked for o in self.out.values()):
                self.stop_t3(i)
            elif advanced:
                self.start_t3(i, restart=True)
        self.sim.soon(self.flush)
        if self.closing:
            self.sim.soon(self.try_shutdown)

    # -------------------------------------------------------------------------------------------- receiving
    def has_tsn(self, tsn: int) -> bool:
        return tsn in self.recvd or (self.cum is not None and ser_le(tsn, self.cum))

    def on_data(self, chunks: list[Data], path: int) -> None:
        dup = gap_filled = False
        had_gaps = bool(self.held)
        for d in chunks:
            if self.has_tsn(d.tsn):
                self.dups.append(d.tsn)
                dup = True
                continue
            self.recvd.add(d.tsn)
            charge = len(d.payload) + CHUNK_OVERHEAD
            self.held[d.tsn] = charge
            while self.cum is not None and ((self.cum + 1) & 0xFFFFFFFF) in self.recvd:
                self.cum = (self.cum + 1) & 0xFFFFFFFF
                self.recvd.discard(self.cum)
                self.deliver(self.held.pop(self.cum), self.cum)
        if had_gaps and not self.held:
            gap_filled = True
        self.sack_path = path
        if dup or self.held or gap_filled:
            self.send_sack_now()
            return
        self.unacked_pkts += 1
        if self.unacked_pkts >= 2:
            self.send_sack_now()
        elif not self.sack_timer_on:
            self.sack_timer_on = True
            self.sack_token += 1
            self.sim.at(self.now + 200 * MS, self.sack_timer, self.sack_token)

    def deliver(self, charge: int, tsn: int) -> None:
        d = self.sim.payloads.pop((self.name, tsn))
        if self.app_stalled:
            self.unread += charge
            self.sim.stalled_msgs.append((self, d))
        elif self.on_message:
            self.on_message(d.sid, d.ppid, d.payload)

    def sack_timer(self, token: int) -> None:
        if token == self.sack_token and self.sack_timer_on:
            self.send_sack_now()

    def make_sack(self) -> Sack:
        gaps = []
        for t in sorted(self.held, key=lambda x: (x - self.cum) & 0xFFFFFFFF):
            off = (t - self.cum) & 0xFFFFFFFF
            if gaps and gaps[-1][1] + 1 == off:
                gaps[-1] = (gaps[-1][0], off)
            else:
                gaps.append((off, off))
        s = Sack(self.cum, self.a_rwnd(), gaps, self.dups[:])
        self.dups.clear()
        self.unacked_pkts = 0
        self.sack_timer_on = False
        self.sack_token += 1
        return s

    def send_sack_now(self) -> None:
        self.send_packet([self.make_sack()], self.sack_path)

    # -------------------------------------------------------------------------------------------- heartbeats
    def reset_hb(self, path: int) -> None:
        p = self.paths[path]
        p.hb_token += 1
        jitter = self.sim.rng.randrange(0, self.paths[path].rto // 2 + 1)
        self.sim.at(self.now + self.hb_interval + jitter, self.hb_timer, path, p.hb_token)

    def hb_timer(self, path: int, token: int) -> None:
        p = self.paths[path]
        if token != p.hb_token or self.closing or not self.established or p.pf:
            return
        self.send_heartbeat(path)
        self.reset_hb(path)

    def send_heartbeat(self, path: int) -> None:
        info = linux_hb_info(self.peer.addrs[path], self.sim.jiffies(), self.sim.rng.getrandbits(64))
        self.sim.hb_sent[info] = (self, path)
        self.send_packet([Ctrl("HEARTBEAT", chunk(4, 0, info), info)], path)

    def probe_pf(self, path: int) -> None:
        p = self.paths[path]
        if not p.pf or self.closing or self.sim.ended:
            return
        self.send_heartbeat(path)
        p.hb_unanswered += 1
        self.sim.at(self.now + p.rto, self.probe_pf, path)
        p.rto = min(p.rto * 2, self.RTO_MAX)

    def on_heartbeat(self, c: Ctrl, path: int) -> None:
        self.sim.at(self.now + self.sim.turnaround(), self.send_packet,
                    [Ctrl("HEARTBEAT_ACK", chunk(5, 0, c.info), c.info)], path)

    def on_heartbeat_ack(self, c: Ctrl, path: int) -> None:
        sender = self.sim.hb_sent.get(c.info)
        if sender and sender[0] is self:
            hb_path = sender[1]
            sent_at = struct.unpack_from("<Q", c.info, 32)[0]
            self.update_rto(hb_path, (self.sim.jiffies() - sent_at) * 4 * MS)
            p = self.paths[hb_path]
            if p.pf:                                      # the path answers again: active (RFC 7829)
                p.pf, p.hb_unanswered = False, 0
                self.reset_hb(hb_path)
                self.sim.soon(self.flush)

    # -------------------------------------------------------------------------------------------- shutdown
    def try_shutdown(self) -> None:
        if self.closing and not self.out and not self.queue and not self.sim.shutdown_sent:
            self.sim.shutdown_sent = True
            self.send_packet([Ctrl("SHUTDOWN", chunk(7, 0, struct.pack(">I", self.cum)))], self.primary)


CHUNK_OVERHEAD = 900


def linux_hb_info(dst: str, jiffies: int, nonce: int) -> bytes:
    addr = (struct.pack("<H", 2) + struct.pack(">H", 0) + ipv4_bytes(dst)).ljust(28, b"\0")
    return struct.pack(">HH", 1, 56) + addr + struct.pack("<QQI", jiffies, nonce, 0) + bytes(4)


class Sim:
    def __init__(self, seed: int, t0: int, ports: tuple[int, int], a_addrs, b_addrs, owd: list[tuple[int, int]],
                 resolution_ns: int = 1):
        self.rng = random.Random(seed)
        self.now = t0
        self.t0 = t0
        self.q: list = []
        self.seq = 0
        self.owd = owd                                   # per path: (A->B, B->A) one-way delay, ns
        self.res = resolution_ns
        self.captured: list[Captured] = []
        self.payloads: dict[tuple[str, int], Data] = {}
        self.hb_sent: dict[bytes, tuple[Endpoint, int]] = {}
        self.stalled_msgs: list = []
        self.ended = False
        self.shutdown_sent = False
        self.loss = lambda frm, path, chunks: False  # the scenario's loss model
        self.ports = ports
        self.a_addrs, self.b_addrs = a_addrs, b_addrs
        self.macs = [(bytes.fromhex("020000a0000%d" % i), bytes.fromhex("020000b0000%d" % i)) for i in range(2)]
        self.boot_jiffies = 4294892296 + self.rng.randrange(10**6, 10**8)   # INITIAL_JIFFIES + uptime
        self.last_arrival: dict[tuple[str, int], int] = {}

    def jiffies(self) -> int:
        return self.boot_jiffies + (self.now - self.t0) // (4 * MS)

    def turnaround(self) -> int:
        return self.rng.randrange(15, 60) * US

    def at(self, t: int, fn, *args) -> None:
        self.seq += 1
        heapq.heappush(self.q, (t, self.seq, fn, args))

    def soon(self, fn, *args) -> None:
        self.at(self.now, fn, *args)

    def run(self, until: int) -> None:
        while self.q and self.q[0][0] <= until:
            t, _, fn, args = heapq.heappop(self.q)
            self.now = t
            fn(*args)
        self.now = until

    def transmit(self, ep: Endpoint, path: int, vtag: int, chunks: list, ip_id: int) -> None:
        frm = ep.name
        src, dst = ep.addrs[path], ep.peer.addrs[path]
        sport, dport = (self.ports if frm == "A" else self.ports[::-1])
        frame = ethernet_ipv4(src, dst, ip_id, sctp_packet(sport, dport, vtag, [c.encode() for c in chunks]),
                              self.macs[path] if frm == "A" else self.macs[path][::-1])
        lost = self.loss(frm, path, chunks)
        d_ab, d_ba = self.owd[path]
        delay = (d_ab if frm == "A" else d_ba) + self.rng.randrange(0, 200) * US // 10
        # keep each path FIFO (no reordering within a path and direction)
        key = (frm, path)
        arrive = max(self.now + delay, self.last_arrival.get(key, 0) + 1 * US)
        self.last_arrival[key] = arrive
        for c in chunks:
            if isinstance(c, Data):
                self.payloads.setdefault((ep.peer.name, c.tsn), c)
        if frm == "A":
            self.capture(self.now, frm, src, dst, path, vtag, chunks, frame)
        elif not lost:
            self.at(arrive, self.capture, arrive, frm, src, dst, path, vtag, chunks, frame)
        if not lost:
            self.at(arrive, self.receive, ep.peer, path, chunks)

    def capture(self, ts, frm, src, dst, path, vtag, chunks, frame) -> None:
        self.captured.append(Captured(ts // self.res * self.res, frm, src, dst, path, vtag, chunks, frame))

    def receive(self, ep: Endpoint, path: int, chunks: list) -> None:
        datas = [c for c in chunks if isinstance(c, Data)]
        for c in chunks:
            if isinstance(c, Sack):
                ep.on_sack(c, path)
            elif isinstance(c, Ctrl):
                self.control(ep, c, path)
        if datas:
            ep.on_data(datas, path)

    def control(self, ep: Endpoint, c: Ctrl, path: int) -> None:
        peer = ep.peer
        if c.kind == "INIT":
            self.at(self.now + self.turnaround(), ep.send_packet,
                    [init_chunk(2, ep.tag, ep.rwnd_cap, ep.streams, ep.streams, ep.next_tsn, ep.addrs,
                                cookie=bytes(self.rng.getrandbits(8) for _ in range(32)))], path)
        elif c.kind == "INIT_ACK":
            echo = Ctrl("COOKIE_ECHO", chunk(10, 0, self.cookie_of(c)))
            self.at(self.now + self.turnaround(), ep.send_packet, [echo], path)
        elif c.kind == "COOKIE_ECHO":
            ep.established = True
            ep.cum = (peer.next_tsn - 1) & 0xFFFFFFFF
            ep.peer_a_rwnd = peer.rwnd_cap
            self.at(self.now + self.turnaround(), ep.send_packet, [Ctrl("COOKIE_ACK", chunk(11, 0, b""))], path)
            self.at(self.now + 1, self.start_heartbeats, ep)
        elif c.kind == "COOKIE_ACK":
            ep.established = True
            ep.cum = (peer.next_tsn - 1) & 0xFFFFFFFF
            ep.peer_a_rwnd = peer.rwnd_cap
            self.start_heartbeats(ep)
            self.soon(ep.flush)
            if self.on_established:
                self.on_established()
        elif c.kind == "HEARTBEAT":
            ep.on_heartbeat(c, path)
        elif c.kind == "HEARTBEAT_ACK":
            ep.on_heartbeat_ack(c, path)
        elif c.kind == "SHUTDOWN":
            self.at(self.now + self.turnaround(), ep.send_packet, [Ctrl("SHUTDOWN_ACK", chunk(8, 0, b""))], path)
            ep.closing = True
        elif c.kind == "SHUTDOWN_ACK":
            self.at(self.now + self.turnaround(), ep.send_packet,
                    [Ctrl("SHUTDOWN_COMPLETE", chunk(14, 0, b""))], path)
            self.ended = True

    on_established = None

    @staticmethod
    def cookie_of(c: Ctrl) -> bytes:
        body = c.raw[4 + 16:]
        ptype, plen = struct.unpack(">HH", body[:4])
        assert ptype == 7
        return body[4:plen]

    def start_heartbeats(self, ep: Endpoint) -> None:
        for i in range(len(ep.paths)):
            ep.reset_hb(i)


# ------------------------------------------------------------------------------------------------ truth


def build_truth(name: str, sim: Sim, ports, tags, a_addrs, b_addrs, init_info) -> dict:
    """What the wire at A shows, with the simulator's reasons attached. Wire-derived, sim-annotated."""
    caps = sim.captured
    chunk_counts: dict[str, int] = {}
    dirs = {d: dict(packets=0, data_chunks=0, data_bytes=0, unique=set(), retransmissions=dict(
        total=0, fast=0, timeout=0, spurious=0), sacks=0, gap_blocks=0, duplicate_tsns_reported=0,
        a_rwnd=[], streams={}) for d in ("A>B", "B>A")}
    paths: dict[tuple[str, str], dict] = {}
    hb_pending: dict[bytes, tuple[int, tuple[str, str]]] = {}
    handshake: dict[str, int | None] = dict(init_ns=None, init_ack_ns=None, cookie_echo_ns=None, cookie_ack_ns=None)
    counts = dict(INIT=0, COOKIE_ECHO=0)
    shutdown: dict = dict(shutdown_ns=None, shutdown_ack_ns=None, shutdown_complete_ns=None, abort=None)
    seen: dict[str, set] = {"A>B": set(), "B>A": set()}
    for c in caps:
        d = "A>B" if c.frm == "A" else "B>A"
        D = dirs[d]
        D["packets"] += 1
        p = paths.setdefault((c.src, c.dst), dict(src=c.src, dst=c.dst, direction=d, packets=0, data_chunks=0,
                                                  retransmissions=0, heartbeats=dict(sent=0, acked=0),
                                                  heartbeat_rtts_ns=[]))
        p["packets"] += 1
        for ch in c.chunks:
            kind = "DATA" if isinstance(ch, Data) else "SACK" if isinstance(ch, Sack) else ch.kind
            chunk_counts[kind] = chunk_counts.get(kind, 0) + 1
            if isinstance(ch, Data):
                D["data_chunks"] += 1
                D["data_bytes"] += len(ch.payload)
                p["data_chunks"] += 1
                if ch.tsn in seen[d]:
                    r = D["retransmissions"]
                    r["total"] += 1
                    r[ch.reason] += 1
                    r["spurious"] += ch.receiver_had_it
                    p["retransmissions"] += 1
                else:
                    seen[d].add(ch.tsn)
                    st = D["streams"].setdefault(ch.sid, dict(chunks=0, bytes=0, ppids={}))
                    st["chunks"] += 1
                    st["bytes"] += len(ch.payload)
                    st["ppids"][str(ch.ppid)] = st["ppids"].get(str(ch.ppid), 0) + 1
            elif isinstance(ch, Sack):
                D["sacks"] += 1
                D["gap_blocks"] += len(ch.gaps)
                D["duplicate_tsns_reported"] += len(ch.dups)
                D["a_rwnd"].append(ch.a_rwnd)
            elif ch.kind == "HEARTBEAT":
                p["heartbeats"]["sent"] += 1
                hb_pending[ch.info] = (c.ts, (c.src, c.dst))
            elif ch.kind == "HEARTBEAT_ACK" and ch.info in hb_pending:
                ts, key = hb_pending.pop(ch.info)
                paths[key]["heartbeats"]["acked"] += 1
                paths[key]["heartbeat_rtts_ns"].append(c.ts - ts)
            elif ch.kind in ("INIT", "COOKIE_ECHO"):
                counts[ch.kind] += 1
                k = ch.kind.lower() + "_ns"
                handshake[k] = handshake[k] if handshake[k] is not None else c.ts
            elif ch.kind in ("INIT_ACK", "COOKIE_ACK"):
                k = ch.kind.lower() + "_ns"
                handshake[k] = handshake[k] if handshake[k] is not None else c.ts
            elif ch.kind in ("SHUTDOWN", "SHUTDOWN_ACK", "SHUTDOWN_COMPLETE"):
                k = ch.kind.lower() + "_ns"
                shutdown[k] = shutdown[k] if shutdown[k] is not None else c.ts
            elif ch.kind == "ABORT":
                code = struct.unpack_from(">H", ch.raw, 4)[0]
                shutdown["abort"] = dict(ts_ns=c.ts, by=c.frm, t_bit=False, cause_codes=[code])
    for p in paths.values():
        hb = p["heartbeats"]
        hb["unanswered"] = hb["sent"] - hb["acked"]
    out_dirs = {}
    for d, D in dirs.items():
        rw = D.pop("a_rwnd")
        initial = init_info[0 if d == "A>B" else 1]["a_rwnd"]
        zero_eps = sum(1 for i, v in enumerate(rw) if v == 0 and (i == 0 or rw[i - 1] != 0))
        D["a_rwnd"] = dict(initial=initial, min=min(rw) if rw else None, max=max(rw) if rw else None,
                           last=rw[-1] if rw else None, zero_window_episodes=zero_eps)
        D.pop("unique")
        D["unique_tsns"] = len(seen[d])
        D["streams"] = {str(k): v for k, v in sorted(D["streams"].items())}
        out_dirs[d] = D
    h = dict(handshake)
    h.update(init_retries=counts["INIT"] - 1, cookie_echo_retries=counts["COOKIE_ECHO"] - 1)
    if shutdown["shutdown_ns"] is not None and shutdown["shutdown_complete_ns"] is not None:
        shutdown["duration_ns"] = shutdown["shutdown_complete_ns"] - shutdown["shutdown_ns"]
    state = "ABORTED" if shutdown["abort"] else "CLOSED" if shutdown["shutdown_complete_ns"] else "ESTABLISHED"
    return dict(
        file=name, generator="tools/make_pcaps.py", synthetic=True,
        capture=dict(packets=len(caps), sctp_packets=len(caps), duplicates=0, bad_checksum=0, malformed=0,
                     first_ts_ns=caps[0].ts, last_ts_ns=caps[-1].ts,
                     chunks=dict(sorted(chunk_counts.items()))),
        association=dict(ports=list(ports), vtags=list(tags), addresses=[sorted(a_addrs), sorted(b_addrs)],
                         state=state, handshake=h, shutdown=shutdown, init=init_info, directions=out_dirs,
                         paths=sorted(paths.values(), key=lambda p: (p["direction"], p["src"], p["dst"]))),
        network=dict(one_way_delay_ns=[dict(path=i, a_to_b=ab, b_to_a=ba) for i, (ab, ba) in enumerate(sim.owd)]),
    )


def tsn_log(sim: Sim) -> dict:
    """Per direction, the wire history of every TSN: {"tx": [(ts, (src, dst), capture index)], "ack": (ts, index)
    of the first SACK covering it, or None}. Used by the tests for exact RTT checks."""
    log: dict[str, dict[int, dict]] = {"A>B": {}, "B>A": {}}
    unacked: dict[str, list[int]] = {"A>B": [], "B>A": []}
    for i, c in enumerate(sim.captured):
        d = "A>B" if c.frm == "A" else "B>A"
        peer = "B>A" if d == "A>B" else "A>B"
        for ch in c.chunks:
            if isinstance(ch, Sack):
                still = []
                for tsn in unacked[peer]:
                    if ch.covers(tsn):
                        log[peer][tsn]["ack"] = (c.ts, i)
                    else:
                        still.append(tsn)
                unacked[peer] = still
        for ch in c.chunks:
            if isinstance(ch, Data):
                e = log[d].setdefault(ch.tsn, dict(tx=[], ack=None))
                if not e["tx"]:
                    unacked[d].append(ch.tsn)
                e["tx"].append((c.ts, (c.src, c.dst), i))
    return log


# ------------------------------------------------------------------------------------------------ scenarios


A_ADDRS = ["10.10.1.11", "10.20.1.11"]
B_ADDRS = ["10.10.2.22", "10.20.2.22"]


class NgapLike:
    """NGAP-looking payloads (not valid NGAP): a few fixed templates per procedure code, in which each message
    patches the UE ids and 4 bytes of NAS MAC, like real NGAP PDUs that differ by a handful of bytes."""

    CODES = (0x0F, 0x2E, 0x04, 0x1D, 0x0E, 0x29, 0x15)     # InitialUEMessage, UplinkNASTransport, ...

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.templates = []
        for code in self.CODES:
            n = rng.randrange(28, 96)
            self.templates.append(bytes([0x00, code, 0x40, n - 4]) + bytes(rng.getrandbits(8) for _ in range(n - 4)))

    def make(self, ue: int, answer: bool = False) -> bytes:
        t = bytearray(self.templates[self.rng.randrange(len(self.templates))])
        t[0] = 0x20 if answer else 0x00
        t[6:10] = ue.to_bytes(4, "big")
        t[12:16] = self.rng.getrandbits(32).to_bytes(4, "big")
        return bytes(t)


def ngap_lossy_multihomed(seed: int = 38412):
    t0 = 1_741_942_800 * S + 123_456_789          # 2025-03-14 09:00:00.123456789 UTC
    sim = Sim(seed, t0, (46112, 38412), A_ADDRS, B_ADDRS,
              owd=[(9_700 * US, 9_900 * US), (14_300 * US, 14_100 * US)])
    rng = sim.rng
    a = Endpoint(sim, "A", A_ADDRS, 46112, 0x5F1E2D3C, 0x9C3A0001, 106496, 12, 5 * S)
    b = Endpoint(sim, "B", B_ADDRS, 38412, 0x2B7A4E61, 0x00C0FFEE, 65536, 12, 5 * S)
    a.peer, b.peer = b, a
    lossy = {"on": True, "drop_sack_for": None, "drop_data_tsn": None}

    def loss(frm, path, chunks):
        if frm == "A":      # 1 % of A's packets carrying only new DATA (retransmissions are never lost)
            only_new_data = all(isinstance(c, Data) and not c.reason for c in chunks)
            if only_new_data and any(c.tsn == lossy["drop_data_tsn"] for c in chunks):
                lossy["drop_data_tsn"] = None
                return True
            return lossy["on"] and only_new_data and rng.random() < 0.01
        t = lossy["drop_sack_for"]  # B: the one SACK scripted to be lost
        if t is not None and any(isinstance(c, Sack) and c.covers(t) for c in chunks):
            lossy["drop_sack_for"] = None
            return True
        return False
    sim.loss = loss
    no_answer: set[bytes] = set()

    # B (AMF) answers every message after some processing, on the same stream; sometimes with two messages
    def amf(sid, ppid, payload):
        if payload in no_answer:
            return
        delay = rng.randrange(2_000, 18_000) * US
        n = 2 if rng.random() < 0.25 else 1
        for _ in range(n):
            sim.at(sim.now + delay, b.submit, sid, 60, ngap.make(int.from_bytes(payload[6:10], "big"), True))
    b.on_message = amf
    ngap = NgapLike(rng)

    # A (gNB): UE procedures, each a few request/answer rounds on the UE's stream
    def procedure(ue: int, rounds: int):
        sid = 1 + ue % 11
        sim.soon(a.submit, sid, 60, ngap.make(ue))
        if rounds > 1:
            sim.at(sim.now + rng.randrange(40, 160) * MS, procedure, ue, rounds - 1)

    def on_established():
        a.submit(0, 60, ngap.make(0))                    # NG Setup Request on stream 0
    sim.on_established = on_established

    # handshake
    a.send_packet([init_chunk(1, a.tag, a.rwnd_cap, 12, 12, a.next_tsn, A_ADDRS)], 0, vtag=0)

    ue = 0
    t = t0 + 200 * MS
    plan = [(t0 + 200 * MS, t0 + 24 * S, 2.2),            # busy
            (t0 + 38 * S, t0 + 60 * S, 2.4),              # busy again after an idle period (heartbeats)
            (t0 + 74 * S, t0 + 96 * S, 2.2)]              # after a second idle period
    for start, stop, rate in plan:
        t = start
        while t < stop:
            burst = 1 + (rng.random() < 0.3) + (rng.random() < 0.1)
            for _ in range(burst):
                ue += 1
                sim.at(t, procedure, ue, rng.randrange(2, 5))
            t += int(rng.expovariate(rate) * S)
    # registration storm at t0+48 s overloads the AMF: it stops reading for 1.6 s (zero window)
    storm = t0 + 48 * S
    for i in range(90):
        ue += 1
        sim.at(storm + i * 5 * MS, procedure, ue, 1)

    def stall(on: bool):
        b.app_stalled = on
        if not on:
            b.unread = 0
            pending, sim.stalled_msgs = sim.stalled_msgs, []
            b.send_sack_now()                              # window update
            for ep, d in pending:
                ep.on_message(d.sid, d.ppid, d.payload)
    sim.at(storm + 150 * MS, stall, True)
    sim.at(storm + 1750 * MS, stall, False)

    # one SACK of B lost in the network in a quiet moment: A's timeout retransmission is spurious
    def lonely_message():
        msg = ngap.make(999_001)
        no_answer.add(msg)
        lossy["drop_sack_for"] = a.next_tsn
        a.submit(3, 60, msg)
    sim.at(t0 + 30 * S, lonely_message)

    # the last message before the second idle period is lost, and nothing follows it: a timeout retransmission
    def lost_alone():
        msg = ngap.make(999_002)
        no_answer.add(msg)
        lossy["drop_data_tsn"] = a.next_tsn
        a.submit(5, 60, msg)
    sim.at(t0 + 66 * S, lost_alone)

    # graceful shutdown
    def close():
        lossy["on"] = False
        a.closing = True
        a.try_shutdown()
    sim.at(t0 + 104 * S, close)
    sim.run(t0 + 110 * S)
    assert sim.ended, "the association did not shut down"
    init_info = [dict(initiate_tag=a.tag, a_rwnd=a.rwnd_cap, outbound_streams=12, inbound_streams=12,
                      initial_tsn=0x9C3A0001, addresses=A_ADDRS),
                 dict(initiate_tag=b.tag, a_rwnd=b.rwnd_cap, outbound_streams=12, inbound_streams=12,
                      initial_tsn=0x00C0FFEE, addresses=B_ADDRS)]
    truth = build_truth("ngap-lossy-multihomed.pcapng.gz", sim, (46112, 38412), (a.tag, b.tag), A_ADDRS, B_ADDRS,
                        init_info)
    blob = write_pcapng([(c.ts, c.path, c.frame) for c in sim.captured], ["eth0", "eth1"],
                        "SYNTHETIC capture made by sctpcorr tools/make_pcaps.py (seed %d): not real traffic" % seed)
    return blob, truth, sim


def diameter_payload(rng: random.Random, code: int, request: bool, hop: int) -> bytes:
    """A well-formed Diameter message (RFC 6733): header + Origin-Host/Origin-Realm (+ padding AVP)."""
    def avp(c: int, data: bytes) -> bytes:
        return pad4(struct.pack(">IB", c, 0x40) + (8 + len(data)).to_bytes(3, "big") + data)
    avps = avp(264, b"client.example.net" if request else b"hss.example.net") + avp(296, b"example.net")
    avps += avp(263, b"client.example.net;%d;%d" % (hop, rng.randrange(10**6)))  # Session-Id
    ln = 20 + len(avps)
    flags = 0x80 if request else 0x00
    return struct.pack(">B3sB3sIII", 1, ln.to_bytes(3, "big"), flags, code.to_bytes(3, "big"),
                       16777251 if code == 316 else 0, hop, hop) + avps


def diameter_failover(seed: int = 3868):
    t0 = 1_741_946_400 * S                        # 2025-03-14 10:00:00 UTC
    sim = Sim(seed, t0, (41234, 3868), A_ADDRS, B_ADDRS, owd=[(4_200 * US, 4_100 * US), (6_800 * US, 6_900 * US)],
              resolution_ns=1 * US)
    rng = sim.rng
    a = Endpoint(sim, "A", A_ADDRS, 41234, 0x6D1A0C55, 0x1000, 106496, 2, 10 * S)
    b = Endpoint(sim, "B", B_ADDRS, 3868, 0x33C0FFEE, 0x77770000, 106496, 2, 10 * S)
    a.peer, b.peer = b, a
    fail_at = t0 + 15 * S
    first_init = {"lost": True}

    def loss(frm, path, chunks):
        if any(isinstance(c, Ctrl) and c.kind == "INIT" for c in chunks) and first_init["lost"]:
            first_init["lost"] = False
            return True
        return path == 0 and sim.now >= fail_at      # path 1 dies, both ways, retransmissions included
    sim.loss = loss
    hop = [0]

    def server(sid, ppid, payload):
        code = int.from_bytes(payload[5:8], "big")
        h = struct.unpack_from(">I", payload, 12)[0]
        sim.at(sim.now + rng.randrange(1_000, 6_000) * US, b.submit, sid, 46, diameter_payload(rng, code, False, h))
    b.on_message = server

    def request(code: int, sid: int):
        hop[0] += 1
        a.submit(sid, 46, diameter_payload(rng, code, True, hop[0]))

    def on_established():
        request(257, 0)                                # CER
    sim.on_established = on_established

    def init_once():
        if a.established:
            return
        a.send_packet([init_chunk(1, a.tag, a.rwnd_cap, 2, 2, a.next_tsn, A_ADDRS)], 0, vtag=0)
        sim.at(sim.now + 3 * S, init_once)            # Linux RTO.Initial
    init_once()
    t = t0 + 3_500 * MS
    while t < t0 + 34 * S:
        sim.at(t, request, 316, 1)                     # ULR on stream 1
        t += int(rng.expovariate(4.0) * S) + 1 * MS
    for k in range(6):
        sim.at(t0 + 4 * S + k * 6 * S, request, 280, 0)   # DWR every 6 s on stream 0

    def abort():
        reason = b"Diameter peer closed: primary path down"
        cause = struct.pack(">HH", 12, 4 + len(reason)) + reason
        a.send_packet([Ctrl("ABORT", chunk(6, 0, pad4(cause)))], a.usable_path())
        sim.ended = True
        sim.q.clear()
    sim.at(t0 + 36 * S, abort)
    sim.run(t0 + 40 * S)
    init_info = [dict(initiate_tag=a.tag, a_rwnd=a.rwnd_cap, outbound_streams=2, inbound_streams=2,
                      initial_tsn=0x1000, addresses=A_ADDRS),
                 dict(initiate_tag=b.tag, a_rwnd=b.rwnd_cap, outbound_streams=2, inbound_streams=2,
                      initial_tsn=0x77770000, addresses=B_ADDRS)]
    truth = build_truth("diameter-failover.pcap", sim, (41234, 3868), (a.tag, b.tag), A_ADDRS, B_ADDRS, init_info)
    blob = write_pcap([(c.ts, c.frame) for c in sim.captured])
    return blob, truth, sim


SCENARIOS = {  # capture file -> (maker, truth file); the large one is gzipped (every reader takes gzip)
    "ngap-lossy-multihomed.pcapng.gz": (ngap_lossy_multihomed, "ngap-lossy-multihomed.truth.json"),
    "diameter-failover.pcap": (diameter_failover, "diameter-failover.truth.json"),
}


def truth_json(truth: dict) -> str:
    return json.dumps(truth, indent=1, sort_keys=True) + "\n"


def capture_bytes(name: str, blob: bytes) -> bytes:
    # mtime 0: the same input gives the same file
    return gzip.compress(blob, compresslevel=9, mtime=0) if name.endswith(".gz") else blob


def same_capture(name: str, committed: bytes, blob: bytes) -> bool:
    # compare what a reader sees: another zlib may compress the same bytes differently
    return (gzip.decompress(committed) if name.endswith(".gz") else committed) == blob


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="verify the committed files instead of writing them")
    ap.add_argument("--out", type=Path, default=OUT_DIR)
    args = ap.parse_args(argv)
    bad = 0
    for name, (make, truth_name) in SCENARIOS.items():
        blob, truth, _ = make()
        cap_path, truth_path = args.out / name, args.out / truth_name
        if args.check:
            for path, ok in ((cap_path, cap_path.exists() and same_capture(name, cap_path.read_bytes(), blob)),
                             (truth_path, truth_path.exists() and truth_path.read_text() == truth_json(truth))):
                if not ok:
                    print(f"{path}: differs from what tools/make_pcaps.py makes", file=sys.stderr)
                    bad += 1
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        cap_path.write_bytes(capture_bytes(name, blob))
        truth_path.write_text(truth_json(truth))
        print(f"{cap_path} ({cap_path.stat().st_size} bytes), {truth_path.name}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
