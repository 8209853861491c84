"""The retraining worker, ``capconnect worker``: runs the jobs the API queued in ``model_jobs``, outside the service.

``POST /v1/models/retrain`` only writes a ``queued`` row (:func:`store.jobs.enqueue`). A worker takes the job
lock, marks failed the jobs a stopped worker left ``running``, claims the oldest queued job, trains
(:func:`training.pipeline.train`, its stage messages written to the row as they come), registers the version
and, when asked, promotes it through the one promotion path (:func:`store.registry.promote`). Serving processes
notice the new active version themselves (their poller reads the registry every ``model_poll_seconds``), so
training never runs, nor loads LightGBM and the report's plotting, in a process that serves requests.

:meth:`Worker.run_once` drains the queue and returns (``capconnect worker --once``, tests);
:meth:`Worker.run` waits for work (a notice from :func:`store.jobs.enqueue`, or every ``poll_seconds``) until
stopped. A stop while a job runs ends that job as failed with :data:`STOPPED`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from matching.config import Settings
from matching.ranking.promotion import PromotionRefused
from matching.retrieval.encoder.encoder import TextEncoder, load_serving_encoder
from store import jobs as jobs_db
from store import registry

logger = logging.getLogger(__name__)
STOPPED = "stopped: the worker was shut down while it ran; ask again (POST /v1/models/retrain)"


class WorkerStopped(BaseException):
    """Raised in the worker's thread when it is told to stop while a job runs (a BaseException, like
    KeyboardInterrupt, so no ``except Exception`` on the way swallows it)."""


@dataclass
class Job:
    """The running job, as the work function sees it.

    Attributes:
        id: the job id (uuid4 hex).
        params: what was asked (seed, version, promote).
        say: records a stage message in the job's row.
        version: the version trained (the work sets it).
        promoted: whether it was promoted (the work sets it).
        metrics: the trained version's metrics (the work sets them).
    """

    id: str
    params: dict[str, Any]
    say: Callable[[str], None] = field(repr=False, default=lambda message: None)
    version: str | None = None
    promoted: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)


class Worker:
    """Runs queued retraining jobs, one at a time across every worker.

    Args:
        settings: paths (``models_dir``, ``data_dir``), the encoder.
        database_url: where the jobs, the market and the registry are.
        encoder: the encoder to train with (default: the serving encoder, loaded at the first job and kept).
    """

    def __init__(self, settings: Settings, database_url: str, *, encoder: TextEncoder | None = None) -> None:
        self.settings, self.database_url = settings, database_url
        self._encoder = encoder

    @property
    def encoder(self) -> TextEncoder:
        """The encoder jobs train with (the service's, so a promoted version serves without re-encoding)."""
        if self._encoder is None:
            self._encoder = load_serving_encoder(self.settings)
        return self._encoder

    def run_once(self) -> int:
        """Run every queued job, then return how many ran (``0`` also when another worker is running one)."""
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return self._drain(conn)

    def run(self, stop: threading.Event, poll_seconds: float = 5.0) -> None:
        """Run jobs as they are queued until ``stop`` is set (a lost database is waited for, not fatal)."""
        while not stop.is_set():
            try:
                with psycopg.connect(self.database_url, autocommit=True) as conn:
                    jobs_db.listen(conn)
                    while not stop.is_set():
                        self._drain(conn)
                        jobs_db.wait_for_jobs(conn, poll_seconds)
            except psycopg.Error as exc:  # down, restarting, not migrated yet: the service brings it up
                logger.warning("retraining worker: the database is not ready (%s: %s); retrying in %.0f s",
                               type(exc).__name__, exc, poll_seconds)
                stop.wait(poll_seconds)

    @staticmethod
    def interrupt() -> None:
        """Stop now, from a signal handler in the worker's thread: a running job ends as failed (:data:`STOPPED`)."""
        raise WorkerStopped

    def _drain(self, conn: psycopg.Connection) -> int:
        if not jobs_db.try_lock(conn):
            return 0  # another worker is running a job; it drains the queue after it
        ran = 0
        try:
            if abandoned := jobs_db.abandon_running(conn):
                logger.warning("%d retraining job(s) abandoned by a stopped worker marked failed", abandoned)
            while (row := jobs_db.claim(conn)) is not None:
                self._run(conn, row)
                ran += 1
        finally:
            if not conn.closed:
                jobs_db.unlock(conn)
        return ran

    def _run(self, conn: psycopg.Connection, row: dict[str, Any]) -> None:
        job = Job(row["id"], row["params"] or {}, say=lambda message: self._record(jobs_db.say, conn, row["id"],
                                                                                   message))
        logger.info("retraining job %s started: %s", job.id, job.params)
        error = None
        try:
            self.work(conn, job)
        except WorkerStopped:
            error = STOPPED
            raise
        except Exception as exc:  # the job records every failure; the worker lives on
            logger.exception("retraining job %s failed", job.id)
            error = f"{type(exc).__name__}: {exc}"
        finally:
            self._record(jobs_db.finish, conn, job.id, version=job.version, metrics=job.metrics,
                         promoted=job.promoted, error=error)
            logger.info("retraining job %s %s", job.id, f"failed: {error}" if error else f"trained {job.version}")

    def work(self, conn: psycopg.Connection, job: Job) -> None:
        """Train, register and (when asked and the gate allows) promote; fills ``job``'s outcome."""
        from training import pipeline  # looked up at each job (tests replace pipeline.train)

        p = job.params
        encoder = self.encoder
        result = pipeline.train(self.settings, conn, seed=p.get("seed", 0), version=p.get("version"),
                                encoder=encoder, show_progress=False, register=True, progress=job.say)
        job.version, job.metrics = result.version, result.metrics
        if p.get("promote"):
            try:
                registry.promote(conn, result.version, encoder_id=encoder.encoder_id)
            except PromotionRefused as exc:
                job.say(f"not promoted: {exc}")
                return
            job.promoted = True

    def _record(self, fn: Callable[..., None], conn: psycopg.Connection, *args: Any, **kwargs: Any) -> None:
        """Write to the job's row; on a fresh connection when the job's own one broke (a stop mid-query)."""
        try:
            fn(conn, *args, **kwargs)
            return
        except psycopg.Error as exc:
            logger.warning("retraining job: could not record %s on the job's connection: %s", fn.__name__, exc)
        try:
            with psycopg.connect(self.database_url, autocommit=True) as fresh:
                fn(fresh, *args, **kwargs)
        except psycopg.Error:
            logger.exception("retraining job: could not record %s", fn.__name__)


def run_once(settings: Settings, database_url: str | None = None, *, encoder: TextEncoder | None = None) -> int:
    """Run every queued job in this process and return how many ran (tests, ``capconnect worker --once``)."""
    url = database_url or settings.database_url
    if not url:
        raise ValueError("run_once needs a database URL: set CAPCONNECT_DATABASE_URL or pass database_url")
    return Worker(settings, url, encoder=encoder).run_once()
