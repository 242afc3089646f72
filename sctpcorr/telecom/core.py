"""The telecom layer: user messages named, procedures timed, UEs followed, with the SCTP state of each moment.

Pure: fed, block by block, what the wire engine drained (``drain_payloads()`` bytes and ``drain_events()``
tuples, both in capture order), it

1. reassembles user messages (:mod:`payloads`) and classifies them by PPID and port (:mod:`classify`);
2. names each: NGAP/S1AP/X2AP/XnAP message, procedure, outcome, UE ids and the NAS message inside
   (:mod:`ap`, :mod:`nas`; no ASN.1 runtime per message), Diameter command and result (:mod:`diameter`), M3UA
   class and type (:mod:`m3ua`);
3. matches requests to responses: an AP class-1 procedure's initiating message to its successful or
   unsuccessful outcome on the same association, procedure and RAN-side UE id (first in, first out); a Diameter
   request to the answer with its hop-by-hop and end-to-end ids; latency distributions per procedure and per
   application/command, unanswered requests, failures by cause (pycrate decodes the few unsuccessful outcomes) and
   Diameter result codes;
4. follows each UE (association + RAN-side UE id): its messages, and the registration (5G) or attach (LTE)
   timeline: Registration/Attach Request -> Authentication -> Security Mode -> Initial Context Setup ->
   Registration/Attach Accept and Complete.  After a Security Mode Command that selects the null ciphering
   algorithm (NEA0/EEA0) the "ciphered" NAS that follows is read as plain;
5. gives each message its SCTP context: stream, first and last TSN, retransmissions of its TSNs (engine events:
   kind, when), the last RTT sample and the receiver's last advertised window before it, and its head-of-line
   wait (an earlier TSN of the same ordered stream retransmitted after this message reached the capture: the
   receiver could deliver it only then).

Directions are decided at ``finish`` from the association's verification tags (a DATA chunk carries its
receiver's tag), once the engine's orientation is final.  Sides: the RAN side of an NGAP/S1AP association is the
endpoint that sent InitialUEMessage or NG/S1 Setup Request (else the one not on port 38412/36412); a timeline
step ended by a message the core sent is time the RAN waited for the core, and the reverse.
"""
from __future__ import annotations

from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from sctpcorr.telecom import ap, classify, diameter, m3ua, nas
from sctpcorr.telecom.payloads import Message, Reassembler, chunks

__all__ = ["Telecom", "TMessage", "REGISTRATION_5G", "ATTACH_LTE"]

AP = ("ngap", "s1ap", "x2ap", "xnap")


def _spec(proc: str) -> tuple[tuple[str, tuple[str, str]], ...]:
    """A registration (5G) or attach (LTE) timeline: (label, ("nas" | "ap", the name that marks the step))."""
    nas_steps = (f"{proc} Request", "Authentication Request", "Authentication Response", "Security Mode Command",
                 "Security Mode Complete")
    return (*((n, ("nas", n)) for n in nas_steps),
            ("InitialContextSetupRequest", ("ap", "InitialContextSetupRequest")),
            (f"{proc} Accept", ("nas", f"{proc} Accept")),
            ("InitialContextSetupResponse", ("ap", "InitialContextSetupResponse")),
            (f"{proc} Complete", ("nas", f"{proc} Complete")))


REGISTRATION_5G = _spec("Registration")
ATTACH_LTE = _spec("Attach")
RAN_FIRST = {"ngap": {15, 21}, "s1ap": {12, 17}}     # InitialUEMessage, NGSetup / S1Setup: sent by the RAN
CORE_PORTS = {"ngap": 38412, "s1ap": 36412}
S1AP_ICS = 9                                          # S1AP InitialContextSetup


@dataclass(slots=True)
class TMessage:
    """One user message as the telecom layer saw it."""

    ts_ns: int
    frame: int
    assoc: int
    vtag: int
    sid: int
    tsns: tuple[int, int]
    fragments: int
    length: int
    proto: str
    name: str
    kind: str | None = None             # AP: initiating / successful / unsuccessful; Diameter: request / answer
    code: int | None = None             # AP procedure code; Diameter command code
    procedure: str | None = None
    ran_ue: int | None = None
    core_ue: int | None = None
    nas: str | None = None
    application: int | None = None      # Diameter
    result: int | None = None           # Diameter answers
    error: str | None = None
    rtt_ns: int | None = None           # the association's last RTT sample before it (any direction)
    a_rwnd: int | None = None           # its receiver's last advertised window before it
    latency_ns: int | None = None       # a response: since its request
    direction: str | None = None        # decided at finish: "A>B" / "B>A"
    retransmissions: int | None = None  # at finish: retransmissions of its TSNs the capture showed
    hol_wait_ns: int | None = None      # at finish: how long it waited for an earlier TSN of its stream
    unordered: bool = False
    data: bytes | None = None           # kept for the few a person asks to see (keep_data)

    def as_dict(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__slots__ if k != "data"}     # type: ignore[attr-defined]
        d["tsns"] = list(self.tsns)
        return {k: v for k, v in d.items() if v is not None}


def quantile(values: list[int] | list[float], q: float) -> Any:
    """The nearest-rank quantile of ``values`` (None when empty)."""
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def _pct(values: list[int]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "min_ns": min(values), "p50_ns": quantile(values, 0.5),
            "p90_ns": quantile(values, 0.9), "p99_ns": quantile(values, 0.99), "max_ns": max(values),
            "mean_ns": sum(values) // len(values)}


@dataclass
class _Proc:
    latencies: list[int] = field(default_factory=list)
    requests: int = 0
    successful: int = 0
    unsuccessful: int = 0
    responses_without_request: int = 0
    causes: Counter[str] = field(default_factory=Counter)


class Telecom:
    """Feed ``feed(payload_bytes, events)`` per block, then ``finish(report)`` (the engine's report)."""

    def __init__(self, keep_data: bool = False, full_causes: bool = True) -> None:
        self.reasm = Reassembler()
        self.keep_data = keep_data
        self.full_causes = full_causes
        self.messages: list[TMessage] = []          # every named message (UE timelines, HOL, the deep view)
        self.counts: Counter[tuple[str, str]] = Counter()
        self.undecoded: Counter[str] = Counter()
        self.other_ppids: Counter[int] = Counter()
        self.by_proto: Counter[str] = Counter()
        self._pending_ap: dict[tuple[str, int, int, int | None], deque[TMessage]] = defaultdict(deque)
        self._pending_dia: dict[tuple[int, int, int], TMessage] = {}
        self.procs: dict[tuple[str, int], _Proc] = defaultdict(_Proc)
        self.dia: dict[tuple[int, int], _Proc] = defaultdict(_Proc)
        self.dia_results: Counter[tuple[int, int, int]] = Counter()
        self.m3ua: Counter[tuple[str, str]] = Counter()
        self.rtx: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)   # (assoc, tsn) -> (ts, kind)
        self._last_rtt: dict[int, int] = {}
        self._last_rwnd: dict[tuple[int, str], int] = {}      # (assoc, SACK sender direction) -> a_rwnd
        self._ran_dir: dict[int, tuple[str, int]] = {}        # assoc -> (proto, vtag of messages the RAN sent)
        self._null_cipher: set[tuple[int, int]] = set()       # UEs (assoc, ran id) with NEA0/EEA0 selected
        self.new_messages: list[TMessage] = []                # of the last feed (the --jsonl events)
        self.rtt_samples: list[int] = []                      # the wire's RTT samples, delayed SACKs left out
        self.data_chunks = 0                                  # (for compare: retransmissions per DATA)

    # ---- input ---------------------------------------------------------------------------------------------
    def feed(self, payloads: bytes, events: list[tuple[Any, ...]] = ()) -> list[TMessage]:
        """One block's payloads and engine events; returns the messages it completed."""
        msgs = [m for c in chunks(payloads) if (m := self.reasm.feed(c)) is not None]
        items: list[tuple[int, int, int, Any]] = [(m.ts_ns, m.frame, 1, m) for m in msgs]
        for e in events:
            if e[0] in ("rtt", "sack", "retransmission"):
                items.append((e[1], e[2], 0, e))
        items.sort(key=lambda x: (x[0], x[1], x[2]))
        out = []
        for _ts, _f, is_msg, x in items:
            if not is_msg:
                self._event(x)
                continue
            t = self._message(x)
            if t is not None:
                out.append(t)
        self.new_messages = out
        return out

    def _event(self, e: tuple[Any, ...]) -> None:
        kind, ts, _frame, aid = e[0], e[1], e[2], e[3]
        if kind == "rtt":
            self._last_rtt[aid] = e[8]
            if not e[10] and len(self.rtt_samples) < 1_000_000:     # delayed_sack: the peer's timer, not the path
                self.rtt_samples.append(e[8])
        elif kind == "sack":
            self._last_rwnd[(aid, e[4])] = e[6]
        else:                                   # retransmission: direction, src, dst, tsn, kind, spurious
            self.rtx[(aid, e[7])].append((ts, e[8]))

    def _message(self, m: Message) -> TMessage | None:
        proto = classify.protocol(m.ppid, m.sport, m.dport)
        if proto is None:
            self.other_ppids[m.ppid] += 1
            return None
        self.by_proto[proto] += 1
        t = TMessage(m.ts_ns, m.frame, m.assoc, m.vtag, m.sid, m.tsns, m.fragments, m.length, proto, "",
                     rtt_ns=self._last_rtt.get(m.assoc),
                     a_rwnd=self._last_rwnd.get((m.assoc, "B>A" if m.dir == 0 else "A>B")), unordered=m.unordered)
        if m.truncated:
            t.error = "payload cut by the snaplen"
        if self.keep_data:
            t.data = m.data
        if proto in AP:
            self._ap(t, m.data)
        elif proto == "diameter":
            self._diameter(t, m.data)
            self.messages.append(t)
        else:
            r = m3ua.decode(m.data)
            if r is None:
                t.name, t.error = "not M3UA", t.error or "not an M3UA header"
                self.undecoded[proto] += 1
            else:
                t.name = f"{r[0]} {r[1]}"
                self.m3ua[r] += 1
            self.messages.append(t)
        self.counts[(proto, t.name)] += 1
        return t

    def _ap(self, t: TMessage, data: bytes) -> None:
        pdu = ap.decode(data, t.proto)
        if pdu.code < 0:
            t.name, t.error = f"{t.proto.upper()} (undecodable)", pdu.error
            self.undecoded[t.proto] += 1
            return
        t.kind, t.code, t.name = ap.TYPES[pdu.kind], pdu.code, pdu.name
        if pdu.error:
            t.error = pdu.error
        p = pdu.proc
        t.procedure = p.name if p else f"procedure {pdu.code}"
        t.ran_ue, t.core_ue = ap.ue_ids(pdu)
        ue = (t.assoc, t.ran_ue) if t.ran_ue is not None else None
        n = ap.nas_pdu(pdu)
        if n is None and t.proto == "s1ap" and pdu.kind == 0 and pdu.code == S1AP_ICS:
            n = ap.nested_nas(data, t.proto)          # the Attach Accept rides in an E-RAB item
        if n is not None:
            t.nas = nas.name(n)
            if t.nas == nas.CIPHERED and ue in self._null_cipher:
                t.nas = nas.name(_strip_security(n))
            if t.nas == "Security Mode Command" and ue is not None and nas.null_ciphering(n):
                self._null_cipher.add(ue)
        if t.assoc not in self._ran_dir and t.proto in RAN_FIRST and pdu.kind == 0 and pdu.code in RAN_FIRST[t.proto]:
            self._ran_dir[t.assoc] = (t.proto, t.vtag)
        self.messages.append(t)
        # request / response
        key = (t.proto, t.assoc, pdu.code, t.ran_ue)
        st = self.procs[(t.proto, pdu.code)]
        if pdu.kind == 0:
            if p is not None and p.class1:
                st.requests += 1
                self._pending_ap[key].append(t)
            return
        q = self._pending_ap.get(key)
        if not q and t.ran_ue is not None:            # a response that names the UE its request did not
            q = self._pending_ap.get((t.proto, t.assoc, pdu.code, None))
        if not q:
            st.responses_without_request += 1
            return
        req = q.popleft()
        t.latency_ns = t.ts_ns - req.ts_ns
        st.latencies.append(t.latency_ns)
        if pdu.kind == 1:
            st.successful += 1
        else:
            st.unsuccessful += 1
            c = ap.cause(data, t.proto) if self.full_causes else None
            st.causes[c or "cause not decoded"] += 1

    def _diameter(self, t: TMessage, data: bytes) -> None:
        d = diameter.decode(data)
        if d is None:
            t.name, t.error = "not Diameter", "not a Diameter header"
            self.undecoded["diameter"] += 1
            return
        t.name, t.code, t.application = d.name, d.command, d.application
        t.kind = "request" if d.request else "answer"
        t.procedure = diameter.command_name(d.command)
        t.error = t.error or d.error
        key = (t.assoc, d.hop_by_hop, d.end_to_end)
        st = self.dia[(d.application, d.command)]
        if d.request:
            st.requests += 1
            self._pending_dia[key] = t
            return
        t.result = d.result
        self.dia_results[(d.application, d.command, d.result if d.result is not None else -1)] += 1
        req = self._pending_dia.pop(key, None)
        if req is None:
            st.responses_without_request += 1
            return
        t.latency_ns = t.ts_ns - req.ts_ns
        st.latencies.append(t.latency_ns)
        if d.result is not None and not 2000 <= d.result < 3000:
            st.unsuccessful += 1
            st.causes[str(d.result)] += 1
        else:
            st.successful += 1

    # ---- output --------------------------------------------------------------------------------------------
    def finish(self, report: dict[str, Any]) -> dict[str, Any]:
        """The ``telecom`` section of the document (docs/telecom.md)."""
        self.reasm.finish()
        assocs = {a["id"]: a for a in report.get("associations", [])}
        for t in self.messages:
            t.direction = _direction(assocs.get(t.assoc), t.vtag)
        ran = {aid: _ran_side(assocs.get(aid), self._ran_dir.get(aid), proto)
               for aid, proto in {(t.assoc, t.proto) for t in self.messages if t.proto in RAN_FIRST}}
        last_rtx: dict[int, int] = {}                     # id(message) -> its last retransmission
        for t in self.messages:
            rtx = [ts for k in range(((t.tsns[1] - t.tsns[0]) & 0xFFFFFFFF) + 1)
                   for ts, _kind in self.rtx.get((t.assoc, (t.tsns[0] + k) & 0xFFFFFFFF), ())] if self.rtx else []
            t.retransmissions = len(rtx)
            if rtx:
                last_rtx[id(t)] = max(rtx)
        hol = self._hol(last_rtx)
        for t in self.messages:
            t.hol_wait_ns = hol.get(id(t), 0)
        out: dict[str, Any] = {
            "messages": {p: n for p, n in sorted(self.by_proto.items())},
            "message_types": [{"protocol": p, "message": n, "count": c}
                              for (p, n), c in sorted(self.counts.items(), key=lambda x: (x[0][0], -x[1]))],
            "undecoded": dict(self.undecoded),
            "reassembled": self.reasm.fragmented, "fragments_given_up": self.reasm.given_up,
            "fragments_orphaned": self.reasm.orphans,
            "other_ppids": {str(k): v for k, v in sorted(self.other_ppids.items())},
            "procedures": self._proc_table(),
            "diameter": self._dia_table(),
            "m3ua": [{"class": c, "type": t, "count": n} for (c, t), n in sorted(self.m3ua.items())],
            "ues": self._ues(ran, hol),
        }
        out["registration"] = _registration_summary(out["ues"])
        return out

    def _proc_table(self) -> list[dict[str, Any]]:
        pending: Counter[tuple[str, int]] = Counter()
        for (proto, _a, code, _u), q in self._pending_ap.items():
            pending[(proto, code)] += len(q)
        rows = []
        for (proto, code), st in sorted(self.procs.items()):
            p = ap.procedures(proto).get(code)
            if not (st.requests or st.successful or st.unsuccessful or st.responses_without_request):
                continue
            rows.append({"protocol": proto, "procedure": p.name if p else f"procedure {code}", "code": code,
                         "requests": st.requests, "successful": st.successful, "unsuccessful": st.unsuccessful,
                         "unanswered": pending[(proto, code)],
                         "responses_without_request": st.responses_without_request,
                         "latency": _pct(st.latencies), "causes": dict(st.causes)})
        return rows

    def _dia_table(self) -> list[dict[str, Any]]:
        pending: Counter[tuple[int, int]] = Counter((t.application, t.code) for t in self._pending_dia.values())
        rows = []
        for (app_id, cmd), st in sorted(self.dia.items()):
            rows.append({"application": app_id, "application_name": diameter.application_name(app_id),
                         "command": cmd, "command_name": diameter.command_name(cmd), "requests": st.requests,
                         "answered": st.successful + st.unsuccessful, "unanswered": pending[(app_id, cmd)],
                         "answers_without_request": st.responses_without_request, "latency": _pct(st.latencies),
                         "result_codes": {str(r): n for (a2, c2, r), n in sorted(self.dia_results.items())
                                          if a2 == app_id and c2 == cmd}})
        return rows

    def _hol(self, last_rtx: dict[int, int]) -> dict[int, int]:
        """id(message) -> head-of-line wait (ns): an earlier message of the same ordered stream and direction was
        retransmitted after this one reached the capture point, and the receiver delivers in order."""
        out: dict[int, int] = {}
        if not last_rtx:
            return out
        streams: dict[tuple[int, int, int], list[TMessage]] = defaultdict(list)
        for t in self.messages:
            streams[(t.assoc, t.vtag, t.sid)].append(t)
        for ms in streams.values():
            late = [(t.tsns[0], last_rtx[id(t)]) for t in ms if id(t) in last_rtx]
            if not late:
                continue
            for t in ms:
                if t.unordered:
                    continue
                w = max((ts - t.ts_ns for tsn, ts in late
                         if 0 < ((t.tsns[0] - tsn) & 0xFFFFFFFF) < (1 << 31) and ts > t.ts_ns), default=0)
                if w > 0:
                    out[id(t)] = w
        return out

    def _ues(self, ran: dict[int, str | None], hol: dict[int, int]) -> list[dict[str, Any]]:
        ues: dict[tuple[int, int], list[TMessage]] = defaultdict(list)
        for t in self.messages:
            if t.ran_ue is not None and t.proto in RAN_FIRST:
                ues[(t.assoc, t.ran_ue)].append(t)
        out = []
        for (aid, rid), ms in sorted(ues.items()):
            ran_dir = ran.get(aid)
            steps = _timeline(ms, REGISTRATION_5G if ms[0].proto == "ngap" else ATTACH_LTE)
            entry: dict[str, Any] = {
                "assoc": aid, "protocol": ms[0].proto, "ran_ue_id": rid,
                "core_ue_id": next((t.core_ue for t in ms if t.core_ue is not None), None),
                "messages": len(ms), "first_ns": ms[0].ts_ns, "last_ns": ms[-1].ts_ns,
                "procedure": "registration" if ms[0].proto == "ngap" else "attach",
            }
            if steps:
                t0 = steps[0][1].ts_ns
                prev = t0
                rows = []
                waited = {"core": 0, "ran": 0}
                for label, t in steps:
                    side = None if ran_dir is None or t.direction is None else \
                        ("ran" if t.direction == ran_dir else "core")
                    step_ns = t.ts_ns - prev
                    if side is not None and rows:
                        waited[side] += step_ns
                    rows.append({"step": label, "at_ns": t.ts_ns - t0, "step_ns": step_ns if rows else 0,
                                 "sent_by": side, "message": t.name, "nas": t.nas, "frame": t.frame,
                                 "stream": t.sid, "tsns": list(t.tsns),
                                 "retransmissions": t.retransmissions, "rtt_ns": t.rtt_ns, "a_rwnd": t.a_rwnd,
                                 "hol_wait_ns": t.hol_wait_ns})
                    prev = t.ts_ns
                last_label = (REGISTRATION_5G if ms[0].proto == "ngap" else ATTACH_LTE)[-1][0]
                done = rows[-1]["step"] == last_label
                after = [t for t in ms if t.ts_ns > steps[-1][1].ts_ns]
                # not seen to complete: unknown when what followed is ciphered NAS (the Accept/Complete may be in it)
                complete = True if done else (None if any(t.nas == nas.CIPHERED for t in after)
                                              or steps[-1][1].nas == nas.CIPHERED else False)
                entry.update(steps=rows, complete=complete,
                             duration_ns=rows[-1]["at_ns"], waited_for_core_ns=waited["core"],
                             waited_for_ran_ns=waited["ran"])
            out.append(entry)
        return out


def _timeline(ms: list[TMessage], spec: tuple[tuple[str, tuple[str, str]], ...]) -> list[tuple[str, TMessage]]:
    """The steps of ``spec`` in order, each the first matching message after the previous step; starts at the
    first step's message (a UE whose first step is not in the capture has no timeline)."""
    out: list[tuple[str, TMessage]] = []
    i = 0
    for label, (where, what) in spec:
        for j in range(i, len(ms)):
            t = ms[j]
            if (t.nas if where == "nas" else t.name) == what:
                out.append((label, t))
                i = j if where == "ap" else j + 1     # an AP message may also carry the next step's NAS
                break
        else:
            if not out:
                return []
            continue
    return out


def _registration_summary(ues: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for proc in ("registration", "attach"):
        us = [u for u in ues if u.get("procedure") == proc and u.get("steps")]
        if not us:
            continue
        done = [u for u in us if u["complete"]]
        unknown = sum(1 for u in us if u["complete"] is None)
        per_step: dict[str, list[int]] = defaultdict(list)
        for u in done:
            for s in u["steps"][1:]:
                per_step[s["step"]].append(s["step_ns"])
        out[proc] = {"started": len(us), "complete": len(done), "not_readable": unknown,
                     "incomplete": len(us) - len(done) - unknown,
                     "duration": _pct([u["duration_ns"] for u in done]),
                     "waited_for_core": _pct([u["waited_for_core_ns"] for u in done]),
                     "waited_for_ran": _pct([u["waited_for_ran_ns"] for u in done]),
                     "steps": {k: _pct(v) for k, v in per_step.items()}}
    return out


def _direction(a: dict[str, Any] | None, vtag: int) -> str | None:
    tags = (a or {}).get("vtags") or [None, None]
    if tags[1] == vtag:                 # received by B: sent by A
        return "A>B"
    if tags[0] == vtag:
        return "B>A"
    return None


def _ran_side(a: dict[str, Any] | None, seen: tuple[str, int] | None, proto: str) -> str | None:
    """The direction in which the RAN sends ("A>B" or "B>A")."""
    if a is None:
        return None
    if seen is not None:
        return _direction(a, seen[1])
    ports = a.get("ports") or [0, 0]
    core = CORE_PORTS.get(proto)
    if ports[1] == core and ports[0] != core:
        return "A>B"
    if ports[0] == core and ports[1] != core:
        return "B>A"
    return None


def _strip_security(n: bytes) -> bytes:
    """The message inside a security-protected NAS message (5GS: 7 octets of header; EPS: 6)."""
    return n[7:] if n[:1] == b"\x7e" else n[6:]
