"""The lab test group: boot the guest ONCE for all seven scenarios (session fixture), then assert ground truth.

Skips, with the reason, when the lab cannot run here (no root, no kernel in /boot, no QEMU, no virtme-ng, no
tshark): see ``scripts/setup-lab``.  ``SCTPCORR_LAB_BUNDLES=DIR`` reuses the bundles of an earlier
``sctpcorr lab run baseline lossy failover ngap-like bulk slow-receiver ngap-registration --out DIR`` instead of
booting (for working on the assertions).  Timings (boot, per scenario, whole group) are printed at the end of the run.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from labrun import TIMINGS, lab_unavailable, record_timings

SCENARIOS = ["baseline", "lossy", "failover", "ngap-like", "bulk", "slow-receiver", "ngap-registration"]
_SPAN: list[float] = []   # monotonic time of the first lab test's start and of the latest lab test's end


@pytest.fixture(scope="session")
def lab_bundles(tmp_path_factory) -> dict[str, Path]:
    """scenario name -> bundle directory, all from one boot."""
    reuse = os.environ.get("SCTPCORR_LAB_BUNDLES")
    if reuse:
        d = Path(reuse)
        return {s: d / s for s in SCENARIOS}
    why = lab_unavailable()
    if why:
        pytest.skip(why)
    from sctpcorr.lab import runner, scenario
    out = tmp_path_factory.mktemp("lab-group")
    t = time.monotonic()
    res = runner.run_group([scenario.load(s) for s in SCENARIOS], out)
    record_timings("group", out, [out / s for s in SCENARIOS], round(time.monotonic() - t, 1))
    assert res.reason is None, f"the lab run stopped early: {res.reason}; console: {res.console}"
    return {s: out / s for s in SCENARIOS}


@pytest.fixture(scope="session")
def lab_timings() -> dict:
    return TIMINGS


@pytest.fixture(autouse=True)
def _lab_span():
    if not _SPAN:
        _SPAN.append(time.monotonic())
    yield
    del _SPAN[1:]
    _SPAN.append(time.monotonic())


def pytest_terminal_summary(terminalreporter):
    if TIMINGS and len(_SPAN) == 2:
        TIMINGS["lab_test_group_wall_s"] = round(_SPAN[1] - _SPAN[0], 1)
        terminalreporter.write_sep("-", "sctpcorr lab timings")
        terminalreporter.write_line(json.dumps(TIMINGS, indent=1))
