"""Events derived in user space from what every probe event carries, instead of probing the kernel for them.

Three metrics used to have their own entry + return probe pairs on the hottest functions of the SCTP stack:
association state (``sctp_do_sm``, once per chunk and timer), the local receive window
(``sctp_assoc_rwnd_increase``/``_decrease``, once per DATA chunk each way) and cwnd growth
(``sctp_transport_raise_cwnd``, once per SACK).  Those pairs were most of the probes' cost (``bench/``, docs/probe.md
OVERHEAD).  Since ABI 2 the BPF side reads the values where it already is instead: every event header carries
``asoc->state``, every egress event the association's window and buffer use and the transport's cwnd, ssthresh,
partial_bytes_acked and flight size, every ``path`` event the same congestion values.  ``Deriver`` turns changes
between two samples into the same JSONL event types as before (``assoc_state``, ``rwnd``, ``cwnd`` with
``op: "raise"``), each marked ``"derived": true`` with:

* ``seen_in``: the event type whose sample showed the change;
* ``not_before_ns``: the previous sample's time: the change happened in (not_before_ns, ts_ns].  Changes the
  kernel announces itself are exact (``assoc_change`` notifications: COMM_UP, COMM_LOST, SHUTDOWN_COMP...,
  and the association's end): there ``not_before_ns == ts_ns``.

Exact events still come from probes where they are rare: cwnd reductions (``sctp_transport_lower_cwnd``) are
events of their own and move the derived baseline, so a reduction is never reported twice.

Sans-IO: ``feed(record) -> [records]`` in ring order; the result holds the record itself and, before it, what it
revealed.  Bounded: associations and transports are forgotten when their association is freed, and the oldest are
dropped beyond ``max_keys``.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any

__all__ = ["Deriver", "DERIVED_FROM", "capabilities"]

# derived event type -> the probe event types whose samples produce it
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "assoc_state": ("egress", "sack", "path", "rto_update", "cwnd", "rtx_mark", "t3_expire", "hb_sent", "hb_ack",
                    "path_state", "assoc_change"),
    "rwnd": ("egress",),
    "cwnd": ("egress", "path"),
}

# what an assoc_change notification means for the state (RESTART keeps ESTABLISHED: no change)
_SAC_TO_STATE = {"COMM_UP": "ESTABLISHED", "COMM_LOST": "CLOSED", "SHUTDOWN_COMP": "CLOSED",
                 "CANT_STR_ASSOC": "CLOSED"}
_HDR = ("ts_ns", "jiffies", "cpu", "tgid", "netns", "asoc", "assoc_id", "my_vtag", "peer_vtag", "lport", "pport")
_PATH = ("path_addr", "path_port", "transport", "hb_nonce")
_NO_ASOC = "0x0000000000000000"


def capabilities(event_types: set[str]) -> dict[str, bool]:
    """Which derived event types a recording can hold, given the probe event types it records."""
    return {d: any(t in event_types for t in src) for d, src in DERIVED_FROM.items()}


class _Lru(OrderedDict):
    def __init__(self, cap: int) -> None:
        super().__init__()
        self.cap = cap

    def put(self, k: Any, v: Any) -> None:
        self[k] = v
        self.move_to_end(k)
        while len(self) > self.cap:
            self.popitem(last=False)


class Deriver:
    def __init__(self, max_keys: int = 65536) -> None:
        self.state = _Lru(max_keys)   # (asoc, my_vtag) -> {"state", "ts", "stale"}
        self.win = _Lru(max_keys)     # (asoc, my_vtag) -> (rwnd, rwnd_over, rwnd_press, ts)
        self.cg = _Lru(max_keys)      # (transport, my_vtag) -> (cwnd, ssthresh, ts)

    def feed(self, r: dict[str, Any]) -> list[dict[str, Any]]:
        t = r.get("type")
        asoc = r.get("asoc")
        if t not in DERIVED_FROM["assoc_state"] or not asoc or asoc == _NO_ASOC or r.get("derived"):
            return [r]
        out: list[dict[str, Any]] = []
        key = (asoc, r.get("my_vtag"))
        self._state(key, r, out)
        if t == "egress":
            self._window(key, r, out)
        if t in ("egress", "path"):
            self._cwnd(r, out)
        elif t == "cwnd" and r.get("transport"):
            # an exact (probed) change: the next sample is compared with its result, not reported again
            self.cg.put((r["transport"], r.get("my_vtag")), (r["cwnd_after"], r["ssthresh_after"], r["ts_ns"]))
        out.append(r)
        if t == "assoc_change" and r.get("kind") == "freed":
            self._forget(key, asoc)
        return out

    # -- association state ----------------------------------------------------------------------------------
    def _state(self, key: tuple, r: dict[str, Any], out: list) -> None:
        hdr_state, ts = r.get("state"), r["ts_ns"]
        st = self.state.get(key)
        if r["type"] == "assoc_change":
            new = _SAC_TO_STATE.get(r.get("sac_state", "")) if r.get("kind") == "notification" else "CLOSED"
            if new is not None:
                before = st["state"] if st else hdr_state
                if st and hdr_state != st["state"] and hdr_state != st.get("stale"):
                    out.append(self._state_ev(r, st["state"], hdr_state, st["ts"], None))
                    before = hdr_state
                if before != new:
                    cause = r.get("sac_state") if r.get("kind") == "notification" else "freed"
                    out.append(self._state_ev(r, before, new, ts, cause))
                # the kernel applies the new state after building the notification: until the header shows it,
                # headers still carrying the old state are not a change back
                self.state.put(key, {"state": new, "ts": ts, "stale": hdr_state if hdr_state != new else None})
                return
        if st is None:
            if hdr_state == "COOKIE_WAIT":      # a new association: it was CLOSED a moment ago
                out.append(self._state_ev(r, "CLOSED", hdr_state, None, None))
            self.state.put(key, {"state": hdr_state, "ts": ts, "stale": None})
            return
        if hdr_state == st["state"]:
            st["stale"] = None
        elif hdr_state != st.get("stale"):
            out.append(self._state_ev(r, st["state"], hdr_state, st["ts"], None))
            st["state"], st["stale"] = hdr_state, None
        st["ts"] = ts
        self.state.move_to_end(key)

    def _state_ev(self, r: dict, before: str | None, after: str, not_before: int | None,
                  cause: str | None) -> dict[str, Any]:
        e = {"type": "assoc_state", **{k: r[k] for k in _HDR if k in r}, "state": after, "state_before": before,
             "state_after": after, "derived": True, "seen_in": r["type"], "not_before_ns": not_before}
        if cause is not None:
            e["cause"] = cause
        return e

    # -- local receive window (egress samples) --------------------------------------------------------------
    def _window(self, key: tuple, r: dict[str, Any], out: list) -> None:
        now = (r["rwnd"], r["rwnd_over"], r["rwnd_press"])
        prev = self.win.get(key)
        self.win.put(key, (*now, r["ts_ns"]))
        if prev is not None and prev[:3] == now:
            return
        e = {"type": "rwnd", **{k: r[k] for k in _HDR if k in r}, "state": r.get("state"),
             "rwnd_before": prev[0] if prev else None, "rwnd_after": now[0],
             "rwnd_over_before": prev[1] if prev else None, "rwnd_over_after": now[1],
             "rwnd_press_before": prev[2] if prev else None, "rwnd_press_after": now[2],
             "a_rwnd": r["a_rwnd"], "rmem_alloc": r["rmem_alloc"], "rcvbuf": r["rcvbuf"],
             "derived": True, "seen_in": "egress", "not_before_ns": prev[3] if prev else None}
        out.append(e)

    # -- congestion window (egress and path samples; lowers are probed) ------------------------------------
    def _cwnd(self, r: dict[str, Any], out: list) -> None:
        tr = r.get("transport")
        if not tr or "ssthresh" not in r:
            return
        k = (tr, r.get("my_vtag"))
        prev = self.cg.get(k)
        self.cg.put(k, (r["cwnd"], r["ssthresh"], r["ts_ns"]))
        if prev is None or prev[:2] == (r["cwnd"], r["ssthresh"]):
            return
        grew = r["cwnd"] > prev[0]
        e = {"type": "cwnd", **{x: r[x] for x in _HDR if x in r}, "state": r.get("state"),
             **{x: r.get(x) for x in _PATH},
             "op": "raise" if grew else "change",
             "reason": ("slow_start" if prev[0] <= prev[1] else "congestion_avoidance") if grew else None,
             "cwnd_before": prev[0], "cwnd_after": r["cwnd"], "ssthresh_before": prev[1],
             "ssthresh_after": r["ssthresh"], "flight_size": r.get("flight_size"),
             "derived": True, "seen_in": r["type"], "not_before_ns": prev[2]}
        out.append(e)

    def _forget(self, key: tuple, asoc: str) -> None:
        self.state.pop(key, None)
        self.win.pop(key, None)
        for k in [k for k in self.cg if k[1] == key[1]]:
            del self.cg[k]
