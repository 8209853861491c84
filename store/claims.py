"""Enterprises' claims to credentials (tier, boards, qualifications): pending until staff decide.

A claim never touches ``enterprises`` (which the snapshot reads: ranking features, reasons) until it is
verified; a verification applies the value and writes an ``audit_log`` row in the same transaction.
Migration 0003 holds the table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from store.tier_history import mark_source

#: Enterprise fields set by staff or imports; an enterprise's own key sends claims to them.
CLAIMABLE = ("tier", "boards", "qualifications")
_COLUMNS = ("id, enterprise_id, field, value, status, claimed_by_key_id, claimed_at, decided_by_key_id, decided_at, "
            "note")


def submit(conn: psycopg.Connection, *, enterprise_id: int, claims: Mapping[str, Any], key_id: int) -> None:
    """Store one pending claim per field (a pending claim on the same field is superseded), in one transaction."""
    with conn.transaction():
        for field, value in claims.items():
            if field not in CLAIMABLE:
                raise ValueError(f"{field!r} cannot be claimed; claimable: {', '.join(CLAIMABLE)}")
            conn.execute("UPDATE enterprise_claims SET status = 'superseded' WHERE enterprise_id = %s AND field = %s "
                         "AND status = 'pending'", (enterprise_id, field))
            conn.execute("INSERT INTO enterprise_claims (enterprise_id, field, value, claimed_by_key_id) "
                         "VALUES (%s, %s, %s::jsonb, %s)", (enterprise_id, field, json.dumps(value), key_id))


def of_enterprises(conn: psycopg.Connection, enterprise_ids: Sequence[int], *, pending_only: bool = True
                   ) -> dict[int, list[dict[str, Any]]]:
    """Claims per enterprise, oldest first (the pending ones only, unless ``pending_only`` is false)."""
    rows = conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM enterprise_claims WHERE enterprise_id = ANY(%s::bigint[]) "
        "AND (NOT %s OR status = 'pending') ORDER BY id", (list(enterprise_ids), pending_only)).fetchall()
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(int(r["enterprise_id"]), []).append(r)
    return out


def get(conn: psycopg.Connection, *, enterprise_id: int, claim_id: int) -> dict[str, Any] | None:
    """One claim of the enterprise, or ``None``."""
    return conn.cursor(row_factory=dict_row).execute(
        f"SELECT {_COLUMNS} FROM enterprise_claims WHERE id = %s AND enterprise_id = %s",
        (claim_id, enterprise_id)).fetchone()


def decide(conn: psycopg.Connection, *, claim: Mapping[str, Any], verified: bool, note: str | None,
           who: Any, request_id: str | None) -> dict[str, Any] | None:
    """Verify (apply the value to the enterprise) or reject a pending claim, and audit the decision.

    Returns the decided claim, or ``None`` when it was no longer pending (another decision came first).
    """
    with conn.transaction():
        cur = conn.cursor(row_factory=dict_row)
        row = cur.execute(
            f"UPDATE enterprise_claims SET status = %s, decided_by_key_id = %s, decided_at = now(), note = %s "
            f"WHERE id = %s AND status = 'pending' RETURNING {_COLUMNS}",
            ("verified" if verified else "rejected", who.key_id, note, claim["id"])).fetchone()
        if row is None:
            return None
        if verified:
            value = row["value"]
            mark_source(cur, "api")  # tier history (migration 0009): a verified claim is the API's change
            cur.execute(sql.SQL("UPDATE enterprises SET {} = %s WHERE id = %s").format(sql.Identifier(row["field"])),
                        (value, row["enterprise_id"]))
        cur.execute("INSERT INTO audit_log (api_key_id, key_prefix, role, viewer_investor_id, viewer_enterprise_id, "
                    "enterprise_id, fields, basis, request_id, action) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (who.key_id, who.key_shown, who.role, who.investor_id, who.enterprise_id, row["enterprise_id"],
                     [row["field"]], f"claim:{row['id']}", request_id,
                     "claim_verified" if verified else "claim_rejected"))
    return row
