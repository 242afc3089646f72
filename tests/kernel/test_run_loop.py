"""The `sctpcorr probe` session without a kernel: the BCC loader and the netlink socket are replaced by fakes
that replay real recorded bytes (fixtures/probe61, fixtures/diag61), so the recording's shape, the closing
counters, the missing-probe reporting, --with-diag and the error paths are checked without root or BCC."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sctpcorr.kernel import abi, cli, diag, loader, probes, recorder, run

FIX = Path(__file__).parent / "fixtures"


def _raw_records() -> list[bytes]:
    data = (FIX / "probe61" / "events.raw").read_bytes()
    out, off = [], 0
    while off < len(data):
        n = int.from_bytes(data[off:off + 4], "little")
        out.append(data[off + 4:off + 4 + n])
        off += 4 + n
    return out


class FakeReader:
    """Stands in for _ringbuf.Reader: the fixture's records (and a torn one) on the first drain."""

    def __init__(self):
        self.sent = False
        self.records = 0

    def wait(self, timeout_ms):
        return not self.sent

    def drain(self):
        if self.sent:
            return b""
        self.sent = True
        data = (FIX / "probe61" / "events.raw").read_bytes()
        self.records = len(_raw_records()) + 1
        return data + (2).to_bytes(4, "little") + b"\x07\x00"    # a torn record: counted as a decode error

    def close(self):
        pass


class FakeLoader:
    """Stands in for loader.Loader: its reader replays the fixture records; one probe fails to attach."""

    def __init__(self, probes_, excluded, filters, ringbuf_pages=256, extra_cflags=None, trampolines=True):
        self.probes, self.filters = probes_, filters
        self.trampolines = trampolines
        self.cflags = loader.cflags_for(excluded, filters, ringbuf_pages, extra_cflags)
        self.status: dict[str, loader.ProbeStatus] = {}
        self.sent = False
        self.closed = False

    def compile(self):
        pass

    def attach(self):
        for p in self.probes:
            ok = p.name != "egress"
            self.status[p.name] = loader.ProbeStatus(p.name, ok, "" if ok else "kprobe: cannot attach (test)",
                                                     p.metrics, [f"{a.kind}:{a.target}" for a in p.attachments])
        return self.status

    def reader(self):
        return FakeReader()

    def counters(self):
        c = dict.fromkeys(abi.COUNTERS, 0)
        for r in _raw_records():
            c[f"emitted.{abi.EVENT_TYPES[abi.event_type_of(r)][0]}"] += 1
        c["lost.egress"] = 3
        return c

    def prog_stats(self):
        return {"kp_packet_transmit": {"run_cnt": 10, "run_time_ns": 1000, "recursion_misses": 2}}

    def inflight_entries(self):
        return 0

    def close(self):
        self.closed = True


class FakeDiag:
    def __init__(self, netns=None, hz=None):
        self.netns_name, self.netns, self.hz = netns, 4026531840, hz

    def associations(self):
        recs, _d, _e = diag.records((FIX / "diag61" / "diag-inet.raw").read_bytes(), self.hz)
        out = []
        for r in recs:
            if r["kind"] == "assoc":
                r.update(ts_ns=1, ts_end_ns=2, netns=self.netns)
                out.append(diag.flatten(r))
        return out

    def close(self):
        pass


@pytest.fixture()
def fake_kernel(monkeypatch):
    monkeypatch.setattr(probes, "check_environment", lambda source="bpf", release=None: [])
    monkeypatch.setattr(probes, "kernel_hz", lambda release=None: (250, "CONFIG_HZ in /boot/config-test"))
    monkeypatch.setattr(run, "plan", lambda cfg, env=None: (
        [p for p in probes.PROBES if p.name != "t3_expire"],
        [{"probe": "t3_expire", "metrics": "T3-rtx timer expiries", "reason": "symbol not found (test)"}]))
    monkeypatch.setattr(loader, "Loader", FakeLoader)
    monkeypatch.setattr(diag, "DiagClient", FakeDiag)


def _session(cfg: run.Config) -> tuple[recorder.Recording, list[str], list[str]]:
    buf = io.StringIO()
    cfg.jsonl = buf
    out, err = [], []
    assert run.run(cfg, out.append, err.append) == 0
    lines = buf.getvalue().splitlines()
    recs = [json.loads(x) for x in lines]
    return recorder.Recording(recs[0], recs[1:-1], recs[-1], 0), out, err


def test_bpf_session_records_startup_events_diag_and_end(fake_kernel):
    rec, out, err = _session(run.Config(duration_s=0.3, interval_s=0.1, with_diag=True, quiet=True))
    s = rec.startup
    assert s["type"] == "startup" and s["source"] == "bpf" and s["hz"] == 250 and s["abi"] == abi.ABI_VERSION
    missing = {m["probe"]: m for m in s["missing"]}
    assert set(missing) == {"t3_expire", "egress"}
    assert missing["egress"]["reason"].startswith("attach failed")
    assert "receive window" in missing["egress"]["metrics"]
    # rwnd events are derived from egress samples only: without egress the recording cannot hold them
    assert s["capabilities"]["t3_expire"] is False and s["capabilities"]["egress"] is False
    assert s["capabilities"]["rwnd"] is False and s["capabilities"]["assoc_state"] is True
    assert s["capabilities"]["rto_update"] is True and s["capabilities"]["diag"] is True
    assert any("probe egress not running" in w for w in err) and any("3 events lost" in w for w in err)
    n_raw = len(_raw_records())
    bpf_events = [e for e in rec.events if e["type"] not in ("diag", "clock") and not e.get("derived")]
    assert len(bpf_events) == n_raw
    assert len(rec.of("diag")) >= 2 and all(d["state"] == "ESTABLISHED" for d in rec.of("diag"))
    e = rec.end
    assert e["type"] == "end" and e["reason"] == "duration" and e["decode_errors"] == 1
    assert e["lost"] == {"egress": 3} and e["lost_total"] == 3
    # runs the kernel skipped (another probe was running on that CPU): counted and said, never silent
    assert e["recursion_misses"] == {"kp_packet_transmit": 2} and e["recursion_misses_total"] == 2
    assert any("skipped 2 probe runs" in w for w in err)
    assert sum(e["bpf_emitted"].values()) == n_raw
    assert sum(v for k, v in e["events"].items() if k != "diag") == n_raw


def test_filters_reach_the_cflags_and_diag_filtering(fake_kernel):
    rec, _out, _err = _session(run.Config(duration_s=0.2, interval_s=0.05, with_diag=True, quiet=True,
                                          port=36412, vtag=0xF135EF28))
    assert "-DSCTPCORR_FILTER_PORT=36412" in rec.startup["cflags"]
    ds = rec.of("diag")
    assert ds and all(d["my_vtag"] == 0xF135EF28 or d["peer_vtag"] == 0xF135EF28 for d in ds)
    assert len({(d["lport"], d["pport"]) for d in ds}) == 2


def test_diag_source_needs_no_bpf(fake_kernel, monkeypatch):
    monkeypatch.setattr(loader, "Loader", None)   # any use of the loader would fail
    rec, out, _err = _session(run.Config(source="diag", duration_s=0.25, interval_s=0.05, summary_s=1.0))
    assert rec.startup["source"] == "diag" and rec.startup["capabilities"] == {"diag": True}
    assert len(rec.startup["missing"]) == len(probes.PROBES)
    assert rec.end["polls"] >= 2 and rec.end["poll_errors"] == 0
    assert any(line.startswith("LPORT") for line in out)   # the summary view printed


def test_live_view_lines_stay_under_100_columns(fake_kernel):
    rec, out, _err = _session(run.Config(duration_s=0.2, show=("all",)))
    lines = [x for x in out if x and x[0] == " "]
    assert len(lines) > 100 and all(len(x) < 100 for x in lines)
    # the lossy slice's retransmitted chunks get their own lines, with the reason
    rtx = [x for x in lines if " rtx " in x]
    assert rtx and all(("[fast]" in x or "[t3]" in x) and "TSN" in x for x in rtx)


def test_cli_errors_are_one_line_with_exit_code_3(monkeypatch):
    monkeypatch.setattr(probes, "check_environment", lambda source="bpf", release=None: [
        probes.Problem("root", "sctpcorr probe needs root (BPF programs and kernel probes): run it with sudo"),
        probes.Problem("bcc", "BCC's Python module is missing: apt-get install python3-bpfcc")])
    r = CliRunner().invoke(cli.probe, ["--duration", "1"])
    assert r.exit_code == 3
    assert r.output.strip().splitlines() == [
        "sctpcorr: error: sctpcorr probe needs root (BPF programs and kernel probes): run it with sudo "
        "(and 1 more problem(s): bcc)"]


def test_cli_rejects_bad_filters():
    r = CliRunner().invoke(cli.probe, ["--assoc", "0x1ffffffff"])
    assert r.exit_code == 2 and "32-bit" in r.output
    r = CliRunner().invoke(cli.probe, ["--addr", "300.1.1.1"])
    assert r.exit_code == 2 and "not an IPv4 or IPv6 address" in r.output


def test_dump_bpf_prints_source_and_flags(monkeypatch):
    monkeypatch.setattr(run, "plan", lambda cfg, env=None: (list(probes.PROBES), []))
    r = CliRunner().invoke(cli.probe, ["--dump-bpf", "--port", "5000"])
    assert r.exit_code == 0
    assert r.output.startswith("// cflags: ") and "-DSCTPCORR_FILTER_PORT=5000" in r.output.splitlines()[0]
    assert "int kp_packet_transmit(struct pt_regs *ctx)" in r.output


def test_replay_shows_a_recording_without_root_or_bcc(fake_kernel, tmp_path):
    path = tmp_path / "k.jsonl"
    with open(path, "w") as f:
        assert run.run(run.Config(jsonl=f, quiet=True, duration_s=0.3), lambda s: None, lambda s: None) == 0
    rec = recorder.load(path)
    res = CliRunner().invoke(cli.probe, ["--replay", str(path), "--show", "all"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("Recording on ") and "missing: t3_expire" in lines[0]
    body = [x for x in lines[2:-1]]
    n_bpf = sum(1 for e in rec.events if e["type"] not in ("clock", "toggle", "diag"))
    assert len(body) >= n_bpf                              # every event (plus one line per retransmitted chunk)
    assert lines[-1].startswith(f"{sum(rec.end['events'].values())} events in ")
    port = next(e["lport"] for e in rec.events if e["type"] == "rto_update")
    res = CliRunner().invoke(cli.probe, ["--replay", str(path), "--port", str(port), "--summary", "1"])
    assert res.exit_code == 0 and "LPORT PPORT STATE" in res.output
    rows = [row for row in res.output.splitlines() if row[:5].strip().isdigit()]
    assert rows and all(str(port) in row for row in rows)   # only associations with that port
    # one row per association end in the last block, whatever the peer's tag was before the handshake ended
    last = res.output.split("LPORT PPORT STATE")[-1].strip().splitlines()[1:-1]
    ends = {(e.get("netns"), e["lport"], e["pport"], e["my_vtag"]) for e in rec.events
            if "my_vtag" in e and port in (e["lport"], e["pport"])}
    assert len([x for x in last if x.strip()]) == len(ends)


def test_replay_of_something_else_is_one_line_and_exit_2(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text('{"type": "rto_update"}\n')
    res = CliRunner().invoke(cli.probe, ["--replay", str(p)])
    assert res.exit_code == 2 and res.output.count("\n") == 1 and "not a recording of sctpcorr probe" in res.output
    res = CliRunner().invoke(cli.probe, ["--replay", str(tmp_path / "missing.jsonl")])
    assert res.exit_code == 2 and res.output.count("\n") == 1


def test_kprobe_profile_counts_survive_a_detach():
    """A detach removes a kprobe and its kprobe_profile counts; the next attach starts at zero.  The end record
    must report the misses of every attach period (the bench's toggles detach and attach again)."""
    acc: dict = {}
    run._add_profile(acc, {"p_sctp_packet_transmit_bcc_7": {"hits": 100, "misses": 3}})      # before a detach
    total = run._add_profile(acc, {"p_sctp_packet_transmit_bcc_7": {"hits": 40, "misses": 1},  # at the end
                                   "r_sctp_transport_update_rto_bcc_7": {"hits": 5, "misses": 0}})
    assert total["p_sctp_packet_transmit_bcc_7"] == {"hits": 140, "misses": 4}
    assert total["r_sctp_transport_update_rto_bcc_7"] == {"hits": 5, "misses": 0}


def test_sighup_ends_the_file_and_goes_on_in_the_next(fake_kernel, tmp_path):
    """SIGHUP: the current file gets its end record (counters of its own period) and the recording goes on in
    the file named by READY.next (or the same path again, as logrotate expects); the new file opens with a
    startup record of its own.  The lab uses it for one probe per boot and one recording per bundle."""
    import os
    import signal
    import threading
    import time as _time

    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ready = tmp_path / "ready"

    def rotate_once() -> None:
        while not ready.exists():
            _time.sleep(0.01)
        _time.sleep(0.1)
        Path(str(ready) + ".next").write_text(str(second))
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = _time.monotonic() + 5
        while "rotated 1" not in ready.read_text() and _time.monotonic() < deadline:
            _time.sleep(0.01)

    th = threading.Thread(target=rotate_once)
    th.start()
    f = open(first, "w")
    cfg = run.Config(jsonl=f, jsonl_path=str(first), quiet=True, duration_s=0.8, ready_file=str(ready))
    try:
        assert run.run(cfg, lambda s: None, lambda s: None) == 0
    finally:
        th.join()
        cfg.jsonl.close()
    a, b = recorder.load(first), recorder.load(second)
    assert a.startup and a.end and a.end["reason"] == "SIGHUP"
    assert b.startup and b.end and b.end["reason"] == "duration" and b.startup["part"] == 1
    assert b.startup["missing"] == a.startup["missing"] and b.startup["ts_ns"] > a.end["ts_ns"] - 1
    # the fixture's events were all drained before the signal: they and their losses belong to the first file
    n_raw = len(_raw_records())
    assert sum(v for k, v in a.end["events"].items()) == n_raw and a.end["lost"] == {"egress": 3}
    assert b.end["lost"] == {} and b.end["lost_total"] == 0 and sum(b.end["events"].values()) == 0
    assert b.end["recursion_misses_total"] == 0 and a.end["recursion_misses_total"] == 2
    assert not Path(str(ready) + ".next").exists() and "rotated 1" in ready.read_text()
