"""``--json``: the whole report as one JSON document (docs/output.md describes every field).

Layout: one top-level key per line, and one line per entry of ``files`` and ``associations``. It is valid JSON
for any parser, easy to grep or diff per association, and written piece by piece (an indented dump runs
Python's pure-Python encoder and took as long as the analysis itself on a million packets). For an indented
view: ``sctpcorr pcap --json x.pcap | jq .``

Each piece is encoded by the engine's ``json_encode`` (sctpcorr/wire/_engine/jsonenc.c), which writes exactly
what ``json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))`` writes, about 6 times
faster (bench/out/corpus-1m.pcap: 16 MB for 3,111 associations, 0.33 s of CPU with the json module, 0.05 s
with it). A value it does not handle (it raises TypeError) and the case where the engine is not built go
through the json module, so the output never depends on which encoder ran.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["write", "write_run", "write_bytes", "encode"]

_std_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode
_PER_LINE = ("files", "associations")


def _engine_encoder() -> Callable[[Any], str] | None:
    try:
        from sctpcorr.wire._engine import json_encode
    except ImportError:  # engine not built (or an older build): the json module does it all
        return None
    return json_encode  # type: ignore[no-any-return]


_fast_encode = _engine_encoder()


def _encode(value: Any) -> str:
    if _fast_encode is not None:
        try:
            return _fast_encode(value)
        except TypeError:  # not a plain report value: the json module encodes it, or raises its own error
            pass
    return _std_encode(value)


def encode(value: Any) -> str:
    """One value as compact JSON (the engine's encoder when it can)."""
    return _encode(value)


def write(doc: dict[str, Any], out: TextIO, per_line: tuple[str, ...] = _PER_LINE,
          streams: dict[str, Callable[[TextIO], None]] | None = None) -> None:
    """Write the document followed by a newline, one line per entry of the lists named in ``per_line``. Keys
    keep the document's order (stable output). ``streams``: keys whose entry lines a function writes instead
    (the list in ``doc`` holds a placeholder: ``[None]`` when there are entries, ``[]`` when none)."""
    out.write("{\n")
    last = len(doc) - 1
    for i, (key, value) in enumerate(doc.items()):
        comma = "," if i < last else ""
        if streams and key in streams and value:
            out.write(f" {_encode(key)}: [\n")
            streams[key](out)
            out.write(f" ]{comma}\n")
        elif key in per_line and isinstance(value, list) and value:
            out.write(f" {_encode(key)}: [\n")
            n = len(value) - 1
            for j, item in enumerate(value):
                out.write(f"  {_encode(item)}{',' if j < n else ''}\n")
            out.write(f" ]{comma}\n")
        else:
            out.write(f" {_encode(key)}: {_encode(value)}{comma}\n")
    out.write("}\n")


def write_run(run: Any, out: TextIO, batch: int = 128) -> None:
    """The --json document of a ``PcapRun``, its associations written as the engine writes them
    (``Analyzer.associations_json``: the same text, without making the report's Python objects: issue #12),
    ``batch`` at a time; with association filters, or no engine, through the document (``write``).

    128 associations (~750 KB of text) a batch: the engine's buffer and the bytes made of it stay in the cache
    and their memory is reused; 2,000 a batch (12 MB) cost 7 % more CPU on the scale corpus (fresh pages each
    time), and the Python call per batch is nothing beside the writing."""
    from sctpcorr.pipeline import build_document

    a = run.analyzer
    if a is None or run.options.filters.active or not hasattr(a, "associations_json"):
        write(run.document, out)
        return
    doc = build_document(run, associations=False)
    n = doc["capture"]["associations"]
    doc["associations"] = [None] if n else []

    def associations(out: TextIO) -> None:
        write_bytes(out, (a.associations_json(s, s + batch, lines=True) for s in range(0, n, batch)))
    write(doc, out, streams={"associations": associations})


def write_bytes(out: TextIO, pieces: Any) -> None:
    """UTF-8 ``pieces`` (bytes) written to a text stream: straight to its byte stream when it has one."""
    raw = getattr(out, "buffer", None)
    if raw is not None:
        out.flush()
    for p in pieces:
        if raw is not None:
            raw.write(p)
        else:
            out.write(p.decode("utf-8"))
