"""A retransmission the SACKs asked for as fast, that the kernel sent as a T3 one: a T3 timeout came between the
fast-retransmit mark and the send (seen once in a lab session: kernel t3, wire fast).  The probe names a
retransmission by the last cause noted for its association (sctpcorr.bpf.c), so the chunk is t3 for it.

The lossy lab bundle (real Debian 6.1 data) has fast retransmissions that kernel and wire agree on.  Each test
takes one, makes the kernel call it t3, and puts a T3 cause (an rtx_mark of reason t3) into the recording where
the case needs it: the check explains the difference only when the recording shows a fast retransmission noted
after the chunk's previous transmission, then a T3 timeout, the last cause before the send."""
from __future__ import annotations

import gzip
import json
import shutil

from bundles import bundle, one

from sctpcorr import correlate_io


def _records(b):  # noqa: ANN001, ANN202
    rec = next((b / "kernel").glob("probe.jsonl*"))
    with gzip.open(rec, "rt") if rec.suffix == ".gz" else open(rec) as f:
        return rec, [json.loads(line) for line in f]


def _fast_rtx(recs):  # noqa: ANN001, ANN202
    """The first egress record that retransmits one DATA chunk as fast, and the chunk's previous transmission."""
    last = {}
    for i, r in enumerate(recs):
        if r.get("type") != "egress":
            continue
        for c in r.get("chunks", ()):
            if c.get("type") != "DATA":
                continue
            if c.get("sent_count", 1) > 1 and c.get("rtx_reason") == "fast" and len(r["chunks"]) == 1 \
                    and c["tsn"] in last:
                return i, last[c["tsn"]]
            last[c["tsn"]] = i
    raise AssertionError("the lossy bundle has no fast retransmission")


def _variant(tmp_path, name: str, t3_at: str | None):  # noqa: ANN001, ANN202
    """The lossy bundle with one fast retransmission made t3 for the kernel, and an rtx_mark of reason t3 (the
    probe notes a T3 cause there) put into the recording: just before the send (``"before_send"``), just after
    it (``"after_send"``), just before the fast retransmission's cwnd reduction (``"before_fast"``), or none."""
    src = bundle("lossy")
    dst = tmp_path / name
    shutil.copytree(src, dst)
    rec, recs = _records(dst)
    i, prev = _fast_rtx(recs)
    e = recs[i]
    e["chunks"][0]["rtx_reason"] = "t3"
    tsn = e["chunks"][0]["tsn"]
    lo, send = recs[prev]["ts_ns"], e["ts_ns"]
    fast = [r["ts_ns"] for r in recs if r.get("type") == "cwnd" and r.get("asoc") == e["asoc"]
            and r.get("reason") == "fast_rtx" and lo < r["ts_ns"] < send]
    assert fast, "the kernel noted no fast retransmission between the two transmissions"
    if t3_at is not None:
        at = {"before_send": send - 1000, "after_send": send + 1000, "before_fast": fast[-1] - 1000}[t3_at]
        assert lo < at
        model = next(r for r in recs if r.get("type") == "rtx_mark" and r.get("reason") == "t3")
        mark = {**model, **{k: e[k] for k in ("asoc", "assoc_id", "my_vtag", "peer_vtag", "lport", "pport", "netns",
                                              "state", "path_addr", "path_port", "transport", "hb_nonce")},
                "ts_ns": at}
        recs.insert(next(j for j, r in enumerate(recs) if r.get("ts_ns", 0) > at or r.get("type") == "end"), mark)
    rec.unlink()
    (dst / "kernel" / "probe.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    cx, _ = correlate_io.run(bundles=[str(dst)])
    checks = [c for c in cx.checks if c.name == "retransmissions" and c.numbers.get("kind_differs", 0)]
    assert len(checks) == 1, [c.as_dict() for c in cx.checks if c.name == "retransmissions"]
    return checks[0], tsn


def test_t3_between_mark_and_send_explains_kernel_t3_wire_fast(tmp_path):
    base = correlate_io.run(bundles=[str(bundle("lossy"))])[0]
    c, tsn = _variant(tmp_path, "race", "before_send")
    before = one(base, "retransmissions", c.assoc, c.direction)
    assert before.verdict == "agree" and before.numbers["pairs"].get("fast/fast", 0) >= 1
    assert c.verdict == "explained", c.sentence
    assert c.numbers["kind_differs"] == 1
    assert c.numbers["kind_differs_t3_before_send"] == 1
    assert c.numbers["pairs"]["t3/fast"] == 1
    assert f"TSN {tsn}: kernel t3, wire fast" in c.sentence
    assert "then a T3 timeout" in c.sentence


def test_no_t3_or_one_out_of_order_is_a_disagreement(tmp_path):
    """No T3 cause; one after the send; one before the fast retransmission's (then the last cause noted before
    the send was fast, and the kernel's t3 is not that race)."""
    for at in (None, "after_send", "before_fast"):
        c, tsn = _variant(tmp_path, str(at), at)
        assert c.verdict == "disagree", (at, c.sentence)
        assert c.numbers["kind_differs"] == 1 and c.numbers["kind_differs_t3_before_send"] == 0
        assert f"TSN {tsn}: kernel t3, wire fast" in c.sentence


def test_raw_recordings_carry_the_retransmission_causes():
    """A --raw recording's cwnd, rtx_mark and t3_expire records reach the check too, as abi.decode reads them
    (the JSONL reader has always kept them)."""
    import struct
    from pathlib import Path

    from sctpcorr.correlate.kernel import KernelView
    from sctpcorr.kernel import abi

    data = (Path(__file__).resolve().parents[1] / "kernel" / "fixtures" / "probe61" / "events.raw").read_bytes()
    want, off = [], 0
    while off + 4 <= len(data):
        (n,) = struct.unpack_from("<I", data, off)
        r = abi.decode(data[off + 4:off + 4 + n])
        if r["type"] in ("cwnd", "rtx_mark", "t3_expire"):
            want.append(r)
        off += 4 + n
    kv = KernelView.build_raw(data, None)
    got = [{k: v for k, v in e.items() if k != "end"} for e in kv.of("cwnd", "rtx_mark", "t3_expire")]
    assert {r["type"] for r in want} == {"cwnd", "rtx_mark", "t3_expire"}
    key = lambda r: (r["ts_ns"], r["type"])   # noqa: E731
    assert sorted(got, key=key) == sorted(want, key=key)
