"""The correlator on recordings made at each probe level (`sctpcorr probe --level`).

A recording at a cheaper level holds a subset of the event types of a full one.  These tests take the real lab
bundles (full recordings) and keep, of each recording, exactly what a recording at that level holds
(``probes.level_events``; the startup record says the level and what it can hold, as the probe writes it).
What must hold: the checks a level serves give the same verdicts as on the full recording; the ones it does
not serve are "not checkable" and name the level they need, never a disagreement made of missing events.
The lab session (tests/lab_probe) records at each level for real and checks the same against the wire.
"""
from __future__ import annotations

import gzip
import json
import shutil

import pytest

from bundles import bundle, correlation

from sctpcorr import correlate_io
from sctpcorr.correlate.checks import NEEDS, needed_level
from sctpcorr.kernel.probes import LEVELS, level_events

PER_LEVEL = ("tsn_coverage", "retransmissions", "rtt_samples", "rto", "flight", "peer_rwnd", "local_rwnd",
             "path_state", "assoc_state")


def at_level(src, dst, level: str) -> int:
    """Copy bundle ``src`` to ``dst`` with its recording cut down to ``level``; returns the events dropped."""
    shutil.copytree(src, dst)
    keep = level_events(level)
    rec = next((dst / "kernel").glob("probe.jsonl*"))
    dropped = 0
    out = []
    with gzip.open(rec, "rt") if rec.suffix == ".gz" else open(rec) as f:
        for line in f:
            r = json.loads(line)
            t = r.get("type")
            if t == "startup":
                r["level"] = level
                r["capabilities"] = {k: (v and k in keep) if k != "diag" else v
                                     for k, v in r["capabilities"].items()}
            elif t in r.get("capabilities", {}) or t in level_events(LEVELS[-1]):
                if t not in keep:
                    dropped += 1
                    continue
            out.append(json.dumps(r))
    rec.unlink()
    (dst / "kernel" / "probe.jsonl").write_text("\n".join(out) + "\n")
    return dropped


def test_needed_levels():
    assert needed_level("rto") == needed_level("path_state") == needed_level("assoc_state") == "decisions"
    assert needed_level("flight") == needed_level("peer_rwnd") == "sacks"
    assert {needed_level(c) for c in ("tsn_coverage", "retransmissions", "rtt_samples", "local_rwnd")} == \
        {"packets"}
    assert set(NEEDS) == set(PER_LEVEL)


@pytest.mark.parametrize("name", ["lossy", "failover", "bulk"])
@pytest.mark.parametrize("level", ["decisions", "sacks"])
def test_a_cheaper_level_never_disagrees_for_want_of_events(tmp_path, name, level):
    full = correlation(name)
    dropped = at_level(bundle(name), tmp_path / name, level)
    assert dropped > 0
    cx, _inp = correlate_io.run(bundles=[str(tmp_path / name)])
    served = {c for c in PER_LEVEL if LEVELS.index(needed_level(c)) <= LEVELS.index(level)}
    by_key = {(c.name, c.assoc, c.direction): c for c in full.checks if c.name in PER_LEVEL}
    seen_unserved = 0
    for c in cx.checks:
        if c.name not in PER_LEVEL:
            continue
        if c.name in served:
            ref = by_key.get((c.name, c.assoc, c.direction))
            assert ref is not None and c.verdict == ref.verdict, (c.as_dict(), ref and ref.as_dict())
        else:
            seen_unserved += 1
            assert c.verdict == "not checkable", c.as_dict()
            assert f"--level {needed_level(c.name)}" in c.sentence and f"at --level {level}" in c.sentence
    # every check the full recording made at this level's reach is made again
    for (n, a, d), ref in by_key.items():
        if n in served:
            assert any((c.name, c.assoc, c.direction) == (n, a, d) for c in cx.checks), (n, a, d)
    rec = [c for c in cx.checks if c.name == "recording"]
    assert rec and all(f"recorded at --level {level}" in c.sentence for c in rec)
    assert all(c.numbers["level"] == level for c in rec)
    assert seen_unserved or name == "bulk"


def test_skipped_runs_of_every_hook_count_against_its_event_type():
    """A recording's end record counts runs the kernel skipped by BPF program name (recursion_misses); the
    correlator charges them to the program's event type, whichever hook ran it (kprobe or its trampoline twin)."""
    from sctpcorr.correlate.kernel import _prog_event_type
    from sctpcorr.kernel.probes import PROBES

    for p in PROBES:
        for a in p.attachments:
            assert _prog_event_type(a.fn) == p.events[0]
            if a.trampoline_fn:
                assert _prog_event_type(a.trampoline_fn) == p.events[0]
