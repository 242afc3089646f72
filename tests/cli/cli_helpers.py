"""Helpers for the command-line tests: run ``sctpcorr`` as a user would, and cut/split real captures.

The captures come from the third-party corpus at ``../shared/pcaps`` (never copied into the repository); tests
that need one skip when it is absent. Damaged variants (truncated, split, gzip, corrupt) are written to tmp_path.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("SCTPCORR_CORPUS", ROOT.parent / "shared" / "pcaps")).resolve()


def corpus_file(rel: str) -> Path:
    """A corpus capture, or skip the test."""
    p = CORPUS / rel
    if not p.is_file():
        pytest.skip(f"corpus capture {rel} not found under {CORPUS}")
    return p


def run_cli(*args: str | os.PathLike[str], input: bytes | None = None, timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    """``sctpcorr ARGS`` in a subprocess (real exit code, real stdout/stderr), from the repository root."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-m", "sctpcorr.cli", *map(str, args)],
        input=input, capture_output=True, cwd=ROOT, env=env, timeout=timeout,
    )
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


def run_json(*args: str | os.PathLike[str], expect_rc: int = 0, input: bytes | None = None) -> dict[str, Any]:
    r = run_cli("pcap", "--json", *args, input=input)
    assert r.returncode == expect_rc, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


def analysis(doc: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What must not depend on how the bytes arrived: capture totals and associations."""
    return doc["capture"], doc["associations"]


# --- classic pcap / pcapng record boundaries (an independent, minimal reader for the tests) --------------------
def pcap_record_ends(data: bytes) -> list[int]:
    """Offsets just after each record of a classic pcap file (either byte order)."""
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\x34\xcd\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d", b"\xa1\xb2\xcd\x34"):
        endian = ">"
    else:
        raise ValueError("not a classic pcap file")
    rec_hdr = 24 if magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 16  # "modified" pcap: +8
    off, ends = 24, []
    while off + rec_hdr <= len(data):
        (incl,) = struct.unpack_from(endian + "I", data, off + 8)
        end = off + rec_hdr + incl
        if end > len(data):
            break
        ends.append(end)
        off = end
    return ends


def pcapng_packet_block_ends(data: bytes) -> list[int]:
    """Offsets just after each packet block (EPB 6, SPB 3, obsolete PB 2) of a pcapng file."""
    off, ends, endian = 0, [], "<"
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
        btype, blen = struct.unpack_from(endian + "II", data, off)
        if blen < 12 or off + blen > len(data):
            break
        if btype in (2, 3, 6):
            ends.append(off + blen)
        off += blen
    return ends
