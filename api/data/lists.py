"""The impression log: every served list and its items (:func:`write_lists`; the service batches them in
:class:`api.impressions.ImpressionWriter`)."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import psycopg

from matching.matcher import MatchList

Side = Literal["investor", "enterprise", "secondary", "search"]


def _finite(features: Mapping[str, float | None]) -> dict[str, float | None]:
    """JSON has no NaN or infinity: such values are stored as null."""
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in features.items()}


@dataclass(frozen=True)
class ServedList:
    """One list ready for the impression log: the ``served_lists`` row and its item rows."""

    id: uuid.UUID
    header: tuple[Any, ...]
    items: list[tuple[Any, ...]]


def served_list(result: MatchList, *, side: Side, investor_id: int | None, enterprise_id: int | None,
                api_key_id: int | None, registered_model: bool, query: dict[str, Any]) -> ServedList:
    """The rows of a served list, with a new list id (see :func:`log_list` for the arguments)."""
    list_id = uuid.uuid4()
    items = [(list_id, it.position, it.enterprise_id, it.investor_id, it.need_id, it.secondary_id, float(it.score),
              list(it.sources), json.dumps(_finite(it.features))) for it in result.items]
    header = (list_id, side, investor_id, enterprise_id, api_key_id, result.model_version if registered_model else None,
              json.dumps({**query, "model_version": result.model_version, "direction": result.direction}))
    return ServedList(list_id, header, items)


def write_lists(conn: psycopg.Connection, lists: Sequence[ServedList]) -> None:
    """Insert served lists and their items in one transaction (two COPY round trips, whatever the count).

    An impression is a log line, not a write a user was promised: the commit does not wait for the
    WAL flush (visible at once; a database crash may lose the last fraction of a second of lists).
    Events, which users are promised, keep full durability.
    """
    if not lists:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL synchronous_commit = off")
        with cur.copy("COPY served_lists (id, side, investor_id, enterprise_id, api_key_id, model_version, query) "
                      "FROM STDIN") as copy:
            for sl in lists:
                copy.write_row(sl.header)
        with cur.copy("COPY served_list_items (list_id, position, enterprise_id, investor_id, need_id, "
                      "secondary_id, score, sources, features) FROM STDIN") as copy:
            for sl in lists:
                for row in sl.items:
                    copy.write_row(row)


def log_list(conn: psycopg.Connection, result: MatchList, *, side: Side, investor_id: int | None,
             enterprise_id: int | None, api_key_id: int | None, registered_model: bool,
             query: dict[str, Any]) -> uuid.UUID:
    """Insert a served list and its items in one transaction now; return the new list id.

    Args:
        conn: an autocommit connection (the transaction is opened here).
        result: the list served.
        side: ``investor`` (a deal list), ``enterprise`` (suggested investors), ``secondary``, ``search``.
        investor_id, enterprise_id: who the list was for.
        api_key_id: the key that asked.
        registered_model: whether ``result.model_version`` is a row of ``model_versions`` (the content +
            rules score is not; its name is kept in ``query``).
        query: what was asked (filters, k, text, caller's role), stored as jsonb.
    """
    sl = served_list(result, side=side, investor_id=investor_id, enterprise_id=enterprise_id, api_key_id=api_key_id,
                     registered_model=registered_model, query=query)
    write_lists(conn, [sl])
    return sl.id


def exposure_counts(conn: psycopg.Connection, now: datetime, days: int = 30) -> dict[int, int]:
    """How often each enterprise was shown in the last ``days`` (feeds the matcher's exposure cap)."""
    rows = conn.execute(
        "SELECT i.enterprise_id, count(*) FROM served_list_items i JOIN served_lists l ON l.id = i.list_id "
        "WHERE l.created_at >= %s AND i.enterprise_id IS NOT NULL GROUP BY i.enterprise_id",
        (now - timedelta(days=days),)).fetchall()
    return {int(e): int(n) for e, n in rows}


def is_registered(conn: psycopg.Connection, version: str) -> bool:
    """Whether a model version is in the registry."""
    return conn.execute("SELECT 1 FROM model_versions WHERE version = %s", (version,)).fetchone() is not None
