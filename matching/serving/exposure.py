"""How often each enterprise was shown this period: :class:`ShownCounts`, owned by the caller.

The exposure cap demotes enterprises shown too often (:mod:`matching.ranking.diversity`). The counts
are serving state, not market state: the API reads them from the database every few seconds (the counts
every service process shares, :mod:`api.exposure`), counts every list it serves in between, and passes
them into each deal list (``Matcher.recommend_enterprises(..., exposure=counts)``).
Any mapping of enterprise id to count may be passed; a :class:`ShownCounts` also keeps the counts by
row of the snapshot last asked for, in step, so a request does not convert the whole mapping.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from matching.snapshot.core import MarketSnapshot


def exposure_rows(snap: MarketSnapshot, counts: Mapping[int, int]) -> np.ndarray:
    """Counts by enterprise row of ``snap`` (ids not in the snapshot are ignored)."""
    if isinstance(counts, ShownCounts):
        return counts.rows(snap)
    out = np.zeros(snap.n_enterprises, dtype=np.int64)
    for eid, n in counts.items():
        row = snap.enterprise_row.get(int(eid))
        if row is not None:
            out[row] = n
    return out


def _by_row(snap: MarketSnapshot, ids: np.ndarray, counts: np.ndarray,
            by_id: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """``counts`` of enterprise ``ids`` placed at their rows of ``snap`` (vectorised; unknown ids dropped).

    ``by_id``: :func:`rows_by_id` of ``snap``, when the caller keeps it.
    """
    out = np.zeros(snap.n_enterprises, dtype=np.int64)
    if len(ids) == 0 or snap.n_enterprises == 0:
        return out
    order, ent = by_id if by_id is not None else rows_by_id(snap)
    pos = np.minimum(np.searchsorted(ent, ids), len(ent) - 1)
    known = ent[pos] == ids
    out[order[pos[known]]] = counts[known]
    return out


def rows_by_id(snap: MarketSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``snap`` in enterprise id order, and the ids in that order."""
    ent = np.asarray(snap.ent_id, dtype=np.int64)
    order = np.argsort(ent, kind="stable")
    return order, ent[order]


class ShownCounts(Mapping[int, int]):
    """Shows per enterprise id: a base (the shared counts last read) plus the shows this process counted since,
    safe to count into from several request threads.

    Args:
        counts: the starting counts (e.g. the database's for the current period).
    """

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = np.zeros(0, dtype=np.int64)  # base: ascending ids
        self._base = np.zeros(0, dtype=np.int64)  # base: their counts
        self._local: dict[int, int] = {}  # counted here since the base was read
        self._rows: tuple[MarketSnapshot, np.ndarray] | None = None
        self._by_id: tuple[MarketSnapshot, tuple[np.ndarray, np.ndarray]] | None = None  # the last snapshot's
        self.reset(counts or {})

    def reset(self, counts: Mapping[int, int]) -> None:
        """Start again from ``counts`` (a market reload re-reads them)."""
        items = sorted((int(k), int(v)) for k, v in counts.items())
        ids = np.asarray([k for k, _ in items], dtype=np.int64)
        self.replace(ids, np.asarray([v for _, v in items], dtype=np.int64))

    def replace(self, ids: np.ndarray, counts: np.ndarray, snap: MarketSnapshot | None = None) -> None:
        """Start again from the shared counts: ``ids`` (ascending enterprise ids) and their ``counts``.

        The shows counted here since the last base are dropped: the new base, read after they were logged,
        holds them (one served but not yet logged when it was read is counted at the next read). The counts
        by row of ``snap`` (default: the snapshot last asked for) are computed before the swap, so no request
        converts them.
        """
        ids, counts = np.asarray(ids, dtype=np.int64), np.asarray(counts, dtype=np.int64)
        if len(ids) != len(counts):
            raise ValueError(f"{len(ids)} enterprise ids but {len(counts)} counts")
        if len(ids) > 1 and not bool((ids[1:] > ids[:-1]).all()):
            raise ValueError("enterprise ids must be ascending and distinct")
        target = snap if snap is not None else (self._rows[0] if self._rows is not None else None)
        rows = (target, _by_row(target, ids, counts, self._rows_by_id(target))) if target is not None else None
        with self._lock:
            self._ids, self._base, self._local, self._rows = ids, counts, {}, rows

    def _rows_by_id(self, snap: MarketSnapshot) -> tuple[np.ndarray, np.ndarray]:
        kept = self._by_id
        if kept is None or kept[0] is not snap:  # sorted once per snapshot, not at every refresh
            kept = self._by_id = (snap, rows_by_id(snap))
        return kept[1]

    def record(self, enterprise_ids: Iterable[int]) -> None:
        """Count one more show of each enterprise (a list was served)."""
        with self._lock:
            rows = self._rows
            for eid in enterprise_ids:
                self._local[int(eid)] = self._local.get(int(eid), 0) + 1
                if rows is not None and (row := rows[0].enterprise_row.get(int(eid))) is not None:
                    rows[1][row] += 1

    def rows(self, snap: MarketSnapshot) -> np.ndarray:
        """The counts by row of ``snap``, kept in step with :meth:`record` (read it, never write it)."""
        with self._lock:
            if self._rows is None or self._rows[0] is not snap:
                out = _by_row(snap, self._ids, self._base, self._rows_by_id(snap))
                for eid, n in self._local.items():
                    row = snap.enterprise_row.get(eid)
                    if row is not None:
                        out[row] += n
                self._rows = (snap, out)
            return self._rows[1]

    def __getitem__(self, enterprise_id: int) -> int:
        eid = int(enterprise_id)
        with self._lock:
            i = int(np.searchsorted(self._ids, eid))
            in_base = i < len(self._ids) and int(self._ids[i]) == eid
            if not in_base and eid not in self._local:
                raise KeyError(enterprise_id)
            return (int(self._base[i]) if in_base else 0) + self._local.get(eid, 0)

    def _keys(self) -> list[int]:
        with self._lock:
            return sorted(set(self._ids.tolist()) | set(self._local))

    def __iter__(self) -> Iterator[int]:
        return iter(self._keys())

    def __len__(self) -> int:
        with self._lock:
            local = np.fromiter(self._local, dtype=np.int64, count=len(self._local))
            pos = np.minimum(np.searchsorted(self._ids, local), max(len(self._ids) - 1, 0))
            in_base = (self._ids[pos] == local) if len(self._ids) else np.zeros(len(local), dtype=bool)
            return len(self._ids) + int(np.count_nonzero(~in_base))

    def __bool__(self) -> bool:  # `if counts:` on every list: not a count of every id ever shown
        return len(self._ids) > 0 or bool(self._local)
