"""The Python mirrors agree with the C layouts: sctpcorr_abi.h (ours) and struct sctp_info (the kernel's uapi).

A small C program, generated from the mirrors' field lists, is compiled with the host compiler and prints
sizeof/offsetof of every struct and field and the value of every enum constant; the test compares them with
ctypes.  The header is also parsed for its member names, so a field added on one side only fails too.
Skipped (visibly) when no C compiler or no <linux/types.h> is available.
"""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sctpcorr.kernel import abi, diag

BPF_DIR = Path(abi.__file__).resolve().parent / "bpf"
HEADER = BPF_DIR / "sctpcorr_abi.h"
CC = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc/clang) to check the ABI layout with")


def _run_c(tmp_path: Path, includes: list[str], lines: list[str]) -> dict[str, int]:
    src = tmp_path / "layout.c"
    src.write_text("#include <stddef.h>\n#include <stdio.h>\n" + "".join(f"#include {i}\n" for i in includes)
                   + "int main(void) {\n" + "".join(f"  {ln}\n" for ln in lines) + "  return 0;\n}\n")
    exe = tmp_path / "layout"
    r = subprocess.run([CC, "-std=gnu11", "-Wall", "-Werror", f"-I{BPF_DIR}", "-o", str(exe), str(src)],
                       capture_output=True, text=True)
    if r.returncode and "linux/types.h" in r.stderr:
        pytest.skip("<linux/types.h> missing (install linux-libc-dev)")
    assert r.returncode == 0, r.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    return {k: int(v) for k, v in (ln.split() for ln in out.splitlines())}


def _layout_lines(cname: str, cls: type[ctypes.Structure]) -> list[str]:
    lines = [f'printf("{cname}.sizeof %zu\\n", sizeof(struct {cname}));']
    for fname, _t in cls._fields_:
        lines.append(f'printf("{cname}.{fname}.off %zu\\n", offsetof(struct {cname}, {fname}));')
        lines.append(f'printf("{cname}.{fname}.size %zu\\n", sizeof(((struct {cname} *)0)->{fname}));')
    return lines


def _expected(cname: str, cls: type[ctypes.Structure]) -> dict[str, int]:
    exp = {f"{cname}.sizeof": ctypes.sizeof(cls)}
    for fname, _t in cls._fields_:
        f = getattr(cls, fname)
        exp[f"{cname}.{fname}.off"] = f.offset
        exp[f"{cname}.{fname}.size"] = f.size
    return exp


def _header_members() -> dict[str, list[str]]:
    """struct name -> member names, parsed from sctpcorr_abi.h (comments stripped)."""
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    out = {}
    for m in re.finditer(r"struct\s+(\w+)\s*\{(.*?)\};", text, re.S):
        names = []
        for decl in m.group(2).split(";"):
            decl = decl.strip()
            if decl:
                names.append(re.match(r".*?(\w+)\s*(\[[^\]]*\])?$", decl, re.S).group(1))
        out[m.group(1)] = names
    return out


def test_every_abi_struct_has_a_mirror_with_the_same_members():
    members = _header_members()
    assert set(members) == set(abi.STRUCTS), "structs in sctpcorr_abi.h and abi.STRUCTS differ"
    for cname, cls in abi.STRUCTS.items():
        assert members[cname] == [f for f, _ in cls._fields_], cname


def test_abi_sizes_and_offsets_match_the_c_compiler(tmp_path):
    lines, expected = [], {}
    for cname, cls in abi.STRUCTS.items():
        lines += _layout_lines(cname, cls)
        expected.update(_expected(cname, cls))
    got = _run_c(tmp_path, ['"sctpcorr_abi.h"'], lines)
    mismatches = {k: (got.get(k), v) for k, v in expected.items() if got.get(k) != v}
    assert not mismatches, f"(C, ctypes) differ: {mismatches}"
    for cname in abi.STRUCTS:
        assert got[f"{cname}.sizeof"] % 8 == 0, f"struct {cname} is not a multiple of 8 bytes"


def test_abi_constants_match(tmp_path):
    consts = {"SCTPCORR_ABI_VERSION": abi.ABI_VERSION, "SCTPCORR_MAX_CHUNKS": abi.MAX_CHUNKS,
              "SCTPCORR_NR_TYPES": abi.NR_TYPES, "SCTPCORR_NR_COUNTERS": abi.NR_COUNTERS}
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.S)
    ev_names = re.findall(r"\bSCTPCORR_EV_(\w+)\s*=", text)
    counter_names = re.findall(r"\bSCTPCORR_C_(\w+)", text)
    lines = [f'printf("{k} %d\\n", (int)({k}));' for k in consts]
    lines += [f'printf("EV_{n} %d\\n", (int)SCTPCORR_EV_{n});' for n in ev_names]
    lines += [f'printf("C_{n} %d\\n", (int)SCTPCORR_C_{n});' for n in dict.fromkeys(counter_names)]
    for prefix, table in (("RTX", abi.RTX_REASONS), ("RTT", abi.RTT_SOURCES)):
        for n in re.findall(rf"\bSCTPCORR_{prefix}_(\w+)\s*=", text):
            lines.append(f'printf("{prefix}_{n} %d\\n", (int)SCTPCORR_{prefix}_{n});')
    got = _run_c(tmp_path, ['"sctpcorr_abi.h"'], lines)
    for k, v in consts.items():
        assert got[k] == v, k
    for n in ev_names:
        if n == "NONE":
            continue
        name, _cls = abi.EVENT_TYPES[got[f"EV_{n}"]]
        assert name == n.lower(), (n, name)
    # counters: EMITTED/LOST are bases of per-type ranges, the rest map to the lower-case names in order
    assert got["C_EMITTED"] == 0 and got["C_LOST"] == abi.NR_TYPES
    for n in dict.fromkeys(counter_names):
        if n in ("EMITTED", "LOST", "NR_COUNTERS"):
            continue
        assert abi.COUNTERS[got[f"C_{n}"]] == n.lower(), n
    for n in re.findall(r"\bSCTPCORR_RTX_(\w+)\s*=", text):
        assert (abi.RTX_REASONS[got[f"RTX_{n}"]] or "none") == n.lower()
    for n in re.findall(r"\bSCTPCORR_RTT_(\w+)\s*=", text):
        assert abi.RTT_SOURCES[got[f"RTT_{n}"]] == n.lower()


def test_sctp_info_mirror_matches_the_uapi_header(tmp_path):
    if not Path("/usr/include/linux/sctp.h").exists():
        pytest.skip("/usr/include/linux/sctp.h missing (install linux-libc-dev)")
    got = _run_c(tmp_path, ["<stdint.h>", "<sys/socket.h>", "<linux/sctp.h>"], _layout_lines("sctp_info", diag.SctpInfo))
    expected = _expected("sctp_info", diag.SctpInfo)
    assert {k: got[k] for k in expected} == expected
