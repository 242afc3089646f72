"""Build the C fuzz harnesses (docs/fuzz.md); the one place their compiler flags live.

    python fuzz/build.py libfuzzer OUT [TARGET...]   clang, libFuzzer, ASan + UBSan: OUT/fuzz_TARGET
    python fuzz/build.py replay OUT [TARGET...]      gcc, ASan + UBSan, fuzz/c/replay_main.c instead of libFuzzer
                                                     (no clang needed; the test suite's build): OUT/replay_TARGET

Targets: pcap, frames (the wire engine: sctpcorr/wire/_engine), ringbuf (sctpcorr/kernel/_ringbuf), telecom
(sctpcorr/telecom/_fast); all when none is named.  The last two are CPython extensions: they are compiled into
the harness with the interpreter embedded (fuzz/c/pyembed.h), whose sys.path is this tree and then the
running Python's (so the harness imports this sctpcorr and that venv's numpy).  A binary newer than every
source is kept.  Runs with any Python 3 (standard library only)."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
ENGINE = ROOT / "sctpcorr" / "wire" / "_engine"
ENGINE_SRC = [ENGINE / f for f in ("capture.c", "decode.c", "analyze.c", "an_assoc.c", "an_chunks.c", "an_maps.c",
                                   "an_records.c", "an_rtt.c", "an_tables.c", "an_tsn.c", "an_vantage.c", "crc32c.c",
                                   "payload.c", "fold.c", "evjson.c")]
TARGETS = ("pcap", "frames", "ringbuf", "telecom")
EMBEDS_PYTHON = {"ringbuf": "sctpcorr/kernel/_ringbuf", "telecom": "sctpcorr/telecom/_fast"}
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer"]


def _python_flags() -> list[str]:
    cv = sysconfig.get_config_var
    syspath = ":".join([str(ROOT)] + [p for p in sys.path if p and os.path.isdir(p)])
    return [f"-I{sysconfig.get_paths()['include']}", f'-DFUZZ_SYSPATH="{syspath}"',
            f"-L{cv('LIBDIR')}", f"-lpython{cv('LDVERSION')}", "-lm", "-ldl", "-lpthread", "-lutil"]


def command(mode: str, target: str, out: Path) -> tuple[list[str], Path, list[Path]]:
    """(the compiler command, the binary, the sources it depends on)."""
    src = [FUZZ / "c" / f"fuzz_{target}.c"]
    deps = src + sorted((FUZZ / "c").glob("*.h")) + sorted(ENGINE.glob("*.h"))
    if mode == "libfuzzer":
        cc, binary, extra = os.environ.get("CLANG", "clang"), out / f"fuzz_{target}", ["-fsanitize=fuzzer"]
    else:
        cc, binary, extra = os.environ.get("GCC", "gcc"), out / f"replay_{target}", []
        src.append(FUZZ / "c" / "replay_main.c")
    if target in EMBEDS_PYTHON:
        deps += sorted((ROOT / EMBEDS_PYTHON[target]).glob("*.c"))
        libs = _python_flags()
    else:
        src += ENGINE_SRC
        deps += ENGINE_SRC
        libs = []
    cmd = [cc, "-g", "-O2", "-std=gnu11", f"-I{ENGINE}", f"-I{FUZZ / 'c'}", *SAN, *extra, "-o", str(binary),
           *map(str, src), *libs]
    return cmd, binary, deps + src


def build(mode: str, out: Path, targets: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    made = []
    for t in targets:
        cmd, binary, deps = command(mode, t, out)
        if not binary.exists() or binary.stat().st_mtime < max(d.stat().st_mtime for d in deps):
            subprocess.run(cmd, check=True)
        made.append(binary)
    return made


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("libfuzzer", "replay") or set(sys.argv[3:]) - set(TARGETS):
        sys.exit(__doc__)
    build(sys.argv[1], Path(sys.argv[2]), sys.argv[3:] or list(TARGETS))
