"""SQL for the model registry (``model_versions``): register, list, read, activate, promote, roll back.

At most one version is ``active`` (a partial unique index enforces it). Activation retires the
active version and activates the new one in one transaction, so a reader sees either the old or
the new version, never none and never two. :func:`promote` and :func:`rollback` are the one way a
version becomes active (the API, the console, ``capconnect models`` and the retraining worker call
them): they read the rows, ask the pure gate of :mod:`matching.ranking.promotion`, then activate.
Serving processes notice the new active version by polling :func:`active_version`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from matching.ranking.bundle import json_safe
from matching.ranking.promotion import PromotionRefused, check_promotion, rollback_target, verify
from store import artifacts

logger = logging.getLogger(__name__)

_COLUMNS = "version, path, status, created_at, activated_at, manifest, metrics"


@dataclass
class ModelVersion:
    """One registered model version."""

    version: str
    path: str
    status: str  # candidate | active | retired | rejected
    created_at: datetime
    activated_at: datetime | None
    manifest: dict[str, Any]
    metrics: dict[str, Any]


def _row(r: dict[str, Any]) -> ModelVersion:
    return ModelVersion(r["version"], r["path"], r["status"], r["created_at"], r["activated_at"],
                        r["manifest"] or {}, r["metrics"] or {})


def _json(value: dict[str, Any]) -> Jsonb:
    return Jsonb(json_safe(value))


def register(conn: psycopg.Connection, version: str, path: str, manifest: dict[str, Any],
             metrics: dict[str, Any]) -> ModelVersion:
    """Insert a new ``candidate`` version (committed by the caller's transaction), with the files of ``path``
    (:func:`store.artifacts.save`) so that any service machine can load it.

    Raises:
        psycopg.errors.UniqueViolation: the version name is taken.
    """
    row = conn.cursor(row_factory=dict_row).execute(
        f"INSERT INTO model_versions (version, path, manifest, metrics) VALUES (%s, %s, %s, %s) "
        f"RETURNING {_COLUMNS}", (version, path, _json(manifest), _json(metrics))).fetchone()
    if Path(path).is_dir():  # its files, for the machines that did not train it (store.artifacts)
        size = artifacts.save(conn, version, Path(path))
        logger.info("model %s registered; its files kept in the database (%d bytes)", version, size)
    return _row(row)


def list_versions(conn: psycopg.Connection) -> list[ModelVersion]:
    """All versions, newest first."""
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_versions ORDER BY created_at DESC, version DESC").fetchall()
    return [_row(r) for r in rows]


def get_version(conn: psycopg.Connection, version: str) -> ModelVersion | None:
    """One version, or ``None``."""
    row = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_versions WHERE version = %s", (version,)).fetchone()
    return _row(row) if row else None


def active_version(conn: psycopg.Connection) -> ModelVersion | None:
    """The active version, or ``None`` before the first promotion."""
    row = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_versions WHERE status = 'active'").fetchone()
    return _row(row) if row else None


def activation_history(conn: psycopg.Connection) -> list[ModelVersion]:
    """Versions that were ever active, most recently activated first."""
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM model_versions WHERE activated_at IS NOT NULL "
        f"ORDER BY activated_at DESC").fetchall()
    return [_row(r) for r in rows]


def activate(conn: psycopg.Connection, version: str) -> ModelVersion:
    """Retire the active version and activate ``version`` in one transaction.

    Raises:
        KeyError: no such version.
    """
    with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        cur.execute("LOCK TABLE model_versions IN SHARE ROW EXCLUSIVE MODE")
        if cur.execute("SELECT 1 FROM model_versions WHERE version = %s", (version,)).fetchone() is None:
            raise KeyError(version)
        cur.execute("UPDATE model_versions SET status = 'retired' WHERE status = 'active' AND version <> %s",
                    (version,))
        row = cur.execute(
            f"UPDATE model_versions SET status = 'active', activated_at = now() WHERE version = %s "
            f"RETURNING {_COLUMNS}", (version,)).fetchone()
    return _row(row)


def set_status(conn: psycopg.Connection, version: str, status: str, metrics: dict[str, Any] | None = None) -> None:
    """Mark a version ``rejected`` / ``candidate`` (optionally storing comparison metrics)."""
    if metrics is None:
        conn.execute("UPDATE model_versions SET status = %s WHERE version = %s", (status, version))
    else:
        conn.execute("UPDATE model_versions SET status = %s, metrics = %s WHERE version = %s",
                     (status, _json(metrics), version))


def _lookup(conn: psycopg.Connection, version: str) -> ModelVersion:
    mv = get_version(conn, version)
    if mv is None:
        known = ", ".join(v.version for v in list_versions(conn)[:10]) or "none yet"
        raise PromotionRefused(f"no model version {version!r} (known: {known}); `capconnect models list` shows them")
    return mv


def promote(conn: psycopg.Connection, version: str, *, force: bool = False,
            encoder_id: str | None = None) -> ModelVersion:
    """Make ``version`` the active model when the gate lets it (:func:`~matching.ranking.promotion.check_promotion`).

    Args:
        conn: the database holding ``model_versions``.
        version: the candidate.
        force: promote even when it does not beat the active version (the artifact is still checked).
        encoder_id: the encoder serving; a model trained with another encoder is refused.

    Raises:
        PromotionRefused: unknown version, an artifact that does not load, or a model that does not
            beat the active one on the same holdout rows (without ``force``).
    """
    mv = _lookup(conn, version)
    active = active_version(conn)
    check_promotion(mv, active, force=force, encoder_id=encoder_id)
    new = activate(conn, version)
    logger.info("promoted %s (was %s)", version, active.version if active else "none")
    return new


def rollback(conn: psycopg.Connection, to: str | None = None, *, encoder_id: str | None = None) -> ModelVersion:
    """Re-activate ``to``, or the version active before the current one.

    Raises:
        PromotionRefused: nothing to roll back to, an unknown version, or an artifact that does not load.
    """
    active = active_version(conn)
    target = rollback_target(active, activation_history(conn), _lookup(conn, to) if to is not None else None)
    verify(target, encoder_id)
    new = activate(conn, target.version)
    logger.info("rolled back to %s (was %s)", target.version, active.version if active else "none")
    return new
