"""`sctpcorr pcap --jsonl` written by the engine (Analyzer.drain_events_jsonl: evjson.c; the association records
by associations_json(jsonl=True): assocjson.c) is
byte for byte what the Python path writes (every event through pipeline.event_to_dict and the json module, the
association records through Analyzer.report()), on every capture of the corpus and of the project's own."""
from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path

import pytest
from corpora import CORPUS, analysed, corpus_files, file_id, own_files

from sctpcorr.pipeline import EVENT_FIELDS, Filters, PcapOptions, event_to_dict, run_pcap
from sctpcorr.report.jsonl import JsonlWriter, _compact_encoder
from sctpcorr.sources.pcapfile import CaptureReader
from sctpcorr.wire._engine import json_compact_lines
from sctpcorr.wire.engine import Analyzer

CAPTURES = corpus_files() + own_files()
LAB = sorted((Path(__file__).resolve().parents[2] / "pcaps" / "lab").glob("*/client.pcapng.gz"))


def _jsonl(files, engine: bool, **opts) -> tuple[bytes, JsonlWriter]:
    """The --jsonl output as the CLI writes it (engine=True) or all through Python (the reference); the two
    fields that differ between runs (started_at_ns, elapsed_ns) set to 0."""
    o = PcapOptions(files=tuple(str(f) for f in files), events=True, **opts)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    w = JsonlWriter(out, o, engine_text=engine)
    w._started_at_ns = 0
    run = run_pcap(o, on_events=w.events, on_event_lines=w.event_lines if engine else None)
    run.elapsed_ns = 0
    w.finish(run)
    out.flush()
    return out.buffer.getvalue(), w


@pytest.mark.skipif(not CAPTURES, reason="no capture")
@pytest.mark.parametrize("path", CAPTURES, ids=file_id)
def test_engine_jsonl_is_the_python_jsonl(path):
    want, ref = _jsonl([path], engine=False)
    got, w = _jsonl([path], engine=True)
    assert got == want
    assert w.records == ref.records == want.count(b"\n")
    last = json.loads(got.splitlines()[-1])
    assert last["type"] == "summary" and last["events_written"] == sum(last["events_seen"].values())


@pytest.mark.skipif(not LAB, reason="no lab bundle")
def test_several_files_number_their_events_by_file():
    files = [LAB[0], LAB[0].with_name("server.pcapng.gz")]
    want, _ = _jsonl(files, engine=False)
    got, _ = _jsonl(files, engine=True)
    assert got == want
    assert {json.loads(x).get("file") for x in got.splitlines()} >= {0, 1}


@pytest.mark.skipif(not LAB, reason="no lab bundle")
def test_filters_and_telecom_still_go_through_python():
    """The engine's text is only for the unfiltered stream: a filter or --telecom needs the events as dicts."""
    for opts in ({"filters": Filters.build(assoc_ids=[1])}, {"telecom": True}):
        lines_given = []
        o = PcapOptions(files=(str(LAB[0]),), events=True, **opts)
        dicts = []
        run_pcap(o, on_events=dicts.extend, on_event_lines=lambda d, n: lines_given.append(n))
        assert dicts and not lines_given, opts


@pytest.mark.skipif(not CORPUS.is_dir(), reason="the shared corpus is absent")
def test_the_corpus_has_every_kind_of_event():
    """So that the comparison above covers every branch of evjson.c's writer."""
    seen: Counter[str] = Counter()
    for path in CAPTURES:
        seen.update(analysed(path, events=True).drain_events_jsonl(0)[1])
    assert set(seen) == set(EVENT_FIELDS), set(EVENT_FIELDS) - set(seen)


def test_drain_events_jsonl_drains():
    path = (LAB or CAPTURES or [None])[0]
    if path is None:
        pytest.skip("no capture")
    a, b = Analyzer(events=True), Analyzer(events=True)
    with CaptureReader(str(path)) as r:
        data = b"".join(r.blocks())
    a.feed_capture(data)
    b.feed_capture(data)
    text, counts = a.drain_events_jsonl(file_index=7)
    events = b.drain_events()
    dumps = _compact_encoder()
    assert text.decode() == "".join(dumps(event_to_dict(e, 7)) + "\n" for e in events)
    assert counts == dict(Counter(e[0] for e in events))
    assert a.drain_events_jsonl(7) == (b"", {})   # drained, like drain_events()
    assert Analyzer().drain_events_jsonl() == (b"", {})   # events=False: nothing queued


def _value(rnd: random.Random, depth: int):
    pieces = ["a", " ", ",", ":", ", ", ": ", '"', "\\", "\\\"", "\n", "\x01", "é", "汉", "{", "}", "[", "]", "x" * 40]
    r = rnd.random()
    if depth > 3 or r < 0.3:
        return rnd.choice([0, -5, 2.5, None, True, False, 10**20,
                           "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 30)))])
    if r < 0.6:
        return [_value(rnd, depth + 1) for _ in range(rnd.randint(0, 6))]
    return {"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 8))): _value(rnd, depth + 1)
            for _ in range(rnd.randint(0, 6))}


def test_json_compact_lines_is_the_json_modules_compact_text():
    """Strings holding separators, quotes, escaped quotes and backslashes, on both sides of the 64-byte blocks
    the compaction works in."""
    rnd = random.Random(12)
    for _ in range(3000):
        objs = [{str(k): _value(rnd, 1) for k in range(rnd.randint(0, 12))} for _ in range(rnd.randint(1, 4))]
        text = "".join("  " + json.dumps(o, ensure_ascii=False, separators=(", ", ": ")) + ",\n" for o in objs)
        want = "".join(json.dumps({"type": "t", **o}, ensure_ascii=False, separators=(",", ":")) + "\n"
                       for o in objs)
        assert json_compact_lines(text.rstrip(",\n").encode(), b'{"type":"t",').decode() == want


def test_json_compact_lines_refuses_what_is_not_an_object():
    assert json_compact_lines(b"", b"{") == b""
    with pytest.raises(ValueError, match="not a JSON object"):
        json_compact_lines(b'  {"a": 1},\n  [1, 2]\n', b"{")
