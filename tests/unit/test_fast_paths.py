"""The engine's fast paths give exactly what the plain paths give.

* ``_engine.json_encode`` (used by ``sctpcorr pcap --json``) writes character for character what the json module
  writes with the same settings, on real reports and on crafted values, and refuses (TypeError) what it does not
  handle, so that sctpcorr/report/json.py falls back to the json module.
* feed_capture() parses blocks in place (zero copy) and analyses records a few steps behind reading them
  (prefetch look-ahead): any split of a real capture into blocks gives the same report, events and per-file
  information as one block.
"""
from __future__ import annotations

import enum
import io
import json
import random

import pytest

from corpora import corpus_files, file_id

STD = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": ")).encode


@pytest.fixture(scope="module")
def json_encode():
    from sctpcorr.wire._engine import json_encode as f

    return f


class _IntE(enum.IntEnum):
    A = 5


class _StrE(str, enum.Enum):
    X = 'x"y'


CRAFTED = [
    None, True, False, 0, -1, 255, 256, -2**63, 2**63 - 1, 2**63, -2**63 - 1, 2**200, 1.5, -0.0, 1e300, 0.1,
    "", "abc", "é\u2028\x7f", "".join(chr(i) for i in range(128)), "\U0001F600", [], {}, (), [[[]]],
    [1, [2, {"a": None}]], {"k": (1, 2)}, {"é": "ü", "": ""}, _IntE.A, _StrE.X, [True, 1, 1.0],
]


@pytest.mark.parametrize("value", CRAFTED, ids=range(len(CRAFTED)))
def test_json_encode_equals_json_module(json_encode, value):
    assert json_encode(value) == STD(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {1: 2}, {(1,): 2}, object(), b"x", {"a": {1}},
                                   "\udc80"], ids=str)
def test_json_encode_refuses_what_it_does_not_handle(json_encode, value):
    with pytest.raises(TypeError):
        json_encode(value)


def test_json_encode_refuses_a_cycle(json_encode):
    loop: list = []
    loop.append(loop)
    with pytest.raises(TypeError):
        json_encode(loop)


def test_json_encode_random_values(json_encode):
    rnd = random.Random(20261122)

    def gen(depth=0):
        r = rnd.random()
        if depth > 4 or r < 0.3:
            return rnd.choice([None, True, False, rnd.randint(-2**70, 2**70), rnd.randint(-5, 300),
                               rnd.uniform(-1e9, 1e9),
                               "".join(chr(rnd.choice([rnd.randint(0, 0x7f), rnd.randint(0x80, 0xd7ff),
                                                       rnd.randint(0xe000, 0x10ffff)]))
                                       for _ in range(rnd.randint(0, 8)))])
        if r < 0.6:
            return [gen(depth + 1) for _ in range(rnd.randint(0, 5))]
        return {"".join(chr(rnd.randint(0, 0x3000)) for _ in range(rnd.randint(0, 5))): gen(depth + 1)
                for _ in range(rnd.randint(0, 5))}

    for _ in range(3000):
        v = gen()
        assert json_encode(v) == STD(v)


def _feed(Analyzer, data: bytes, sizes) -> tuple:
    a = Analyzer(events=True)
    err, events, pos = None, [], 0
    try:
        while pos < len(data):
            k = sizes(len(data) - pos)
            a.feed_capture(data[pos:pos + k])
            pos += k
            events += a.drain_events()
    except ValueError as exc:
        err = str(exc)
    return err, a.finish_capture(), a.report(), events + a.drain_events()


@pytest.mark.parametrize("path", corpus_files(), ids=file_id)
def test_any_block_split_gives_the_same_analysis(Analyzer, json_encode, path):
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        pytest.skip("gzip: the engine reads what sctpcorr.sources gunzips")
    one = _feed(Analyzer, data, lambda left: left)
    rnd = random.Random(len(data))
    for plan in (lambda left: rnd.randint(1, min(left, 3000)), lambda left: 1 if rnd.random() < 0.8 else 97):
        if one[0] is None:  # no format error: the split cannot matter at all
            assert _feed(Analyzer, data, plan) == one
    # and the report of the real capture encodes like the json module encodes it
    for assoc in one[2]["associations"]:
        assert json_encode(assoc) == STD(assoc)
    assert json_encode(one[2]["capture"]) == STD(one[2]["capture"])


def test_json_writer_output_is_json_module_output(Analyzer):
    """sctpcorr/report/json.py with the fast encoder writes what it writes with the json module alone."""
    from sctpcorr.report import json as json_report

    files = [p for p in corpus_files() if not p.name.endswith(".gz")][:8]
    if not files:
        pytest.skip("no corpus")
    a = Analyzer()
    for p in files:
        a.feed_capture(p.read_bytes())
        a.finish_capture()
    doc = {"schema_version": 1, "files": [{"path": str(p)} for p in files], "capture": a.report()["capture"],
           "associations": a.report()["associations"]}
    fast, slow = io.StringIO(), io.StringIO()
    json_report.write(doc, fast)
    saved = json_report._fast_encode
    try:
        json_report._fast_encode = None
        json_report.write(doc, slow)
    finally:
        json_report._fast_encode = saved
    assert fast.getvalue() == slow.getvalue()
    assert json.loads(fast.getvalue()) == json.loads(json.dumps(doc))
