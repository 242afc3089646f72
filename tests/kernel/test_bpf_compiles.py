"""The BPF program compiles with BCC against the Debian 6.1 headers and every function passes THIS host's verifier.

The host kernel need not have SCTP: BCC only compiles (against the lab kernel's headers, made visible as the
running kernel's in a private mount namespace) and loads each program into the verifier; nothing attaches.
Skipped unless root, BCC (python3-bpfcc under /usr/bin/python3), unshare and linux-headers-6.1.0-*-amd64 are there.
About 10-20 s per configuration.
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from sctpcorr.kernel import probes
from sctpcorr.kernel.loader import Filters, bpf_dir, cflags_for

HEADERS = sorted(glob.glob("/usr/src/linux-headers-6.1.*-amd64"))
PY = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not HEADERS or not shutil.which("unshare") or not Path(PY).exists()
    or subprocess.run([PY, "-c", "import bcc"], capture_output=True).returncode != 0,
    reason="needs root, BCC for /usr/bin/python3, unshare and linux-headers-6.1.*-amd64")

LOADER = textwrap.dedent("""
    import sys
    from bcc import BPF
    b = BPF(text=open(sys.argv[1]).read(), cflags=sys.argv[3:])
    n = 0
    for f in sys.argv[2].split(","):
        b.load_func(f, BPF.RAW_TRACEPOINT if f.startswith("rtp_") else BPF.KPROBE)   # raises if rejected
        n += 1
    print("LOADED", n)
""")


def _compile(tmp_path: Path, fns: list[str], flags: list[str]) -> str:
    headers = HEADERS[-1]
    common = headers.replace("-amd64", "-common")
    mods = tmp_path / "modules" / os.uname().release
    mods.mkdir(parents=True)
    (mods / "build").symlink_to(headers)
    (mods / "source").symlink_to(common)
    script = tmp_path / "load.py"
    script.write_text(LOADER)
    src = bpf_dir() / "sctpcorr.bpf.c"
    cmd = (f"mount --bind {tmp_path / 'modules'} /lib/modules && exec {PY} {script} {src} {','.join(fns)} "
           + " ".join(flags))
    r = subprocess.run(["unshare", "-m", "sh", "-c", cmd], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return r.stdout


def test_compiles_and_every_function_verifies(tmp_path):
    fns = sorted({a.fn for p in probes.PROBES for a in p.attachments})
    out = _compile(tmp_path, fns, cflags_for([], Filters()))
    assert f"LOADED {len(fns)}" in out


def test_compiles_with_every_filter_and_probes_left_out(tmp_path):
    excluded = [p for p in probes.PROBES if p.name in ("assoc_change", "lower_cwnd")]
    flags = cflags_for(excluded, Filters(port=38412, vtag=0x1234, addr="2001:db8::1", inodes=set()))
    fns = sorted({a.fn for p in probes.PROBES if p not in excluded for a in p.attachments})
    out = _compile(tmp_path, fns, flags)
    assert f"LOADED {len(fns)}" in out
