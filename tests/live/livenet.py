"""Two network namespaces joined by a veth pair, on this machine's own kernel (no SCTP stack needed): captures
are replayed onto one end (tcpreplay) while ``sctpcorr live`` captures on the other.

Replayed captures are first rewritten to Ethernet (dpkt): a Linux cooked or raw-IP capture gets an Ethernet
header with the right EtherType; the IP packets themselves are untouched, so the engine sees the same SCTP.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from children import default_signals

ROOT = Path(__file__).resolve().parents[2]
TAG = f"scl{os.getpid() % 100000}"


def have_netns() -> str | None:
    """Why the veth tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, capture)"
    for tool in ("ip", "tcpreplay", "tshark"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    try:
        from sctpcorr.sources import _livecap  # noqa: F401
    except ImportError as exc:
        return f"live capture not built: {exc}"
    return None


class Veth:
    """netns ``TX`` with ``tx0`` <-> netns ``RX`` with ``rx0``."""

    def __init__(self) -> None:
        self.tx, self.rx = f"{TAG}-tx", f"{TAG}-rx"
        self.tx_if, self.rx_if = "tx0", "rx0"

    def up(self) -> None:
        self.down()
        for ns in (self.tx, self.rx):
            sh("ip", "netns", "add", ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.tx, "link", "add", self.tx_if, "type", "veth", "peer", "name", self.rx_if,
           "netns", self.rx)
        self.link(True)

    def link(self, up: bool) -> None:
        state = "up" if up else "down"
        sh("ip", "-n", self.tx, "link", "set", self.tx_if, state)
        sh("ip", "-n", self.rx, "link", "set", self.rx_if, state)

    def remove_link(self) -> None:
        """Delete the veth pair (both ends go); ``up()`` makes it again."""
        sh("ip", "-n", self.tx, "link", "del", self.tx_if)

    def down(self) -> None:
        for ns in (self.tx, self.rx):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def replay(self, eth_pcap: Path, *, topspeed: bool = False, pps: int | None = None) -> str:
        args = ["ip", "netns", "exec", self.tx, "tcpreplay", "-i", self.tx_if]
        if topspeed:
            args.append("-t")
        elif pps:
            args += ["-p", str(pps)]
        r = subprocess.run(args + [str(eth_pcap)], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def live(self, *args: str | os.PathLike[str], ready: Path, **kw: Any) -> subprocess.Popen[str]:
        """``sctpcorr live -i rx0 ARGS`` inside the RX namespace; returns once it captures (--ready-file)."""
        ready.unlink(missing_ok=True)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.Popen(["ip", "netns", "exec", self.rx, sys.executable, "-m", "sctpcorr.cli", "live",
                                 *map(str, args), "--ready-file", str(ready)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                                preexec_fn=default_signals, **kw)
        deadline = time.monotonic() + 60
        while not ready.exists():
            if proc.poll() is not None:
                out, err = proc.communicate()
                raise AssertionError(f"sctpcorr live exited {proc.returncode}: {err}")
            assert time.monotonic() < deadline, "sctpcorr live never started capturing"
            time.sleep(0.05)
        return proc


def sh(*args: str) -> None:
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")


def to_ethernet(src: Path, dst: Path) -> int:
    """Rewrite a capture to Ethernet framing (nanosecond pcap); returns the number of packets."""
    import dpkt

    with open(src, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        r = dpkt.pcapng.Reader(f) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(f)
        dl = r.datalink()
        with open(dst, "wb") as out:
            w = dpkt.pcap.Writer(out, linktype=1, nano=True)
            n = 0
            for ts, buf in r:
                if dl == 1:
                    frame = buf
                else:
                    ip = {113: buf[16:], 276: buf[20:], 0: buf[4:], 108: buf[4:]}.get(dl, buf)
                    et = 0x86DD if ip and ip[0] >> 4 == 6 else 0x0800
                    frame = b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01" + struct.pack("!H", et) + ip
                w.writepkt(frame, ts)
                n += 1
    return n


def pcap_json(*files: str | os.PathLike[str]) -> dict[str, Any]:
    """`sctpcorr pcap --json` of files, with the defaults `live` has too (ended associations folded out of memory
    10 s after their last packet: docs/limits.md), so that its capture.limits compare with live's."""
    r = subprocess.run([sys.executable, "-m", "sctpcorr.cli", "pcap", "--json", *map(str, files)],
                       capture_output=True, text=True, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def tshark_count(path: Path) -> int:
    """Packets tshark reads from ``path``; fails on any complaint (a cut-short file, a bad block)."""
    r = subprocess.run(["tshark", "-r", str(path), "-T", "fields", "-e", "frame.number"], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0 and "cut short" not in r.stderr and "isn't" not in r.stderr, r.stderr
    return len(r.stdout.split())


TIMING = ("rtt", "vantage", "rtt_scope")


def timeless(x: Any) -> Any:
    """A document part with every time and time-derived value removed: ``*_ns``, RTT sections, and the vantage
    point with the RTT scope it decides (both judged from the smallest RTTs on either side of the capture point,
    which a replay under load does not reproduce)."""
    if isinstance(x, dict):
        return {k: timeless(v) for k, v in x.items() if not k.endswith("_ns") and k not in TIMING}
    if isinstance(x, list):
        return [timeless(v) for v in x]
    return x


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (``associations[0]/directions/A>B/packets: 37 != 36``), or None."""
    if type(a) is not type(b):
        return f"{path}: {a!r} != {b!r}"
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}/{k}: only in {'second' if k not in a else 'first'}"
            d = first_difference(a[k], b[k], f"{path}/{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} != {b!r}"
