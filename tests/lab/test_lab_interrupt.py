"""Interrupted lab runs (Ctrl-C on the host, a kernel panic in the guest) leave readable bundles that say so.

Each test boots its own guest (about a minute under TCG)."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import labtruth as lt
from children import default_signals
from labrun import lab_unavailable, record_timings
from sctpcorr.lab import bundle

pytestmark = pytest.mark.skipif(not lt.have_tshark(), reason="needs tshark (apt-get install -y tshark)")


@pytest.fixture(scope="module")
def lab_ok():
    why = lab_unavailable()
    if why:
        pytest.skip(why)


def _wait_for(pred, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _client_sent(b: Path) -> int:
    recs, _ = bundle.read_jsonl(b / "workload" / "client.jsonl")
    return sum(1 for r in recs if r["type"] == "send")


def test_ctrl_c_leaves_an_incomplete_readable_bundle(lab_ok, tmp_path):
    b = tmp_path / "failover"
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "sctpcorr.lab.cli", "run", "failover", "--out", str(b)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=default_signals)
    try:
        # interrupt in the middle of the traffic: after some messages were logged as sent
        _wait_for(lambda: (b / "workload" / "client.jsonl").exists() and _client_sent(b) >= 40, 400,
                  "the workload to send 40 messages")
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    record_timings("ctrl_c_run", tmp_path, [b], round(time.monotonic() - t0, 1))
    assert proc.returncode == 130, out
    assert "INCOMPLETE" in out
    m = bundle.read_manifest(b)
    assert m["complete"] is False and m["phase"] == "workload"
    assert m["interrupted"]["reason"].startswith("interrupted: Ctrl-C") and m["interrupted"]["phase"] == "workload"
    # what was recorded is there and readable: captures (tshark reads them), logs, snapshots
    sent = _client_sent(b)
    assert sent >= 40
    cf = lt.frames(b / "client.pcapng")
    on_wire = lt.messages_on_wire(cf, "198.18.")
    assert on_wire >= sent - 5, (on_wire, sent)     # at most the last 100 ms of the log may be missing
    s = bundle.summary(b)
    assert s["captures"]["server"]["packets"] > 0 and s["snapshots"]["client"]["records"] > 0
    show = subprocess.run([sys.executable, "-m", "sctpcorr.lab.cli", "show", str(b)], capture_output=True,
                          text=True)
    assert show.returncode == 0 and "complete: NO" in show.stdout and "Ctrl-C" in show.stdout
    assert time.monotonic() - t0 < 400


def test_guest_crash_leaves_an_incomplete_readable_bundle(lab_ok, tmp_path):
    from sctpcorr.lab import runner, scenario
    b = tmp_path / "baseline"
    t0 = time.monotonic()
    res = runner.run_group([scenario.load("baseline")], b, crash_after_s=1.5)
    record_timings("crash_run", tmp_path, [b], round(time.monotonic() - t0, 1))
    assert res.reason.startswith("guest crashed")
    m = bundle.read_manifest(b)
    assert m["complete"] is False and m["phase"] == "workload"
    assert m["interrupted"] == {"reason": res.reason, "phase": "workload"}
    assert m["host"]["vng_returncode"] not in (0, None)
    # everything up to the panic is readable; the captures saw the association come up and carry DATA
    cf = lt.frames(b / "client.pcapng")
    assert any(1 in f.chunks for f in cf) and lt.data_chunks(cf, "198.18.")
    lab, bad = bundle.read_jsonl(b / "lab.jsonl")
    assert any(r["type"] == "crash" for r in lab)
    assert _client_sent(b) > 0


def test_a_full_disk_fails_the_run_with_one_line_and_whole_captures(lab_ok, tmp_path):
    """The bundle on a 160 KiB tmpfs: the captures fill it mid-workload. Each capture is cut back to its last
    whole packet and says so; the guest finishes the scenario and shuts down; the host prints one line naming
    the file it could not write and exits 4 (incomplete), no traceback."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a small tmpfs here")
    try:
        b = disk / "b"
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "sctpcorr.lab.cli", "run", "baseline", "--out", str(b)],
                           capture_output=True, text=True, timeout=900, preexec_fn=default_signals)
        record_timings("full_disk", b, [b], time.monotonic() - t0)
        assert r.returncode == 4, r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        last = r.stderr.strip().splitlines()[-1]
        assert last.startswith(f"sctpcorr lab: {b}/") and "no space left on device" in last
        console = (b / "console.log").read_text(errors="replace")
        assert "Traceback" not in console
        for role in ("client", "server"):
            assert f"{role} capture: {b}/{role}.pcapng: no space left on device after " in console
            info = bundle.capture_info(b / f"{role}.pcapng")
            assert info["packets"] > 20 and not info.get("truncated_tail") and not info.get("error")
        # the JSONL logs (outfile.LineLog) end at their last whole record, whatever filled the disk first
        for log in ("lab.jsonl", "workload/client.jsonl", "workload/server.jsonl", "snapshots/client.jsonl",
                    "snapshots/server.jsonl"):
            recs, bad = bundle.read_jsonl(b / log)
            assert bad == 0 and recs, (log, bad, len(recs))
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
