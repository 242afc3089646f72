"""Damaged and mismatched inputs: each fails the check it should, with the sentence that says why; bad files get
one line and exit 2.  Inputs are copies of committed lab bundles, damaged with editcap (Wireshark's) and by
editing the recording's JSONL, then run through the command line as a user would."""
from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundles import bundle, correlation, one
from sctpcorr.cli import main

pytestmark = pytest.mark.skipif(shutil.which("editcap") is None, reason="needs editcap (apt-get install tshark)")


def _copy(name: str, tmp: Path) -> Path:
    dst = tmp / name
    shutil.copytree(bundle(name), dst)
    return dst


def _capture(b: Path, role: str) -> Path:
    p = b / f"{role}.pcapng"
    return p if p.exists() else b / f"{role}.pcapng.gz"


def _replace_capture(b: Path, role: str, options: list[str], frames: list[int] = ()) -> None:
    """editcap OPTIONS over the role's capture (deleting FRAMES), written back as the plain pcapng the manifest
    names."""
    src = _capture(b, role)
    out = b / f".{role}.tmp.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", *options, str(src), str(out), *map(str, frames)], check=True,
                   capture_output=True)
    src.unlink()
    out.rename(b / f"{role}.pcapng")


def _recording(b: Path) -> list[dict]:
    p = b / "kernel" / "probe.jsonl"
    data = p.read_bytes() if p.exists() else gzip.decompress((b / "kernel" / "probe.jsonl.gz").read_bytes())
    return [json.loads(x) for x in data.splitlines() if x.strip()]


def _write_recording(b: Path, recs: list[dict], cut: int | None = None) -> None:
    for p in (b / "kernel" / "probe.jsonl", b / "kernel" / "probe.jsonl.gz"):
        p.unlink(missing_ok=True)
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs)
    (b / "kernel" / "probe.jsonl").write_text(text[:cut] if cut is not None else text)


def _run(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


def _client_data_egress(recs: list[dict], client_port: int) -> list[int]:
    """Indexes of egress events of the client that carry a first-transmission DATA chunk."""
    return [i for i, r in enumerate(recs) if r.get("type") == "egress" and r.get("lport") == client_port
            and any(c["type"] == "DATA" and c.get("sent_count") == 1 for c in r["chunks"])]


def _client_port(name: str) -> int:
    cx = correlation(name)
    return cx.assocs[0].sides[0].ident[0]


def test_validate_passes_on_the_intact_bundle():
    code, out = _run("validate", str(bundle("baseline")))
    assert code == 0, out
    assert out.rstrip().endswith("-> PASS")


def test_a_shifted_capture_clock_fails_the_clock_check_and_nothing_else(tmp_path):
    b = _copy("baseline", tmp_path)
    _replace_capture(b, "client", ["-t", "2.5"])
    code, out = _run("validate", "--json", str(b))
    assert code == 1
    doc = json.loads(out)
    clocks = [c for c in doc["checks"] if c["check"] == "clock"]
    bad = [c for c in clocks if c["verdict"] == "disagree"]
    assert len(bad) == 1 and "client.pcapng" in bad[0]["sentence"]
    assert "the capture's clock is 2500.0" in bad[0]["sentence"]
    assert "ms ahead of the offset recorded with the data" in bad[0]["sentence"]
    assert abs(bad[0]["numbers"]["shift_ns"] - 2_500_000_000) < 1_000_000
    # the offset estimated from matched events takes over: every other check reaches its usual verdict
    assert {c["check"] for c in doc["checks"] if c["verdict"] == "disagree"} == {"clock"}


def test_kernel_events_removed_fail_tsn_coverage(tmp_path):
    b = _copy("baseline", tmp_path)
    recs = _recording(b)
    idx = _client_data_egress(recs, _client_port("baseline"))[10:15]
    tsns = {c["tsn"] for i in idx for c in recs[i]["chunks"] if c["type"] == "DATA"}
    _write_recording(b, [r for i, r in enumerate(recs) if i not in set(idx)])
    code, out = _run("validate", "--json", str(b))
    assert code == 1
    c = next(c for c in json.loads(out)["checks"] if c["check"] == "tsn_coverage" and c["direction"] == "A>B")
    assert c["verdict"] == "disagree" and c["numbers"]["wire_not_in_kernel"] == len(tsns)
    assert f"{len(tsns)} DATA chunks in" in c["sentence"] and "have no egress event in the recording" in c["sentence"]
    assert str(min(tsns)) in c["sentence"]


def test_packets_removed_from_the_capture_fail_tsn_coverage(tmp_path):
    b = _copy("baseline", tmp_path)
    cx = correlation("baseline")
    d = cx.directions[(1, 0)]
    near = cx.assocs[0].near[0][0]
    w = d.w_tx[near]
    frames = sorted(int(f) for f in w.frame[20:25])
    tsns = sorted(int(t) & 0xFFFFFFFF for t in w.t[20:25])
    _replace_capture(b, "client", [], frames)
    code, out = _run("validate", "--json", str(b))
    assert code == 1
    c = next(c for c in json.loads(out)["checks"] if c["check"] == "tsn_coverage" and c["direction"] == "A>B")
    assert c["verdict"] == "disagree" and c["numbers"]["kernel_not_on_wire"] == len(tsns)
    assert f"{len(tsns)} DATA chunks the kernel sent (TSN {tsns[0]}" in c["sentence"]
    assert "the capture reports no drops: they were lost between the stack and the capture point" in c["sentence"]


def test_a_capture_of_another_association_checks_nothing(tmp_path):
    kern = bundle("baseline") / "kernel"
    rec = next(kern.glob("probe.jsonl*"))
    cap = _capture(bundle("lossy"), "client")
    code, out = _run("validate", "--capture", f"{cap}@client", "--kernel", f"{rec}@client")
    assert code == 1
    assert "no association of the recordings is in the captures" in out
    assert "kernel events from a different run" in out
    assert out.rstrip().endswith("(nothing could be checked)")


def test_probe_events_marked_lost_fail_the_recording_check(tmp_path):
    b = _copy("baseline", tmp_path)
    recs = _recording(b)
    idx = set(_client_data_egress(recs, _client_port("baseline"))[5:45])
    recs = [r for i, r in enumerate(recs) if i not in idx]
    end = recs[-1]
    assert end["type"] == "end"
    end["lost"] = {"egress": len(idx)}
    end["lost_total"] = len(idx)
    _write_recording(b, recs)
    code, out = _run("validate", "--json", str(b))
    assert code == 1
    doc = json.loads(out)
    r = next(c for c in doc["checks"] if c["check"] == "recording")
    assert r["verdict"] == "disagree" and f"{len(idx)} egress events lost (ring buffer full)" in r["sentence"]
    assert "the per-event checks cannot vouch" in r["sentence"]
    t = next(c for c in doc["checks"] if c["check"] == "tsn_coverage" and c["direction"] == "A>B")
    assert t["verdict"] == "explained" and f"{len(idx)} egress events lost" in " ".join(t["weakened_by"])


def test_a_truncated_recording_says_it_was_cut(tmp_path):
    b = _copy("baseline", tmp_path)
    recs = _recording(b)
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in recs)
    _write_recording(b, recs, cut=int(len(text) * 0.6) + 7)
    code, out = _run("validate", "--json", str(b))
    assert code == 1
    r = next(c for c in json.loads(out)["checks"] if c["check"] == "recording")
    assert r["verdict"] == "disagree" and "has no end record: it was cut short" in r["sentence"]
    assert r["numbers"]["bad_lines"] == 1


@pytest.mark.parametrize("args, msg", [
    (["--capture", "/nonexistent.pcap", "--kernel", "/nonexistent.jsonl"], "No such file or directory"),
    (["--kernel", "README.md"], "not a recording of sctpcorr probe"),
    (["--capture", "README.md"], "not a pcap or pcapng capture"),
    (["pcaps/synthetic"], "not a lab bundle"),
])
def test_bad_input_is_one_line_and_exit_2(args, msg):
    for cmd in ("correlate", "validate"):
        code, out = _run(cmd, *args)
        assert code == 2, out
        lines = [x for x in out.splitlines() if x.strip()]
        assert len(lines) == 1 and lines[0].startswith("sctpcorr: error: ") and msg in lines[0], out


def test_no_shared_clock_aligns_within_its_uncertainty_and_reaches_the_same_verdicts(tmp_path):
    """A capture from another machine next to the client (its clock 3723.123456789 s off) and a recording of
    the client's kernel only, no host labels: the offset comes from matched events alone."""
    ref = correlation("baseline")
    b = bundle("baseline")
    recs = _recording(b)
    client_ns = {r["netns"] for r in recs if r.get("lport") == _client_port("baseline")}
    only = [r for r in recs if r.get("type") in ("startup", "end", "clock") or r.get("netns") in client_ns]
    k = tmp_path / "client-kernel.jsonl"
    k.write_text("".join(json.dumps(r) + "\n" for r in only))
    shifted = tmp_path / "tap.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", "-t", "3723.123456789", str(_capture(b, "client")), str(shifted)],
                   check=True, capture_output=True)
    from sctpcorr import correlate_io

    cx, _ = correlate_io.run(captures=[str(shifted)], kernels=[str(k)])
    (fit,) = cx.clocks.values()
    truth = ref.clocks[(0, 0)].offset_ns + 3_723_123_456_789
    assert fit.method == "estimated" and fit.uncertainty_ns < 2_000_000
    assert abs(fit.offset_ns - truth) <= fit.uncertainty_ns
    clock = one(cx, "clock")
    assert clock.verdict == "not checkable" and "no shared clock" in clock.sentence
    same = ["tsn_coverage", "retransmissions", "rtt_samples", "rto", "flight", "peer_rwnd"]
    for name in same:
        assert one(cx, name, 1, "A>B").verdict == one(ref, name, 1, "A>B").verdict, name
    for name in ("path_state", "assoc_state"):
        assert one(cx, name, 1, "A").verdict == one(ref, name, 1, "A").verdict, name


def test_values_wider_than_their_fields_are_counted_and_left_out(tmp_path):
    """A recording whose integers do not fit the kernel's fields (a timestamp past 2^63, a negative TSN, a chunk
    length that is a string: what the `recording` fuzzer fed it) loses those rows, counted in bad_records, and
    keeps every other one."""
    from sctpcorr.correlate_io import load_kernel

    b = _copy("baseline", tmp_path)
    recs = _recording(b)
    before = load_kernel(str(b / "kernel" / ("probe.jsonl" if (b / "kernel" / "probe.jsonl").exists()
                                             else "probe.jsonl.gz")), hz=250)
    sacks = [r for r in recs if r["type"] == "sack"]
    egress = [r for r in recs if r["type"] == "egress" and any("tsn" in c for c in r.get("chunks") or ())]
    sacks[3]["ts_ns"] = 2 ** 70
    sacks[4]["cum_tsn_ack"] = -1
    next(c for c in egress[7]["chunks"] if "tsn" in c)["tsn"] = 2 ** 32
    egress[8]["chunks"][0]["length"] = "many"
    _write_recording(b, recs)
    after = load_kernel(str(b / "kernel" / "probe.jsonl"), hz=250)
    assert before.bad_records == 0 and after.bad_records == 4
    assert len(after.sacks) == len(before.sacks) - 2
    assert len(after.echunks) == len(before.echunks) - 2
    assert len(after.egress) == len(before.egress)
    # the verdicts still come, one line each, from what was kept
    code, out = _run("validate", "--json", str(b))
    assert code in (0, 1) and json.loads(out)["checks"]


def test_egress_records_whose_chunks_are_not_objects_are_counted_and_left_out(tmp_path):
    """`chunks` as a number, or holding one (the `recording` fuzzer's second find): the record is bad, counted,
    and the rest of the recording reads as before."""
    from sctpcorr.correlate_io import load_kernel

    b = _copy("baseline", tmp_path)
    recs = _recording(b)
    _write_recording(b, recs)
    before = load_kernel(str(b / "kernel" / "probe.jsonl"), hz=250)
    egress = [r for r in recs if r["type"] == "egress" and r.get("chunks")]
    lost = len(egress[5]["chunks"]) + len(egress[6]["chunks"])
    egress[5]["chunks"] = 5
    egress[6]["chunks"] = [*egress[6]["chunks"][1:], 7]
    _write_recording(b, recs)
    after = load_kernel(str(b / "kernel" / "probe.jsonl"), hz=250)
    assert before.bad_records == 0 and after.bad_records == 2
    assert len(after.egress) == len(before.egress) - 2
    assert len(after.echunks) == len(before.echunks) - lost


def test_every_field_of_every_record_type_with_a_wrong_value_is_read_or_counted(tmp_path):
    """A sweep beside the `recording` fuzzer (which found four of these one at a time): one real record of each
    type of a lab recording, each of its fields in turn set to a value of another shape (a list, an object, a
    string, a number past 64 bits, a negative one, true, null); the recording with that record reads without an
    exception, the record either read or counted in bad_records, and the fuzz target's other reader too."""
    import importlib.util
    import sys

    from sctpcorr.correlate_io import load_kernel
    from sctpcorr.errors import InputError

    py = Path(__file__).resolve().parents[2] / "fuzz" / "py"
    sys.path.insert(0, str(py))
    try:
        spec = importlib.util.spec_from_file_location("sctpcorr_fuzz_recording", py / "fuzz_recording.py")
        target = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(target)  # type: ignore[union-attr]
    finally:
        sys.path.remove(str(py))
    recs = _recording(bundle("baseline"))
    head = [r for r in recs if r["type"] == "startup"]
    one: dict[str, dict] = {}
    for r in recs:
        one.setdefault(r["type"], r)
    assert len(one) >= 8 and {"startup", "end"} <= set(one)
    one["unknown"] = {**one["egress"], "type": "egress~"}   # a type the readers do not know, with an event's fields
    wrong = ([1, 2], {"a": 1}, "x", 2 ** 70, -1, True, None, [{"type": [1]}])
    p = tmp_path / "r.jsonl"
    tried = 0
    read = ("path_addr", "chunks", "state", "asoc", "my_vtag", "cum_tsn_ack", "rtt_jiffies", "hb_nonce")
    for rec in one.values():
        for k in dict.fromkeys([*rec, *read]):     # its fields, and those the readers use that it lacks
            for v in wrong:
                bad = {**rec, k: v}
                data = "".join(json.dumps(x) + "\n" for x in ((bad,) if rec["type"] == "startup" else (*head, bad))
                               ).encode()
                p.write_bytes(data)
                try:
                    kv = load_kernel(str(p), hz=250)
                except InputError:        # the contract: not a recording (a startup record broken)
                    assert rec["type"] == "startup", (rec["type"], k, v)
                else:
                    assert kv.bad_records <= 1 + len(rec.get("chunks") or ()), (rec["type"], k, v)   # rows
                target.test_one_input(data)
                tried += 1
    eg = next(r for r in recs if r["type"] == "egress" and r.get("chunks"))
    for k in eg["chunks"][0]:                        # and each field of a chunk of an egress record
        for v in wrong:
            bad = {**eg, "chunks": [{**eg["chunks"][0], k: v}, *eg["chunks"][1:]]}
            data = "".join(json.dumps(x) + "\n" for x in (*head, bad)).encode()
            p.write_bytes(data)
            kv = load_kernel(str(p), hz=250)
            assert kv.bad_records <= 1 + len(bad["chunks"]), ("chunk", k, v)
            target.test_one_input(data)
            tried += 1
    assert tried > 500
