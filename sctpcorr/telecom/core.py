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
   kind, when), the last RTT sample and the receiver's last advertised window before it (the engine's state when
   it read the chunk, carried in its payload header), and its head-of-line wait (an earlier TSN of the same ordered stream retransmitted after this message reached the capture: the
   receiver could deliver it only then).

Steps 1-3 run in C, once per message (``_fast``: decode, then follow); what is kept per message is one
fixed-size record (columns.REC) and steps 4-5 run over whole columns at ``finish``.  ap.py, nas.py, diameter.py
and m3ua.py are the same walks in Python: the reference the tests hold the C to, and what reads a single message.

Directions are decided at ``finish`` from the association's verification tags (a DATA chunk carries its
receiver's tag), once the engine's orientation is final.  Sides: the RAN side of an NGAP/S1AP association is the
endpoint that sent InitialUEMessage or NG/S1 Setup Request (else the one not on port 38412/36412); a timeline
step ended by a message the core sent is time the RAN waited for the core, and the reverse.
"""
from __future__ import annotations

import functools
import mmap
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from sctpcorr.telecom import ap, diameter, m3ua, nas
from sctpcorr.telecom.columns import (AP_PROTOS, CAND, DIA, DIAMETER, ERRORS, E_NOTDIA, E_NOTM3UA, F_MATCHED,
                                      F_NEEDS, F_SMC_NULL, F_TRUNC, F_UNORDERED, LEAN, M3UA, MATCH, PROTOS, REC,
                                      UE, concat, configure, decode)
from sctpcorr.telecom.payloads import Reassembler

__all__ = ["Telecom", "TMessage", "REGISTRATION_5G", "ATTACH_LTE", "quantile"]

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
TRUNCATED = "payload cut by the snaplen"
Cols = dict  # column name -> array (dict[str, np.ndarray])


@dataclass(slots=True)
class TMessage:
    """One user message as the telecom layer saw it (made from its record when asked for)."""

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
    if len(values) == 0:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def _pct(values: Any) -> dict[str, Any]:
    """Percentiles of a list or an int64 array (nearest rank, as :func:`quantile`)."""
    v = np.sort(np.asarray(values, dtype=np.int64))
    n = len(v)
    if not n:
        return {"n": 0}

    def q(x: float) -> int:
        return int(v[min(n - 1, int(round(x * (n - 1))))])
    return {"n": n, "min_ns": int(v[0]), "p50_ns": q(0.5), "p90_ns": q(0.9), "p99_ns": q(0.99),
            "max_ns": int(v[-1]), "mean_ns": int(v.sum()) // n}


@dataclass
class _Proc:
    latencies: Any = field(default_factory=list)      # int ns: a list, or (AP procedures) an int64 array
    requests: int = 0
    successful: int = 0
    unsuccessful: int = 0
    responses_without_request: int = 0
    causes: Counter[str] = field(default_factory=Counter)


class _Fed:
    """The messages one ``feed`` completed, made into :class:`TMessage` objects only when iterated (the --jsonl
    events); after ``finish`` they carry their direction, retransmissions and head-of-line wait too."""

    def __init__(self, tel: Telecom, first: int, arr: np.ndarray) -> None:
        self.tel, self.first, self.arr = tel, first, arr

    def __iter__(self) -> Iterator[TMessage]:
        for k in range(len(self.arr)):
            m = self.tel.message(self.first + k, followed=False, rec=self.arr[k])
            if m is not None:
                yield m

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Telecom:
    """Feed ``feed(payload_bytes, events)`` per block, then ``finish(report)`` (the engine's report).

    Every message is one record (columns.REC) made by ``_fast.decode`` and followed by ``_fast.Follower``, in C.
    What is kept of it is what ``finish`` reads, column by column (40 bytes a message: columns.LEAN), and for the
    few that need more (a step of a UE's timeline, a Diameter message) those fields beside; ``finish`` works over
    whole columns (numpy).  :class:`TMessage` objects are made only for what asks for them: the --jsonl events
    of each feed, and ``messages`` (``keep_messages``: every record kept whole, for the deep view and tests)."""

    def __init__(self, keep_data: bool = False, full_causes: bool = True, rtt_samples: bool = False,
                 keep_messages: bool = False) -> None:
        configure()
        from sctpcorr.telecom import _fast

        self.reasm = Reassembler()
        self.keep_data = keep_data
        self.full_causes = full_causes
        self.want_rtt = rtt_samples
        self._follower = _fast.Follower()
        self.keep_messages = keep_messages or keep_data
        self._store = _Store(np.dtype([(f, REC[f]) for f in LEAN]))   # every record: what finish reads
        self._cand = _Store(CAND)                            # records that can be a timeline step
        self._dia = _Store(DIA)                              # Diameter records
        self._blocks: list[np.ndarray] = []                  # keep_messages: every record whole
        self._full: np.ndarray | None = None
        self._bufs: list[bytes | None] = []                  # per block id: the bytes records point into
        self._final: dict[str, Any] = {}                     # at finish: retransmissions, hol wait, directions
        self._messages: list[TMessage] | None = None
        self.n = 0                                           # records so far
        self.causes: dict[int, str] = {}                     # record index -> failure cause (matched failures)
        self.rtx: dict[tuple[int, int], list[tuple[int, str]]] = defaultdict(list)   # (assoc, tsn) -> (ts, kind)
        self.rtt_samples: list[int] = []                     # the wire's RTT samples (rtt_samples=True), delayed
        self.procs: dict[tuple[str, int], _Proc] = {}        # SACKs left out; at finish: per procedure, command
        self.dia: dict[tuple[int, int], _Proc] = {}
        self.hol_waits: list[int] = []                       # at finish: every non-zero head-of-line wait
        self.requests_not_followed = 0

    # ---- input ---------------------------------------------------------------------------------------------
    def feed(self, payloads: bytes, events: Any = ()) -> _Fed:
        """One block's payloads and engine events (only retransmissions, and RTT samples with rtt_samples=True,
        are read); returns the messages it completed (made when iterated)."""
        for e in events:
            if e[0] == "retransmission":                     # direction, src, dst, tsn, kind, spurious
                self.rtx[(e[3], e[7])].append((e[1], e[8]))
            elif e[0] == "rtt" and self.want_rtt and not e[10] and len(self.rtt_samples) < 1_000_000:
                self.rtt_samples.append(e[8])                # delayed_sack: the peer's timer, not the path
        block = len(self._bufs)
        arr, extra = decode(payloads, self.reasm, block)
        self._bufs.append(payloads)
        if extra is not None:
            self._bufs.append(extra)
        for i in np.flatnonzero(arr["flags"] & F_NEEDS):     # S1AP InitialContextSetupRequest: NAS in an E-RAB
            n = ap.nested_nas(self._data(arr[i]), "s1ap")
            if n is not None:
                from sctpcorr.telecom import _fast

                arr["nas"][i], arr["inner"][i], smc = _fast.nas_codes(n)
                if smc:
                    arr["flags"][i] |= F_SMC_NULL
        lean = self._store.reserve(len(arr))                 # what is kept of each: written as it is followed
        for i in self._follower.follow(arr, lean):           # the AP failures it matched: their causes
            c = ap.cause(self._data(arr[i]), PROTOS[arr["proto"][i]]) if self.full_causes else None
            self.causes[self.n + int(i)] = c or "cause not decoded"
        if not self.keep_data:                               # what the records point into: not kept
            self._bufs[block:] = [None] * (len(self._bufs) - block)
        self._keep(arr)
        first, self.n = self.n, self.n + len(arr)
        self._messages = None
        return _Fed(self, first, arr)

    def _keep(self, arr: np.ndarray) -> None:
        """What is kept of a block's records beside the LEAN columns follow() wrote (while the block is in the
        caches)."""
        self._store.n += len(arr)
        p = arr["proto"]
        sel = np.flatnonzero(arr["steps"])                  # a UE's messages that can be a step of its timeline
        if len(sel):
            self._cand.append({"idx": sel + self.n, "bits": arr["steps"][sel], "frame": arr["frame"][sel],
                               "rtt_ns": arr["rtt_ns"][sel], "a_rwnd": arr["a_rwnd"][sel]})
        sel = np.flatnonzero(p == DIAMETER)
        if len(sel):
            self._dia.append({"idx": sel + self.n, "app": arr["app"][sel], "result": arr["result"][sel],
                              "latency_ns": arr["latency_ns"][sel]})
        if self.keep_messages:
            self._blocks.append(arr)
            self._full = None

    def _data(self, r: Any) -> bytes:
        """The user data of a record (of this block, or with keep_data any)."""
        buf = self._bufs[int(r["block"])]
        assert buf is not None
        off = int(r["data_off"])
        return bytes(buf[off:off + int(r["caplen"])])

    # ---- records as messages ---------------------------------------------------------------------------------
    @property
    def cols(self) -> dict[str, np.ndarray]:
        """What is kept of every record so far, column by column (views): columns.LEAN."""
        return self._store.view()

    def _record(self, i: int) -> Any:
        if not self.keep_messages:
            raise RuntimeError("Telecom(keep_messages=True) keeps every record whole")
        if self._full is None:
            self._full = concat(self._blocks)
            self._blocks = [self._full]
        return self._full[i]

    def message(self, i: int, followed: bool = True, rec: Any = None) -> TMessage | None:
        """Record ``i`` as a :class:`TMessage` (None: not a message of a protocol this names, or with ``followed``
        an undecodable AP PDU, which counts but is not followed)."""
        r = self._record(i) if rec is None else rec
        proto = int(r["proto"])
        if proto == 0 or (followed and PROTOS[proto] in AP and int(r["code"]) < 0):
            return None
        return self._tmessage(i, r)

    def _tmessage(self, i: int, r: Any) -> TMessage:
        proto = PROTOS[int(r["proto"])]
        flags, err, code, kind = int(r["flags"]), int(r["err"]), int(r["code"]), int(r["kind"])
        t = TMessage(int(r["ts_ns"]), int(r["frame"]), int(r["assoc"]), int(r["vtag"]), int(r["sid"]),
                     (int(r["tsn0"]), int(r["tsn1"])), int(r["fragments"]), int(r["length"]), proto,
                     _name(int(r["proto"]), kind, code, err), unordered=bool(flags & F_UNORDERED))
        t.error = TRUNCATED if flags & F_TRUNC else None
        for k in ("rtt_ns", "a_rwnd", "latency_ns"):
            v = int(r[k])
            setattr(t, k, v if v >= 0 else None)
        if proto in AP:
            if code < 0:
                t.error = ERRORS[err]
            else:
                t.kind, t.code = ap.TYPES[kind], code
                p = ap.procedures(proto).get(code)
                t.procedure = p.name if p else f"procedure {code}"
                if err:
                    t.error = ERRORS[err]
                ran, core = int(r["ran_ue"]), int(r["core_ue"])
                t.ran_ue, t.core_ue = (ran if ran >= 0 else None), (core if core >= 0 else None)
                t.nas = nas.code_name(int(r["nas"]))
        elif proto == "diameter":
            if err == E_NOTDIA:
                t.error = ERRORS[err]
            else:
                t.code, t.application, t.kind = code, int(r["app"]), ("request", "answer")[kind]
                t.procedure = diameter.command_name(code)
                t.error = t.error or (ERRORS[err] if err else None)
                if kind == 1:
                    t.result = int(r["result"]) if int(r["result"]) >= 0 else None
        elif err == E_NOTM3UA:
            t.error = t.error or ERRORS[err]
        if self._final:
            d = int(self._final["dirs"](np.array([i]))[0])
            t.direction = (None, "A>B", "B>A")[d]
            t.retransmissions = int(self._final["rtx"][i])
            t.hol_wait_ns = int(self._final["hol"][i])
        if self.keep_data:
            t.data = self._data(r)
        return t

    @property
    def messages(self) -> list[TMessage]:
        """Every named message, in order (made on first use: for the deep view and the tests; needs
        ``keep_messages``)."""
        if self._messages is None:
            out = []
            for i in range(self.n):
                m = self.message(i)
                if m is not None:
                    out.append(m)
            self._messages = out
        return self._messages

    # ---- output --------------------------------------------------------------------------------------------
    def finish(self, report: dict[str, Any]) -> dict[str, Any]:
        """The ``telecom`` section of the document (docs/telecom.md)."""
        self.reasm.finish()
        c = self.cols
        self._messages = None
        self.requests_not_followed = self._follower.dropped
        proto, code = c["proto"], c["code"]
        assocs = {a["id"]: a for a in report.get("associations", [])}
        dirs = _Directions(c, assocs)
        rtx, last_rtx = self._retransmissions(c)
        if self.rtx:
            is_ap = (proto - np.uint8(AP_PROTOS[0])) <= np.uint8(AP_PROTOS[-1] - AP_PROTOS[0])
            named = (proto != 0) & ~(is_ap & (code < 0))       # followed: every message but undecodable AP PDUs
            hol = _hol(c, named, rtx > 0, last_rtx)
        else:
            hol = np.zeros(self.n, np.int64)
        self._final = {"dirs": dirs, "rtx": rtx, "hol": hol}
        self.hol_waits = hol[hol > 0].tolist()
        self.procs, self.dia = self._ap_stats(), self._dia_stats(c)
        types = _types(self._follower.types())
        out: dict[str, Any] = {
            "messages": {p: n for p, n in sorted(types["messages"].items())},
            "message_types": types["message_types"],
            "undecoded": types["undecoded"],
            "reassembled": self.reasm.fragmented, "fragments_given_up": self.reasm.given_up,
            "fragments_orphaned": self.reasm.orphans,
            "other_ppids": types["other_ppids"],
            "procedures": self._proc_table(),
            "diameter": self._dia_table(),
            "m3ua": types["m3ua"],
            "ues": self._ues(c, dirs, rtx, hol, assocs),
        }
        if self.requests_not_followed:
            out["requests_not_followed"] = self.requests_not_followed
        out["registration"] = _registration_summary(out["ues"])
        return out

    def _retransmissions(self, c: Cols) -> tuple[np.ndarray, np.ndarray]:
        """Per record: retransmissions of its TSNs the capture showed, and the time of the last (0: none)."""
        n = np.zeros(self.n, np.int64)
        last = np.zeros(self.n, np.int64)
        if not self.rtx:
            return n, last
        items = sorted(((a << 32) | tsn, ts) for (a, tsn), v in self.rtx.items() for ts, _k in v)
        keys = np.array([k for k, _ in items], np.uint64)
        tss = np.array([t for _, t in items], np.int64)
        single = c["tsn0"] == c["tsn1"]
        q = (c["assoc"].astype(np.uint64) << np.uint64(32)) | c["tsn0"].astype(np.uint64)
        lo, hi = np.searchsorted(keys, q, "left"), np.searchsorted(keys, q, "right")
        hit = single & (hi > lo)
        n[hit] = (hi - lo)[hit]
        last[hit] = tss[hi[hit] - 1]
        for i in np.flatnonzero(~single):                    # a fragmented message: each of its TSNs
            a, t0, t1 = int(c["assoc"][i]), int(c["tsn0"][i]), int(c["tsn1"][i])
            ts = [ts for k in range(((t1 - t0) & 0xFFFFFFFF) + 1)
                  for ts, _k in self.rtx.get((a, (t0 + k) & 0xFFFFFFFF), ())]
            n[i], last[i] = len(ts), max(ts, default=0)
        return n, last

    def _ap_stats(self) -> dict[tuple[str, int], _Proc]:
        """Per (protocol, procedure code), from what the Follower counted and the responses it matched."""
        out: dict[tuple[str, int], _Proc] = {}
        raw_cls, raw_matches = self._follower.ap_stats()
        n = np.frombuffer(raw_cls, np.uint64).reshape(-1, 5)   # requests, successes, failures, orphans, others
        m = np.frombuffer(raw_matches, MATCH)
        order = np.argsort(m["key"], kind="stable")          # by procedure (16 bits: a radix sort)
        m = m[order]
        bounds = np.searchsorted(m["key"], np.arange(len(n) + 1))
        for kk in np.flatnonzero(n.sum(axis=1)).tolist():
            g = m[bounds[kk]:bounds[kk + 1]]
            st = _Proc(latencies=g["latency_ns"], requests=int(n[kk, 0]), successful=int(n[kk, 1]),
                       unsuccessful=int(n[kk, 2]), responses_without_request=int(n[kk, 3]))
            for i in sorted(g["index"][g["kind"] == 2].tolist()):
                st.causes[self.causes.get(i, "cause not decoded")] += 1
            out[(PROTOS[kk >> 8], kk & 0xFF)] = st
        return out

    def _dia_stats(self, c: Cols) -> dict[tuple[int, int], _Proc]:
        out: dict[tuple[int, int], _Proc] = {}
        d = self._dia.view()
        pend = np.array(sorted(self._follower.pending_diameter()), np.int64)
        at = np.searchsorted(d["idx"], pend)
        self._dia_pending: Counter[tuple[int, int]] = Counter(zip(d["app"][at].tolist(), c["code"][pend].tolist()))
        ok_rows = np.flatnonzero(c["err"][d["idx"]] != E_NOTDIA)
        idx, app, result, lat = d["idx"][ok_rows], d["app"][ok_rows], d["result"][ok_rows], d["latency_ns"][ok_rows]
        self._dia_results: dict[tuple[int, int], Counter[int]] = defaultdict(Counter)
        if not len(idx):
            return out
        key = (app.astype(np.int64) << 32) | c["code"][idx].astype(np.int64)
        order = np.argsort(key, kind="stable")
        idx, key, result, lat = idx[order], key[order], result[order], lat[order]
        for g in np.split(np.arange(len(idx)), np.flatnonzero(np.diff(key)) + 1):
            ii = idx[g]
            app_id, cmd = int(key[g[0]] >> 32), int(c["code"][ii[0]])
            is_answer = c["kind"][ii] == 1
            answers, results, lats = ii[is_answer], result[g][is_answer], lat[g][is_answer]
            is_matched = c["flags"][answers] & F_MATCHED != 0
            matched, res = answers[is_matched], results[is_matched]
            ok = (res < 0) | ((res >= 2000) & (res < 3000))
            st = _Proc(latencies=lats[is_matched].tolist(),
                       requests=int(np.count_nonzero(c["kind"][ii] == 0)), successful=int(np.count_nonzero(ok)),
                       unsuccessful=int(np.count_nonzero(~ok)),
                       responses_without_request=len(answers) - len(matched))
            for r in res[~ok].tolist():
                st.causes[str(r)] += 1
            self._dia_results[(app_id, cmd)].update(results.tolist())
            out[(app_id, cmd)] = st
        return out

    def _proc_table(self) -> list[dict[str, Any]]:
        rows = []
        for (proto, code), st in sorted(self.procs.items()):
            p = ap.procedures(proto).get(code)
            if not (st.requests or st.successful or st.unsuccessful or st.responses_without_request):
                continue
            rows.append({"protocol": proto, "procedure": p.name if p else f"procedure {code}", "code": code,
                         "requests": st.requests, "successful": st.successful, "unsuccessful": st.unsuccessful,
                         "unanswered": st.requests - st.successful - st.unsuccessful,
                         "responses_without_request": st.responses_without_request,
                         "latency": _pct(st.latencies), "causes": dict(st.causes)})
        return rows

    def _dia_table(self) -> list[dict[str, Any]]:
        rows = []
        for (app_id, cmd), st in sorted(self.dia.items()):
            rows.append({"application": app_id, "application_name": diameter.application_name(app_id),
                         "command": cmd, "command_name": diameter.command_name(cmd), "requests": st.requests,
                         "answered": st.successful + st.unsuccessful, "unanswered": self._dia_pending[(app_id, cmd)],
                         "answers_without_request": st.responses_without_request, "latency": _pct(st.latencies),
                         "result_codes": {str(r): n for r, n in sorted(self._dia_results[(app_id, cmd)].items())}})
        return rows

    def _ues(self, c: Cols, dirs: _Directions, rtx: np.ndarray, hol: np.ndarray,
             assocs: dict[int, Any]) -> list[dict[str, Any]]:
        """Per UE (the Follower numbered them: ``ue`` column, ``ues()``), sorted by association and RAN UE id."""
        U = np.frombuffer(self._follower.ues(), UE)
        if not len(U):
            return []
        ran = _ran_dirs(c, dirs, assocs, dict(zip(U["assoc"].tolist(), (PROTOS[p] for p in U["proto"].tolist()))))
        side = self._cand.view()                              # the records that can be a step, in order
        ue = c["ue"][side["idx"]]
        order = np.argsort(ue.astype(np.uint16) if len(U) < 1 << 16 else ue, kind="stable")   # 16 bits: radix
        cue = ue[order]
        lo = np.searchsorted(cue, np.arange(1, len(U) + 1), "left")
        hi = np.searchsorted(cue, np.arange(1, len(U) + 1), "right")
        found = _timelines(side["bits"][order], lo, hi, REGISTRATION_5G)   # (UE, step) -> position in order, -1
        cand = order                                          # position in order -> row of side
        cols = {f: U[f].tolist() for f in ("proto", "assoc", "core_ue", "ran_ue", "messages", "first_ts", "last_ts",
                                          "last_ciphered_ts")}
        found_l = found.tolist()
        cand_l = cand.tolist()
        out, timelines = [], []
        for u in np.lexsort((U["ran_ue"], U["assoc"])).tolist():
            p = PROTOS[cols["proto"][u]]
            aid, core = cols["assoc"][u], cols["core_ue"][u]
            out.append({
                "assoc": aid, "protocol": p, "ran_ue_id": cols["ran_ue"][u],
                "core_ue_id": core if core >= 0 else None, "messages": cols["messages"][u],
                "first_ns": cols["first_ts"][u], "last_ns": cols["last_ts"][u],
                "procedure": "registration" if p == "ngap" else "attach",
            })
            steps = [(k, cand_l[j]) for k, j in enumerate(found_l[u]) if j >= 0]     # (step, row of side)
            if steps:
                timelines.append((out[-1], steps, REGISTRATION_5G if p == "ngap" else ATTACH_LTE, ran.get(aid),
                                  cols["last_ciphered_ts"][u]))
        # every step of every UE read at once
        rows = np.array([r for _e, steps, *_ in timelines for _k, r in steps], np.int64)
        ia = side["idx"][rows]
        col = {f: c[f][ia].tolist() for f in ("ts_ns", "proto", "kind", "code", "err", "nas", "sid", "tsn0", "tsn1")}
        col.update({f: side[f][rows].tolist() for f in ("frame", "rtt_ns", "a_rwnd")})
        col["dir"], col["rtx"], col["hol"] = dirs(ia).tolist(), rtx[ia].tolist(), hol[ia].tolist()
        j = 0
        for entry, steps, spec, ran_dir, last_ciphered in timelines:
            entry.update(_steps(col, j, steps, spec, ran_dir))
            j += len(steps)
            last = j - 1
            done = entry["steps"][-1]["step"] == spec[-1][0]
            # not seen to complete: unknown when what followed is ciphered NAS (the Accept/Complete may be in it)
            ciph = col["nas"][last] == nas.CODE_CIPHERED or last_ciphered > col["ts_ns"][last]
            entry["complete"] = True if done else (None if ciph else False)
        return out


def _steps(col: dict[str, list[Any]], j0: int, steps: list[tuple[int, int]], spec: Any,
           ran_dir: str | None) -> dict[str, Any]:
    """One UE's timeline rows (``col``: the columns of every step, this UE's from ``j0``)."""
    rows = []
    waited = {"core": 0, "ran": 0}
    t0 = prev = col["ts_ns"][j0]
    for j, (k, _i) in enumerate(steps, j0):
        ts = col["ts_ns"][j]
        d = (None, "A>B", "B>A")[col["dir"][j]]
        side = None if ran_dir is None or d is None else ("ran" if d == ran_dir else "core")
        step_ns = ts - prev
        if side is not None and rows:
            waited[side] += step_ns
        rtt, rwnd = col["rtt_ns"][j], col["a_rwnd"][j]
        rows.append({"step": spec[k][0], "at_ns": ts - t0, "step_ns": step_ns if rows else 0,
                     "sent_by": side, "message": _name(col["proto"][j], col["kind"][j], col["code"][j], col["err"][j]),
                     "nas": nas.code_name(col["nas"][j]), "frame": col["frame"][j], "stream": col["sid"][j],
                     "tsns": [col["tsn0"][j], col["tsn1"][j]], "retransmissions": col["rtx"][j],
                     "rtt_ns": rtt if rtt >= 0 else None, "a_rwnd": rwnd if rwnd >= 0 else None,
                     "hol_wait_ns": col["hol"][j]})
        prev = ts
    return {"steps": rows, "complete": None, "duration_ns": rows[-1]["at_ns"],
            "waited_for_core_ns": waited["core"], "waited_for_ran_ns": waited["ran"]}


def _name(proto: int, kind: int, code: int, err: int) -> str:
    p = PROTOS[proto]
    if p in AP:
        if code < 0:
            return f"{p.upper()} (undecodable)"
        proc = ap.procedures(p).get(code)
        if proc is None:
            return f"{p.upper()} procedure {code} {ap.TYPES[kind]}"
        return proc.messages[kind] or f"{proc.name} {ap.TYPES[kind]}"
    if p == "diameter":
        if err == E_NOTDIA:
            return "not Diameter"
        return f"{diameter.command_name(code)}-{'Request' if kind == 0 else 'Answer'}"
    if err == E_NOTM3UA:
        return "not M3UA"
    return " ".join(m3ua.names(code >> 8, code & 0xFF))


def _types(found: list[tuple[int, int, int]]) -> dict[str, Any]:
    """The Follower's counts by type (key, first index, count) as the report's sections: per protocol, per
    (protocol, message name) most frequent first with ties in order of first appearance, undecodable ones,
    other PPIDs, M3UA classes and types."""
    counts: Counter[tuple[str, str]] = Counter()
    by_proto: Counter[str] = Counter()
    undecoded: Counter[str] = Counter()
    m3ua_types: Counter[tuple[str, str]] = Counter()
    ppids: dict[int, int] = {}
    for k, _first, n in sorted(found, key=lambda x: x[1]):
        if k >> 63:
            ppids[k & 0xFFFFFFFF] = n
            continue
        p, kd, cd = k >> 48, (k >> 40) & 0xFF, k & 0xFFFFFFFF
        err = (E_NOTDIA if PROTOS[p] == "diameter" else E_NOTM3UA if PROTOS[p] == "m3ua" else 0) if kd == 3 else 0
        counts[(PROTOS[p], _name(p, 0 if kd == 3 else kd, -1 if kd == 3 else cd, err))] += n
        by_proto[PROTOS[p]] += n
        if kd == 3:
            undecoded[PROTOS[p]] += n
        elif p == M3UA:
            m3ua_types[m3ua.names(cd >> 8, cd & 0xFF)] += n
    return {"messages": dict(by_proto), "undecoded": dict(undecoded),
            "message_types": [{"protocol": p, "message": n, "count": k}
                              for (p, n), k in sorted(counts.items(), key=lambda x: (x[0][0], -x[1]))],
            "other_ppids": {str(k): v for k, v in sorted(ppids.items())},
            "m3ua": [{"class": cl, "type": t, "count": n} for (cl, t), n in sorted(m3ua_types.items())]}


class _Store:
    """Columns that grow block by block, written in place: no copy of everything at the end.  They live in one
    anonymous mapping with room for a million records to begin with: address space, not memory, until written.
    Its own mapping, not numpy's allocator: numpy asks for huge pages for large arrays, and their first writes
    here took 25 ms or 115 ms at random for the same 1M-message run where 4 KB pages took 43 ms every time.
    Beyond its room the arena doubles."""

    def __init__(self, dtype: np.dtype, room: int = 1 << 20) -> None:
        self.dtype, self.n = dtype, 0
        self._arena(room)

    def _arena(self, room: int) -> None:
        fields = self.dtype.names
        arena = np.frombuffer(mmap.mmap(-1, room * self.dtype.itemsize + 64 * len(fields)), np.uint8)
        old, self.a, off = getattr(self, "a", None), {}, 0
        for f in fields:
            t = self.dtype[f]
            off = (off + 63) & ~63
            self.a[f] = arena[off:off + room * t.itemsize].view(t)
            if old is not None:
                self.a[f][:self.n] = old[f][:self.n]
            off += room * t.itemsize
        self.room = room

    def reserve(self, k: int) -> tuple[np.ndarray, ...]:
        """Room for ``k`` more records: the columns from the next record on, in field order (for C to write; the
        writer then adds ``k`` to ``n``)."""
        if self.n + k > self.room:
            room = self.room
            while self.n + k > room:
                room *= 2
            self._arena(room)
        return tuple(v[self.n:self.n + k] for v in self.a.values())

    def append(self, arr: Any) -> None:
        """A structured array or a dict of columns with (at least) this store's fields."""
        k = len(arr[self.dtype.names[0]])
        self.reserve(k)
        for f, v in self.a.items():
            v[self.n:self.n + k] = arr[f]
        self.n += k

    def view(self) -> dict[str, np.ndarray]:
        return {f: v[:self.n] for f, v in self.a.items()}


class _Directions:
    """Records' directions, from their association's final tags (a DATA chunk carries its receiver's tag): called
    with record indices, gives 1 "A>B", 2 "B>A" or 0 (unknown) for each; only where they are asked for."""

    def __init__(self, c: Cols, assocs: dict[int, Any]) -> None:
        self.assoc, self.vtag = c["assoc"], c["vtag"]
        top = max(int(self.assoc.max()) if len(self.assoc) else 0, max(assocs, default=0)) + 1
        self.tag_a, self.tag_b = np.full(top, -1, np.int64), np.full(top, -1, np.int64)
        for aid, a in assocs.items():
            tags = a.get("vtags") or [None, None]
            self.tag_a[aid] = -1 if tags[0] is None else tags[0]
            self.tag_b[aid] = -1 if tags[1] is None else tags[1]

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        a, v = self.assoc[idx], self.vtag[idx].astype(np.int64)
        return np.where(v == self.tag_b[a], 1, np.where(v == self.tag_a[a], 2, 0)).astype(np.uint8)


def _ran_dirs(c: Cols, dirs: _Directions, assocs: dict[int, Any], protos: dict[int, str]) -> dict[int, str | None]:
    """Association (of ``protos``: association -> NGAP or S1AP) -> the direction in which the RAN sends: the first
    InitialUEMessage / NG or S1 Setup Request's, else by which end is on the core's port."""
    out = {aid: _ran_side(assocs.get(aid), None, p) for aid, p in protos.items()}
    lut = np.zeros((len(PROTOS), 256), bool)
    for p, codes in RAN_FIRST.items():
        lut[PROTOS.index(p), list(codes)] = True
    first = np.flatnonzero(lut[c["proto"], c["code"] & 0xFF] & (c["kind"] == 0) & (c["code"] >= 0))
    aids, at = np.unique(c["assoc"][first], return_index=True)
    for aid, d in zip(aids.tolist(), dirs(first[at]).tolist()):
        if aid in out:
            out[aid] = None if assocs.get(aid) is None else (None, "A>B", "B>A")[d]
    return out


def _hol(c: Cols, named: np.ndarray, late: np.ndarray, last_rtx: np.ndarray) -> np.ndarray:
    """Per record, the head-of-line wait (ns): an earlier message of the same ordered stream and direction was
    retransmitted after this one reached the capture point, and the receiver delivers in order."""
    out = np.zeros(len(named), np.int64)
    late = late & named
    if not late.any():
        return out
    skey = (c["assoc"].astype(np.uint64) << np.uint64(48)) ^ (c["vtag"].astype(np.uint64) << np.uint64(16)) \
        ^ c["sid"].astype(np.uint64)
    idx = np.flatnonzero(named & np.isin(skey, np.unique(skey[late])))
    streams: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for i in idx.tolist():
        streams[(int(c["assoc"][i]), int(c["vtag"][i]), int(c["sid"][i]))].append(i)
    for ms in streams.values():
        lt = [(int(c["tsn0"][i]), int(last_rtx[i])) for i in ms if late[i]]
        if not lt:
            continue
        for i in ms:
            if c["flags"][i] & F_UNORDERED:
                continue
            t, ts0 = int(c["tsn0"][i]), int(c["ts_ns"][i])
            w = max((ts - ts0 for tsn, ts in lt if 0 < ((t - tsn) & 0xFFFFFFFF) < (1 << 31) and ts > ts0), default=0)
            out[i] = w
    return out


def step_tables() -> tuple[np.ndarray, np.ndarray]:
    """The timeline steps a message can be, for ``_fast`` to mark (its ``steps`` bits): [NGAP, S1AP] x NAS code
    and x kind << 8 | procedure code -> bit k set for step k of the registration (NGAP) or attach (S1AP)."""
    nas_t = np.zeros((2, 1 << 16), np.int16)
    ap_t = np.zeros((2, 3 << 8), np.int16)
    for row, (pname, spec) in enumerate((("ngap", REGISTRATION_5G), ("s1ap", ATTACH_LTE))):
        pi = PROTOS.index(pname)
        for k, (_label, (where, what)) in enumerate(spec):
            if where == "nas":
                for code in _nas_codes(what):
                    nas_t[row, code] |= 1 << k
            else:
                for kind in range(3):
                    for code in range(256):
                        if _name(pi, kind, code, 0) == what:
                            ap_t[row, kind << 8 | code] |= 1 << k
    return nas_t, ap_t


@functools.lru_cache(maxsize=None)
def _nas_codes(name: str) -> tuple[int, ...]:
    """The NAS codes (_fast) whose name is ``name``."""
    return tuple(t << 8 | k for t in range(1, 5) for k in range(256) if nas.code_name(t << 8 | k) == name)


def _timelines(bits: np.ndarray, lo: np.ndarray, hi: np.ndarray,
               spec: tuple[tuple[str, tuple[str, str]], ...]) -> np.ndarray:
    """Every UE's timeline at once: ``bits`` the candidates' step bits, grouped by UE (UE u's in ``lo[u]:hi[u]``,
    in order); returns [UE, step] -> the position of the step's message among the candidates, or -1.  Each step
    is the first candidate with its bit after the previous step found (an AP step may also carry the next
    step's NAS: the search goes on from it, a NAS step's from the one after); a step not in the capture is
    skipped; a UE whose first step is not in the capture has no timeline.  (Registration and attach share the
    shape: ``spec`` gives where each step is read.)"""
    out = np.full((len(lo), len(spec)), -1, np.int64)
    at = lo.astype(np.int64).copy()
    started = np.zeros(len(lo), bool)
    for k, (_label, (where, _what)) in enumerate(spec):
        pos = np.flatnonzero(bits & (1 << k))
        j = np.searchsorted(pos, at)
        nxt = pos[np.minimum(j, len(pos) - 1)] if len(pos) else np.zeros(len(lo), np.int64)
        ok = (j < len(pos)) & (nxt < hi) & (started | (k == 0))
        out[ok, k] = nxt[ok]
        at[ok] = nxt[ok] + (0 if where == "ap" else 1)
        started |= ok
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
