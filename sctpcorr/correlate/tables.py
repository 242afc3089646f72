"""Column tables: the few hundred thousand rows a correlation joins, as numpy arrays, built once from rows.

The correlator joins per TSN, per SACK and per HEARTBEAT: hundreds of thousands of rows for a bulk transfer.
Python objects per row would make that the slow part; a ``Table`` keeps one numpy array per column and the joins
work on whole columns (sort, searchsorted, unique).  ``Rows`` collects rows while a recording is read, then
``Rows.table()`` freezes them.  Nothing here knows about SCTP.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = ["Table", "Rows", "first_index", "group_starts"]


class Table:
    """Named numpy columns of equal length.  ``t.ts`` is a column; ``t[mask]`` / ``t[idx]`` select rows."""

    __slots__ = ("_cols", "_n")

    def __init__(self, cols: dict[str, np.ndarray]):
        object.__setattr__(self, "_cols", dict(cols))
        n = {len(v) for v in cols.values()}
        if len(n) > 1:
            raise ValueError(f"columns of different lengths: {n}")
        object.__setattr__(self, "_n", n.pop() if n else 0)

    @classmethod
    def empty(cls, dtypes: dict[str, Any]) -> Table:
        return cls({k: np.zeros(0, dtype=v) for k, v in dtypes.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        try:
            return self._cols[name]
        except KeyError:
            raise AttributeError(name) from None

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, sel: Any) -> Table:
        if isinstance(sel, np.ndarray) and sel.dtype == np.bool_:
            # one scan of the mask, then a gather per column (a mask per column scans it again each time)
            if len(sel) == self._n and sel.all():
                return self
            sel = np.flatnonzero(sel)
        return Table({k: v[sel] for k, v in self._cols.items()})

    @property
    def columns(self) -> list[str]:
        return list(self._cols)

    def with_columns(self, **cols: np.ndarray) -> Table:
        return Table({**self._cols, **cols})

    def row(self, i: int) -> dict[str, Any]:
        return {k: v[i].item() if hasattr(v[i], "item") else v[i] for k, v in self._cols.items()}

    @classmethod
    def concat(cls, tables: list[Table]) -> Table:
        """Rows of several tables with the same columns, in order."""
        tables = [t for t in tables if t is not None]
        if not tables:
            raise ValueError("nothing to concatenate")
        if len(tables) == 1:
            return tables[0]
        return cls({k: np.concatenate([t._cols[k] for t in tables]) for k in tables[0]._cols})

    def sorted_by(self, *keys: str) -> Table:
        """Rows sorted by the given columns, the last one most significant (numpy.lexsort order reversed: the
        first key given is the primary one)."""
        order = np.lexsort(tuple(self._cols[k] for k in reversed(keys)))
        return self[order]


class Rows:
    """Rows collected one by one (lists per column), frozen into a ``Table`` with fixed dtypes."""

    def __init__(self, dtypes: dict[str, Any]):
        self.dtypes = dtypes
        self.cols: dict[str, list[Any]] = {k: [] for k in dtypes}
        self._appenders = [self.cols[k].append for k in dtypes]
        self.dropped = 0        # rows table() left out (values their columns cannot hold)

    def add(self, *values: Any) -> int:
        """Append one row (values in the order of ``dtypes``); returns its index."""
        for f, v in zip(self._appenders, values):
            f(v)
        return len(self.cols[next(iter(self.cols))]) - 1 if self.cols else 0

    def __len__(self) -> int:
        return len(next(iter(self.cols.values()))) if self.cols else 0

    def table(self) -> Table:
        """The rows as a ``Table``.  A row with a value its column cannot hold (a recording's integer wider than
        the kernel's field, a string where a number goes: hostile or damaged input) is left out and counted in
        ``dropped``; the others are kept."""
        try:
            return Table({k: np.asarray(v, dtype=self.dtypes[k]) if v else np.zeros(0, dtype=self.dtypes[k])
                          for k, v in self.cols.items()})
        except (OverflowError, ValueError, TypeError):
            pass
        keep = [True] * len(self)
        for k, vals in self.cols.items():
            dt = np.dtype(self.dtypes[k])
            if dt.kind == "b":
                continue
            lo, hi = (np.iinfo(dt).min, np.iinfo(dt).max) if dt.kind in "iu" else (None, None)
            for i, v in enumerate(vals):
                if not (isinstance(v, int) and (lo is None or lo <= v <= hi)):
                    keep[i] = False
        self.dropped += keep.count(False)
        return Table({k: np.asarray([x for x, ok in zip(v, keep) if ok], dtype=self.dtypes[k])
                      for k, v in self.cols.items()})


def first_index(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For keys already sorted: (unique keys, index of each key's first row)."""
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=np.int64)
    start = np.ones(len(keys), dtype=bool)
    start[1:] = keys[1:] != keys[:-1]
    idx = np.flatnonzero(start)
    return keys[idx], idx


def group_starts(keys: np.ndarray) -> np.ndarray:
    """For sorted keys: the index where each run of equal keys starts, plus len(keys) at the end."""
    _u, idx = first_index(keys)
    return np.append(idx, len(keys))


def lookup(sorted_keys: np.ndarray, wanted: np.ndarray | Sequence[int] | Iterable[int]) -> np.ndarray:
    """Index of each wanted key in ``sorted_keys`` (unique, sorted), or -1 where absent."""
    w = np.asarray(wanted if not isinstance(wanted, (map, filter)) else list(wanted))
    if len(sorted_keys) == 0 or len(w) == 0:
        return np.full(len(w), -1, dtype=np.int64)
    pos = np.searchsorted(sorted_keys, w)
    pos_c = np.minimum(pos, len(sorted_keys) - 1)
    hit = sorted_keys[pos_c] == w
    return np.where(hit, pos_c, -1)


def unique_inverse(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for integer keys with few distinct values (addresses, ends): one
    hash pass in C (``_cjoin.dense_ids``), then a sort of the distinct keys alone, not of every row."""
    from sctpcorr.correlate import _cjoin

    k = np.ascontiguousarray(keys, dtype=np.int64)
    dense = np.empty(len(k), dtype=np.int64)
    first = np.empty(len(k), dtype=np.int64)
    n = _cjoin.dense_ids(dense, k, None, first)
    u = k[first[:n]]
    order = np.argsort(u)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return u[order], rank[dense]


def key_counts(keys: np.ndarray) -> np.ndarray:
    """For each row, how many rows hold its key (one hash pass in C, no sort)."""
    from sctpcorr.correlate import _cjoin

    k = np.ascontiguousarray(keys, dtype=np.int64)
    dense = np.empty(len(k), dtype=np.int64)
    n = _cjoin.dense_ids(dense, k, None, None)
    return np.bincount(dense, minlength=n)[dense]


def distinct(keys: np.ndarray) -> int:
    """How many distinct values (one hash pass in C: ``len(np.unique(keys))`` without the sort)."""
    from sctpcorr.correlate import _cjoin

    k = np.ascontiguousarray(keys, dtype=np.int64)
    return int(_cjoin.dense_ids(np.empty(len(k), dtype=np.int64), k, None, None))


def small_unique(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)`` for small non-negative integers (path indexes): a count of each, no sort."""
    x = np.asarray(x)
    if len(x) and x.dtype.kind in "iu" and int(x.min()) >= 0 and int(x.max()) < 1 << 20:
        return np.flatnonzero(np.bincount(x)).astype(x.dtype)
    return np.unique(x)


def in_order(x: np.ndarray) -> bool:
    """``bool((x[1:] >= x[:-1]).all())``: one pass in C for int64 columns (times), no temporary array."""
    if x.dtype == np.int64 and x.flags.c_contiguous:
        from sctpcorr.correlate import _cjoin

        return bool(_cjoin.is_sorted(x))
    return len(x) < 2 or bool((x[1:] >= x[:-1]).all())


__all__ += ["lookup", "unique_inverse", "key_counts", "distinct", "small_unique", "in_order"]
