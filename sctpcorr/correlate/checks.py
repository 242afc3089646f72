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
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from sctpcorr.correlate.joins import NONE, Direction
from sctpcorr.correlate.model import AGREE, DISAGREE, EXPLAINED, NOT_CHECKABLE, Check, worst

if TYPE_CHECKING:
    from sctpcorr.correlate.core import Correlation

__all__ = ["run_all", "rtt_summary", "ms"]

SIDE = ("A", "B")
RTX_NAMES = {1: "t3", 2: "fast", 3: "pmtud", 4: "t1", 5: "unknown"}
WIRE_KIND = ("fast", "timeout", "unknown")
# which recorded event types each check reads (a loss of one of them weakens the check)
USES = {"tsn_coverage": ("egress",), "retransmissions": ("egress",), "rtt_samples": ("rto_update", "egress", "sack",
        "hb_ack", "hb_sent"), "rto": ("rto_update",), "flight": ("sack", "egress", "path"),
        "peer_rwnd": ("sack",), "local_rwnd": ("egress",), "path_state": ("path_state",),
        "assoc_state": ("assoc_change",)}


def ms(ns: float | int | None, digits: int = 3) -> str:
    return "-" if ns is None else f"{ns / 1e6:.{digits}f} ms"


def _dname(side: int) -> str:
    return f"{SIDE[side]}>{SIDE[1 - side]}"


def _pct(n: int, total: int) -> float:
    return round(100.0 * n / total, 2) if total else 0.0


def _weak(cx: Correlation, rec: int | None, check: str) -> list[str]:
    """The recording's losses that touch this check, as phrases."""
    if rec is None:
        return []
    kv = cx.kernels[rec]
    lo = kv.losses()
    uses = USES.get(check, ())
    out = [f"{n} {t} events lost" for t, n in lo["lost"].items() if t in uses]
    out += [f"{n} {t} events the kernel skipped (kprobe misses)" for t, n in lo["missed_by_type"].items()
            if t in uses]
    if lo["backlog_dropped"]:
        out.append(f"{lo['backlog_dropped']} events dropped in user space")
    if lo["truncated"]:
        out.append("the recording has no end record (cut short)")
    return out


def _lost_n(cx: Correlation, rec: int | None, types: tuple[str, ...]) -> int:
    if rec is None:
        return 0
    lo = cx.kernels[rec].losses()
    return (sum(v for t, v in lo["lost"].items() if t in types)
            + sum(v for t, v in lo["missed_by_type"].items() if t in types)
            + lo["backlog_dropped"] + lo["decode_errors"] + lo["undecoded"])


# ---------------------------------------------------------------------------------------------------------
def run_all(cx: Correlation) -> list[Check]:
    out: list[Check] = []
    out += check_recording(cx)
    out += check_associations(cx)
    out += check_clock(cx)
    for a in cx.assocs:
        if not a.wire or not (a.sides[0].kernel or a.sides[1].kernel):
            continue
        for side in (0, 1):
            d = cx.directions.get((a.id, side))
            if d is None:
                continue
            out += check_tsn_coverage(cx, d)
            out += check_retransmissions(cx, d)
            out += check_rtt_samples(cx, d)
            out += check_rto(cx, d)
            out += check_flight(cx, d)
            out += check_peer_rwnd(cx, d)
            out += check_local_rwnd(cx, d)
        out += check_path_state(cx, a)
        out += check_assoc_state(cx, a)
    return out


# ---------------------------------------------------------------------------------------------------------
def check_recording(cx: Correlation) -> list[Check]:
    out = []
    tol = cx.tolerances
    for ri, kv in enumerate(cx.kernels):
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
                         + ", ".join(f"{n} {t}" for t, n in sorted(lo["missed_by_type"].items())) + ")")
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
        out.append(Check("recording", v, s, tolerance=tols, numbers=n))
    return out


def check_associations(cx: Correlation) -> list[Check]:
    joined = [a for a in cx.assocs if a.wire and (a.sides[0].kernel or a.sides[1].kernel)]
    wire_only = [a for a in cx.assocs if a.wire and not (a.sides[0].kernel or a.sides[1].kernel)]
    kernel_only = [a for a in cx.assocs if not a.wire]
    n = {"joined": len(joined), "wire_only": len(wire_only), "kernel_only": len(kernel_only)}
    if not cx.kernels or not cx.captures:
        what = "no kernel recording" if not cx.kernels else "no capture"
        return [Check("associations", NOT_CHECKABLE, f"{what} given: nothing to join", numbers=n)]
    if not joined:
        kinfo = ", ".join(a.name for a in kernel_only[:3]) or "none"
        winfo = ", ".join(a.name for a in wire_only[:3]) or "none"
        overlap = _time_overlap(cx)
        why = ("their times do not overlap either: kernel events from a different run" if overlap is False else
               "a capture of a different association, or a recording from a different run")
        return [Check("associations", NOT_CHECKABLE,
                      f"no association of the recordings is in the captures (tags and ports differ: {why}); "
                      f"captures: {winfo}; recordings: {kinfo}", numbers=n)]
    # a kernel end that had traffic in the captures' time but is not in them is worth saying
    s = f"{len(joined)} association(s) joined by tags and ports"
    if wire_only:
        s += f"; {len(wire_only)} only in the captures ({', '.join(a.name for a in wire_only[:3])})"
    if kernel_only:
        s += f"; {len(kernel_only)} only in the recordings"
    return [Check("associations", AGREE, s, numbers=n)]


def _time_overlap(cx: Correlation) -> bool | None:
    """Do the recordings' and captures' time spans overlap, by their recorded clocks? None: cannot tell."""
    for kv in cx.kernels:
        off = kv.real_minus_mono()
        if not off or kv.first_ns is None:
            return None
        d = off[0][1]
        for cap in cx.captures:
            if cap.first_ns is None:
                continue
            if kv.first_ns + d <= cap.last_ns and cap.first_ns <= kv.last_ns + d:  # type: ignore[operator]
                return True
    return False


def check_clock(cx: Correlation) -> list[Check]:
    out = []
    for (r, c), f in sorted(cx.clocks.items()):
        kv, cap = cx.kernels[r], cx.captures[c]
        n = f.as_dict()
        pair = f"{cap.name} vs {kv.name}"
        tol = f"the recorded offset within the matched events' bounds +- {ms(cx.tolerances.clock_ns)}"
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
        else:
            drift = f", drift {f.rate_ppm:.1f} ppm" if f.rate_ppm else ""
            if f.offset_ns is None:
                out.append(Check("clock", NOT_CHECKABLE, f"{pair}: no matched events and no recorded offset: the "
                                 "two cannot be put on one time line", numbers=n))
            else:
                out.append(Check("clock", NOT_CHECKABLE,
                                 f"{pair}: no shared clock; aligned from {f.n_upper} upper and {f.n_lower} lower "
                                 f"bounds within +- {ms(f.uncertainty_ns)}{drift} (a constant delay before the "
                                 "capture point cannot be told from the offset)" + (f"; {f.note}" if f.note else ""),
                                 numbers=n))
    return out


# ---------------------------------------------------------------------------------------------------------
def _near(d: Direction) -> int | None:
    caps = d.asc.near[d.side]
    return caps[0] if caps else None


def _cap_span_in_kernel(cx: Correlation, d: Direction, c: int) -> tuple[int, int] | None:
    f = cx.clocks.get((d.k_rec, c)) if d.k_rec is not None else None
    cap = cx.captures[c]
    if f is None or f.offset_ns is None or cap.first_ns is None:
        return None
    return int(f.to_kernel(cap.first_ns)), int(f.to_kernel(cap.last_ns))


def check_tsn_coverage(cx: Correlation, d: Direction) -> list[Check]:
    dn = _dname(d.side)
    c = _near(d)
    if d.k_tx is None or not len(d.k_tx):
        return []
    if c is None:
        return [Check("tsn_coverage", NOT_CHECKABLE, f"no capture next to {SIDE[d.side]}: which of its DATA chunks "
                      "reached the wire there is not seen", d.asc.id, dn)]
    cap = cx.captures[c]
    w, m = d.w_tx[c], d.w_tx_k[c]
    span = _cap_span_in_kernel(cx, d, c)
    k = d.k_tx
    in_span = np.ones(len(k), dtype=bool)
    host_margin = 2_000_000_000   # a chunk sent in the last 2 s of a capture may still be queued in the host
    if span is not None:
        in_span = (k.ts >= span[0] - 1_000_000) & (k.ts <= span[1] - min(host_margin, (span[1] - span[0]) // 10))
    seen_k = np.zeros(len(k), dtype=bool)
    seen_k[m[m != NONE]] = True
    k_missing = np.flatnonzero(in_span & ~seen_k)
    w_missing = np.flatnonzero(m == NONE)
    n = {"kernel_sent": int(in_span.sum()), "capture_shows": len(w), "kernel_not_on_wire": len(k_missing),
         "wire_not_in_kernel": len(w_missing), "capture": cap.name}
    lost = _lost_n(cx, d.k_rec, ("egress",))
    weak = _weak(cx, d.k_rec, "tsn_coverage")
    drops = int(cap.meta.get("drops") or 0)
    tsns = lambda idx, t: ", ".join(str(int(x) & 0xFFFFFFFF) for x in t[idx[:5]]) + (" ..." if len(idx) > 5 else "")  # noqa: E731
    if not len(k_missing) and not len(w_missing):
        return [Check("tsn_coverage", AGREE, f"all {int(in_span.sum())} DATA chunks {SIDE[d.side]}'s kernel sent "
                      f"are in {cap.name}, and nothing else", d.asc.id, dn, "every chunk", n, weak)]
    parts = []
    v = DISAGREE
    if len(k_missing):
        rtx_missing = int((k.sent_count[k_missing] > 1).sum())
        parts.append(f"{len(k_missing)} DATA chunks the kernel sent (TSN {tsns(k_missing, k.t)}) are not in "
                     f"{cap.name}" + (f", {rtx_missing} of them retransmissions" if rtx_missing else "")
                     + (f"; the capture reports {drops} drops" if drops else
                        "; the capture reports no drops: they were lost between the stack and the capture point "
                        "(a qdisc), or removed from the file"))
    if len(w_missing):
        parts.append(f"{len(w_missing)} DATA chunks in {cap.name} (TSN {tsns(w_missing, w.t)}) have no egress event "
                     "in the recording")
    if len(w_missing) and not len(k_missing) and lost >= len(w_missing):
        v = EXPLAINED
        parts.append(f"the recording lost or skipped {lost} events, enough to account for them")
    elif len(k_missing) and drops >= len(k_missing) and not len(w_missing):
        v = EXPLAINED
    return [Check("tsn_coverage", v, "; ".join(parts), d.asc.id, dn, "every chunk", n, weak)]


def check_retransmissions(cx: Correlation, d: Direction) -> list[Check]:
    dn = _dname(d.side)
    c = _near(d)
    if d.k_tx is None:
        return []
    k = d.k_tx
    k_rtx = np.flatnonzero(k.sent_count > 1)
    kern = {}
    for code in k.rtx[k_rtx].tolist():
        kern[RTX_NAMES.get(code, "unknown")] = kern.get(RTX_NAMES.get(code, "unknown"), 0) + 1
    if c is None:
        return [Check("retransmissions", NOT_CHECKABLE, f"no capture next to {SIDE[d.side]}: its retransmissions "
                      f"cannot be compared with the wire's (the kernel made {len(k_rtx)})", d.asc.id, dn,
                      numbers={"kernel": kern})]
    cap = cx.captures[c]
    w, m = d.w_tx[c], d.w_tx_k[c]
    wire = {}
    for i in np.flatnonzero(w.rtx).tolist():
        key = WIRE_KIND[int(w.kind[i])]
        wire[key] = wire.get(key, 0) + 1
    wire["spurious"] = int((w.rtx & w.spurious).sum())
    # per kernel retransmission: what the wire says of that transmission
    k_to_w = np.full(len(k), NONE, dtype=np.int64)
    ok = m != NONE
    k_to_w[m[ok]] = np.flatnonzero(ok)
    same = mismatch = orig_lost = not_on_wire = 0
    pairs: dict[str, int] = {}
    examples: list[str] = []
    for ki in k_rtx.tolist():
        reason = RTX_NAMES.get(int(k.rtx[ki]), "unknown")
        wi = int(k_to_w[ki])
        if wi == NONE:
            not_on_wire += 1
            continue
        if not w.rtx[wi]:
            orig_lost += 1        # the wire sees this transmission as the TSN's first: the original never got there
            continue
        wk = WIRE_KIND[int(w.kind[wi])]
        key = f"{reason}/{wk}"
        pairs[key] = pairs.get(key, 0) + 1
        if (reason, wk) in (("fast", "fast"), ("t3", "timeout"), ("t1", "timeout"), ("pmtud", "timeout"),
                            ("unknown", "unknown")):
            same += 1
        else:
            mismatch += 1
            if len(examples) < 3:
                examples.append(f"TSN {int(k.t[ki]) & 0xFFFFFFFF}: kernel {reason}, wire {wk}")
    wire_extra = int((w.rtx & ~np.isin(np.arange(len(w)), np.flatnonzero(ok)) ).sum())
    # a wire retransmission whose kernel transmission was a first one: the capture shows a TSN twice
    first_k = np.zeros(len(w), dtype=bool)
    first_k[ok] = k.sent_count[m[ok]] == 1
    wire_twice = int((w.rtx & first_k).sum())
    n = {"kernel": kern, "wire": wire, "matched_same_kind": same, "kind_differs": mismatch,
         "original_not_captured": orig_lost, "kernel_rtx_not_on_wire": not_on_wire,
         "wire_rtx_kernel_sent_once": wire_twice, "wire_rtx_without_kernel_event": wire_extra, "pairs": pairs,
         "capture": cap.name}
    total = len(k_rtx)
    weak = _weak(cx, d.k_rec, "retransmissions")
    if not total and not sum(v for kk, v in wire.items() if kk != "spurious"):
        return [Check("retransmissions", AGREE, f"no retransmissions in the kernel or in {cap.name}", d.asc.id, dn,
                      "kind by kind", n, weak)]
    desc = ", ".join(f"{v} {kk}" for kk, v in sorted(kern.items())) or "none"
    wdesc = ", ".join(f"{v} {kk}" for kk, v in sorted(wire.items()) if v) or "none"
    notes = []
    if orig_lost:
        notes.append(f"{orig_lost} retransmitted chunk(s) have no original in {cap.name}: the original was lost "
                     "before the capture point, so the wire shows the retransmission as the first transmission")
    if not_on_wire:
        notes.append(f"{not_on_wire} kernel retransmission(s) are not in the capture")
    v = AGREE
    if mismatch:
        v = DISAGREE
        notes.append(f"{mismatch} differ in kind ({'; '.join(examples)})")
    if wire_twice:
        v = DISAGREE
        notes.append(f"{wire_twice} chunk(s) the kernel sent once appear twice in the capture")
    if wire_extra and _lost_n(cx, d.k_rec, ("egress",)) < wire_extra:
        v = DISAGREE
        notes.append(f"{wire_extra} retransmission(s) in the capture have no egress event")
    if v == AGREE and (orig_lost or not_on_wire):
        v = EXPLAINED
    s = f"kernel: {desc}; {cap.name}: {wdesc}; {same} of {total} matched kind by kind"
    if notes:
        s += "; " + "; ".join(notes)
    return [Check("retransmissions", v, s, d.asc.id, dn, "kind by kind (fast=fast, t3=timeout)", n, weak)]


def _median(xs: list[int]) -> float | None:
    return float(np.median(xs)) if xs else None


def check_rtt_samples(cx: Correlation, d: Direction) -> list[Check]:
    """Each kernel RTT sample against the wire RTT of the chunk it timed.

    By construction ``rtt = wire_rtt + host_tx + host_rx + clock``, where ``clock`` is the kernel's own
    timekeeping: the jiffy granularity plus how far its jiffies ran from its monotonic clock during the sample
    (both read off the events' (ts, jiffies) pairs).  So a sample *agrees* when the host parts are within a jiffy
    (it is the wire RTT, counted in jiffies), is *explained* when time in the host makes it longer (the sentence
    says how much, and where), and *disagrees* when no chunk on the wire fits it or a host part is negative
    beyond the clocks' uncertainty (the wire saw the chunk before the kernel sent it: the join or the clock
    alignment is wrong)."""
    dn = _dname(d.side)
    samples = [s for s in cx.samples if s.assoc == d.asc.id and s.side == d.side]
    if not samples:
        return []
    kv = cx.kernels[d.k_rec]  # type: ignore[index]
    jns = kv.jiffy_ns or 0
    tol = cx.tolerances
    weak = _weak(cx, d.k_rec, "rtt_samples")
    unmatched = [s for s in samples if s.match == "none"]
    skipped = [s for s in samples if s.match == "egress_missing"]   # timed a chunk whose egress event was skipped
    dec = [s for s in samples if s.wire_rtt_ns is not None and s.kernel_interval_ns is not None
           and s.host_tx_ns is not None and s.host_rx_ns is not None]
    n: dict[str, Any] = {"samples": len(samples), "data": sum(s.kind == "data" for s in samples),
                         "heartbeat": sum(s.kind == "heartbeat" for s in samples),
                         "attributed": len(samples) - len(unmatched), "decomposed": len(dec), "jiffy_ns": jns}
    tols = f"host time within one jiffy ({ms(jns, 0)}) + {ms(tol.time_ns, 1)}; {tol.outlier_pct:g} % outliers"
    near = _near(d)
    if near is None:
        return [Check("rtt_samples", NOT_CHECKABLE, f"{len(samples)} kernel RTT samples, but no capture next to "
                      f"{SIDE[d.side]}: the wire RTT of the chunks it timed is not seen", d.asc.id, dn, tols, n, weak)]
    if not dec:
        return [Check("rtt_samples", NOT_CHECKABLE, f"none of the {len(samples)} kernel RTT samples could be put on "
                      "the wire (no chunk matched, or no clock)", d.asc.id, dn, tols, n, weak)]
    f = cx.clocks.get((d.k_rec, near))  # type: ignore[arg-type]
    clock_unc = (f.uncertainty_ns or 0) if f is not None else 0
    slack = jns + tol.time_ns
    htx = np.array([s.host_tx_ns for s in dec], dtype=np.int64)
    hrx = np.array([s.host_rx_ns for s in dec], dtype=np.int64)
    host = htx + hrx
    excess = np.array([s.rtt_ns - s.wire_rtt_ns for s in dec], dtype=np.int64)   # type: ignore[operator]
    clk = np.array([s.quantisation_ns for s in dec], dtype=np.int64)
    drift = np.array([s.tick_drift_ns if s.tick_drift_ns is not None else 0 for s in dec], dtype=np.int64)
    negative = (htx < -(clock_unc + tol.time_ns)) | (hrx < -(clock_unc + tol.time_ns))
    agree = ~negative & (host <= slack)
    explained = ~negative & ~agree
    n.update({"excess_median_ns": int(np.median(excess)), "host_tx_median_ns": int(np.median(htx)),
              "host_rx_median_ns": int(np.median(hrx)), "host_tx_max_ns": int(htx.max()),
              "kernel_clock_max_abs_ns": int(np.abs(clk).max()), "tick_drift_max_abs_ns": int(np.abs(drift).max()),
              "negative_host_time": int(negative.sum()), "within_a_jiffy": int(agree.sum()),
              "longer_by_host_time": int(explained.sum()), "unattributed": len(unmatched),
              "chunk_without_egress_event": len(skipped), "clock_uncertainty_ns": clock_unc})
    bad = int(negative.sum()) + len(unmatched)
    bad_pct = _pct(bad, len(samples))
    clock_note = ""
    if np.abs(drift).max() > jns:
        clock_note = (f"; the kernel's jiffies ran up to {ms(int(np.abs(drift).max()))} off its monotonic clock "
                      "during a sample (timer ticks came late and in bursts)")
    where = (f"host time {ms(int(np.median(htx)))} median in {SIDE[d.side]} before the capture point, "
             f"{ms(int(np.median(hrx)))} from the answer on the wire to the kernel")
    if bad_pct > tol.outlier_pct:
        why = []
        if unmatched:
            why.append(f"{len(unmatched)} match no chunk in the recording and captures")
        if negative.any():
            why.append(f"{int(negative.sum())} have their chunk on the wire before the kernel sent it or its answer "
                       f"after the kernel took the sample (by more than the clock uncertainty {ms(clock_unc)})")
        return [Check("rtt_samples", DISAGREE, f"{bad} of {len(samples)} kernel RTT samples ({bad_pct:g} %) do not fit "
                      "the wire: " + "; ".join(why), d.asc.id, dn, tols, n, weak)]
    if skipped:
        clock_note += (f"; {len(skipped)} timed a chunk whose egress event the kernel skipped (TSN "
                       f"{', '.join(str(s.tsn) for s in skipped[:3])}: on the wire, acked by the SACK before the "
                       "sample, missing from the recording)")
    if np.median(host) <= slack and not skipped:
        some = ""
        if explained.any():
            some = (f"; {int(explained.sum())} were longer by host time (up to {ms(int(host[explained].max()))}: "
                    "the stack was late now and then)")
        return [Check("rtt_samples", AGREE, f"{len(dec)} kernel RTT samples are the wire RTT of the chunk they timed, "
                      f"counted in jiffies ({where}){some}{clock_note}", d.asc.id, dn, tols, n, weak)]
    if np.median(host) <= slack:
        return [Check("rtt_samples", EXPLAINED, f"{len(dec)} kernel RTT samples are the wire RTT of the chunk they "
                      f"timed, counted in jiffies ({where}){clock_note}", d.asc.id, dn, tols, n, weak)]
    return [Check("rtt_samples", EXPLAINED, f"kernel RTT samples are {ms(int(np.median(excess)))} (median) longer "
                  f"than the wire RTT of the same chunks: {where}{clock_note}", d.asc.id, dn, tols, n, weak)]


def check_rto(cx: Correlation, d: Direction) -> list[Check]:
    from sctpcorr.correlate.rtt import recompute_rto

    dn = _dname(d.side)
    if d.k_rec is None:
        return []
    kv = cx.kernels[d.k_rec]
    rt = kv.rto[(kv.rto.end == d.k_end) & kv.rto.paired]
    if not len(rt):
        return []
    rows = [rt.row(i) for i in range(len(rt))]
    got = recompute_rto(rows)
    bad = [(r, g) for r, g in zip(rows, got) if (r["srtt"], r["rttvar"], r["rto"]) != (g["srtt"], g["rttvar"], g["rto"])]
    # the chain: each sample starts from what the previous one on that transport left
    chain_breaks = 0
    last: dict[int, dict[str, Any]] = {}
    for r in rows:
        p = last.get(r["path"])
        if p is not None and (r["srtt_b"], r["rttvar_b"]) != (p["srtt"], p["rttvar"]):
            chain_breaks += 1
        last[r["path"]] = r
    jns = kv.jiffy_ns or 0
    final = {kv.addr(p): {"srtt_ns": r["srtt"] * jns, "rttvar_ns": r["rttvar"] * jns, "rto_ns": r["rto"] * jns}
             for p, r in last.items()}
    n = {"samples": len(rows), "formula_mismatches": len(bad), "chain_breaks": chain_breaks, "final": final,
         "rto_min_ns": rows[0]["rto_min"] * jns, "rto_max_ns": rows[0]["rto_max"] * jns}
    tol = "exact (integer jiffies, alpha 1/8, beta 1/4, RTTVAR >= 1 jiffy, RTO in [rto_min, rto_max])"
    weak = _weak(cx, d.k_rec, "rto")
    if bad:
        r, g = bad[0]
        return [Check("rto", DISAGREE, f"{len(bad)} of {len(rows)} updates do not follow RFC 9260 6.3.1 from the "
                      f"kernel's own values: e.g. sample {r['rtt_j']} j from SRTT {r['srtt_b']} RTTVAR {r['rttvar_b']} "
                      f"gave {r['srtt']}/{r['rttvar']}/{r['rto']} j, the formula {g['srtt']}/{g['rttvar']}/{g['rto']}",
                      d.asc.id, dn, tol, n, weak)]
    s = (f"all {len(rows)} SRTT/RTTVAR/RTO updates follow RFC 9260 6.3.1 (rto_min {ms(n['rto_min_ns'], 0)}, rto_max "
         f"{ms(n['rto_max_ns'], 0)}) from the kernel's samples")
    if chain_breaks:
        s += f"; {chain_breaks} update(s) started from values another code path had set (a path reset)"
    return [Check("rto", AGREE, s, d.asc.id, dn, tol, n, weak)]


def flight_series(cx: Correlation, d: Direction) -> dict[str, np.ndarray] | None:
    """At each SACK the sender's kernel processed (matched to the capture next to it), all at the moment of
    processing: the kernel's outstanding bytes before that SACK; the bytes in flight the capture shows then
    (first transmissions it had seen minus those acked by earlier SACKs); the bytes the kernel had sent that
    the capture had not yet shown (still in the host); and what the capture had in flight of chunks with no
    egress event (probe hits the kernel skipped).  ``kt``: kernel clock.  None when a piece is missing."""
    c = _near(d)
    if d.k_sack is None or not len(d.k_sack) or d.k_tx is None or c is None or c not in d.k_sack_w:
        return None
    f = cx.clocks.get((d.k_rec, c))  # type: ignore[arg-type]
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
    rows, _g = d.first_ack(c, w.t[new][order])
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


def check_flight(cx: Correlation, d: Direction) -> list[Check]:
    """Kernel outstanding bytes before each SACK vs the bytes in flight the capture next to the sender shows
    then; the kernel may count more by what it sent that had not yet reached the capture point."""
    dn = _dname(d.side)
    fs = flight_series(cx, d)
    if fs is None:
        return []
    c = _near(d)
    kt, kern, wire_flight, queued, unrec = fs["kt"], fs["kernel"], fs["wire"], fs["queued"], fs["unrecorded"]
    diff = kern - wire_flight
    tol = cx.tolerances.bytes
    agree = np.abs(diff) <= tol
    explained = ~agree & (diff >= -tol) & (diff <= queued + tol)
    # a chunk whose egress event the kernel skipped is on the wire but was never in the kernel's sends
    by_loss = ~agree & ~explained & (unrec > 0) & (diff >= -tol - unrec) & (diff <= queued + tol)
    explained |= by_loss
    n = {"sacks": int(len(kt)), "within_mtu": int(agree.sum()), "explained_by_host_queue": int((explained & ~by_loss).sum()),
         "explained_by_missing_egress": int(by_loss.sum()),
         "max_diff_bytes": int(np.abs(diff).max()), "max_host_queued_bytes": int(queued.max()),
         "wire_flight_max": int(wire_flight.max()), "kernel_outstanding_max": int(kern.max())}
    # cwnd: the wire's flight never above the kernel's congestion windows (+1 MTU, the kernel's own allowance)
    pv = cx.kernels[d.k_rec].paths  # type: ignore[index]
    pe = pv[pv.end == d.k_end]
    over = 0
    if len(pe):
        # the sum of every transport's latest cwnd at each SACK (an upper bound of what the kernel may send)
        cwnd_sum = np.zeros(len(kt), dtype=np.int64)
        for p in np.unique(pe.path).tolist():
            q = pe[pe.path == p]
            idx = np.searchsorted(q.ts, kt, side="right") - 1
            cwnd_sum += np.where(idx >= 0, q.cwnd[np.maximum(idx, 0)], 0)
        have = cwnd_sum > 0
        over = int((wire_flight[have] - unrec[have] > cwnd_sum[have] + tol).sum())
        n["flight_above_cwnd"] = over
        if _pct(over, len(kt)) <= cx.tolerances.outlier_pct:
            over = 0     # now and then, e.g. while chunks marked for retransmission are out of the kernel's flight
    tols = f"{tol} bytes, plus what the kernel had sent that was not yet on the wire"
    pct_ok = (agree | explained).mean() * 100
    if pct_ok < 100 - cx.tolerances.outlier_pct or over:
        s = (f"at {int((~(agree | explained)).sum())} of {len(kt)} SACKs the kernel's outstanding bytes differ from "
             f"the bytes in flight in {cx.captures[c].name} by more than {tol} bytes and the host's queue "
             f"(up to {int(np.abs(diff).max())} bytes)")
        if over:
            s += f"; at {over} SACKs the wire had more in flight than the kernel's cwnd"
        return [Check("flight", DISAGREE, s, d.asc.id, dn, tols, n, _weak(cx, d.k_rec, "flight"))]
    if agree.mean() * 100 >= 100 - cx.tolerances.outlier_pct:
        return [Check("flight", AGREE, f"the kernel's outstanding bytes equal the wire's bytes in flight within {tol} "
                      f"bytes at {int(agree.sum())} of {len(kt)} SACKs (largest {int(wire_flight.max())} bytes), "
                      "never above its cwnd", d.asc.id, dn, tols, n, _weak(cx, d.k_rec, "flight"))]
    why = []
    if (explained & ~by_loss).any():
        why.append(f"the kernel counted up to {int(diff[explained & ~by_loss].max())} bytes more in flight than "
                   f"{cx.captures[c].name} shows: data it had sent that was still in the host before the capture "
                   f"point (up to {int(queued.max())} bytes queued)")
    if by_loss.any():
        why.append(f"at {int(by_loss.sum())} SACKs the difference is data on the wire whose egress event the "
                   "kernel skipped (the recording's probe misses)")
    return [Check("flight", EXPLAINED, "; ".join(why), d.asc.id, dn, tols, n, _weak(cx, d.k_rec, "flight"))]


def check_peer_rwnd(cx: Correlation, d: Direction) -> list[Check]:
    """Before each SACK the kernel processes, its view of the peer's window plus its outstanding bytes is the
    a_rwnd of the previous SACK (Linux: rwnd = a_rwnd - outstanding on a SACK, minus each chunk sent, plus each
    chunk marked for retransmission)."""
    dn = _dname(d.side)
    c = _near(d)
    if d.k_sack is None or len(d.k_sack) < 2:
        return []
    ks = d.k_sack
    # the a_rwnd each kernel SACK carried, as the wire shows it (where matched), else as the kernel read it
    a_wire = ks.a_rwnd.copy()
    read_differs = 0
    src = None
    for cc, m in d.k_sack_w.items():
        ok = m != NONE
        if ok.any():
            wa = d.w_sack[cc].a_rwnd[m[ok]]
            read_differs = int((wa != ks.a_rwnd[ok]).sum())
            a_wire[ok] = wa
            src = cx.captures[cc].name
            break
    x = ks.peer_rwnd[1:] + ks.outstanding[1:]
    prev = a_wire[:-1]
    cum_adv = ks.cum[1:] >= ks.cum[:-1]        # an older SACK does not update the window
    floor = (ks.peer_rwnd[1:] == 0) & (ks.outstanding[1:] >= prev)
    ok = cum_adv & ~floor
    diff = x[ok] - prev[ok]
    tol = cx.tolerances.bytes
    agree = np.abs(diff) <= tol
    n = {"sacks": int(ok.sum()), "equal": int((diff == 0).sum()), "within_mtu": int(agree.sum()),
         "max_diff_bytes": int(np.abs(diff).max()) if len(diff) else 0, "a_rwnd_read_differs": read_differs,
         "zero_window_sacks": int(floor.sum())}
    tols = f"{tol} bytes; {cx.tolerances.outlier_pct:g} % outliers"
    weak = _weak(cx, d.k_rec, "peer_rwnd")
    if read_differs:
        return [Check("peer_rwnd", DISAGREE, f"{read_differs} SACKs carried a different a_rwnd in the kernel than in "
                      f"{src}", d.asc.id, dn, tols, n, weak)]
    if not len(diff):
        return []
    if agree.mean() * 100 >= 100 - cx.tolerances.outlier_pct:
        return [Check("peer_rwnd", AGREE, f"before each of {len(diff)} SACKs the kernel's peer rwnd plus its "
                      f"outstanding bytes is the previous SACK's a_rwnd{' on the wire' if src else ''} "
                      f"({int((diff == 0).sum())} exactly)", d.asc.id, dn, tols, n, weak)]
    return [Check("peer_rwnd", DISAGREE, f"at {int((~agree).sum())} of {len(diff)} SACKs the kernel's peer rwnd plus "
                  f"outstanding is not the previous SACK's a_rwnd (up to {int(np.abs(diff).max())} bytes off)",
                  d.asc.id, dn, tols, n, weak)]


def check_local_rwnd(cx: Correlation, d: Direction) -> list[Check]:
    """The receiver (the other side) put a_rwnd in each SACK; its egress event says which window it had."""
    dn = _dname(1 - d.side)
    if d.k_sack_out is None or not len(d.k_sack_out):
        return []
    ko = d.k_sack_out
    for c, m in d.k_sack_out_w.items():
        ok = m != NONE
        if not ok.any():
            continue
        wa = d.w_sack[c].a_rwnd[m[ok]]
        ka = ko.a_rwnd[ok]
        same = int((wa == ka).sum())
        zero_w = int((wa == 0).sum())
        n = {"sacks": int(ok.sum()), "equal": same, "zero_window_sacks": zero_w, "capture": cx.captures[c].name,
             "unmatched": int((~ok).sum())}
        if same == ok.sum():
            return [Check("local_rwnd", AGREE, f"all {same} SACKs {SIDE[1 - d.side]} sent carry on the wire the window "
                          f"its kernel had (a_rwnd{', ' + str(zero_w) + ' of them zero' if zero_w else ''})",
                          d.asc.id, dn, "exact", n, _weak(cx, d.r_rec, "local_rwnd"))]
        return [Check("local_rwnd", DISAGREE, f"{int(ok.sum()) - same} of {int(ok.sum())} SACKs {SIDE[1 - d.side]} sent "
                      f"carry another a_rwnd on the wire than its kernel had", d.asc.id, dn, "exact", n,
                      _weak(cx, d.r_rec, "local_rwnd"))]
    return []


# ---------------------------------------------------------------------------------------------------------
def _wire_path_rows(cx: Correlation, c: int, aid: int, peer_addr: str) -> set[int]:
    wa = cx.captures[c].assocs[aid]
    return {i for i, p in enumerate(wa.paths) if p.get("dst") == peer_addr or p.get("src") == peer_addr}


def check_path_state(cx: Correlation, a: Any) -> list[Check]:
    out = []
    tol_ns = cx.tolerances.state_ns
    for side in (0, 1):
        ke = a.kernel_end(side)
        if ke is None:
            continue
        kv = cx.kernels[ke[0]]
        evs = [e for e in kv.of("path_state") if e["end"] == ke[1]]
        if not evs:
            continue
        c = a.near[side][0] if a.near[side] else None
        dn = SIDE[side]
        if c is None:
            out.append(Check("path_state", NOT_CHECKABLE, f"{len(evs)} path state changes at {dn}, but no capture "
                             f"next to {dn} to see their causes", a.id, dn))
            continue
        f = cx.clocks.get((ke[0], c))
        if f is None or f.offset_ns is None:
            continue
        cap = cx.captures[c]
        aid = a.wire[c]
        wd_out, wd_in = a.wire_dir(c, side), a.wire_dir(c, 1 - side)
        hbs = cap.hbs[cap.hbs.assoc == aid]
        data = cap.data[cap.data.assoc == aid]
        sacks = cap.sacks[cap.sacks.assoc == aid]
        good = bad = 0
        details = []
        for e in evs:
            addr = e.get("path_addr")
            prow = _wire_path_rows(cx, c, aid, addr)
            t_w = int(np.asarray(f.offset_at(e["ts_ns"]))) + e["ts_ns"]
            cmd, why = e.get("command"), e.get("sn_error")
            if cmd == "UP":
                # an answer from the peer on that path just before: a HEARTBEAT-ACK (or a SACK)
                m = (hbs.ack & (hbs.dir == wd_in) & np.isin(hbs.path, list(prow)) & (hbs.ts <= t_w + tol_ns // 10)
                     & (hbs.ts >= t_w - tol_ns))
                m2 = ((sacks.dir == wd_in) & np.isin(sacks.path, list(prow)) & (sacks.ts <= t_w + tol_ns // 10)
                      & (sacks.ts >= t_w - tol_ns))
                ok = bool(m.any() or (why != "HEARTBEAT_SUCCESS" and m2.any()))
                what = "a HEARTBEAT-ACK" if why == "HEARTBEAT_SUCCESS" else "an answer"
                details.append(f"{addr} UP ({why}): {what} on that path {'seen' if ok else 'NOT seen'} just before")
            else:
                # what was unanswered on that path then: HEARTBEATs after the last HEARTBEAT-ACK, and DATA sent on
                # it that no SACK had acked yet (a T3-rtx expiry: the error counter behind FAILED_THRESHOLD)
                prev_ok = hbs.ts[(hbs.ack) & (hbs.dir == wd_in) & np.isin(hbs.path, list(prow)) & (hbs.ts <= t_w)]
                since = int(prev_ok.max()) if len(prev_ok) else 0
                n_hb = int(((~hbs.ack) & (hbs.dir == wd_out) & np.isin(hbs.path, list(prow)) & (hbs.ts > since)
                            & (hbs.ts <= t_w)).sum())
                n_data = n_rtx = 0
                dd = cx.directions.get((a.id, side))
                if dd is not None and c in dd.w_tx:
                    w = dd.w_tx[c]
                    on = np.isin(w.path, list(prow)) & (w.ts <= t_w)
                    rows, _g = dd.first_ack(c, w.t[on])
                    acked_ts = np.where(rows != NONE, dd.w_sack[c].ts[np.maximum(rows, 0)], np.iinfo(np.int64).max)
                    open_ = acked_ts > t_w
                    n_data = int(open_.sum())
                    n_rtx = int((w.rtx[on] & open_).sum())
                ok = n_hb + n_data > 0
                details.append(f"{addr} {cmd} ({why}) with {n_hb} unanswered HEARTBEATs and {n_data} unacked DATA "
                               f"chunks ({n_rtx} retransmitted) on that path")
            good += ok
            bad += not ok
        n = {"changes": len(evs), "with_cause_on_wire": good, "without": bad, "capture": cap.name}
        v = AGREE if not bad else DISAGREE
        out.append(Check("path_state", v, f"{good} of {len(evs)} path state changes at {dn} follow what "
                         f"{cap.name} shows on that path: " + "; ".join(details[:4]) + (" ..." if len(details) > 4
                                                                                         else ""),
                         a.id, dn, f"cause within {ms(tol_ns, 0)} before", n, _weak(cx, ke[0], "path_state")))
    return out


_CAUSES = {
    # (notification, end is initiator?) -> chunk types that arrive at the end just before
    "COMM_UP": {True: (11,), False: (10,)},            # COOKIE-ACK at the initiator, COOKIE-ECHO at the peer
    "SHUTDOWN_COMP": {True: (8, 14), False: (8, 14)},  # SHUTDOWN-ACK (the side that then sends COMPLETE) or COMPLETE
    "COMM_LOST": {True: (6,), False: (6,)},            # ABORT (or retransmissions exhausted: no chunk)
    "RESTART": {True: (1, 10), False: (1, 10)},
}


def check_assoc_state(cx: Correlation, a: Any) -> list[Check]:
    out = []
    tol_ns = cx.tolerances.state_ns
    for side in (0, 1):
        ke = a.kernel_end(side)
        if ke is None:
            continue
        kv = cx.kernels[ke[0]]
        evs = [e for e in kv.of("assoc_change") if e["end"] == ke[1] and e.get("kind") == "notification"]
        if not evs:
            continue
        c = a.near[side][0] if a.near[side] else None
        dn = SIDE[side]
        if c is None:
            out.append(Check("assoc_state", NOT_CHECKABLE, f"{len(evs)} association state changes at {dn}, but no "
                             f"capture next to {dn}", a.id, dn))
            continue
        f = cx.clocks.get((ke[0], c))
        if f is None or f.offset_ns is None:
            continue
        cap = cx.captures[c]
        aid = a.wire[c]
        ctrl = cap.ctrl[cap.ctrl.assoc == aid]
        wd_in = a.wire_dir(c, 1 - side)
        good, bad, details = 0, 0, []
        for e in evs:
            st = e.get("sac_state")
            causes = _CAUSES.get(st, {}).get(side == 0)
            t_w = int(np.asarray(f.offset_at(e["ts_ns"]))) + e["ts_ns"]
            if not causes:
                continue
            m = (np.isin(ctrl.type, causes) & (ctrl.dir == wd_in) & (ctrl.ts <= t_w + tol_ns // 10)
                 & (ctrl.ts >= t_w - tol_ns))
            if m.any():
                lag = t_w - int(ctrl.ts[m].max())
                good += 1
                details.append(f"{st} {ms(lag, 1)} after its chunk on the wire")
            elif st == "COMM_LOST":
                good += 1
                details.append("COMM_LOST with no ABORT on the wire: retransmissions exhausted")
            else:
                bad += 1
                details.append(f"{st} with no causing chunk in {cap.name}")
        if good + bad == 0:
            continue
        out.append(Check("assoc_state", AGREE if not bad else DISAGREE,
                         f"{good} of {good + bad} notifications at {dn} follow their chunk: " + "; ".join(details),
                         a.id, dn, f"within {ms(tol_ns, 0)}", {"notifications": good + bad, "with_cause": good},
                         _weak(cx, ke[0], "assoc_state")))
    return out


# ---------------------------------------------------------------------------------------------------------
def rtt_summary(cx: Correlation, a: Any) -> dict[str, Any]:
    """Per sender and path: kernel samples, median parts of the decomposition, final SRTT/RTO."""
    out: dict[str, Any] = {}
    for side in (0, 1):
        ss = [s for s in cx.samples if s.assoc == a.id and s.side == side]
        if not ss:
            continue
        per: dict[str, Any] = {}
        for p in sorted({s.path or "?" for s in ss}):
            sp = [s for s in ss if (s.path or "?") == p]
            parts = {k: _median([x for s in sp if (x := s.parts()[k]) is not None]) for k in sp[0].parts()}
            per[p] = {"samples": len(sp), "data": sum(s.kind == "data" for s in sp),
                      "heartbeat": sum(s.kind == "heartbeat" for s in sp),
                      "kernel_rtt_median_ns": _median([s.rtt_ns for s in sp]),
                      "srtt_ns": sp[-1].srtt_ns, "rto_ns": sp[-1].rto_ns,
                      "median_parts_ns": parts}
        out[SIDE[side]] = per
    return out

