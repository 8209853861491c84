"""Webhooks, their delivery schedule and log, and digests (migration 0010).

Delivery claims what is due with ``FOR UPDATE SKIP LOCKED`` inside a short transaction that also moves
``next_attempt_at`` past the attempt's timeout, so a second process (or a crash mid-post) never posts the same
attempt twice at once; the outcome is then written with the attempt number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

Kind = Literal["alert", "digest"]
_TABLE = {"alert": "alerts", "digest": "alert_digests"}


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()


def put_webhook(conn: psycopg.Connection, investor_id: int, url: str, secret: str, active: bool = True
                ) -> dict[str, Any]:
    """Register (or replace) the investor's webhook."""
    return _rows(conn, "INSERT INTO webhooks (investor_id, url, secret, active) VALUES (%s, %s, %s, %s) "
                       "ON CONFLICT (investor_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, "
                       "active = EXCLUDED.active, updated_at = now() "
                       "RETURNING investor_id, url, active, created_at, updated_at",
                 (investor_id, url, secret, active))[0]


def webhook_of(conn: psycopg.Connection, investor_id: int) -> dict[str, Any] | None:
    """The investor's webhook (without its secret), or ``None``."""
    rows = _rows(conn, "SELECT investor_id, url, active, created_at, updated_at FROM webhooks WHERE investor_id = %s",
                 (investor_id,))
    return rows[0] if rows else None


def delete_webhook(conn: psycopg.Connection, investor_id: int) -> bool:
    """Remove the investor's webhook; whether it had one."""
    return conn.execute("DELETE FROM webhooks WHERE investor_id = %s", (investor_id,)).rowcount == 1


def deliveries(conn: psycopg.Connection, investor_id: int, *, limit: int, offset: int
               ) -> tuple[list[dict[str, Any]], int]:
    """``(page, total)`` of the investor's delivery log, newest first."""
    items = _rows(conn, "SELECT id, alert_id, digest_id, notification_id, attempt, url, status_code, error, delivered, "
                        "at FROM webhook_deliveries WHERE investor_id = %s ORDER BY id DESC LIMIT %s OFFSET %s",
                  (investor_id, limit, offset))
    total = conn.execute("SELECT count(*) FROM webhook_deliveries WHERE investor_id = %s", (investor_id,)).fetchone()
    return items, int(total[0])  # type: ignore[index]


def claim_due(conn: psycopg.Connection, kind: Kind, *, hold_seconds: float, limit: int = 50) -> list[dict[str, Any]]:
    """Claim due notifications of ``kind`` for investors with an active webhook: each gets its attempt number and
    is held (``next_attempt_at`` moved ``hold_seconds`` ahead) until its outcome is recorded. Alerts go out one by
    one only for investors with immediate delivery (the others wait for their digest)."""
    table = _TABLE[kind]
    immediate = ("AND coalesce((SELECT delivery FROM alert_settings s WHERE s.investor_id = t.investor_id), "
                 "'immediate') = 'immediate' AND t.digest_id IS NULL") if kind == "alert" else ""
    body = "t.body" if kind == "alert" else "NULL::jsonb"
    with conn.transaction():
        return _rows(conn, f"""
            WITH due AS (
                SELECT t.id FROM {table} t JOIN webhooks w ON w.investor_id = t.investor_id AND w.active
                WHERE t.delivered_at IS NULL AND t.failed_at IS NULL AND t.next_attempt_at <= now() {immediate}
                ORDER BY t.next_attempt_at, t.id LIMIT %s FOR UPDATE OF t SKIP LOCKED)
            UPDATE {table} t SET attempts = t.attempts + 1,
                   next_attempt_at = now() + make_interval(secs => %s)
            FROM due, webhooks w WHERE t.id = due.id AND w.investor_id = t.investor_id
            RETURNING t.id, t.investor_id, t.attempts AS attempt, {body} AS body, w.url, w.secret""",
                     (limit, hold_seconds))


def record_attempt(conn: psycopg.Connection, kind: Kind, row: dict[str, Any], *, notification_id: str,
                   status_code: int | None, error: str | None, delivered: bool, retry_in: float | None) -> None:
    """Log one attempt and settle the notification: delivered, retried in ``retry_in`` seconds, or failed for good
    (``retry_in`` ``None``)."""
    table = _TABLE[kind]
    with conn.transaction():
        conn.execute("INSERT INTO webhook_deliveries (investor_id, alert_id, digest_id, notification_id, attempt, url, "
                     "status_code, error, delivered) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                     (row["investor_id"], row["id"] if kind == "alert" else None,
                      row["id"] if kind == "digest" else None, notification_id, row["attempt"], row["url"],
                      status_code, error, delivered))
        if delivered:
            conn.execute(f"UPDATE {table} SET delivered_at = now() WHERE id = %s", (row["id"],))
            if kind == "digest":
                conn.execute("UPDATE alerts SET delivered_at = now() WHERE digest_id = %s", (row["id"],))
        elif retry_in is None:
            conn.execute(f"UPDATE {table} SET failed_at = now() WHERE id = %s", (row["id"],))
        else:
            conn.execute(f"UPDATE {table} SET next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
                         (retry_in, row["id"]))


def make_digests(conn: psycopg.Connection, now: datetime) -> list[int]:
    """Collect each digest investor's undelivered alerts into one digest when its period has passed since its
    last digest (or since it chose the digest); returns the new digests' ids."""
    with conn.transaction():
        rows = conn.execute("""
            SELECT s.investor_id, s.delivery FROM alert_settings s JOIN webhooks w ON w.investor_id = s.investor_id
            WHERE w.active AND s.delivery IN ('daily', 'weekly')
              AND coalesce(s.digest_sent_at, s.updated_at)
                  <= %s - CASE s.delivery WHEN 'daily' THEN interval '1 day' ELSE interval '7 days' END
            FOR UPDATE OF s SKIP LOCKED""", (now,)).fetchall()
        made = []
        for investor_id, period in rows:
            ids = [r[0] for r in conn.execute(
                "SELECT id FROM alerts WHERE investor_id = %s AND digest_id IS NULL AND delivered_at IS NULL "
                "AND failed_at IS NULL ORDER BY id FOR UPDATE SKIP LOCKED", (investor_id,))]
            conn.execute("UPDATE alert_settings SET digest_sent_at = %s WHERE investor_id = %s", (now, investor_id))
            if not ids:
                continue
            digest = conn.execute("INSERT INTO alert_digests (investor_id, period, alert_ids) VALUES (%s, %s, %s) "
                                  "RETURNING id", (investor_id, period, ids)).fetchone()[0]  # type: ignore[index]
            conn.execute("UPDATE alerts SET digest_id = %s WHERE id = ANY(%s::bigint[])", (digest, ids))
            made.append(int(digest))
        return made


def digest_bodies(conn: psycopg.Connection, digest_id: int) -> list[dict[str, Any]]:
    """The bodies of a digest's alerts, oldest first."""
    return [r[0] for r in conn.execute("SELECT body FROM alerts WHERE digest_id = %s ORDER BY id", (digest_id,))]
