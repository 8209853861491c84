"""Background retraining jobs: one worker thread, jobs run one at a time, their status kept in memory.

``POST /v1/models/retrain`` queues a :class:`Job`; the worker runs :func:`training.pipeline.train` on a
connection of its own (training holds it for minutes; the pool is for requests), optionally promotes
the result, and records each stage's message. Jobs are lost on restart (the versions they registered
are not): the registry, not this list, is the record of models.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

logger = logging.getLogger(__name__)
JobStatus = Literal["queued", "running", "succeeded", "failed"]
MAX_LOG_LINES = 200


@dataclass
class Job:
    """One retraining job.

    Attributes:
        id: the job id (uuid4 hex).
        params: what was asked (seed, version, promote).
        status: queued, running, succeeded or failed.
        created_at, started_at, finished_at: times (UTC).
        version: the version trained (once known).
        promoted: whether it was promoted and now serves.
        metrics: the trained version's metrics.
        error: why it failed.
        log: the pipeline's stage messages.
    """

    id: str
    params: dict[str, Any]
    status: JobStatus = "queued"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    started_at: datetime | None = None
    finished_at: datetime | None = None
    version: str | None = None
    promoted: bool = False
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    log: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        """Append a stage message (bounded)."""
        if len(self.log) < MAX_LOG_LINES:
            self.log.append(message)


class JobRunner:
    """Runs jobs one at a time on a daemon thread.

    Args:
        work: ``work(job)`` does the job and fills ``version``/``metrics``/``promoted``; raising fails it.
    """

    def __init__(self, work: Callable[[Job], None]) -> None:
        self.work = work
        self.jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="retrain-jobs", daemon=True)
        self._thread.start()

    def submit(self, params: dict[str, Any]) -> Job:
        """Queue a job and return it."""
        job = Job(uuid.uuid4().hex, params)
        self.jobs[job.id] = job
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        """A job by id."""
        return self.jobs.get(job_id)

    def stop(self, timeout: float = 1.0) -> None:
        """Ask the worker to stop after the current job (a running training is not interrupted)."""
        self._queue.put(None)
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            job.status, job.started_at = "running", datetime.now(UTC)
            try:
                self.work(job)
                job.status = "succeeded"
            except Exception as exc:  # the job records every failure; the thread lives on
                logger.exception("retrain job %s failed", job.id)
                job.status, job.error = "failed", f"{type(exc).__name__}: {exc}"
            job.finished_at = datetime.now(UTC)
