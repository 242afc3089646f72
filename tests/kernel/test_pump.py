"""The pump: the drain side never decodes; the decoder thread writes everything in drain order, counts what it
cannot decode, and what did not fit in the backlog is counted, not silently gone."""
from __future__ import annotations

import errno
from pathlib import Path

from sctpcorr.kernel import abi
from sctpcorr.kernel.pump import Pump, iter_raw

RAW = (Path(__file__).parent / "fixtures" / "probe61" / "events.raw").read_bytes()
RECS = list(iter_raw(RAW))


def _frame(recs):
    return b"".join(len(r).to_bytes(4, "little") + r for r in recs)


def test_records_and_user_records_come_out_in_drain_order():
    chunks = [_frame(RECS[:10]), _frame(RECS[10:20]) + _frame([b"\x07\x00"])]
    got = []
    p = Pump(lambda: chunks.pop(0) if chunks else b"", 250, lambda kind, r: got.append((kind, r["type"])))
    p.drain()
    p.put("meta", {"type": "clock"})
    p.drain()
    p.put("event", {"type": "diag"})
    assert p.close(30)
    want = [("event", abi.decode(r, 250)["type"]) for r in RECS[:10]] + [("meta", "clock")] + \
        [("event", abi.decode(r, 250)["type"]) for r in RECS[10:20]] + [("event", "diag")]
    assert got == want
    assert p.decode_errors == 1 and p.drained_records == 21 and p.backlog_bytes == 0 and p.dropped_records == 0


def test_a_full_backlog_drops_and_counts_whole_chunks():
    import threading

    chunk = _frame(RECS[:50])
    release = threading.Event()
    got = []

    def slow_sink(kind, r):
        release.wait(30)     # the decoder is stuck on the first record: the backlog fills
        got.append(r)

    p = Pump(lambda: chunk, 250, slow_sink, cap_bytes=len(chunk) * 2)
    for _ in range(4):
        p.drain()            # chunks 1 and 2 fit, 3 and 4 do not
    release.set()
    assert p.close(30)
    assert p.dropped_records == 100 and len(got) == 100 and p.backlog_peak == 2 * len(chunk)


def test_a_write_error_stops_recording_and_is_reported():
    def sink(kind, r):
        raise OSError(errno.ENOSPC, "No space left on device")

    p = Pump(lambda: _frame(RECS[:5]), 250, sink)
    p.drain()
    assert p.close(30)
    assert isinstance(p.error, OSError) and p.error.errno == errno.ENOSPC


def test_deferred_decoding_waits_for_close():
    got = []
    p = Pump(lambda: _frame(RECS[:30]), 250, lambda kind, r: got.append(r), defer=True)
    p.drain()
    p.put("meta", {"type": "clock"})
    import time

    time.sleep(0.2)
    assert got == [] and p.backlog_bytes > 0       # held: only the drain ran
    assert p.close(30)
    assert len(got) == 31 and p.backlog_bytes == 0


def test_abort_stops_decoding_and_counts_what_was_not_written():
    import threading

    first = threading.Event()
    got = []

    def sink(kind, r):
        got.append(r)
        first.set()
        threading.Event().wait(0.01)      # a slow decoder

    p = Pump(lambda: _frame(RECS[:40]), 250, sink)
    for _ in range(3):
        p.drain()                         # 120 records queued
    assert first.wait(10)
    left = p.abort()
    n = len(got)
    assert left + n == 120 and left > 0
    threading.Event().wait(0.1)
    assert len(got) == n                  # nothing written after abort() returned
