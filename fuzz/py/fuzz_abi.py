"""atheris target: the kernel event decoder of sctpcorr/kernel/abi.py (one ring-buffer record -> the JSONL
record), over every record of a --raw spool (``<u32 length><record>``...), with and without a known HZ.
(``encode_struct``, its inverse, is left out: it writes the tests' own recordings and is lossy by design, an
unknown enum value has no code to go back to.)

Contract: ``decode`` raises AbiError for a short or unknown record and nothing else; what it returns is JSON."""
from __future__ import annotations

import json
import struct

from _common import imports, main

with imports(__name__):
    from sctpcorr.kernel import abi


def test_one_input(data: bytes) -> None:
    off = 0
    while off + 4 <= len(data):
        n = struct.unpack_from("<I", data, off)[0]
        rec = data[off + 4:off + 4 + n]
        off += 4 + n
        for hz in (None, 250):
            try:
                ev = abi.decode(rec, hz)
            except abi.AbiError:
                continue
            json.dumps(ev, allow_nan=False)


if __name__ == "__main__":
    main(test_one_input)
