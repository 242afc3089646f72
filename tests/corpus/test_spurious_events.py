"""The event stream accounts for every spurious retransmission the report counts.

A retransmission is spurious either when it is sent (the wire had already shown the TSN acked: its
``retransmission`` event says ``spurious: true``) or later, when the peer reports the TSN as a duplicate (then its
``retransmission`` event said false and a ``spurious`` event follows). So, per direction, the retransmission events
marked spurious plus the ``spurious`` events equal ``retransmissions.spurious``, and each ``spurious`` event names a
TSN whose earlier retransmission event said false. Checked on the project's captures and on every capture of the
third-party corpus (absent corpus: those cases are simply not generated).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

import craft
from corpora import OWN_PCAPS, corpus_files, file_id, own_files

ALL = own_files() + corpus_files()
LOSSY = OWN_PCAPS / "synthetic" / "ngap-lossy-multihomed.pcapng.gz"


def analyse(Analyzer, path: Path):
    a = Analyzer(events=True)
    try:
        a.feed_capture(craft.read_capture(path))
    except ValueError:
        pass  # a damaged tail: what came before it still counts
    a.finish_capture()
    return a.report(), a.drain_events()


def check(report, events):
    assert report["capture"]["limits"]["events_dropped"] == 0
    rtx = craft.named(events, "retransmission")
    spur = craft.named(events, "spurious")
    marked = Counter((e["assoc_id"], e["direction"]) for e in rtx if e["spurious"])
    later = Counter((e["assoc_id"], e["direction"]) for e in spur)
    for a in report["associations"]:
        for d, dd in a["directions"].items():
            assert marked[(a["id"], d)] + later[(a["id"], d)] == dd["retransmissions"]["spurious"], (a["id"], d)
    for s in spur:
        before = [e for e in rtx if (e["assoc_id"], e["direction"], e["tsn"]) == (s["assoc_id"], s["direction"], s["tsn"])
                  and e["frame_no"] <= s["frame_no"]]
        assert before and not any(e["spurious"] for e in before), s
        assert s["reason"] == "dup_tsn"
    return len(spur)


def test_lossy_capture_has_a_late_spurious_event(Analyzer):
    report, events = analyse(Analyzer, LOSSY)
    assert check(report, events) == 1
    (s,) = craft.named(events, "spurious")
    assert (s["direction"], s["src"], s["dst"]) == ("A>B", "10.20.1.11", "10.20.2.22")


@pytest.mark.parametrize("path", ALL, ids=[file_id(p) for p in ALL])
def test_spurious_events_account_for_the_counter(path: Path, Analyzer):
    check(*analyse(Analyzer, path))
