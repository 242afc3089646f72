"""bench/probe_overhead.py's arithmetic (the lab session runs it for real; tests/lab_probe checks what it measured):
per level, the cost of each adjacent on/off pair, the median, its interval and the verdict against the level's
target by CPU per message."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import probe_overhead as po  # noqa: E402


def _round(level: str, pair: int, on: bool, msgs: int, busy_s: float, kern_s: float, bpf_s: float = 0.0,
           seconds: float = 2.0) -> dict:
    return {"level": level, "pair": pair, "probes": "on" if on else "off", "messages": msgs,
            "bytes_per_s": msgs * po.MSG / seconds, "busy_cpu_s": busy_s, "kernel_cpu_s": kern_s,
            "busy_us_per_msg": busy_s * 1e6 / msgs, "kernel_us_per_msg": kern_s * 1e6 / msgs,
            "recorder_cpu_s": 0.01 if on else 0.0, "bpf_run_s": bpf_s}


def _pairs(level: str, costs: list[float], msgs: int = 1000) -> list[dict]:
    """One pair per cost: the same messages on and off, the "on" round's CPU higher by that share."""
    out = []
    for i, c in enumerate(costs):
        out += [_round(level, i, True, msgs, 4.0 * (1 + c), 2.0 * (1 + c), bpf_s=0.001),
                _round(level, i, False, msgs, 4.0, 2.0)]
    return out


def test_cpu_cost_per_pair_median_interval_and_verdicts():
    rounds = (_pairs("decisions", [0.002, 0.004, 0.003, 0.001, 0.005, 0.003])
              + _pairs("sacks", [0.05, 0.06, 0.04, 0.07, 0.05, 0.06])
              + _pairs("packets", [0.02, 0.09, 0.01, 0.08, 0.03, 0.07]))
    progs = {"kp_update_rto": {"run_cnt": 600, "run_time_ns": 3_000_000}}
    d = po.summarize(rounds, "decisions", progs)
    assert d["pairs"] == 6 and d["cpu_cost_pct"] == pytest.approx(0.3)
    lo, hi = d["cpu_cost_pct_ci90"]
    assert 0.1 <= lo <= 0.3 <= hi <= 0.5
    assert d["verdict"] == "met"                       # the whole interval is under 1 %
    assert d["kernel_cpu_cost_pct"] == pytest.approx(0.3)
    assert d["throughput_cost_pct"] == 0               # same messages on and off
    # BPF time per message from the "on" rounds, per program from the toggles' stats
    assert d["bpf_ns_per_msg"] == round(6 * 0.001 * 1e9 / 6000)
    assert d["programs"]["kp_update_rto"] == {"runs_per_msg": 0.1, "ns_per_msg": 500, "ns_per_run": 5000}
    assert po.summarize(rounds, "sacks", {})["verdict"] == "not met"       # all above 3 %
    assert po.summarize(rounds, "packets", {})["verdict"] == "unresolved"  # straddles 5 %


def test_a_pair_with_fewer_messages_on_costs_throughput_and_cpu():
    rounds = []
    for i in range(4):      # on: 10 % fewer messages for the same CPU
        rounds += [_round("packets", i, True, 900, 4.0, 2.0), _round("packets", i, False, 1000, 4.0, 2.0)]
    x = po.summarize(rounds, "packets", {})
    assert x["throughput_cost_pct"] == pytest.approx(10.0)
    assert x["cpu_cost_pct"] == pytest.approx(100 * (1000 / 900 - 1), abs=0.01)
    assert x["verdict"] == "not met"


def test_too_few_pairs_is_unresolved():
    x = po.summarize(_pairs("sacks", [0.001, 0.001]), "sacks", {})
    assert x["pairs"] == 2 and x["cpu_cost_pct_ci90"] is None and x["verdict"] == "unresolved"
