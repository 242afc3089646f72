"""Helpers shared by the lab tests: can the lab run here, and the timings printed at the end."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

TIMINGS: dict[str, object] = {}


def lab_unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    from sctpcorr.lab import runner
    if os.environ.get("SCTPCORR_NO_LAB"):
        return "SCTPCORR_NO_LAB is set: the lab guest is not booted"
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces in the guest are built as root by vng --user root)"
    pr = runner.check_prerequisites()
    if not pr.ok:
        return pr.message()
    if not shutil.which("tshark"):
        return "the lab tests read captures with tshark: apt-get install -y tshark"
    return None


def record_timings(key: str, out: Path, bundles: list[Path], elapsed_s: float | None = None) -> None:
    from sctpcorr.lab import bundle
    per = {}
    boot = None
    for b in bundles:
        try:
            m = bundle.read_manifest(b)
        except FileNotFoundError:
            continue
        per[b.name] = (m.get("times") or {}).get("duration_s")
        up = (m.get("guest") or {}).get("uptime_at_start_s")
        boot = up if boot is None and up is not None else boot
    TIMINGS[key] = {"host_elapsed_s": elapsed_s, "guest_uptime_at_first_scenario_s": boot, "scenario_s": per}
