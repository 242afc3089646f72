"""atheris target: a capture file through ``sctpcorr pcap``'s pipeline (sctpcorr/sources/pcapfile.py: the format
and gzip by magic bytes; the engine bindings; sctpcorr/pipeline.py's per-file errors and the document; the
telecom layer over the engine's payloads and events), as ``sctpcorr pcap --jsonl --telecom FILE`` runs it.

Contract: ``run_pcap`` returns every input problem in ``run.errors`` (a sctpcorr InputError) and raises nothing;
the document it builds is JSON."""
from __future__ import annotations

import json

from _common import imports, main, scratch

with imports(__name__):
    # run_pcap imports the telecom layer lazily: imported here so that it is instrumented too
    import sctpcorr.sources.pcapfile
    import sctpcorr.telecom.columns
    import sctpcorr.telecom.core
    import sctpcorr.telecom.payloads  # noqa: F401
    from sctpcorr.errors import InputError
    from sctpcorr.pipeline import PcapOptions, build_document, run_pcap


def test_one_input(data: bytes) -> None:
    path = scratch(data)
    events: list[dict] = []
    run = run_pcap(PcapOptions(files=(path,), events=True, telecom=True), on_events=events.extend)
    assert all(isinstance(e, InputError) for e in run.errors), run.errors
    json.dumps(build_document(run), allow_nan=False, default=str)
    json.dumps(events, default=str)


if __name__ == "__main__":
    main(test_one_input)
