"""Writers for ``sctpcorr correlate`` and ``sctpcorr validate``: text (under 100 columns), JSON, JSONL, CSV.

They render a ``sctpcorr.correlate.Correlation``; no protocol facts are computed here.  Times in the text are
milliseconds; every JSON time is integer ns and says its clock: ``kernel_mono`` (the recording's
CLOCK_MONOTONIC), or a capture's clock (``capture:<name>``, ns since the epoch as the capture file says).
"""
from __future__ import annotations

import csv
import textwrap
from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from sctpcorr import __version__
from sctpcorr.correlate import Correlation
from sctpcorr.correlate.checks import ms
from sctpcorr.correlate.model import VERDICTS

__all__ = ["render_text", "render_validate", "write_json", "write_jsonl", "write_csv", "verdict_counts",
           "CSV_FIELDS"]

WIDTH = 99
SIDE = ("A", "B")


def _wrap(text: str, indent: int, first: str = "") -> list[str]:
    return textwrap.wrap(text, width=WIDTH, initial_indent=first, subsequent_indent=" " * indent,
                         break_on_hyphens=False) or [first]


def _ms(ns: float | None, digits: int = 2) -> str:
    return "-" if ns is None else f"{ns / 1e6:.{digits}f}"


def verdict_counts(cx: Correlation) -> dict[str, int]:
    c = Counter(ch.verdict for ch in cx.checks)
    return {v: c.get(v, 0) for v in VERDICTS}


def _inputs(cx: Correlation) -> list[str]:
    out = []
    for cap in cx.captures:
        s = cap.summary()
        out += _wrap(f"{s['name']}  host {cap.host or '?'}, {s['packets']} packets, {s['associations']} "
                     "association(s)" + (f", {cap.meta['drops']} capture drops" if cap.meta.get("drops") else ""),
                     12, "  capture   ")
    for kv in cx.kernels:
        s = kv.summary()
        lo = s["losses"]
        lost = sum(lo["lost"].values())
        hosts = sorted(set(kv.end_host_labels) | ({kv.host} if kv.host else set()))
        out += _wrap(f"{s['name']}  {s['kernel'] or '?'} HZ {s['hz'] or '?'}, {s['source']}, {s['events']} events, "
                     f"{len(kv.ends)} association ends{' on ' + ', '.join(hosts) if hosts else ''}; lost {lost}, "
                     f"kprobe misses {lo['kprobe_missed']}" + ("; NO END RECORD" if lo["truncated"] else ""),
                     12, "  kernel    ")
    for (r, c), f in sorted(cx.clocks.items()):
        what = {"recorded": "recorded with the data", "estimated": "estimated from matched events",
                "one-sided": "bounded from one side only"}.get(f.method, f.method)
        unc = f" +- {f.uncertainty_ns / 1e3:.1f} us" if f.uncertainty_ns is not None else ""
        b = ""
        if f.lo_ns is not None and f.hi_ns is not None and f.offset_ns is not None:
            b = f"; matched events allow {_ms(f.lo_ns - f.offset_ns, 3)} .. +{_ms(f.hi_ns - f.offset_ns, 3)} ms"
        drift = f"; drift {f.rate_ppm:.2f} ppm" if f.rate_ppm else ""
        out += _wrap(f"{cx.captures[c].name} on {cx.kernels[r].name}'s monotonic clock: offset {what}{unc}{b}"
                     f"{drift}" if f.offset_ns is not None else
                     f"{cx.captures[c].name} vs {cx.kernels[r].name}: not aligned ({f.note})", 12, "  clock     ")
    return out


def _assoc_block(cx: Correlation, a: Any) -> list[str]:
    d = cx._assoc_dict(a)
    lines = [f"ASSOCIATION {a.id}  {a.name}  verdict: {d['verdict']}"]
    lines.append(f"  vtags {a.tags}")
    for side in (0, 1):
        s = a.sides[side]
        ks = [f"{cx.kernels[r].name} ({cx.kernels[r].host_of(e) or 'host ?'})" for r, e in s.kernel]
        near = [cx.captures[c].name for c in a.near[side]]
        lines += _wrap(f"{', '.join(sorted(s.addrs)) or '-'} port {s.ident[0] if s.ident else '?'}; kernel: "
                       f"{', '.join(ks) or 'not recorded'}; capture next to it: {', '.join(near) or 'none'}",
                       5, f"  {SIDE[side]}  ")
    rtt = d["rtt"]
    if rtt:
        lines.append("")
        lines.append("  KERNEL RTT SAMPLES, median parts (ms; kernel clock)")
        lines.append("  SENDER PATH              N  KERNEL  HOST_TX   WIRE  NET_OUT   PEER NET_BACK  HOST_RX  "
                     "JIFFY")
        for who, per in rtt.items():
            for p, v in per.items():
                q = v["median_parts_ns"]
                lines.append(f"  {who:<6} {p[:16]:<16} {v['samples']:>3} {_ms(v['kernel_rtt_median_ns']):>7} "
                             f"{_ms(q['host_tx_ns']):>8} {_ms(q['wire_rtt_ns']):>6} {_ms(q['net_out_ns']):>8} "
                             f"{_ms(q['peer_ns']):>6} {_ms(q['net_back_ns']):>8} {_ms(q['host_rx_ns']):>8} "
                             f"{_ms(q['quantisation_ns']):>6}")
        lines.append("  kernel = host_tx + wire + host_rx + jiffy; wire = net_out + peer + net_back when the "
                     "receiver's")
        lines.append("  side was captured too (peer: its turnaround, delayed SACK included)")
    tsn = []
    for side in (0, 1):
        dn = f"{SIDE[side]}>{SIDE[1 - side]}"
        cov = next((c for c in cx.checks if c.name == "tsn_coverage" and c.assoc == a.id and c.direction == dn), None)
        rtx = next((c for c in cx.checks if c.name == "retransmissions" and c.assoc == a.id and c.direction == dn),
                   None)
        if cov is None:
            continue
        n = cov.numbers
        kr = sum((rtx.numbers.get("kernel") or {}).values()) if rtx is not None else 0
        if "kernel_sent" not in n:
            continue
        tsn.append(f"{dn}: kernel sent {n['kernel_sent']} DATA chunks ({kr} retransmitted)"
                   + (f"; {n.get('capture')} shows {n.get('capture_shows')}" if n.get("capture") else ""))
    if tsn:
        lines.append("")
        for i, t in enumerate(tsn):
            lines += _wrap(t, 9, "  TSNs   " if i == 0 else "         ")
    jit = [j for j in cx.jitter if j["assoc"] == a.id]
    if jit:
        lines.append("")
        lines.append("  JITTER (each labelled by what it measures)")
        for j in jit:
            where = f"{j['direction']} {j['path']}" if j["path"] else j["direction"]
            lines += _wrap(f"{where}: {_ms(j['jitter_ns'], 3)} ms  {j['measure']}: {j['label']}", 6, "    ")
    return lines


def _checks_table(cx: Correlation, only: Iterable[int] | None = None) -> list[str]:
    lines = ["  VERDICT        CHECK            WHERE    WHY"]
    only = set(only) if only is not None else None
    for c in cx.checks:
        if only is not None and c.assoc is not None and c.assoc not in only:
            continue
        where = (f"{c.assoc} {c.direction or ''}".strip() if c.assoc is not None else "all")
        head = f"  {c.verdict.upper() if c.verdict == 'disagree' else c.verdict:<14} {c.name:<16} {where:<8} "
        lines += _wrap(c.sentence, 42, head)
        if c.weakened_by:
            lines += _wrap("weakened by: " + "; ".join(c.weakened_by), 42, " " * 42)
    return lines


def render_text(cx: Correlation, assocs: Iterable[int] | None = None) -> str:
    sel = set(assocs) if assocs else None
    counts = verdict_counts(cx)
    lines = [f"sctpcorr {__version__} correlate: {len(cx.captures)} capture(s), {len(cx.kernels)} kernel "
             f"recording(s), {len(cx.assocs)} association(s); verdict: {cx.verdict}"]
    lines += _inputs(cx)
    for a in cx.assocs:
        if sel is not None and a.id not in sel:
            continue
        lines.append("")
        lines += _assoc_block(cx, a)
    lines.append("")
    lines.append(f"CHECKS  {', '.join(f'{n} {v}' for v, n in counts.items() if n)}")
    lines += _checks_table(cx, sel)
    if cx.unjoined.get("wire_only") and cx.kernels:
        lines.append("")
        lines += _wrap("only in the captures (no kernel end recorded): " + ", ".join(
            f"{u['name']} in {cx.captures[u['capture']].name}" for u in cx.unjoined["wire_only"][:6]), 2, "")
    return "\n".join(lines) + "\n"


def render_validate(cx: Correlation) -> str:
    counts = verdict_counts(cx)
    lines = _checks_table(cx)
    ok = cx.verdict not in ("disagree", "not checkable")
    lines.append("")
    lines.append(f"validate: {len(cx.checks)} checks: " + ", ".join(f"{n} {v}" for v, n in counts.items()) +
                 f" -> {'PASS' if ok else 'FAIL'}" + ("" if ok else (
                     " (something disagrees beyond tolerance)" if cx.verdict == "disagree" else
                     " (nothing could be checked)")))
    return "\n".join(lines) + "\n"


def write_json(cx: Correlation, out: IO[str]) -> None:
    """One document, one line per association, clock, check, jitter figure and RTT sample (valid JSON for any
    parser; ``| jq .`` indents it)."""
    from sctpcorr.report import json as jsonout

    jsonout.write(cx.as_dict(samples=True), out, per_line=("clocks", "associations", "checks", "jitter",
                                                           "rtt_samples"))


def write_jsonl(cx: Correlation, out: IO[str]) -> None:
    """A ``correlate`` record (inputs, clocks), then per association its ``association`` record, one ``tsn``
    record per TSN and direction, one ``rtt_sample`` record per kernel RTT sample; then ``check`` and ``jitter``
    records and a closing ``summary``."""
    doc = cx.as_dict()

    from sctpcorr.report.json import encode

    def put(rec: dict[str, Any]) -> None:
        out.write(encode(rec) + "\n")

    put({"type": "correlate", "schema_version": doc["schema_version"], "tool": f"sctpcorr {__version__}",
         "inputs": doc["inputs"], "clocks": doc["clocks"], "tolerances": doc["tolerances"]})
    for a in doc["associations"]:
        put({"type": "association", **a})
    if cx.tsn_spill is not None:      # a windowed run: its TSN records are already written, line by line
        import shutil

        cx.tsn_spill.seek(0)
        shutil.copyfileobj(cx.tsn_spill, out)
    else:
        for rec in cx.tsn_records():
            put(rec)
    for row in cx.samples.rows():
        put(row)
    for c in doc["checks"]:
        put({"type": "check", **c})
    for j in doc["jitter"]:
        put({"type": "jitter", **j})
    put({"type": "summary", "verdict": doc["verdict"], "checks": verdict_counts(cx), "unjoined": doc["unjoined"]})


CSV_FIELDS = ["assoc", "sender", "kind", "path", "ts_ns", "tsn", "hb_nonce", "rtt_jiffies", "rtt_ns", "srtt_ns",
              "rto_ns", "match", "host_tx_ns", "wire_rtt_ns", "net_out_ns", "peer_ns", "net_back_ns", "host_rx_ns",
              "quantisation_ns", "tick_drift_ns", "stamp_jiffies"]


def write_csv(cx: Correlation, out: IO[str]) -> None:
    """One row per kernel RTT sample with its decomposition (kernel clock, ns)."""
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for row in cx.samples.rows():
        w.writerow(row)
