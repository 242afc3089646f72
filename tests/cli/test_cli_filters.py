"""--assoc / --port / --addr select associations (and their events); capture totals stay global.

forces3.pcap (tcpdump's test suite, real ForCES over SCTP): 6 associations from 192.168.1.142 to ports
6704/6705/6706 of 192.168.1.143, each opened twice.
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from cli_helpers import corpus_file, run_cli, run_json


@pytest.fixture(scope="module")
def forces3():
    return corpus_file("tcpdump/forces3.pcap")


@pytest.fixture(scope="module")
def unfiltered(forces3):
    doc = run_json(forces3)
    assert len(doc["associations"]) == 6
    return doc


def ids(doc):
    return [a["id"] for a in doc["associations"]]


def test_port(forces3, unfiltered):
    expected = [a["id"] for a in unfiltered["associations"] if 6704 in a["ports"]]
    assert 0 < len(expected) < 6
    doc = run_json("--port", "6704", forces3)
    assert ids(doc) == expected
    assert doc["capture"] == unfiltered["capture"]  # totals are not filtered
    assert doc["filters"] == {"assoc": [], "port": [6704], "addr": []}


def test_repeated_option_is_or(forces3, unfiltered):
    expected = [a["id"] for a in unfiltered["associations"] if {6704, 6706} & set(a["ports"])]
    assert ids(run_json("--port", "6704", "--port", "6706", forces3)) == expected
    assert ids(run_json("--assoc", "2", "--assoc", "5", forces3)) == [2, 5]


def test_kinds_are_and(forces3, unfiltered):
    on_6705 = {a["id"] for a in unfiltered["associations"] if 6705 in a["ports"]}
    other = next(i for i in ids(unfiltered) if i not in on_6705)
    assert ids(run_json("--port", "6705", "--assoc", str(other), forces3)) == []
    inside = min(on_6705)
    assert ids(run_json("--port", "6705", "--assoc", str(inside), forces3)) == [inside]


def test_addr_and_prefix(forces3, unfiltered):
    assert ids(run_json("--addr", "192.168.1.143", forces3)) == ids(unfiltered)
    assert ids(run_json("--addr", "192.168.1.0/24", forces3)) == ids(unfiltered)
    assert ids(run_json("--addr", "192.168.2.0/24", forces3)) == []


def test_no_match_text(forces3):
    r = run_cli("pcap", "--addr", "203.0.113.9", forces3)
    assert r.returncode == 0
    assert "No SCTP association matches the filters." in r.stdout
    assert "Filter --addr 203.0.113.9: 0 of 6 associations shown" in r.stdout


def test_jsonl_events_filtered_exactly(forces3):
    """The filtered event stream is the unfiltered one restricted to the selected associations."""
    def records(*args):
        r = run_cli("pcap", "--jsonl", *args, forces3)
        assert r.returncode == 0, r.stderr
        return [json.loads(line) for line in r.stdout.splitlines()]

    everything = records()
    selected = {a["id"] for a in everything if a["type"] == "association" and 6705 in a["ports"]}
    assert selected
    for args in (["--port", "6705"], ["--addr", "192.168.1.142", "--port", "6705"]):
        filtered = records(*args)
        events = [e for e in filtered if e["type"] not in ("startup", "association", "summary")]
        expected = [e for e in everything
                    if e["type"] not in ("startup", "association", "summary") and e["assoc_id"] in selected]
        assert events == expected
        assert {a["id"] for a in filtered if a["type"] == "association"} == selected
        summary = filtered[-1]
        assert summary["associations_total"] == 6
        assert summary["associations_matched"] == len(selected)
        assert summary["events_written"] == len(events)


def test_csv_filtered(forces3):
    r = run_cli("pcap", "--csv", "--assoc", "3", forces3)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(row["assoc_id"], row["direction"]) for row in rows] == [("3", "A>B"), ("3", "B>A")]


def test_addr_filter_holds_no_event_back():
    """--addr decides an association from Analyzer.association(id) at the end of the block in which it appears:
    each block's events are handed on before the next block is read (events without src/dst, such as assoc_new
    and state, need that lookup), and the stream is the unfiltered one restricted to the matching association."""
    from sctpcorr.pipeline import Filters, PcapOptions, run_pcap

    # redes-terminal-distribuido: 3 short associations 172.17.0.3<->.2, .4<->.3 and .5<->.3 (Docker)
    cap = str(corpus_file("redes-terminal-distribuido/sctp.pcap"))

    def run(filters):
        log = []

        class Progress:
            def update(self, file_index, path, position, size, packets):
                log.append(("block", position))

            def close(self):
                pass

        def on_events(events):
            log.append(("events", [(e["type"], e["assoc_id"], e["frame_no"]) for e in events]))

        result = run_pcap(PcapOptions(files=(cap,), filters=filters, events=True, block_size=512),
                          on_events=on_events, progress=Progress())
        return log, result

    everything, _ = run(Filters())
    log, result = run(Filters.build(addrs=["172.17.0.4"]))
    assert [a["id"] for a in result.document["associations"]] == [2]
    written = [e for kind, batch in log if kind == "events" for e in batch]
    assert written == [e for kind, batch in everything if kind == "events" for e in batch if e[1] == 2]
    assert {t for t, _, _ in written} >= {"assoc_new", "state", "rtt"}
    # each event is written after the same number of blocks as without a filter: right after the block that
    # produced it, before the next one is read
    def blocks_read_when_written(lg):
        out, blocks = {}, 0
        for kind, item in lg:
            if kind == "block":
                blocks += 1
            else:
                out.update((e, blocks) for e in item)
        return out

    assert sum(kind == "block" for kind, _ in log) > 10
    unfiltered_at = blocks_read_when_written(everything)
    assert blocks_read_when_written(log) == {e: unfiltered_at[e] for e in written}
    assert len(set(blocks_read_when_written(log).values())) > 1  # written in several batches, as they came
