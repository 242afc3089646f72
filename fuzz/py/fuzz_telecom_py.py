"""atheris target: the telecom layer's Python side over a payload buffer (sc_payhdr + user data, as the wire
engine's drain_payloads() writes it): sctpcorr/telecom/payloads.py (fragment reassembly), columns.decode,
core.Telecom (nested NAS, AP causes, the Follower's records, the section's tables) and the deep decoders.

Input: the first byte says how many chunks go in a block (feed() is called once per block, the way the
pipeline drains the engine); the rest is the payload buffer.

Contract: no exception; the section is JSON."""
from __future__ import annotations

import json

from _common import imports, main

with imports(__name__):
    from sctpcorr.telecom.core import Telecom
    from sctpcorr.telecom.payloads import HDR


def _headers(data: bytes | bytearray):  # noqa: ANN202 - the offsets of the chunk headers
    off = 0
    while off + HDR.size <= len(data):
        yield off
        off += HDR.size + ((HDR.unpack_from(data, off)[6] + 7) & ~7)


def test_one_input(data: bytes) -> None:
    if not data:
        return
    per, buf = 1 + data[0] % 8, bytearray(data[1:])
    heads = list(_headers(buf))
    # association ids are the engine's (1..its association count), never a random u32: the section sizes tables
    # by the largest (telecom/core.py _Directions); kept to 1..64 here
    for off in heads:
        buf[off + 16:off + 20] = (1 + (buf[off + 16] & 63)).to_bytes(4, "little")
    data = bytes(buf)
    # blocks of `per` chunks, cut where the headers say the chunks end (the engine never cuts one in two)
    cuts = [0] + heads[per::per] + [len(data)]
    t = Telecom(keep_data=True, rtt_samples=True)
    for a, b in zip(cuts, cuts[1:]):
        for _ in t.feed(data[a:b]):
            pass
    for m in t.messages:
        m.as_dict()
    json.dumps(t.finish({"associations": []}), default=str)


if __name__ == "__main__":
    main(test_one_input)
