"""Folding (wire/_engine/fold.c, issue #12): associations that ended, or idled, leave memory for a spill file and
are read back for the report. The reports are held to the same analysis without folding, byte for byte, on
every capture of the corpus and on a churn capture of thousands of real associations that come and go; the
memory an ended association leaves behind is measured on the engine's own allocations."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corpora import CORPUS, analysed, corpus_files, file_id, own_files

ROOT = Path(__file__).resolve().parents[2]
S = 1_000_000_000
FOLDED = ("assocs_folded", "assocs_folded_idle", "fold_failed")


_analysed = analysed


def _outputs(a):
    n = a.associations_count
    return (b"".join(a.associations_json(s, s + 500, lines=True) for s in range(0, n, 500)),
            b"".join(a.associations_json(s, s + 500, csv=True) for s in range(0, n, 500)),
            a.summary(), [a.association(i) for i in range(1, n + 1)])


def _capture_without_folding_counters(a):
    cap = a.capture_summary()
    return cap, {k: cap["limits"].pop(k) for k in FOLDED}


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """3,000 real associations (bench/build_scale_corpus.py: whole lives, INIT to SHUTDOWN-COMPLETE, from the
    corpus), a new one every 20 ms: 60 s of capture time, so most end more than 10 s before the capture does."""
    if not CORPUS.is_dir():
        pytest.skip(f"the corpus is not at {CORPUS}")
    out = tmp_path_factory.mktemp("churn") / "churn-3000.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "build_scale_corpus.py"), "--assocs", "3000",
                    "--spacing", "0.02", "--pcaps", str(CORPUS), "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return out


def test_folded_associations_report_exactly_what_they_would_in_memory(churn):
    plain = _analysed(churn)
    folded = _analysed(churn, fold_linger_ns=10 * S, fold_idle_ns=600 * S)
    cap_p, counters_p = _capture_without_folding_counters(plain)
    cap_f, counters_f = _capture_without_folding_counters(folded)
    assert counters_p == {"assocs_folded": 0, "assocs_folded_idle": 0, "fold_failed": 0}
    # every association ends; those that ended 10 s before the capture's last packet are folded
    assert plain.associations_count == folded.associations_count == 3000
    assert 2000 < counters_f["assocs_folded"] < 3000
    assert counters_f["assocs_folded_idle"] == counters_f["fold_failed"] == 0
    assert cap_f == cap_p
    assert _outputs(folded) == _outputs(plain)
    # and a second read of a folded association gives it again (read back, not consumed)
    assert folded.association(1) == plain.association(1)


def test_the_cli_folds_and_its_reports_do_not_change(churn, tmp_path):
    def run(*args):
        p = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", *args, str(churn)], capture_output=True,
                           cwd=ROOT, check=True)
        return p.stdout

    for fmt in ("--json", "--csv", None):
        base = [fmt] if fmt else ["--details", "all"]
        on, off = run(*base), run(*base, "--linger", "0", "--idle-timeout", "0")
        if fmt == "--json":
            d_on, d_off = json.loads(on), json.loads(off)
            lim_on, lim_off = d_on["capture"]["limits"], d_off["capture"]["limits"]
            assert lim_on["assocs_folded"] > 2000 and lim_off["assocs_folded"] == 0
            for k in FOLDED:
                lim_on.pop(k), lim_off.pop(k)
            d_on.pop("run", None), d_off.pop("run", None)
            assert d_on == d_off
        elif fmt == "--csv":
            assert on == off
        else:
            # the text report: the same overview and details, line for line, plus the footer's line that says
            # what was folded
            a, b = on.decode().splitlines(), off.decode().splitlines()
            i = next(i for i, x in enumerate(a) if x.startswith("Memory: "))
            j = next(j for j in range(i + 1, len(a)) if not a[j].startswith("  "))
            assert "associations that ended" in a[i] and not any(x.startswith("Memory: ") for x in b)
            assert a[:i] + a[j:] == b
            assert len(b) > 3000


def test_ended_associations_leave_only_their_id_slot_in_memory(churn):
    """The engine's heap after the capture, folded vs not: measured in a child, by mallinfo2 (the engine's
    allocations, not the interpreter's arena noise)."""
    code = (
        "import ctypes, sys\n"
        "from sctpcorr.wire.engine import Analyzer\n"
        "from sctpcorr.sources.pcapfile import CaptureReader\n"
        "class MI(ctypes.Structure):\n"
        "    _fields_ = [(n, ctypes.c_size_t) for n in ('arena','ordblks','smblks','hblks','hblkhd','usmblks',"
        "'fsmblks','uordblks','fordblks','keepcost')]\n"
        "libc = ctypes.CDLL('libc.so.6'); libc.mallinfo2.restype = MI\n"
        "def used(): m = libc.mallinfo2(); return m.uordblks + m.hblkhd\n"
        "base = used()\n"
        "a = Analyzer(fold_linger_ns=int(sys.argv[2]), fold_idle_ns=0)\n"
        "with CaptureReader(sys.argv[1]) as r:\n"
        "    for b in r.blocks():\n"
        "        a.feed_capture(b)\n"
        "print(used() - base, a.capture_summary()['limits']['assocs_folded'])\n")
    def heap(linger_ns):
        out = subprocess.run([sys.executable, "-c", code, str(churn), str(linger_ns)], capture_output=True, text=True,
                             check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
        return int(out[0]), int(out[1])

    plain, _ = heap(0)
    folded, n = heap(10 * S)
    assert n > 2000
    # without folding each association holds kilobytes; folded, what remains is its 8-byte id slot (plus the
    # open ones and the analyzer's fixed tables, the same in both runs)
    per_assoc_plain = plain / 3000
    assert per_assoc_plain > 2000
    assert (plain - folded) / n > 0.8 * per_assoc_plain


@pytest.mark.parametrize("path", corpus_files() + own_files(), ids=file_id)
def test_every_capture_reads_the_same_with_folding(path):
    """Fed 2 KB at a time with a linger of 1 ns, an association that ended is folded within a few packets of its
    end: the report is still the same on every capture (the engine attributes no later packet to an association
    that ended, other than those few)."""
    plain = _analysed(path)
    folded = _analysed(path, piece=2048, fold_linger_ns=1, fold_idle_ns=600 * S)
    cap_p, _ = _capture_without_folding_counters(plain)
    cap_f, _ = _capture_without_folding_counters(folded)
    assert cap_f == cap_p
    assert _outputs(folded) == _outputs(plain)


def test_an_idle_association_is_folded_and_its_next_packet_starts_a_new_one():
    """The documented cost of --idle-timeout: traffic after a gap longer than it starts a new association (as a
    capture starting there would show it), and the folded one keeps everything it had."""
    for path in corpus_files() + own_files():
        plain = _analysed(path)
        folded = _analysed(path, fold_idle_ns=1 * S)
        lim = folded.capture_summary()["limits"]
        if folded.associations_count == plain.associations_count:
            continue                            # no gap of more than a second with traffic after it
        assert folded.associations_count <= plain.associations_count + lim["assocs_folded_idle"]
        # every packet is still counted, by exactly one association
        assert sum(s[2] for s in folded.summary()) == sum(s[2] for s in plain.summary())
        # the associations that start after a gap are seen from the middle
        new = [s for s in folded.summary() if s[0] > plain.associations_count]
        assert new and all(folded.association(s[0])["mid_association"] for s in new)
        # and what was folded reads back: the first association ends no later than without folding
        assert folded.association(1)["packets"] <= plain.association(1)["packets"]
        return
    pytest.skip("no capture with an association that idles for more than a second")


def test_a_full_disk_stops_folding_and_loses_nothing(churn, small_disk, monkeypatch):
    """The spill file on a 256 KiB disk: the fold that finds it full keeps its association in memory, folding
    stops (counted in fold_failed), and the report is still whole: the associations folded before it read back,
    the others never left."""
    monkeypatch.setenv("TMPDIR", str(small_disk.path))
    plain = _analysed(churn)
    folded = _analysed(churn, fold_linger_ns=10 * S, fold_idle_ns=600 * S)
    _, counters = _capture_without_folding_counters(folded)
    assert counters["fold_failed"] == 1
    assert 50 < counters["assocs_folded"] < 400   # 256 KiB on disk + the 128 KiB write buffer, of ~1.3 KB records
    assert _outputs(folded) == _outputs(plain)


def test_live_folds_as_pcap_does(churn, tmp_path):
    """`sctpcorr live --follow` over the churn capture (stopped by --count at its last packet): the associations
    that ended leave memory as they do in `pcap`, and the final --json is pcap's, counters included."""
    packets = _analysed(churn).capture_summary()["packets"]
    out = tmp_path / "live.json"
    p = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "live", "--follow", str(churn), "-c", str(packets),
                        "--json", str(out), "-q"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert p.returncode == 0, p.stderr
    doc = json.loads(out.read_text())
    ref = json.loads(subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--json", str(churn)],
                                    capture_output=True, cwd=ROOT, check=True).stdout)
    assert doc["capture"]["limits"]["assocs_folded"] > 2000
    assert doc["capture"] == ref["capture"]
    assert doc["associations"] == ref["associations"]


def test_live_ticks_less_often_when_they_cost_more_than_a_tenth_of_the_time(churn):
    """A tick reads every association's summary; with thousands folded and a slow consumer (here 0.2 s a
    tick, asked for every 50 ms) ticks are spaced so that they take about a tenth of the time: the capture keeps
    its CPU. (Without the spacing: a tick every 0.25 s, 80 % of the time.)"""
    import time

    from sctpcorr.live import TICK_SHARE, LiveOptions, StopFlag, open_source, run_live

    opts = LiveOptions(follow=str(churn), duration_s=3.0, tick_s=0.05, fold_linger_ns=10 * S)
    times = []

    def slow(t):
        if not t.final:
            times.append(time.monotonic())
            time.sleep(0.2)

    run_live(opts, open_source(opts), StopFlag(), on_tick=slow)
    assert 1 <= len(times) <= 3, times
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert all(g >= 0.2 / TICK_SHARE * 0.9 for g in gaps), gaps
