"""Cut tests/kernel/fixtures/probe61 from a lab probe session (tests/lab_probe/guest_session.py's output directory).

The fixture is real ring-buffer records, exactly as `sctpcorr probe --raw` received them, so that decoding, the ring
reader, the pump and the derived events are tested on what the kernel emitted without a kernel.  Slices are chosen by
what they hold, not by hand-picked offsets:

  baseline      the first 360 records of the baseline scenario (handshake, heartbeats, RTT samples)
  baseline_end  the baseline association's shutdown: from 40 records before the first SHUTDOWN_COMP notification
                to the last association freed in the scenario
  lossy         320 records from up to 100 before the first fast retransmission of the lossy scenario (fast and T3
                retransmissions, cwnd reductions)
  failover_t3   8 records from the failover scenario's first T3 expiry
  failover      12 records around its first path going INACTIVE

    .venv/bin/python tools/make_probe_fixture.py SESSION_DIR tests/kernel/fixtures/probe61
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sctpcorr.kernel import abi  # noqa: E402
from sctpcorr.kernel.pump import iter_raw  # noqa: E402


def main(session_dir: str, out_dir: str) -> int:
    sd, od = Path(session_dir), Path(out_dir)
    session = json.loads((sd / "session.json").read_text())
    raws = list(iter_raw((sd / "probe.raw").read_bytes()))
    hz = 250
    recs = [abi.decode(r, hz=hz) for r in raws]
    win = {s["name"]: (s["start_mono_ns"], s["end_mono_ns"]) for s in session["scenarios"]}

    def idx(name: str) -> list[int]:
        lo, hi = win[name]
        return [i for i, r in enumerate(recs) if lo <= r["ts_ns"] <= hi]

    slices = []
    base = idx("baseline")
    slices.append(("baseline", base[0], base[0] + 360))
    comp = next(i for i in base if recs[i]["type"] == "assoc_change" and recs[i].get("sac_state") == "SHUTDOWN_COMP")
    freed = [i for i in base if recs[i]["type"] == "assoc_change" and recs[i]["kind"] == "freed"]
    slices.append(("baseline_end", comp - 40, max(freed) + 1))
    lossy = idx("lossy")
    fast = next(i for i in lossy if recs[i]["type"] == "egress"
                and any(c.get("rtx_reason") == "fast" for c in recs[i]["chunks"]))
    start = max(lossy[0], fast - 100)
    slices.append(("lossy", start, start + 320))
    fo = idx("failover")
    t3 = next(i for i in fo if recs[i]["type"] == "t3_expire")
    slices.append(("failover_t3", t3, t3 + 8))
    down = next(i for i in fo if recs[i]["type"] == "path_state" and recs[i]["state_after"] == "INACTIVE")
    slices.append(("failover", down - 6, down + 6))

    b0 = next(i for i, r in enumerate(recs) if r["ts_ns"] >= session["bench"]["start_mono_ns"])
    slices.append(("bulk", b0 + 2000, b0 + 2200))

    od.mkdir(parents=True, exist_ok=True)
    with open(od / "events.raw", "wb") as f:
        for _name, a, b in slices:
            for r in raws[a:b]:
                f.write(len(r).to_bytes(4, "little") + r)
    kernel = session.get("kernel")
    meta = {"source": "probe.raw of one tests/lab_probe/guest_session.py run (lab guest, baseline/lossy/failover); "
                      "records [a, b) of it, cut by tools/make_probe_fixture.py",
            "abi": abi.ABI_VERSION, "hz": hz, "kernel": kernel,
            "slices": [{"name": n, "count": b - a, "records": [a, b]} for n, a, b in slices]}
    (od / "slices.json").write_text(json.dumps(meta, indent=1) + "\n")
    types = sorted({recs[i]["type"] for _n, a, b in slices for i in range(a, b)})
    print(f"{sum(b - a for _n, a, b in slices)} records in {len(slices)} slices; event types: {', '.join(types)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:3]))
