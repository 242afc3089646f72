"""A stand-in for `sctpcorr probe` on a machine without SCTP kprobes (tests/live/test_live_probes.py): it takes
the arguments live gives the probe, writes a real lab recording's records to --jsonl with their kernel times
moved onto this host's CLOCK_MONOTONIC (the last event one second ago; the realtime offset moved by as much, so
the capture's times still match), says it is ready, and on SIGINT writes the end record and exits, as the probe
does.

    python fake_probe.py RECORDING.jsonl[.gz] --jsonl OUT -q --ready-file READY [...]
"""
from __future__ import annotations

import gzip
import json
import signal
import sys
import time


def main() -> int:
    rec, args = sys.argv[1], sys.argv[2:]
    out = args[args.index("--jsonl") + 1]
    ready = args[args.index("--ready-file") + 1]
    with gzip.open(rec, "rt") if rec.endswith(".gz") else open(rec) as f:
        records = [json.loads(line) for line in f if line.strip()]
    last = max(r["ts_ns"] for r in records if r["type"] not in ("startup", "end", "clock"))
    shift = time.monotonic_ns() - 1_000_000_000 - last

    def move(r: dict) -> dict:
        r = dict(r)
        if "ts_ns" in r:
            r["ts_ns"] += shift
        for c in (r, r.get("clock") or {}):
            if "at_mono_ns" in c:
                c["at_mono_ns"] += shift
            if "real_minus_mono_ns" in c:
                c["real_minus_mono_ns"] -= shift
        if r.get("not_before_ns"):
            r["not_before_ns"] += shift
        return r

    stop: list[int] = []
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    with open(out, "w") as f:
        for r in records:
            if r["type"] != "end":
                f.write(json.dumps(move(r)) + "\n")
        f.flush()
        with open(ready, "w") as g:
            g.write("ready\n")
        while not stop:
            time.sleep(0.05)
        f.write(json.dumps(move(next(r for r in records if r["type"] == "end"))) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
