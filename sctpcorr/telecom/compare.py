"""``sctpcorr compare A B``, pure: two runs side by side, and one answer: which core is faster, and is the
transport to blame.

Each side is what ``pcap --telecom`` made of one capture (:class:`Side`: the document and the Telecom object,
whose raw latencies the CDFs need).  The headline is the registration (5G) or attach (LTE) duration of the UEs
that completed it, else the busiest request/response procedure's latency, else Diameter's.  Beside it, for each
side: the time the RAN side waited for the core and the core for the RAN/UE, procedure and Diameter latency
percentiles, association setup time, and the transport: RTT (the wire's samples, delayed-SACK ones left out),
retransmissions per 1000 DATA chunks, head-of-line waits, zero windows.

The transport's share of the difference: a registration takes about ``steps / 2`` round trips on the SCTP path
(each request and its answer), so a slower path adds ``(steps / 2) * (RTT_p50 difference)``; head-of-line waits
and retransmissions add their own time.  Set beside the headline difference it says whether the transport
explains it (over half), part of it, or not (under a fifth); the sentence gives the numbers it used.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sctpcorr.telecom.core import quantile as pct

__all__ = ["Side", "compare", "pct"]


@dataclass
class Side:
    name: str
    doc: dict[str, Any]          # the pcap --telecom document
    telecom: Any                 # sctpcorr.telecom.core.Telecom (raw latencies)

    @property
    def t(self) -> dict[str, Any]:
        return self.doc.get("telecom") or {}




def _ms(ns: float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f} ms"


def _registrations(s: Side) -> tuple[str | None, list[dict[str, Any]]]:
    us = [u for u in s.t.get("ues") or [] if u.get("complete")]
    return (us[0]["procedure"] if us else None), us


def _series(s: Side) -> dict[str, list[int]]:
    """Every latency series of one side: registration/attach durations, per AP procedure, per Diameter command."""
    from sctpcorr.telecom import ap
    from sctpcorr.telecom.diameter import command_name

    out: dict[str, list[int]] = {}
    proc, us = _registrations(s)
    if us:
        out[f"{proc} duration"] = [u["duration_ns"] for u in us]
    if s.telecom is not None:
        for (proto, code), st in s.telecom.procs.items():
            p = ap.procedures(proto).get(code)
            if len(st.latencies):
                out[f"{proto.upper()} {p.name if p else code} latency"] = [int(x) for x in st.latencies]
        for (_app, cmd), st in s.telecom.dia.items():
            if len(st.latencies):
                out.setdefault(f"Diameter {command_name(cmd)} latency", []).extend(st.latencies)
    return out


def _headline(a: Side, b: Side) -> tuple[str, list[int], list[int]] | None:
    """The metric both sides have: registration/attach duration first, else the request/response series with the
    most samples on both sides."""
    sa, sb = _series(a), _series(b)
    common = [k for k in sa if k in sb]
    if not common:
        return None
    first = [k for k in common if k.endswith(" duration")]
    k = first[0] if first else max(common, key=lambda k: min(len(sa[k]), len(sb[k])))
    return k, sa[k], sb[k]


def _transport(s: Side) -> dict[str, Any]:
    assocs = s.doc.get("associations") or []
    data = sum(d.get("data_chunks", 0) for a in assocs for d in (a.get("directions") or {}).values())
    rtx = sum((d.get("retransmissions") or {}).get("total", 0) if isinstance(d.get("retransmissions"), dict)
              else (d.get("retransmissions") or 0) for a in assocs for d in (a.get("directions") or {}).values())
    zero = sum(((d.get("a_rwnd") or {}).get("zero_window_episodes", 0)) for a in assocs
               for d in (a.get("directions") or {}).values())
    setup = [(a.get("handshake") or {}).get("setup_ns") for a in assocs]
    setup = [x for x in setup if x is not None]
    hol = s.telecom.hol_waits if s.telecom else []
    rtts = s.telecom.rtt_samples if s.telecom else []
    return {"associations": len(assocs), "data_chunks": data, "retransmissions": rtx,
            "retransmissions_per_1000": round(1000 * rtx / data, 2) if data else None, "zero_windows": zero,
            "setup_p50_ns": pct(setup, 0.5), "setups": len(setup), "rtt_samples": len(rtts),
            "rtt_p50_ns": pct(rtts, 0.5), "rtt_p90_ns": pct(rtts, 0.9), "rtt_p99_ns": pct(rtts, 0.99),
            "hol_waits": len(hol), "hol_wait_total_ns": sum(hol), "hol_wait_max_ns": max(hol, default=None)}


def compare(a: Side, b: Side) -> dict[str, Any]:
    """The comparison document (``--json``) with ``verdict`` sentences."""
    out: dict[str, Any] = {"sides": [a.name, b.name], "headline": None, "transport": [], "waits": [],
                           "procedures": [], "diameter": [], "verdict": []}
    head = _headline(a, b)
    out["transport"] = [_transport(a), _transport(b)]
    for s in (a, b):
        proc, us = _registrations(s)
        out["waits"].append({"procedure": proc, "complete": len(us),
                             "started": sum(1 for u in s.t.get("ues") or [] if u.get("steps")),
                             "core_p50_ns": pct([u["waited_for_core_ns"] for u in us], 0.5),
                             "ran_p50_ns": pct([u["waited_for_ran_ns"] for u in us], 0.5),
                             "steps_p50": pct([len(u["steps"]) for u in us], 0.5)})
    # procedures and Diameter commands either side knows
    for key, rows in (("procedures", lambda s: s.t.get("procedures") or []),
                      ("diameter", lambda s: s.t.get("diameter") or [])):
        names: dict[str, list[Any]] = {}
        for i, s in enumerate((a, b)):
            for r in rows(s):
                n = (f"{r['protocol'].upper()} {r['procedure']}" if key == "procedures"
                     else f"{r['application_name']} {r['command_name']}")
                names.setdefault(n, [None, None])[i] = r
        for n, (ra, rb) in sorted(names.items()):
            out[key].append({"name": n, "a": _lat_row(ra), "b": _lat_row(rb)})
    if head is None:
        out["verdict"].append(f"nothing to compare: {a.name} and {b.name} have no registration, attach, procedure "
                              "or Diameter command in common")
        return out
    what, va, vb = head
    pa, pb = pct(va, 0.5), pct(vb, 0.5)
    out["headline"] = {"metric": what, "a": {"n": len(va), "p50_ns": pa, "p90_ns": pct(va, 0.9),
                                             "p99_ns": pct(va, 0.99)},
                       "b": {"n": len(vb), "p50_ns": pb, "p90_ns": pct(vb, 0.9), "p99_ns": pct(vb, 0.99)}}
    assert pa is not None and pb is not None
    fast, slow = (a, b) if pa <= pb else (b, a)
    pf, ps = min(pa, pb), max(pa, pb)
    ratio = ps / pf if pf else float("inf")
    diff = ps - pf
    if ratio < 1.1:
        out["verdict"].append(f"{what}: the two are within 10 % (p50 {_ms(pa)} {a.name}, {_ms(pb)} {b.name})")
    else:
        out["verdict"].append(f"{fast.name} is faster: {what} p50 {_ms(pf)} against {_ms(ps)} ({ratio:.1f}x)")
    ti, ts = out["transport"][(a, b).index(fast)], out["transport"][(a, b).index(slow)]
    wi, ws = out["waits"][(a, b).index(fast)], out["waits"][(a, b).index(slow)]
    trips = (ws.get("steps_p50") or 2) / 2 if what.endswith(" duration") else 1.0
    d_rtt = (ts["rtt_p50_ns"] or 0) - (ti["rtt_p50_ns"] or 0)
    n_slow = max(1, len(vb if slow is b else va))
    n_fast = max(1, len(va if fast is a else vb))
    d_hol = ts["hol_wait_total_ns"] / n_slow - ti["hol_wait_total_ns"] / n_fast
    transport = max(0.0, trips * d_rtt) + max(0.0, d_hol)
    share = transport / diff if diff > 0 else 0.0
    parts = (f"RTT p50 {_ms(ti['rtt_p50_ns'])} vs {_ms(ts['rtt_p50_ns'])} over ~{trips:.0f} round trips, "
             f"head-of-line waits {_ms(ti['hol_wait_total_ns'] / n_fast)} vs {_ms(ts['hol_wait_total_ns'] / n_slow)} "
             f"per item, retransmissions {ti['retransmissions_per_1000']} vs {ts['retransmissions_per_1000']} "
             f"per 1000 DATA")
    if ratio >= 1.1:
        if share < 0.2:
            core = ""
            if wi.get("core_p50_ns") is not None and ws.get("core_p50_ns") is not None:
                core = (f"; the time waiting for the core is {_ms(wi['core_p50_ns'])} vs {_ms(ws['core_p50_ns'])}, "
                        f"for the RAN/UE {_ms(wi['ran_p50_ns'])} vs {_ms(ws['ran_p50_ns'])}")
            out["verdict"].append(f"the transport is not to blame: it accounts for {_ms(transport)} of the "
                                  f"{_ms(diff)} difference ({parts}){core}")
        elif share < 0.5:
            out["verdict"].append(f"the transport explains part of it: {_ms(transport)} of the {_ms(diff)} "
                                  f"difference ({parts})")
        else:
            out["verdict"].append(f"the transport explains most of it: {_ms(transport)} of the {_ms(diff)} "
                                  f"difference ({parts})")
    out["transport_share"] = round(share, 3)
    return out


def _lat_row(r: dict[str, Any] | None) -> dict[str, Any] | None:
    if r is None:
        return None
    lat = r.get("latency") or {}
    return {"n": lat.get("n", 0), "p50_ns": lat.get("p50_ns"), "p90_ns": lat.get("p90_ns"),
            "p99_ns": lat.get("p99_ns"), "unanswered": r.get("unanswered", 0),
            "failed": r.get("unsuccessful", 0) if "unsuccessful" in r else None}
