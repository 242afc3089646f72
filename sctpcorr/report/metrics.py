"""``sctpcorr live --metrics HOST:PORT``: Prometheus metrics from the latest tick, with the official client.

A custom collector renders the last :class:`~sctpcorr.live.Tick` at scrape time, so a scrape always sees one
consistent snapshot and nothing is computed between scrapes.  Label cardinality is bounded: the ``--top`` N
associations by packets are exported one by one (labels ``assoc`` = the engine's id, ``ports``), with their paths
(``src``, ``dst``); every other association is summed into ``assoc="other"``.  Counters are cumulative over the
run (``_total``); RTT values are gauges in seconds.  Names: docs/live.md.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["MetricsServer", "families"]

PREFIX = "sctpcorr"


def families(tick: Any, top: int) -> list[Any]:
    """The metric families of one tick (also used by tests)."""
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    def g(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
        return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)

    def c(name: str, doc: str, labels: list[str]) -> CounterMetricFamily:
        return CounterMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)

    cap = tick.capture
    order = sorted(tick.summary, key=lambda t: (-t[2], t[0]))          # by packets (engine.SUMMARY_FIELDS)
    pairs = [(t, a) for t in order[:top] if (a := tick.association(t[0])) is not None]
    shown = [a for _t, a in pairs]
    rest = order[top:]
    al = ["assoc", "ports"]
    pl = ["assoc", "ports", "src", "dst"]
    fam = {
        "packets": c("packets", "SCTP packets captured", []),
        "iface_dropped": c("interface_dropped_packets", "Packets lost before sctpcorr read them, by where",
                           ["interface", "where"]),
        "assocs": g("associations", "Associations seen, by state", ["state"]),
        "a_packets": c("association_packets", "Packets of the association", al),
        "a_retx": c("association_retransmissions", "Retransmitted DATA chunks, by kind", al + ["kind"]),
        "a_zero": c("association_zero_window_episodes", "Zero-window episodes (a_rwnd 0)", al),
        "a_rwnd": g("association_a_rwnd_min_bytes", "Smallest a_rwnd advertised, per direction", al + ["direction"]),
        "a_jitter": g("association_jitter_seconds", "Inter-arrival jitter of DATA, per direction",
                      al + ["direction"]),
        "a_up": g("association_established", "1 while the association is ESTABLISHED", al),
        "p_rtt": g("path_rtt_p50_seconds", "Median wire RTT of the path (Karn's rule, HEARTBEATs)", pl),
        "p_srtt": g("path_srtt_seconds", "Smoothed RTT of the path (RFC 9260 6.3.1 on the wire samples)", pl),
        "p_rto": g("path_rto_seconds", "RTO computed from the wire samples", pl),
        "p_hb_lost": c("path_heartbeats_unanswered", "HEARTBEATs with no HEARTBEAT-ACK", pl),
        "p_retx": c("path_retransmissions", "DATA retransmitted on the path", pl),
    }
    fam["packets"].add_metric([], cap.get("packets", 0))
    for s in tick.interfaces:
        fam["iface_dropped"].add_metric([s.name, "kernel"], s.dropped)
        fam["iface_dropped"].add_metric([s.name, "interface"], s.ifdropped)
    states: dict[str, int] = {}
    for t in order:
        states[t[1] or "UNKNOWN"] = states.get(t[1] or "UNKNOWN", 0) + 1
    for st, n in sorted(states.items()):
        fam["assocs"].add_metric([st], n)

    def put_assoc(lab: list[str], group: list[tuple[Any, ...]]) -> None:
        fam["a_packets"].add_metric(lab, sum(t[2] for t in group))
        for i, kind in enumerate(("fast", "timeout", "unknown", "spurious")):
            fam["a_retx"].add_metric(lab + [kind], sum(t[3 + i] for t in group))
        fam["a_zero"].add_metric(lab, sum(t[7] for t in group))
        fam["a_up"].add_metric(lab, sum(1 for t in group if t[1] == "ESTABLISHED"))

    for t, a in pairs:
        lab = [str(a["id"]), "/".join(str(p) for p in a.get("ports") or ())]
        put_assoc(lab, [t])
        for name, d in (a.get("directions") or {}).items():
            w = (d.get("a_rwnd") or {}).get("min")
            if w is not None:
                fam["a_rwnd"].add_metric(lab + [name], w)
            if d.get("jitter_ns") is not None:
                fam["a_jitter"].add_metric(lab + [name], d["jitter_ns"] / 1e9)
        for p in a.get("paths") or []:
            plab = lab + [str(p.get("src")), str(p.get("dst"))]
            rtt = p.get("rtt") or {}
            if p.get("rtt_scope", "path") == "path":
                for key, k in (("p_rtt", "p50_ns"), ("p_srtt", "srtt_ns"), ("p_rto", "rto_ns")):
                    if rtt.get(k) is not None:
                        fam[key].add_metric(plab, rtt[k] / 1e9)
            fam["p_hb_lost"].add_metric(plab, (p.get("heartbeats") or {}).get("unanswered", 0))
            fam["p_retx"].add_metric(plab, p.get("retransmissions", 0))
    if rest:
        put_assoc(["other", ""], rest)
    if tick.kernel is not None:
        ids = {a["id"]: a for a in shown}
        kf = {
            "srtt": g("kernel_srtt_seconds", "The kernel's SRTT of the primary path (sock_diag or probes)",
                      al + ["path"]),
            "rto": g("kernel_rto_seconds", "The kernel's RTO of the primary path (sock_diag or probes)",
                     al + ["path"]),
            "cwnd": g("kernel_cwnd_bytes", "The kernel's cwnd of the primary path (sock_diag or probes)",
                      al + ["path"]),
            "agree": g("kernel_wire_agree", "1 when the kernel and the wire agree on a check, 0 when not",
                       al + ["check"]),
        }
        for j in tick.kernel:
            a = ids.get(j.assoc)
            if a is None:
                continue
            lab = [str(a["id"]), "/".join(str(p) for p in a.get("ports") or ())]
            k = j.kernel
            if k.srtt_ns is not None:
                kf["srtt"].add_metric(lab + [str(k.path_addr)], k.srtt_ns / 1e9)
            if k.rto_ns is not None:
                kf["rto"].add_metric(lab + [str(k.path_addr)], k.rto_ns / 1e9)
            if k.cwnd is not None:
                kf["cwnd"].add_metric(lab + [str(k.path_addr)], k.cwnd)
            for c in j.checks:
                if c.verdict in ("agree", "disagree"):
                    kf["agree"].add_metric(lab + [c.name], 1 if c.verdict == "agree" else 0)
        fam.update({f"k_{n}": f for n, f in kf.items()})
    return list(fam.values())


class _Collector:
    def __init__(self, top: int) -> None:
        self.top = top
        self.tick: Any = None
        self.lock = threading.Lock()

    def collect(self) -> Any:
        with self.lock:
            tick = self.tick
        if tick is None:
            return iter(())
        return iter(families(tick, self.top))


class MetricsServer:
    """An HTTP endpoint (``/metrics``) in a daemon thread; ``update(tick)`` swaps the snapshot it serves."""

    def __init__(self, addr: tuple[str, int], top: int = 30) -> None:
        from prometheus_client import CollectorRegistry, start_http_server

        from sctpcorr.errors import SctpcorrError

        self.registry = CollectorRegistry(auto_describe=False)
        self.collector = _Collector(top)
        self.registry.register(self.collector)
        try:
            self.server, self.thread = start_http_server(addr[1], addr=addr[0], registry=self.registry)
        except OSError as exc:
            err = SctpcorrError(f"--metrics {addr[0]}:{addr[1]}: cannot listen: {exc.strerror or exc}")
            err.exit_code = 2
            raise err from None
        self.port = self.server.server_address[1]

    def update(self, tick: Any) -> None:
        with self.collector.lock:
            self.collector.tick = tick

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
