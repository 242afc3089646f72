"""The correlator fed as the data comes: ``sctpcorr live --probes``.

Pure: fed the wire engine's per-chunk records of one capture (``Analyzer(records=True).drain_records()``, as
bytes, block by block) and the probe's records (the dicts of ``sctpcorr probe --jsonl``, batch by batch), both
taken on one host, it steps :class:`~sctpcorr.correlate.core.Correlator` over time windows as they close and
says, per association, what the kernel believes beside what the wire shows, with the correlator's verdicts.

Clock: the capture's timestamps are CLOCK_REALTIME, the probe's CLOCK_MONOTONIC, on the same host; the probe's
startup and clock records carry the offset between the two (``clock.recorded_offset``), so the recording and the
capture are joined as "same host" (the offset is used, and checked against the matched events).

Windows: a window [lo, hi) of the kernel clock is stepped once ``now - margin_ns`` has passed ``hi``, ``now`` being
the caller's kernel clock (so that windows close while traffic pauses too) but never past the newest record the
recording has delivered (its clock records come every second when idle), with ``margin_ns`` of context on
either side (a chunk's SACK or retransmission, the probe's own delivery delay); records older than the open
window's margin are dropped, so memory holds ``step_ns + 2 * margin_ns`` of data whatever the run's length.  The
verdicts of a tick are the tallies of every window stepped so far, judged (``Correlator.finish``): they lag the
wire by ``margin_ns`` to ``margin_ns + step_ns``.  ``finish()`` steps what is left and returns the whole
``Correlation`` (the ``sctpcorr correlate --json`` document).

Kernel values shown per association (:class:`~sctpcorr.correlate.snapshots.KernelAssoc`, as ``--diag`` shows
them): the latest ``path`` event of the primary path (SRTT, RTO, cwnd, ssthresh, flight), the latest SACK's
view of the peer's window, the state, and counts of RTT updates, retransmissions and T3 expiries.  Where both
ends run on the host (the lab), the end the capture was taken next to is shown, else the one that took more
RTT samples (the data sender), A on a tie.  An association's verdict is the correlator's: disagree if any check
disagrees, else the worst of the checks that could compare (those about the far end, with no capture next to it,
are "not checkable").
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sctpcorr.correlate.clock import recorded_offset
from sctpcorr.correlate.core import Correlation, Correlator
from sctpcorr.correlate.kernel import KernelView
from sctpcorr.correlate.model import Tolerances
from sctpcorr.correlate.snapshots import Joined, KernelAssoc
from sctpcorr.correlate.wire import RecordBuffer, WireView

__all__ = ["LiveCorrelator", "MARGIN_NS", "STEP_NS"]

MARGIN_NS = 4_000_000_000      # context each side of a window, and how long a window waits for late records
STEP_NS = 2_000_000_000        # a window's length
_FAR = 1 << 62


@dataclass
class _Latest:
    k: KernelAssoc
    rtt_updates: int = 0


class LiveCorrelator:
    """See the module doc.  ``add_kernel``/``add_wire`` as data comes, ``step(report, now_ns)`` once a tick,
    ``joined(report)`` for the view, ``finish(report)`` at the end."""

    def __init__(self, capture_name: str = "live", recording_name: str = "probe",
                 tolerances: Tolerances | None = None, margin_ns: int = MARGIN_NS, step_ns: int = STEP_NS) -> None:
        self.kv = KernelView(recording_name)
        self.buf = RecordBuffer()
        self.capture_name = capture_name
        self.margin_ns, self.step_ns = margin_ns, step_ns
        self.cor = Correlator(tolerances, same_host={(0, 0)}, use_recorded_clock=True)
        self.lo: int | None = None          # kernel clock: where the next window starts (None: at the first data)
        self.latest: dict[tuple[int, int], _Latest] = {}     # (lport, my_vtag) -> the end's latest values
        self.kernel_records = 0
        self.watermark_ns: int | None = None    # kernel clock: the recording is complete up to here (see step)
        self._last: Correlation | None = None

    # ---- input ---------------------------------------------------------------------------------------------
    def add_kernel(self, records: list[dict[str, Any]]) -> None:
        """A batch of probe records (JSONL dicts), in the order the probe wrote them."""
        if not records:
            return
        self.kv.add_records(records)
        self.kernel_records += len(records)
        for r in records:
            self._track(r)
            ts = r.get("ts_ns")
            if ts is not None and r.get("type") not in ("startup", "end") and (self.watermark_ns is None
                                                                               or ts > self.watermark_ns):
                self.watermark_ns = ts

    def add_wire(self, recs: bytes) -> None:
        """A block of the wire engine's per-chunk records."""
        self.buf.add(recs)

    def _track(self, r: dict[str, Any]) -> None:
        tag, port = r.get("my_vtag"), r.get("lport")
        if tag is None or port is None:
            return
        key = (port, tag)
        lt = self.latest.get(key)
        if lt is None:
            lt = self.latest[key] = _Latest(KernelAssoc(my_vtag=tag, peer_vtag=r.get("peer_vtag") or 0, lport=port,
                                                        pport=r.get("pport") or 0, state="", netns=r.get("netns")))
        k = lt.k
        if r.get("peer_vtag"):
            k.peer_vtag = r["peer_vtag"]
        if r.get("state"):
            k.state = str(r["state"]).replace("_", "-")
        t = r.get("type")
        if t == "path" and r.get("primary"):
            k.path_addr = r.get("path_addr")
            k.srtt_ns = r.get("srtt_ns") if r.get("srtt_jiffies") else None
            k.rto_ns, k.cwnd, k.ssthresh = r.get("rto_ns"), r.get("cwnd"), r.get("ssthresh")
            k.flight_size = r.get("flight_size")
        elif t == "rto_update":
            lt.rtt_updates += 1
            k.counters["rtt_updates"] = lt.rtt_updates
            if k.path_addr is None or r.get("path_addr") == k.path_addr:
                k.path_addr = r.get("path_addr")
                k.srtt_ns, k.rto_ns = r.get("srtt_ns"), r.get("rto_ns")
        elif t == "sack":
            k.peer_rwnd = r.get("peer_rwnd")
        elif t == "rtx_mark":
            k.counters["retransmit_marks"] = k.counters.get("retransmit_marks", 0) + 1
        elif t == "t3_expire":
            k.counters["t3_expiries"] = k.counters.get("t3_expiries", 0) + 1
        elif t == "cwnd" and r.get("path_addr") == k.path_addr and r.get("cwnd_after") is not None:
            k.cwnd, k.ssthresh = r.get("cwnd_after"), r.get("ssthresh_after", k.ssthresh)

    # ---- windows -------------------------------------------------------------------------------------------
    @property
    def offset_ns(self) -> int | None:
        """Capture clock minus kernel clock (the recorded CLOCK_REALTIME - CLOCK_MONOTONIC), once known."""
        rec = recorded_offset(self.kv.real_minus_mono())
        return None if rec is None else rec[0]

    def _view(self, report: dict[str, Any], lo: int, hi: int) -> WireView:
        return WireView(self.capture_name, self.buf.pieces(lo, hi), report, meta={"path": self.capture_name})

    def step(self, report: dict[str, Any], now_ns: int | None = None, final: bool = False) -> int:
        """Step every window that has closed by ``now_ns`` (kernel clock; default: the newest data), or, with
        ``final``, everything left.  Returns how many windows were stepped."""
        off = self.offset_ns
        if off is None or self.kv.first_ns is None:
            return 0
        if self.lo is None:
            first = self.kv.first_ns if self.buf.first_ns is None else min(self.kv.first_ns,
                                                                           self.buf.first_ns - off)
            self.lo = first - 1
        if now_ns is None:
            now_ns = max(self.kv.last_ns or 0, (self.buf.last_ns - off) if self.buf.last_ns is not None else 0)
        elif self.watermark_ns is not None:
            # a window closes once the recording has reached past it, not only the clock: a probe whose decoder
            # lags (a loaded host) delivers events late, and a window closed before they came would miss them
            # (seen in the lab guest: 70 of 100 DATA chunks "without an egress event")
            now_ns = min(now_ns, self.watermark_ns)
        n = 0
        m = self.margin_ns
        while True:
            hi = _FAR if final else self.lo + self.step_ns
            if not final and hi + m > now_ns:
                break
            self.kv.window(self.lo - m, hi + m)
            view = self._view(report, self.lo - m + off, min(hi + m, _FAR // 2) + off)
            span = (self.buf.first_ns, self.buf.last_ns if final else None) if self.buf.first_ns is not None else None
            self.cor.step([view], [self.kv], (self.lo, hi), {0: span} if span else {})
            self.kv.window(None, None)
            n += 1
            if final:
                break
            self.kv.drop_before(hi - m)
            self.buf.drop_before(hi - m + off)
            self.lo = hi
        if n:
            self._last = None
        return n

    # ---- output --------------------------------------------------------------------------------------------
    def correlation(self, report: dict[str, Any]) -> Correlation:
        """The windows stepped so far, judged (cached until the next step)."""
        if self._last is None:
            v = self._view(report, 0, 0)
            v.first_ns, v.last_ns = self.buf.first_ns, self.buf.last_ns
            self._last = self.cor.finish([v], [self.kv])
        return self._last

    def finish(self, report: dict[str, Any]) -> Correlation:
        self.step(report, final=True)
        return self.correlation(report)

    def joined(self, report: dict[str, Any]) -> list[Joined]:
        """Per wire association the kernel knows: the kernel's latest values and the checks so far."""
        if self.cor.windows == 0:
            return []
        cx = self.correlation(report)
        by_assoc: dict[int, list[Any]] = {}
        for c in cx.checks:
            if c.assoc is not None:
                by_assoc.setdefault(c.assoc, []).append(c)
        wire_by_id = {a["id"]: a for a in report.get("associations", ())}
        out = []
        for a in cx.assocs:
            wid = a.wire.get(0)
            if wid is None or not by_assoc.get(a.id):
                continue
            ends = []
            for side in (0, 1):
                ident = a.sides[side].ident
                lt = self.latest.get(ident) if ident is not None else None
                if lt is not None and a.sides[side].kernel:
                    ends.append((0 in a.near.get(side, ()), lt.rtt_updates, -side, side, lt))
            if not ends:
                continue
            *_rank, side, lt = max(ends)
            wire_side = side ^ int(a.flip.get(0, False))
            wa = wire_by_id.get(wid) or {}
            out.append(Joined(assoc=wid, side="AB"[wire_side], kernel=lt.k,
                              wire=_wire_numbers(wa, wire_side, lt.k.path_addr), checks=by_assoc[a.id],
                              source="probe"))
        return out


def _wire_numbers(a: dict[str, Any], side: int, addr: str | None) -> dict[str, Any]:
    """The wire's SRTT and RTT samples on the path from ``side`` to the kernel's primary ``addr``."""
    direction = "A>B" if side == 0 else "B>A"
    for p in a.get("paths") or ():
        if p.get("direction") == direction and p.get("dst") == addr:
            rtt = p.get("rtt") or {}
            return {"path": f"{p.get('src')} > {p.get('dst')}", "srtt_ns": rtt.get("srtt_ns"),
                    "rtt_samples": rtt.get("samples", 0)}
    return {"path": None, "srtt_ns": None, "rtt_samples": 0}

