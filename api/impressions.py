"""The impression log written behind the response: lists are batched by a thread, not written per request.

Writing a served list (header and 20 items) costs 2–3 ms of database time, a fifth of a deal
list's latency at 100,000 enterprises. :class:`ImpressionWriter` takes the rows (the list id is
made in the request, so the response carries it), and a daemon thread writes every list queued
in the last ``flush_ms`` in one transaction (:func:`store.lists.write_lists`).

What a caller can rely on:

* a list is in the database within about ``flush_ms`` of its response (and at shutdown, when the
  writer is stopped, every queued list is written);
* a list the database refuses (a character it cannot store, a party deleted meanwhile) never holds
  up the others: the batch is retried list by list, the refused one moves to ``impression_dead_letters``
  with the error (:func:`store.lists.write_dead_letter`) and is counted in
  ``capconnect_impression_dead_letters``; the lists still queued are ``capconnect_impression_backlog``;
* nobody waits for the thread: an event quoting a list this process still holds writes that list
  itself, on its own connection (:meth:`write_now`): a queued list is taken from the queue, and one the
  thread is writing at that moment is inserted unless present (whichever commits first stores it; the
  other finds it there);
* if the database is down the lists are kept and retried (at most ``max_queued`` lists wait; beyond
  that a request writes its own list, so memory stays bounded);
* ``flush_ms = 0`` (``CAPCONNECT_IMPRESSION_FLUSH_MS=0``) writes in the request instead.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Collection, Sequence

import psycopg
import psycopg_pool

from api.hygiene import escaped
from api.metrics import Metrics
from store.lists import ServedList, write_dead_letter, write_lists, write_lists_if_absent

logger = logging.getLogger(__name__)

#: Failures that say nothing about the lists (the database is away): keep them and retry.
TRANSIENT = (psycopg.OperationalError, psycopg.InterfaceError, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed)


class Interrupted(Exception):
    """The database went away while writing: ``left`` are the lists not written (nor dead-lettered)."""

    def __init__(self, left: Sequence[ServedList], cause: BaseException) -> None:
        super().__init__(f"{len(left)} list(s) not written: {type(cause).__name__}: {cause}")
        self.left, self.cause = list(left), cause


def store(conn: psycopg.Connection, lists: Sequence[ServedList]) -> int:
    """Write ``lists``; the ones the database refuses go to the dead letters. Returns how many were refused.

    One transaction for the whole batch; when it fails for a reason of its own (not the connection),
    each list is written in a transaction of its own so a bad one cannot hold up the rest.

    Raises:
        Interrupted: the database went away; nothing of ``Interrupted.left`` was written.
    """
    try:
        write_lists(conn, lists)
        return 0
    except TRANSIENT as exc:
        raise Interrupted(lists, exc) from exc
    except Exception as exc:  # a list the database refuses (DataError, IntegrityError, …): find which
        if len(lists) > 1:
            logger.warning("impression log: a batch of %d lists was refused (%s); writing them one by one",
                           len(lists), type(exc).__name__)
        else:
            return _dead_letter(conn, lists[0], exc, lists)
    refused = 0
    for i, sl in enumerate(lists):
        try:
            write_lists(conn, [sl])
        except TRANSIENT as exc:
            raise Interrupted(lists[i:], exc) from exc
        except Exception as exc:
            refused += _dead_letter(conn, sl, exc, lists[i:])
    return refused


def _dead_letter(conn: psycopg.Connection, sl: ServedList, exc: Exception, left: Sequence[ServedList]) -> int:
    if isinstance(exc, psycopg.errors.UniqueViolation):  # its commit was acknowledged too late: already stored
        logger.info("impression log: list %s was already written", sl.id)
        return 0
    error = escaped(f"{type(exc).__name__}: {exc}")
    logger.error("impression log: list %s refused by the database, kept in impression_dead_letters: %s", sl.id, error)
    try:
        with conn.transaction():
            write_dead_letter(conn, sl, error)
    except TRANSIENT as again:
        raise Interrupted(left, again) from again
    return 1


class ImpressionWriter:
    """Batches served lists into the impression log on a thread (see the module docstring)."""

    def __init__(self, pool: psycopg_pool.ConnectionPool, *, flush_ms: float = 20.0, max_queued: int = 10_000,
                 metrics: Metrics | None = None) -> None:
        self.pool, self.flush_s, self.max_queued = pool, flush_ms / 1000.0, max_queued
        self._queue: deque[ServedList] = deque()
        self._pending: set[uuid.UUID] = set()  # queued, or being written by the thread
        self._in_flight: dict[uuid.UUID, ServedList] = {}  # being written (by the thread or a request)
        self._cond = threading.Condition()
        self._stop = False
        self.written = self.dead_letters = 0
        self.metrics = metrics
        if metrics is not None:
            metrics.impression_backlog.set_function(self.backlog)
        self._thread = threading.Thread(target=self._run, name="impression-writer", daemon=True)
        self._thread.start()

    def backlog(self) -> int:
        """Lists not written yet (queued or being written)."""
        with self._cond:
            return len(self._pending)

    def submit(self, served: ServedList) -> None:
        """Queue a list (or write it now when ``max_queued`` lists already wait)."""
        with self._cond:
            if len(self._queue) < self.max_queued and not self._stop:
                self._queue.append(served)
                self._pending.add(served.id)
                self._cond.notify_all()
                return
        try:
            with self.pool.connection() as conn:  # back-pressure: the request pays for its own list
                self._count(store(conn, [served]), 1)
        except Interrupted as exc:
            raise exc.cause from exc  # the database is away: the request answers 503

    def pending(self, list_id: uuid.UUID) -> bool:
        """Whether a list this process served is not written yet."""
        with self._cond:
            return list_id in self._pending

    def write_now(self, conn: psycopg.Connection, list_ids: Collection[uuid.UUID]) -> None:
        """Write the lists among ``list_ids`` this process still holds, on ``conn``, now: queued ones are taken
        off the queue (the thread never sees them), ones being written (by the thread, or by another request
        quoting the same list) are inserted unless present.

        Raises:
            Interrupted: the database went away (the lists are queued again, nothing is lost).
        """
        with self._cond:
            racing = [self._in_flight[i] for i in list_ids if i in self._in_flight]
            mine = [sl for sl in self._queue if sl.id in list_ids]
            if mine:
                taken = {sl.id for sl in mine}
                self._queue = deque(sl for sl in self._queue if sl.id not in taken)
                self._in_flight.update((sl.id, sl) for sl in mine)
        if mine:
            try:
                refused = store(conn, mine)
            except Interrupted as exc:
                self._requeue(mine, exc.left)
                raise
            self._done(mine, refused)
        if racing:
            try:
                write_lists_if_absent(conn, racing)
            except TRANSIENT as exc:
                raise Interrupted([], exc) from exc  # the thread still holds them
            except Exception as exc:  # refused: the thread moves it to the dead letters
                logger.warning("impression log: lists %s not written by the request: %s: %s",
                               [str(sl.id) for sl in racing], type(exc).__name__, escaped(str(exc)))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every list queued before this call is written; ``False`` on timeout (for tests and
        tools: no request waits for the thread)."""
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
                self._queue.clear()  # taken: being written by this thread
                self._in_flight.update((sl.id, sl) for sl in batch)
            if not batch:
                continue
            try:
                with self.pool.connection() as conn:
                    refused = store(conn, batch)
            except (Interrupted, *TRANSIENT) as exc:
                left = exc.left if isinstance(exc, Interrupted) else batch
                logger.warning("impression log: %d list(s) not written yet (%s); retrying", len(left), exc)
                self._requeue(batch, left)
                with self._cond:
                    if self._stop:
                        logger.error("impression log: %d list(s) lost at shutdown", len(self._queue))
                        return
                    self._cond.wait(delay)  # a stop cuts the back-off short
                delay = min(delay * 2, 2.0)
                continue
            delay = 0.05
            self._done(batch, refused)

    def _requeue(self, taken: Sequence[ServedList], left: Sequence[ServedList]) -> None:
        """Put ``left`` (of the ``taken`` lists) back at the head of the queue, in order; the rest are written."""
        with self._cond:
            for sl in taken:
                self._in_flight.pop(sl.id, None)
            self._queue.extendleft(reversed(left))
            self._pending -= {sl.id for sl in taken} - {sl.id for sl in left}
            self._cond.notify_all()

    def _done(self, lists: Sequence[ServedList], refused: int) -> None:
        with self._cond:
            for sl in lists:
                self._in_flight.pop(sl.id, None)
            self._pending -= {sl.id for sl in lists}
            self._count(refused, len(lists))
            self._cond.notify_all()

    def _count(self, refused: int, total: int) -> None:
        self.written += total - refused
        self.dead_letters += refused
        if refused and self.metrics is not None:
            self.metrics.impression_dead_letters.inc(refused)
