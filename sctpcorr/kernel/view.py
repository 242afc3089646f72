"""The live text view of `sctpcorr probe`: one line per event, or a per-association summary every N seconds.

Output only; it reads decoded records and never changes them.  Lines stay under 100 columns (as the pcap report) unless ``wide``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_SHOW", "EventView", "SummaryView"]

# "retransmission" is a view of egress records: one line per retransmitted DATA chunk
DEFAULT_SHOW = ("rto_update", "cwnd", "rtx_mark", "t3_expire", "hb_ack", "path_state", "assoc_state",
                "assoc_change", "retransmission", "diag")
ALL_SHOW = DEFAULT_SHOW + ("sack", "path", "hb_sent", "rwnd", "egress")


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.1f}"


def _j(rec: dict[str, Any], key: str) -> str:
    """'<ms>ms' when HZ is known, else '<n>j'."""
    if f"{key}_ns" in rec:
        return f"{rec[f'{key}_ns'] / 1e6:g}ms"
    return f"{rec.get(f'{key}_jiffies')}j"


def detail(rec: dict[str, Any]) -> str:
    t = rec["type"]
    if t == "rto_update":
        return (f"rtt {_j(rec, 'rtt')} srtt {_j(rec, 'srtt')} var {_j(rec, 'rttvar')} "
                f"rto {_j(rec, 'rto')} {'hb' if rec['source'] == 'heartbeat' else rec['source']}")
    if t == "cwnd":
        return (f"{rec['op']} {rec['reason'] or ''} cwnd {rec['cwnd_before']}->{rec['cwnd_after']} "
                f"ssthresh {rec['ssthresh_before']}->{rec['ssthresh_after']}")
    if t == "rtx_mark":
        return f"mark {rec['reason']} flight {rec['flight_size']} rto {_j(rec, 'rto')}"
    if t == "t3_expire":
        return f"T3 expired rto {_j(rec, 'rto')} flight {rec['flight_size']}" + (
            " (deferred)" if rec["deferred"] else "")
    if t == "hb_sent":
        return f"HB sent nonce {rec['hb_nonce']}"
    if t == "hb_ack":
        return f"HB-ACK rtt {_j(rec, 'rtt')} nonce {rec['hb_nonce']}"
    if t == "path_state":
        return f"path {rec['command']} {rec['state_before']}->{rec['state_after']} ({rec['sn_error']})"
    if t == "assoc_state":
        return f"{rec['state_before']}->{rec['state_after']} ({rec.get('cause') or 'seen in ' + rec['seen_in']})"
    if t == "assoc_change":
        return (f"notify {rec['sac_state']} streams {rec['outbound_streams']}/{rec['inbound_streams']}"
                + (f" error {rec['sac_error']}" if rec["sac_error"] else "")) if rec["kind"] == "notification" \
            else "association freed"
    if t == "sack":
        return f"SACK cum {rec['cum_tsn_ack']} a_rwnd {rec['a_rwnd']} gaps {rec['n_gap_blocks']}"
    if t == "path":
        return (f"cwnd {rec['cwnd']} flight {rec['flight_size']} srtt {_j(rec, 'srtt')} "
                f"{rec['path_state']}{' P' if rec['primary'] else ''}")
    if t == "rwnd":
        return (f"rwnd {rec['rwnd_before']}->{rec['rwnd_after']} a_rwnd {rec['a_rwnd']} "
                f"rmem {rec['rmem_alloc']}/{rec['rcvbuf']}")
    if t == "egress":
        return f"out {rec['size']}B " + ",".join(c["type"] for c in rec["chunks"])
    if t == "diag":
        return (f"diag srtt {_ms(rec.get('srtt_ns'))}ms rto {rec['rto_ms']}ms cwnd {rec['cwnd']} "
                f"rtx {rec['counters']['rtxchunks']}")
    return ""


class EventView:
    def __init__(self, echo: Any, show: tuple[str, ...] = DEFAULT_SHOW, wide: bool = False,
                 t0_ns: int | None = None):
        self.echo = echo
        self.show = set(ALL_SHOW if "all" in show else show)
        self.wide = wide
        self.t0 = t0_ns

    def header(self) -> None:
        self.echo(f"{'TIME_S':>9} {'EVENT':<11} {'PORTS':<11} {'PATH':<15} DETAIL")

    def feed(self, rec: dict[str, Any]) -> None:
        t = rec["type"]
        if self.t0 is None:
            self.t0 = rec.get("ts_ns", 0)
        lines = []
        if t == "egress" and "retransmission" in self.show:
            for c in rec.get("chunks", []):
                if c.get("rtx_reason"):
                    lines.append(("rtx", f"TSN {c['tsn']} sent #{c['sent_count']} [{c['rtx_reason']}]"))
        if t in self.show:
            lines.append((t, detail(rec)))
        for name, text in lines:
            ts = (rec.get("ts_ns", 0) - self.t0) / 1e9
            ports = f"{rec.get('lport')}>{rec.get('pport')}"
            path = rec.get("path_addr") or "-"
            line = f"{ts:9.3f} {name:<11.11} {ports:<11} {path:<15} {text}"
            if self.wide:
                line += f"  vtags {rec.get('my_vtag', 0):08x}/{rec.get('peer_vtag', 0):08x}"
            else:
                line = line[:99]
            self.echo(line)


class SummaryView:
    """Latest kernel state per association, printed every interval."""

    def __init__(self, echo: Any):
        self.echo = echo
        self.assocs: dict[tuple[Any, ...], dict[str, Any]] = {}

    def feed(self, rec: dict[str, Any]) -> None:
        if "my_vtag" not in rec:
            return
        # not the peer's tag: it is 0 until the handshake completes, and the association is the same one
        key = (rec.get("netns"), rec.get("lport"), rec.get("pport"), rec.get("my_vtag"))
        a = self.assocs.setdefault(key, {"rtx": 0, "t3": 0, "hb": 0})
        a["state"] = rec.get("state", a.get("state"))
        t = rec["type"]
        if t == "rto_update":
            a.update(srtt_ns=rec.get("srtt_ns"), rto_ns=rec.get("rto_ns"))
        elif t in ("path", "diag") and (rec.get("primary") or t == "diag"):
            a.update(cwnd=rec["cwnd"], flight=rec["flight_size"])
            if t == "diag":
                a.update(srtt_ns=rec.get("srtt_ns"), rto_ns=rec.get("rto_ns"))
        elif t == "egress":
            a["rtx"] += sum(1 for c in rec.get("chunks", []) if c.get("rtx_reason"))
            a["rwnd"] = rec.get("rwnd", a.get("rwnd"))
        elif t == "t3_expire":
            a["t3"] += 1
        elif t == "hb_ack":
            a["hb"] += 1

    def flush(self) -> None:
        self.echo(f"{'LPORT':>5} {'PPORT':>5} {'STATE':<12} {'SRTT_MS':>8} {'RTO_MS':>7} {'CWND':>7} "
                  f"{'FLIGHT':>7} {'RWND':>8} {'RTX':>5} {'T3':>4} {'HB':>4}")
        for (_ns, lp, pp, _m), a in sorted(self.assocs.items(), key=lambda kv: kv[0][1:3]):
            self.echo(f"{lp:>5} {pp:>5} {str(a.get('state'))[:12]:<12} {_ms(a.get('srtt_ns')):>8} "
                      f"{_ms(a.get('rto_ns')):>7} {a.get('cwnd', '-'):>7} {a.get('flight', '-'):>7} "
                      f"{a.get('rwnd', '-'):>8} {a['rtx']:>5} {a['t3']:>4} {a['hb']:>4}")
        self.echo("")
