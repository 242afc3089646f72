"""``--jsonl``: one JSON object per line, written as the analysis runs.

Record order (docs/output.md): one ``startup`` record, then the engine's events as they are drained (``assoc_new``,
``state``, ``rtt``, ``retransmission``, ``sack``, ``window``, ``heartbeat_unanswered``, ``duplicate_frame``,
``abort``, ``spurious``), then one ``association`` record per (filtered) association with its final report, then one
``summary`` record, always last, even after Ctrl-C or a damaged file.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TextIO

from sctpcorr import __version__
from sctpcorr.pipeline import SCHEMA_VERSION, PcapOptions, PcapRun, build_document
from sctpcorr.report.json import write_bytes

__all__ = ["JsonlWriter"]

def _compact_encoder() -> Callable[[Any], str]:
    """The C JSON encoder built once (``json.dumps`` builds one per call, which is most of the cost of a small
    record); falls back to the standard encoder where CPython's ``_json`` accelerator is missing."""
    std = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    c_make = getattr(json.encoder, "c_make_encoder", None)
    if c_make is None:  # pragma: no cover - non-CPython
        return std.encode
    c_enc = c_make(None, std.default, json.encoder.encode_basestring, None, ":", ",", False, False, False)
    return lambda obj: "".join(c_enc(obj, 0))


class JsonlWriter:
    """Writes the records; the ``startup`` record goes out just before the first other record, so a run that
    finds no capture at all writes nothing."""

    def __init__(self, out: TextIO, opts: PcapOptions, command: str = "pcap", engine_text: bool = True) -> None:
        """``engine_text=False``: the association records through ``Analyzer.report()`` and the json module even
        when the engine could write them (the reference the tests hold the engine's text to)."""
        self.out = out
        self.engine_text = engine_text
        self.command = command
        self.opts = opts
        self.records = 0
        self._started = False
        self._started_at_ns = time.time_ns()
        self._dumps = _compact_encoder()

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._write(self._startup())

    def write(self, record: dict[str, Any]) -> None:
        self._start()
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        self.out.write(self._dumps(record))
        self.out.write("\n")
        self.records += 1

    def _startup(self) -> dict[str, Any]:
        opts = self.opts
        return {
            "type": "startup",
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "sctpcorr", "version": __version__, "command": self.command},
            "started_at_ns": self._started_at_ns,
            "files": list(opts.files),
            "filters": opts.filters.to_json(),
            "options": {"dup_window_ns": opts.dup_window_ns, "max_assocs": opts.max_assocs,
                        "max_outstanding": opts.max_outstanding},
        }

    def events(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        if not self._started:
            self.write(events[0])
            events = events[1:]
        dumps = self._dumps
        self.out.write("".join([dumps(e) + "\n" for e in events]))
        self.records += len(events)

    def event_lines(self, data: bytes, n: int) -> None:
        """``n`` event records the engine wrote (``run_pcap``'s ``on_event_lines``): the lines ``events`` would
        write for them."""
        if not n:
            return
        self._start()
        write_bytes(self.out, (data,))
        self.records += n

    def finish(self, run: PcapRun, batch: int = 250) -> None:
        """The association records, then the summary. Without filters they are the engine's records
        (``Analyzer.associations_json(jsonl=True)``, ``batch`` associations at a time), not
        ``Analyzer.report()``: its Python objects for every association at once took longer than the whole
        analysis on 100,000 associations (issue #12). The same bytes either way."""
        a = run.analyzer
        if (self.engine_text and a is not None and run.report_data is None and not run.options.filters.active
                and hasattr(a, "associations_json")):
            doc = build_document(run, associations=False)
            matched = doc["capture"]["associations"]
            if matched:
                self._start()
                write_bytes(self.out, (a.associations_json(s, s + batch, jsonl=True)
                                       for s in range(0, matched, batch)))
                self.records += matched
        else:
            doc = run.document
            for assoc in doc["associations"]:
                self.write({"type": "association", **assoc})
            matched = len(doc["associations"])
        capture = doc["capture"]
        self.write({
            "type": "summary",
            "schema_version": SCHEMA_VERSION,
            "interrupted": run.interrupted,
            "errors": doc["errors"],
            "files": doc["files"],
            "capture": capture,
            "associations_total": capture["associations"],
            "associations_matched": matched,
            "events_seen": dict(sorted(run.events_seen.items())),
            "events_written": run.events_written,
            "events_dropped": (capture.get("limits") or {}).get("events_dropped", 0),
            "elapsed_ns": run.elapsed_ns,
            **({"telecom": doc["telecom"]} if "telecom" in doc else {}),
        })
