"""The text of the ``telecom`` section (``sctpcorr pcap --telecom``): messages, procedures, registrations, UEs,
Diameter, M3UA.  Renders the document; computes nothing."""
from __future__ import annotations

from typing import Any

from sctpcorr.report.text import _table

__all__ = ["render"]


def _ms(ns: int | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.2f}"


def _lat(d: dict[str, Any]) -> list[str]:
    return [_ms(d.get("p50_ns")), _ms(d.get("p90_ns")), _ms(d.get("p99_ns")), _ms(d.get("max_ns"))]


def render(t: dict[str, Any], max_ues: int = 20) -> list[str]:
    out = ["TELECOM  " + ", ".join(f"{p.upper()} {n}" for p, n in t.get("messages", {}).items())
           + (f"; {t['reassembled']} reassembled from fragments" if t.get("reassembled") else "")
           + (f"; undecodable {t['undecoded']}" if t.get("undecoded") else "")]
    if not t.get("messages"):
        out.append("  no NGAP, S1AP, X2AP, XnAP, Diameter or M3UA messages (by PPID, or PPID 0 on their ports)")
        return out
    procs = t.get("procedures") or []
    if procs:
        out += ["", "  PROCEDURES (request -> response on one association and UE; latency ms)"]
        rows = [[f"{p['protocol'].upper()} {p['procedure']}", str(p["requests"]), str(p["successful"]),
                 str(p["unsuccessful"]), str(p["unanswered"]), *_lat(p["latency"])] for p in procs]
        out += _table(["procedure", "requests", "ok", "failed", "unanswered", "p50", "p90", "p99", "max"], rows)
        for p in procs:
            for cause, n in (p.get("causes") or {}).items():
                out.append(f"    {p['procedure']} failed {n}x: {cause}")
    reg = t.get("registration") or {}
    for proc, r in reg.items():
        out += ["", f"  {proc.upper()}S  started {r['started']}, complete {r['complete']}, incomplete "
                    f"{r['incomplete']}, not readable (ciphered) {r['not_readable']}"]
        if r["complete"]:
            d, c, n = r["duration"], r["waited_for_core"], r["waited_for_ran"]
            out.append(f"    duration ms p50 {_ms(d.get('p50_ns'))} p90 {_ms(d.get('p90_ns'))} max "
                       f"{_ms(d.get('max_ns'))}; of it, waiting for the core p50 {_ms(c.get('p50_ns'))}, for the "
                       f"RAN/UE p50 {_ms(n.get('p50_ns'))}")
            rows = [[k, str(v["n"]), *_lat(v)] for k, v in r["steps"].items()]
            out += _table(["step (time since the previous one, ms)", "n", "p50", "p90", "p99", "max"], rows, "    ")
    ues = [u for u in t.get("ues") or [] if u.get("steps")]
    if ues:
        slow = sorted(ues, key=lambda u: -(u.get("duration_ns") or 0))[:max_ues]
        out += ["", f"  UEs  {len(t.get('ues') or [])} seen, {len(ues)} with a {ues[0]['procedure']} in the capture; "
                    f"the {len(slow)} slowest:"]
        rows = []
        for u in slow:
            last = u["steps"][-1]
            state = {True: "complete", False: "incomplete", None: "ciphered"}[u.get("complete")]
            rtx = sum(s["retransmissions"] for s in u["steps"])
            hol = max(s["hol_wait_ns"] for s in u["steps"])
            rows.append([f"assoc {u['assoc']} RAN id {u['ran_ue_id']}", state, _ms(u.get("duration_ns")),
                         _ms(u.get("waited_for_core_ns")), _ms(u.get("waited_for_ran_ns")), last["step"],
                         str(rtx), _ms(hol) if hol else "-"])
        out += _table(["UE", "state", "total ms", "core ms", "RAN ms", "last step", "retx", "HOL ms"], rows)
    dia = t.get("diameter") or []
    if dia:
        out += ["", "  DIAMETER (request -> answer by hop-by-hop and end-to-end id; latency ms)"]
        rows = [[f"{d['application_name']} {d['command_name']}", str(d["requests"]), str(d["answered"]),
                 str(d["unanswered"]), *_lat(d["latency"]),
                 " ".join(f"{k}:{v}" for k, v in d["result_codes"].items())] for d in dia]
        out += _table(["application command", "requests", "answered", "unanswered", "p50", "p90", "p99", "max",
                       "result codes"], rows)
    m3 = t.get("m3ua") or []
    if m3:
        out += ["", "  M3UA  " + ", ".join(f"{m['class']} {m['type']} {m['count']}" for m in m3)]
    return out
