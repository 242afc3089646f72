"""atheris target: the sock_diag decoder of ``sctpcorr probe --source diag`` (sctpcorr/kernel/diag.py): one
netlink dump's bytes (nlmsghdr, inet_diag_msg, the SCTP attributes: struct sctp_info, address lists, memory
info) into records, each association then flattened into the probe's JSONL shape.

Contract: ``records`` never raises (a message it cannot read is skipped); ``flatten`` of an association record
it made never raises; both are JSON."""
from __future__ import annotations

import json

from _common import imports, main

with imports(__name__):
    from sctpcorr.kernel import diag


def test_one_input(data: bytes) -> None:
    for hz in (None, 250):
        recs, _done, _err = diag.records(data, hz)
        json.dumps(recs, default=str)
        for r in recs:
            if r.get("kind") == "assoc":
                json.dumps(diag.flatten(r), default=str)


if __name__ == "__main__":
    main(test_one_input)
