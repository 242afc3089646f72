"""The bulk ring reader (sctpcorr.kernel._ringbuf) against a ring laid out as the kernel lays out a BPF ring buffer
map, in a memfd: consumer page, producer page, then the data twice (the kernel maps the data pages twice so a
record never wraps; here both copies are written).  Records: u32 length (bit 31 busy, bit 30 discarded),
u32 page offset, data, padded to 8 bytes."""
from __future__ import annotations

import mmap
import os
import struct

import pytest

from sctpcorr.kernel import abi
from sctpcorr.kernel._ringbuf import Reader
from sctpcorr.kernel.pump import iter_raw

PAGE = mmap.PAGESIZE
BUSY, DISCARD = 1 << 31, 1 << 30


class FakeRing:
    def __init__(self, size: int = 4096):
        self.size = size
        self.fd = os.memfd_create("fake-ringbuf")
        os.ftruncate(self.fd, 2 * PAGE + 2 * size)
        self.mm = mmap.mmap(self.fd, 2 * PAGE + 2 * size)
        self.prod = 0

    def set_positions(self, pos: int) -> None:
        struct.pack_into("<Q", self.mm, 0, pos)
        struct.pack_into("<Q", self.mm, PAGE, pos)
        self.prod = pos

    def consumer(self) -> int:
        return struct.unpack_from("<Q", self.mm, 0)[0]

    def _write(self, pos: int, data: bytes) -> None:
        for i, b in enumerate(data):
            k = (pos + i) % self.size
            self.mm[2 * PAGE + k] = b
            self.mm[2 * PAGE + self.size + k] = b

    def put(self, payload: bytes, flags: int = 0) -> int:
        """Append one record at the producer position; returns its position."""
        pos = self.prod
        self._write(pos, struct.pack("<II", len(payload) | flags, 0) + payload)
        self.prod += (len(payload) + 8 + 7) & ~7
        struct.pack_into("<Q", self.mm, PAGE, self.prod)
        return pos

    def commit(self, pos: int, payload: bytes) -> None:
        self._write(pos, struct.pack("<II", len(payload), 0))

    def close(self) -> None:
        self.mm.close()
        os.close(self.fd)


@pytest.fixture()
def ring():
    r = FakeRing()
    yield r
    r.close()


def test_drains_committed_records_in_order_skips_discarded_and_stops_at_busy(ring):
    rd = Reader(ring.fd, ring.size)
    ring.put(b"first")
    ring.put(b"dropped by the producer", DISCARD)
    ring.put(b"second record, 27 bytes....")
    busy_payload = b"not yet"
    busy_at = ring.put(busy_payload, BUSY)
    assert rd.pending() == ring.prod
    out = rd.drain()
    assert list(iter_raw(out)) == [b"first", b"second record, 27 bytes...."]
    assert rd.records == 2 and rd.discarded == 1 and rd.bytes == 5 + 27
    assert ring.consumer() == busy_at               # consumed up to the reserved record, not past it
    assert rd.drain() == b""
    ring.commit(busy_at, busy_payload)
    assert list(iter_raw(rd.drain())) == [b"not yet"]
    assert ring.consumer() == ring.prod and rd.pending() == 0


def test_a_record_across_the_end_of_the_ring_comes_out_whole(ring):
    ring.set_positions(3 * ring.size - 16)           # positions grow forever; the data index is pos & (size-1)
    rd = Reader(ring.fd, ring.size)
    payload = bytes(range(200))
    ring.put(payload)
    ring.put(b"after the wrap")
    assert list(iter_raw(rd.drain())) == [payload, b"after the wrap"]
    assert ring.consumer() == ring.prod


def test_max_bytes_leaves_the_rest_for_the_next_drain(ring):
    rd = Reader(ring.fd, ring.size)
    for i in range(10):
        ring.put(bytes([i]) * 40)
    first = list(iter_raw(rd.drain(max_bytes=100)))
    assert len(first) == 2                           # 2 x (4 + 40) fits in 100, a third does not
    rest = list(iter_raw(rd.drain()))
    assert first + rest == [bytes([i]) * 40 for i in range(10)]


def test_real_event_records_survive_the_trip(ring):
    """The recorded BPF events of the fixture, through the ring and the reader, decode as they did."""
    data = (os.path.dirname(__file__) + "/fixtures/probe61/events.raw")
    recs = list(iter_raw(open(data, "rb").read()))[:8]      # 8 records of up to 416 bytes fit the 4 KiB ring
    rd = Reader(ring.fd, ring.size)
    for r in recs:
        ring.put(r)
    got = list(iter_raw(rd.drain()))
    assert got == recs
    assert [abi.decode(g, 250) for g in got] == [abi.decode(r, 250) for r in recs]


def test_bad_arguments_and_a_closed_reader(ring):
    with pytest.raises(ValueError, match="power of two"):
        Reader(ring.fd, 3000)
    with pytest.raises(OSError):
        Reader(-1, 4096)
    rd = Reader(ring.fd, ring.size)
    rd.close()
    with pytest.raises(ValueError, match="closed"):
        rd.drain()


def test_wait_polls_the_fd(ring):
    assert Reader(ring.fd, ring.size).wait(0) is True     # a memfd always polls readable
