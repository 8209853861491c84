"""Retraining jobs as rows of ``model_jobs`` (migration 0006): the queue between the API, which enqueues and
reads them, and ``capconnect worker``, which runs them (:mod:`training.worker`).

At most one job is queued or running (a partial unique index, ``model_jobs_one_at_a_time``). A worker holds the
advisory lock :data:`JOB_LOCK` on its connection from before it claims a job until the job ends, so a
``running`` row whose lock nobody holds belongs to a worker that stopped: :func:`abandon_running` marks it
failed, called by the next worker (:func:`claim`'s caller) or by :func:`enqueue`. :func:`enqueue` notifies
:data:`CHANNEL`, which a waiting worker listens on (:func:`wait_for_jobs`).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: The advisory lock held by the connection running a job (an arbitrary constant: "capretrn").
JOB_LOCK = 0x6361707265747200
#: The channel :func:`enqueue` notifies and workers listen on.
CHANNEL = "capconnect_model_jobs"
MAX_LOG_LINES = 200
ABANDONED = "abandoned: the process running it stopped"
_COLUMNS = ("id, status, params, requested_by, created_at, started_at, finished_at, version, promoted, metrics, "
            "error, log")


class JobBusy(Exception):
    """A job is queued or running already (``job``: its row, ``None`` if it ended meanwhile)."""

    def __init__(self, job: dict[str, Any] | None) -> None:
        super().__init__("a retraining job is queued or running")
        self.job = job


def enqueue(conn: psycopg.Connection, *, job_id: str, params: dict[str, Any], requested_by: str) -> dict[str, Any]:
    """Queue a job and return its row (the row is the record: any process reads it by id).

    A ``running`` job whose worker stopped is marked failed first (nobody holds :data:`JOB_LOCK`).

    Raises:
        JobBusy: a job is queued or running.
    """
    try:
        with conn.transaction():
            if _try_lock(conn, "pg_try_advisory_xact_lock"):  # no worker is running a job right now
                abandon_running(conn)
            if (busy := active(conn)) is not None:
                raise JobBusy(busy)
            row = conn.cursor(row_factory=dict_row).execute(
                f"INSERT INTO model_jobs (id, params, requested_by) VALUES (%s, %s, %s) RETURNING {_COLUMNS}",
                (job_id, Jsonb(params), requested_by)).fetchone()
            conn.execute(sql.SQL("NOTIFY {}").format(sql.Identifier(CHANNEL)))
    except psycopg.errors.UniqueViolation as exc:  # another request queued one in the meantime
        raise JobBusy(active(conn)) from exc
    assert row is not None
    return row


def get(conn: psycopg.Connection, job_id: str) -> dict[str, Any] | None:
    """A job by id."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_jobs WHERE id = %s", (job_id,)).fetchone()


def active(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The queued or running job, if any."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_jobs WHERE status IN ('queued', 'running')").fetchone()


# -- the worker's side ----------------------------------------------------------------------------------------
def try_lock(conn: psycopg.Connection) -> bool:
    """Take the job lock on ``conn`` until :func:`unlock` or the connection closes; ``False`` when another worker
    holds it (that worker is running a job)."""
    return _try_lock(conn, "pg_try_advisory_lock")


def unlock(conn: psycopg.Connection) -> None:
    """Release the job lock :func:`try_lock` took."""
    conn.execute("SELECT pg_advisory_unlock(%s)", (JOB_LOCK,))


def abandon_running(conn: psycopg.Connection) -> int:
    """Mark failed every running job (call it holding the lock: then none of them is really running)."""
    cur = conn.execute("UPDATE model_jobs SET status = 'failed', error = %s, finished_at = now() "
                       "WHERE status = 'running'", (ABANDONED,))
    return cur.rowcount


def claim(conn: psycopg.Connection) -> dict[str, Any] | None:
    """Mark the oldest queued job running and return its row (``None``: the queue is empty)."""
    return conn.cursor(row_factory=dict_row).execute(
        f"UPDATE model_jobs SET status = 'running', started_at = now() WHERE id = ("
        f"SELECT id FROM model_jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
        f"RETURNING {_COLUMNS}").fetchone()


def say(conn: psycopg.Connection, job_id: str, message: str) -> None:
    """Append a stage message, the job's progress (the first :data:`MAX_LOG_LINES` are kept)."""
    conn.execute("UPDATE model_jobs SET log = log || %s::text WHERE id = %s AND cardinality(log) < %s",
                 (message, job_id, MAX_LOG_LINES))


def finish(conn: psycopg.Connection, job_id: str, *, version: str | None, metrics: dict[str, Any], promoted: bool,
           error: str | None) -> None:
    """Record the outcome: ``succeeded`` without ``error``, else ``failed``."""
    conn.execute("UPDATE model_jobs SET status = %s, finished_at = now(), version = %s, metrics = %s, promoted = %s, "
                 "error = %s WHERE id = %s",
                 ("failed" if error else "succeeded", version, Jsonb(metrics), promoted, error, job_id))


def listen(conn: psycopg.Connection) -> None:
    """Subscribe ``conn`` (autocommit) to :data:`CHANNEL`."""
    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))


def wait_for_jobs(conn: psycopg.Connection, seconds: float) -> bool:
    """Wait up to ``seconds`` for a notice on a :func:`listen`-ing connection; whether one came."""
    return any(True for _ in conn.notifies(timeout=seconds, stop_after=1))


def _try_lock(conn: psycopg.Connection, function: str) -> bool:
    row = conn.execute(f"SELECT {function}(%s)", (JOB_LOCK,)).fetchone()
    return bool(row and row[0])
