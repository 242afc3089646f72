"""Ctrl-C during the analysis (partial report, marked interrupted, exit 130) and a closed stdout (| head)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from children import default_signals
from cli_helpers import ROOT, corpus_file, pcap_record_ends, run_cli


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _blocked_on_pipe(pid: int) -> bool:
    """True once the process sleeps in a pipe read (Linux /proc/PID/wchan: pipe_read / anon_pipe_read)."""
    try:
        return "pipe_read" in Path(f"/proc/{pid}/wchan").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux /proc/PID/wchan")
@pytest.mark.parametrize("fmt", ["--json", "--text"])
def test_ctrl_c_reports_what_was_read(fmt):
    """Feed the first 1000 records of a real capture through a pipe that stays open, wait until sctpcorr has
    read all of it and waits for more, then send SIGINT: the report covers exactly those 1000 packets."""
    data = corpus_file("PcapPlusPlus/ip-frag.pcap").read_bytes()
    ends = pcap_record_ends(data)
    fed = data[: ends[999]]
    args = [sys.executable, "-m", "sctpcorr.cli", "pcap", "-"] + ([fmt] if fmt != "--text" else [])
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=_env(), preexec_fn=default_signals)
    try:
        writer = threading.Thread(target=lambda: (proc.stdin.write(fed), proc.stdin.flush()))
        writer.start()
        writer.join(30)
        deadline = time.monotonic() + 30
        while not _blocked_on_pipe(proc.pid):
            assert time.monotonic() < deadline, "sctpcorr never waited on its input pipe"
            time.sleep(0.05)
        time.sleep(0.1)
        assert _blocked_on_pipe(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert b"Traceback" not in err
    assert b"interrupted: the report covers the first 1000 packets" in err
    if fmt == "--json":
        doc = json.loads(out)
        assert doc["interrupted"] is True
        assert doc["capture"]["packets"] == 1000
        assert doc["errors"] == []  # the unfinished stream is not reported as a truncated file
    else:
        text = out.decode()
        assert "ASSOCIATION 1" in text
        assert "INTERRUPTED (Ctrl-C) after 1000 packets" in text


DEMO = ROOT / "pcaps" / "synthetic" / "ngap-lossy-multihomed.pcapng.gz"


@pytest.mark.skipif(not DEMO.is_file(), reason="bundled capture missing")
def test_broken_pipe_is_quiet(tmp_path):
    """`sctpcorr pcap --jsonl ... | head -n 1`: the pipe closes while events are being written; no traceback,
    no 'Broken pipe' message, exit 0."""
    err = tmp_path / "stderr"
    script = (f'"{sys.executable}" -m sctpcorr.cli pcap --jsonl "{DEMO}" 2>"{err}" | head -n 1; '
              'exit ${PIPESTATUS[0]}')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120)
    assert json.loads(r.stdout)["type"] == "startup"
    assert len(r.stdout.splitlines()) == 1
    assert err.read_text() == ""
    assert r.returncode == 0


@pytest.mark.skipif(not DEMO.is_file(), reason="bundled capture missing")
def test_output_bigger_than_pipe_buffer():
    """Guard for the test above: the output really is bigger than a 64 KiB pipe buffer, so head closes the pipe
    before sctpcorr is done writing."""
    r = run_cli("pcap", "--jsonl", DEMO)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout) > 4 * 65536
