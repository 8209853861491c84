"""Exposure counts shared by every service process: :class:`ExposureSync` reads them from PostgreSQL.

Each process counts the lists it serves in memory (:class:`matching.serving.exposure.ShownCounts`: a deal
list reads the counts without a query). The lists every process serves are counted in the database with
the impression write (``exposure_daily``, migration 0011), so a daemon thread replaces the process's counts
with the database's every ``exposure_refresh_seconds``: what another worker or another machine served is
seen within that time plus the impression writer's ``impression_flush_ms``. The period's closed days are
read once a day; every refresh reads today's rows only.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg_pool

from matching.serving.exposure import ShownCounts
from matching.snapshot.core import MarketSnapshot
from store import exposure as exposure_db

logger = logging.getLogger(__name__)


def merged(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Two sets of (ascending ids, counts) summed per id (ids ascending)."""
    ids = np.concatenate([a[0], b[0]])
    if len(ids) == 0:
        return ids.astype(np.int64), np.zeros(0, dtype=np.int64)
    uniq, inverse = np.unique(ids, return_inverse=True)
    total = np.zeros(len(uniq), dtype=np.int64)
    np.add.at(total, inverse, np.concatenate([a[1], b[1]]))
    return uniq, total


class ExposureSync:
    """Replaces ``counts`` with the database's every ``interval`` seconds, on a daemon thread.

    Args:
        pool: the service's pool.
        counts: the process's counts (``AppState.exposure``).
        snapshot: the snapshot the counts are placed on (the serving matcher's, read at each refresh).
        interval: seconds between refreshes.
        days: the period.
    """

    def __init__(self, pool: psycopg_pool.ConnectionPool, counts: ShownCounts,
                 snapshot: Callable[[], MarketSnapshot], interval: float,
                 days: int = exposure_db.PERIOD_DAYS) -> None:
        self.pool, self.counts, self.snapshot, self.interval, self.days = pool, counts, snapshot, interval, days
        self._closed: tuple[date, tuple[np.ndarray, np.ndarray]] | None = None  # (today, the days before it)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exposure-sync", daemon=True)
        self.refreshes = 0

    def start(self) -> ExposureSync:
        """Start refreshing."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and wait for the thread (at most one refresh)."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 10)

    def refresh(self, now: datetime | None = None) -> int:
        """Read the period's counts and replace the process's. Returns how many enterprises were shown."""
        now = now or datetime.now(UTC)
        today = exposure_db.utc_day(now)
        with self.pool.connection() as conn:
            if self._closed is None or self._closed[0] != today:  # the first read, or a new day
                first = exposure_db.first_day(now, self.days)
                closed = exposure_db.shown_between(conn, first, today - timedelta(days=1))
                if self._closed is not None:
                    exposure_db.prune(conn, now, self.days)  # once a day per process: a cheap DELETE by key
                self._closed = (today, closed)
            current = exposure_db.shown_on(conn, today)
        ids, counts = merged(self._closed[1], current)
        self.counts.replace(ids, counts, self.snapshot())
        self.refreshes += 1
        return len(ids)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            t0 = time.perf_counter()
            try:
                n = self.refresh()
            except Exception as exc:  # never kill the thread (database down, …): the counts go on locally
                logger.warning("exposure refresh failed, counting locally until the next one: %s: %s",
                               type(exc).__name__, exc)
                continue
            logger.debug("exposure counts refreshed in %.1f ms: %d enterprises", (time.perf_counter() - t0) * 1e3, n)
