"""Alerts' SQL (migration 0010): settings, saved searches, the change queue, the outbox, webhooks and deliveries.

The alert engine (:mod:`api.alerting`) reads the oldest changes the triggers queued, writes alerts
(``ON CONFLICT DO NOTHING``: never twice for an investor, enterprise and need) and deletes exactly the changes it
processed in the same transaction, and the delivery loop claims due
alerts and digests with ``FOR UPDATE SKIP LOCKED``, so two processes never post the same attempt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

#: An investor without a settings row has these.
DEFAULTS: dict[str, Any] = {"mandate_alerts": True, "top_n": 10, "min_score": None, "delivery": "immediate",
                            "digest_sent_at": None}
#: The advisory lock the alert engine holds while it is the one generating and delivering.
ENGINE_LOCK = 7_310_017
CHANNEL = "capconnect_alerts"


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


# -- settings and saved searches -------------------------------------------------------------------------------
def settings_of(conn: psycopg.Connection, investor_id: int) -> dict[str, Any]:
    """The investor's alert settings (the defaults when it never changed them)."""
    rows = _rows(conn, "SELECT mandate_alerts, top_n, min_score, delivery, digest_sent_at FROM alert_settings "
                       "WHERE investor_id = %s", (investor_id,))
    return dict(rows[0]) if rows else dict(DEFAULTS)


def put_settings(conn: psycopg.Connection, investor_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Store the investor's settings (``values``: the fields to change) and return them all."""
    merged = {**settings_of(conn, investor_id), **values}
    conn.execute(
        "INSERT INTO alert_settings (investor_id, mandate_alerts, top_n, min_score, delivery) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (investor_id) DO UPDATE SET mandate_alerts = EXCLUDED.mandate_alerts, "
        "top_n = EXCLUDED.top_n, min_score = EXCLUDED.min_score, delivery = EXCLUDED.delivery, updated_at = now()",
        (investor_id, merged["mandate_alerts"], merged["top_n"], merged["min_score"], merged["delivery"]))
    return settings_of(conn, investor_id)


_SEARCH = "id, investor_id, name, text, filters, top_n, min_score, active, created_at, updated_at"


def saved_searches(conn: psycopg.Connection, investor_id: int) -> list[dict[str, Any]]:
    """The investor's saved searches, oldest first."""
    return _rows(conn, f"SELECT {_SEARCH} FROM saved_searches WHERE investor_id = %s ORDER BY id", (investor_id,))


def saved_search(conn: psycopg.Connection, investor_id: int, search_id: int) -> dict[str, Any] | None:
    """One saved search of the investor (``None``: none of its own has this id)."""
    rows = _rows(conn, f"SELECT {_SEARCH} FROM saved_searches WHERE investor_id = %s AND id = %s",
                 (investor_id, search_id))
    return rows[0] if rows else None


def create_saved_search(conn: psycopg.Connection, investor_id: int, values: dict[str, Any]) -> dict[str, Any]:
    """Store a saved search (``name``, ``text``, ``filters``, ``top_n``, ``min_score``, ``active``)."""
    return _rows(conn, f"INSERT INTO saved_searches (investor_id, name, text, filters, top_n, min_score, active) "
                       f"VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_SEARCH}",
                 (investor_id, values["name"], values.get("text"), Jsonb(values.get("filters") or {}),
                  values.get("top_n", 10), values.get("min_score"), values.get("active", True)))[0]


def update_saved_search(conn: psycopg.Connection, investor_id: int, search_id: int, values: dict[str, Any]
                        ) -> dict[str, Any] | None:
    """Change the given fields of a saved search; ``None`` when the investor has none with this id."""
    allowed = ("name", "text", "filters", "top_n", "min_score", "active")
    sets = [(k, Jsonb(v) if k == "filters" else v) for k, v in values.items() if k in allowed]
    if not sets:
        return saved_search(conn, investor_id, search_id)
    clause = ", ".join(f"{k} = %s" for k, _ in sets)
    rows = _rows(conn, f"UPDATE saved_searches SET {clause}, updated_at = now() WHERE investor_id = %s AND id = %s "
                       f"RETURNING {_SEARCH}", [v for _, v in sets] + [investor_id, search_id])
    return rows[0] if rows else None


def delete_saved_search(conn: psycopg.Connection, investor_id: int, search_id: int) -> bool:
    """Delete a saved search; whether the investor had one with this id."""
    return conn.execute("DELETE FROM saved_searches WHERE investor_id = %s AND id = %s",
                        (investor_id, search_id)).rowcount == 1


def standing_queries(conn: psycopg.Connection) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(mandates, searches)``: every active investor whose mandate is a standing query (with its ``top_n`` and
    ``min_score``), and every active saved search of an active investor."""
    mandates = _rows(conn, """
        SELECT i.id AS investor_id, coalesce(s.top_n, 10) AS top_n, s.min_score,
               (SELECT max(d.version) FROM mandates d WHERE d.investor_id = i.id) AS revision
        FROM investors i LEFT JOIN alert_settings s ON s.investor_id = i.id
        WHERE i.status <> 'inactive' AND coalesce(s.mandate_alerts, true) ORDER BY i.id""")
    searches = _rows(conn, """
        SELECT q.id, q.investor_id, q.text, q.filters, q.top_n, q.min_score FROM saved_searches q
        JOIN investors i ON i.id = q.investor_id WHERE q.active AND i.status <> 'inactive' ORDER BY q.id""")
    return mandates, searches


def investor_exists(conn: psycopg.Connection, investor_id: int) -> bool:
    """Whether the investor is in the database."""
    return conn.execute("SELECT 1 FROM investors WHERE id = %s", (investor_id,)).fetchone() is not None


def try_lead(conn: psycopg.Connection) -> bool:
    """Take the engine's advisory lock on this session (held until it closes); whether this session has it. Then
    listen for the change queue's notices on it."""
    if not conn.execute("SELECT pg_try_advisory_lock(%s)", (ENGINE_LOCK,)).fetchone()[0]:  # type: ignore[index]
        return False
    conn.execute(f"LISTEN {CHANNEL}")
    return True


def missing_records(conn: psycopg.Connection, need_ids: Sequence[int], enterprise_ids: Sequence[int]) -> set[int]:
    """The ids among these needs and enterprises that are no longer in the database."""
    needs = {int(r[0]) for r in conn.execute("SELECT id FROM financing_needs WHERE id = ANY(%s::bigint[])",
                                             (list(need_ids),))}
    ents = {int(r[0]) for r in conn.execute("SELECT id FROM enterprises WHERE id = ANY(%s::bigint[])",
                                            (list(enterprise_ids),))}
    return (set(need_ids) - needs) | (set(enterprise_ids) - ents)


# -- the change queue -----------------------------------------------------------------------------------------
# An ``alert_changes.id`` is drawn when its row is inserted, not when its transaction commits: a long import can
# commit ids below one an API write committed (and the engine processed) meanwhile. So the queue is never read
# after a cursor: the engine reads the oldest rows it can see (committed ones) and deletes exactly those it
# processed, in the transaction that writes their alerts.
def start_queue(conn: psycopg.Connection) -> None:
    """Start the engine's queue. The first engine ever (no ``alert_cursor`` row yet) drops the changes queued
    before it: the market as it was when alerts began is the investors' current lists, not news."""
    with conn.transaction():
        first = conn.execute("INSERT INTO alert_cursor (id, last_change_id) "
                             "SELECT 1, coalesce(max(id), 0) FROM alert_changes ON CONFLICT (id) DO NOTHING "
                             "RETURNING last_change_id").fetchone()
        if first is not None:
            conn.execute("DELETE FROM alert_changes WHERE id <= %s", (first[0],))


def pending_changes(conn: psycopg.Connection, limit: int = 5000) -> list[dict[str, Any]]:
    """The oldest committed changes not processed yet, oldest first (``id``, ``kind``, ``entity_id``,
    ``reason``)."""
    return _rows(conn, "SELECT id, kind, entity_id, reason FROM alert_changes ORDER BY id LIMIT %s", (limit,))


def mark_processed(conn: psycopg.Connection, change_ids: Sequence[int]) -> None:
    """Drop exactly these changes from the queue (call it in the transaction that writes their alerts);
    ``alert_cursor.last_change_id`` keeps the newest id processed, for information only."""
    ids = [int(i) for i in change_ids]
    if not ids:
        return
    conn.execute("DELETE FROM alert_changes WHERE id = ANY(%s::bigint[])", (ids,))
    conn.execute("UPDATE alert_cursor SET last_change_id = greatest(last_change_id, %s), updated_at = now() "
                 "WHERE id = 1", (max(ids),))


def dismissed_pairs(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> set[tuple[int, int]]:
    """``(investor_id, enterprise_id)`` of every dismissal by an investor of one of these enterprises."""
    return {(int(i), int(e)) for i, e in conn.execute(
        "SELECT DISTINCT investor_id, enterprise_id FROM funnel_events WHERE event_type = 'dismissed' "
        "AND actor = 'investor' AND enterprise_id = ANY(%s::bigint[])", (list(enterprise_ids),))}


def sent_keys(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> set[tuple[int, int, int]]:
    """``(investor_id, enterprise_id, need_id or 0)`` already alerted for these enterprises."""
    return {(int(i), int(e), int(n)) for i, e, n in conn.execute(
        "SELECT investor_id, enterprise_id, coalesce(need_id, 0) FROM alerts WHERE enterprise_id = ANY(%s::bigint[])",
        (list(enterprise_ids),))}


# -- the outbox ----------------------------------------------------------------------------------------------------
def insert_alerts(conn: psycopg.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Write alerts (``investor_id``, ``enterprise_id``, ``need_id``, ``query``, ``score``, ``reasons``, ``body``,
    ``model_version``); one already written for the same investor, enterprise and need is skipped. Returns the
    new ids; each new row's ``body`` gets its ``alert_id``."""
    ids = []
    for r in rows:
        got = conn.execute(
            "INSERT INTO alerts (investor_id, enterprise_id, need_id, query, score, reasons, body, model_version) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
            (r["investor_id"], r["enterprise_id"], r["need_id"], r["query"], r["score"], Jsonb(r["reasons"]),
             Jsonb(r["body"]), r["model_version"])).fetchone()
        if got is not None:
            conn.execute("UPDATE alerts SET body = jsonb_set(body, '{alert_id}', to_jsonb(id)) WHERE id = %s",
                         (got[0],))
            ids.append(int(got[0]))
    return ids


def list_alerts(conn: psycopg.Connection, investor_id: int, *, limit: int, offset: int, unread_only: bool = False
                ) -> tuple[list[dict[str, Any]], int, int]:
    """``(page, total, unread)`` of the investor's alerts, newest first."""
    where = "investor_id = %s" + (" AND read_at IS NULL" if unread_only else "")
    items = _rows(conn, f"SELECT id, body, created_at, read_at, delivered_at, failed_at FROM alerts WHERE {where} "
                        "ORDER BY id DESC LIMIT %s OFFSET %s", (investor_id, limit, offset))
    total, unread = conn.execute(
        "SELECT count(*) FILTER (WHERE %s OR read_at IS NULL), count(*) FILTER (WHERE read_at IS NULL) "
        "FROM alerts WHERE investor_id = %s", (not unread_only, investor_id)).fetchone()  # type: ignore[misc]
    return items, int(total), int(unread)


def mark_read(conn: psycopg.Connection, investor_id: int, alert_ids: Sequence[int] | None) -> int:
    """Mark the investor's alerts read (``None``: all of them); how many changed."""
    if alert_ids is None:
        return conn.execute("UPDATE alerts SET read_at = now() WHERE investor_id = %s AND read_at IS NULL",
                            (investor_id,)).rowcount
    return conn.execute("UPDATE alerts SET read_at = now() WHERE investor_id = %s AND read_at IS NULL "
                        "AND id = ANY(%s::bigint[])", (investor_id, list(alert_ids))).rowcount


def unknown_alerts(conn: psycopg.Connection, investor_id: int, alert_ids: Sequence[int]) -> list[int]:
    """The ids among ``alert_ids`` that are not this investor's alerts."""
    mine = {int(r[0]) for r in conn.execute("SELECT id FROM alerts WHERE investor_id = %s AND id = ANY(%s::bigint[])",
                                            (investor_id, list(alert_ids)))}
    return [i for i in alert_ids if i not in mine]
