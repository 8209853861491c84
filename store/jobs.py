"""Retraining jobs as rows of ``model_jobs`` (migration 0006), so every worker sees the same jobs and a restart
loses none of them.

At most one job is queued or running: the connection that runs it holds the advisory lock :data:`JOB_LOCK`
from before the row is written until the job ends (:func:`try_lock`). A queued or running row whose lock
nobody holds belongs to a process that stopped: :func:`abandon_orphans` marks it failed.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: The advisory lock held by the connection running the job (an arbitrary constant: "capretrn").
JOB_LOCK = 0x6361707265747200
MAX_LOG_LINES = 200
ABANDONED = "abandoned: the process running it stopped"
_COLUMNS = ("id, status, params, requested_by, created_at, started_at, finished_at, version, promoted, metrics, "
            "error, log")


def try_lock(conn: psycopg.Connection) -> bool:
    """Take the job lock on ``conn`` (held until released or the connection closes); ``False`` when taken."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (JOB_LOCK,)).fetchone()
    return bool(row and row[0])


def abandon_orphans(conn: psycopg.Connection) -> int:
    """Mark failed every queued or running job (call it holding the lock: then none of them is running)."""
    cur = conn.execute("UPDATE model_jobs SET status = 'failed', error = %s, finished_at = now() "
                       "WHERE status IN ('queued', 'running')", (ABANDONED,))
    return cur.rowcount


def active(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The queued or running job, if any."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_jobs WHERE status IN ('queued', 'running')").fetchone()


def create(conn: psycopg.Connection, *, job_id: str, params: dict[str, Any], requested_by: str) -> dict[str, Any]:
    """Insert a queued job and return its row."""
    row = conn.cursor(row_factory=dict_row).execute(
        f"INSERT INTO model_jobs (id, params, requested_by) VALUES (%s, %s, %s) RETURNING {_COLUMNS}",
        (job_id, Jsonb(params), requested_by)).fetchone()
    assert row is not None
    return row


def get(conn: psycopg.Connection, job_id: str) -> dict[str, Any] | None:
    """A job by id."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_jobs WHERE id = %s", (job_id,)).fetchone()


def started(conn: psycopg.Connection, job_id: str) -> None:
    """The job runs now."""
    conn.execute("UPDATE model_jobs SET status = 'running', started_at = now() WHERE id = %s", (job_id,))


def say(conn: psycopg.Connection, job_id: str, message: str) -> None:
    """Append a stage message (the first :data:`MAX_LOG_LINES` are kept)."""
    conn.execute("UPDATE model_jobs SET log = log || %s::text WHERE id = %s AND cardinality(log) < %s",
                 (message, job_id, MAX_LOG_LINES))


def finish(conn: psycopg.Connection, job_id: str, *, version: str | None, metrics: dict[str, Any], promoted: bool,
           error: str | None) -> None:
    """Record the outcome: ``succeeded`` without ``error``, else ``failed``."""
    conn.execute("UPDATE model_jobs SET status = %s, finished_at = now(), version = %s, metrics = %s, promoted = %s, "
                 "error = %s WHERE id = %s",
                 ("failed" if error else "succeeded", version, Jsonb(metrics), promoted, error, job_id))
