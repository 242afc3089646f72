"""A small packet capture: AF_PACKET sockets on given interfaces, written as pcapng as the packets come.

Why not dumpcap or tcpdump: in the TCG guest each of them takes 5-10 s of CPU just to start, per capture, per
scenario.  This is what libpcap does on Linux: one ``AF_PACKET``/``ETH_P_ALL`` socket per interface with a
memory-mapped TPACKET_V2 ring (both directions are seen, ``PACKET_OUTGOING`` for what the host sent), the
kernel's timestamps (the skb's time, CLOCK_REALTIME, the same point as tcpdump's) and the socket's drop counter
(``PACKET_STATISTICS``), written as an Interface Statistics Block at the end.

pcapng layout: one Section Header, one Interface Description per interface (``if_name``, ``if_tsresol`` = 9,
i.e. nanoseconds), one Enhanced Packet Block per packet with ``epb_flags`` inbound/outbound.  The file is
flushed at least every 50 ms, so an interrupted run keeps all but the last instant.
Runs in a thread that has entered the endpoint's network namespace (netns.py).
"""
from __future__ import annotations

import mmap
import os
import select
import socket
import struct
import threading
import time

from sctpcorr.outfile import describe, write_all

__all__ = ["Capture", "pcapng_shb", "pcapng_idb", "pcapng_epb", "pcapng_isb"]

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
PACKET_OUTGOING = 4
LINKTYPE_ETHERNET = 1
FLUSH_NS = 50_000_000
HOLD_NS = 20_000_000               # packets wait this long so that both interfaces' packets go out in order
PACKET_RX_RING = 5
PACKET_VERSION = 10
TPACKET_V2 = 1
TP_STATUS_USER = 1
RING_FRAME = 2048                  # a 1514-byte frame plus the tpacket2 header and sockaddr_ll fits
RING_BLOCK = 1 << 20
RING_BLOCKS = 16                   # 16 MiB per interface: 8192 frames of slack for a slow reader
RING_FRAMES = RING_BLOCK // RING_FRAME * RING_BLOCKS
_T2 = struct.Struct("=IIIHHII")    # struct tpacket2_hdr: status, len, snaplen, mac, net, sec, nsec
_SLL_PKTTYPE = 32 + 10             # sockaddr_ll follows the 32-byte header; sll_pkttype at offset 10


def _opt(code: int, value: bytes) -> bytes:
    return struct.pack("<HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def _block(btype: int, body: bytes) -> bytes:
    n = 12 + len(body)
    return struct.pack("<II", btype, n) + body + struct.pack("<I", n)


def pcapng_shb(app: str = "sctpcorr lab") -> bytes:
    """Section Header Block (little endian, version 1.0, section length unknown)."""
    return _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + _opt(4, app.encode()) + _opt(0, b""))


def pcapng_idb(name: str, snaplen: int, linktype: int = LINKTYPE_ETHERNET) -> bytes:
    """Interface Description Block with if_name and nanosecond timestamps (if_tsresol = 9)."""
    return _block(1, struct.pack("<HHI", linktype, 0, snaplen) + _opt(2, name.encode()) + _opt(9, b"\x09")
                  + _opt(0, b""))


def pcapng_epb(iface: int, ts_ns: int, data: bytes, origlen: int, outbound: bool | None) -> bytes:
    """Enhanced Packet Block; epb_flags bits 0-1: 1 inbound, 2 outbound."""
    body = struct.pack("<IIIII", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF, len(data), origlen)
    body += data + b"\0" * (-len(data) % 4)
    if outbound is not None:
        body += _opt(2, struct.pack("<I", 2 if outbound else 1)) + _opt(0, b"")
    return _block(6, body)


def pcapng_isb(iface: int, ts_ns: int, received: int, dropped: int) -> bytes:
    """Interface Statistics Block with isb_ifrecv and isb_ifdrop."""
    return _block(5, struct.pack("<III", iface, ts_ns >> 32, ts_ns & 0xFFFFFFFF) + _opt(4, struct.pack(
        "<Q", received)) + _opt(5, struct.pack("<Q", dropped)) + _opt(0, b""))


class Capture:
    """Capture ``ifaces`` into ``path`` until ``stop`` is set.  ``open()`` then ``run()`` in the netns thread.

    Each interface gets a PACKET_RX_RING (TPACKET_V2) mapped into this process, like libpcap: the kernel copies
    every packet into the ring as it passes the tap, before the stack goes on with it.  (Plain recvmsg() on a
    packet socket copies later, from an skb whose data the stack may have changed in place meanwhile; that
    showed up as bad CRC32c on a few received packets.)"""

    def __init__(self, path: str, ifaces: list[str], snaplen: int = 0):
        self.path = path
        self.ifaces = ifaces
        self.snaplen = snaplen or 262144
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.socks: list[socket.socket] = []
        self.rings: list[mmap.mmap] = []
        self.next: list[int] = []
        self.pending: list[tuple[int, int, bytes, int, bool]] = []   # (ts_ns, iface, data, origlen, outbound)
        self.packets = 0
        self.counts: dict[str, dict[str, int]] = {}
        self.fd: int | None = None
        self.size = 0                    # bytes of whole blocks in the file
        self.out: list[bytes] = []       # blocks not written yet, out_packets packets among them
        self.out_packets = 0
        self.error: str | None = None    # the write that failed (disk full): the file stops at its last whole block
        self.not_written = 0             # packets captured after it

    def open(self) -> None:
        for name in self.ifaces:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)   # protocol 0: nothing until bind()
            s.setsockopt(SOL_PACKET, PACKET_VERSION, TPACKET_V2)
            s.setsockopt(SOL_PACKET, PACKET_RX_RING, struct.pack("=IIII", RING_BLOCK, RING_BLOCKS, RING_FRAME,
                                                                 RING_FRAMES))
            ring = mmap.mmap(s.fileno(), RING_BLOCK * RING_BLOCKS)
            s.bind((name, ETH_P_ALL))
            self.socks.append(s)
            self.rings.append(ring)
            self.next.append(0)
            self.counts[name] = {"captured": 0, "kernel_packets": 0, "kernel_drops": 0}
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.out = [pcapng_shb(), *(pcapng_idb(name, self.snaplen) for name in self.ifaces)]
        self.flush()
        self.ready.set()

    def flush(self) -> None:
        """The blocks waiting, to the file, whole: a write that fails (disk full) cuts the file back to its last
        whole block, and the capture writes nothing more (what it captures from then on is counted in
        ``not_written``); the lab reports it."""
        if not self.out:
            return
        data, n, self.out, self.out_packets = b"".join(self.out), self.out_packets, [], 0
        if self.fd is None:
            self.not_written += n
            return
        try:
            self.size = write_all(self.fd, data, self.size)
            self.packets += n
        except OSError as exc:
            self.error = (f"{describe(self.path, exc)} after {self.size} bytes: the capture stops at its last "
                          "whole packet")
            self.not_written += n
            os.close(self.fd)
            self.fd = None

    def _drain(self, i: int) -> int:
        """Take every frame the kernel handed over in ring ``i`` into ``pending`` and give the slots back."""
        ring, n = self.rings[i], 0
        while True:
            off = self.next[i] * RING_FRAME
            status, length, snap, mac, _net, sec, nsec = _T2.unpack_from(ring, off)
            if not status & TP_STATUS_USER:
                return n
            pkttype = ring[off + _SLL_PKTTYPE]
            data = ring[off + mac:off + mac + min(snap, self.snaplen)]
            self.pending.append((sec * 1_000_000_000 + nsec, i, data, length, pkttype == PACKET_OUTGOING))
            ring[off:off + 4] = b"\0\0\0\0"   # TP_STATUS_KERNEL: the slot is the kernel's again
            self.next[i] = (self.next[i] + 1) % RING_FRAMES
            self.counts[self.ifaces[i]]["captured"] += 1
            n += 1

    def _write(self, upto_ns: int | None) -> int:
        """Write pending packets stamped before ``upto_ns`` (all if None), in timestamp order.

        The rings are drained one after the other, so a packet from the second interface can be older than
        one already taken from the first: packets wait HOLD_NS, then go out sorted, and the file is in time
        order across interfaces (an analyser reads a SACK after the DATA it acknowledges)."""
        if not self.pending:
            return 0
        self.pending.sort(key=lambda p: p[0])
        n = len(self.pending) if upto_ns is None else next(
            (k for k, p in enumerate(self.pending) if p[0] > upto_ns), len(self.pending))
        if self.fd is None:
            self.not_written += n
        else:
            self.out.extend(pcapng_epb(i, ts, data, length, outbound) for ts, i, data, length, outbound
                            in self.pending[:n])
            self.out_packets += n
        del self.pending[:n]
        return n

    def _stats(self) -> None:
        for name, s in zip(self.ifaces, self.socks):
            try:
                pk, dr = struct.unpack("=II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
                self.counts[name]["kernel_packets"] += pk   # reading resets the kernel's counters
                self.counts[name]["kernel_drops"] += dr
            except OSError:
                pass

    def run(self) -> dict:
        """Capture until stop; returns per-interface counts, and ``write_error`` / ``packets_not_written`` when
        the file could not be written whole."""
        if not self.socks:
            self.open()
        unflushed, last_flush = False, 0
        try:
            while True:
                stopping = self.stop.is_set()
                select.select(self.socks, [], [], 0 if stopping else 0.05)
                got = sum(self._drain(i) for i in range(len(self.socks)))
                if self._write(None if stopping else time.time_ns() - HOLD_NS):
                    unflushed = True
                now = time.monotonic_ns()
                if unflushed and (now - last_flush >= FLUSH_NS or stopping):
                    self.flush()     # each write to the 9p share is synchronous: at most every FLUSH_NS
                    unflushed, last_flush = False, now
                if stopping and not got:
                    break
            self._write(None)
            self._stats()
            now = time.time_ns()
            for i, name in enumerate(self.ifaces):
                c = self.counts[name]
                self.out.append(pcapng_isb(i, now, c["kernel_packets"], c["kernel_drops"]))
            self.flush()
        finally:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            for r in self.rings:
                r.close()
            for s in self.socks:
                s.close()
        if self.error:
            return {**self.counts, "write_error": self.error, "packets_not_written": self.not_written}
        return self.counts
