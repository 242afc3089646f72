"""The --pid filter's inode set is replaced while the probes run: a socket that stays in the set must never be
missing from the map, not even for a moment (clear-and-refill dropped events of a live association in the lab)."""
from __future__ import annotations

import ctypes

from sctpcorr.kernel import loader as ld
from sctpcorr.kernel.probes import PROBES


class WatchedTable:
    """filter_ino as BCC exposes it (ctypes keys), recording every state it passes through."""

    def __init__(self) -> None:
        self.keys_now: set[int] = set()
        self.states: list[frozenset[int]] = []

    def __setitem__(self, k: ctypes.c_uint64, v: ctypes.c_uint8) -> None:
        self.keys_now.add(k.value)
        self.states.append(frozenset(self.keys_now))

    def __delitem__(self, k: ctypes.c_uint64) -> None:
        if k.value not in self.keys_now:
            raise KeyError(k.value)
        self.keys_now.discard(k.value)
        self.states.append(frozenset(self.keys_now))

    def clear(self) -> None:
        self.keys_now.clear()
        self.states.append(frozenset())


def _loader(inodes: set[int]) -> tuple[ld.Loader, WatchedTable]:
    lo = ld.Loader(list(PROBES), [], ld.Filters(inodes=inodes))
    table = WatchedTable()
    lo.bpf = {"filter_ino": table}
    return lo, table


def test_first_fill_puts_every_inode_in():
    lo, table = _loader({11, 12})
    lo.set_inodes(lo.filters.inodes)
    assert table.keys_now == {11, 12}


def test_refresh_never_drops_an_inode_that_stays():
    lo, table = _loader({11, 12, 13})
    lo.set_inodes({11, 12, 13})
    table.states.clear()
    lo.set_inodes({12, 13, 14, 15})       # 11 closed, 14 and 15 accepted
    assert table.keys_now == {12, 13, 14, 15}
    assert table.states, "nothing changed in the map"
    assert all({12, 13} <= s for s in table.states), table.states
    assert lo.filters.inodes == {12, 13, 14, 15}


def test_refresh_with_the_same_set_touches_nothing():
    lo, table = _loader({21})
    lo.set_inodes({21})
    table.states.clear()
    lo.set_inodes({21})
    assert table.states == [] and table.keys_now == {21}
