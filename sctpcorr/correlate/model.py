"""The correlator's vocabulary: verdicts, checks, tolerances.  Standard library only."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["AGREE", "EXPLAINED", "DISAGREE", "NOT_CHECKABLE", "VERDICTS", "Check", "Tolerances", "worst"]

AGREE = "agree"                  # kernel and wire say the same, within the tolerance
EXPLAINED = "explained"          # they differ, and the difference is accounted for (the sentence says by what)
DISAGREE = "disagree"            # they differ beyond the tolerance, and nothing recorded explains it
NOT_CHECKABLE = "not checkable"  # the inputs cannot tell (no capture there, snapshots only, nothing matched)
VERDICTS = (AGREE, EXPLAINED, DISAGREE, NOT_CHECKABLE)
_RANK = {AGREE: 0, NOT_CHECKABLE: 1, EXPLAINED: 2, DISAGREE: 3}


def worst(verdicts: list[str]) -> str:
    """The verdict that decides a group: disagree > explained > not checkable > agree."""
    return max(verdicts, key=_RANK.__getitem__) if verdicts else NOT_CHECKABLE


@dataclass
class Tolerances:
    """What counts as agreement.  Every check states the tolerance it used."""

    time_ns: int = 1_000_000            # besides one jiffy: timing slack of the lab's and real hosts' stacks
    clock_ns: int = 500_000             # a recorded clock offset may lie this far outside the matched bounds
    bytes: int = 1500                   # windows and flight: one MTU
    outlier_pct: float = 2.0            # a check passes with at most this share of its items off
    lost_pct: float = 0.5               # probe events lost (share of all) that still lets checks vouch
    state_ns: int = 200_000_000         # a state change may follow the chunk that caused it by this much

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Check:
    """One verdict on one question, with its numbers and one sentence saying why."""

    name: str
    verdict: str
    sentence: str
    assoc: int | None = None          # the association it is about (None: the whole run)
    direction: str | None = None      # "A>B" / "B>A" when it is about one direction
    tolerance: str = ""
    numbers: dict[str, Any] = field(default_factory=dict)
    weakened_by: list[str] = field(default_factory=list)   # recording losses that touch this check

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.name, "assoc": self.assoc, "direction": self.direction, "verdict": self.verdict,
                "sentence": self.sentence, "tolerance": self.tolerance, "numbers": self.numbers,
                "weakened_by": self.weakened_by}
