"""Funnel events written by the API: idempotent by the client's event id, committed before the reply."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row

from matching.rules.event_visibility import PRIVATE_TYPES

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
                limit: int = 50, side: str | None = None) -> list[dict[str, Any]]:
    """Events, newest (highest id) first, narrowed by every argument given.

    ``side`` (``investor``/``enterprise``, from :func:`matching.rules.event_visibility.scope`) keeps of the
    private types (:data:`matching.rules.event_visibility.PRIVATE_TYPES`) only the events that side acted.
    """
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM funnel_events WHERE "
        "(%(inv)s::bigint IS NULL OR investor_id = %(inv)s) AND (%(ent)s::bigint IS NULL OR enterprise_id = %(ent)s) "
        "AND (%(type)s::text IS NULL OR event_type = %(type)s) AND (%(list)s::uuid IS NULL OR list_id = %(list)s) "
        "AND (%(side)s::text IS NULL OR actor = %(side)s OR event_type <> ALL(%(private)s::text[])) "
        "AND (%(before)s::bigint IS NULL OR id < %(before)s) ORDER BY id DESC LIMIT %(limit)s",
        {"inv": investor_id, "ent": enterprise_id, "type": event_type, "list": list_id, "before": before,
         "limit": limit, "side": side, "private": list(PRIVATE_TYPES)}).fetchall()


# -- batches -----------------------------------------------------------------------------------------
#: The largest id a bigint holds: larger ids cannot be stored, so they are looked up as absent.
_BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class References:
    """What the database holds of the ids a batch of events refers to (one query per kind).

    Attributes:
        investors: the investor ids that exist.
        enterprises: the enterprise ids that exist.
        need_owners: financing need id → its enterprise.
        lists: served list id → the ``(investor_id, enterprise_id)`` it was served to.
        pairs: the ``(list_id, investor_id, enterprise_id)`` asked about that the list really served.
    """

    investors: frozenset[int]
    enterprises: frozenset[int]
    need_owners: dict[int, int]
    lists: dict[uuid.UUID, tuple[int | None, int | None]]
    pairs: frozenset[tuple[uuid.UUID, int, int]]


def _storable(ids: Iterable[int]) -> list[int]:
    return sorted({i for i in ids if 0 < i <= _BIGINT_MAX})


def references(conn: psycopg.Connection, *, investor_ids: Iterable[int], enterprise_ids: Iterable[int],
               need_ids: Iterable[int], list_pairs: Iterable[tuple[uuid.UUID, int, int]]) -> References:
    """Look up every id of a batch at once: at most four queries, whatever the batch size.

    ``list_pairs`` are ``(list_id, investor_id, enterprise_id)``: whether the list served that pair
    (the item's own ids, or the list's party for the other side).
    """
    investors, enterprises = _storable(investor_ids), _storable(enterprise_ids)
    needs = _storable(need_ids)
    triples = sorted({t for t in list_pairs if 0 < t[1] <= _BIGINT_MAX and 0 < t[2] <= _BIGINT_MAX})
    found: dict[str, frozenset[int]] = {}
    for table, ids in (("investors", investors), ("enterprises", enterprises)):
        found[table] = frozenset(int(r[0]) for r in conn.execute(
            f"SELECT id FROM {table} WHERE id = ANY(%s::bigint[])", (ids,))) if ids else frozenset()
    owners = {int(n): int(e) for n, e in conn.execute(
        "SELECT id, enterprise_id FROM financing_needs WHERE id = ANY(%s::bigint[])", (needs,))} if needs else {}
    lists: dict[uuid.UUID, tuple[int | None, int | None]] = {}
    pairs: set[tuple[uuid.UUID, int, int]] = set()
    if triples:
        rows = conn.execute(
            "SELECT l.id, l.investor_id, l.enterprise_id, t.inv, t.ent, EXISTS (SELECT 1 FROM served_list_items i "
            "  WHERE i.list_id = l.id AND COALESCE(i.investor_id, l.investor_id) = t.inv "
            "  AND COALESCE(i.enterprise_id, l.enterprise_id) = t.ent) "
            "FROM unnest(%s::uuid[], %s::bigint[], %s::bigint[]) AS t(list_id, inv, ent) "
            "JOIN served_lists l ON l.id = t.list_id",
            ([t[0] for t in triples], [t[1] for t in triples], [t[2] for t in triples])).fetchall()
        for list_id, inv, ent, asked_inv, asked_ent, served in rows:
            lists[list_id] = (inv, ent)
            if served:
                pairs.add((list_id, int(asked_inv), int(asked_ent)))
    return References(found["investors"], found["enterprises"], owners, lists, frozenset(pairs))


def content_differences(first: NewEvent, again: NewEvent) -> list[str]:
    """Fields where ``again`` differs from ``first`` (the same id twice in one batch), as :func:`differences`."""
    names = ("event_type", "investor_id", "enterprise_id", "actor", "list_id", "need_id", "currency", "amount")
    out = [k for k in names if getattr(first, k) != getattr(again, k)]
    if again.occurred_at is not None and again.occurred_at != first.occurred_at:
        out.append("occurred_at")
    return out


@dataclass
class StoredBatch:
    """The outcome of :func:`insert_events`.

    Attributes:
        ids: event key → ``(row id, created)`` (empty when there were conflicts: nothing was written).
        conflicts: event key → ``(stored row, fields that differ)`` for keys stored with other content.
    """

    ids: dict[str, tuple[int, bool]] = field(default_factory=dict)
    conflicts: dict[str, tuple[dict[str, Any], list[str]]] = field(default_factory=dict)


def insert_events(conn: psycopg.Connection, evs: Sequence[NewEvent]) -> StoredBatch:
    """Insert a batch in one transaction, all or nothing; committed when this returns.

    Keys already stored with the same content are duplicates (their ids are returned); if any key is
    stored with other content, the transaction is rolled back and only ``conflicts`` is filled.
    One ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING`` writes the new rows; a second query
    reads the rows that were already there (only when some were). Rows are inserted in key order, so
    two batches sharing keys wait for each other instead of deadlocking.

    Raises:
        ValueError: an event key appears twice (deduplicate the batch first).
    """
    keys = [ev.event_key for ev in evs]
    if len(set(keys)) != len(keys):
        raise ValueError("insert_events needs distinct event keys; drop repeated events first")
    out = StoredBatch()
    if not evs:
        return out
    columns = (keys, [e.investor_id for e in evs], [e.enterprise_id for e in evs], [e.event_type for e in evs],
               [e.actor for e in evs], [e.occurred_at for e in evs], [e.need_id for e in evs],
               [e.list_id for e in evs], [e.api_key_id for e in evs], [e.amount for e in evs],
               [e.currency for e in evs])
    with conn.transaction():
        inserted = {k: int(i) for i, k in conn.execute(
            "INSERT INTO funnel_events (event_key, investor_id, enterprise_id, event_type, actor, occurred_at, "
            "need_id, source, list_id, api_key_id, amount, currency) "
            "SELECT t.key, t.inv, t.ent, t.type, t.actor, COALESCE(t.at, now()), t.need, %s, t.list, t.api_key, "
            "t.amount, t.currency FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::text[], "
            "%s::timestamptz[], %s::bigint[], %s::uuid[], %s::bigint[], %s::numeric[], %s::text[]) "
            "AS t(key, inv, ent, type, actor, at, need, list, api_key, amount, currency) ORDER BY t.key "
            "ON CONFLICT (event_key) DO NOTHING RETURNING id, event_key", (API_SOURCE, *columns)).fetchall()}
        ids = {k: (i, True) for k, i in inserted.items()}
        rest = [ev for ev in evs if ev.event_key not in inserted]
        if rest:
            stored = {r["event_key"]: r for r in conn.cursor(row_factory=dict_row).execute(
                f"SELECT {_COLUMNS} FROM funnel_events WHERE event_key = ANY(%s::text[])",
                ([ev.event_key for ev in rest],))}
            for ev in rest:
                row = stored[ev.event_key]  # there: the insert skipped it, and a skipped key is committed
                diff = differences(row, ev)
                if diff:
                    out.conflicts[ev.event_key] = (row, diff)
                ids[ev.event_key] = (int(row["id"]), False)
            if out.conflicts:
                raise psycopg.Rollback()  # leaves the block: nothing of this batch is written
    if not out.conflicts:
        out.ids = ids
    return out
