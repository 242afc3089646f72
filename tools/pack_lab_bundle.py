#!/usr/bin/env python3
"""Copy lab bundles into pcaps/lab/ for committing: every capture and JSONL log gzipped (sctpcorr reads both).

    tools/pack_lab_bundle.py /tmp/run/baseline /tmp/run/lossy ... [--to pcaps/lab]

The bundle keeps its layout and manifest; only the big files become ``NAME.gz`` (capture readers recognise gzip
by its magic, and ``sctpcorr.lab.bundle.find_file`` finds the ``.gz`` twin of a name the manifest lists).
"""
from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

PLAIN = {"manifest.json", "scenario.json", "scenario.toml", "netem.json", "lab.jsonl"}
SKIP = {"probe.out", "diag.out", "probe.ready", "console.log", "lab-group.json", "probe-session.out",
        "validation.json"}   # validation.json: `lab show` computes the verdicts of the committed code


def pack(src: Path, dst: Path) -> int:
    if dst.exists():
        shutil.rmtree(dst)
    total = 0
    for f in sorted(src.rglob("*")):
        if not f.is_file() or f.name in SKIP or f.name.endswith((".ready", ".tmp", ".next")):
            continue
        rel = f.relative_to(src)
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if f.name in PLAIN and rel.parent == Path("."):
            shutil.copyfile(f, out)
        else:
            out = out.with_name(out.name + ".gz")
            with open(f, "rb") as i, gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as o:
                shutil.copyfileobj(i, o)
        total += out.stat().st_size
    return total


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bundles", nargs="+", type=Path)
    ap.add_argument("--to", type=Path, default=Path(__file__).resolve().parents[1] / "pcaps" / "lab")
    a = ap.parse_args()
    for b in a.bundles:
        n = pack(b, a.to / b.name)
        print(f"{b} -> {a.to / b.name}: {n / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
