"""The impression log: every served list and its items (:func:`write_lists`; the service batches them in
:class:`api.impressions.ImpressionWriter`)."""

from __future__ import annotations

import json
import math
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import psycopg

from matching.serving.results import MatchList
from store.exposure import shown_in_period

Side = Literal["investor", "enterprise", "secondary", "search"]


def _finite(features: Mapping[str, float | None]) -> dict[str, float | None]:
    """JSON has no NaN or infinity: such values are stored as null."""
    return {k: (None if v is None or not math.isfinite(v) else float(v)) for k, v in features.items()}


def new_list_id(now: datetime | None = None) -> uuid.UUID:
    """A new list id: a UUID version 7 (RFC 9562), 48 bits of Unix milliseconds then 74 random bits.

    The time in the id says when the list was served, so an event quoting a list not in the log yet
    can be told apart from one quoting no list at all (:func:`served_at`); ids in time order also keep
    the primary key's inserts at the right edge of its index.
    """
    ms = int((now or datetime.now(UTC)).timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 of them kept
    value = (ms << 80) | (0x7 << 76) | (((rand >> 64) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return uuid.UUID(int=value)


def served_at(list_id: uuid.UUID) -> datetime | None:
    """When a list was served, read from its id (``None`` for ids that carry no time: not version 7)."""
    if list_id.version != 7:
        return None
    return datetime.fromtimestamp((list_id.int >> 80) / 1000, UTC)


@dataclass(frozen=True)
class ServedList:
    """One list ready for the impression log: the ``served_lists`` row and its item rows."""

    id: uuid.UUID
    header: tuple[Any, ...]
    items: list[tuple[Any, ...]]


def served_list(result: MatchList, *, side: Side, investor_id: int | None, enterprise_id: int | None,
                api_key_id: int | None, registered_model: bool, query: dict[str, Any]) -> ServedList:
    """The rows of a served list, with a new list id.

    Args:
        result: the list served.
        side: ``investor`` (a deal list), ``enterprise`` (suggested investors), ``secondary``, ``search``.
        investor_id, enterprise_id: who the list was for.
        api_key_id: the key that asked.
        registered_model: whether ``result.model_version`` is a row of ``model_versions`` (the content +
            rules score is not; its name is kept in ``query``).
        query: what was asked (filters, k, text, caller's role), stored as jsonb.
    """
    list_id = new_list_id()
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


def write_lists_if_absent(conn: psycopg.Connection, lists: Sequence[ServedList]) -> None:
    """Insert served lists that may be written at the same moment by the impression writer: rows already
    there are left alone (``ON CONFLICT DO NOTHING``; a row the writer has not committed yet is waited for
    by PostgreSQL, then left alone). Slower than :func:`write_lists`; for the few lists an event needs now."""
    if not lists:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("INSERT INTO served_lists (id, side, investor_id, enterprise_id, api_key_id, model_version, "
                        "query) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                        [sl.header for sl in lists])
        cur.executemany("INSERT INTO served_list_items (list_id, position, enterprise_id, investor_id, need_id, "
                        "secondary_id, score, sources, features) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (list_id, position) DO NOTHING", [row for sl in lists for row in sl.items])


def write_dead_letter(conn: psycopg.Connection, served: ServedList, error: str) -> None:
    """Keep a list the database refused in ``impression_dead_letters``: its rows as JSON text (ASCII, so any
    character survives as an escape) and the error."""
    payload = json.dumps({"header": served.header, "items": served.items}, default=str, ensure_ascii=True)
    conn.execute("INSERT INTO impression_dead_letters (list_id, payload, error) VALUES (%s, %s, %s)",
                 (served.id, payload, error))


def exposure_counts(conn: psycopg.Connection, now: datetime, days: int = 30) -> dict[int, int]:
    """How often each enterprise was shown in the UTC days from ``days`` ago to today (feeds the matcher's exposure
    cap): the counts kept with the impression log (``exposure_daily``, :mod:`store.exposure`)."""
    return shown_in_period(conn, now, days)
