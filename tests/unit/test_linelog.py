"""The lab's JSONL logs on a full disk (outfile.LineLog; issue #12, "files and disks"): the timeline, the
workload's logs and the endpoints' snapshots stop at their last whole record, the error is said once, and the
thread that writes them goes on instead of dying with an exception."""
from __future__ import annotations

import errno
import json
import os

from sctpcorr import outfile
from sctpcorr.lab import bundle
from sctpcorr.outfile import LineLog


def _fail_after(monkeypatch, budget: int) -> None:  # noqa: ANN001
    """os.write in outfile writes ``budget`` more bytes (the last call cut short), then fails with ENOSPC."""
    real = os.write
    left = [budget]

    def write(fd: int, data) -> int:  # noqa: ANN001
        if left[0] <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        n = real(fd, bytes(data[:left[0]]))
        left[0] -= n
        return n
    monkeypatch.setattr(outfile.os, "write", write)


def test_whole_lines_until_the_disk_is_full(tmp_path, monkeypatch):
    p = tmp_path / "log.jsonl"
    p.write_text('{"before":1}\n')
    log = LineLog(str(p))
    for i in range(3):
        log.add(json.dumps({"n": i}))
    assert log.flush() is None
    _fail_after(monkeypatch, 20)                     # the next batch is cut 20 bytes in
    for i in range(3, 6):
        log.add(json.dumps({"n": i, "pad": "x" * 10}))
    err = log.flush()
    assert err is not None and err.errno == errno.ENOSPC
    log.add("{}")
    assert log.close() is err
    assert log.dropped == 4                          # the batch that failed and the line after it
    assert p.read_text() == '{"before":1}\n' + "".join(json.dumps({"n": i}) + "\n" for i in range(3))


def test_a_real_enospc_from_dev_full():
    log = LineLog("/dev/full")
    log.add("{}")
    err = log.flush()
    assert err is not None and err.errno == errno.ENOSPC
    assert log.close() is err and log.dropped == 1


def test_the_workload_log_ends_at_its_last_record_and_the_workload_goes_on(tmp_path, monkeypatch, capsys):
    from sctpcorr.lab.workload import Log

    p = tmp_path / "client.jsonl"
    log = Log(str(p))
    log("startup", role="client")
    log("send", seq=1)
    log.flush()
    _fail_after(monkeypatch, 0)
    log("assoc", event="COMM_UP")                    # flushed at once: the disk is full now
    for seq in range(2, 50):
        log("send", seq=seq)
    log("end", sent=49)
    log.close()
    assert log.comm_up.is_set()
    recs, bad = bundle.read_jsonl(p)
    assert bad == 0 and [r["type"] for r in recs] == ["startup", "send"]
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2, err
    assert str(p) in err[0] and "the log ends at its last whole record" in err[0]
    assert err[1] == f"workload: {p}: 50 records not written"


def test_a_snapshot_on_a_full_disk_fails_the_scenario_not_the_thread(tmp_path, monkeypatch, capsys):
    from sctpcorr.lab.guest import Lab

    lab = Lab(str(tmp_path / "bundle"), {"name": "full", "paths": {}}, {})
    f = LineLog(str(tmp_path / "bundle" / "snapshots" / "client.jsonl"))
    lab.snapshot("client", f, None)                  # three records (/proc/net/sctp's, or errors)
    before = (tmp_path / "bundle" / "snapshots" / "client.jsonl").read_text()
    assert before.count("\n") == 3 and lab.disk_error is None
    _fail_after(monkeypatch, 10)
    lab.snapshot("client", f, None)
    lab.snapshot("client", f, None)
    assert lab.disk_error is not None and "client.jsonl" in lab.disk_error
    assert (tmp_path / "bundle" / "snapshots" / "client.jsonl").read_text() == before
    assert f.dropped == 6
    assert capsys.readouterr().out.count("[lab] full:") == 1
