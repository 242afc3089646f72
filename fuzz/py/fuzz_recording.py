"""atheris target: a kernel recording as the correlator and ``sctpcorr live`` read it: sctpcorr/sources/recording.py
(JSONL or --raw records, gzip or not, by their bytes), sctpcorr/correlate_io.load_kernel (the recording into a
KernelView: JSONL records field by field, --raw records column by column through _ringbuf.columns) and
sctpcorr/live.py's JsonlTail (the lines appended to a recording another process writes).

Contract: a file that is not a recording raises an InputError (NotARecording, CorruptCapture); anything else in
it (a line that is not JSON, a record of the wrong shape, a torn record) is counted, never raised."""
from __future__ import annotations

from _common import imports, main, scratch

with imports(__name__):
    import sctpcorr.correlate.kernel
    import sctpcorr.sources.recording  # noqa: F401
    from sctpcorr.correlate_io import load_kernel
    from sctpcorr.errors import InputError
    from sctpcorr.live import JsonlTail


def test_one_input(data: bytes) -> None:
    path = scratch(data)
    try:
        kv = load_kernel(path, hz=250)
    except InputError:
        pass
    else:
        assert kv.bad_records >= 0
    tail = JsonlTail(path)
    try:
        recs = tail.read(limit=len(data) // 2 + 1) + tail.read()
    finally:
        tail.close()
    assert all(isinstance(r, dict) for r in recs), "JsonlTail returned a record that is not an object"


if __name__ == "__main__":
    main(test_one_input)
