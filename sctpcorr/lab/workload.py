"""The lab's SCTP workload: a server and a client that log every message with its time (JSONL).

Run inside the endpoint network namespaces by the guest script::

    python -m sctpcorr.lab.workload server --config RUN.json --log server.jsonl
    python -m sctpcorr.lab.workload client --config RUN.json --log client.jsonl

RUN.json is the validated scenario plus ``topology`` (addresses).  Standard library only (the guest may run
the distribution's Python).  Every record is one JSON object per line, flushed as it is written, with
``mono_ns`` (CLOCK_MONOTONIC) and ``real_ns`` (CLOCK_REALTIME) so it lines up with the captures and with
kernel probes.  Record types:

``startup``   role, pid, config
``assoc``     event (COMM_UP, SHUTDOWN_COMP, COMM_LOST...), assoc (index), assoc_id, streams
``paddr``     a peer address changed state (ADDR_UNREACHABLE, ADDR_AVAILABLE, ADDR_POTENTIALLY_FAILED...)
``send``      assoc, seq, sid, ppid, len, unordered  -- one per sendmsg() that returned
``recv``      assoc, seq, sid, ssn, ppid, tsn, cumtsn, len, unordered  -- one per complete message
``status``    assoc, SCTP_STATUS and SCTP_GET_PEER_ADDR_INFO of each peer address (cwnd, srtt, rto, state)
``ngap``      event (send / recv), ue (0: NG Setup), step (lab/ngapflow.py), sid  -- scenario ``[ngap]``
``error``     what failed
``end``       totals: sent / received / echoed, and whether everything was acknowledged

The payload of each message starts with a 16-byte header ``!IIQ``: association index, sequence number, send
time (CLOCK_MONOTONIC ns); the rest is filler.  So a received message names its sender's log record.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import select
import socket
import struct
import sys
import threading
import time
from typing import Any

from sctpcorr.lab import sctp_api as sa
from sctpcorr.outfile import LineLog, describe

HEADER = struct.Struct("!IIQ")
STATUS_EVERY_NS = 500_000_000


class Log:
    """A JSONL log flushed at least every FLUSH_NS, so an interrupted run keeps all but the last instant.

    (Each write to the guest's 9p share is synchronous and costs milliseconds under TCG: a flush per record
    would slow the workload down to a few tens of messages per second.)  A full disk ends the log at its last
    whole record (outfile.LineLog), says so once on stderr (the guest's console), and the workload goes on:
    its messages still cross the network the captures and the probe record."""

    FLUSH_NS = 100_000_000

    def __init__(self, path: str):
        self.out = LineLog(path)
        self.comm_up = threading.Event()   # set at the first COMM_UP (the guest's timeline starts there)
        self.last_flush = 0
        self.lock = threading.Lock()

    def __call__(self, rtype: str, **fields: Any) -> None:
        now = time.monotonic_ns()
        rec = {"type": rtype, "mono_ns": now, "real_ns": time.time_ns(), **fields}
        with self.lock:
            self.out.add(json.dumps(rec, separators=(",", ":")))
            if now - self.last_flush >= self.FLUSH_NS or rtype != "send" and rtype != "recv":
                self._flush()
                self.last_flush = now
        if rtype == "assoc" and fields.get("event") == "COMM_UP":
            self.comm_up.set()

    def _flush(self) -> None:
        had = self.out.failed
        err = self.out.flush()
        if err is not None and had is None:
            print(f"workload: {describe(self.out.path, err)}: the log ends at its last whole record",
                  file=sys.stderr, flush=True)

    def flush(self) -> None:
        with self.lock:
            self._flush()

    def close(self) -> None:
        with self.lock:
            self._flush()
            self.out.close()
            if self.out.dropped:
                print(f"workload: {self.out.path}: {self.out.dropped} records not written", file=sys.stderr,
                      flush=True)


def _configure(sock: socket.socket, asoc: dict) -> None:
    """The per-association parameters a scenario sets, as socket defaults (inherited by associations)."""
    sa.set_initmsg(sock, asoc["streams"], asoc["streams"])
    sa.set_rtoinfo(sock, asoc["rto_initial_ms"], asoc["rto_max_ms"], asoc["rto_min_ms"])
    sa.set_assoc_max_retrans(sock, asoc["assoc_max_retrans"])
    sa.set_peer_addr_params(sock, hb_interval_ms=asoc["hb_interval_ms"], path_max_retrans=asoc["path_max_retrans"])
    sa.set_delayed_sack(sock, asoc["sack_delay_ms"], asoc["sack_freq"])
    sa.set_nodelay(sock, asoc["nodelay"])
    sa.subscribe_events(sock)
    sa.enable_rcvinfo(sock)


def _bind(sock: socket.socket, addrs: list[str], port: int) -> int:
    """bind() the first address, sctp_bindx() the others on the same port; returns the port."""
    sock.bind((addrs[0], port))
    port = sock.getsockname()[1]
    if len(addrs) > 1:
        sa.bindx_add(sock, addrs[1:], port)
    return port


def _status(log: Log, sock: socket.socket, idx: int, assoc_id: int, peers: list[str], port: int) -> None:
    try:
        st = sa.get_status(sock, assoc_id)
        st["paths"] = [sa.get_peer_addr_info(sock, p, port, assoc_id) for p in peers]
        log("status", assoc=idx, assoc_id=assoc_id, **st)
    except OSError as e:
        log("error", where="status", assoc=idx, error=str(e))


class _Receiver:
    """Reassembles partial deliveries (no MSG_EOR) and logs notifications and complete messages."""

    def __init__(self, log: Log, role: str):
        self.log, self.role = log, role
        self.partial: dict[int, bytearray] = {}
        self.received = 0

    def read(self, sock: socket.socket, idx: int | None = None) -> list[tuple[str, Any]]:
        """One recvmsg(); returns [("eof", None)] / [("notification", dict)] / [("message", (info, data))] / []."""
        data, anc, flags, _addr = sock.recvmsg(1 << 17, sa.rcvinfo_space())
        if not data and not flags & sa.MSG_NOTIFICATION:
            return [("eof", None)]
        if flags & sa.MSG_NOTIFICATION:
            n = sa.parse_notification(data)
            if n["kind"] == "assoc_change":
                self.log("assoc", event=n["state"], assoc=idx, assoc_id=n["assoc_id"],
                         outbound_streams=n["outbound_streams"], inbound_streams=n["inbound_streams"],
                         error=n["error"])
            elif n["kind"] == "peer_addr_change":
                self.log("paddr", assoc=idx, assoc_id=n["assoc_id"], addr=n["addr"], state=n["state"],
                         error=n["error"])
            else:
                self.log("notification", assoc=idx, **n)
            return [("notification", n)]
        info = sa.unpack_rcvinfo(anc)
        key = info.assoc_id if info else -1
        buf = self.partial.setdefault(key, bytearray())
        buf += data
        if not flags & socket.MSG_EOR:
            return []
        msg = bytes(self.partial.pop(key))
        a_idx, seq, sent_ns = HEADER.unpack_from(msg) if len(msg) >= HEADER.size else (-1, -1, 0)
        self.received += 1
        self.log("recv", assoc=a_idx if idx is None else idx, seq=seq, sent_mono_ns=sent_ns, len=len(msg),
                 sid=info.sid if info else None, ssn=info.ssn if info else None,
                 ppid=info.ppid if info else None, tsn=info.tsn if info else None,
                 cumtsn=info.cumtsn if info else None, assoc_id=key,
                 unordered=bool(info.flags & sa.SCTP_UNORDERED) if info else None)
        return [("message", (info, msg))]


class NgapPeer:
    """One side of the lab's NGAP registration flow (scenario ``[ngap]``; the messages were encoded on the host by
    lab/ngapflow.py and arrive here as hex).  A received message is recognised by its bytes; the next message(s)
    of the same flow that this side sends go out ``<role>_delay_ms`` later, so the delay is the ground truth of
    the answer time.  The gNB starts with NG Setup, then keeps ``concurrency`` UEs registering.  Every message
    sent and received is logged (``ngap`` records: ue, step, name)."""

    def __init__(self, role: str, cfg: dict, log: Log) -> None:
        import heapq

        self._heapq = heapq
        ng = cfg["ngap"]
        self.role, self.log = role, log
        self.delay_ns = int(ng[f"{role}_delay_ms"] * 1e6)
        self.streams = cfg["association"]["streams"]
        self.seqs = [[(w, bytes.fromhex(h)) for w, h in ng["setup"]]] + \
                    [[(w, bytes.fromhex(h)) for w, h in f] for f in ng["flows"]]     # seqs[0]: NG Setup
        self.index = {b: (u, k) for u, seq in enumerate(self.seqs) for k, (_w, b) in enumerate(seq)}
        self.due: list[tuple[int, int, int, int, Any, int]] = []   # (t_ns, n, flow, step, socket, assoc_id)
        self.n = 0
        self.concurrency, self.started, self.finished = ng["concurrency"], 0, 0
        self.ues = len(self.seqs) - 1

    def sid(self, flow: int) -> int:
        return 0 if flow == 0 else 1 + (flow - 1) % (self.streams - 1)

    def _schedule(self, flow: int, step: int, sock: Any, assoc_id: int, at_ns: int) -> None:
        seq = self.seqs[flow]
        while step < len(seq) and seq[step][0] == self.role:
            self.n += 1
            self._heapq.heappush(self.due, (at_ns, self.n, flow, step, sock, assoc_id))
            step += 1

    def start(self, sock: Any, assoc_id: int) -> None:
        """gNB: NG Setup now."""
        self._schedule(0, 0, sock, assoc_id, time.monotonic_ns())

    def received(self, msg: bytes, sock: Any, assoc_id: int) -> None:
        key = self.index.get(msg)
        if key is None:
            self.log("error", where="ngap", error=f"unknown message of {len(msg)} bytes")
            return
        flow, step = key
        self.log("ngap", event="recv", ue=flow, step=step, sid=self.sid(flow))
        self._schedule(flow, step + 1, sock, assoc_id, time.monotonic_ns() + self.delay_ns)
        if self.role == "gnb" and flow == 0 and step == 1:       # NG Setup done: UEs may start
            self._more(sock, assoc_id)

    def _more(self, sock: Any, assoc_id: int) -> None:
        while self.started < self.ues and self.started - self.finished < self.concurrency:
            self.started += 1
            self._schedule(self.started, 0, sock, assoc_id, time.monotonic_ns())

    def timeout(self, default: float) -> float:
        if not self.due:
            return default
        return max(0.0, min(default, (self.due[0][0] - time.monotonic_ns()) / 1e9))

    def send_due(self) -> None:
        now = time.monotonic_ns()
        while self.due and self.due[0][0] <= now:
            _t, _n, flow, step, sock, assoc_id = self._heapq.heappop(self.due)
            try:
                sock.sendmsg([self.seqs[flow][step][1]], [sa.pack_sndinfo(self.sid(flow), 60, assoc_id=assoc_id)])
            except OSError as e:
                self.log("error", where="ngap send", ue=flow, step=step, error=str(e))
                continue
            self.log("ngap", event="send", ue=flow, step=step, sid=self.sid(flow))
            if self.role == "gnb" and flow > 0 and step == len(self.seqs[flow]) - 1:
                self.finished += 1
                self._more(sock, assoc_id)

    @property
    def all_done(self) -> bool:
        return self.finished >= self.ues and not self.due


def run_server(cfg: dict, log: Log, ready: threading.Event | None = None) -> int:
    """Serve until every expected association ended (or duration_s + 30 s); 0 if all ended."""
    sv, cl, asoc, topo = cfg["server"], cfg["client"], cfg["association"], cfg["topology"]
    deadline = time.monotonic() + cfg["duration_s"] + 30.0
    lsock = sa.open_socket(sv["style"])
    if sv["rcvbuf"]:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, sv["rcvbuf"])
    _configure(lsock, asoc)
    port = _bind(lsock, topo["server_addrs"], sv["port"])
    lsock.listen(16)
    log("listening", addrs=topo["server_addrs"], port=port, style=sv["style"])
    if ready is not None:
        ready.set()
    rx = _Receiver(log, "server")
    expected = cl["associations"]
    ended = 0
    conns: dict[socket.socket, int] = {}  # one-to-one: accepted socket -> association index
    echoed = 0
    next_status = time.monotonic_ns() + STATUS_EVERY_NS
    up_ids: list[int] = []
    done_ids: set[int] = set()
    done_socks: set[socket.socket] = set()
    amf = NgapPeer("amf", cfg, log) if cfg.get("ngap", {}).get("ues") else None
    while ended < expected and time.monotonic() < deadline:
        socks = [lsock] + list(conns)
        ready, _, _ = select.select(socks, [], [], amf.timeout(0.2) if amf else 0.2)
        if amf is not None:
            amf.send_due()
        for s in ready:
            if s is lsock and sv["style"] == "one-to-one":
                c, _ = lsock.accept()
                conns[c] = len(conns)
                continue
            idx = conns.get(s)
            for kind, val in rx.read(s, idx):
                if kind == "eof":
                    log("assoc", event="EOF", assoc=idx)
                    conns.pop(s)
                    s.close()
                    ended += 1
                elif kind == "notification":
                    if val.get("kind") == "assoc_change":
                        if val["state"] == "COMM_UP":
                            up_ids.append(val["assoc_id"])
                        elif val["state"] in ("SHUTDOWN_COMP", "COMM_LOST", "CANT_STR_ASSOC"):
                            done_ids.add(val["assoc_id"])
                            if sv["style"] == "one-to-one":
                                done_socks.add(s)
                            else:
                                ended += 1
                elif kind == "message":
                    info, msg = val
                    if amf is not None:
                        amf.received(msg, s, info.assoc_id if info is not None else 0)
                    elif sv["echo"] and info is not None:
                        try:
                            s.sendmsg([msg], [sa.pack_sndinfo(info.sid, info.ppid, assoc_id=info.assoc_id)])
                            echoed += 1
                        except OSError as e:
                            log("error", where="echo", error=str(e))
                    if sv["stall_after"] and rx.received == sv["stall_after"] and sv["stall_s"]:
                        log("stall", seconds=sv["stall_s"])
                        time.sleep(sv["stall_s"])
                        log("stall_end")
                    if sv["read_delay_ms"]:
                        time.sleep(sv["read_delay_ms"] / 1000)
        if time.monotonic_ns() >= next_status:
            next_status = time.monotonic_ns() + STATUS_EVERY_NS
            if sv["style"] == "one-to-one":
                for s, i in conns.items():
                    if s not in done_socks:
                        _status(log, s, i, 0, [], 0)
            else:
                for i, aid in enumerate(up_ids):
                    if aid not in done_ids:
                        _status(log, lsock, i, aid, [], 0)
    log("end", role="server", received=rx.received, echoed=echoed, associations_ended=ended,
        timed_out=ended < expected)
    for s in conns:
        s.close()
    lsock.close()
    return 0 if ended >= expected else 3


def run_ngap_client(cfg: dict, log: Log) -> int:
    """The gNB of scenario ``[ngap]``: one association, NG Setup, then every UE's registration (NgapPeer); then
    wait until everything is acknowledged, linger, close.  0 if every UE completed and all was acknowledged."""
    cl, sv, asoc, topo = cfg["client"], cfg["server"], cfg["association"], cfg["topology"]
    t_start = time.monotonic()
    s = sa.open_socket("one-to-one")
    _configure(s, asoc)
    _bind(s, topo["client_addrs"], 0)
    s.connect((topo["server_addrs"][0], sv["port"]))
    rx = _Receiver(log, "client")
    gnb = NgapPeer("gnb", cfg, log)
    gnb.start(s, 0)
    deadline = t_start + cfg["duration_s"]
    next_status = time.monotonic_ns()
    while not gnb.all_done and time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], gnb.timeout(0.2))
        if r:
            for kind, val in rx.read(s, 0):
                if kind == "message":
                    gnb.received(val[1], s, 0)
                elif kind == "eof":
                    log("error", where="ngap", error="the AMF closed the association")
                    deadline = 0
        gnb.send_due()
        if time.monotonic_ns() >= next_status:
            next_status = time.monotonic_ns() + STATUS_EVERY_NS
            _status(log, s, 0, 0, topo["server_addrs"], sv["port"])
    all_acked = False
    wait_until = time.monotonic() + 20
    while time.monotonic() < wait_until:
        st = sa.get_status(s, 0)
        if st["unacked"] == 0 and st["pending"] == 0:
            all_acked = True
            break
        time.sleep(0.05)
    _status(log, s, 0, 0, topo["server_addrs"], sv["port"])
    linger_end = time.monotonic() + cl["linger_s"]
    while time.monotonic() < linger_end:
        r, _, _ = select.select([s], [], [], max(0.0, linger_end - time.monotonic()))
        if r:
            rx.read(s, 0)
    s.close()
    log("end", role="client", ngap_ues=gnb.ues, ngap_completed=gnb.finished, all_acked=all_acked,
        elapsed_ns=int((time.monotonic() - t_start) * 1e9))
    return 0 if all_acked and gnb.finished == gnb.ues else 4


def run_client(cfg: dict, log: Log) -> int:
    """Connect, send the scheduled messages, wait until all are acked (and echoed), linger, close; 0 if all
    messages were sent and acknowledged."""
    if cfg.get("ngap", {}).get("ues"):
        return run_ngap_client(cfg, log)
    cl, sv, asoc, topo = cfg["client"], cfg["server"], cfg["association"], cfg["topology"]
    rng = random.Random(cfg["seed"])
    t_start = time.monotonic()
    stop_sending = t_start + cfg["duration_s"]
    primary = (topo["server_addrs"][0], sv["port"])
    socks: list[socket.socket] = []
    assoc_ids: list[int] = []
    rx = _Receiver(log, "client")
    for i in range(cl["associations"]):
        s = sa.open_socket(cl["style"])
        if cl["sndbuf"]:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cl["sndbuf"])
        _configure(s, asoc)
        _bind(s, topo["client_addrs"], 0)
        s.connect(primary)
        socks.append(s)
        # the COMM_UP notification carries the association id (needed for one-to-many)
        aid = 0
        t_up = time.monotonic() + 20
        while time.monotonic() < t_up:
            r, _, _ = select.select([s], [], [], 0.5)
            if r:
                got = rx.read(s, i)
                if got and got[0][0] == "notification" and got[0][1].get("state") == "COMM_UP":
                    aid = got[0][1]["assoc_id"]
                    break
        assoc_ids.append(aid)
    peers = topo["server_addrs"]
    # the send schedule: message n of association i at t0 + n / rate
    schedule = []
    rate = cl["rate_per_s"]
    for i in range(cl["associations"]):
        for n in range(cl["messages"]):
            schedule.append(((n / rate) if rate else 0.0, n, i))
    schedule.sort()
    t0 = time.monotonic()
    sent = 0
    seqs = [0] * len(socks)
    next_status = time.monotonic_ns()
    status_every = int(cl.get("status_interval_ms", 500) * 1_000_000)
    flags = sa.SCTP_UNORDERED if cl["unordered"] else 0

    def poll(timeout: float) -> None:
        nonlocal next_status
        r, _, _ = select.select(socks, [], [], max(timeout, 0))
        while r:
            for s in r:
                rx.read(s, socks.index(s))
            r, _, _ = select.select(socks, [], [], 0)
        if time.monotonic_ns() >= next_status:
            next_status = time.monotonic_ns() + status_every
            for i, s in enumerate(socks):
                _status(log, s, i, assoc_ids[i], peers, sv["port"])

    for at, n, i in schedule:
        now = time.monotonic()
        if now >= stop_sending:
            log("error", where="send", error="duration_s reached before all messages were sent")
            break
        while now < t0 + at:
            poll(t0 + at - now)
            now = time.monotonic()
        size = rng.randint(cl["size"][0], cl["size"][1])
        sid = cl["streams"][seqs[i] % len(cl["streams"])]
        payload = HEADER.pack(i, seqs[i], time.monotonic_ns()).ljust(size, b"\xa5")
        try:
            socks[i].sendmsg([payload], [sa.pack_sndinfo(sid, cl["ppid"], flags, assoc_id=assoc_ids[i])])
        except OSError as e:
            log("error", where="send", assoc=i, seq=seqs[i], error=str(e))
            break
        log("send", assoc=i, seq=seqs[i], sid=sid, ppid=cl["ppid"], len=size, unordered=cl["unordered"])
        seqs[i] += 1
        sent += 1
        if not rate and time.monotonic_ns() >= next_status:
            poll(0)   # back-to-back sending: still read and log status on time
    # wait until the peer acknowledged everything (SCTP_STATUS unacked and pending both zero)
    all_acked = False
    expect_echo = sent if sv["echo"] else 0
    # bounded generously: under a loaded TCG host the last echoes were seen to need more than 5 s (279 of 300
    # arrived, then the close aborted the association); the wait ends as soon as all is acknowledged
    wait_until = max(time.monotonic() + 20, stop_sending + 20)
    while time.monotonic() < wait_until:
        poll(0.1)
        try:
            st = [sa.get_status(s, a) for s, a in zip(socks, assoc_ids)]
        except OSError as e:
            log("error", where="wait-acked", error=str(e))
            break
        if all(x["unacked"] == 0 and x["pending"] == 0 for x in st) and rx.received >= expect_echo:
            all_acked = True
            break
    for i, s in enumerate(socks):
        _status(log, s, i, assoc_ids[i], peers, sv["port"])
    linger_end = time.monotonic() + cl["linger_s"]
    while time.monotonic() < linger_end:
        poll(linger_end - time.monotonic())
    for s in socks:
        s.close()
    log("end", role="client", sent=sent, received=rx.received, all_acked=all_acked,
        elapsed_ns=int((time.monotonic() - t_start) * 1e9))
    return 0 if all_acked and sent == cl["messages"] * cl["associations"] else 4


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sctpcorr.lab.workload")
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--config", required=True, help="RUN.json: scenario + topology")
    ap.add_argument("--log", required=True, help="JSONL log to append to")
    a = ap.parse_args(argv)
    with open(a.config) as f:
        cfg = json.load(f)
    ready = threading.Event()
    threading.Thread(target=lambda: ready.wait() and print("READY", flush=True), daemon=True).start()
    return run_role(a.role, cfg, Log(a.log), ready)


def run_role(role: str, cfg: dict, log: Log, ready: threading.Event | None = None) -> int:
    """Run ``role`` ("server" or "client") with a startup record, errors logged, the log closed at the end."""
    log("startup", schema=1, role=role, pid=os.getpid(), config={k: cfg[k] for k in (
        "association", "server", "client", "topology")})
    try:
        return run_server(cfg, log, ready) if role == "server" else run_client(cfg, log)
    except Exception as e:  # noqa: BLE001 - logged, then re-raised for the guest's console
        log("error", where=role, error=f"{type(e).__name__}: {e}")
        raise
    finally:
        log.close()


if __name__ == "__main__":
    sys.exit(main())
