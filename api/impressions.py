"""The impression log written behind the response: lists are batched by a thread, not written per request.

Writing a served list (header and 20 items) costs 2–3 ms of database time, a fifth of a deal
list's latency at 100,000 enterprises. :class:`ImpressionWriter` takes the rows (the list id is
made in the request, so the response carries it), and a daemon thread writes every list queued
in the last ``flush_ms`` in one transaction (:func:`api.data.lists.write_lists`).

What a caller can rely on:

* a list is in the database within about ``flush_ms`` of its response (and at shutdown, when the
  writer is stopped, every queued list is written);
* :meth:`flush` waits until the lists queued so far are written: an event quoting a list this
  process served calls it first, so feedback never misses its list (``api.routes.events``);
* if the database is down the batch is kept and retried (at most ``max_queued`` lists wait;
  beyond that a request writes its own list, so memory stays bounded);
* ``flush_ms = 0`` (``CAPCONNECT_IMPRESSION_FLUSH_MS=0``) writes in the request instead.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque

import psycopg
import psycopg_pool

from api.data.lists import ServedList, write_lists

logger = logging.getLogger(__name__)


class ImpressionWriter:
    """Batches served lists into the impression log on a thread (see the module docstring)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool, *, flush_ms: float = 20.0, max_queued: int = 10_000) -> None:
        self.pool, self.flush_s, self.max_queued = pool, flush_ms / 1000.0, max_queued
        self._queue: deque[ServedList] = deque()
        self._pending: set[uuid.UUID] = set()
        self._cond = threading.Condition()
        self._stop = False
        self.written = 0
        self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
        self._thread.start()

    def submit(self, served: ServedList) -> None:
        """Queue a list (or write it now when ``max_queued`` lists already wait)."""
        with self._cond:
            if len(self._queue) < self.max_queued and not self._stop:
                self._queue.append(served)
                self._pending.add(served.id)
                self._cond.notify_all()
                return
        with self.pool.connection() as conn:  # back-pressure: the request pays for its own list
            write_lists(conn, [served])

    def pending(self, list_id: uuid.UUID) -> bool:
        """Whether a list this process served is not written yet."""
        with self._cond:
            return list_id in self._pending

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every list queued before this call is written; ``False`` on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            waiting = set(self._pending)
            self._cond.notify_all()
            while waiting & self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued and end the thread."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.05
        while True:
            with self._cond:
                while not self._queue and not self._stop:
                    self._cond.wait()
                if not self._queue and self._stop:
                    return
                if not self._stop:  # let a batch gather (a flush or stop cuts the wait short)
                    self._cond.wait(self.flush_s)
                batch = list(self._queue)
            try:
                with self.pool.connection() as conn:
                    write_lists(conn, batch)
            except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
                logger.warning("impression log: %d list(s) not written yet (%s); retrying", len(batch), exc)
                if self._stop:
                    logger.error("impression log: %d list(s) lost at shutdown", len(batch))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            with self._cond:
                for _ in batch:
                    self._pending.discard(self._queue.popleft().id)
                self.written += len(batch)
                self._cond.notify_all()
