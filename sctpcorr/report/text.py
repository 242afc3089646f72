"""The default, human-readable report of ``sctpcorr pcap`` (under 100 columns).

It renders the same document as ``--json`` (never computes protocol facts itself): a capture summary, then per
association a header, two per-direction tables (traffic; RTT), handshake/shutdown timings, a per-path table, the
busiest streams, and finally a footer with what was counted but not analysed, limits, filters and errors.
Times are shown in milliseconds (columns ``*_MS``, 4 significant digits), sizes in bytes; ``-`` means no value
(no sample).
"""

from __future__ import annotations

import datetime as _dt
import textwrap
from collections.abc import Callable, Sequence
from operator import itemgetter
from typing import Any

from sctpcorr.report.progress import human_bytes

__all__ = ["render", "WIDTH", "PPID_NAMES"]

WIDTH = 99  # maximum line length

# IANA SCTP Payload Protocol Identifiers most seen on telecom links (display only; JSON keeps the numbers).
PPID_NAMES: dict[int, str] = {
    1: "IUA", 2: "M2UA", 3: "M3UA", 4: "SUA", 5: "M2PA", 7: "H.248", 18: "S1AP", 19: "RUA", 20: "HNBAP",
    21: "ForCES-HP", 22: "ForCES-MP", 23: "ForCES-LP", 24: "SBc-AP", 25: "NBAP", 27: "X2AP", 29: "LCS-AP",
    31: "SABP", 43: "M2AP", 44: "M3AP", 46: "Diameter", 47: "Diameter-DTLS", 60: "NGAP", 61: "XnAP",
    62: "F1AP", 64: "E1AP",
}


# ---------------------------------------------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------------------------------------------
def _ms(ns: int | float | None) -> str:
    """Nanoseconds -> milliseconds with microsecond precision ('-' if unknown)."""
    return "-" if ns is None else f"{ns / 1e6:.3f}"


def _msc(ns: int | float | None) -> str:
    """Milliseconds for a table cell: 4 significant digits, at most 3 decimals (0.020, 69.64, 203.0, 31130),
    so a column stays narrow from loopback microseconds to RTO seconds. The JSON keeps every nanosecond."""
    if ns is None:
        return "-"
    ms = ns / 1e6
    a = abs(ms)
    decimals = 3 if a < 10 else 2 if a < 100 else 1 if a < 1000 else 0
    return f"{ms:.{decimals}f}"


def _n(v: Any) -> str:
    return "-" if v is None else str(v)


def _duration(ns: int | None) -> str:
    if ns is None:
        return "-"
    s = ns / 1e9
    if s < 1:
        return f"{ns / 1e6:.3f} ms"
    if s < 120:
        return f"{s:.3f} s"
    m, sec = divmod(int(s), 60)
    if m < 120:
        return f"{m} min {sec:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    t = _dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=_dt.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S") + f".{ns % 1_000_000_000 // 1000:06d} UTC"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _wrap(text: str, indent: str = "", sub: str | None = None) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=sub if sub is not None else
                         indent + "  ", break_on_hyphens=False, break_long_words=False) or [indent.rstrip()]


def _wrap_parts(head: str, parts: Sequence[str], indent: str = "  ", sub: int | None = None,
                sep: str = ", ") -> list[str]:
    """``indent + head`` then ``parts`` joined by ``sep``, breaking lines only between parts; continuation lines
    are indented by ``sub`` spaces (default: aligned after ``head``)."""
    pad = " " * (len(indent) + len(head) if sub is None else sub)
    lines: list[str] = []
    cur, fresh = indent + head, True
    glue, space = sep.rstrip(), sep[len(sep.rstrip()):]
    for i, part in enumerate(parts):
        piece = part + (glue if i < len(parts) - 1 else "")
        if not fresh and len(cur) + len(space) + len(piece) > WIDTH:
            lines.append(cur)
            cur = pad + piece
        else:
            cur += ("" if fresh else space) + piece
        fresh = False
    lines.append(cur)
    return lines


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ",
           align: str = "l") -> list[str]:
    """Columns separated by two spaces, aligned by ``align`` ('l' or 'r' per column; the last letter repeats).

    A first-column cell too long to fit within WIDTH (a long IPv6 path) goes on a line of its own above the
    other cells of its row, so the numbers never wrap.
    """
    n = len(headers)
    al = (align + align[-1] * n)[:n] if len(align) < n else align
    al = al[:1] + (al[1:] if len(align) > 1 else "r" * (n - 1))
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    rest = sum(widths[1:]) + 2 * (n - 1)
    budget = WIDTH - len(indent) - rest
    widths[0] = max([len(headers[0])] + [len(r[0]) for r in rows if len(r[0]) <= budget])

    def fmt(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, al)]
        return (indent + "  ".join(parts)).rstrip()

    out = [fmt(headers)]
    for r in rows:
        if len(r[0]) > widths[0]:
            out.append(indent + r[0])
            out.append(fmt([""] + list(r[1:])))
        else:
            out.append(fmt(r))
    return out


def _chunk_parts(chunks: dict[str, int] | None) -> list[str]:
    """['DATA 14', 'SACK 14', ...], most frequent first."""
    if not chunks:
        return ["none"]
    return [f"{k} {v}" for k, v in sorted(chunks.items(), key=lambda kv: (-kv[1], kv[0]))]


# ---------------------------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------------------------
def _summary(doc: dict[str, Any]) -> list[str]:
    cap = doc.get("capture", {})
    files = doc.get("files", [])
    total = cap.get("associations", len(doc.get("associations", [])))
    lines = [
        f"sctpcorr {doc.get('tool', {}).get('version', '')}: {_plural(len(files), 'file')}, "
        f"{_plural(cap.get('packets', 0), 'packet')} ({cap.get('sctp_packets', 0)} SCTP), "
        f"{_plural(total, 'association')}"
    ]
    for i, f in enumerate(files, 1):
        links = ",".join(lt.get("name", "?") for lt in f.get("link_types", [])) or "-"
        kind = f"{f.get('format') or '?'}{'.gz' if f.get('compressed') else ''}"
        size = human_bytes(f.get("size_bytes")) if f.get("size_bytes") is not None else "pipe"
        if f.get("format") is None:
            parts = [f"{f.get('path')}  (not a capture", size + ")"]
        else:
            parts = [f"{f.get('path')}  ({kind}", links, size, _plural(f.get("packets", 0), "packet")]
            parts[-1] += ", INCOMPLETE)" if f.get("error") else ")"
        lines += _wrap_parts(f"file {i}  ", parts, sub=10)
    first, last = cap.get("first_ts_ns"), cap.get("last_ts_ns")
    if first is not None:
        span = None if last is None else last - first
        lines.append(f"  time    {_when(first)}, lasting {_duration(span)}")
    if cap.get("chunks"):
        lines += _wrap_parts("chunks  ", _chunk_parts(cap.get("chunks")))
    return lines


def _endpoint(assoc: dict[str, Any], side: int) -> list[str]:
    """``A  10.0.0.1, 10.0.1.1  port 38412  vtag 0x1a2b3c4d  streams out/in 12/12  a_rwnd 106496``; the last two
    from A's INIT or B's INIT-ACK when the capture has it."""
    addrs = (assoc.get("addresses") or [[], []])[side] or []
    ports = assoc.get("ports") or [None, None]
    vtags = assoc.get("vtags") or [None, None]
    vt = "-" if vtags[side] is None else f"0x{vtags[side]:08x}"
    parts = [", ".join(addrs) or "?", f"port {_n(ports[side])}", f"vtag {vt}"]
    init = (assoc.get("init") or [None, None])[side]
    if init:
        parts += [f"streams out/in {_n(init.get('outbound_streams'))}/{_n(init.get('inbound_streams'))}",
                  f"a_rwnd {_n(init.get('a_rwnd'))}"]
    return _wrap_parts(f"{'AB'[side]}  ", parts, sep="  ")


def _assoc_header(assoc: dict[str, Any]) -> list[str]:
    addrs = assoc.get("addresses") or [[], []]
    ports = assoc.get("ports") or [None, None]
    a = f"{(addrs[0] or ['?'])[0]}:{_n(ports[0])}"
    b = f"{(addrs[1] or ['?'])[0]}:{_n(ports[1])}"
    first, last = assoc.get("first_ts_ns"), assoc.get("last_ts_ns")
    dur = None if first is None or last is None else last - first
    head = f"ASSOCIATION {assoc.get('id')}  {a} <-> {b}  {assoc.get('state', '?')}  {_duration(dur)}"
    if assoc.get("mid_association"):
        head += "  mid-association"
    lines = _wrap(head, "", "    ")
    lines += _endpoint(assoc, 0)
    lines += _endpoint(assoc, 1)
    dup = assoc.get("duplicate_packets") or 0
    pk = f"packets {assoc.get('packets', 0)}" + (f" (+{dup} duplicate frames ignored)" if dup else "")
    lines += _wrap_parts(f"{pk}  chunks ", _chunk_parts(assoc.get("chunks")), sub=4)
    return lines


def _directions(assoc: dict[str, Any]) -> list[str]:
    """Three per-direction tables: DATA and retransmissions; SACKs, window and flight; RTT and jitter."""
    dirs = assoc.get("directions") or {}
    keys = [k for k in ("A>B", "B>A") if k in dirs]
    if not keys:
        return []
    t1, t2, t3 = [], [], []
    for k in keys:
        d = dirs[k]
        rx = d.get("retransmissions") or {}
        t1.append([k, _n(d.get("packets")), _n(d.get("data_chunks")), _n(d.get("data_bytes")),
                   _n(d.get("unique_tsns")), _n(rx.get("total")), _n(rx.get("fast")), _n(rx.get("timeout")),
                   _n(rx.get("spurious"))])
        rw = d.get("a_rwnd") or {}
        fl = d.get("flight") or {}
        mean = fl.get("mean_bytes")
        t2.append([k, _n(d.get("sacks")), _n(d.get("gap_blocks")), _n(d.get("duplicate_tsns_reported")),
                   "-" if rw.get("min") is None else f"{rw.get('min')}..{rw.get('max')}",
                   _n(rw.get("zero_window_episodes")), _n(fl.get("max_bytes")),
                   "-" if mean is None else str(round(mean))])
        rtt = d.get("rtt") or {}
        t3.append([k + _SCOPE_MARK.get(d.get("rtt_scope"), ""), _n(rtt.get("samples")),
                   f"{_n(rtt.get('data_samples'))}/{_n(rtt.get('heartbeat_samples'))}/"
                   f"{_n(rtt.get('handshake_samples'))}",
                   _n(rtt.get("delayed_sack_samples")),
                   *(_msc(rtt.get(k)) for k in ("srtt_ns", "min_ns", "p50_ns", "p99_ns", "max_ns", "rto_ns")),
                   _msc(d.get("jitter_ns"))])
    lines = _table(["DIR", "PACKETS", "DATA", "DATA_BYTES", "UNIQUE_TSNS", "RETX", "FAST", "TIMEOUT", "SPURIOUS"],
                   t1)
    lines.append("")
    lines += _table(["DIR", "SACKS", "GAP_BLOCKS", "DUP_TSNS", "A_RWND_MIN..MAX", "ZERO_WIN", "FLIGHT_MAX_B",
                     "FLIGHT_MEAN_B"], t2)
    lines.append("")
    lines += _table(["DIR", "RTT_N", "DATA/HB/HS", "DLY_SACK", "SRTT_MS", "MIN_MS", "P50_MS", "P99_MS", "MAX_MS",
                     "RTO_MS", "JITTER_MS"], t3)
    lines += _vantage(assoc)
    return lines


# RTT marks: the capture point decides what an RTT measured on the wire covers (engine.md "Capture vantage point")
_SCOPE_MARK = {"turnaround": "*", "partial": "~"}
_POINT_TEXT = {"A": "capture next to A", "B": "capture next to B", "middle": "capture between A and B"}


def _vantage(assoc: dict[str, Any]) -> list[str]:
    """Where the capture was taken, and what the RTTs above therefore measure (footnotes to the marks)."""
    v = assoc.get("vantage") or {}
    a, b, full = v.get("a_side_rtt_ns"), v.get("b_side_rtt_ns"), v.get("full_rtt_ns")
    point = v.get("point") or "unknown"
    if a is None and b is None:
        return []
    sides = ", ".join(f"capture<->{e} {_ms(x)} ms" for e, x in (("A", a), ("B", b)) if x is not None)
    if point == "local":
        head = "A and B both on the capturing host (loopback or shared address): each RTT is the peer's turnaround"
    elif point in _POINT_TEXT:
        head = f"{_POINT_TEXT[point]} ({sides}, from {v.get('evidence')} minima)"
    elif a is None or b is None:
        head = f"capture point unknown: no RTT sample of {'A' if a is None else 'B'}'s side ({sides})"
    else:
        head = f"capture point unknown: too few samples to tell ({sides})"
    lines = _wrap(f"vantage    {head}", "  ", " " * 13)
    dirs = assoc.get("directions") or {}
    for k in ("A>B", "B>A"):
        d = dirs.get(k) or {}
        if d.get("rtt_scope") != "turnaround":
            continue
        near = k[-1]
        what = "SACK turnaround" if (d.get("rtt") or {}).get("data_samples") else "turnaround"
        note = f"* {k} RTT measured at {near}'s side: {near}'s {what}, not the path RTT"
        if full is not None:
            note += f" (full RTT about {_ms(full)} ms)"
        lines += _wrap(note, "  ", "    ")
    if any((dirs.get(k) or {}).get("rtt_scope") == "partial" for k in ("A>B", "B>A")):
        note = "~ each direction's RTT covers only its capture->peer->capture half"
        if full is not None:
            note += f"; full RTT about {_ms(full)} ms"
        lines += _wrap(note, "  ", "    ")
    return lines


def _handshake(assoc: dict[str, Any]) -> list[str]:
    hs = assoc.get("handshake") or {}
    lines = []
    if hs.get("init_ns") is None and hs.get("cookie_echo_ns") is None:
        lines.append("  handshake  not in the capture"
                     + (" (it starts mid-association)" if assoc.get("mid_association") else ""))
    else:
        parts = [f"INIT->INIT-ACK {_ms(hs.get('init_to_init_ack_ns'))} ms",
                 f"COOKIE-ECHO->COOKIE-ACK {_ms(hs.get('cookie_echo_to_cookie_ack_ns'))} ms",
                 f"setup {_ms(hs.get('setup_ns'))} ms",
                 f"INIT retries {_n(hs.get('init_retries'))}",
                 f"COOKIE-ECHO retries {_n(hs.get('cookie_echo_retries'))}"]
        if hs.get("collision"):
            parts.append("INIT collision")
        if hs.get("restarts"):
            parts.append(f"restarts {hs.get('restarts')}")
        lines += _wrap_parts("handshake  ", parts)
    sd = assoc.get("shutdown") or {}
    if sd.get("shutdown_ns") is not None:
        s = f"shutdown   SHUTDOWN->SHUTDOWN-COMPLETE {_ms(sd.get('duration_ns'))} ms"
        if sd.get("shutdown_complete_ns") is None:
            s = "shutdown   started, SHUTDOWN-COMPLETE not seen"
        lines += _wrap(s, "  ", "             ")
    ab = sd.get("abort")
    if ab:
        causes = ", ".join(f"{c.get('name')} ({c.get('code')})" for c in ab.get("causes") or []) or "no cause"
        lines += _wrap(f"abort      by {ab.get('by')} at {_when(ab.get('ts_ns'))}"
                       f"{', T bit set' if ab.get('t_bit') else ''}: {causes}", "  ", "             ")
    return lines


def _paths(assoc: dict[str, Any]) -> list[str]:
    paths = assoc.get("paths") or []
    if not paths:
        return []
    rows = []
    marks: set[str] = set()
    for p in paths:
        hb = p.get("heartbeats") or {}
        rtt = p.get("rtt") or {}
        srtt = rtt.get("srtt_ns")
        mark = _SCOPE_MARK.get(p.get("rtt_scope"), "") if srtt is not None else ""
        rows.append([f"{p.get('src')} -> {p.get('dst')}", _n(p.get("packets")), _n(p.get("data_chunks")),
                     _n(p.get("retransmissions")), _n(hb.get("sent")), _n(hb.get("acked")),
                     _n(hb.get("unanswered")), _n(rtt.get("samples")), _msc(srtt) + mark])
        if mark:
            marks.add(mark)
    if marks:  # keep the digits aligned: unmarked values get a blank where the mark would be
        for r in rows:
            r[-1] += "" if r[-1][-1] in "*~" else " "
    lines = _table(["PATH (SRC -> DST)", "PKTS", "DATA", "RETX", "HB_SENT", "HB_ACK", "HB_LOST", "RTT_N",
                    "SRTT_MS"], rows)
    if "*" in marks:
        lines.append("  * measured next to the receiving endpoint: its turnaround, not the path RTT")
    if "~" in marks:
        lines.append("  ~ measured between the endpoints: only the capture->receiver->capture half")
    return lines


def _ppids(ppids: dict[str, int] | None) -> str:
    if not ppids:
        return "-"
    items = sorted(ppids.items(), key=lambda kv: (-kv[1], kv[0]))
    top = int(items[0][0]) if str(items[0][0]).isdigit() else items[0][0]
    name = PPID_NAMES.get(top) if isinstance(top, int) else None
    s = f"{top} {name}" if name else str(top)
    return s + (f" +{len(items) - 1}" if len(items) > 1 else "")


def _streams(assoc: dict[str, Any], max_streams: int) -> list[str]:
    lines: list[str] = []
    for key, d in (assoc.get("directions") or {}).items():
        streams = d.get("streams") or []
        if not streams:
            continue
        ranked = sorted(streams, key=lambda s: (-(s.get("chunks") or 0), s.get("sid") or 0))
        shown = ranked if max_streams <= 0 else ranked[:max_streams]
        rows = [[_n(s.get("sid")), _n(s.get("chunks")), _n(s.get("bytes")), _n(s.get("ordered")),
                 _n(s.get("unordered")), _ppids(s.get("ppids")), _n(s.get("ssn_gaps")), _msc(s.get("jitter_ns"))]
                for s in shown]
        if lines:
            lines.append("")
        lines.append(f"  streams {key}: {len(streams)} used" + (", busiest first" if len(streams) > 1 else ""))
        lines += _table(["SID", "CHUNKS", "BYTES", "ORDERED", "UNORDERED", "PPID", "SSN_GAPS", "JITTER_MS"],
                        rows, indent="    ", align="rrrrrlrr")
        rest = ranked[len(shown):]
        if rest:
            lines.append(f"    ... {len(rest)} more streams ({sum(s.get('chunks') or 0 for s in rest)} chunks, "
                         f"{sum(s.get('bytes') or 0 for s in rest)} bytes)")
    return lines


def trouble(assoc: dict[str, Any] | tuple[Any, ...]) -> tuple[int, list[str]]:
    """What needs a look in an association (a report entry, or its ``Analyzer.summary()`` tuple): (a score to
    order by, the words that say why).  An ABORT first, then what cost time (timeout retransmissions,
    HEARTBEATs left unanswered: a path failing), then what shows pressure (zero windows, fast retransmissions,
    spurious ones)."""
    if isinstance(assoc, dict):
        from sctpcorr.wire.engine import summary_of

        assoc = summary_of(assoc)
    _id, state, _packets, fast, timeout, unknown, spurious, zero, hb_lost = assoc[:9]
    words, score = [], 0
    if state == "ABORTED":
        words.append("ABORT")
        score += 1_000_000
    for n, word, weight in ((timeout, "T3 rtx", 1000), (hb_lost, "HB lost", 1000), (zero, "zero win", 500),
                            (fast, "fast rtx", 10), (unknown, "other rtx", 10), (spurious, "spurious", 1)):
        if n:
            words.append(f"{word} {n}")
            score += weight * n
    return score, words


def _needs_a_look(s: tuple[Any, ...]) -> bool:
    """Has trouble() anything to say of this summary tuple (an ABORT, or one of the six counts it weighs)?"""
    return s[1] == "ABORTED" or any(s[3:9])


def _ranked(summaries: Sequence[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], dict[Any, list[str]]]:
    """The summaries, the ones that need a look first (trouble() score, then id), and trouble()'s words of those
    that need a look, by id.

    Most associations of a big capture have nothing to look at (score 0, no words): they are told apart without
    calling trouble() and follow the others in id order, as the sort by (-score, id) puts them (issue #12:
    100,000 associations)."""
    troubled = [s for s in summaries if _needs_a_look(s)]
    clean = [s for s in summaries if not _needs_a_look(s)] if troubled else list(summaries)
    scored = _scored(troubled)
    clean.sort(key=itemgetter(0))
    return [s for _t, s in scored] + clean, {s[0]: t[1] for t, s in scored}


def _scored(troubled: Sequence[tuple[Any, ...]]) -> list[tuple[tuple[int, list[str]], tuple[Any, ...]]]:
    return sorted(((trouble(s), s) for s in troubled), key=lambda t: (-t[0][0], t[1][0]))


_HEADS = ("ID", "STATE", "DURATION", "PACKETS", "RTT_MS", "A <-> B")


def _cells(ranked: Sequence[tuple[Any, ...]], ends: bool = True) -> tuple[list[str], ...]:
    """The overview's columns of these summary tuples: id, state, duration, packets, RTT, endpoints (left out
    when ``ends`` is false: the widths do not need them)."""
    ids = [str(x) for x in map(itemgetter(0), ranked)]
    states = [str(x or "?") for x in map(itemgetter(1), ranked)]
    durations = [_duration(None if first is None or last is None else last - first)
                 for first, last in map(itemgetter(16, 17), ranked)]
    packets = ["-" if x is None else str(x) for x in map(itemgetter(2), ranked)]
    rtts = [_msc(x) for x in map(itemgetter(18), ranked)]
    if not ends:
        return ids, states, durations, packets, rtts
    return ids, states, durations, packets, rtts, [
        f"{addr_a or '?'}:{_n(port_a)} <-> {addr_b or '?'}:{_n(port_b)}"
        for port_a, port_b, addr_a, addr_b in map(itemgetter(12, 13, 14, 15), ranked)]


def _widths(cells: tuple[list[str], ...], widths: Sequence[int] | None = None) -> list[int]:
    """The fixed columns' widths: the heads', or ``widths`` so far, widened by these cells."""
    base = widths if widths is not None else [len(h) for h in _HEADS[:5]]
    return [max(w, max(map(len, col), default=0)) for w, col in zip(base, cells[:5])]


def _overview_lines(ranked: Sequence[tuple[Any, ...]], cells: tuple[list[str], ...], widths: Sequence[int],
                    looks: dict[Any, list[str]], head: bool) -> list[str]:
    """Lines of the overview for these summary tuples and their cells, the columns ``widths`` wide (each cell
    rjust/ljust to its width, align "rlrrr", two spaces apart, then the endpoints); the heads first if asked."""
    fmt = "  {:>%d}  {:<%d}  {:>%d}  {:>%d}  {:>%d}  {}" % tuple(widths)
    out = [fmt.format(*_HEADS)] if head else []
    lead = " " * (sum(widths) + 2 * len(widths) + 2)
    look_first, look_sub = " " * (widths[0] + 4), " " * (widths[0] + 6)
    for s, line in zip(ranked, map(fmt.format, *cells)):
        if len(line) <= WIDTH:                       # what textwrap would give, 100,000 times faster to say
            out.append(line.rstrip())
        else:
            out += _wrap(line, "", lead)
        if looks and s[0] in looks:
            out += _wrap("needs a look: " + ", ".join(looks[s[0]]), look_first, look_sub)
    return out


def _overview(ranked: Sequence[tuple[Any, ...]], looks: dict[Any, list[str]]) -> list[str]:
    """One line per association (``_ranked``: its ``Analyzer.summary()`` tuple, in order, and what needs a look
    by id): the numbers, then its endpoints (wrapped when long: IPv6); what needs a look on the line below, when
    anything does. Written column by column, one format per line (100,000 lines: issue #12)."""
    cells = _cells(ranked)
    return _overview_lines(ranked, cells, _widths(cells), looks, head=True)


def _footer(doc: dict[str, Any]) -> list[str]:
    cap = doc.get("capture", {})
    lim = cap.get("limits") or {}
    unknown = sum((cap.get("unknown_chunk_types") or {}).values())
    sctp = cap.get("sctp_packets", 0)
    bad = cap.get("bad_checksum", 0)
    offload = "; NIC checksum offload?" if sctp and bad and bad * 2 >= sctp else ""
    lines = _wrap_parts("Counted, not analysed: ", [
        f"{cap.get('malformed', 0)} malformed",
        f"{bad} bad checksum (analysed anyway{offload})",
        f"{cap.get('unchecked_checksum', 0)} unverifiable checksum",
        f"{cap.get('duplicates', 0)} duplicate frames",
        f"{cap.get('icmp_quoted_sctp', 0)} ICMP-quoted SCTP",
        f"{cap.get('truncated_packets', 0)} truncated",
        f"{cap.get('ip_fragments', 0)} IP fragments ({cap.get('reassembled', 0)} reassembled, "
        f"{cap.get('reassembly_dropped', 0)} dropped)",
        f"{unknown} chunks of unknown type"], indent="", sub=2)
    folded = {k: lim.get(k, 0) for k in ("assocs_folded", "assocs_folded_idle")}
    hit = {k: v for k, v in lim.items() if v and k not in folded}
    if any(folded.values()):    # not a limit: those associations are reported in full (docs/limits.md)
        lines += _wrap(f"Memory: {folded['assocs_folded']} associations that ended and "
                       f"{folded['assocs_folded_idle']} idle ones were folded to a temporary file (--linger, "
                       "--idle-timeout) and read back for this report.", "", "  ")
    if hit:
        lines += _wrap("LIMITS REACHED: " + ", ".join(f"{k} {v}" for k, v in hit.items())
                       + " (see --max-assocs / --max-outstanding)", "", "  ")
    else:
        lines.append("Limits: none reached.")
    for f in doc.get("files", []):
        if f.get("caplen_gt_origlen"):
            lines += _wrap(f"Note: {f.get('path')}: {f['caplen_gt_origlen']} records claim more captured than "
                           "original bytes (invalid; analysed with the captured bytes).", "", "  ")
    filt = doc.get("filters") or {}
    if any(filt.get(k) for k in ("assoc", "port", "addr")):
        args = " ".join(f"--{k} {v}" for k in ("assoc", "port", "addr") for v in filt.get(k) or [])
        lines += _wrap(f"Filter {args}: {len(doc.get('associations', []))} of "
                       f"{cap.get('associations', 0)} associations shown; capture totals are for all traffic.",
                       "", "  ")
    if doc.get("interrupted"):
        lines.append(f"INTERRUPTED (Ctrl-C) after {cap.get('packets', 0)} packets: this report covers only the "
                     "part read.")
    for e in doc.get("errors", []):
        lines += _wrap(f"INCOMPLETE: {e}", "", "  ")
    return lines


def _head(doc: dict[str, Any]) -> list[str]:
    """The report's opening: the capture summary, then (--telecom) what the user messages say."""
    out = _summary(doc)
    if doc.get("telecom") is not None:
        from sctpcorr.report.telecom import render as telecom

        out += [""] + telecom(doc["telecom"])
    return out


def _details_note(shown: int, rest: int) -> list[str]:
    """The line between the overview and the details: how many follow, how to see the others."""
    return [""] + _wrap(f"Details of the first {shown} above; {rest} more with --details all, or one with "
                        "--assoc ID." if shown else
                        "Details: --details N for the first N above, --assoc ID for one.", "", "  ")


def _details(assoc: dict[str, Any], max_streams: int) -> list[str]:
    """One association in detail: its header, directions, handshake, paths and streams."""
    out = _assoc_header(assoc)
    out.append("")
    out += _directions(assoc)
    out.append("")
    out += _handshake(assoc)
    p = _paths(assoc)
    if p:
        out.append("")
        out += p
    s = _streams(assoc, max_streams)
    if s:
        out.append("")
        out += s
    return out


def render(doc: dict[str, Any], max_streams: int = 10, details: int = 5,
           summaries: Sequence[tuple[Any, ...]] | None = None,
           entry: Callable[[int], dict[str, Any]] | None = None) -> str:
    """The whole text report for a ``--json`` document: the summary, with several associations an overview (one
    line each, the ones that need a look first), then the details of the first ``details`` of them (< 0: all;
    associations picked with --assoc: all of those); ``max_streams`` <= 0 shows every stream.  A caller that has
    the engine passes its ``summaries`` (``Analyzer.summary()``) and ``entry`` (``Analyzer.association``) and a
    document without its associations: only the few shown in detail are then made (issue #12)."""
    from sctpcorr.wire.engine import summary_of

    out = _head(doc)
    if summaries is None:
        by_id = {a["id"]: a for a in doc.get("associations", [])}
        summaries = [summary_of(a) for a in by_id.values()]
        entry = by_id.__getitem__
    assert entry is not None
    if not summaries:
        out += ["", "No SCTP association" + (" matches the filters." if any(
            (doc.get("filters") or {}).get(k) for k in ("assoc", "port", "addr")) else " in the capture.")]
    shown = [s[0] for s in summaries]
    if len(summaries) > 1:
        ranked, looks = _ranked(summaries)
        out += ["", f"ASSOCIATIONS ({len(summaries)}), the ones that need a look first (RTT_MS: the median sample)"]
        out += _overview(ranked, looks)
        picked = bool((doc.get("filters") or {}).get("assoc"))
        if details >= 0 and not picked and len(summaries) > details:
            shown = [s[0] for s in ranked[:details]]
            rest = len(summaries) - len(shown)
            out += _details_note(len(shown), rest)
    for aid in shown:
        out.append("")
        out += _details(entry(aid), max_streams)
    out.append("")
    out += _footer(doc)
    return "\n".join(out) + "\n"


def write_run(out: Any, doc: dict[str, Any], analyzer: Any, max_streams: int = 10, details: int = 5,
              batch: int = 4096) -> None:
    """``render(doc, summaries=analyzer.summary(), entry=analyzer.association)`` written to ``out`` as it is
    made, the summaries read ``batch`` at a time (twice: the columns' widths, then the lines): with a million
    associations the overview is never held whole, nor are their summaries; only those that need a look (and
    the ids of the first ``details``) are kept to rank them. The same text as render() (issue #12)."""
    n = analyzer.associations_count
    if n <= 1:                                   # no overview: render() as it is
        out.write(render(doc, max_streams=max_streams, details=details, summaries=analyzer.summary(),
                         entry=analyzer.association))
        return

    def batches() -> Any:
        for start in range(0, n, batch):
            yield analyzer.summary(start, start + batch)

    troubled: list[tuple[Any, ...]] = []
    widths: list[int] | None = None
    first_clean: list[int] = []
    for b in batches():
        widths = _widths(_cells(b, ends=False), widths)
        troubled += [s for s in b if _needs_a_look(s)]
        if details > 0 and len(first_clean) < details:
            first_clean += [s[0] for s in b if not _needs_a_look(s)][:details - len(first_clean)]
    assert widths is not None
    scored = _scored(troubled)
    looks = {s[0]: t[1] for t, s in scored}
    head = _head(doc)
    head += ["", f"ASSOCIATIONS ({n}), the ones that need a look first (RTT_MS: the median sample)"]
    ranked_troubled = [s for _t, s in scored]
    head += _overview_lines(ranked_troubled, _cells(ranked_troubled), widths, looks, head=True)
    out.write("\n".join(head) + "\n")
    for b in batches():
        clean = [s for s in b if not _needs_a_look(s)]
        if clean:
            out.write("\n".join(_overview_lines(clean, _cells(clean), widths, looks, head=False)) + "\n")
    picked = bool((doc.get("filters") or {}).get("assoc"))
    tail: list[str] = []
    if details >= 0 and not picked and n > details:
        shown = ([s[0] for s in ranked_troubled] + first_clean)[:details]
        rest = n - len(shown)
        tail += _details_note(len(shown), rest)
    else:
        shown = [s[0] for b in batches() for s in b]     # render(): all of them, in id order
    out.write("\n".join(tail) + ("\n" if tail else ""))
    for aid in shown:
        out.write("\n".join([""] + _details(analyzer.association(aid), max_streams)) + "\n")
    out.write("\n".join([""] + _footer(doc)) + "\n")
