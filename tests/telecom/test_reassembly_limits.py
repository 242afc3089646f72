"""Fragment reassembly at its limits (telecom/payloads.py): a message longer than the u32 the payload header
holds, and a message of more fragments than the u16 the message table counts them in.  The fuzzer found the
first (fuzz/regressions/telecom_py/reassembled-length-past-u32: struct.error out of Telecom.feed)."""
from __future__ import annotations

import numpy as np

from sctpcorr.telecom.columns import REC
from sctpcorr.telecom.core import Telecom
from sctpcorr.telecom.payloads import F_B, F_E, HDR, Chunk, Reassembler, chunk_at, pack


def frag(tsn: int, flags: int, length: int, data: bytes = b"") -> Chunk:
    return Chunk(1_000 + tsn, tsn, 1, tsn, 60, length, 0, 7, 1, 38412, 38412, 0, flags, False, data, -1, -1, 0)


def test_a_message_longer_than_the_header_field_is_written_as_its_largest_value():
    r = Reassembler()
    assert r.feed(frag(10, F_B, 3_000_000_000, b"\x00\x0f")) is None
    assert r.feed(frag(11, 0, 3_000_000_000)) is None
    m = r.feed(frag(12, F_E, 3_000_000_000))
    assert m is not None and m.length == 9_000_000_000 and m.fragments == 3 and m.truncated
    h, _ = chunk_at(pack(m), 0)
    assert h.length == 0xFFFFFFFF and h.data == b"\x00\x0f"
    # and the whole path: the three fragments as the engine's payload buffer, through the section
    buf = b"".join(HDR.pack(c.ts_ns, c.frame, c.assoc, c.tsn, c.ppid, min(c.length, 0xFFFFFFFF), len(c.data),
                            c.ssn, c.vtag, c.sid, c.sport, c.dport, c.dir, c.flags, 0, -1, -1)
                   + c.data + bytes(-len(c.data) % 8)
                   for c in (frag(10, F_B, 0xFFFFFFFF, b"\x00\x0f"), frag(11, 0, 0xFFFFFFFF), frag(12, F_E, 5)))
    t = Telecom()
    list(t.feed(buf))
    assert t.reasm.fragmented == 1
    t.finish({"associations": []})


def test_a_message_of_more_fragments_than_the_table_counts_is_given_up():
    assert Reassembler().max_fragments == np.iinfo(REC["fragments"]).max
    r = Reassembler(max_fragments=100)
    r.feed(frag(0, F_B, 1400))
    for tsn in range(1, 100):
        assert r.feed(frag(tsn, 0, 1400)) is None
    assert r.given_up == 0
    assert r.feed(frag(100, 0, 1400)) is None          # the 101st: given up, all of them
    assert r.given_up == 101
    assert r.feed(frag(101, F_E, 1400)) is None        # its end has no beginning left
    assert r.orphans == 1
    # a message within the limit still comes back whole
    r.feed(frag(200, F_B, 10, b"a"))
    for tsn in range(201, 299):
        r.feed(frag(tsn, 0, 10, b"b"))
    m = r.feed(frag(299, F_E, 10, b"c"))
    assert m is not None and m.fragments == 100 and m.data == b"a" + b"b" * 98 + b"c"
