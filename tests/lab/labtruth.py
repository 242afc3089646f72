"""Ground truth from lab captures, read with tshark (independent of sctpcorr's own engine).

Every SCTP chunk of every frame, with the fields the lab tests need.  Bundled chunks: tshark lists the values
of a repeated field in chunk order, so per frame the DATA fields line up with each other (one entry per DATA
chunk), and ``sctp.chunk_type`` lists every chunk.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ["frame.number", "frame.time_epoch", "ip.src", "ip.dst", "sctp.srcport", "sctp.dstport",
          "sctp.verification_tag", "sctp.chunk_type", "sctp.data_tsn_raw", "sctp.data_e_bit", "sctp.data_b_bit",
          "sctp.data_sid", "sctp.data_payload_proto_id", "sctp.sack_a_rwnd", "sctp.sack_cumulative_tsn_ack_raw",
          "sctp.parameter_heartbeat_information", "sctp.checksum.status"]


@dataclass
class Frame:
    no: int
    ts: float
    src: str
    dst: str
    sport: int
    dport: int
    vtag: int
    chunks: list[int]
    data: list[dict] = field(default_factory=list)   # one per DATA chunk: tsn, e, b, sid, ppid
    a_rwnd: list[int] = field(default_factory=list)
    cum_ack: list[int] = field(default_factory=list)
    hb_info: list[str] = field(default_factory=list)
    checksum_ok: bool | None = None


def have_tshark() -> bool:
    return shutil.which("tshark") is not None


def _int(v: str) -> int:
    """tshark prints some numbers in hex (0x0000), others in decimal."""
    return int(v, 0) if v.startswith("0x") else int(v)


def _split(v: str) -> list[str]:
    return [x for x in v.split(";") if x != ""] if v else []


def frames(pcap: str | Path) -> list[Frame]:
    """Every SCTP frame of the capture (checksums verified as CRC32c)."""
    cmd = ["tshark", "-r", str(pcap), "-n", "--disable-protocol", "ngap", "-o", "sctp.checksum:CRC-32C",
           "-Y", "sctp", "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = []
    for line in out.splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        fr = Frame(no=int(v[0]), ts=float(v[1]), src=_split(v[2])[0], dst=_split(v[3])[0], sport=_int(v[4]),
                   dport=_int(v[5]), vtag=_int(v[6]), chunks=[_int(x) for x in _split(v[7])])
        tsn, e, b, sid, ppid = (_split(v[i]) for i in range(8, 13))
        for i in range(len(tsn)):
            fr.data.append({"tsn": _int(tsn[i]), "e": e[i] in ("1", "True"), "b": b[i] in ("1", "True"),
                            "sid": _int(sid[i]), "ppid": _int(ppid[i])})
        fr.a_rwnd = [_int(x) for x in _split(v[13])]
        fr.cum_ack = [_int(x) for x in _split(v[14])]
        fr.hb_info = _split(v[15])
        cs = _split(v[16])
        fr.checksum_ok = (cs[0] == "1") if cs else None
        res.append(fr)
    return res


def data_chunks(frs: list[Frame], src_prefix: str | None = None) -> list[tuple[Frame, dict]]:
    """(frame, chunk) for every DATA chunk, optionally only from sources starting with ``src_prefix``."""
    return [(f, d) for f in frs if src_prefix is None or f.src.startswith(src_prefix) for d in f.data]


def messages_on_wire(frs: list[Frame], src_prefix: str) -> int:
    """User messages a side sent, counted on the wire: distinct (association, TSN) of DATA chunks with the E
    (ending fragment) bit, so fragments and retransmissions are not counted twice."""
    return len({(f.sport, f.dport, d["tsn"]) for f, d in data_chunks(frs, src_prefix) if d["e"]})


def heartbeat_rtts(frs: list[Frame], src_prefix: str) -> dict[str, list[float]]:
    """RTT in ms of HEARTBEATs sent by ``src_prefix`` addresses, per destination, matched to the
    HEARTBEAT-ACK echoing the same information bytes (RFC 9260 §8.3)."""
    sent: dict[str, tuple[float, str]] = {}
    rtts: dict[str, list[float]] = {}
    for f in frs:
        if 4 in f.chunks and f.src.startswith(src_prefix):
            for info in f.hb_info:
                sent.setdefault(info, (f.ts, f.dst))
        elif 5 in f.chunks and not f.src.startswith(src_prefix):
            for info in f.hb_info:
                if info in sent:
                    t0, dst = sent.pop(info)
                    rtts.setdefault(dst, []).append((f.ts - t0) * 1000)
    return rtts


def unanswered_heartbeats(frs: list[Frame], src_prefix: str, dst: str, after: float) -> tuple[int, int]:
    """(sent, answered) HEARTBEATs from ``src_prefix`` to ``dst`` sent after time ``after``."""
    sent, answered = {}, set()
    for f in frs:
        if 4 in f.chunks and f.src.startswith(src_prefix) and f.dst == dst and f.ts > after:
            for info in f.hb_info:
                sent[info] = f.ts
        elif 5 in f.chunks and f.dst.startswith(src_prefix):
            answered.update(i for i in f.hb_info if i in sent)
    return len(sent), len(answered)


def data_rtts(frs: list[Frame], src_prefix: str) -> dict[str, list[float]]:
    """RTT in ms of DATA sent by ``src_prefix`` addresses, per destination: from the DATA to the first SACK
    whose cumulative TSN ack covers it, for TSNs sent once only (Karn, RFC 9260 §6.3.1 C5)."""
    out: dict[str, list[float]] = {}
    pending: dict[tuple[int, int], tuple[float, str]] = {}   # (sender port, tsn) -> (first sent, dst)
    sends: dict[tuple[int, int], int] = {}
    for f in sorted(frs, key=lambda f: f.ts):
        if f.src.startswith(src_prefix):
            for d in f.data:
                k = (f.sport, d["tsn"])
                sends[k] = sends.get(k, 0) + 1
                pending.setdefault(k, (f.ts, f.dst))
        elif 3 in f.chunks and f.dst.startswith(src_prefix):
            for cum in f.cum_ack:
                for k in [k for k in pending if k[0] == f.dport and (cum - k[1]) % 2**32 < 2**31]:
                    t0, dst = pending.pop(k)
                    if sends[k] == 1:
                        out.setdefault(dst, []).append((f.ts - t0) * 1000)
    return out


def in_time_order(frs: list[Frame]) -> bool:
    return all(a.ts <= b.ts for a, b in zip(frs, frs[1:]))
