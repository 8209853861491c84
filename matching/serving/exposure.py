"""How often each enterprise was shown this period: :class:`ShownCounts`, owned by the caller.

The exposure cap demotes enterprises shown too often (:mod:`matching.ranking.diversity`). The counts
are serving state, not market state: the API seeds them from the impression log, counts every list it
serves, and passes them into each deal list (``Matcher.recommend_enterprises(..., exposure=counts)``).
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


class ShownCounts(Mapping[int, int]):
    """Shows per enterprise id, safe to count into from several request threads.

    Args:
        counts: the starting counts (e.g. the impression log's for the current period).
    """

    def __init__(self, counts: Mapping[int, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._counts: dict[int, int] = {}
        self._rows: tuple[MarketSnapshot, np.ndarray] | None = None
        self.reset(counts or {})

    def reset(self, counts: Mapping[int, int]) -> None:
        """Start again from ``counts`` (a market reload re-reads them from the impression log)."""
        with self._lock:
            self._counts = {int(k): int(v) for k, v in counts.items()}
            self._rows = None

    def record(self, enterprise_ids: Iterable[int]) -> None:
        """Count one more show of each enterprise (a list was served)."""
        with self._lock:
            rows = self._rows
            for eid in enterprise_ids:
                self._counts[int(eid)] = self._counts.get(int(eid), 0) + 1
                if rows is not None and (row := rows[0].enterprise_row.get(int(eid))) is not None:
                    rows[1][row] += 1

    def rows(self, snap: MarketSnapshot) -> np.ndarray:
        """The counts by row of ``snap``, kept in step with :meth:`record` (read it, never write it)."""
        with self._lock:
            if self._rows is None or self._rows[0] is not snap:
                out = np.zeros(snap.n_enterprises, dtype=np.int64)
                for eid, n in self._counts.items():
                    row = snap.enterprise_row.get(eid)
                    if row is not None:
                        out[row] = n
                self._rows = (snap, out)
            return self._rows[1]

    def __getitem__(self, enterprise_id: int) -> int:
        return self._counts[int(enterprise_id)]

    def __iter__(self) -> Iterator[int]:
        return iter(dict(self._counts))

    def __len__(self) -> int:
        return len(self._counts)
