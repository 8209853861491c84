"""Per-key rate limit, one limit for every worker: ``limits``' fixed window over shared storage.

A key may send ``burst`` requests per window of ``burst / rate`` seconds (the defaults: 100 per 5 s,
20 per second on average). The counts live in PostgreSQL (:class:`store.ratelimits.PostgresStorage`),
so ``capconnect serve --workers N`` (or several hosts over one database) allow the rate once, not N
times. A fixed window may let up to ``2 × burst`` through around a window's edge; the limit protects
the service, it is not a quota that bills. Without a storage (tests, tools) the counts stay in memory.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage, Storage
from limits.strategies import FixedWindowRateLimiter


class RateLimiter:
    """Fixed-window limits keyed by API key id.

    Args:
        rate: requests per second allowed on average.
        burst: requests allowed per window (the window lasts ``ceil(burst / rate)`` seconds).
        storage: where the counts live (default: this process's memory).
    """

    def __init__(self, rate: float, burst: int, storage: Storage | None = None) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst = float(rate), int(burst)
        self.item = RateLimitItemPerSecond(self.burst, max(1, math.ceil(self.burst / self.rate)), namespace="api")
        self.storage = storage if storage is not None else MemoryStorage()
        self._strategy = FixedWindowRateLimiter(self.storage)

    @property
    def window_seconds(self) -> int:
        """How long one window lasts."""
        return self.item.get_expiry()

    def acquire(self, key: int) -> float:
        """Count a request of ``key``: ``0.0`` when allowed, else the seconds until its window ends.

        Raises:
            psycopg.Error, psycopg_pool.PoolTimeout: the shared storage cannot be reached (a 503).
        """
        if self._strategy.hit(self.item, str(key)):
            return 0.0
        reset = self._strategy.get_window_stats(self.item, str(key)).reset_time
        return max(reset - time.time(), 0.001)

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))


TokenBucketLimiter = RateLimiter  # the former name, still used by tests/test_authz_matrix.py
