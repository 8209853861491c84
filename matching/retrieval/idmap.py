"""The explicit id map of a vector index: external ids (database ids) to rows ``0..n-1`` and back,
refusing use before it is built (as ``implicit`` and ``lightfm`` keep theirs)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class IdMap:
    """External id ↔ row mapping. Refuses lookups before ids are assigned."""

    def __init__(self) -> None:
        self._ids: np.ndarray | None = None
        self._lookup: tuple[str, np.ndarray] | None = None  # vectorised id → row table, built lazily

    @property
    def built(self) -> bool:
        """Whether ids were assigned."""
        return self._ids is not None

    def assign(self, ids: Sequence[int] | np.ndarray) -> None:
        """Assign external ids to rows ``0..n-1`` (replacing any previous map)."""
        arr = np.asarray(ids, dtype=np.int64)
        if len(np.unique(arr)) != len(arr):
            raise ValueError("external ids must be unique")
        self._ids = arr.copy()  # no id → row dict: lookups are vectorised (a million-entry dict per worker was ~100 MB)
        self._lookup = None

    def extend(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Append new external ids; return their rows."""
        arr = np.asarray(ids, dtype=np.int64)
        clash = [] if self._ids is None else [int(self._ids[r]) for r in self.rows_of(arr)]
        if clash or len(np.unique(arr)) != len(arr):
            raise ValueError(f"ids already in the index or repeated: {clash[:5]}")
        start = 0 if self._ids is None else len(self._ids)
        self._ids = arr.copy() if self._ids is None else np.concatenate([self._ids, arr])
        self._lookup = None
        return np.arange(start, start + len(arr), dtype=np.int64)

    def ids(self) -> np.ndarray:
        """External ids in row order."""
        if self._ids is None:
            raise RuntimeError("IdMap used before ids were assigned: build or load the index first")
        return self._ids

    def rows_of(self, ids: Sequence[int] | np.ndarray, *, strict: bool = False) -> np.ndarray:
        """Rows of external ids; unknown ids are dropped (or raise ``KeyError`` with ``strict``)."""
        known = self.ids()
        arr = np.asarray(ids, dtype=np.int64).ravel()
        if len(known) == 0 or len(arr) == 0:
            if strict and len(arr):
                raise KeyError(f"id {int(arr[0])} is not in the index")
            return np.zeros(0, dtype=np.int64)
        if self._lookup is None:  # vectorised: allow-lists in request paths hold thousands of ids
            lo, hi = int(known.min()), int(known.max())
            if lo >= 0 and hi < 4 * len(known) + 4096:  # dense ids (database keys): a direct table
                table = np.full(hi + 1, -1, dtype=np.int64)
                table[known] = np.arange(len(known), dtype=np.int64)
                self._lookup = ("dense", table)
            else:
                self._lookup = ("sorted", np.argsort(known, kind="stable"))
        how, table = self._lookup
        if how == "dense":
            inside = (arr >= 0) & (arr < len(table))
            rows = np.where(inside, table[np.where(inside, arr, 0)], -1)
            hit = rows >= 0
        else:
            pos = np.minimum(np.searchsorted(known[table], arr), len(known) - 1)
            rows = table[pos]
            hit = known[rows] == arr
        if strict and not hit.all():
            raise KeyError(f"id {int(arr[~hit][0])} is not in the index")
        return rows[hit].astype(np.int64)

    def __len__(self) -> int:
        return 0 if self._ids is None else len(self._ids)

    def __contains__(self, external_id: object) -> bool:
        return isinstance(external_id, (int, np.integer)) and self._ids is not None \
            and len(self.rows_of([int(external_id)])) == 1
