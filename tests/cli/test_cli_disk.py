"""Files and disks (issue #12): no output replaces an existing file unless --force; a full disk is one error line
and leaves what was written readable up to its last complete record.

The full disks are real: a 256 KiB tmpfs mounted for the test (``small_disk``, tests/conftest.py; root only) and
/dev/full for standard output."""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import stat
import struct
import shutil
from pathlib import Path

import pytest
from cli_helpers import ROOT, run_cli

NGAP = ROOT / "pcaps" / "synthetic" / "ngap-lossy-multihomed.pcapng.gz"     # --jsonl: 463 kB, text 4.5 kB
DIAMETER = ROOT / "pcaps" / "synthetic" / "diameter-failover.pcap"
BULK = ROOT / "pcaps" / "lab" / "bulk"                                      # correlate --csv: 277 rows, 42 kB


def _one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("sctpcorr: error: "), stderr
    return lines[0]


# --- no overwrite unless asked --------------------------------------------------------------------------------
def test_existing_output_is_refused_before_the_work_and_kept(tmp_path):
    out = tmp_path / "r.json"
    out.write_text("an earlier report\n")
    r = run_cli("pcap", "--json", "-o", out, DIAMETER)
    assert r.returncode == 2
    assert _one_error_line(r.stderr) == f"sctpcorr: error: {out} exists (use --force to overwrite)"
    assert out.read_text() == "an earlier report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]          # no temporary file left
    r = run_cli("pcap", "--json", "--force", "-o", out, DIAMETER)
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text())["capture"]["associations"] >= 1


def test_special_files_are_written_in_place_never_replaced(tmp_path):
    """-o /dev/null must keep working (benchmarks) and must never replace the device: a character device made
    here stands for it (the same code path: not a regular file), and /dev/full is one."""
    nul = tmp_path / "nul"
    try:
        os.mknod(nul, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except OSError as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    r = run_cli("pcap", "--json", "-o", nul, DIAMETER)
    assert r.returncode == 0 and r.stderr == ""
    assert stat.S_ISCHR(nul.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nul"]
    r = run_cli("pcap", "--jsonl", "-o", "/dev/full", NGAP)
    assert r.returncode == 2
    assert _one_error_line(r.stderr) == ("sctpcorr: error: /dev/full: no space left on device: the output is "
                                         "incomplete")
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_correlate_refuses_an_existing_output_and_earlier_plots_before_correlating(tmp_path):
    out = tmp_path / "c.json"
    out.write_text("{}\n")
    r = run_cli("correlate", "--json", "-o", out, BULK)
    assert r.returncode == 2 and "c.json exists (use --force" in _one_error_line(r.stderr)
    plots = tmp_path / "plots"
    plots.mkdir()
    (plots / "notes.txt").write_text("mine\n")
    (plots / "assoc1-rtt.png").write_bytes(b"an earlier plot")
    r = run_cli("correlate", "--plot", plots, BULK)
    assert r.returncode == 2
    assert "holds the plots of an earlier run (assoc1-rtt.png)" in _one_error_line(r.stderr)
    assert (plots / "assoc1-rtt.png").read_bytes() == b"an earlier plot"


def test_compare_refuses_an_existing_plot(tmp_path):
    png = tmp_path / "cmp.png"
    png.write_bytes(b"older")
    r = run_cli("compare", NGAP, DIAMETER, "--plot", png)
    assert r.returncode == 2 and "cmp.png exists (use --force" in _one_error_line(r.stderr)
    assert png.read_bytes() == b"older"


def test_live_refuses_existing_outputs_before_opening_the_interface(tmp_path):
    """Refused before anything else: the interface does not exist, and the error is about the file."""
    cap = tmp_path / "n2.pcapng"
    cap.write_bytes(b"an earlier capture")
    r = run_cli("live", "-i", "nosuchif0", "-w", cap, "-q")
    assert r.returncode == 2 and "n2.pcapng exists (use --force" in _one_error_line(r.stderr)
    cap.unlink()
    (tmp_path / "n2.pcapng3").write_bytes(b"a rotated file of an earlier run")
    r = run_cli("live", "-i", "nosuchif0", "-w", cap, "-C", "1", "-q")
    assert r.returncode == 2 and "n2.pcapng3 exists (a rotated file of an earlier run" in r.stderr
    js = tmp_path / "n2.json"
    js.write_text("{}")
    r = run_cli("live", "-i", "nosuchif0", "--json", js, "-q")
    assert r.returncode == 2 and "n2.json exists" in _one_error_line(r.stderr)
    r = run_cli("live", "-i", "nosuchif0", "--json", js, "-q", "--force")      # now the interface is the error
    assert r.returncode == 2 and "nosuchif0" in r.stderr and "use --force" not in r.stderr


def test_lab_run_refuses_a_directory_holding_an_earlier_bundle(tmp_path):
    """Refused before the lab's prerequisites are even looked at (nothing is booted)."""
    from sctpcorr.lab import bundle

    out = tmp_path / "run"
    out.mkdir()
    (out / "manifest.json").write_text("{}\n")
    (out / "lab.jsonl").write_text("{}\n")
    (out / "mine.txt").write_text("not the lab's\n")
    r = run_cli("lab", "run", "baseline", "--out", out)
    assert r.returncode == 2
    assert "holds an earlier run (manifest.json, lab.jsonl)" in _one_error_line(r.stderr)
    assert bundle.clear(out) == ["manifest.json", "lab.jsonl"]                 # what --force removes first
    assert sorted(p.name for p in out.iterdir()) == ["mine.txt"]


# --- full disks -------------------------------------------------------------------------------------------------
def test_jsonl_on_a_full_disk_keeps_every_complete_line(small_disk):
    out = small_disk.path / "n2.jsonl"
    r = run_cli("pcap", "--jsonl", "-o", out, NGAP)
    assert r.returncode == 2
    line = _one_error_line(r.stderr)
    assert line.startswith(f"sctpcorr: error: {out}: no space left on device: the output is incomplete: kept up "
                           "to its last complete line (")
    assert small_disk.files() == ["n2.jsonl"]                                  # renamed into place, no temp file
    data = out.read_bytes()
    assert len(data) > 200_000 and data.endswith(b"\n")
    assert f"({len(data)} bytes)" in line
    recs = [json.loads(x) for x in data.splitlines()]
    assert recs[0]["type"] == "startup" and all(r["type"] != "summary" for r in recs)
    full = run_cli("pcap", "--jsonl", NGAP).stdout.splitlines()
    assert [json.loads(x) for x in full[1:len(recs)]] == recs[1:]              # the first lines of the whole output


def test_json_document_on_a_full_disk_is_all_or_nothing(small_disk):
    out = small_disk.path / "n2.json"
    out.write_text("the older report\n")
    small_disk.leave_free(4096)                         # the document is 12.5 kB
    r = run_cli("pcap", "--json", "--force", "-o", out, NGAP)
    assert r.returncode == 2
    assert _one_error_line(r.stderr) == (f"sctpcorr: error: {out}: no space left on device: nothing written (a JSON "
                                         "document is written whole or not at all; the older file is unchanged)")
    assert out.read_text() == "the older report\n"
    assert small_disk.files() == ["n2.json"]


def test_text_report_on_a_full_disk_is_cut_after_a_whole_line(small_disk):
    out = small_disk.path / "n2.txt"
    small_disk.leave_free(4096)                         # the report is 4.5 kB
    r = run_cli("pcap", "-o", out, NGAP)
    assert r.returncode == 2
    assert "no space left on device: the output is incomplete" in _one_error_line(r.stderr)
    kept = out.read_text()
    whole = run_cli("pcap", NGAP).stdout
    assert 0 < len(kept) <= 4096 < len(whole) and kept.endswith("\n")
    assert whole.startswith(kept)


def test_correlate_csv_on_a_full_disk_keeps_whole_rows(small_disk):
    out = small_disk.path / "rtt.csv"
    small_disk.leave_free(16384)
    r = run_cli("correlate", "--csv", "-o", out, BULK)
    assert r.returncode == 2
    assert f"{out}: no space left on device: the output is incomplete" in _one_error_line(r.stderr)
    rows = list(csv.reader(io.StringIO(out.read_text())))
    whole = list(csv.reader(io.StringIO(run_cli("correlate", "--csv", BULK).stdout)))
    assert 1 < len(rows) < len(whole)
    assert all(len(row) == len(rows[0]) for row in rows)
    assert rows == whole[:len(rows)]


@pytest.mark.parametrize("args", [["pcap", "--jsonl", NGAP], ["pcap", NGAP], ["pcap", "--json", NGAP],
                                  ["correlate", "--jsonl", BULK], ["validate", BULK]])
def test_standard_output_on_a_full_disk_is_one_line(args):
    with open("/dev/full", "w") as full:
        import subprocess
        import sys

        env = dict(os.environ, PYTHONPATH=str(ROOT))
        p = subprocess.run([sys.executable, "-m", "sctpcorr.cli", *map(str, args)], stdout=full,
                           stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env, timeout=120)
    assert p.returncode == 2
    assert _one_error_line(p.stderr) == ("sctpcorr: error: standard output: no space left on device: the output is "
                                         "incomplete")


# --- live -w: the capture itself -----------------------------------------------------------------------------
def _pcapng_blocks(data: bytes) -> list[bytes]:
    assert data[8:12] == b"\x4d\x3c\x2b\x1a"                     # little-endian section
    out, off = [], 0
    while off < len(data):
        (n,) = struct.unpack_from("<I", data, off + 4)
        out.append(data[off:off + n])
        off += n
    return out


def test_live_w_on_a_full_disk_is_cut_to_its_last_whole_block(small_disk):
    """RotatingWriter (the -w file) fed the blocks of a real capture, 25 packets a batch, until the disk is full:
    the file is cut back to its last whole batch, the error says so, and the capture reads to its end."""
    from sctpcorr.live import RotatingWriter

    blocks = _pcapng_blocks(gzip.decompress(NGAP.read_bytes()))
    first_epb = next(i for i, b in enumerate(blocks) if struct.unpack_from("<I", b)[0] == 6)
    header, packets = b"".join(blocks[:first_epb]), blocks[first_epb:]
    small_disk.leave_free(64 << 10)
    path = small_disk.path / "n2.pcapng"
    w = RotatingWriter(str(path), header)
    sent = 0
    while w.error is None and sent < len(packets):
        w.write(b"".join(packets[sent:sent + 25]))
        sent += 25
    w.close()
    assert w.error is not None, "the disk never filled"
    assert w.error.startswith(f"{path}: no space left on device after {path.stat().st_size} bytes: -w stopped "
                              "there (the file is whole up to its last packet)")
    written = sent - 25
    assert path.stat().st_size == len(header) + sum(len(b) for b in packets[:written])
    r = run_cli("pcap", "--json", path)
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["files"][0]
    assert f["complete"] is True and f["packets"] == written
    if shutil.which("tshark"):
        import subprocess

        t = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"], capture_output=True,
                           text=True, timeout=120)
        assert t.returncode == 0 and len(t.stdout.split()) == written, t.stderr


def test_live_w_refuses_an_existing_file_and_force_replaces_it(tmp_path):
    from sctpcorr.errors import OutputUnwritable
    from sctpcorr.live import RotatingWriter

    path = tmp_path / "n2.pcapng"
    path.write_bytes(b"older")
    with pytest.raises(OutputUnwritable, match="exists"):
        RotatingWriter(str(path), b"HEADER")
    assert path.read_bytes() == b"older"
    w = RotatingWriter(str(path), b"HEADER", force=True)
    w.close()
    assert path.read_bytes() == b"HEADER"
