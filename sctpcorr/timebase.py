"""Clocks. Capture timestamps are CLOCK_REALTIME ns, BPF's bpf_ktime_get_ns() is CLOCK_MONOTONIC ns; the offset
between them is measured here, in one place, for the probe recorder and the lab manifest alike."""
from __future__ import annotations

import time

__all__ = ["clock_offsets", "clocksource"]


def clock_offsets() -> dict[str, int]:
    """CLOCK_REALTIME - CLOCK_MONOTONIC and CLOCK_BOOTTIME - CLOCK_MONOTONIC, from the narrowest of 5 bracketed
    reads; ``uncertainty_ns`` is that bracket's width and ``at_mono_ns`` its middle."""
    best: dict[str, int] | None = None
    for _ in range(5):
        m1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        r = time.clock_gettime_ns(time.CLOCK_REALTIME)
        b = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        m2 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        mid = (m1 + m2) // 2
        if best is None or m2 - m1 < best["uncertainty_ns"]:
            best = {"at_mono_ns": mid, "real_minus_mono_ns": r - mid, "boot_minus_mono_ns": b - mid,
                    "uncertainty_ns": m2 - m1}
    assert best is not None
    return best


def clocksource() -> str | None:
    """The kernel's current clocksource (tsc, hpet, acpi_pm, kvm-clock...): what every ktime read, and so every
    BPF timestamp, costs.  Reading HPET is an I/O access (microseconds under emulation), reading the TSC is not."""
    try:
        with open("/sys/devices/system/clocksource/clocksource0/current_clocksource") as f:
            return f.read().strip() or None
    except OSError:
        return None
