"""Background retraining jobs: one at a time across every worker, each a row of ``model_jobs``.

``POST /v1/models/retrain`` calls :meth:`JobRunner.submit`: on a connection of its own it takes the job lock
(:mod:`store.jobs`; another worker's running job holds it, and the request is refused with
:class:`JobBusy`), marks failed the jobs a stopped process left queued or running, writes the new row and
hands the connection to a thread that runs the job (training takes minutes; the pool is for requests). The
lock goes when the job ends or its process dies, so a crash never blocks retraining for good. The row,
not this process, is the record: ``GET /v1/models/jobs/{id}`` reads it in any worker.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import psycopg_pool

from store import jobs as jobs_db

logger = logging.getLogger(__name__)


class JobBusy(Exception):
    """A job is queued or running already (``job``: its row, ``None`` if it ended meanwhile)."""

    def __init__(self, job: dict[str, Any] | None) -> None:
        super().__init__("a retraining job is running")
        self.job = job


@dataclass
class Job:
    """The running job, as the work function sees it.

    Attributes:
        id: the job id (uuid4 hex).
        params: what was asked (seed, version, promote).
        version: the version trained (the work sets it).
        promoted: whether it was promoted and now serves (the work sets it).
        metrics: the trained version's metrics (the work sets them).
    """

    id: str
    params: dict[str, Any]
    say: Callable[[str], None] = field(repr=False, default=lambda message: None)
    version: str | None = None
    promoted: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


class JobRunner:
    """Starts jobs, one at a time, each on a daemon thread.

    Args:
        pool: the service's pool (short writes: stage messages, the outcome).
        database_url: where the job's own connection (which holds the lock) goes.
        work: ``work(job)`` does the job and fills ``version``/``metrics``/``promoted``; raising fails it.
    """

    def __init__(self, pool: psycopg_pool.ConnectionPool, database_url: str, work: Callable[[Job], None]) -> None:
        self.pool, self.database_url, self.work = pool, database_url, work
        self._threads: list[threading.Thread] = []

    def submit(self, params: dict[str, Any], requested_by: str) -> dict[str, Any]:
        """Queue a job and return its row.

        Raises:
            JobBusy: a job is queued or running (in this worker or another).
        """
        conn = psycopg.connect(self.database_url, autocommit=True)
        try:
            if not jobs_db.try_lock(conn):
                raise JobBusy(jobs_db.active(conn))
            if abandoned := jobs_db.abandon_orphans(conn):
                logger.warning("%d retraining job(s) abandoned by a stopped process marked failed", abandoned)
            row = jobs_db.create(conn, job_id=uuid.uuid4().hex, params=params, requested_by=requested_by)
        except BaseException:
            conn.close()
            raise
        thread = threading.Thread(target=self._run, args=(row["id"], params, conn), name="retrain-job", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return row

    def get(self, job_id: str) -> dict[str, Any] | None:
        """A job's row by id."""
        with self.pool.connection() as conn:
            return jobs_db.get(conn, job_id)

    def stop(self, timeout: float = 1.0) -> None:
        """Wait briefly for running jobs (a training is not interrupted; a process that exits leaves its row to
        :func:`store.jobs.abandon_orphans`)."""
        for thread in self._threads:
            thread.join(timeout=timeout)

    def _write(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        try:
            with self.pool.connection() as conn:
                fn(conn, *args, **kwargs)
        except (psycopg.Error, psycopg_pool.PoolTimeout, psycopg_pool.PoolClosed):
            logger.exception("retrain job: could not record %s", fn.__name__)

    def _run(self, job_id: str, params: dict[str, Any], conn: psycopg.Connection) -> None:
        job = Job(job_id, params, say=lambda message: self._write(jobs_db.say, job_id, message))
        error = None
        try:
            self._write(jobs_db.started, job_id)
            self.work(job)
        except Exception as exc:  # the job records every failure; the service lives on
            logger.exception("retrain job %s failed", job_id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self._write(jobs_db.finish, job_id, version=job.version, metrics=job.metrics, promoted=job.promoted,
                        error=error)
            conn.close()  # releases the job lock
