"""Read the impression log (served lists and their items, with the feature values served)."""

from __future__ import annotations

from datetime import datetime

import psycopg

from matching.learning.impressions import Impression


def read_impressions(conn: psycopg.Connection, start: datetime | None = None, end: datetime | None = None
                     ) -> list[Impression]:
    """Items of investor and enterprise lists served in ``[start, end)``, by list then position.

    Only lists an investor or an enterprise actually saw count as impressions: lists that staff
    opened on their behalf (``query.role`` admin or operator) are not feedback on the ranking."""
    rows = conn.execute(
        """
        SELECT l.id::text, l.side, l.created_at, i.position,
               COALESCE(l.investor_id, i.investor_id), COALESCE(l.enterprise_id, i.enterprise_id),
               i.need_id, i.features
        FROM served_lists l JOIN served_list_items i ON i.list_id = l.id
        WHERE l.side IN ('investor', 'enterprise')
          AND COALESCE(l.query->>'role', l.side) IN ('investor', 'enterprise')
          AND (%(start)s::timestamptz IS NULL OR l.created_at >= %(start)s)
          AND (%(end)s::timestamptz IS NULL OR l.created_at < %(end)s)
        ORDER BY l.created_at, l.id, i.position
        """, {"start": start, "end": end}).fetchall()
    return [Impression(*r) for r in rows if r[4] is not None and r[5] is not None]
