"""Bad and awkward input never breaks the engine, and how bytes are cut into blocks never changes the answer.

* The fuzzed and truncated captures (mrp/, suricata-verify/, PcapFlowLab/) run to the end without an exception.
* Every capture (third-party and our own), cut at several points, still yields the complete records before the cut
  and reports the dangling bytes as ``truncated_bytes``.
* Every capture with seeded random byte corruption inside packet data runs to the end.
* Every capture fed in 1-byte blocks and in odd-size blocks gives the same report, events and file summary as one
  block.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

import craft
from corpora import CORPUS, corpus_files, file_id, own_files

ALL = corpus_files() + own_files()
FUZZED = [p for p in corpus_files() if p.relative_to(CORPUS).parts[0] in ("mrp", "suricata-verify", "PcapFlowLab")]


def run(Analyzer, blocks, events=True):
    a = Analyzer(events=events)
    n = 0
    for b in blocks:
        n += a.feed_capture(b)
    summary = a.finish_capture()
    return n, summary, a.report(), a.drain_events() if events else None


def test_fuzzed_set_present(corpus):
    assert len(FUZZED) >= 9, [file_id(p) for p in FUZZED]


@pytest.mark.parametrize("path", FUZZED, ids=[file_id(p) for p in FUZZED])
def test_fuzzed_and_truncated_run_to_the_end(path: Path, Analyzer):
    data = craft.read_capture(path)
    frames = craft.read_frames(data)
    n, summary, report, _ = run(Analyzer, [data])
    assert n == len(frames) == summary["packets"] == report["capture"]["packets"]
    assert summary["truncated_bytes"] == 0
    cap = report["capture"]
    # every frame that is IP protocol 132 ends up somewhere: SCTP, malformed or a held fragment
    proto132 = sum(1 for f in frames if (d := craft.ip_datagram(f.linktype, f.data)) and d[3] == 132)
    assert cap["sctp_packets"] + cap["malformed"] + cap["ip_fragments"] >= proto132
    assert cap["sctp_packets"] <= proto132 and cap["malformed"] <= proto132


@pytest.mark.parametrize("path", ALL, ids=[file_id(p) for p in ALL])
def test_cut_capture_keeps_the_complete_records(path: Path, Analyzer):
    data = craft.read_capture(path)
    rng = random.Random(len(data))
    cuts = sorted({len(data) - 1, len(data) - 3, len(data) // 2, rng.randrange(40, len(data))} - {0})
    for cut in cuts:
        frames, end = craft.read_frames_end(data[:cut])
        n, summary, report, _ = run(Analyzer, [data[:cut]], events=False)
        assert n == len(frames) == report["capture"]["packets"], f"cut at {cut}"
        assert summary["truncated_bytes"] == cut - end, f"cut at {cut}"


@pytest.mark.parametrize("path", ALL, ids=[file_id(p) for p in ALL])
def test_corrupted_packet_bytes_run_to_the_end(path: Path, Analyzer):
    data = bytearray(craft.read_capture(path))
    frames = craft.read_frames(bytes(data))
    rng = random.Random(20240601)
    # corrupt bytes of frame contents only (the framing stays valid, so every record must still be read)
    positions = []
    start = 0
    for f in frames[:400]:
        start = data.find(f.data, start)
        if len(f.data) > 14:
            for _ in range(4):
                positions.append(start + rng.randrange(14, len(f.data)))
        start += len(f.data)
    for _round in range(3):
        buf = bytearray(data)
        for p in positions:
            if rng.random() < 0.5:
                buf[p] = rng.randrange(256)
        n, summary, report, _ = run(Analyzer, [bytes(buf)], events=False)
        assert n == len(frames) == report["capture"]["packets"]


@pytest.mark.parametrize("path", ALL, ids=[file_id(p) for p in ALL])
def test_block_size_does_not_matter(path: Path, Analyzer):
    data = craft.read_capture(path)
    whole = run(Analyzer, [data])
    view = memoryview(data)
    one_byte = run(Analyzer, (bytes(view[i:i + 1]) for i in range(len(data))))
    assert one_byte == whole, "1-byte blocks"
    for size in (7, 61, 4093):
        blocks = (bytes(view[i:i + size]) for i in range(0, len(data), size))
        assert run(Analyzer, blocks) == whole, f"{size}-byte blocks"
    rng = random.Random(7)
    blocks, i = [], 0
    while i < len(data):
        k = rng.choice((1, 2, 3, 5, 13, 24, 100, 1499, 65537))
        blocks.append(bytes(view[i:i + k]))
        i += k
    assert run(Analyzer, blocks) == whole, "mixed odd block sizes"
