"""User messages out of the wire engine: ``Analyzer(payloads=True).drain_payloads()`` read and reassembled.

The engine hands over the user data of every DATA / I-DATA chunk the first time the capture shows its TSN
(retransmissions carry the same bytes and are left out), each behind a 72-byte header (``analyze.h``
``sc_payhdr``).  ``_fast.decode`` reads the unfragmented ones, :func:`chunk_at` the fragments it leaves, and
:class:`Reassembler` puts fragmented user messages back together (RFC 9260 6.9: the fragments of one message carry consecutive TSNs, the first with the B bit, the last with E;
I-DATA, RFC 8260: one MID, fragments ordered by FSN) and passes unfragmented ones straight through.  Several
messages bundled in one packet are several chunks, so each is seen.

Pure: bytes in, :class:`Message` objects out.  A message's time is its last fragment's (when the receiver could
have it), ``first_ns`` its first's.  Fragments waiting for the rest are bounded (``max_pending``); what is given up
is counted, never guessed.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = ["HDR", "Chunk", "Message", "chunk_at", "pack", "Reassembler"]

HDR = struct.Struct("=qQIIIIIIIHHHBBB3xqq")   # sc_payhdr
assert HDR.size == 72
F_E, F_B, F_U, F_I = 0x01, 0x02, 0x04, 0x08


@dataclass(slots=True)
class Chunk:
    ts_ns: int
    frame: int
    assoc: int
    tsn: int
    ppid: int          # I-DATA middle/last fragments: FSN
    length: int        # user-data bytes on the wire
    ssn: int           # I-DATA: MID
    vtag: int
    sid: int
    sport: int
    dport: int
    dir: int
    flags: int
    idata: bool
    data: bytes        # captured user data (shorter than ``length`` when the snaplen cut it)
    rtt_ns: int        # the association's last RTT sample when the engine read it (-1: none)
    a_rwnd: int        # its receiver's last advertised window then (-1: none)
    seq: int           # the header's offset in its drain_payloads() buffer


@dataclass(slots=True)
class Message:
    ts_ns: int         # the last fragment's capture time
    first_ns: int
    frame: int         # the last fragment's frame
    first_frame: int
    assoc: int
    vtag: int          # the packet's verification tag: names the receiving endpoint
    dir: int           # the engine's direction at the time (see telecom.core: decided again from the tags)
    sid: int
    ssn: int
    ppid: int
    sport: int
    dport: int
    tsns: tuple[int, int]   # first and last TSN
    fragments: int
    length: int
    data: bytes
    truncated: bool    # some of its bytes were not captured
    unordered: bool
    rtt_ns: int        # as the last fragment had them
    a_rwnd: int
    seq: int           # the last fragment's header offset


def chunk_at(buf: bytes, off: int) -> tuple[Chunk, int]:
    """The chunk whose header is at ``buf[off]``, and the offset of the next."""
    (ts, frame, assoc, tsn, ppid, length, caplen, ssn, vtag, sid, sport, dport, d, flags, idata, rtt,
     rwnd) = HDR.unpack_from(buf, off)
    start = off + HDR.size
    return (Chunk(ts, frame, assoc, tsn, ppid, length, ssn, vtag, sid, sport, dport, d, flags, bool(idata),
                  bytes(buf[start:start + caplen]), rtt, rwnd, off), start + ((caplen + 7) & ~7))


def pack(m: Message) -> bytes:
    """A whole message as a one-chunk ``drain_payloads()`` buffer (B and E set): how a reassembled message goes
    through the same decoder as the rest (``_fast.decode``)."""
    flags = F_B | F_E | (F_U if m.unordered else 0)
    pad = (-len(m.data)) % 8
    # the header's length is a u32: a message longer than that (65,535 fragments of the largest chunks come
    # close; a damaged header can claim 4 GiB in one) is written as 4 GiB - 1, which the decoder copies to the
    # message's length and compares with the captured length (cut short or not)
    return HDR.pack(m.ts_ns, m.frame, m.assoc, m.tsns[0], m.ppid, min(m.length, 0xFFFFFFFF), len(m.data), m.ssn,
                    m.vtag, m.sid,
                    m.sport, m.dport, m.dir, flags, 0, m.rtt_ns, m.a_rwnd) + m.data + bytes(pad)


class Reassembler:
    """Feed chunks, get whole messages.  Fragments are kept per (association, receiver tag, stream, ordered or
    not) until the E fragment whose TSNs close the run from the B fragment arrives."""

    def __init__(self, max_pending: int = 4096, max_bytes: int = 1 << 20, max_fragments: int = 0xFFFF) -> None:
        # max_fragments: the message table counts a message's fragments in a u16 (columns.REC); fragments cut
        # to no captured bytes are not bounded by max_bytes
        self.max_pending, self.max_bytes, self.max_fragments = max_pending, max_bytes, max_fragments
        self._pending: dict[tuple[int, int, int, bool, int], list[Chunk]] = {}
        self._bytes: dict[tuple[int, int, int, bool, int], int] = {}     # captured bytes of each pending message
        self.fragmented = 0          # messages put back together
        self.given_up = 0            # fragments dropped: never completed (capture ended, lost, limits)
        self.orphans = 0             # middle/last fragments whose first was never seen

    def feed(self, c: Chunk) -> Message | None:
        if c.flags & F_B and c.flags & F_E:
            return Message(c.ts_ns, c.ts_ns, c.frame, c.frame, c.assoc, c.vtag, c.dir, c.sid, c.ssn, c.ppid,
                           c.sport, c.dport, (c.tsn, c.tsn), 1, c.length, c.data, len(c.data) < c.length,
                           bool(c.flags & F_U), c.rtt_ns, c.a_rwnd, c.seq)
        unordered = bool(c.flags & F_U)
        if c.idata:
            key = (c.assoc, c.vtag, c.sid, unordered, c.ssn)         # one MID per message
        else:
            key = (c.assoc, c.vtag, c.sid, unordered, -1)            # DATA: fragments are consecutive TSNs
        frags = self._pending.get(key)
        if c.flags & F_B:
            if frags:
                self.given_up += len(frags)
            frags = self._pending[key] = [c]
            self._bytes[key] = len(c.data)
            if len(self._pending) > self.max_pending:
                old = next(iter(self._pending))
                self.given_up += len(self._pending.pop(old))
                del self._bytes[old]
            return None
        if not frags:
            self.orphans += 1
            return None
        frags.append(c)
        self._bytes[key] += len(c.data)
        if len(frags) > self.max_fragments or self._bytes[key] > self.max_bytes:
            self.given_up += len(self._pending.pop(key))
            del self._bytes[key]
            return None
        if not c.flags & F_E:
            return None
        del self._pending[key], self._bytes[key]
        if c.idata:
            frags.sort(key=lambda f: 0 if f.flags & F_B else f.ppid)      # FSN order (the first has none)
        else:
            t0 = frags[0].tsn
            frags.sort(key=lambda f: (f.tsn - t0) & 0xFFFFFFFF)
            span = (frags[-1].tsn - frags[0].tsn) & 0xFFFFFFFF
            if span != len(frags) - 1:              # a fragment missing: not this message
                self.given_up += len(frags)
                return None
        first, last = frags[0], frags[-1]
        latest = max(frags, key=lambda f: (f.ts_ns, f.frame))
        self.fragmented += 1
        data = b"".join(f.data for f in frags)
        length = sum(f.length for f in frags)
        return Message(max(f.ts_ns for f in frags), first.ts_ns, max(f.frame for f in frags), first.frame,
                       first.assoc, first.vtag, first.dir, first.sid, first.ssn, first.ppid, first.sport,
                       first.dport, (first.tsn, last.tsn), len(frags), length, data, len(data) < length, unordered,
                       latest.rtt_ns, latest.a_rwnd, c.seq)

    def finish(self) -> None:
        """The capture ended: what still waits for its other fragments is given up (counted)."""
        self.given_up += sum(len(v) for v in self._pending.values())
        self._pending.clear()
        self._bytes.clear()
