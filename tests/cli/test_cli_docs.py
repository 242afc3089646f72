"""docs/output.md documents every field the outputs really contain: each key found in the --json / --jsonl
output of real captures, every event field, every CSV column and every text-report column header."""

from __future__ import annotations

import json
import re

import pytest
from cli_helpers import CORPUS, ROOT, run_cli

from sctpcorr.pipeline import EVENT_FIELDS
from sctpcorr.report.csv import COLUMNS

DOC = (ROOT / "docs" / "output.md").read_text()
DOCUMENTED = set(re.findall(r"`([^`\s]+)`", DOC))
# Objects whose keys are data (chunk names, PPIDs, type numbers, event types, directions), not field names.
DATA_KEYED = {"chunks", "unknown_chunk_types", "duplicate_chunks", "ppids", "events_seen", "directions"}

CAPTURES = ["5Greplay/oai.pcap", "pkts/sctp-addip.cap", "PcapPlusPlus/ip-frag.pcap", "tcpdump/forces3.pcap",
            "tempo/nrmodulelogseNB2.pcap", "tempo/enb.pcap", "mrp/sctp.pcap", "dpkt_doc/sctp.cap"]


def keys_of(obj, parent="", out=None):
    out = set() if out is None else out
    if isinstance(obj, dict):
        for k, v in obj.items():
            if parent not in DATA_KEYED:
                out.add(k)
            keys_of(v, k, out)
    elif isinstance(obj, list):
        for v in obj:
            keys_of(v, parent, out)
    return out


def test_every_output_key_is_documented():
    paths = [CORPUS / c for c in CAPTURES if (CORPUS / c).is_file()]
    paths += sorted((ROOT / "pcaps").rglob("*.pcap*"))
    if not paths:
        pytest.skip("no captures found")
    seen: set[str] = set()
    for p in paths:
        for fmt in ("--json", "--jsonl"):
            r = run_cli("pcap", fmt, p)
            assert r.returncode in (0, 2), r.stderr
            for line in ([r.stdout] if fmt == "--json" else r.stdout.splitlines()):
                keys_of(json.loads(line), out=seen)
    missing = sorted(seen - DOCUMENTED)
    assert not missing, f"fields not documented in docs/output.md: {missing}"


def test_every_event_field_is_documented():
    for kind, fields in EVENT_FIELDS.items():
        assert kind in DOCUMENTED, kind
        for f in fields:
            assert f in DOCUMENTED, (kind, f)


def test_every_csv_column_is_documented():
    missing = [name for name, _ in COLUMNS if name not in DOCUMENTED]
    assert not missing


def test_every_text_column_is_documented():
    r = run_cli("pcap", CORPUS / "5Greplay/oai.pcap") if (CORPUS / "5Greplay/oai.pcap").is_file() else None
    if r is None:
        pytest.skip("corpus not found")
    headers = set()
    for line in r.stdout.splitlines():
        words = line.split()
        if words and words[0] in ("DIR", "SID"):
            headers.update(words)
    headers.update(("HB_SENT", "HB_ACK", "HB_LOST"))
    assert "`PATH (SRC -> DST)`" in DOC
    assert len(headers) > 20
    missing = sorted(h for h in headers if h not in DOCUMENTED and h != "DIR")
    assert not missing, missing
