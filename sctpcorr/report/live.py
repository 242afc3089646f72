"""What ``sctpcorr live`` shows once a second: a table of associations (rich, on a terminal) or one plain line.

Everything shown comes from the engine in a :class:`~sctpcorr.live.Tick`: every association's summary tuple, and
the full report entry of the rows shown (the top N after sorting, or the one drilled into).  The only thing
computed here is what needs two ticks: packets per second per association and which path carried its DATA (the
active path) in the last second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SORT_KEYS", "LiveView", "assoc_rows", "enrich", "event_text", "plain_line", "summary_lines"]

SORT_KEYS = ("packets", "rate", "rtt", "retx", "zero", "id")


def _ms(ns: int | float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.1f}"


def _both(assoc: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [d.get(key) or {} for d in (assoc.get("directions") or {}).values()]


@dataclass
class _Memory:
    packets: dict[int, int] = field(default_factory=dict)
    path_data: dict[tuple[int, str, str], int] = field(default_factory=dict)
    active: dict[int, str] = field(default_factory=dict)
    elapsed: float = 0.0


def assoc_rows(tick: Any, mem: _Memory) -> list[dict[str, Any]]:
    """One flat row per association from the tick's summary tuples (cheap, all of them): what the plain line
    totals and the table sorts.  ``enrich`` adds the details of the rows actually shown."""
    dt = max(tick.elapsed_s - mem.elapsed, 1e-9)
    rows = []
    for (aid, state, pk, fast, tmo, unk, spur, zero, hb, srtt, _ta, _tb, pa, pb, *_more) in tick.summary:
        rows.append({"id": aid, "ports": f"{pa}/{pb}", "state": state or "-", "packets": pk,
                     "rate": (pk - mem.packets.get(aid, 0)) / dt if mem.elapsed else 0.0,
                     "retx": fast + tmo + unk, "fast": fast, "timeout": tmo, "spurious": spur, "zero": zero,
                     "hb_lost": hb, "srtt_ns": srtt, "rtt_p50_ns": None, "paths": None, "active": "-",
                     "jitter_ns": None, "rwnd_min": None, "top_streams": "-"})
        mem.packets[aid] = pk
    mem.elapsed = tick.elapsed_s
    return rows


def enrich(row: dict[str, Any], a: dict[str, Any] | None, mem: _Memory) -> dict[str, Any]:
    """A shown row completed from the association's full entry: paths, the active one, RTT, jitter, windows."""
    if a is None:
        return row
    aid = row["id"]
    paths = a.get("paths") or []
    best, grew = None, 0
    for p in paths:
        k = (aid, p.get("src"), p.get("dst"))
        n = p.get("data_chunks", 0)
        d = n - mem.path_data.get(k, n)          # first time seen: no growth known yet
        mem.path_data[k] = n
        if d > grew:
            best, grew = f"{p.get('src')}>{p.get('dst')}", d
    if best:
        mem.active[aid] = best
    rtts = [p.get("rtt") or {} for p in paths if p.get("rtt_scope", "path") == "path"]
    srtt = [r.get("srtt_ns") for r in rtts if r.get("srtt_ns") is not None]
    p50 = [r.get("p50_ns") for r in rtts if r.get("p50_ns") is not None]
    jit = [d.get("jitter_ns") for d in (a.get("directions") or {}).values() if d.get("jitter_ns") is not None]
    rwnd = [w.get("min") for w in _both(a, "a_rwnd") if w.get("min") is not None]
    streams = [(s.get("chunks", 0), s.get("sid")) for d in (a.get("directions") or {}).values()
               for s in d.get("streams") or []]
    row.update(paths=len({frozenset((p.get("src"), p.get("dst"))) for p in paths}), active=mem.active.get(aid, "-"),
               rtt_p50_ns=min(p50) if p50 else None, srtt_ns=min(srtt) if srtt else None,
               jitter_ns=max(jit) if jit else None, rwnd_min=min(rwnd) if rwnd else None,
               top_streams=",".join(str(sid) for _n, sid in sorted(streams, reverse=True)[:3]) or "-")
    return row


def _sort(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    if key == "id":
        return sorted(rows, key=lambda r: r["id"])
    field_ = {"packets": "packets", "rate": "rate", "rtt": "srtt_ns", "retx": "retx", "zero": "zero"}[key]
    return sorted(rows, key=lambda r: (r[field_] is not None, r[field_] or 0), reverse=True)


def _drops(tick: Any) -> tuple[int, int]:
    return sum(s.dropped for s in tick.interfaces), sum(s.ifdropped for s in tick.interfaces)


def plain_line(tick: Any, rows: list[dict[str, Any]]) -> str:
    """One line per second when stdout is not a terminal (a log, a pipe)."""
    est = sum(1 for r in rows if r["state"] == "ESTABLISHED")
    kd, idr = _drops(tick)
    return (f"{tick.elapsed_s:7.1f}s packets {tick.packets} ({tick.packets_per_s:.0f}/s) "
            f"associations {len(rows)} ({est} established) retransmissions {sum(r['retx'] for r in rows)} "
            f"zero-windows {sum(r['zero'] for r in rows)} kernel-drops {kd} if-drops {idr}" + _links(tick)
            + _kernel_summary(tick))


def _kernel_summary(tick: Any) -> str:
    """`` kernel: 2 joined (agree 1, disagree 1)`` with --diag."""
    if tick.kernel is None:
        return ""
    v: dict[str, int] = {}
    for j in tick.kernel:
        v[j.verdict] = v.get(j.verdict, 0) + 1
    return f" kernel: {len(tick.kernel)} joined" + (" (" + ", ".join(f"{k} {n}" for k, n in sorted(v.items()))
                                                     + ")" if v else "")


def kernel_by_assoc(tick: Any) -> dict[int, Any]:
    return {j.assoc: j for j in tick.kernel or ()}


def _links(tick: Any) -> str:
    """`` rx0 DOWN`` for every interface not up (empty when all are)."""
    return "".join(f" {s.name} {'ENDED: ' + s.ended if s.ended else s.link.upper()}"
                   for s in tick.interfaces if s.ended or s.link != "up")


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """The closing summary (stderr), from the final document."""
    live = doc["live"]
    cap = doc["capture"]
    out = [f"sctpcorr live: stopped by {live['stopped_by']}: {cap.get('packets', 0)} packets, "
           f"{cap.get('associations', 0)} associations"]
    for s in live["interfaces"]:
        out.append(f"  {s['name']}: {s['packets']} packets captured, {s['received']} received by the filter, "
                   f"{s['dropped']} dropped by the kernel (ring full), {s['ifdropped']} by the interface"
                   + (f"; went down {s['went_down']} times" if s.get("went_down") else "")
                   + (f"; ended: {s['ended']}" if s.get("ended") else ""))
    if live["files_written"]:
        out.append("  written: " + ", ".join(live["files_written"]))
    if live.get("write_error"):
        out.append("  " + live["write_error"])
    k = live.get("kernel")
    if k:
        v: dict[str, int] = {}
        for j in k.get("associations") or ():
            v[j["verdict"]] = v.get(j["verdict"], 0) + 1
        line = (f"  kernel ({k['source']}): {len(k.get('associations') or ())} associations joined"
                + (" (" + ", ".join(f"{n} {name}" for name, n in sorted(v.items())) + ")" if v else ""))
        cx = k.get("correlation")
        if cx:
            line += f"; correlation: {cx.get('verdict')}"
        if k.get("recording"):
            line += f"; recording kept in {k['recording']}"
        out.append(line)
    return out


class LiveView:
    """The terminal view: a rich table refreshed every tick, or plain lines."""

    def __init__(self, *, tty: bool, sort: str = "packets", top: int = 30, assoc: int | None = None,
                 console: Any = None) -> None:
        self.tty, self.sort, self.top, self.assoc = tty, sort, top, assoc
        self.mem = _Memory()
        self._live = None
        self._console = console
        if tty:
            from rich.console import Console
            from rich.live import Live

            self._console = console or Console(stderr=False)
            self._live = Live(console=self._console, auto_refresh=False, transient=False)
            self._live.start()

    def update(self, tick: Any) -> None:
        rows = assoc_rows(tick, self.mem)
        if not self.tty:
            if not tick.final:
                print(plain_line(tick, rows), flush=True)
            return
        self._live.update(self._render(tick, rows), refresh=True)  # type: ignore[union-attr]

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()

    def _render(self, tick: Any, rows: list[dict[str, Any]]) -> Any:
        from rich.console import Group
        from rich.table import Table

        kd, idr = _drops(tick)
        head = (f"[b]sctpcorr live[/b] {', '.join(s.name for s in tick.interfaces)}  {tick.elapsed_s:.0f}s  "
                f"{tick.packets} packets ({tick.packets_per_s:.0f}/s)  {len(rows)} associations  "
                f"drops: kernel {kd}, interface {idr}")
        if _links(tick):
            head += f"  [red]{_links(tick)}[/red]"
        if tick.writer_error:
            head += f"\n[red]{tick.writer_error}[/red]"
        if self.assoc is not None:
            return Group(head, *self._drill(tick, rows))
        t = Table(box=None, pad_edge=False, header_style="bold")
        for col, j in (("ID", "right"), ("ports", "left"), ("state", "left"), ("paths", "right"),
                       ("active path", "left"), ("pkts/s", "right"), ("RTT p50 ms", "right"),
                       ("SRTT ms", "right"), ("jitter ms", "right"), ("retx f/t/s", "right"), ("rwnd min", "right"), ("zero", "right"),
                       ("HB lost", "right"), ("streams", "left")):
            t.add_column(col, justify=j)  # type: ignore[arg-type]
        kern = kernel_by_assoc(tick)
        if tick.kernel is not None:
            for col in ("k.SRTT ms", "k.RTO ms", "cwnd", "kernel vs wire"):
                t.add_column(col, justify="right" if col != "kernel vs wire" else "left")
        shown = [enrich(r, tick.association(r["id"]), self.mem) for r in _sort(rows, self.sort)[: self.top]]
        for r in shown:
            cells = [str(r["id"]), r["ports"], r["state"], str(r["paths"] or "-"), r["active"], f"{r['rate']:.0f}",
                     _ms(r["rtt_p50_ns"]), _ms(r["srtt_ns"]), _ms(r["jitter_ns"]),
                     f"{r['fast']}/{r['timeout']}/{r['spurious']}", "-" if r["rwnd_min"] is None else
                     str(r["rwnd_min"]), str(r["zero"]), str(r["hb_lost"]), r["top_streams"]]
            if tick.kernel is not None:
                j = kern.get(r["id"])
                cells += (["-", "-", "-", "not in the kernel's view"] if j is None else
                          [_ms(j.kernel.srtt_ns), _ms(j.kernel.rto_ns), str(j.kernel.cwnd), _verdict_cell(j)])
            t.add_row(*cells)
        more = f"  ... {len(rows) - len(shown)} more (--top, --sort {'|'.join(SORT_KEYS)})" \
            if len(rows) > len(shown) else ""
        return Group(head, t, more) if more else Group(head, t)

    def _drill(self, tick: Any, rows: list[dict[str, Any]]) -> list[Any]:
        from rich.table import Table

        a = tick.association(self.assoc)
        if a is None:
            return [f"association {self.assoc}: not seen yet"]
        r = enrich(next(x for x in rows if x["id"] == self.assoc), a, self.mem)
        out: list[Any] = [f"association {a['id']} ports {r['ports']} vtags {a.get('vtags')} {r['state']}  "
                          f"{r['packets']} packets  retransmissions {r['retx']} (fast {r['fast']}, timeout "
                          f"{r['timeout']}, spurious {r['spurious']})  zero windows {r['zero']}"]
        j = kernel_by_assoc(tick).get(self.assoc)
        if j is not None:
            k = j.kernel
            out.append(f"kernel ({j.source}, endpoint {j.side}): {k.state}, primary path {k.path_addr}, SRTT "
                       f"{_ms(k.srtt_ns)} ms, RTO {_ms(k.rto_ns)} ms, cwnd {k.cwnd}, ssthresh {k.ssthresh}, "
                       f"flight {k.flight_size} B, peer rwnd {k.peer_rwnd}")
            for c in j.checks:
                out.append(f"  {c.verdict:<14} {c.name:<16} {c.sentence}")
        t = Table(box=None, header_style="bold", title="paths", title_justify="left")
        for col in ("src > dst", "packets", "DATA", "retx", "HB sent/acked", "RTT p50 ms", "SRTT ms", "RTO ms"):
            t.add_column(col)
        for p in a.get("paths") or []:
            rtt, hb = p.get("rtt") or {}, p.get("heartbeats") or {}
            t.add_row(f"{p.get('src')} > {p.get('dst')}", str(p.get("packets", 0)), str(p.get("data_chunks", 0)),
                      str(p.get("retransmissions", 0)), f"{hb.get('sent', 0)}/{hb.get('acked', 0)}",
                      _ms(rtt.get("p50_ns")), _ms(rtt.get("srtt_ns")), _ms(rtt.get("rto_ns")))
        out.append(t)
        ev = [e for e in tick.recent_events if e.get("assoc_id") == self.assoc and e["type"] != "sack"][-15:]
        if ev:
            from rich.text import Text

            out.append("recent events (SACKs left out):")
            t0 = a.get("first_ts_ns") or 0
            for e in ev:
                out.append(Text(f"  {(e['ts_ns'] - t0) / 1e9:9.3f}s  frame {e['frame_no']:>8}  {event_text(e)}",
                                no_wrap=True, overflow="ellipsis"))
        return out


def _verdict_cell(j: Any) -> str:
    """``agree`` or ``DISAGREE: srtt, packets_out``."""
    off = [c.name for c in j.checks if c.verdict == "disagree"]
    return "DISAGREE: " + ", ".join(off) if off else j.verdict


def event_text(e: dict[str, Any]) -> str:
    """One engine event in a line, times in ms."""
    t = e["type"]
    if t == "rtt":
        return (f"RTT {e['direction']} {e['src']} > {e['dst']} {e['method']} {_ms(e['rtt_ns'])} ms"
                + (f" (TSN {e['tsn']})" if e.get("tsn") is not None else "")
                + (" delayed SACK?" if e.get("delayed_sack") else ""))
    if t == "retransmission":
        return (f"retransmission {e['direction']} TSN {e['tsn']} {e['kind']} {_ms(e.get('since_first_ns'))} ms "
                f"after the first" + (" (spurious)" if e.get("spurious") else ""))
    if t == "state":
        return f"state {e['old']} -> {e['new']} ({e['chunk']})"
    if t == "window":
        return f"window {e['direction']} a_rwnd {e['a_rwnd']}" + (" ZERO" if e.get("zero") else "")
    if t == "heartbeat_unanswered":
        return f"HEARTBEAT unanswered {e['direction']} {e['src']} > {e['dst']}"
    if t == "spurious":
        return f"spurious retransmission {e['direction']} TSN {e['tsn']} ({e['reason']})"
    if t == "abort":
        return f"ABORT {e['direction']} causes {e.get('causes')}"
    rest = {k: v for k, v in e.items() if k not in ("type", "ts_ns", "file", "frame_no", "assoc_id")}
    return f"{t} " + " ".join(f"{k}={v}" for k, v in rest.items() if v is not None)
