"""The wire engine's Python face: ``Analyzer`` and the tables that name what it reports.

The analysis itself is C (``sctpcorr.wire._engine``, built from ``sctpcorr/wire/_engine/*.c``); the contract
(constructor options, ``report()`` keys, event tuples) is docs/design/engine.md. This module re-exports the
class and adds the vocabulary a consumer needs to interpret its output without hard-coding strings:

>>> a = Analyzer(events=True)                      # doctest: +SKIP
>>> a.feed_capture(open("x.pcap", "rb").read())    # doctest: +SKIP
>>> a.finish_capture()["format"]                   # doctest: +SKIP
'pcap'
>>> a.report()["associations"][0]["state"]         # doctest: +SKIP
'ESTABLISHED'
>>> [event_fields(e) for e in a.drain_events()][0]  # doctest: +SKIP
{'kind': 'assoc_new', 'ts_ns': ..., 'frame_no': 1, 'assoc_id': 1, 'ports': (36412, 36412), ...}

Like the rest of ``sctpcorr.wire`` this module does no I/O: callers read files and hand bytes in.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final, Mapping, Sequence

from sctpcorr.errors import EngineUnavailable

try:
    from sctpcorr.wire import _engine
except ImportError as exc:  # not built, or built for another interpreter
    raise EngineUnavailable(
        f"the C wire engine sctpcorr.wire._engine does not load ({exc}); build it with "
        "`python setup.py build_ext --inplace` or reinstall sctpcorr"
    ) from exc

__all__ = [
    "Analyzer",
    "CHUNK_NAMES",
    "CHUNK_TYPES",
    "CAUSE_NAMES",
    "STATES",
    "DIRECTIONS",
    "EVENT_FIELDS",
    "SUMMARY_FIELDS",
    "summary_of",
    "LIMITS",
    "chunk_name",
    "cause_name",
    "event_fields",
]

#: The analyser (C type). ``Analyzer(events=False, dup_window_ns=5_000_000, max_assocs=1_000_000,
#: max_outstanding=65536, *, records=False, payloads=False, event_kinds=None)``; methods ``feed_capture``,
#: ``finish_capture``, ``feed_packet``, ``drain_events`` (``event_kinds``: queue only these kinds, names as in
#: EVENT_FIELDS), ``drain_payloads`` (user data for sctpcorr.telecom), ``drain_records`` (per-chunk binary records: read them with ``sctpcorr.wire.records``),
#: ``report``, ``association(id)`` (one association's report entry), ``summary()`` (a small tuple per association,
#: SUMMARY_FIELDS) and ``capture_summary()`` (the report's capture section). See docs/design/engine.md.
Analyzer = _engine.Analyzer

#: Chunk type -> RFC name as used in every ``chunks`` dict of the report ("DATA", "INIT-ACK", "I-FORWARD-TSN"...).
#: Types missing here are reported under ``capture.unknown_chunk_types`` by decimal type (and as "UNKNOWN" in an
#: association's ``chunks``).
CHUNK_NAMES: Final[Mapping[int, str]] = MappingProxyType(dict(_engine.CHUNK_NAMES))

#: RFC name -> chunk type (the reverse of CHUNK_NAMES).
CHUNK_TYPES: Final[Mapping[str, int]] = MappingProxyType({name: t for t, name in CHUNK_NAMES.items()})

#: Error cause code -> name (RFC 9260 §3.3.10, RFC 5061, RFC 4895), as used for ABORT causes.
CAUSE_NAMES: Final[Mapping[int, str]] = MappingProxyType(dict(_engine.CAUSE_NAMES))

#: Association states an association's ``state`` can take (the wire observer's view, RFC 9260 §4 names).
STATES: Final = (
    "COOKIE-WAIT",
    "COOKIE-ECHOED",
    "ESTABLISHED",
    "SHUTDOWN-PENDING",
    "SHUTDOWN-SENT",
    "SHUTDOWN-ACK-SENT",
    "CLOSED",
    "ABORTED",
)

#: Direction keys: "A>B" is what endpoint A sent (A = the INIT sender when the capture shows it).
DIRECTIONS: Final = ("A>B", "B>A")

#: Names of each event tuple's items after ``(kind, ts_ns, frame_no, assoc_id)`` (docs/design/engine.md, Events).
EVENT_FIELDS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "assoc_new": ("ports", "mid_association"),
        "state": ("old", "new", "chunk"),
        "rtt": ("direction", "src", "dst", "method", "rtt_ns", "tsn", "delayed_sack", "srtt_ns", "rttvar_ns",
                "rto_ns"),
        "retransmission": ("direction", "src", "dst", "tsn", "kind", "spurious", "since_first_ns", "first_frame"),
        "sack": ("direction", "cum_tsn_ack", "a_rwnd", "gap_blocks", "dup_tsns", "flight_bytes"),
        "window": ("direction", "a_rwnd", "zero"),
        "heartbeat_unanswered": ("direction", "src", "dst", "sent_ns"),
        "duplicate_frame": ("first_frame",),
        "abort": ("direction", "t_bit", "causes"),
        "spurious": ("direction", "src", "dst", "tsn", "first_frame", "reason"),
    }
)

#: Names of the items of each ``Analyzer.summary()`` tuple (one per association, both directions summed; retransmitted
#: DATA = fast + timeout + unknown, spurious is a subset of those).
SUMMARY_FIELDS: Final = ("id", "state", "packets", "fast", "timeout", "unknown", "spurious", "zero_windows",
                         "hb_unanswered", "srtt_ns", "vtag_a", "vtag_b", "port_a", "port_b", "addr_a", "addr_b",
                         "first_ts_ns", "last_ts_ns", "rtt_p50_ns")


def summary_of(a: dict[str, Any]) -> tuple[Any, ...]:
    """``Analyzer.summary()``'s tuple for one association entry of a report (the same fields, from the dict):
    addr_a/addr_b the first address of each end, rtt_p50_ns the larger of the directions' median RTT."""
    dirs = list((a.get("directions") or {}).values())
    rtx = [d.get("retransmissions") or {} for d in dirs]
    srtt = [(p.get("rtt") or {}).get("srtt_ns") for p in a.get("paths") or ()]
    srtt = [x for x in srtt if x is not None]
    p50 = [(d.get("rtt") or {}).get("p50_ns") for d in dirs]
    p50 = [x for x in p50 if x is not None]
    tags, ports = list(a.get("vtags") or [None, None]), list(a.get("ports") or [0, 0])
    addrs = a.get("addresses") or [[], []]
    return (a["id"], a.get("state") or "", a.get("packets", 0), *(sum(r.get(k, 0) for r in rtx)
                                                                   for k in ("fast", "timeout", "unknown", "spurious")),
            sum((d.get("a_rwnd") or {}).get("zero_window_episodes", 0) for d in dirs),
            sum((p.get("heartbeats") or {}).get("unanswered", 0) for p in a.get("paths") or ()),
            min(srtt) if srtt else None, tags[0], tags[1], ports[0], ports[1],
            (addrs[0] or [None])[0], (addrs[1] or [None])[0], a.get("first_ts_ns"), a.get("last_ts_ns"),
            max(p50) if p50 else None)

#: Fixed per-association table sizes of the engine (overflow is counted in ``capture.limits``).
LIMITS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "max_paths": _engine.MAX_PATHS,          # (src, dst) paths per association -> limits.paths_dropped
        "max_streams": _engine.MAX_STREAMS,      # streams per direction -> limits.streams_dropped
        "max_addresses": _engine.MAX_ADDRESSES,  # addresses per endpoint -> limits.addresses_dropped
        "max_ppids": _engine.MAX_PPIDS,          # distinct PPIDs per stream, more go to ppids["other"]
        "events_max": _engine.EVENTS_MAX,        # events held between drains -> limits.events_dropped
        "records_max": _engine.RECORDS_MAX,      # per-chunk records held between drains -> limits.records_dropped
    }
)


def chunk_name(chunk_type: int) -> str:
    """RFC name of a chunk type, or its decimal string when the type has no name ("DATA", "I-DATA", "77")."""
    return CHUNK_NAMES.get(chunk_type, str(chunk_type))


def cause_name(code: int) -> str | None:
    """Name of an error cause code, or None when unassigned."""
    return CAUSE_NAMES.get(code)


def event_fields(event: Sequence[Any]) -> dict[str, Any]:
    """One event tuple as a dict: ``kind``, ``ts_ns``, ``frame_no``, ``assoc_id`` and the names of EVENT_FIELDS.

    Items beyond the documented ones (a newer engine) are kept under ``"extra"``.
    """
    kind, ts_ns, frame_no, assoc_id, *rest = event
    out: dict[str, Any] = {"kind": kind, "ts_ns": ts_ns, "frame_no": frame_no, "assoc_id": assoc_id}
    names = EVENT_FIELDS.get(kind, ())
    out.update(zip(names, rest))
    if len(rest) > len(names):
        out["extra"] = list(rest[len(names):])
    return out
