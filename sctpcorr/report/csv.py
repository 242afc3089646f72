"""``--csv``: one row per association direction (two rows per association), header first.

Every column is documented in docs/output.md. Times are integer nanoseconds (``*_ns``), like the JSON; an empty
cell means "unknown / no sample". Address lists are space-separated.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["COLUMNS", "write", "write_run", "rows"]

Getter = Callable[[dict[str, Any], dict[str, Any], int], Any]


def _g(*keys: str) -> Getter:
    """Getter of a nested key of the direction dict."""

    def get(assoc: dict[str, Any], d: dict[str, Any], side: int) -> Any:
        v: Any = d
        for k in keys:
            if not isinstance(v, dict):
                return None
            v = v.get(k)
        return v

    return get


def _addrs(side_of: int) -> Getter:
    def get(assoc: dict[str, Any], d: dict[str, Any], side: int) -> Any:
        addresses = assoc.get("addresses") or [[], []]
        idx = side if side_of == 0 else 1 - side
        return " ".join(addresses[idx] or []) if idx < len(addresses) else ""

    return get


def _vtag(side_of: int) -> Getter:
    def get(assoc: dict[str, Any], d: dict[str, Any], side: int) -> Any:
        vtags = assoc.get("vtags") or [None, None]
        # vtags[i] is the tag endpoint i *receives*: the tag on the packets of this direction is the receiver's.
        return vtags[1 - side] if side_of == 0 else vtags[side]

    return get


COLUMNS: list[tuple[str, Getter]] = [
    ("assoc_id", lambda a, d, s: a.get("id")),
    ("direction", lambda a, d, s: "A>B" if s == 0 else "B>A"),
    ("state", lambda a, d, s: a.get("state")),
    ("mid_association", lambda a, d, s: a.get("mid_association")),
    ("src_port", _g("src_port")),
    ("dst_port", _g("dst_port")),
    ("src_addrs", _addrs(0)),
    ("dst_addrs", _addrs(1)),
    ("vtag", _vtag(0)),
    ("first_ts_ns", lambda a, d, s: a.get("first_ts_ns")),
    ("last_ts_ns", lambda a, d, s: a.get("last_ts_ns")),
    ("packets", _g("packets")),
    ("data_chunks", _g("data_chunks")),
    ("data_bytes", _g("data_bytes")),
    ("unique_tsns", _g("unique_tsns")),
    ("retx_total", _g("retransmissions", "total")),
    ("retx_fast", _g("retransmissions", "fast")),
    ("retx_timeout", _g("retransmissions", "timeout")),
    ("retx_unknown", _g("retransmissions", "unknown")),
    ("retx_spurious", _g("retransmissions", "spurious")),
    ("sacks", _g("sacks")),
    ("nr_sacks", _g("nr_sacks")),
    ("gap_blocks", _g("gap_blocks")),
    ("duplicate_tsns_reported", _g("duplicate_tsns_reported")),
    ("forward_tsns", _g("forward_tsns")),
    ("a_rwnd_initial", _g("a_rwnd", "initial")),
    ("a_rwnd_min", _g("a_rwnd", "min")),
    ("a_rwnd_max", _g("a_rwnd", "max")),
    ("a_rwnd_last", _g("a_rwnd", "last")),
    ("zero_window_episodes", _g("a_rwnd", "zero_window_episodes")),
    ("flight_max_bytes", _g("flight", "max_bytes")),
    ("flight_max_chunks", _g("flight", "max_chunks")),
    ("flight_mean_bytes", _g("flight", "mean_bytes")),
    ("rtt_samples", _g("rtt", "samples")),
    ("rtt_data_samples", _g("rtt", "data_samples")),
    ("rtt_heartbeat_samples", _g("rtt", "heartbeat_samples")),
    ("rtt_handshake_samples", _g("rtt", "handshake_samples")),
    ("rtt_delayed_sack_samples", _g("rtt", "delayed_sack_samples")),
    ("rtt_min_ns", _g("rtt", "min_ns")),
    ("rtt_mean_ns", _g("rtt", "mean_ns")),
    ("rtt_p50_ns", _g("rtt", "p50_ns")),
    ("rtt_p90_ns", _g("rtt", "p90_ns")),
    ("rtt_p99_ns", _g("rtt", "p99_ns")),
    ("rtt_max_ns", _g("rtt", "max_ns")),
    ("srtt_ns", _g("rtt", "srtt_ns")),
    ("rttvar_ns", _g("rtt", "rttvar_ns")),
    ("rto_ns", _g("rtt", "rto_ns")),
    ("jitter_ns", _g("jitter_ns")),
    ("streams", lambda a, d, s: len(d.get("streams") or ())),
    ("rtt_scope", _g("rtt_scope")),
    ("vantage_point", lambda a, d, s: (a.get("vantage") or {}).get("point")),
    ("vantage_full_rtt_ns", lambda a, d, s: (a.get("vantage") or {}).get("full_rtt_ns")),
]


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return round(v, 3)
    return v


def rows(doc: dict[str, Any]) -> list[list[Any]]:
    """The data rows (without the header), in association id order, A>B before B>A."""
    out = []
    for assoc in doc.get("associations", []):
        directions = assoc.get("directions") or {}
        for side, key in enumerate(("A>B", "B>A")):
            d = directions.get(key) or {}
            out.append([_cell(get(assoc, d, side)) for _, get in COLUMNS])
    return out


def write(doc: dict[str, Any], out: TextIO) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow([name for name, _ in COLUMNS])
    w.writerows(rows(doc))


def write_run(run: Any, out: TextIO, batch: int = 2000) -> None:
    """The CSV of a ``PcapRun``: its rows written by the engine from its state (``Analyzer.associations_json(...,
    csv=True)``: the same rows as :func:`rows`, without making the report's Python objects: issue #12),
    ``batch`` associations at a time; with association filters, or no engine, through the document."""
    a = run.analyzer
    if a is None or run.options.filters.active or not hasattr(a, "associations_json"):
        write(run.document, out)
        return
    from sctpcorr.report.json import write_bytes

    csv.writer(out, lineterminator="\n").writerow([name for name, _ in COLUMNS])
    n = a.associations_count
    write_bytes(out, (a.associations_json(s, s + batch, csv=True) for s in range(0, n, batch)))
