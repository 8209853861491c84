"""Per-key rate limit: a token bucket per API key, in memory.

Each key's bucket holds at most ``burst`` tokens and refills at ``rate`` tokens per second; a request
takes one. In memory and per process: with ``--workers N`` each worker limits on its own (a key may
then send up to N times the rate), which is acceptable for a limit that protects the service, not
a quota that bills.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucketLimiter:
    """Token buckets keyed by API key id.

    Args:
        rate: tokens refilled per second.
        burst: bucket size (requests allowed at once).
        clock: monotonic clock (injectable for tests).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be > 0 and burst >= 1, got rate={rate}, burst={burst}")
        self.rate, self.burst, self.clock = float(rate), int(burst), clock
        self._buckets: dict[int, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: int) -> float:
        """Take a token for ``key``: ``0.0`` when allowed, else the seconds until one is available."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        """``Retry-After`` header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait)))
