"""Lab bundles: the directory one scenario run leaves behind, and how to read it even when the run died.

Layout (names are also listed in the manifest's ``files``)::

    manifest.json          what ran, on which kernel, netem per path, times, clock offsets, complete: bool
    scenario.json          the validated scenario plus the topology (what the workload read)
    scenario.toml          the scenario file as given (copy it to make your own)
    client.pcapng          capture next to the client (netns cli, both interfaces)
    server.pcapng          capture next to the server (netns srv, both interfaces)
    workload/client.jsonl  every message the client sent, notifications, periodic SCTP_STATUS
    workload/server.jsonl  every message the server received
    snapshots/client.jsonl /proc/net/sctp/{assocs,remaddr,snmp} and `ss -Sinem` in netns cli, periodically
    snapshots/server.jsonl the same in netns srv
    lab.jsonl              the orchestrator's log: phases, netem changes (with times), commands that failed
    netem.json             router qdisc statistics at the end (packets sent/dropped per interface)
    kernel/                kernel events from `sctpcorr probe`, when a probe recorder ran
    console.log            the guest's console (single-scenario runs; in the group directory otherwise)

The manifest is written first, with ``complete: false``, and rewritten atomically (write + rename) at each
phase; logs are flushed line by line and captures are written by dumpcap as they go.  So an interrupted run
(Ctrl-C, timeout, guest crash) leaves a bundle whose manifest says ``complete: false`` and why
(``interrupted``), next to everything recorded until then.  Readers here tolerate a truncated last JSONL line
and a truncated last capture block.
"""
from __future__ import annotations

import contextlib
import json
import os
import struct
from pathlib import Path
from typing import Any, Iterator

__all__ = ["SCHEMA", "BUNDLE_ENTRIES", "earlier_run", "clear", "write_manifest", "read_manifest", "update_manifest", "read_jsonl", "read_bytes", "find_file", "capture_info",
           "summary", "is_bundle", "find_bundles"]

SCHEMA = 1
MANIFEST = "manifest.json"

# what a run writes into a bundle (or group) directory: `lab run --out DIR` refuses a DIR holding any of them,
# and with --force removes them first (a re-run must not append its logs to an earlier run's)
BUNDLE_ENTRIES = ("manifest.json", "manifest.json.tmp", "scenario.json", "scenario.toml", "client.pcapng",
                  "server.pcapng", "workload", "snapshots", "lab.jsonl", "netem.json", "kernel", "console.log",
                  "validation.json", "lab-group.json")


def earlier_run(d: str | Path) -> list[str]:
    """The entries of an earlier run in directory ``d`` (none if it does not exist)."""
    return [n for n in BUNDLE_ENTRIES if os.path.lexists(os.path.join(d, n))]


def clear(d: str | Path) -> list[str]:
    """Remove the entries of an earlier run from ``d`` (other files stay); returns the names removed."""
    import shutil

    gone = earlier_run(d)
    for n in gone:
        p = os.path.join(d, n)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)
    return gone


def write_manifest(bundle: str | Path, manifest: dict) -> None:
    """Atomically replace the bundle's manifest (a reader sees the old or the new one, never half)."""
    path = Path(bundle) / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(manifest, f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError:            # a full disk: the manifest stays the one before; no half-written one left behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.replace(tmp, path)


def read_manifest(bundle: str | Path) -> dict:
    """The manifest; falls back to a left-over ``manifest.json.tmp`` if the main one is unreadable."""
    path = Path(bundle) / MANIFEST
    errors = []
    for p in (path, path.with_name(MANIFEST + ".tmp")):
        try:
            with open(p) as f:
                return json.load(f)
        except (OSError, ValueError) as e:
            errors.append(f"{p.name}: {e}")
    raise FileNotFoundError(f"{bundle}: no readable manifest ({'; '.join(errors)})")


def update_manifest(bundle: str | Path, **changes: Any) -> dict:
    """Read, shallow-update, write; returns the new manifest."""
    m = read_manifest(bundle)
    m.update(changes)
    write_manifest(bundle, m)
    return m


def find_file(bundle: str | Path, rel: str) -> Path:
    """``bundle/rel``, or ``bundle/rel.gz`` when only the compressed copy exists (the bundles committed under
    pcaps/lab/ are gzipped; sctpcorr reads both)."""
    p = Path(bundle) / rel
    gz = p.with_name(p.name + ".gz")
    return gz if not p.exists() and gz.exists() else p


def read_bytes(path: str | Path) -> bytes:
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip
        import zlib
        try:
            return gzip.decompress(data)
        except (OSError, EOFError, zlib.error):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)     # a cut gzip: what decompresses
            return d.decompress(data)
    return data


def read_jsonl(path: str | Path) -> tuple[list[dict], int]:
    """(records, bad_lines): lines that are not JSON objects (e.g. a last line cut by a crash) are counted.
    A ``.gz`` twin is read when the file itself is absent."""
    recs, bad = [], 0
    p = Path(path)
    if not p.exists() and p.with_name(p.name + ".gz").exists():
        p = p.with_name(p.name + ".gz")
    try:
        import io
        with io.TextIOWrapper(io.BytesIO(read_bytes(p)), errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(r, dict):
                    recs.append(r)
                else:
                    bad += 1
    except FileNotFoundError:
        pass
    return recs, bad


def _pcapng_blocks(data: bytes) -> Iterator[tuple[int, bytes, str]]:
    off, endian = 0, "<"
    while off + 12 <= len(data):
        btype = struct.unpack_from(endian + "I", data, off)[0]
        if btype == 0x0A0D0D0A:
            bom = data[off + 8:off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        blen = struct.unpack_from(endian + "I", data, off + 4)[0]
        if blen < 12 or blen % 4 or off + blen > len(data):
            return
        yield btype, data[off + 8:off + blen - 4], endian
        off += blen


def capture_info(path: str | Path) -> dict:
    """Packet count, interfaces and time span of a pcapng or pcap file, read with the standard library.

    A truncated tail (the writer was killed) is reported as ``truncated_tail: true``, not as an error."""
    p = Path(path)
    if not p.exists() and p.with_name(p.name + ".gz").exists():
        p = p.with_name(p.name + ".gz")
    info: dict[str, Any] = {"file": p.name, "bytes": 0, "format": None, "packets": 0, "interfaces": [],
                            "first_ts_ns": None, "last_ts_ns": None, "truncated_tail": False}
    try:
        data = read_bytes(p)
    except OSError as e:
        info["error"] = str(e)
        return info
    info["bytes"] = len(data)
    if len(data) >= 4 and data[:4] == b"\x0a\x0d\x0d\x0a":
        info["format"] = "pcapng"
        consumed = 0
        tsres: list[int] = []
        for btype, body, e in _pcapng_blocks(data):
            consumed += len(body) + 12
            if btype == 1:  # IDB: linktype, snaplen, options (if_name = 2, if_tsresol = 9)
                name, res = None, 6
                o = 8
                while o + 4 <= len(body):
                    code, olen = struct.unpack_from(e + "HH", body, o)
                    val = body[o + 4:o + 4 + olen]
                    if code == 0:
                        break
                    if code == 2:
                        name = val.decode(errors="replace")
                    elif code == 9 and val:
                        res = val[0]
                    o += 4 + olen + (-olen % 4)
                info["interfaces"].append(name)
                tsres.append(res)
            elif btype in (6, 3) and len(body) >= 12:
                info["packets"] += 1
                if btype == 6:
                    iface, hi, lo = struct.unpack_from(e + "III", body)
                    r = tsres[iface] if iface < len(tsres) else 6
                    ticks = (hi << 32) | lo
                    ns = ticks * 10 ** (9 - r) if not r & 0x80 and r <= 9 else ticks * 10 ** 9 >> (r & 0x7F)
                    info["first_ts_ns"] = ns if info["first_ts_ns"] is None else info["first_ts_ns"]
                    info["last_ts_ns"] = ns
        info["truncated_tail"] = consumed != len(data)
    elif len(data) >= 24 and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                                          b"\xa1\xb2\x3c\x4d"):
        info["format"] = "pcap"
        e = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
        off = 24
        while off + 16 <= len(data):
            sec, frac, incl, _ = struct.unpack_from(e + "IIII", data, off)
            if off + 16 + incl > len(data):
                break
            ns = sec * 10**9 + (frac if nano else frac * 1000)
            info["first_ts_ns"] = ns if info["first_ts_ns"] is None else info["first_ts_ns"]
            info["last_ts_ns"] = ns
            info["packets"] += 1
            off += 16 + incl
        info["truncated_tail"] = off != len(data)
    else:
        info["error"] = "not a pcap or pcapng file" if data else "empty file"
    return info


def is_bundle(d: str | Path) -> bool:
    return (Path(d) / MANIFEST).exists() or (Path(d) / (MANIFEST + ".tmp")).exists()


def find_bundles(d: str | Path) -> list[Path]:
    """The bundle ``d`` itself, or the bundles one level below it (a multi-scenario run)."""
    d = Path(d)
    if is_bundle(d):
        return [d]
    return sorted(p for p in d.iterdir() if p.is_dir() and is_bundle(p)) if d.is_dir() else []


def _count(recs: list[dict], rtype: str) -> int:
    return sum(1 for r in recs if r.get("type") == rtype)


def summary(bundle: str | Path) -> dict:
    """What a bundle holds, for `sctpcorr lab show`: manifest essentials, files, captures, workload counts."""
    b = Path(bundle)
    m = read_manifest(b)
    out: dict[str, Any] = {
        "bundle": str(b),
        "scenario": (m.get("scenario") or {}).get("name"),
        "complete": bool(m.get("complete")),
        "phase": m.get("phase"),
        "interrupted": m.get("interrupted"),
        "kernel": (m.get("guest") or {}).get("kernel_release"),
        "hz": (m.get("guest") or {}).get("hz"),
        "times": m.get("times"),
        "netem": m.get("netem"),
        "captures": {},
        "workload": {},
        "snapshots": {},
        "files": sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()),
    }
    for role in ("client", "server"):
        for ext in ("pcapng", "pcap"):
            cap = find_file(b, f"{role}.{ext}")
            if cap.exists():
                out["captures"][role] = capture_info(cap)
                break
        recs, bad = read_jsonl(b / "workload" / f"{role}.jsonl")
        if recs or bad:
            end = next((r for r in reversed(recs) if r.get("type") == "end"), None)
            out["workload"][role] = {"records": len(recs), "bad_lines": bad, "sent": _count(recs, "send"),
                                     "received": _count(recs, "recv"), "paddr_changes": _count(recs, "paddr"),
                                     "errors": _count(recs, "error"), "ended": end is not None}
        snaps, bad = read_jsonl(b / "snapshots" / f"{role}.jsonl")
        if snaps or bad:
            out["snapshots"][role] = {"records": len(snaps), "bad_lines": bad}
    return out
