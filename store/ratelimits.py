"""Rate-limit counters in PostgreSQL: a :class:`limits.storage.Storage` every worker shares.

``limits`` ships storages for Redis, Memcached, MongoDB and memory, none for PostgreSQL, the one shared
store this service has. :class:`PostgresStorage` implements the interface its fixed-window strategy
needs over the ``rate_limit_counters`` table (migration 0005): a hit is one atomic
``INSERT … ON CONFLICT … DO UPDATE … RETURNING`` (a window that has ended starts again at the hit), so
concurrent workers never lose a count, and the database's clock decides the windows, so workers on
several hosts agree. (The moving-window and sliding-window strategies would need a row per hit or
two counters per key; a fixed window of ``burst`` requests is what the service's limit promises.)
"""

from __future__ import annotations

import psycopg
import psycopg_pool
from limits.storage import Storage

_HIT = """
INSERT INTO rate_limit_counters AS c (key, hits, expires_at)
VALUES (%(key)s, %(amount)s, clock_timestamp() + make_interval(secs => %(expiry)s))
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN c.expires_at <= clock_timestamp() THEN EXCLUDED.hits ELSE c.hits + EXCLUDED.hits END,
    expires_at = CASE WHEN c.expires_at <= clock_timestamp() THEN EXCLUDED.expires_at ELSE c.expires_at END
RETURNING hits
"""
_LIVE = "SELECT hits, extract(epoch FROM expires_at) FROM rate_limit_counters WHERE key = %s " \
        "AND expires_at > clock_timestamp()"


class PostgresStorage(Storage):
    """Fixed-window counters in the ``rate_limit_counters`` table, through the service's pool.

    Args:
        pool: the service's connection pool (autocommit connections).
    """

    STORAGE_SCHEME = None  # built with a pool, never from a URI

    def __init__(self, pool: psycopg_pool.ConnectionPool) -> None:
        super().__init__(wrap_exceptions=False)  # a database that is down stays a psycopg error: a 503
        self.pool = pool

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:  # noqa: D102
        return (psycopg.Error, psycopg_pool.PoolTimeout)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Count ``amount`` hits on ``key`` (a window of ``expiry`` seconds starts when none is live)."""
        with self.pool.connection() as conn:
            row = conn.execute(_HIT, {"key": key, "amount": amount, "expiry": float(expiry)}).fetchone()
        assert row is not None  # INSERT … RETURNING always returns the row
        return int(row[0])

    def get(self, key: str) -> int:
        """Hits counted in ``key``'s live window (0 when none)."""
        row = self._live(key)
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends (Unix seconds, by the database's clock); now when none is live."""
        row = self._live(key)
        if row:
            return float(row[1])
        with self.pool.connection() as conn:
            now = conn.execute("SELECT extract(epoch FROM clock_timestamp())").fetchone()
        return float(now[0]) if now else 0.0

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self.pool.connection() as conn:
                conn.execute("SELECT 1 FROM rate_limit_counters LIMIT 1")
            return True
        except self.base_exceptions:
            return False

    def reset(self) -> int | None:
        """Forget every counter; returns how many there were."""
        with self.pool.connection() as conn:
            return conn.execute("DELETE FROM rate_limit_counters").rowcount

    def clear(self, key: str) -> None:
        """Forget ``key``'s counter."""
        with self.pool.connection() as conn:
            conn.execute("DELETE FROM rate_limit_counters WHERE key = %s", (key,))

    def _live(self, key: str) -> tuple[int, float] | None:
        with self.pool.connection() as conn:
            row = conn.execute(_LIVE, (key,)).fetchone()
        return (int(row[0]), float(row[1])) if row else None
