"""Funnel events written by the API: idempotent by the client's event id, committed before the reply."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

_COLUMNS = ("id, event_key, event_type, investor_id, enterprise_id, list_id, need_id, amount, currency, actor, "
            "source, occurred_at, recorded_at")
API_SOURCE = "api"


@dataclass(frozen=True)
class NewEvent:
    """An event to store. ``occurred_at`` ``None`` means now (and is then not part of the idempotency check)."""

    event_key: str
    event_type: str
    investor_id: int
    enterprise_id: int
    actor: str
    list_id: uuid.UUID | None = None
    need_id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    occurred_at: datetime | None = None
    api_key_id: int | None = None


def event_key(scope: str, event_id: str) -> str:
    """The stored key of a client event id: namespaced by the caller so clients cannot collide.

    ``scope`` is ``i<investor id>``, ``e<enterprise id>`` or ``s`` (staff).
    """
    return f"{API_SOURCE}/{scope}/{event_id}"


def client_id(key: str) -> str:
    """The client's event id back from a stored key (imported events keep their own key)."""
    parts = key.split("/", 2)
    return parts[2] if len(parts) == 3 and parts[0] == API_SOURCE else key


def insert_event(conn: psycopg.Connection, ev: NewEvent) -> tuple[dict[str, Any], bool]:
    """Insert unless the key exists; return ``(stored row, created)``. Committed when this returns."""
    with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = cur.execute(
            f"INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, actor, occurred_at, "
            f"need_id, source, list_id, api_key_id, amount, currency) "
            f"VALUES (%s, %s, %s, %s, %s, COALESCE(%s, now()), %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (event_key) DO NOTHING RETURNING {_COLUMNS}",
            (ev.event_key, ev.investor_id, ev.enterprise_id, ev.event_type, ev.actor, ev.occurred_at, ev.need_id,
             API_SOURCE, ev.list_id, ev.api_key_id, ev.amount, ev.currency)).fetchone()
        if row is not None:
            return row, True
        row = cur.execute(f"SELECT {_COLUMNS} FROM funnel_events WHERE event_key = %s", (ev.event_key,)).fetchone()
    assert row is not None
    return row, False


def differences(stored: dict[str, Any], ev: NewEvent) -> list[str]:
    """Fields where a repeated event differs from the stored one (empty: the same event)."""
    want: dict[str, Any] = {"event_type": ev.event_type, "investor_id": ev.investor_id,
                            "enterprise_id": ev.enterprise_id, "actor": ev.actor, "list_id": ev.list_id,
                            "need_id": ev.need_id, "currency": ev.currency,
                            "amount": None if ev.amount is None else Decimal(ev.amount).quantize(Decimal("0.01"))}
    if ev.occurred_at is not None:
        want["occurred_at"] = ev.occurred_at
    return [k for k, v in want.items() if stored[k] != v]


def list_events(conn: psycopg.Connection, *, investor_id: int | None = None, enterprise_id: int | None = None,
                event_type: str | None = None, list_id: uuid.UUID | None = None, before: int | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
    """Events, newest (highest id) first, narrowed by every argument given."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM funnel_events WHERE "
        "(%(inv)s::bigint IS NULL OR investor_id = %(inv)s) AND (%(ent)s::bigint IS NULL OR enterprise_id = %(ent)s) "
        "AND (%(type)s::text IS NULL OR event_type = %(type)s) AND (%(list)s::uuid IS NULL OR list_id = %(list)s) "
        "AND (%(before)s::bigint IS NULL OR id < %(before)s) ORDER BY id DESC LIMIT %(limit)s",
        {"inv": investor_id, "ent": enterprise_id, "type": event_type, "list": list_id, "before": before,
         "limit": limit}).fetchall()


def party_exists(conn: psycopg.Connection, table: str, party_id: int) -> bool:
    """Whether ``investors`` / ``enterprises`` holds the id."""
    if table not in ("investors", "enterprises"):
        raise ValueError(f"table must be investors or enterprises, got {table!r}")
    return conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (party_id,)).fetchone() is not None


def need_enterprise(conn: psycopg.Connection, need_id: int) -> int | None:
    """The enterprise a financing need belongs to (``None``: no such need)."""
    row = conn.execute("SELECT enterprise_id FROM financing_needs WHERE id = %s", (need_id,)).fetchone()
    return int(row[0]) if row else None
