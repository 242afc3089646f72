"""Analyzer.associations_json(): each association's report entry written as JSON text straight from the
engine's state, held to json_encode(association(id)) (the Python objects the report is made of) on every capture
of the corpus and on the project's lab bundles."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sctpcorr.wire._engine import json_encode

ROOT = Path(__file__).resolve().parents[2]


def _captures():
    from corpora import CORPUS

    out = sorted(ROOT.glob("pcaps/lab/*/*.pcapng.gz"))
    if CORPUS.is_dir():
        out += sorted(p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))
    return out


def _analysed(path):
    from corpora import analysed

    return analysed(path)


@pytest.mark.parametrize("path", _captures(), ids=lambda p: str(p).split("pcaps/")[-1])
def test_the_json_text_of_every_association_is_its_report_entry(path):
    a = _analysed(path)
    report = a.report()["associations"]
    texts = a.associations_json()
    assert texts == [json_encode(x) for x in report]
    assert [json.loads(t) for t in texts] == report
    if len(texts) > 2:                          # a range
        assert a.associations_json(1, 3) == texts[1:3]
    assert a.associations_json(len(texts), None) == []


@pytest.mark.parametrize("path", _captures(), ids=lambda p: str(p).split("pcaps/")[-1])
def test_the_csv_rows_the_engine_writes_are_report_csv_rows(path):
    import csv
    import io

    from sctpcorr.report.csv import rows

    a = _analysed(path)
    want = io.StringIO()
    csv.writer(want, lineterminator="\n").writerows(rows({"associations": a.report()["associations"]}))
    assert a.associations_json(csv=True).decode() == want.getvalue()
