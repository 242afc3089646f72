"""The text report of several associations starts with an overview, one line each, the ones that need a look
first (an ABORT, timeout retransmissions, HEARTBEATs left unanswered, zero windows, fast retransmissions), then
the details of the first N (--details N | all; --assoc: the ones picked). On the committed lab bundles: the
failover run (a path fails: T3 retransmissions, HEARTBEATs unanswered), the lossy one (fast retransmissions) and
the baseline (nothing to look at)."""
from __future__ import annotations

import re
from pathlib import Path

from cli_helpers import run_cli, run_json

from sctpcorr.report.text import trouble

LAB = Path(__file__).resolve().parents[2] / "pcaps" / "lab"
FILES = [LAB / "baseline" / "client.pcapng.gz", LAB / "lossy" / "client.pcapng.gz",
         LAB / "failover" / "client.pcapng.gz"]


def _overview_ids(text: str) -> list[int]:
    block = text.split("the ones that need a look first", 1)[1].split("\n\n", 1)[0]
    return [int(m.group(1)) for m in re.finditer(r"^\s+(\d+)\s{2}", block, re.M)]


def test_the_overview_orders_by_what_needs_a_look_and_details_follow():
    doc = run_json(*FILES)
    assocs = doc["associations"]
    assert len(assocs) == 3
    scores = {a["id"]: trouble(a) for a in assocs}
    # each bundle's own trouble: the failover run lost HEARTBEATs and timed out, the lossy one fast-retransmitted
    by_file = dict(zip(("baseline", "lossy", "failover"), sorted(scores)))
    assert any(w.startswith("HB lost") for w in scores[by_file["failover"]][1])
    assert any(w.startswith("T3 rtx") for w in scores[by_file["failover"]][1])
    assert any(w.startswith("fast rtx") for w in scores[by_file["lossy"]][1])
    assert scores[by_file["baseline"]] == (0, [])
    r = run_cli("pcap", "--details", "1", *FILES)
    assert r.returncode == 0, r.stderr
    ids = _overview_ids(r.stdout)
    assert ids == sorted(scores, key=lambda i: (-scores[i][0], i))
    assert ids[-1] == by_file["baseline"]
    # the details of the first one only, and how to see the rest
    shown = [int(x) for x in re.findall(r"^ASSOCIATION (\d+) ", r.stdout, re.M)]
    assert shown == ids[:1]
    assert "2 more with --details all" in r.stdout
    assert "needs a look: " in r.stdout and max(len(x) for x in r.stdout.splitlines()) <= 100


def test_details_all_zero_and_assoc():
    every = run_cli("pcap", "--details", "all", *FILES)
    assert len(re.findall(r"^ASSOCIATION \d+ ", every.stdout, re.M)) == 3
    none = run_cli("pcap", "--details", "0", *FILES)
    assert not re.findall(r"^ASSOCIATION \d+ ", none.stdout, re.M) and len(_overview_ids(none.stdout)) == 3
    picked = run_cli("pcap", "--details", "0", "--assoc", "1", "--assoc", "2", *FILES)
    assert sorted(int(x) for x in re.findall(r"^ASSOCIATION (\d+) ", picked.stdout, re.M)) == [1, 2]
    bad = run_cli("pcap", "--details", "many", *FILES)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "'many'" in bad.stderr


def test_one_association_has_no_overview():
    r = run_cli("pcap", FILES[0])
    assert "need a look first" not in r.stdout and re.findall(r"^ASSOCIATION 1 ", r.stdout, re.M)


def test_ranking_is_the_sort_by_trouble_on_every_own_capture():
    """_ranked() sets the associations with nothing to look at aside without scoring them (issue #12): the order
    and the words must still be those of sorting every summary by (-trouble score, id). All the project's
    captures read as one (18 associations: an ABORT, T3 and fast retransmissions, zero windows, clean ones)."""
    from sctpcorr.pipeline import Filters, PcapOptions, run_pcap
    from sctpcorr.report.text import _ranked

    captures = sorted(str(p) for p in (LAB.parent).rglob("*.pcap*"))
    summaries = run_pcap(PcapOptions(files=tuple(captures), filters=Filters.build())).analyzer.summary()
    ranked, looks = _ranked(summaries)
    expected = sorted(summaries, key=lambda s: (-trouble(s)[0], s[0]))
    assert [s[0] for s in ranked] == [s[0] for s in expected]
    assert looks == {s[0]: trouble(s)[1] for s in summaries if trouble(s)[1]}
    assert 0 < len(looks) < len(summaries) and any("ABORT" in w for w in looks.values())


def test_the_streamed_report_is_the_rendered_one():
    """text.write_run() (what `sctpcorr pcap` writes) reads the summaries in batches, twice, and writes as it
    goes (a million associations: issue #12); it must be render()'s text, whatever the batch and --details. All
    the project's captures read as one (18 associations, some that need a look), and each corpus capture."""
    import io

    from corpora import corpus_files

    from sctpcorr.pipeline import Filters, PcapOptions, build_document, run_pcap
    from sctpcorr.report.text import render, write_run

    inputs = [tuple(sorted(str(p) for p in (LAB.parent).rglob("*.pcap*")))]
    inputs += [(str(p),) for p in corpus_files()]
    compared = 0
    for files in inputs:
        run = run_pcap(PcapOptions(files=files, filters=Filters.build()))
        if run.analyzer is None:
            continue
        doc = build_document(run, associations=False)
        for details in (5, 0, 1, -1):
            want = render(doc, details=details, summaries=run.analyzer.summary(), entry=run.analyzer.association)
            for batch in (1, 3, 4096):
                got = io.StringIO()
                write_run(got, doc, run.analyzer, details=details, batch=batch)
                assert got.getvalue() == want, (files, details, batch)
                compared += 1
    assert compared >= 12
