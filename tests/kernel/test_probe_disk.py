"""`sctpcorr probe --jsonl/--raw` on a full disk and over an existing file (issue #12), with the fake kernel of
test_run_loop (real recorded ring-buffer records) and a real full disk (a 256 KiB tmpfs, tests/conftest.py)."""
from __future__ import annotations

import json

from click.testing import CliRunner
from test_run_loop import FakeLoader, FakeReader, _raw_records, fake_kernel  # noqa: F401 - the fixture

from sctpcorr.kernel import cli, loader


class SlicedReader(FakeReader):
    """The fixture's records, 40 a drain (the real ring hands them over as they come): a --raw file cut by a
    full disk then ends between drains, not at 0."""

    def __init__(self):
        super().__init__()
        self.left = _raw_records()
        self.records = len(self.left)

    def wait(self, timeout_ms):
        return bool(self.left)

    def drain(self):
        part, self.left = self.left[:40], self.left[40:]
        return b"".join(len(r).to_bytes(4, "little") + r for r in part)


class SlicedLoader(FakeLoader):
    def reader(self):
        return SlicedReader()


def _lines(path):
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(x) for x in data.splitlines()]


def test_probe_refuses_an_existing_recording_unless_forced(fake_kernel, tmp_path):
    k = tmp_path / "k.jsonl"
    k.write_text("an earlier recording\n")
    r = CliRunner().invoke(cli.probe, ["--jsonl", str(k), "--duration", "0.2", "-q"])
    assert r.exit_code == 2
    assert r.output.splitlines() == [f"sctpcorr: error: {k} exists (use --force to overwrite)"]
    assert k.read_text() == "an earlier recording\n"
    r = CliRunner().invoke(cli.probe, ["--jsonl", str(k), "--duration", "0.2", "-q", "--force"])
    assert r.exit_code == 0, r.output
    recs = _lines(k)
    assert recs[0]["type"] == "startup" and recs[-1]["type"] == "end"


def test_probe_jsonl_on_a_full_disk_stops_cleanly_with_whole_lines(fake_kernel, small_disk):
    k = small_disk.path / "k.jsonl"
    small_disk.leave_free(32 << 10)
    r = CliRunner().invoke(cli.probe, ["--jsonl", str(k), "--duration", "1", "-q"])
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    (line,) = [x for x in r.output.splitlines() if x.startswith("sctpcorr: error: ")]
    assert line.startswith(f"sctpcorr: error: {k}: no space left on device: the recording stopped there; the file "
                           "holds the events drained until then, up to its last complete record; ")
    recs = _lines(k)
    assert recs[0]["type"] == "startup" and len(recs) > 20
    assert all(r["type"] != "end" for r in recs)          # no end record: readers see a recording cut short
    assert 16 << 10 < k.stat().st_size <= 32 << 10


def test_probe_raw_on_a_full_disk_ends_after_its_last_whole_record(fake_kernel, small_disk, monkeypatch):
    monkeypatch.setattr(loader, "Loader", SlicedLoader)
    raw = small_disk.path / "k.raw"
    small_disk.leave_free(64 << 10)                       # the records are 249 kB
    r = CliRunner().invoke(cli.probe, ["--raw", str(raw), "--duration", "2", "-q"])
    assert r.exit_code == 1, r.output
    assert f"sctpcorr: error: {raw}: no space left on device: the recording stopped there" in r.output
    data = raw.read_bytes()
    recs, off = [], 0
    while off < len(data):                                # every record whole, the file ends at a record's end
        n = int.from_bytes(data[off:off + 4], "little")
        assert off + 4 + n <= len(data)
        recs.append(data[off + 4:off + 4 + n])
        off += 4 + n
    assert 0 < len(recs) < len(_raw_records()) and len(recs) % 40 == 0
    assert recs == _raw_records()[:len(recs)]
