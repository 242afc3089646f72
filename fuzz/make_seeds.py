"""Seed corpora for the fuzz targets, made from the project's own captures and recordings (tests/fixtures,
pcaps/, tests/kernel/fixtures), small so that a fuzzer mutates packets rather than bulk.

    python fuzz/make_seeds.py OUT_DIR [TARGET...]

writes OUT_DIR/<target>/<name> for each target (all when none is named).  Nothing here is committed: the seeds
are rebuilt from the repository's files (docs/fuzz.md).  Standard library plus the built wire engine (the telecom
seeds are the engine's own drain_payloads() output)."""
from __future__ import annotations

import gzip
import hashlib
import io
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
PCAPS = ROOT / "pcaps"
KFIX = ROOT / "tests" / "kernel" / "fixtures"

# link types fuzz_frames.c knows, in its order
FRAME_LINKTYPES = [1, 113, 276, 101, 228, 229, 0, 108, 12, 14, 147]


def _open(p: Path) -> bytes:
    b = p.read_bytes()
    return gzip.decompress(b) if b[:2] == b"\x1f\x8b" else b


def captures() -> list[Path]:
    out = sorted(p for p in FIXTURES.iterdir() if p.suffix in (".pcap", ".pcapng"))
    out += sorted(PCAPS.rglob("*.pcap")) + sorted(PCAPS.rglob("*.pcapng.gz"))
    return out


def records(data: bytes) -> tuple[bytes, list[tuple[bytes, int, int]], bool]:
    """(file header, [(record bytes as in the file, linktype, ts_us)], pcapng?) of a capture; forgiving: stops at
    the first thing it does not understand (the fixtures include broken files on purpose)."""
    recs: list[tuple[bytes, int, int]] = []
    if len(data) < 24:
        return data, recs, False
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d",
                 b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34"):
        e = "<" if magic[0] in (0xD4, 0x4D, 0x34) else ">"
        lt = struct.unpack_from(e + "I", data, 20)[0] & 0xFFFF
        hdr_len = 24 + (8 if magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 0)
        off = 24
        while off + hdr_len - 8 <= len(data):
            sec, usec, cap, _ = struct.unpack_from(e + "IIII", data, off)
            end = off + hdr_len - 8 + cap
            if end > len(data) or cap > 262144:
                break
            recs.append((data[off:end], lt, sec * 1000000 + usec))
            off = end
        return data[:24], recs, False
    if magic != b"\x0a\x0d\x0d\x0a":
        return data[:24], recs, False
    e = "<" if data[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
    off, head, lts = 0, b"", []
    while off + 12 <= len(data):
        btype, blen = struct.unpack_from(e + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        block = data[off:off + blen]
        if btype == 0x0A0D0D0A and not recs:
            head += block
        elif btype == 1:
            lts.append(struct.unpack_from(e + "H", block, 8)[0])
            if not recs:
                head += block
        elif btype == 6 and blen >= 28:
            iface, hi, lo = struct.unpack_from(e + "III", block, 8)
            recs.append((block, lts[iface] if iface < len(lts) else 1, hi << 32 | lo))
        off += blen
    return head, recs, True


def frame_of(rec: bytes, pcapng: bool) -> bytes:
    if pcapng:
        cap = struct.unpack_from("<I", rec, 20)[0]
        if cap > len(rec) - 28:
            cap = struct.unpack_from(">I", rec, 20)[0]
        return rec[28:28 + cap]
    return rec[16:]


def seeds_pcap() -> dict[str, bytes]:
    out = {}
    for p in captures():
        data = _open(p)
        head, recs, _ = records(data)
        name = p.name.split(".")[0]
        if p.parent == FIXTURES:
            out[f"fixture-{name}"] = b"\x00" + data[:16384] + b"\x00"
            continue
        # the first packets (handshake), and a few windows further in (retransmissions, SACK gaps, shutdown)
        tag = f"{p.parent.name}-{name}"
        for i, start in enumerate(sorted({0, len(recs) // 3, len(recs) // 2, max(0, len(recs) - 24)})):
            body = b"".join(r for r, _, _ in recs[start:start + 24])
            out[f"{tag}-{i}"] = bytes([i * 37 & 0xFF]) + head + body + b"\x00"
    return out


def seeds_frames() -> dict[str, bytes]:
    out = {}
    for p in captures():
        data = _open(p)
        _, recs, ng = records(data)
        if not recs:
            continue
        name = f"{p.parent.name}-{p.name.split('.')[0]}"
        for i, start in enumerate(sorted({0, len(recs) // 2, max(0, len(recs) - 16)})):
            buf = bytearray(b"\x00")
            prev = recs[start][2]
            for rec, lt, ts in recs[start:start + 16]:
                f = frame_of(rec, ng)[:65535]
                step = max(0, min(0xEF, (ts - prev)))
                prev = ts
                idx = FRAME_LINKTYPES.index(lt) if lt in FRAME_LINKTYPES else len(FRAME_LINKTYPES) - 1
                buf += struct.pack(">BBH", idx, step, len(f)) + f
            out[f"{name}-{i}"] = bytes(buf)
    return out


def seeds_pcapfile() -> dict[str, bytes]:
    """Whole small captures as files, plain and gzip (the Python reader's job is the magic and the gzip)."""
    out = {}
    for name, b in seeds_pcap().items():
        if name.startswith("fixture-") or name.endswith("-0"):
            raw = b[1:-1]
            out[name] = raw
            out[name + ".gz"] = gzip.compress(raw, mtime=0)
    return out


def _raw_records(data: bytes) -> list[bytes]:
    out, off = [], 0
    while off + 4 <= len(data):
        n = struct.unpack_from("<I", data, off)[0]
        if off + 4 + n > len(data):
            break
        out.append(data[off:off + 4 + n])
        off += 4 + n
    return out


def seeds_ringbuf() -> dict[str, bytes]:
    recs = _raw_records((KFIX / "probe61" / "events.raw").read_bytes())
    by_type: dict[int, list[bytes]] = {}
    for r in recs:
        by_type.setdefault(struct.unpack_from("<I", r, 4)[0], []).append(r)
    out = {}
    for t, rs in sorted(by_type.items()):
        out[f"type{t}-1"] = rs[0]
        out[f"type{t}-4"] = b"".join(rs[:4])
    out["mixed-32"] = b"".join(recs[:32])
    out["mixed-tail"] = b"".join(recs[-32:])[:-7]     # a torn last record
    return out


def seeds_kernel_jsonl() -> dict[str, bytes]:
    out = {}
    for p in sorted(PCAPS.glob("lab/*/kernel/probe.jsonl.gz"))[:4]:
        lines = gzip.decompress(p.read_bytes()).splitlines(keepends=True)
        # the startup record, then lines of every type that occurs
        seen: dict[bytes, bytes] = {}
        for ln in lines[1:]:
            t = ln[:40].split(b",")[0]
            seen.setdefault(t, ln)
        out[f"{p.parts[-3]}-types"] = lines[0] + b"".join(seen.values())
        out[f"{p.parts[-3]}-head"] = b"".join(lines[:24])
    return out


def seeds_telecom() -> dict[str, bytes]:
    sys.path.insert(0, str(ROOT))
    from sctpcorr.wire import _engine

    out = {}
    for p in [PCAPS / "synthetic" / "ngap-lossy-multihomed.pcapng.gz", PCAPS / "synthetic" / "diameter-failover.pcap"]:
        an = _engine.Analyzer(payloads=True)
        an.feed_capture(_open(p))
        an.finish_capture()
        buf = an.drain_payloads()
        off, chunks = 0, []
        while off + 72 <= len(buf):
            cap = struct.unpack_from("=I", buf, off + 32)[0]     # sc_payhdr.caplen
            end = off + 72 + ((cap + 7) & ~7)
            chunks.append(buf[off:end])
            off = end
        # distinct message kinds: by PPID and the first bytes of the user data
        kinds: dict[bytes, bytes] = {}
        for c in chunks:
            kinds.setdefault(c[24:28] + c[72:80], c)
        name = p.name.split(".")[0]
        for i, c in enumerate(list(kinds.values())[:40]):
            out[f"{name}-{i}"] = c
        out[f"{name}-run"] = b"".join(chunks[:64])
    return out


def seeds_recording() -> dict[str, bytes]:
    out = {}
    for name, b in list(seeds_kernel_jsonl().items()) + [("raw-" + k, v) for k, v in seeds_ringbuf().items()]:
        out[name] = b
        out[name + ".gz"] = gzip.compress(b, mtime=0)
    return out


def seeds_telecom_py() -> dict[str, bytes]:
    return {k: bytes([i % 8]) + v for i, (k, v) in enumerate(seeds_telecom().items())}


def seeds_classify() -> dict[str, bytes]:
    """One message's user data each, the protocol byte from its PPID (60 NGAP, 18 S1AP, 27 X2AP, 61 XnAP)."""
    proto = {60: 0, 18: 1, 27: 2, 61: 3}
    out = {}
    for k, c in seeds_telecom().items():
        if k.endswith("-run"):
            continue
        ppid, cap = struct.unpack_from("=I", c, 24)[0], struct.unpack_from("=I", c, 32)[0]
        out[k] = bytes([proto.get(ppid, 0) | (0x80 if len(out) % 2 else 0)]) + c[72:72 + cap]
    return out


def seeds_diag() -> dict[str, bytes]:
    """The recorded sock_diag dumps, whole and one netlink message at a time."""
    out = {}
    for p in sorted((KFIX / "diag61").glob("*.raw")):
        b = p.read_bytes()
        out[p.stem] = b
        off, i = 0, 0
        while off + 16 <= len(b) and i < 12:
            n = struct.unpack_from("=I", b, off)[0]
            if n < 16:
                break
            out[f"{p.stem}-{i}"] = b[off:off + n]
            off += (n + 3) & ~3
            i += 1
    return out


TARGETS = {
    # C (libFuzzer)
    "pcap": seeds_pcap,
    "frames": seeds_frames,
    "ringbuf": seeds_ringbuf,
    "telecom": seeds_telecom,
    # Python (atheris)
    "pcapfile": seeds_pcapfile,
    "recording": seeds_recording,
    "abi": seeds_ringbuf,
    "telecom_py": seeds_telecom_py,
    "classify": seeds_classify,
    "diag": seeds_diag,
}


def write(out_dir: Path, targets: list[str]) -> None:
    for t in targets:
        d = out_dir / t
        d.mkdir(parents=True, exist_ok=True)
        for name, data in TARGETS[t]().items():
            (d / name).write_bytes(data)


if __name__ == "__main__":
    write(Path(sys.argv[1]), sys.argv[2:] or list(TARGETS))
