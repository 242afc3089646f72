"""``sctpcorr live --probes``'s I/O on this machine, whose kernel has no SCTP kprobes: the probe child is
tests/live/fake_probe.py writing a real lab recording (pcaps/lab/baseline, Debian's 6.1 kernel) as the probe
would, live follows the same bundle's client capture; the run must join them as the batch correlator does.
The real probe beside a real association runs in the lab guest (tests/lab_probe, test_live_probes_...)."""
from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sctpcorr.correlate import correlate
from sctpcorr.correlate_io import load_capture, load_kernel
from sctpcorr.live import JsonlTail, KernelProbes, LiveOptions, StopFlag, open_source, run_live

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "pcaps" / "lab" / "baseline"
FAKE = [sys.executable, str(Path(__file__).with_name("fake_probe.py"))]


def _bundle() -> tuple[Path, Path]:
    cap, rec = BUNDLE / "client.pcapng.gz", BUNDLE / "kernel" / "probe.jsonl.gz"
    if not cap.exists() or not rec.exists():
        pytest.skip("no lab bundle pcaps/lab/baseline")
    return cap, rec


def test_live_probes_joins_kernel_and_wire_as_the_batch_correlator_does(tmp_path):
    cap, rec = _bundle()
    follow = tmp_path / "client.pcapng"
    with gzip.open(cap) as src, open(follow, "wb") as dst:
        shutil.copyfileobj(src, dst)
    opts = LiveOptions(follow=str(follow), duration_s=9.0, tick_s=0.5)
    kernel = KernelProbes(str(tmp_path / "probe.jsonl"), command=FAKE + [str(rec)])
    ticks = []
    try:
        result = run_live(opts, open_source(opts), StopFlag(), on_tick=ticks.append, kernel=kernel)
    finally:
        kernel.close()
    k = result.kernel
    assert k["source"] == "probe" and k["probe_exit"] == 0 and k["bad_lines"] == 0
    assert k["recording"] == str(tmp_path / "probe.jsonl") and Path(k["recording"]).exists()
    # while it ran: kernel values beside the wire's, with verdicts, before the end
    during = [t for t in ticks if not t.final and t.kernel]
    assert during, "no tick showed the kernel's view"
    (j,) = during[-1].kernel
    assert j.source == "probe" and j.verdict == "agree" and j.kernel.srtt_ns and j.kernel.cwnd
    assert j.assoc == result.run.report["associations"][0]["id"] and j.side == "A"
    # at the end: the batch correlation of the same capture and recording, check for check
    batch = correlate([load_capture(str(cap))], [load_kernel(str(rec))], same_host={(0, 0)})
    got = {(c["check"], c["assoc"], c["direction"]): c["verdict"] for c in k["correlation"]["checks"]
           if c["assoc"] is not None}
    want = {(c.name, c.assoc, c.direction): c.verdict for c in batch.checks if c.assoc is not None}
    assert got == want and "agree" in got.values()
    assert k["correlation"]["verdict"] == batch.verdict
    (fj,) = k["associations"]
    assert fj["verdict"] == "agree" and fj["kernel"]["srtt_ns"] and fj["wire"]["rtt_samples"] > 0


def test_live_probes_names_a_probe_that_cannot_start(tmp_path):
    """On this kernel the real probe cannot attach: one line saying why, exit 2, no traceback."""
    if Path("/proc/net/sctp").exists():
        pytest.skip("this kernel has SCTP: the probe may well start")
    p = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "live", "--follow", str(tmp_path / "x.pcapng"),
                        "--probes", "--duration", "1"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr
    err = [x for x in p.stderr.splitlines() if x.startswith("sctpcorr: error:")]
    assert len(err) == 1 and "--probes: sctpcorr probe exited" in err[0] and "Traceback" not in p.stderr


def test_live_probes_refuses_a_named_network_namespace(tmp_path):
    if shutil.which("ip") is None:
        pytest.skip("no iproute2")
    ns = "sctpcorr-probes-t"
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
        pytest.skip("cannot create a network namespace here")
    try:
        p = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "sctpcorr.cli", "live", "--follow",
                            str(tmp_path / "x.pcapng"), "--probes"], capture_output=True, text=True, timeout=120,
                           cwd=ROOT)
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    assert p.returncode == 2 and "run live from the host's network namespace" in p.stderr, p.stderr


class _ReadSpy:
    """A file whose reads are noted: (bytes asked for, bytes the file had left)."""

    def __init__(self, f):
        self.f, self.asked = f, []

    def read(self, n=-1):
        self.asked.append((n, os.fstat(self.f.fileno()).st_size - self.f.tell()))
        return self.f.read(n)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_jsonl_tail_hands_out_whole_lines_only(tmp_path, monkeypatch):
    """Whole lines, in order; a bad one counted.  And each read asks for what the file has left, at most the
    limit: ``read(n)`` allocates n bytes and shrinks them to what came, and asked for 8 MB at every poll of a
    small recording, glibc's heap fragmented and grew a little at each (the recording fuzz target's growth; a
    long ``live`` run polls for days)."""
    import sctpcorr.live as live

    spies: list[_ReadSpy] = []
    monkeypatch.setattr(live, "open", lambda *a, **k: spies.append(_ReadSpy(open(*a, **k))) or spies[-1],
                        raising=False)
    f = tmp_path / "r.jsonl"
    f.write_bytes(b'{"a": 1}\n{"b": ')
    t = JsonlTail(str(f))
    assert t.read() == [{"a": 1}]
    with open(f, "ab") as w:
        w.write(b'2}\nnot json\n\n{"c": 3}\n')
    assert t.read(limit=4) == [{"b": 2}]
    assert t.read() == [{"c": 3}] and t.bad_lines == 1
    assert t.read() == []
    assert JsonlTail(str(tmp_path / "absent")).read() == []
    asked = spies[0].asked
    assert len(spies) == 1 and [n for n, _left in asked][:2] == [15, 4], asked
    assert all(0 <= n <= left for n, left in asked), asked


def test_follow_source_asks_for_what_was_appended(tmp_path):
    """``live --follow`` polls a growing capture for days: each poll asks for what was appended since the last,
    not its 4 MB block (read_size), and hands those bytes over in order."""
    from sctpcorr.sources.live import FollowSource

    f = tmp_path / "grow.pcap"
    f.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    src = FollowSource(str(f))
    src._f = spy = _ReadSpy(src._f)
    got = [src.poll(0.0)]
    with open(f, "ab") as w:
        w.write(b"x" * 100)
    got += [src.poll(0.0), src.poll(0.0)]
    src.close()
    assert got == [b"\xd4\xc3\xb2\xa1" + bytes(20), b"x" * 100, b""]
    assert [n for n, _left in spy.asked] == [24, 100]
