"""Our Analyzer against tshark, run in the test, on every capture of ../shared/pcaps (and of pcaps/).

For each capture tshark lists every frame it dissects as SCTP (ports, vtag, chunk types, checksum status...). We
compare, exactly:

* the per-chunk-type counts (``capture.chunks`` + ``capture.unknown_chunk_types``) and the SCTP packet count;
* the frames with a wrong checksum (tshark's "Automatic" checksum: neither CRC32c nor Adler-32 matches);
* the duplicate-frame count against an independent implementation of the documented rule;
* per association (tshark rows mapped to our associations by (src port, dst port, vtag)): packets, chunks per type,
  and per direction DATA (+I-DATA), SACK, NR-SACK and HEARTBEAT counts.

The only differences allowed are named in ``Explained`` and computed here, never per-file numbers:

* ICMP-QUOTED: tshark dissects the SCTP header quoted inside an ICMP error as an SCTP frame; we count it in
  ``capture.icmp_quoted_sctp`` and nowhere else.
* DUPLICATE: a frame repeating an SCTP datagram (same src, dst, IP id and SCTP bytes) seen <= 5 ms earlier
  (``tcpdump -i any``). tshark counts it like any frame; ``capture.chunks`` includes it too, but association
  counts exclude it and each direction's ``duplicate_chunks`` holds it, so tshark = association + duplicates.
* MALFORMED: a frame whose SCTP chunk walk tshark aborts (chunk length past the data, or a dissector exception in
  SCTP). Where exactly the walk stops is not comparable between two parsers, so these frames are fed one by one to
  a fresh Analyzer: it must flag each as malformed or truncated and must not report a chunk tshark did not see (at
  most the one broken chunk fewer); they are then taken out of both sides of the totals, and associations they
  touch are left out of the per-association comparison.
"""
from __future__ import annotations

import shutil
import subprocess
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import craft
from corpora import CORPUS, corpus_files, file_id, own_files

TSHARK = shutil.which("tshark")
pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark not installed")

DUP_WINDOW_NS = 5_000_000  # Analyzer's default dup_window_ns
DATA, SACK, HEARTBEAT, NR_SACK, I_DATA = 0, 3, 4, 16, 64
NAME_TO_TYPE = {name: t for t, name in craft.CHUNK_NAMES.items()}

FIELDS = ["frame.number", "frame.protocols", "sctp.srcport", "sctp.dstport", "sctp.verification_tag",
          "sctp.chunk_type", "sctp.init_initiate_tag", "sctp.abort_t_bit", "sctp.shutdown_complete_t_bit",
          "sctp.checksum.status", "_ws.malformed", "_ws.expert.message"]


@dataclass
class Row:
    """One frame tshark dissected as SCTP."""
    frame: int
    quoted: bool          # the SCTP header is quoted inside ICMP/ICMPv6
    sport: int
    dport: int
    vtag: int
    types: list[int]      # chunk types, in order
    init_tag: int | None
    t_bit: bool           # an ABORT or SHUTDOWN-COMPLETE with the T bit: vtag is the sender's own tag
    bad_checksum: bool
    malformed: bool       # tshark aborted the SCTP chunk walk
    duplicate: bool = False


def tshark_rows(path: Path) -> list[Row]:
    cmd = [TSHARK, "-n", "-r", str(path), "-o", "sctp.tsn_analysis:FALSE", "-o", "sctp.ulp_dissection:FALSE",
           "-o", "sctp.checksum:Automatic", "-Y", "sctp", "-T", "fields", "-E", "separator=/t",
           "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        num, protos, sport, dport, vtag, types, itag, abort_t, sc_t, csum, malf, expert = line.split("\t", 11)
        layers = protos.split(":")
        quoted = any(p in ("icmp", "icmpv6") for p in layers[:layers.index("sctp")])
        bits = (abort_t + "," + sc_t).split(",")
        rows.append(Row(
            frame=int(num), quoted=quoted, sport=int(sport.split(",")[0]), dport=int(dport.split(",")[0]),
            vtag=int(vtag.split(",")[0], 16), types=[int(t) for t in types.split(",") if t],
            init_tag=int(itag.split(",")[0], 16) if itag else None, t_bit="1" in bits,
            bad_checksum=bool(csum) and "1" not in csum.split(","),
            malformed="Malformed Packet: SCTP" in malf or any(m.startswith("Chunk length") for m in
                                                              expert.split(","))))
    return rows


def mark_duplicates(frames: list[craft.Frame], rows: list[Row]) -> int:
    """Independent implementation of engine.md's duplicate rule; marks rows, returns the count."""
    by_frame = {r.frame: r for r in rows}
    last_seen: dict[tuple, int] = {}
    n = 0
    for no, f in enumerate(frames, 1):
        d = craft.ip_datagram(f.linktype, f.data)
        if d is None or d[3] != 132 or d[5]:
            continue
        key = (d[0], d[1], d[2], bytes(d[4]))
        prev = last_seen.get(key)
        if prev is not None and 0 <= f.ts_ns - prev <= DUP_WINDOW_NS and no in by_frame:
            by_frame[no].duplicate = True
            n += 1
        last_seen[key] = f.ts_ns
    return n


UNKNOWN = -1  # association chunk counts lump unknown types together under "UNKNOWN"


def type_counts(report_chunks: dict, unknown: dict | None = None) -> Counter:
    """Report chunk counts keyed by chunk type number (UNKNOWN for the lumped unknown types)."""
    c: Counter = Counter()
    for name, n in report_chunks.items():
        key = craft.norm_chunk_name(name)
        assert key in NAME_TO_TYPE or key == "UNKNOWN", f"chunk name {name!r} not an RFC chunk name"
        c[NAME_TO_TYPE.get(key, UNKNOWN)] += n
    for t, n in (unknown or {}).items():
        c[int(t)] += n
    return c


def lump(t: int) -> int:
    return t if t in craft.CHUNK_NAMES else UNKNOWN


def engine_report(Analyzer, data: bytes) -> dict:
    a = Analyzer()
    a.feed_capture(data)
    a.finish_capture()
    return a.report()


@dataclass
class Explained:
    quoted: list[Row] = field(default_factory=list)
    duplicates: int = 0
    malformed: list[Row] = field(default_factory=list)


def check_malformed_frames(Analyzer, frames: list[craft.Frame], rows: list[Row]) -> tuple[Counter, Counter, int]:
    """MALFORMED frames, each alone through a fresh Analyzer. Returns (tshark chunks, our chunks, our sctp_packets)."""
    ts_total, ours_total, ours_pkts = Counter(), Counter(), 0
    for r in rows:
        f = frames[r.frame - 1]
        a = Analyzer()
        a.feed_packet(f.ts_ns, f.linktype, f.data)
        cap = a.report()["capture"]
        ours = type_counts(cap["chunks"], cap["unknown_chunk_types"])
        theirs = Counter(r.types)
        assert cap["malformed"] + cap["truncated_packets"] >= 1, \
            f"frame {r.frame}: tshark aborts its SCTP chunk walk, we report nothing malformed or truncated"
        assert not (ours - theirs), f"frame {r.frame}: chunks tshark did not see: {dict(ours - theirs)}"
        assert sum((theirs - ours).values()) <= 1, \
            f"frame {r.frame}: tshark {r.types}, we {dict(ours)}: more than the broken chunk missing"
        ts_total += theirs
        ours_total += ours
        ours_pkts += cap["sctp_packets"]
    return ts_total, ours_total, ours_pkts


def assoc_keys(report: dict):
    """(sport, dport, tag) -> (assoc id, direction) for the receiver's tag, the sender's tag (T bit) and INIT."""
    by_recv, by_send, by_init = defaultdict(set), defaultdict(set), defaultdict(set)
    for a in report["associations"]:
        (pa, pb), (ta, tb) = a["ports"], a["vtags"]
        for d, sp, dp, mine, peer in (("A>B", pa, pb, ta, tb), ("B>A", pb, pa, tb, ta)):
            if peer is not None:
                by_recv[(sp, dp, peer)].add((a["id"], d))
            if mine is not None:
                by_send[(sp, dp, mine)].add((a["id"], d))
                by_init[(sp, dp, mine)].add((a["id"], d))
    return by_recv, by_send, by_init


def map_row(row: Row, keys) -> tuple[int, str] | None:
    by_recv, by_send, by_init = keys
    key = (row.sport, row.dport, row.vtag)
    if row.types[:1] == [1] and row.init_tag is not None:  # INIT: by its Initiate Tag (vtag is 0, or fuzzed)
        hits = by_init.get((row.sport, row.dport, row.init_tag), set())
    elif row.t_bit:  # the sender's own tag; a T-bit chunk bundled behind others may not be read that way
        hits = by_send.get(key) or by_recv.get(key, set())
    else:
        hits = by_recv.get(key, set())
    assert len(hits) <= 1, f"frame {row.frame} matches several associations: {sorted(hits)}"
    return next(iter(hits)) if hits else None


PARAMS = corpus_files() + own_files()


def test_corpus_present(corpus):
    assert corpus_files(), f"no captures under {CORPUS}"


@pytest.mark.parametrize("path", PARAMS, ids=[file_id(p) for p in PARAMS])
def test_tshark_parity(path: Path, Analyzer):
    data = craft.read_capture(path)
    frames = craft.read_frames(data)
    rows = tshark_rows(path)
    report = engine_report(Analyzer, data)
    cap = report["capture"]
    ex = Explained()

    # ICMP-QUOTED
    ex.quoted = [r for r in rows if r.quoted]
    rows = [r for r in rows if not r.quoted]
    assert cap["icmp_quoted_sctp"] == len(ex.quoted)

    # packets
    assert cap["packets"] == len(frames)
    assert cap["sctp_packets"] == len(rows), "frames carrying SCTP (tshark, ICMP-quoted ones left out)"

    # checksums (tshark verifies only what it can; we count only verified-and-wrong)
    assert cap["bad_checksum"] == sum(r.bad_checksum for r in rows)

    # DUPLICATE
    ex.duplicates = mark_duplicates(frames, rows)
    assert cap["duplicates"] == ex.duplicates

    # MALFORMED, then per-chunk-type totals
    ex.malformed = [r for r in rows if r.malformed]
    ts_malf, ours_malf, _ = check_malformed_frames(Analyzer, frames, ex.malformed)
    theirs = Counter(t for r in rows for t in r.types) - ts_malf
    ours = type_counts(cap["chunks"], cap["unknown_chunk_types"])
    ours.subtract(ours_malf)
    assert +ours == +theirs, _diff("chunks per type", ours, theirs)

    # associations
    keys = assoc_keys(report)
    by_id = {a["id"]: a for a in report["associations"]}
    mapped: dict[tuple[int, str], list[Row]] = defaultdict(list)
    for r in rows:
        hit = map_row(r, keys)
        assert hit is not None or r.malformed, \
            f"frame {r.frame} ({r.sport}->{r.dport} vtag {r.vtag:#x} chunks {r.types}) is in no association"
        if hit:
            mapped[hit].append(r)
    touched_by_malformed = {aid for (aid, _), rs in mapped.items() if any(r.malformed for r in rs)}
    for aid, a in by_id.items():
        if aid in touched_by_malformed:
            continue
        both = mapped[(aid, "A>B")] + mapped[(aid, "B>A")]
        assert a["packets"] == sum(not r.duplicate for r in both), f"assoc {aid} packets"
        assert a["duplicate_packets"] == sum(r.duplicate for r in both), f"assoc {aid} duplicate packets"
        theirs = Counter(lump(t) for r in both if not r.duplicate for t in r.types)
        assert +type_counts(a["chunks"]) == +theirs, _diff(f"assoc {aid} chunks", type_counts(a["chunks"]), theirs)
        for d in ("A>B", "B>A"):
            rs = mapped[(aid, d)]
            dr = a["directions"][d]
            new = Counter(lump(t) for r in rs if not r.duplicate for t in r.types)
            dup = Counter(lump(t) for r in rs if r.duplicate for t in r.types)
            where = f"assoc {aid} {d}"
            assert dr["packets"] == sum(not r.duplicate for r in rs), f"{where} packets"
            assert dr["data_chunks"] == new[DATA] + new[I_DATA], f"{where} DATA chunks"
            assert dr["sacks"] == new[SACK], f"{where} SACK chunks"
            assert dr["nr_sacks"] == new[NR_SACK], f"{where} NR-SACK chunks"
            hb_sent = sum(p["heartbeats"]["sent"] for p in a["paths"] if p["direction"] == d)
            assert hb_sent == new[HEARTBEAT], f"{where} HEARTBEAT chunks"
            assert +type_counts(dr["duplicate_chunks"]) == +dup, f"{where} duplicate_chunks"


def _diff(what: str, ours: Counter, theirs: Counter) -> str:
    keys = sorted(set(ours) | set(theirs))
    rows = [f"{craft.CHUNK_NAMES.get(k, k)}: ours {ours[k]} tshark {theirs[k]}" for k in keys if ours[k] != theirs[k]]
    return f"{what} differ: " + "; ".join(rows)
