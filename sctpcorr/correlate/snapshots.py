"""Kernel snapshots beside the wire's running report: the correlator's live join (``sctpcorr live --diag``).

Pure: fed, once a tick, the wire engine's report (``Analyzer.report()``) and the kernel's sock_diag records of the
same moment (``struct sctp_info`` per association: state, primary path, SRTT, RTO, cwnd, counters), it says per
association what the kernel believes beside what the wire shows, and whether they agree.

Joining: the kernel knows its own tag and its peer's (``my_vtag``, ``peer_vtag``); the wire association carries
both endpoints' tags (``vtags``, A's first).  Equal tag pairs and ports are the same association, and the side
whose tag is ``my_vtag`` is the host the kernel runs on: its packets are the wire's direction from that side.

What is compared (each a :class:`~sctpcorr.correlate.model.Check`; the state over every tick so far, the counts and
the SRTT, which are running values, on the latest tick):

* ``state``: the kernel's association state and the wire observer's (a change may land between the two reads:
  one tick apart per change is allowed);
* ``packets_out`` / ``packets_in``: SCTP packets the kernel counted sent / received (``sctpi_opackets`` /
  ``sctpi_ipackets``) against the packets the capture saw in that direction: from the association's start when
  the capture saw it begin (the passive side's kernel association is born with the COOKIE-ECHO: the INIT,
  INIT-ACK and COOKIE-ECHO the wire saw are not in its counters; measured equal on both sides of every lab
  bundle), else from the first joined tick;
* ``retransmissions``: chunks the kernel retransmitted (``sctpi_rtxchunks``) against the DATA the wire saw
  retransmitted by this host, counted the same way;
* ``srtt``: the kernel's SRTT of its primary path against the SRTT the wire's RTT samples give on the path from
  this host to that address (at least ``MIN_SAMPLES`` samples).  The kernel's SRTT is whole jiffies moved by
  ``(rtt >> 3) - (srtt >> 3)``: within one 8-jiffy band it cannot move, so both in one band agree; it also holds
  the host's own stack time, which a capture on the host cannot see.  The kernel's RTO is shown, not judged:
  its bounds (``SCTP_RTOINFO`` per socket) are not in ``sctp_info``.

The counters are read a moment apart from the capture's counts: they are judged on the latest tick alone, with the
packets the wire saw during the last tick as the slack (at least ``max(2, 1 %)``), exact once traffic pauses.
Batch use: the same join over a recording's sock_diag snapshots and the report of the capture up to each
snapshot's time (tests/correlate/test_snapshots.py does this on the lab bundles).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sctpcorr.correlate.model import AGREE, DISAGREE, NOT_CHECKABLE, Check, Tolerances, worst

__all__ = ["KernelAssoc", "SnapshotJoin", "Joined", "MIN_SAMPLES"]

MIN_SAMPLES = 8          # wire RTT samples on the path before its SRTT is compared (the EWMA needs ~8 to settle)
CHECKS = ("state", "packets_out", "packets_in", "retransmissions", "srtt")


@dataclass
class KernelAssoc:
    """What one sock_diag record says about one association (``sctpcorr.kernel.diag.flatten`` fields)."""

    my_vtag: int
    peer_vtag: int
    lport: int
    pport: int
    state: str
    path_addr: str | None = None
    srtt_ns: int | None = None
    rto_ns: int | None = None
    cwnd: int | None = None
    ssthresh: int | None = None
    flight_size: int | None = None
    peer_rwnd: int | None = None
    counters: dict[str, int] = field(default_factory=dict)
    netns: int | None = None

    @classmethod
    def from_diag(cls, r: dict[str, Any]) -> KernelAssoc:
        """From a ``diag`` record of ``sctpcorr probe --source diag`` / ``DiagClient.associations()``."""
        return cls(my_vtag=r["my_vtag"], peer_vtag=r["peer_vtag"], lport=r["lport"], pport=r["pport"],
                   state=str(r.get("state", "")).replace("_", "-"), path_addr=r.get("path_addr"),
                   srtt_ns=r.get("srtt_ns") if r.get("srtt_jiffies") else None, rto_ns=r.get("rto_ns"),
                   cwnd=r.get("cwnd"), ssthresh=r.get("ssthresh"), flight_size=r.get("flight_size"),
                   peer_rwnd=r.get("peer_rwnd"), counters=dict(r.get("counters") or {}), netns=r.get("netns"))

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("state", "path_addr", "srtt_ns", "rto_ns", "cwnd", "ssthresh",
                                              "flight_size", "peer_rwnd")} | {"counters": self.counters}


@dataclass
class _Tally:
    ticks: int = 0
    off: int = 0


@dataclass
class Joined:
    """One kernel association joined to one wire association, as of the last tick."""

    assoc: int                        # the wire engine's association id
    side: str                         # "A" or "B": which endpoint of the wire association the kernel is
    kernel: KernelAssoc
    wire: dict[str, Any]              # the wire's numbers compared (this tick)
    checks: list[Check]
    source: str = "sock_diag"         # where the kernel's values come from: "sock_diag" or "probe"

    @property
    def verdict(self) -> str:
        """As the correlator's: disagree if any check does, else the worst of those that compared something;
        not checkable when none could."""
        compared = [c.verdict for c in self.checks if c.verdict != NOT_CHECKABLE]
        return worst(compared) if compared else NOT_CHECKABLE

    def as_dict(self) -> dict[str, Any]:
        return {"assoc": self.assoc, "side": self.side, "source": self.source, "verdict": self.verdict,
                "kernel": self.kernel.as_dict(),
                "wire": self.wire, "checks": [c.as_dict() for c in self.checks]}


def _ms(ns: int | float | None) -> str:
    return "-" if ns is None else f"{ns / 1e6:.1f} ms"


class SnapshotJoin:
    """Feed ``step(report, kernel_assocs)`` once a tick; ``joined`` holds the latest join per association."""

    def __init__(self, hz: int | None, tolerances: Tolerances | None = None) -> None:
        self.hz = hz
        self.tol = tolerances or Tolerances()
        self._states_seen: dict[tuple[int, int], set[str | None]] = {}
        self.joined: dict[tuple[int, int], Joined] = {}        # (my_vtag, peer_vtag) -> latest
        self._base: dict[tuple[int, int], dict[str, int]] = {}
        self._prev: dict[tuple[int, int], dict[str, int]] = {}
        self._tally: dict[tuple[tuple[int, int], str], _Tally] = {}
        self.unmatched_kernel = 0                              # kernel associations the capture has not seen

    @property
    def jiffy_ns(self) -> int:
        return 1_000_000_000 // self.hz if self.hz else 4_000_000

    def step(self, report: dict[str, Any], kernel: list[KernelAssoc]) -> list[Joined]:
        by_tags: dict[frozenset[int], dict[str, Any]] = {}
        for a in report.get("associations", []):
            tags = [t for t in a.get("vtags") or () if t is not None]
            if len(tags) == 2:
                by_tags[frozenset(tags)] = a          # a later association with the same tags (a restart) wins
        out = []
        self.unmatched_kernel = 0
        for k in kernel:
            a = by_tags.get(frozenset((k.my_vtag, k.peer_vtag)))
            if a is None or sorted(p for p in a.get("ports") or ()) != sorted((k.lport, k.pport)):
                self.unmatched_kernel += 1
                continue
            j = self._join(a, k)
            self.joined[(k.my_vtag, k.peer_vtag)] = j
            out.append(j)
        return out

    # ---- one association ---------------------------------------------------------------------------------
    def _join(self, a: dict[str, Any], k: KernelAssoc) -> Joined:
        side = 0 if (a.get("vtags") or [None])[0] == k.my_vtag else 1
        mine, theirs = ("A>B", "B>A") if side == 0 else ("B>A", "A>B")
        dirs = a.get("directions") or {}
        d_out, d_in = dirs.get(mine) or {}, dirs.get(theirs) or {}
        key = (k.my_vtag, k.peer_vtag)
        wire_now = {"packets_out": d_out.get("packets", 0), "packets_in": d_in.get("packets", 0),
                    "retransmissions": (d_out.get("retransmissions") or {}).get("total", 0)}
        kern_now = {"packets_out": k.counters.get("opackets"), "packets_in": k.counters.get("ipackets"),
                    "retransmissions": k.counters.get("rtxchunks")}
        if key not in self._base:
            if not a.get("mid_association"):
                # the capture saw the association begin: both count from its start (the passive side's kernel
                # association is born with the COOKIE-ECHO, after the INIT and INIT-ACK the wire already counted)
                hs = 0 if side == 0 else 1
                self._base[key] = {"w_packets_out": hs, "w_packets_in": hs + 1 if hs else 0, "w_retransmissions": 0,
                                   "k_packets_out": 0, "k_packets_in": 0, "k_retransmissions": 0, "skew": 0}
            else:
                # joined mid-association: from this tick on, with this tick's read skew carried as slack
                self._base[key] = {**{f"w_{n}": v for n, v in wire_now.items()},
                                   **{f"k_{n}": v for n, v in kern_now.items() if v is not None},
                                   "skew": max(wire_now["packets_out"] - self._prev.get(key, wire_now)["packets_out"],
                                               0)}
        base = self._base[key]
        path = self._path(a, mine, k.path_addr)
        rtt = (path or {}).get("rtt") or {}
        wire = {"state": a.get("state"), **{n: wire_now[n] - base[f"w_{n}"] for n in wire_now},
                "path": f"{path['src']} > {path['dst']}" if path else None, "srtt_ns": rtt.get("srtt_ns"),
                "rtt_samples": rtt.get("samples", 0)}
        prev = self._prev.get(key, wire_now)
        self._prev[key] = wire_now
        checks = [self._state(key, a, k)]
        for n in ("packets_out", "packets_in", "retransmissions"):
            kv = kern_now[n]
            checks.append(self._count(a["id"], n, None if kv is None or f"k_{n}" not in base
                                      else kv - base[f"k_{n}"], wire[n], wire_now[n] - prev[n] + base["skew"],
                                      "since joined" if a.get("mid_association") else "since the association began"))
        checks.append(self._srtt(key, a["id"], k, wire, path))
        return Joined(a["id"], "AB"[side], k, wire, checks)

    @staticmethod
    def _path(a: dict[str, Any], direction: str, addr: str | None) -> dict[str, Any] | None:
        """The wire path from this host to the kernel's primary path address (most RTT samples if several)."""
        cands = [p for p in a.get("paths") or () if p.get("direction") == direction and p.get("dst") == addr]
        return max(cands, key=lambda p: (p.get("rtt") or {}).get("samples", 0), default=None)

    def _judge(self, key: tuple[int, int], name: str, aid: int, ok: bool, sentence: str, tolerance: str,
               numbers: dict[str, Any], allowed_off: int = 0) -> Check:
        """A verdict over every tick so far: at most ``allowed_off`` (or the outlier share) ticks off."""
        t = self._tally.setdefault((key, name), _Tally())
        t.ticks += 1
        t.off += 0 if ok else 1
        allowed = max(allowed_off, int(t.ticks * self.tol.outlier_pct / 100))
        verdict = AGREE if t.off <= allowed else DISAGREE
        numbers = {**numbers, "ticks": t.ticks, "ticks_off": t.off}
        if t.off and verdict == AGREE:
            sentence += f" (off at {t.off} of {t.ticks} ticks: within the {allowed} allowed)"
        elif verdict == DISAGREE and ok:
            sentence += f"; earlier, off at {t.off} of {t.ticks} ticks"
        return Check(name, verdict, sentence, assoc=aid, tolerance=tolerance, numbers=numbers)

    def _state(self, key: tuple[int, int], a: dict[str, Any], k: KernelAssoc) -> Check:
        w = a.get("state")
        seen = self._states_seen.setdefault(key, set())
        seen.update((w, k.state))
        ok = w == k.state
        s = f"the kernel and the wire both say {w}" if ok else f"the kernel says {k.state}, the wire {w}"
        return self._judge(key, "state", a["id"], ok, s, "one tick apart per state change",
                           {"kernel": k.state, "wire": w}, allowed_off=len(seen) - 1)

    def _count(self, aid: int, name: str, k: int | None, w: int, moved: int, since: str) -> Check:
        """A cumulative counter, judged on this tick alone (an earlier tick's skew does not persist).  The kernel's
        counter and the capture's count are read a moment apart: what the wire saw during the last tick bounds
        that moment's packets, so it is the slack (with at least 2, or 1 %); once traffic pauses it is exact."""
        what = {"packets_out": "SCTP packets sent", "packets_in": "SCTP packets received",
                "retransmissions": "chunks retransmitted"}[name]
        if k is None:
            return Check(name, NOT_CHECKABLE, f"the kernel gave no {what} counter", assoc=aid)
        slack = max(2, int(max(k, w) * 0.01), moved)
        ok = abs(k - w) <= slack
        s = (f"{what} {since}: kernel {k}, wire {w}" + ("" if ok else
             (": the capture missed some (another interface? packets dropped before the capture point?)"
              if k > w else ": the capture saw more than the kernel counted")))
        return Check(name, AGREE if ok else DISAGREE, s, assoc=aid,
                     tolerance="|kernel - wire| <= the packets the wire saw in the last tick, at least max(2, 1 %)",
                     numbers={"kernel": k, "wire": w, "slack": slack})

    def _srtt(self, key: tuple[int, int], aid: int, k: KernelAssoc, wire: dict[str, Any],
              path: dict[str, Any] | None) -> Check:
        tol_ns = self.jiffy_ns + self.tol.time_ns
        tol = (f"|kernel - wire| <= 1 jiffy + {self.tol.time_ns / 1e6:g} ms + 10 % of the wire's, or both in one "
               "8-jiffy band (Linux's SRTT update cannot move within it)")
        if k.srtt_ns is None or path is None or wire["srtt_ns"] is None or wire["rtt_samples"] < MIN_SAMPLES:
            why = ("no kernel SRTT yet" if k.srtt_ns is None else "no wire path to the kernel's primary address"
                   if path is None else f"{wire['rtt_samples']} wire RTT samples on that path (< {MIN_SAMPLES})")
            return Check("srtt", NOT_CHECKABLE, f"SRTT not compared: {why}", assoc=aid, tolerance=tol)
        diff = k.srtt_ns - wire["srtt_ns"]
        close = abs(diff) <= tol_ns + wire["srtt_ns"] // 10
        # Linux keeps SRTT in whole jiffies and moves it by (rtt >> 3) - (srtt >> 3): while the samples lie in the
        # SRTT's own 8-jiffy band it cannot move at all and stays where it was (the first sample, often)
        band = (k.srtt_ns // self.jiffy_ns) >> 3 == (wire["srtt_ns"] // self.jiffy_ns) >> 3
        ok = close or band
        s = f"SRTT to {k.path_addr}: kernel {_ms(k.srtt_ns)}, wire {_ms(wire['srtt_ns'])}"
        if ok and not close:
            lo = ((k.srtt_ns // self.jiffy_ns) >> 3) << 3
            s += (f": in the same 8-jiffy band ({lo}..{lo + 7} jiffies), where the kernel's integer update "
                  "(srtt += rtt/8 - srtt/8) cannot move it")
        if not ok:
            s += (": the kernel's is higher by time the capture cannot see (this host's stack: queueing before "
                  "the capture point, SACK processing)" if diff > 0 else ": the kernel's is lower than the wire "
                  "shows")
        # judged on this tick alone, as the counters: both are running estimates, and the wire's settles only
        # after some samples (MIN_SAMPLES is the floor, not a guarantee)
        return Check("srtt", AGREE if ok else DISAGREE, s, assoc=aid, tolerance=tol,
                     numbers={"kernel_ns": k.srtt_ns, "wire_ns": wire["srtt_ns"], "wire_samples": wire["rtt_samples"]})
