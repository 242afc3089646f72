"""The checks: where the kernel and the wire agree, where they disagree, and why.

Every check answers one question about one association (or direction, or the whole run) with a verdict
(``model.VERDICTS``), the tolerance it used, its numbers and one sentence.  The sentence names the cause when
the inputs show one: time spent in the host before the capture point, a chunk lost before the capture point,
probe events the recording says it lost, the kernel's jiffy granularity.  docs/correlate.md describes each.

======================  ================================================================================
check                   question
======================  ================================================================================
recording               did the probe record everything (ring losses, kprobe misses, a cut file)?
associations            do the captures and the recordings show the same associations?
clock                   does the recorded clock offset fit the matched events?
tsn_coverage            is every DATA chunk the kernel sent on the capture next to it, and vice versa?
retransmissions         are the kernel's retransmissions the wire's, kind by kind?
rtt_samples             is each kernel RTT sample the wire's RTT of the same chunk, plus host time?
rto                     do SRTT/RTTVAR/RTO follow RFC 9260 from the kernel's own samples?
flight                  is the kernel's outstanding data the wire's bytes in flight (and within cwnd)?
peer_rwnd               is the kernel's view of the peer's window the SACKs' a_rwnd minus its flight?
local_rwnd              is the window a receiver advertised on the wire the one its kernel had?
path_state              does each path state change follow what the wire shows on that path?
assoc_state             does each association state change follow the chunk that causes it?
======================  ================================================================================

Theory of operation: a long recording is read in time windows (``core.Correlator``).  Each check is split in
two: ``measure_*`` looks at one window (the joins see the window plus a margin of context on both sides, but a
check counts only the items whose time falls inside the window, so each is counted once) and adds to a
``Tally``; ``judge_*`` turns the tally of the whole run into the verdict and the sentence.  A run read in one
piece is a single window.  Tallies hold counts, maxima, a few examples and ``Sketch``es for medians: memory does
not grow with the length of the run.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from sctpcorr.correlate.joins import NONE, Direction
from sctpcorr.correlate.kernel import RTX_CODE
from sctpcorr.correlate.model import AGREE, DISAGREE, EXPLAINED, NOT_CHECKABLE, Check
from sctpcorr.correlate.tables import in_order, small_unique
from sctpcorr.kernel.probes import LEVELS, event_level

if TYPE_CHECKING:
    from sctpcorr.correlate.core import Window

__all__ = ["Book", "Tally", "Sketch", "measure_window", "judge_all", "ms", "flight_series", "USES"]

SIDE = ("A", "B")
RTX_NAMES = {1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}
WIRE_KIND = ("fast", "timeout", "unknown")
EXAMPLES = 5
# which recorded event types each check reads (a loss of one of them weakens the check)
USES = {"tsn_coverage": ("egress",), "retransmissions": ("egress",), "rtt_samples": ("rto_update", "egress", "sack",
        "hb_ack", "hb_sent"), "rto": ("rto_update",), "flight": ("sack", "egress", "path"),
        "peer_rwnd": ("sack",), "local_rwnd": ("egress",), "path_state": ("path_state",),
        "assoc_state": ("assoc_change",)}
# the event types without which a check cannot be made at all: a recording at a probe level below them
# (`sctpcorr probe --level`) makes the check "not checkable", never a disagreement
NEEDS = {"tsn_coverage": ("egress",), "retransmissions": ("egress",), "rtt_samples": ("rto_update", "egress"),
         "rto": ("rto_update",), "flight": ("sack",), "peer_rwnd": ("sack",), "local_rwnd": ("egress",),
         "path_state": ("path_state",), "assoc_state": ("assoc_change",)}


def ms(ns: float | int | None, digits: int = 3) -> str:
    return "-" if ns is None else f"{ns / 1e6:.{digits}f} ms"


def _dname(side: int) -> str:
    return f"{SIDE[side]}>{SIDE[1 - side]}"


def _pct(n: int, total: int) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


# ---- accumulators --------------------------------------------------------------------------------------------
class Sketch:
    """Values for a median and extremes: exact up to ``cap`` values, then a log-scale histogram (1 % bins,
    sign kept), so memory stays bounded over a long run."""

    def __init__(self, cap: int = 50_000):
        self.cap = cap
        self.vals: list[np.ndarray] = []
        self.n = 0
        self.hist: dict[int, int] | None = None
        self.lo = float("inf")
        self.hi = float("-inf")

    @staticmethod
    def _bin(v: np.ndarray) -> np.ndarray:
        a = np.abs(v).astype(np.float64)
        b = np.where(a < 1, 0, np.floor(np.log(np.maximum(a, 1)) / np.log(1.01)) + 1)
        return (np.sign(v) * b).astype(np.int64)

    def add(self, v: np.ndarray) -> None:
        v = np.asarray(v, dtype=np.float64)
        v = v[~np.isnan(v)]
        if not len(v):
            return
        self.n += len(v)
        self.lo, self.hi = min(self.lo, float(v.min())), max(self.hi, float(v.max()))
        if self.hist is None:
            self.vals.append(v)
            if self.n > self.cap:
                allv = np.concatenate(self.vals)
                self.vals = []
                self.hist = {}
                self._hist_add(allv)
        else:
            self._hist_add(v)

    def _hist_add(self, v: np.ndarray) -> None:
        assert self.hist is not None
        bins = self._bin(v)
        lo = int(bins.min())
        c = np.bincount(bins - lo)               # (np.unique with counts, without its sort: bins are few)
        b = np.flatnonzero(c)
        for k, n in zip((b + lo).tolist(), c[b].tolist()):
            self.hist[k] = self.hist.get(k, 0) + n

    def quantile(self, q: float) -> float | None:
        if not self.n:
            return None
        if self.hist is None:
            return float(np.quantile(np.concatenate(self.vals), q))
        want = q * (self.n - 1)
        seen = 0
        for k in sorted(self.hist):
            seen += self.hist[k]
            if seen > want:
                return float(np.sign(k) * 1.01 ** (abs(k) - 0.5)) if k else 0.0
        return self.hi

    def median(self) -> float | None:
        return self.quantile(0.5)


@dataclass
class Tally:
    """What one check saw of one association (and direction) over the windows read so far."""

    name: str
    assoc: int | None
    direction: str | None
    n: dict[str, int] = field(default_factory=dict)         # counts, summed
    mx: dict[str, float] = field(default_factory=dict)      # maxima
    ex: dict[str, list[Any]] = field(default_factory=dict)  # the first few examples
    v: dict[str, Sketch] = field(default_factory=dict)      # values for medians
    info: dict[str, Any] = field(default_factory=dict)      # set once, or carried to the next window

    def add(self, key: str, k: int | float = 1) -> None:
        self.n[key] = self.n.get(key, 0) + int(k)

    def max(self, key: str, x: float | None) -> None:
        if x is not None and (key not in self.mx or x > self.mx[key]):
            self.mx[key] = float(x)

    def example(self, key: str, items: Any) -> None:
        lst = self.ex.setdefault(key, [])
        for it in items:
            if len(lst) >= EXAMPLES:
                break
            lst.append(it)

    def values(self, key: str, arr: Any) -> None:
        self.v.setdefault(key, Sketch()).add(np.asarray(arr))

    def med(self, key: str) -> float | None:
        s = self.v.get(key)
        return s.median() if s is not None else None


class Book:
    """Every tally of a run, in the order the checks first reported."""

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, int | None, str | None], Tally] = {}

    def get(self, name: str, assoc: int | None, direction: str | None) -> Tally:
        k = (name, assoc, direction)
        t = self.tallies.get(k)
        if t is None:
            t = self.tallies[k] = Tally(name, assoc, direction)
        return t


# ---- helpers ---------------------------------------------------------------------------------------------------
def _weak(J: Any, rec: int | None, check: str) -> list[str]:
    """The recording's losses that touch this check, as phrases."""
    if rec is None:
        return []
    lo = J.kernels[rec].losses()
    uses = USES.get(check, ())
    out = [f"{n} {t} events lost" for t, n in lo["lost"].items() if t in uses]
    out += [f"{n} {t} events the kernel skipped (kprobe misses)" for t, n in lo["missed_by_type"].items()
            if t in uses]
    if lo["backlog_dropped"]:
        out.append(f"{lo['backlog_dropped']} events dropped in user space")
    if lo["truncated"]:
        out.append("the recording has no end record (cut short)")
    return out


def _lost_n(J: Any, rec: int | None, types: tuple[str, ...]) -> int:
    if rec is None:
        return 0
    lo = J.kernels[rec].losses()
    return (sum(v for t, v in lo["lost"].items() if t in types)
            + sum(v for t, v in lo["missed_by_type"].items() if t in types)
            + lo["backlog_dropped"] + lo["decode_errors"] + lo["undecoded"])


def _near(d: Direction) -> int | None:
    caps = d.asc.near[d.side]
    return caps[0] if caps else None


def _tsn_list(values: list[int]) -> str:
    return ", ".join(str(x) for x in values[:EXAMPLES]) + (" ..." if len(values) > EXAMPLES else "")


# ---- per window ------------------------------------------------------------------------------------------------
def measure_window(W: Window, book: Book) -> None:
    """Add what this window shows to the tallies."""
    for a in W.assocs:
        if not a.wire or not (a.sides[0].kernel or a.sides[1].kernel):
            continue
        for side in (0, 1):
            d = W.directions.get((a.id, side))
            if d is None:
                continue
            measure_tsn_coverage(W, d, book)
            measure_retransmissions(W, d, book)
            measure_rtt_samples(W, d, book)
            measure_rto(W, d, book)
            measure_flight(W, d, book)
            measure_peer_rwnd(W, d, book)
            measure_local_rwnd(W, d, book)
        measure_path_state(W, a, book)
        measure_assoc_state(W, a, book)


CAPTURE_TAIL_NS = 2_000_000_000   # a chunk the kernel sent this close to a capture's end may not have reached it


def measure_tsn_coverage(W: Window, d: Direction, book: Book) -> None:
    if d.k_tx is None or not len(d.k_tx):
        return
    t = book.get("tsn_coverage", d.asc.id, _dname(d.side))
    t.info["rec"] = d.k_rec
    c = _near(d)
    k = d.k_tx
    kw = W.in_win(k.ts)
    if c is None:
        t.add("kernel_sent", int(kw.sum()))
        t.info["no_near"] = True
        return
    cap = W.captures[c]
    t.info["capture"] = cap.name
    t.info["drops"] = int(cap.meta.get("drops") or 0)
    w, m = d.w_tx[c], d.w_tx_k[c]
    span = W.cap_span_kernel(d.k_rec, c)
    in_span = kw.copy()
    tail = np.zeros(len(k), dtype=bool)
    if span is not None:
        first, last = span
        in_span &= k.ts >= first - 1_000_000
        if last is not None:   # a chunk sent in the capture's last moments may still have been in the host
            tail = k.ts > last - min(CAPTURE_TAIL_NS, max(0, (last - first) // 10))
    seen_k = np.zeros(len(k), dtype=bool)
    seen_k[m[m != NONE]] = True
    k_missing = np.flatnonzero(in_span & ~seen_k & ~tail)
    t.add("kernel_sent_at_capture_end", int((in_span & ~seen_k & tail).sum()))
    ww = W.wire_in_win(d.k_rec, c, w.ts)
    w_missing = np.flatnonzero(ww & (m == NONE))
    t.add("kernel_sent", int(in_span.sum()))
    t.add("capture_shows", int(ww.sum()))
    t.add("kernel_not_on_wire", len(k_missing))
    t.add("kernel_rtx_not_on_wire", int((k.sent_count[k_missing] > 1).sum()))
    t.add("wire_not_in_kernel", len(w_missing))
    t.example("kernel_not_on_wire", [int(x) & 0xFFFFFFFF for x in k.t[k_missing[:EXAMPLES]]])
    t.example("wire_not_in_kernel", [int(x) & 0xFFFFFFFF for x in w.t[w_missing[:EXAMPLES]]])


def judge_tsn_coverage(t: Tally, J: Any) -> Check:
    dn, n = t.direction, t.n
    side = SIDE.index(dn[0])     # type: ignore[index]
    if t.info.get("no_near"):
        return Check("tsn_coverage", NOT_CHECKABLE, f"no capture next to {SIDE[side]}: which of its DATA chunks "
                     "reached the wire there is not seen", t.assoc, dn)
    cap, drops = t.info.get("capture"), t.info.get("drops", 0)
    km, wm = n.get("kernel_not_on_wire", 0), n.get("wire_not_in_kernel", 0)
    tail = n.get("kernel_sent_at_capture_end", 0)
    num = {"kernel_sent": n.get("kernel_sent", 0), "capture_shows": n.get("capture_shows", 0),
           "kernel_not_on_wire": km, "wire_not_in_kernel": wm, "sent_as_the_capture_ended": tail, "capture": cap}
    weak = _weak(J, t.info.get("rec"), "tsn_coverage")
    if not km and not wm:
        if tail:
            return Check("tsn_coverage", AGREE, f"{n.get('kernel_sent', 0) - tail} of the "
                         f"{n.get('kernel_sent', 0)} DATA chunks {SIDE[side]}'s kernel sent are in {cap}, and nothing "
                         f"else; the other {tail} were sent as the capture ended", t.assoc, dn, "every chunk", num,
                         weak)
        return Check("tsn_coverage", AGREE, f"all {n.get('kernel_sent', 0)} DATA chunks {SIDE[side]}'s kernel sent "
                     f"are in {cap}, and nothing else", t.assoc, dn, "every chunk", num, weak)
    parts, v = [], DISAGREE
    if km:
        rtx = n.get("kernel_rtx_not_on_wire", 0)
        parts.append(f"{km} DATA chunks the kernel sent (TSN {_tsn_list(t.ex.get('kernel_not_on_wire', []))}) are "
                     f"not in {cap}" + (f", {rtx} of them retransmissions" if rtx else "")
                     + (f"; the capture reports {drops} drops" if drops else
                        "; the capture reports no drops: they were lost between the stack and the capture point "
                        "(a qdisc), or removed from the file"))
    if wm:
        parts.append(f"{wm} DATA chunks in {cap} (TSN {_tsn_list(t.ex.get('wire_not_in_kernel', []))}) have no "
                     "egress event in the recording")
    lost = _lost_n(J, t.info.get("rec"), ("egress",))
    if wm and not km and lost >= wm:
        v = EXPLAINED
        parts.append(f"the recording lost or skipped {lost} events, enough to account for them")
    elif km and drops >= km and not wm:
        v = EXPLAINED
    return Check("tsn_coverage", v, "; ".join(parts), t.assoc, dn, "every chunk", num, weak)


def measure_retransmissions(W: Window, d: Direction, book: Book) -> None:
    if d.k_tx is None or not (len(d.k_tx) or any(len(w) for w in d.w_tx.values())):
        return
    t = book.get("retransmissions", d.asc.id, _dname(d.side))
    t.info["rec"] = d.k_rec
    k = d.k_tx
    kw = W.in_win(k.ts)
    k_rtx = np.flatnonzero(kw & (k.sent_count > 1))
    for name, _first, n in _named_counts(k.rtx[k_rtx], lambda code: "kernel." + RTX_NAMES.get(code, "unknown")):
        t.add(name, n)
    c = _near(d)
    if c is None:
        t.info["no_near"] = True
        return
    t.info["capture"] = W.captures[c].name
    w, m = d.w_tx[c], d.w_tx_k[c]
    ww = W.wire_in_win(d.k_rec, c, w.ts)
    for name, _first, n in _named_counts(w.kind[ww & w.rtx], lambda code: "wire." + WIRE_KIND[code]):
        t.add(name, n)
    t.add("wire.spurious", int((ww & w.rtx & w.spurious).sum()))
    k_to_w = np.full(len(k), NONE, dtype=np.int64)
    ok = m != NONE
    k_to_w[m[ok]] = np.flatnonzero(ok)
    # each kernel retransmission: not on the wire, its original not captured, or a pair of kinds (then the same
    # kind or not); the counts are added in the order the items first give each name, as one by one
    wi = k_to_w[k_rtx]
    on = wi != NONE
    w_rtx = np.zeros(len(wi), dtype=bool)
    w_rtx[on] = w.rtx[wi[on]]
    paired = on & w_rtx
    codes = np.full(len(wi), -1, dtype=np.int64)
    codes[paired] = k.rtx[k_rtx[paired]].astype(np.int64) * 4 + w.kind[wi[paired]].astype(np.int64)
    adds: list[tuple[int, int, str, int]] = []        # (first item, its place in the item's adds, name, count)
    for mask, name in ((~on, "kernel_rtx_not_on_wire"), (on & ~w_rtx, "original_not_captured")):
        idx = np.flatnonzero(mask)
        if len(idx):
            adds.append((int(idx[0]), 0, name, len(idx)))
    same = np.zeros(len(wi), dtype=bool)
    for (reason, wk), first, n, rows in _pairs_named(codes[paired], np.flatnonzero(paired)):
        adds.append((first, 0, f"pair.{reason}/{wk}", n))
        if (reason, wk) in (("fast", "fast"), ("t3", "timeout"), ("t1", "timeout"), ("pmtud", "timeout"),
                            ("unknown", "unknown")):
            same[rows] = True
    # kernel t3 / wire fast: the SACKs asked for a fast retransmission, but a T3 timeout was noted after the fast
    # mark and before the chunk went out (_t3_after_fast_mark)
    race = np.zeros(len(wi), dtype=bool)
    t3_fast = np.flatnonzero(paired & ~same & (codes == RTX_CODE["t3"] * 4 + WIRE_KIND.index("fast")))
    if len(t3_fast):
        race[t3_fast] = _t3_after_fast_mark(W, d, k, k_rtx[t3_fast])
    for mask, name in ((paired & same, "matched_same_kind"), (paired & ~same, "kind_differs"),
                       (race, "kind_differs_t3_before_send")):
        idx = np.flatnonzero(mask)
        if len(idx):
            adds.append((int(idx[0]), 1, name, len(idx)))
    for _first, _place, name, n in sorted(adds):
        t.add(name, n)
    for key, mask in (("kind_differs", paired & ~same & ~race), ("kind_differs_t3_before_send", race)):
        for ki in k_rtx[mask][:EXAMPLES].tolist():
            reason = RTX_NAMES.get(int(k.rtx[ki]), "unknown")
            wk = WIRE_KIND[int(w.kind[int(k_to_w[ki])])]
            t.example(key, [f"TSN {int(k.t[ki]) & 0xFFFFFFFF}: kernel {reason}, wire {wk}"])
    first_k = np.zeros(len(w), dtype=bool)
    first_k[ok] = k.sent_count[m[ok]] == 1
    t.add("wire_rtx_kernel_sent_once", int((ww & w.rtx & first_k).sum()))
    t.add("wire_rtx_without_kernel_event", int((ww & w.rtx & ~ok).sum()))


def _cause(e: dict[str, Any]) -> str | None:
    """The retransmission cause a kernel event notes for its association, as the probe's egress reason reads it
    (sctpcorr.bpf.c note_cause): "fast" (cwnd lowered for a fast retransmission), "t3" (lowered for a T3
    timeout, or sctp_retransmit for one), else None."""
    t = e.get("type")
    if t == "cwnd" and e.get("op") == "lower":
        return {"fast_rtx": "fast", "t3_rtx": "t3"}.get(e.get("reason"))
    if t == "rtx_mark" and e.get("reason") == "t3":
        return "t3"
    return None


def _t3_after_fast_mark(W: Window, d: Direction, k: Any, rows: np.ndarray) -> np.ndarray:
    """For the kernel retransmissions ``rows`` of ``k`` (d.k_tx) that the kernel calls t3 and the wire fast: did
    the kernel note a fast retransmission for the association after the chunk's previous transmission, and then a
    T3 timeout, the last cause noted before this transmission?  The probe names a retransmission by the last
    cause noted for its association, so a chunk marked for fast retransmission that went out after a T3 expiry
    (its own path's or another's) is a T3 one for it, and a fast one for the SACKs on the wire.  Per row; False
    where the recording does not show both causes in that order."""
    out = np.zeros(len(rows), dtype=bool)
    if d.k_rec is None:
        return out
    kv = W.kernels[d.k_rec]
    causes = sorted((int(e["ts_ns"]), c) for e in kv.other
                    if e.get("end") == d.k_end and "ts_ns" in e and (c := _cause(e)) is not None)
    if not causes:
        return out
    cts = np.array([ts for ts, _c in causes], dtype=np.int64)
    order = np.lexsort((k.ts, k.t))                 # by TSN, then time: a transmission's previous one is before it
    pos = np.empty(len(order), dtype=np.int64)
    pos[order] = np.arange(len(order))
    for j, ki in enumerate(rows.tolist()):
        p = int(pos[ki])
        if p == 0 or k.t[order[p - 1]] != k.t[ki]:
            continue
        lo = int(np.searchsorted(cts, int(k.ts[order[p - 1]]), side="right"))
        hi = int(np.searchsorted(cts, int(k.ts[ki]), side="right"))
        seq = [c for _ts, c in causes[lo:hi]]
        out[j] = bool(seq) and seq[-1] == "t3" and "fast" in seq
    return out


def _named_counts(codes: np.ndarray, name: Callable[[int], str]) -> list[tuple[str, int, int]]:
    """(name, first item, count) of each name the codes give, in the order the items first give it (several codes
    may give one name)."""
    if not len(codes):
        return []
    u, first, n = np.unique(codes, return_index=True, return_counts=True)
    got: dict[str, list[int]] = {}
    for i in np.argsort(first, kind="stable").tolist():
        nm = name(int(u[i]))
        if nm in got:
            got[nm][1] += int(n[i])
        else:
            got[nm] = [int(first[i]), int(n[i])]
    return [(nm, f, c) for nm, (f, c) in got.items()]


def _pairs_named(codes: np.ndarray, rows: np.ndarray) -> list[tuple[tuple[str, str], int, int, np.ndarray]]:
    """For kernel reason * 4 + wire kind codes (at ``rows``): ((reason, wire kind), first row, count, its rows),
    by name, in the order the rows first give each."""
    if not len(codes):
        return []
    u, inv = np.unique(codes, return_inverse=True)
    inv = inv.reshape(-1)
    got: dict[tuple[str, str], list[Any]] = {}
    for g, code in enumerate(u.tolist()):
        nm = (RTX_NAMES.get(code // 4, "unknown"), WIRE_KIND[code % 4])
        r = rows[inv == g]
        if nm in got:
            got[nm][0] = min(got[nm][0], int(r[0]))
            got[nm][1] += len(r)
            got[nm][2] = np.sort(np.concatenate([got[nm][2], r]))
        else:
            got[nm] = [int(r[0]), len(r), r]
    return sorted(((nm, f, c, r) for nm, (f, c, r) in got.items()), key=lambda x: x[1])


def judge_retransmissions(t: Tally, J: Any) -> Check:
    dn, n = t.direction, t.n
    side = SIDE.index(dn[0])     # type: ignore[index]
    kern = {k[7:]: v for k, v in n.items() if k.startswith("kernel.")}
    wire = {k[5:]: v for k, v in n.items() if k.startswith("wire.")}
    if t.info.get("no_near"):
        return Check("retransmissions", NOT_CHECKABLE, f"no capture next to {SIDE[side]}: its retransmissions "
                     f"cannot be compared with the wire's (the kernel made {sum(kern.values())})", t.assoc, dn,
                     numbers={"kernel": kern})
    cap = t.info.get("capture")
    same, mismatch = n.get("matched_same_kind", 0), n.get("kind_differs", 0)
    orig_lost, not_on_wire = n.get("original_not_captured", 0), n.get("kernel_rtx_not_on_wire", 0)
    wire_twice, wire_extra = n.get("wire_rtx_kernel_sent_once", 0), n.get("wire_rtx_without_kernel_event", 0)
    num = {"kernel": kern, "wire": wire, "matched_same_kind": same, "kind_differs": mismatch,
           "original_not_captured": orig_lost, "kernel_rtx_not_on_wire": not_on_wire,
           "wire_rtx_kernel_sent_once": wire_twice, "wire_rtx_without_kernel_event": wire_extra,
           "pairs": {k[5:]: v for k, v in n.items() if k.startswith("pair.")}, "capture": cap}
    total = sum(kern.values())
    weak = _weak(J, t.info.get("rec"), "retransmissions")
    if not total and not sum(v for kk, v in wire.items() if kk != "spurious"):
        return Check("retransmissions", AGREE, f"no retransmissions in the kernel or in {cap}", t.assoc, dn,
                     "kind by kind", num, weak)
    desc = ", ".join(f"{v} {kk}" for kk, v in sorted(kern.items())) or "none"
    wdesc = ", ".join(f"{v} {kk}" for kk, v in sorted(wire.items()) if v) or "none"
    notes = []
    if orig_lost:
        notes.append(f"{orig_lost} retransmitted chunk(s) have no original in {cap}: the original was lost before "
                     "the capture point, so the wire shows the retransmission as the first transmission")
    if not_on_wire:
        notes.append(f"{not_on_wire} kernel retransmission(s) are not in the capture")
    raced = n.get("kind_differs_t3_before_send", 0)
    num["kind_differs_t3_before_send"] = raced
    v = AGREE
    if mismatch - raced:
        v = DISAGREE
        notes.append(f"{mismatch - raced} differ in kind ({'; '.join(t.ex.get('kind_differs', []))})")
    if raced:
        notes.append(f"{raced} differ in kind for a known reason: the kernel noted a fast retransmission, then a "
                     "T3 timeout, before sending them, and the probe names a retransmission by the last cause noted "
                     "for its association; the SACKs on the wire had asked for a fast one "
                     f"({'; '.join(t.ex.get('kind_differs_t3_before_send', []))})")
    if wire_twice:
        v = DISAGREE
        notes.append(f"{wire_twice} chunk(s) the kernel sent once appear twice in the capture")
    if wire_extra and _lost_n(J, t.info.get("rec"), ("egress",)) < wire_extra:
        v = DISAGREE
        notes.append(f"{wire_extra} retransmission(s) in the capture have no egress event")
    if v == AGREE and (orig_lost or not_on_wire or raced):
        v = EXPLAINED
    s = f"kernel: {desc}; {cap}: {wdesc}; {same} of {total} matched kind by kind"
    if notes:
        s += "; " + "; ".join(notes)
    return Check("retransmissions", v, s, t.assoc, dn, "kind by kind (fast=fast, t3=timeout)", num, weak)


def measure_rtt_samples(W: Window, d: Direction, book: Book) -> None:
    """Each kernel RTT sample against the wire RTT of the chunk it timed.

    By construction ``rtt = wire_rtt + host_tx + host_rx + clock``, where ``clock`` is the kernel's own
    timekeeping: the jiffy granularity plus how far its jiffies ran from its monotonic clock during the sample
    (both read off the events' (ts, jiffies) pairs).  So a sample *agrees* when the host parts are within a jiffy
    (it is the wire RTT, counted in jiffies), is *explained* when time in the host makes it longer (the sentence
    says how much, and where), and *disagrees* when no chunk on the wire fits it or a host part is negative
    beyond the clocks' uncertainty (the wire saw the chunk before the kernel sent it: the join or the clock
    alignment is wrong)."""
    from sctpcorr.correlate.rtt import _MATCH

    c = W.samples.cols
    sel = (c["assoc"] == d.asc.id) & (c["side"] == d.side)
    ns = int(sel.sum())
    if not ns:
        return
    t = book.get("rtt_samples", d.asc.id, _dname(d.side))
    kv = W.kernels[d.k_rec]  # type: ignore[index]
    jns = kv.jiffy_ns or 0
    tol = W.tolerances
    near = _near(d)
    t.info["rec"], t.info["jiffy_ns"] = d.k_rec, jns
    match = c["match"][sel]
    t.add("samples", ns)
    t.add("heartbeat", int(c["hb"][sel].sum()))
    t.add("data", ns - int(c["hb"][sel].sum()))
    unmatched = int((match == _MATCH.index("none")).sum())
    skipped = match == _MATCH.index("egress_missing")
    t.add("attributed", ns - unmatched)
    t.add("unattributed", unmatched)
    t.add("chunk_without_egress_event", int(skipped.sum()))
    t.example("skipped_tsns", c["tsn"][sel][skipped].tolist())
    if near is None:
        t.info["no_near"] = True
        return
    p = W.samples.parts(sel)
    rtt_ns = c["rtt_ns"][sel]
    ok = ~(np.isnan(p["wire_rtt_ns"]) | np.isnan(p["kernel_interval_ns"]) | np.isnan(p["host_tx_ns"])
           | np.isnan(p["host_rx_ns"]))
    t.add("decomposed", int(ok.sum()))
    if not ok.any():
        return
    f = W.clocks.get((d.k_rec, near))  # type: ignore[arg-type]
    clock_unc = (f.uncertainty_ns or 0) if f is not None else 0
    t.max("clock_uncertainty_ns", clock_unc)
    slack = jns + tol.time_ns
    htx = p["host_tx_ns"][ok].astype(np.int64)
    hrx = p["host_rx_ns"][ok].astype(np.int64)
    host = htx + hrx
    excess = rtt_ns[ok] - p["wire_rtt_ns"][ok].astype(np.int64)
    clk = p["quantisation_ns"][ok].astype(np.int64)
    drift = np.nan_to_num(p["tick_drift_ns"][ok]).astype(np.int64)
    negative = (htx < -(clock_unc + tol.time_ns)) | (hrx < -(clock_unc + tol.time_ns))
    agree = ~negative & (host <= slack)
    explained = ~negative & ~agree
    t.values("host_tx", htx)
    t.values("host_rx", hrx)
    t.values("host", host)
    t.values("excess", excess)
    t.add("negative_host_time", int(negative.sum()))
    t.add("within_a_jiffy", int(agree.sum()))
    t.add("longer_by_host_time", int(explained.sum()))
    t.max("host_tx_max_ns", float(htx.max()))
    t.max("kernel_clock_max_abs_ns", float(np.abs(clk).max()))
    t.max("tick_drift_max_abs_ns", float(np.abs(drift).max()))
    if explained.any():
        t.max("host_explained_max_ns", float(host[explained].max()))


def judge_rtt_samples(t: Tally, J: Any) -> Check:
    dn, n = t.direction, t.n
    side = SIDE.index(dn[0])     # type: ignore[index]
    jns = t.info.get("jiffy_ns", 0)
    tol = J.tolerances
    weak = _weak(J, t.info.get("rec"), "rtt_samples")
    tols = f"host time within one jiffy ({ms(jns, 0)}) + {ms(tol.time_ns, 1)}; {tol.outlier_pct:g} % outliers"
    samples, unmatched, skipped = n.get("samples", 0), n.get("unattributed", 0), n.get("chunk_without_egress_event", 0)
    num: dict[str, Any] = {k: n.get(k, 0) for k in ("samples", "data", "heartbeat", "attributed", "decomposed",
                                                    "negative_host_time", "within_a_jiffy", "longer_by_host_time",
                                                    "unattributed", "chunk_without_egress_event")}
    num.update({"jiffy_ns": jns, "excess_median_ns": t.med("excess"), "host_tx_median_ns": t.med("host_tx"),
                "host_rx_median_ns": t.med("host_rx"), **{k: t.mx.get(k) for k in (
                    "host_tx_max_ns", "kernel_clock_max_abs_ns", "tick_drift_max_abs_ns", "clock_uncertainty_ns")}})
    for k in ("excess_median_ns", "host_tx_median_ns", "host_rx_median_ns", "host_tx_max_ns",
              "kernel_clock_max_abs_ns", "tick_drift_max_abs_ns", "clock_uncertainty_ns"):
        if num[k] is not None:
            num[k] = int(num[k])
    if t.info.get("no_near"):
        return Check("rtt_samples", NOT_CHECKABLE, f"{samples} kernel RTT samples, but no capture next to "
                     f"{SIDE[side]}: the wire RTT of the chunks it timed is not seen", t.assoc, dn, tols, num, weak)
    if not n.get("decomposed"):
        return Check("rtt_samples", NOT_CHECKABLE, f"none of the {samples} kernel RTT samples could be put on the "
                     "wire (no chunk matched, or no clock)", t.assoc, dn, tols, num, weak)
    slack = jns + tol.time_ns
    negative = n.get("negative_host_time", 0)
    bad = negative + unmatched
    bad_pct = _pct(bad, samples)
    drift_max = t.mx.get("tick_drift_max_abs_ns", 0)
    clock_note = ""
    if drift_max > jns:
        clock_note = (f"; the kernel's jiffies ran up to {ms(drift_max)} off its monotonic clock during a sample "
                      "(timer ticks came late and in bursts)")
    if skipped:
        clock_note += (f"; {skipped} timed a chunk whose egress event the kernel skipped (TSN "
                       f"{_tsn_list(t.ex.get('skipped_tsns', []))}: on the wire, acked by the SACK before the sample, "
                       "missing from the recording)")
    htx, hrx, host = t.med("host_tx") or 0, t.med("host_rx") or 0, t.med("host") or 0
    where = (f"host time {ms(htx)} median in {SIDE[side]} before the capture point, {ms(hrx)} from the answer on "
             "the wire to the kernel")
    if bad_pct > tol.outlier_pct:
        why = []
        if unmatched:
            why.append(f"{unmatched} match no chunk in the recording and captures")
        if negative:
            why.append(f"{negative} have their chunk on the wire before the kernel sent it or its answer after "
                       f"the kernel took the sample (by more than the clock uncertainty "
                       f"{ms(t.mx.get('clock_uncertainty_ns', 0))})")
        return Check("rtt_samples", DISAGREE, f"{bad} of {samples} kernel RTT samples ({bad_pct:g} %) do not fit "
                     "the wire: " + "; ".join(why), t.assoc, dn, tols, num, weak)
    if host <= slack and not skipped:
        some = ""
        if n.get("longer_by_host_time"):
            some = (f"; {n['longer_by_host_time']} were longer by host time (up to "
                    f"{ms(t.mx.get('host_explained_max_ns'))}: the stack was late now and then)")
        return Check("rtt_samples", AGREE, f"{n['decomposed']} kernel RTT samples are the wire RTT of the chunk "
                     f"they timed, counted in jiffies ({where}){some}{clock_note}", t.assoc, dn, tols, num, weak)
    if host <= slack:
        return Check("rtt_samples", EXPLAINED, f"{n['decomposed']} kernel RTT samples are the wire RTT of the chunk "
                     f"they timed, counted in jiffies ({where}){clock_note}", t.assoc, dn, tols, num, weak)
    return Check("rtt_samples", EXPLAINED, f"kernel RTT samples are {ms(t.med('excess'))} (median) longer than the "
                 f"wire RTT of the same chunks: {where}{clock_note}", t.assoc, dn, tols, num, weak)


def measure_rto(W: Window, d: Direction, book: Book) -> None:
    from sctpcorr.correlate.rtt import recompute_rto_arrays

    if d.k_rec is None:
        return
    kv = W.kernels[d.k_rec]
    sel = (kv.rto.end == d.k_end) & kv.rto.paired
    sel &= W.in_win(kv.rto.ts)
    rt = kv.rto[sel]
    if not len(rt):
        return
    t = book.get("rto", d.asc.id, _dname(d.side))
    t.info["rec"], t.info["jiffy_ns"] = d.k_rec, kv.jiffy_ns or 0
    srtt, rttvar, rto = recompute_rto_arrays(rt.rtt_j, rt.srtt_b, rt.rttvar_b, rt.rto_min, rt.rto_max)
    t.add("samples", len(rt))
    bad = np.flatnonzero((rt.srtt != srtt) | (rt.rttvar != rttvar) | (rt.rto != rto))
    if len(bad):
        t.add("formula_mismatches", len(bad))
        t.example("mismatch", [tuple(int(x) for x in (rt.rtt_j[i], rt.srtt_b[i], rt.rttvar_b[i], rt.srtt[i],
                                                       rt.rttvar[i], rt.rto[i], srtt[i], rttvar[i], rto[i]))
                               for i in bad[:5].tolist()])
    # each update starts from the values the one before it on the same path left (else another code path set
    # them: a path reset); the window's first update per path against the last of the window before
    last: dict[str, dict[str, Any]] = t.info.setdefault("last", {})
    order = np.lexsort((np.arange(len(rt)), rt.path))
    p = rt.path[order]
    same = np.zeros(len(rt), dtype=bool)
    same[1:] = p[1:] == p[:-1]
    prev_s, prev_v = np.roll(rt.srtt[order], 1), np.roll(rt.rttvar[order], 1)
    breaks = same & ((rt.srtt_b[order] != prev_s) | (rt.rttvar_b[order] != prev_v))
    t.add("chain_breaks", int(breaks.sum()))
    for i in np.flatnonzero(~same).tolist():
        r = int(order[i])
        addr = kv.addr(int(rt.path[r]))
        pr = last.get(addr)
        if pr is not None and (int(rt.srtt_b[r]), int(rt.rttvar_b[r])) != (pr["srtt"], pr["rttvar"]):
            t.add("chain_breaks")
    ends = np.flatnonzero(np.append(p[1:] != p[:-1], True))
    for i in ends.tolist():
        r = int(order[i])
        last[kv.addr(int(rt.path[r]))] = {"srtt": int(rt.srtt[r]), "rttvar": int(rt.rttvar[r]), "rto": int(rt.rto[r])}
    t.info.setdefault("rto_min", int(rt.rto_min[0]))
    t.info.setdefault("rto_max", int(rt.rto_max[0]))


def judge_rto(t: Tally, J: Any) -> Check:
    jns = t.info.get("jiffy_ns", 0)
    final = {a: {"srtt_ns": v["srtt"] * jns, "rttvar_ns": v["rttvar"] * jns, "rto_ns": v["rto"] * jns}
             for a, v in t.info.get("last", {}).items()}
    n = t.n
    num = {"samples": n.get("samples", 0), "formula_mismatches": n.get("formula_mismatches", 0),
           "chain_breaks": n.get("chain_breaks", 0), "final": final, "rto_min_ns": t.info["rto_min"] * jns,
           "rto_max_ns": t.info["rto_max"] * jns}
    tol = "exact (integer jiffies, alpha 1/8, beta 1/4, RTTVAR >= 1 jiffy, RTO in [rto_min, rto_max])"
    weak = _weak(J, t.info.get("rec"), "rto")
    if num["formula_mismatches"]:
        e = t.ex["mismatch"][0]
        return Check("rto", DISAGREE, f"{num['formula_mismatches']} of {num['samples']} updates do not follow RFC 9260 "
                     f"6.3.1 from the kernel's own values: e.g. sample {e[0]} j from SRTT {e[1]} RTTVAR {e[2]} gave "
                     f"{e[3]}/{e[4]}/{e[5]} j, the formula {e[6]}/{e[7]}/{e[8]}", t.assoc, t.direction, tol, num, weak)
    s = (f"all {num['samples']} SRTT/RTTVAR/RTO updates follow RFC 9260 6.3.1 (rto_min {ms(num['rto_min_ns'], 0)}, "
         f"rto_max {ms(num['rto_max_ns'], 0)}) from the kernel's samples")
    if num["chain_breaks"]:
        s += f"; {num['chain_breaks']} update(s) started from values another code path had set (a path reset)"
    return Check("rto", AGREE, s, t.assoc, t.direction, tol, num, weak)


def flight_series(W: Any, d: Direction) -> dict[str, np.ndarray] | None:
    """At each SACK the sender's kernel processed (matched to the capture next to it), all at the moment of
    processing: the kernel's outstanding bytes before that SACK; the bytes in flight the capture shows then
    (first transmissions it had seen minus those acked by earlier SACKs); the bytes the kernel had sent that
    the capture had not yet shown (still in the host); and what the capture had in flight of chunks with no
    egress event (probe hits the kernel skipped).  ``kt``: kernel clock.  None when a piece is missing."""
    c = _near(d)
    if d.k_sack is None or not len(d.k_sack) or d.k_tx is None or c is None or c not in d.k_sack_w:
        return None
    f = W.clocks.get((d.k_rec, c))  # type: ignore[arg-type]
    if f is None or f.offset_ns is None:
        return None
    w = d.w_tx[c]
    if not len(w):
        return None
    ks = d.k_sack
    new = np.flatnonzero(~w.rtx)
    order = np.argsort(w.ts[new], kind="stable")
    sent_ts, sent_len = w.ts[new][order], w.length[new][order]
    sent_cum = np.concatenate([[0], np.cumsum(sent_len)])
    rows, _g = d.w_first_ack(c, new[order])
    ack_rows = np.where(rows != NONE, rows, np.iinfo(np.int64).max)
    ack_order = np.argsort(ack_rows, kind="stable")
    acked_rows_sorted = ack_rows[ack_order]
    acked_cum = np.concatenate([[0], np.cumsum(sent_len[ack_order])])
    wrow = d.k_sack_w[c]
    ok = wrow != NONE
    kt, wr = ks.ts[ok], wrow[ok]
    if not len(kt):
        return None
    kt_w = np.asarray(f.offset_at(kt)) + kt           # the moment of processing, in the capture's clock
    shown = sent_cum[np.searchsorted(sent_ts, kt_w, side="right")]
    wire_flight = shown - acked_cum[np.searchsorted(acked_rows_sorted, wr, side="left")]
    k = d.k_tx
    kf = np.flatnonzero(k.sent_count == 1)
    ko = np.argsort(k.ts[kf], kind="stable")
    k_cum = np.concatenate([[0], np.cumsum(k.length[kf][ko])])
    queued = np.maximum(k_cum[np.searchsorted(k.ts[kf][ko], kt, side="right")] - shown, 0)
    unrec = np.zeros(len(kt), dtype=np.int64)
    nok = np.flatnonzero((d.w_tx_k[c] == NONE)[new][order])
    for ts_i, ln, ar in zip(sent_ts[nok].tolist(), sent_len[nok].tolist(), ack_rows[nok].tolist()):
        unrec += np.where((kt_w > ts_i) & (wr <= ar), ln, 0)
    return {"kt": kt, "kernel": ks.outstanding[ok], "wire": wire_flight, "queued": queued, "unrecorded": unrec,
            "capture": np.full(len(kt), c)}


def measure_flight(W: Window, d: Direction, book: Book) -> None:
    """Kernel outstanding bytes before each SACK vs the bytes in flight the capture next to the sender shows
    then; the kernel may count more by what it sent that had not yet reached the capture point."""
    fs = flight_series(W, d)
    if fs is None:
        return
    inw = W.in_win(fs["kt"])
    if not inw.any():
        return
    t = book.get("flight", d.asc.id, _dname(d.side))
    t.info["rec"], t.info["capture"] = d.k_rec, W.captures[_near(d)].name  # type: ignore[index]
    kt, kern, wire_flight, queued, unrec = (fs[k][inw] for k in ("kt", "kernel", "wire", "queued", "unrecorded"))
    diff = kern - wire_flight
    tol = W.tolerances.bytes
    agree = np.abs(diff) <= tol
    explained = ~agree & (diff >= -tol) & (diff <= queued + tol)
    # a chunk whose egress event the kernel skipped is on the wire but was never in the kernel's sends
    by_loss = ~agree & ~explained & (unrec > 0) & (diff >= -tol - unrec) & (diff <= queued + tol)
    t.add("sacks", len(kt))
    t.add("within_mtu", int(agree.sum()))
    t.add("explained_by_host_queue", int(explained.sum()))
    t.add("explained_by_missing_egress", int(by_loss.sum()))
    t.max("max_diff_bytes", float(np.abs(diff).max()))
    t.max("max_host_queued_bytes", float(queued.max()))
    t.max("wire_flight_max", float(wire_flight.max()))
    t.max("kernel_outstanding_max", float(kern.max()))
    if explained.any():
        t.max("host_queue_diff_max", float(diff[explained].max()))
    # cwnd: the wire's flight against the sum of every transport's latest cwnd (+1 MTU)
    pv = W.kernels[d.k_rec].paths  # type: ignore[index]
    sel = np.flatnonzero(pv.end == d.k_end)            # (only the three columns read, not the whole table)
    if len(sel):
        cwnd_sum = np.zeros(len(kt), dtype=np.int64)
        p_ts, p_path, p_cwnd = pv.ts[sel], pv.path[sel], pv.cwnd[sel]
        for p in small_unique(p_path).tolist():
            on = p_path == p
            q_ts, q_cwnd = p_ts[on], p_cwnd[on]
            idx = np.searchsorted(q_ts, kt, side="right") - 1
            cwnd_sum += np.where(idx >= 0, q_cwnd[np.maximum(idx, 0)], 0)
        have = cwnd_sum > 0
        t.add("flight_above_cwnd", int((wire_flight[have] - unrec[have] > cwnd_sum[have] + tol).sum()))


def judge_flight(t: Tally, J: Any) -> Check:
    n, mx = t.n, t.mx
    tol = J.tolerances.bytes
    sacks = n.get("sacks", 0)
    agree, hq, bl = n.get("within_mtu", 0), n.get("explained_by_host_queue", 0), n.get("explained_by_missing_egress", 0)
    over = n.get("flight_above_cwnd", 0)
    num = {"sacks": sacks, "within_mtu": agree, "explained_by_host_queue": hq, "explained_by_missing_egress": bl,
           "flight_above_cwnd": over, **{k: int(v) for k, v in mx.items()}}
    tols = f"{tol} bytes, plus what the kernel had sent that was not yet on the wire"
    cap = t.info.get("capture")
    weak = _weak(J, t.info.get("rec"), "flight")
    bad = sacks - agree - hq - bl
    over_bad = over if _pct(over, sacks) > J.tolerances.outlier_pct else 0
    if _pct(bad, sacks) > J.tolerances.outlier_pct or over_bad:
        s = (f"at {bad} of {sacks} SACKs the kernel's outstanding bytes differ from the bytes in flight in {cap} "
             f"by more than {tol} bytes and the host's queue (up to {int(mx.get('max_diff_bytes', 0))} bytes)")
        if over_bad:
            s += f"; at {over} SACKs the wire had more in flight than the kernel's cwnd"
        return Check("flight", DISAGREE, s, t.assoc, t.direction, tols, num, weak)
    if _pct(sacks - agree, sacks) <= J.tolerances.outlier_pct:
        return Check("flight", AGREE, f"the kernel's outstanding bytes equal the wire's bytes in flight within {tol} "
                     f"bytes at {agree} of {sacks} SACKs (largest {int(mx.get('wire_flight_max', 0))} bytes), "
                     "never above its cwnd", t.assoc, t.direction, tols, num, weak)
    why = []
    if hq:
        why.append(f"the kernel counted up to {int(mx.get('host_queue_diff_max', 0))} bytes more in flight than "
                   f"{cap} shows: data it had sent that was still in the host before the capture point (up to "
                   f"{int(mx.get('max_host_queued_bytes', 0))} bytes queued)")
    if bl:
        why.append(f"at {bl} SACKs the difference is data on the wire whose egress event the kernel skipped (the "
                   "recording's probe misses)")
    return Check("flight", EXPLAINED, "; ".join(why) or "within tolerance", t.assoc, t.direction, tols, num, weak)


def measure_peer_rwnd(W: Window, d: Direction, book: Book) -> None:
    """Before each SACK the kernel processes, its view of the peer's window plus its outstanding bytes is the
    a_rwnd of the previous SACK (Linux: rwnd = a_rwnd - outstanding on a SACK, minus each chunk sent, plus each
    chunk marked for retransmission)."""
    if d.k_sack is None or len(d.k_sack) < 2:
        return
    ks = d.k_sack
    a_wire = ks.a_rwnd.copy()
    read_differs = np.zeros(len(ks), dtype=bool)
    src = None
    for cc, m in d.k_sack_w.items():
        ok = m != NONE
        if ok.any():
            wa = d.w_sack[cc].a_rwnd[m[ok]]
            read_differs[np.flatnonzero(ok)] = wa != ks.a_rwnd[ok]
            a_wire[ok] = wa
            src = W.captures[cc].name
            break
    inw = W.in_win(ks.ts)
    x = ks.peer_rwnd[1:] + ks.outstanding[1:]
    prev = a_wire[:-1]
    cum_adv = ks.cum[1:] >= ks.cum[:-1]        # an older SACK does not update the window
    floor = (ks.peer_rwnd[1:] == 0) & (ks.outstanding[1:] >= prev)
    ok = cum_adv & ~floor & inw[1:]
    diff = x[ok] - prev[ok]
    t = book.get("peer_rwnd", d.asc.id, _dname(d.side))
    t.info["rec"] = d.k_rec
    if src:
        t.info["capture"] = src
    tol = W.tolerances.bytes
    t.add("sacks", int(ok.sum()))
    t.add("equal", int((diff == 0).sum()))
    t.add("within_mtu", int((np.abs(diff) <= tol).sum()))
    t.add("zero_window_sacks", int((floor & inw[1:]).sum()))
    t.add("a_rwnd_read_differs", int((read_differs & inw).sum()))
    if len(diff):
        t.max("max_diff_bytes", float(np.abs(diff).max()))


def judge_peer_rwnd(t: Tally, J: Any) -> Check | None:
    n = t.n
    tol = J.tolerances.bytes
    num = {k: n.get(k, 0) for k in ("sacks", "equal", "within_mtu", "zero_window_sacks", "a_rwnd_read_differs")}
    num["max_diff_bytes"] = int(t.mx.get("max_diff_bytes", 0))
    tols = f"{tol} bytes; {J.tolerances.outlier_pct:g} % outliers"
    weak = _weak(J, t.info.get("rec"), "peer_rwnd")
    src = t.info.get("capture")
    if num["a_rwnd_read_differs"]:
        return Check("peer_rwnd", DISAGREE, f"{num['a_rwnd_read_differs']} SACKs carried a different a_rwnd in the "
                     f"kernel than in {src}", t.assoc, t.direction, tols, num, weak)
    if not num["sacks"]:
        return None
    if _pct(num["sacks"] - num["within_mtu"], num["sacks"]) <= J.tolerances.outlier_pct:
        return Check("peer_rwnd", AGREE, f"before each of {num['sacks']} SACKs the kernel's peer rwnd plus its "
                     f"outstanding bytes is the previous SACK's a_rwnd{' on the wire' if src else ''} "
                     f"({num['equal']} exactly)", t.assoc, t.direction, tols, num, weak)
    return Check("peer_rwnd", DISAGREE, f"at {num['sacks'] - num['within_mtu']} of {num['sacks']} SACKs the kernel's peer "
                 f"rwnd plus outstanding is not the previous SACK's a_rwnd (up to {num['max_diff_bytes']} bytes "
                 "off)", t.assoc, t.direction, tols, num, weak)


def measure_local_rwnd(W: Window, d: Direction, book: Book) -> None:
    """The receiver (the other side) put a_rwnd in each SACK; its egress event says which window it had."""
    if d.k_sack_out is None or not len(d.k_sack_out):
        return
    ko = d.k_sack_out
    inw = W.in_win(ko.ts)
    for c, m in d.k_sack_out_w.items():
        ok = m != NONE
        if not ok.any():
            continue
        t = book.get("local_rwnd", d.asc.id, _dname(1 - d.side))
        t.info["rec"], t.info["capture"] = d.r_rec, W.captures[c].name
        sel = ok & inw
        wa = d.w_sack[c].a_rwnd[m[sel]]
        ka = ko.a_rwnd[sel]
        t.add("sacks", int(sel.sum()))
        t.add("equal", int((wa == ka).sum()))
        t.add("zero_window_sacks", int((wa == 0).sum()))
        t.add("unmatched", int((~ok & inw).sum()))
        return


def judge_local_rwnd(t: Tally, J: Any) -> Check:
    n = t.n
    num = {k: n.get(k, 0) for k in ("sacks", "equal", "zero_window_sacks", "unmatched")}
    num["capture"] = t.info.get("capture")
    who = t.direction[0]    # type: ignore[index]
    weak = _weak(J, t.info.get("rec"), "local_rwnd")
    if num["equal"] == num["sacks"]:
        z = num["zero_window_sacks"]
        return Check("local_rwnd", AGREE, f"all {num['sacks']} SACKs {who} sent carry on the wire the window its kernel "
                     f"had (a_rwnd{', ' + str(z) + ' of them zero' if z else ''})", t.assoc, t.direction, "exact",
                     num, weak)
    return Check("local_rwnd", DISAGREE, f"{num['sacks'] - num['equal']} of {num['sacks']} SACKs {who} sent carry another "
                 "a_rwnd on the wire than its kernel had", t.assoc, t.direction, "exact", num, weak)


# ---- path and association state --------------------------------------------------------------------------------
def _wire_path_rows(W: Window, c: int, aid: int, peer_addr: str) -> list[int]:
    wa = W.captures[c].assocs.get(aid)
    return [] if wa is None else [i for i, p in enumerate(wa.paths) if peer_addr in (p.get("dst"), p.get("src"))]


def _state_events(W: Window, a: Any, side: int, book: Book, check: str, count: str,
                  which: Callable[[dict[str, Any]], bool]) -> tuple[Tally, list[dict[str, Any]], int, Any, Any] | None:
    """The rare kernel events ``which`` of endpoint ``side`` in this window, with the tally of ``check``, the
    capture next to that end and the clock to it: (tally, events, capture index, clock fit, capture), or None
    when there is nothing to compare (no events; no capture next to it, which the tally records; no clock)."""
    ke = a.kernel_end(side)
    if ke is None:
        return None
    kv = W.kernels[ke[0]]
    evs = [e for e in kv.other if e["end"] == ke[1] and which(e) and W.in_win_one(e["ts_ns"])]
    if not evs:
        return None
    t = book.get(check, a.id, SIDE[side])
    t.info["rec"] = ke[0]
    c = a.near[side][0] if a.near[side] else None
    if c is None:
        t.info["no_near"] = True
        t.add(count, len(evs))
        return None
    f = W.clocks.get((ke[0], c))
    if f is None or f.offset_ns is None or c not in a.wire:
        return None
    cap = W.captures[c]
    t.info["capture"] = cap.name
    return t, evs, c, f, cap


def _sort(x: np.ndarray) -> np.ndarray:
    """``np.sort(x)``, without the sort when x already is (capture times nearly always are)."""
    return x if in_order(x) else np.sort(x)


def measure_path_state(W: Window, a: Any, book: Book) -> None:
    tol_ns = W.tolerances.state_ns
    for side in (0, 1):
        got = _state_events(W, a, side, book, "path_state", "changes",
                            lambda e: e.get("type") == "path_state")
        if got is None:
            continue
        t, evs, c, f, cap = got
        aid = a.wire[c]
        wd_out, wd_in = a.wire_dir(c, side), a.wire_dir(c, 1 - side)
        hbs = cap.hbs[cap.hbs.assoc == aid]
        sacks = cap.sacks[cap.sacks.assoc == aid]
        dd = W.directions.get((a.id, side))
        data_ack = None
        if dd is not None and c in dd.w_tx and len(dd.w_tx[c]):
            w = dd.w_tx[c]
            rows, _g = dd.w_first_ack(c)
            sk = dd.w_sack[c]
            ack_ts = np.where(rows != NONE, sk.ts[np.maximum(rows, 0)] if len(sk) else 0, np.iinfo(np.int64).max)
            data_ack = (w, np.maximum(w.ts, ack_ts))
        per_path: dict[str, dict[str, np.ndarray]] = {}

        def times(addr: str) -> dict[str, np.ndarray]:
            """Sorted capture times on the path(s) to/from ``addr``: HEARTBEAT-ACKs in, HEARTBEATs out, SACKs in,
            and DATA sent / DATA settled (sent and acked: max of the two times), all and retransmitted only."""
            got = per_path.get(addr)
            if got is None:
                prow = _wire_path_rows(W, c, aid, addr)
                hp, sp = np.isin(hbs.path, prow), np.isin(sacks.path, prow)
                got = {"hb_ack_in": _sort(hbs.ts[hbs.ack & (hbs.dir == wd_in) & hp]),
                       "hb_out": _sort(hbs.ts[~hbs.ack & (hbs.dir == wd_out) & hp]),
                       "sack_in": _sort(sacks.ts[(sacks.dir == wd_in) & sp])}
                if data_ack is not None:
                    w, settled = data_ack
                    on = np.isin(w.path, prow)
                    got.update(sent=_sort(w.ts[on]), settled=_sort(settled[on]),
                               rtx_sent=_sort(w.ts[on & w.rtx]), rtx_settled=_sort(settled[on & w.rtx]))
                per_path[addr] = got
            return got

        # every event at once, per path address: where its time falls among that path's capture times
        n_ev = len(evs)
        ts = np.array([e["ts_ns"] for e in evs], dtype=np.int64)
        off = f.offset_at(ts)
        t_w = (np.asarray(off).astype(np.int64) if f.rate_ppm else np.int64(off)) + ts
        cmds = [e.get("command") for e in evs]
        whys = [e.get("sn_error") for e in evs]
        addrs = [e.get("path_addr") for e in evs]
        ok = np.zeros(n_ev, dtype=bool)
        n_hb = np.zeros(n_ev, dtype=np.int64)
        n_data = np.zeros(n_ev, dtype=np.int64)
        n_rtx = np.zeros(n_ev, dtype=np.int64)
        by_addr: dict[Any, list[int]] = {}
        for i, addr in enumerate(addrs):
            by_addr.setdefault(addr, []).append(i)

        def below(x: np.ndarray, v: np.ndarray) -> np.ndarray:
            """How many of sorted ``x`` are <= each ``v``."""
            return np.searchsorted(x, v, side="right")

        for addr, rows in by_addr.items():
            tm = times(addr)
            ix = np.array(rows, dtype=np.int64)
            tw = t_w[ix]
            up = np.array([cmds[i] == "UP" for i in rows], dtype=bool)
            hb_success = np.array([whys[i] == "HEARTBEAT_SUCCESS" for i in rows], dtype=bool)
            # UP: a HEARTBEAT-ACK (or for another reason, any answer) on that path just before
            lo, hi = tw - tol_ns - 1, tw + tol_ns // 10
            got_hb = (below(tm["hb_ack_in"], hi) - below(tm["hb_ack_in"], lo)) > 0
            got_sack = (below(tm["sack_in"], hi) - below(tm["sack_in"], lo)) > 0
            ok_up = got_hb | (~hb_success & got_sack)
            # otherwise: what was unanswered on that path then: HEARTBEATs after the last HEARTBEAT-ACK, and DATA
            # sent on it that no SACK had acked yet (a T3-rtx expiry: the error counter behind FAILED_THRESHOLD)
            k = below(tm["hb_ack_in"], tw)
            since = np.where(k > 0, tm["hb_ack_in"][np.maximum(k - 1, 0)] if len(tm["hb_ack_in"]) else 0, 0)
            nh = below(tm["hb_out"], tw) - below(tm["hb_out"], since)
            nd = nr = np.zeros(len(rows), dtype=np.int64)
            if "sent" in tm:
                nd = below(tm["sent"], tw) - below(tm["settled"], tw)
                nr = below(tm["rtx_sent"], tw) - below(tm["rtx_settled"], tw)
            ok[ix] = np.where(up, ok_up, nh + nd > 0)
            n_hb[ix], n_data[ix], n_rtx[ix] = nh, nd, nr

        def detail(i: int) -> str:
            addr, cmd, why = addrs[i], cmds[i], whys[i]
            if cmd == "UP":
                what = "a HEARTBEAT-ACK" if why == "HEARTBEAT_SUCCESS" else "an answer"
                return f"{addr} UP ({why}): {what} on that path {'seen' if ok[i] else 'NOT seen'} just before"
            return (f"{addr} {cmd} ({why}) with {int(n_hb[i])} unanswered HEARTBEATs and {int(n_data[i])} unacked "
                    f"DATA chunks ({int(n_rtx[i])} retransmitted) on that path")

        t.add("changes", n_ev)
        for key, sel in sorted((("with_cause_on_wire", ok), ("without", ~ok)), key=lambda kv: int(np.argmax(kv[1]))):
            if sel.any():
                t.add(key, int(sel.sum()))
        for key, sel in (("details", ok), ("bad", ~ok)):
            for i in np.flatnonzero(sel)[:EXAMPLES].tolist():
                t.example(key, [detail(i)])


def judge_path_state(t: Tally, J: Any) -> Check:
    n = t.n
    who = t.direction
    if t.info.get("no_near"):
        return Check("path_state", NOT_CHECKABLE, f"{n.get('changes', 0)} path state changes at {who}, but no capture "
                     f"next to {who} to see their causes", t.assoc, who)
    good, bad = n.get("with_cause_on_wire", 0), n.get("without", 0)
    details = t.ex.get("bad", []) + t.ex.get("details", [])
    num = {"changes": good + bad, "with_cause_on_wire": good, "without": bad, "capture": t.info.get("capture")}
    return Check("path_state", AGREE if not bad else DISAGREE,
                 f"{good} of {good + bad} path state changes at {who} follow what {t.info.get('capture')} shows on "
                 "that path: " + "; ".join(details[:4]) + (" ..." if len(details) > 4 else ""),
                 t.assoc, who, f"cause within {ms(J.tolerances.state_ns, 0)} before", num,
                 _weak(J, t.info.get("rec"), "path_state"))


_CAUSES = {
    # (notification, end is initiator?) -> chunk types that arrive at the end just before
    "COMM_UP": {True: (11,), False: (10,)},            # COOKIE-ACK at the initiator, COOKIE-ECHO at the peer
    "SHUTDOWN_COMP": {True: (8, 14), False: (8, 14)},  # SHUTDOWN-ACK (the side that then sends COMPLETE) or COMPLETE
    "COMM_LOST": {True: (6,), False: (6,)},            # ABORT (or retransmissions exhausted: no chunk)
    "RESTART": {True: (1, 10), False: (1, 10)},
}


def measure_assoc_state(W: Window, a: Any, book: Book) -> None:
    tol_ns = W.tolerances.state_ns
    for side in (0, 1):
        got = _state_events(W, a, side, book, "assoc_state", "notifications",
                            lambda e: e.get("type") == "assoc_change" and e.get("kind") == "notification")
        if got is None:
            continue
        t, evs, c, f, cap = got
        ctrl = cap.ctrl[cap.ctrl.assoc == a.wire[c]]
        wd_in = a.wire_dir(c, 1 - side)
        for e in evs:
            st = e.get("sac_state")
            causes = _CAUSES.get(st, {}).get(side == 0)
            if not causes:
                continue
            t_w = int(np.asarray(f.offset_at(e["ts_ns"]))) + e["ts_ns"]
            m = (np.isin(ctrl.type, causes) & (ctrl.dir == wd_in) & (ctrl.ts <= t_w + tol_ns // 10)
                 & (ctrl.ts >= t_w - tol_ns))
            t.add("notifications")
            if m.any():
                t.add("with_cause")
                t.example("details", [f"{st} {ms(t_w - int(ctrl.ts[m].max()), 1)} after its chunk on the wire"])
            elif st == "COMM_LOST":
                t.add("with_cause")
                t.example("details", ["COMM_LOST with no ABORT on the wire: retransmissions exhausted"])
            else:
                t.example("bad", [f"{st} with no causing chunk in {cap.name}"])


def judge_assoc_state(t: Tally, J: Any) -> Check | None:
    n = t.n
    who = t.direction
    if t.info.get("no_near"):
        return Check("assoc_state", NOT_CHECKABLE, f"{n.get('notifications', 0)} association state changes at {who}, "
                     f"but no capture next to {who}", t.assoc, who)
    total, good = n.get("notifications", 0), n.get("with_cause", 0)
    if not total:
        return None
    details = t.ex.get("bad", []) + t.ex.get("details", [])
    return Check("assoc_state", AGREE if good == total else DISAGREE,
                 f"{good} of {total} notifications at {who} follow their chunk: " + "; ".join(details), t.assoc, who,
                 f"within {ms(J.tolerances.state_ns, 0)}", {"notifications": total, "with_cause": good},
                 _weak(J, t.info.get("rec"), "assoc_state"))


JUDGES: dict[str, Callable[[Tally, Any], Check | None]] = {
    "tsn_coverage": judge_tsn_coverage, "retransmissions": judge_retransmissions, "rtt_samples": judge_rtt_samples,
    "rto": judge_rto, "flight": judge_flight, "peer_rwnd": judge_peer_rwnd, "local_rwnd": judge_local_rwnd,
    "path_state": judge_path_state, "assoc_state": judge_assoc_state,
}
ORDER = ("tsn_coverage", "retransmissions", "rtt_samples", "rto", "flight", "peer_rwnd", "local_rwnd",
         "path_state", "assoc_state")


# ---- the run as a whole ----------------------------------------------------------------------------------------
def judge_all(J: Any, book: Book) -> list[Check]:
    """Every check of the run: the recording, association and clock checks, then per association the tallied
    ones in their usual order."""
    out: list[Check] = []
    out += check_recording(J)
    out += check_associations(J)
    out += check_clock(J)
    by_assoc: dict[int | None, list[Tally]] = {}
    for t in book.tallies.values():
        by_assoc.setdefault(t.assoc, []).append(t)

    def rank(t: Tally) -> tuple[int, int, int]:
        if t.name in ("path_state", "assoc_state"):     # the endpoints' state checks after both directions
            return (2, ORDER.index(t.name), SIDE.index(t.direction) if t.direction in SIDE else 0)
        return (_dir_rank(t), 0, ORDER.index(t.name))

    for aid in sorted(by_assoc, key=lambda x: -1 if x is None else x):
        for t in sorted(by_assoc[aid], key=rank):
            c = _not_recorded(t, J) or JUDGES[t.name](t, J)
            if c is not None:
                out.append(c)
    return out


def needed_level(check: str) -> str:
    """The cheapest probe level whose recording serves ``check``."""
    return max((event_level(e) or LEVELS[-1] for e in NEEDS.get(check, ())), key=LEVELS.index, default=LEVELS[0])


def level_note(kv: Any) -> str:
    """What a recording's probe level leaves out, in words ("" when it serves every check)."""
    have = [e for es in NEEDS.values() for e in es if kv.capability(e)]
    short: dict[str, list[str]] = {}
    for name, es in NEEDS.items():
        if not all(e in have for e in es):
            short.setdefault(needed_level(name), []).append(name)
    if not short or kv.snapshots_only:
        return ""
    lv = kv.level
    return (f"recorded at --level {lv}" if lv else "recorded without some probes") + ": " + "; ".join(
        f"{', '.join(names)} need --level {need}" for need, names in sorted(short.items(),
                                                                           key=lambda x: LEVELS.index(x[0])))


def _not_recorded(t: Tally, J: Any) -> Check | None:
    """NOT_CHECKABLE when the tally's recording lacks an event type the check cannot do without."""
    rec = t.info.get("rec")
    if rec is None:
        return None
    kv = J.kernels[rec]
    missing = [e for e in NEEDS.get(t.name, ()) if not kv.capability(e)]
    if not missing:
        return None
    at = f"at --level {kv.level}" if kv.level else "without them"
    return Check(t.name, NOT_CHECKABLE, f"{kv.name} was recorded {at}: this check needs its {', '.join(missing)} "
                 f"events (sctpcorr probe --level {needed_level(t.name)})", t.assoc, t.direction,
                 numbers={"recorded_level": kv.level, "needs_level": needed_level(t.name), "missing": missing})


def _dir_rank(t: Tally) -> int:
    """A direction's checks together; local_rwnd is about the SACKs the other side sent, listed with the DATA
    direction they acknowledge."""
    d = t.direction or ""
    if t.name == "local_rwnd":
        d = d[::-1]
    return 0 if d.startswith("A") else 1


def check_recording(J: Any) -> list[Check]:
    out = []
    tol = J.tolerances
    for kv in J.kernels:
        lo = kv.losses()
        events = sum(kv.counts.values())
        lost = sum(lo["lost"].values()) + lo["backlog_dropped"] + lo["undecoded"]
        skipped = lo["kprobe_missed"] + lo["recursion_misses"]
        n = {"events": events, "lost": lo["lost"], "kprobe_missed": lo["kprobe_missed"],
             "recursion_misses": lo["recursion_misses"], "backlog_dropped": lo["backlog_dropped"],
             "decode_errors": lo["decode_errors"], "undecoded": lo["undecoded"], "truncated": lo["truncated"],
             "bad_lines": lo["bad_records"], "source": kv.source}
        tols = f"at most {tol.lost_pct:g} % of events missing"
        name = f"recording {kv.name}"
        if kv.raw and kv.end is None:
            out.append(Check("recording", NOT_CHECKABLE, f"{kv.name} holds --raw records: they carry no loss "
                             "counters (the JSONL recorded alongside has them in its end record)", tolerance=tols,
                             numbers=n))
            continue
        if kv.snapshots_only:
            out.append(Check("recording", NOT_CHECKABLE, f"{kv.name} holds sock_diag snapshots only: the checks "
                             "that need per-event data (per TSN, per RTT sample) are not checkable from snapshots",
                             tolerance=tols, numbers=n))
            continue
        missing = lost + skipped + lo["decode_errors"]
        share = _pct(missing, events + missing)
        parts = []
        if lo["lost"]:
            parts.append(", ".join(f"{v} {t}" for t, v in sorted(lo["lost"].items())) +
                         " events lost (ring buffer full)")
        if lo["kprobe_missed"]:
            parts.append(f"{lo['kprobe_missed']} probe hits skipped by the kernel (kprobe_profile misses: "
                         + ", ".join(f"{n_} {t}" for t, n_ in sorted(lo["missed_by_type"].items())) + ")")
        if lo["recursion_misses"]:
            parts.append(f"{lo['recursion_misses']} probe runs skipped while another probe ran")
        if lo["backlog_dropped"]:
            parts.append(f"{lo['backlog_dropped']} events dropped by the recorder (backlog full)")
        if lo["undecoded"] or lo["decode_errors"]:
            parts.append(f"{lo['undecoded'] + lo['decode_errors']} records not decoded")
        if lo["truncated"]:
            v, s = DISAGREE, (f"{name} has no end record: it was cut short, so what it lost is unknown"
                              + (f"; also {'; '.join(parts)}" if parts else ""))
        elif not parts:
            v, s = AGREE, f"{name}: {events} events, nothing lost"
        elif share <= tol.lost_pct:
            v, s = EXPLAINED, (f"{name}: {'; '.join(parts)} ({share:g} % of {events + missing}): checks that use "
                               "those events allow for them")
        else:
            v, s = DISAGREE, (f"{name}: {'; '.join(parts)}: {share:g} % of the events are missing, more than "
                              f"{tol.lost_pct:g} %; the per-event checks cannot vouch for what they do not see")
        n["missing_pct"] = share
        n["level"] = kv.level
        note = level_note(kv)
        if note:
            s += f"; {note}"
        out.append(Check("recording", v, s, tolerance=tols, numbers=n))
    return out


def check_associations(J: Any) -> list[Check]:
    joined = [a for a in J.assocs if a.wire and (a.sides[0].kernel or a.sides[1].kernel)]
    wire_only = [a for a in J.assocs if a.wire and not (a.sides[0].kernel or a.sides[1].kernel)]
    kernel_only = [a for a in J.assocs if not a.wire]
    n = {"joined": len(joined), "wire_only": len(wire_only), "kernel_only": len(kernel_only)}
    if not J.kernels or not J.captures:
        what = "no kernel recording" if not J.kernels else "no capture"
        return [Check("associations", NOT_CHECKABLE, f"{what} given: nothing to join", numbers=n)]
    if not joined:
        kinfo = ", ".join(a.name for a in kernel_only[:3]) or "none"
        winfo = ", ".join(a.name for a in wire_only[:3]) or "none"
        overlap = _time_overlap(J)
        why = ("their times do not overlap either: kernel events from a different run" if overlap is False else
               "a capture of a different association, or a recording from a different run")
        return [Check("associations", NOT_CHECKABLE,
                      f"no association of the recordings is in the captures (tags and ports differ: {why}); "
                      f"captures: {winfo}; recordings: {kinfo}", numbers=n)]
    s = f"{len(joined)} association(s) joined by tags and ports"
    if wire_only:
        s += f"; {len(wire_only)} only in the captures ({', '.join(a.name for a in wire_only[:3])})"
    if kernel_only:
        s += f"; {len(kernel_only)} only in the recordings"
    return [Check("associations", AGREE, s, numbers=n)]


def _time_overlap(J: Any) -> bool | None:
    """Do the recordings' and captures' time spans overlap, by their recorded clocks? None: cannot tell."""
    for kv in J.kernels:
        off = kv.real_minus_mono()
        if not off or kv.first_ns is None:
            return None
        d = off[0][1]
        for cap in J.captures:
            if cap.first_ns is None:
                continue
            if kv.first_ns + d <= cap.last_ns and cap.first_ns <= kv.last_ns + d:  # type: ignore[operator]
                return True
    return False


def check_clock(J: Any) -> list[Check]:
    out = []
    for (r, c), f in sorted(J.clocks.items()):
        kv, cap = J.kernels[r], J.captures[c]
        n = f.as_dict()
        pair = f"{cap.name} vs {kv.name}"
        tol = f"the recorded offset within the matched events' bounds +- {ms(J.tolerances.clock_ns)}"
        if f.recorded_ns is not None:
            if f.recorded_error_ns:
                shift = (f.offset_ns or 0) - f.recorded_ns
                n["shift_ns"] = shift
                out.append(Check("clock", DISAGREE,
                                 f"{pair}: the capture's clock is {ms(abs(shift))} "
                                 f"{'ahead of' if shift > 0 else 'behind'} the offset recorded with the data "
                                 f"(the matched events allow {ms(f.lo_ns - f.recorded_ns)} .. "
                                 f"{ms(f.hi_ns - f.recorded_ns)} around it): the capture was shifted or is from "
                                 f"another host; the matched events' estimate (+- {ms(f.uncertainty_ns)}) is used",
                                 tolerance=tol, numbers=n))
            else:
                out.append(Check("clock", AGREE, f"{pair}: the recorded offset fits the {f.n_upper + f.n_lower} "
                                 f"matched events (bounds {ms(f.lo_ns - f.recorded_ns if f.lo_ns is not None else None)}"
                                 f" .. +{ms(f.hi_ns - f.recorded_ns if f.hi_ns is not None else None)})",
                                 tolerance=tol, numbers=n))
        elif f.offset_ns is None:
            out.append(Check("clock", NOT_CHECKABLE, f"{pair}: no matched events and no recorded offset: the two "
                             "cannot be put on one time line", numbers=n))
        else:
            drift = f", drift {f.rate_ppm:.1f} ppm" if f.rate_ppm else ""
            out.append(Check("clock", NOT_CHECKABLE,
                             f"{pair}: no shared clock; aligned from {f.n_upper} upper and {f.n_lower} lower bounds "
                             f"within +- {ms(f.uncertainty_ns)}{drift} (a constant delay before the capture point "
                             "cannot be told from the offset)" + (f"; {f.note}" if f.note else ""), numbers=n))
    return out


def _median_or_none(v: np.ndarray) -> float | None:
    """The median of the values that are not NaN (None: none): np.nanmedian of a 1-D array, which is np.median of
    its values without the NaNs, without its all-NaN warning and extra passes."""
    v = v[~np.isnan(v)]
    return float(np.median(v)) if len(v) else None


def rtt_summary(samples: Any, aid: int) -> dict[str, Any]:
    """Per sender and path: kernel samples, median parts of the decomposition, last SRTT/RTO (from the run's
    ``rtt.SampleStore``)."""
    c = samples.cols
    out: dict[str, Any] = {}
    if not len(samples):
        return out
    for side in (0, 1):
        sel = np.flatnonzero((c["assoc"] == aid) & (c["side"] == side))
        if not len(sel):
            continue
        parts = samples.parts(sel)
        per: dict[str, Any] = {}
        paths = c["path"][sel]
        for pid in sorted(set(paths.tolist()), key=lambda p: samples.paths[p] or "?"):
            m = paths == pid
            idx = sel[m]
            med = {k: _median_or_none(v[m]) for k, v in parts.items() if k != "stamp_jiffies"}
            per[samples.paths[pid] or "?"] = {
                "samples": int(m.sum()), "data": int((c["hb"][idx] == 0).sum()), "heartbeat": int(c["hb"][idx].sum()),
                "kernel_rtt_median_ns": float(np.median(c["rtt_ns"][idx])), "srtt_ns": int(c["srtt_ns"][idx[-1]]),
                "rto_ns": int(c["rto_ns"][idx[-1]]), "median_parts_ns": med}
        out[SIDE[side]] = per
    return out
