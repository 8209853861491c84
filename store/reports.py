"""The outcome report's numbers (撮合成效): served lists and funnel steps, grouped by one dimension.

Two aggregate queries over a half-open period ``[start, end)``:

* the impression log: lists served (distinct lists showing a party of the group) and impressions
  (items shown), attributed by ``COALESCE(item party, list party)`` so deal lists, suggested-investor
  lists and search results all count;
* the funnel: contact requests, accepted contacts, meetings, investments (``invested`` events),
  enterprises funded (distinct), and the amount invested (CNY, as reported on each event).

Dimensions: an enterprise's ``district``, ``tier`` or ``board`` (an enterprise on two boards counts
in both, so board rows may sum above the total), or an investor's ``investor_type``. The total is
computed without grouping, never by summing rows.
"""

from __future__ import annotations

from datetime import datetime

import psycopg
from psycopg.rows import dict_row

DIMENSIONS = ("district", "board", "tier", "investor_type")
METRICS = ("lists_served", "impressions", "contacts_requested", "contacts_accepted", "meetings", "investments",
           "enterprises_funded", "amount_invested")

# group key expression, and the lateral join it needs (boards are an array)
_KEYS = {
    "district": ("e.district_code", ""),
    "tier": ("e.tier", ""),
    "investor_type": ("iv.investor_type", ""),
    "board": ("b.board", "LEFT JOIN LATERAL unnest(CASE WHEN cardinality(e.boards) = 0 THEN ARRAY[NULL]::text[] "
                        "ELSE e.boards END) AS b(board) ON true"),
    None: ("NULL::text", ""),
}


def _served(key: str, join: str) -> str:
    return f"""
        SELECT {key} AS key, count(DISTINCT i.list_id) AS lists_served, count(*) AS impressions
        FROM served_list_items i JOIN served_lists l ON l.id = i.list_id
        LEFT JOIN enterprises e ON e.id = COALESCE(i.enterprise_id, l.enterprise_id)
        LEFT JOIN investors iv ON iv.id = COALESCE(i.investor_id, l.investor_id)
        {join}
        WHERE l.created_at >= %(start)s AND l.created_at < %(end)s
        GROUP BY 1"""


def _funnel(key: str, join: str) -> str:
    return f"""
        SELECT {key} AS key,
               count(*) FILTER (WHERE f.event_type = 'contact_requested') AS contacts_requested,
               count(*) FILTER (WHERE f.event_type = 'contact_accepted') AS contacts_accepted,
               count(*) FILTER (WHERE f.event_type = 'meeting') AS meetings,
               count(*) FILTER (WHERE f.event_type = 'invested') AS investments,
               count(DISTINCT f.enterprise_id) FILTER (WHERE f.event_type = 'invested') AS enterprises_funded,
               COALESCE(sum(f.amount) FILTER (WHERE f.event_type = 'invested'
                                               AND COALESCE(f.currency, 'CNY') = 'CNY'), 0) AS amount_invested
        FROM funnel_events f JOIN enterprises e ON e.id = f.enterprise_id JOIN investors iv ON iv.id = f.investor_id
        {join}
        WHERE f.occurred_at >= %(start)s AND f.occurred_at < %(end)s
          AND f.event_type IN ('contact_requested', 'contact_accepted', 'meeting', 'invested')
        GROUP BY 1"""


def outcomes(conn: psycopg.Connection, *, start: datetime, end: datetime, group_by: str | None
             ) -> dict[str | None, dict[str, float]]:
    """Metrics by group key (``None``: no value, e.g. outside Chongqing or on no board).

    With ``group_by`` ``None`` the one key ``None`` holds the period's totals.

    Raises:
        ValueError: for an unknown dimension (listing the allowed ones).
    """
    if group_by not in _KEYS:
        raise ValueError(f"unknown dimension {group_by!r}; allowed: {', '.join(DIMENSIONS)}")
    key, join = _KEYS[group_by]
    out: dict[str | None, dict[str, float]] = {}
    cur = conn.cursor(row_factory=dict_row)
    for query in (_served(key, join), _funnel(key, join)):
        for row in cur.execute(query, {"start": start, "end": end}):
            group = out.setdefault(row.pop("key"), dict.fromkeys(METRICS, 0))
            group.update({k: (float(v) if k == "amount_invested" else int(v)) for k, v in row.items()})
    return out


def district_names(conn: psycopg.Connection) -> dict[str, str]:
    """District code → Chinese name, from the reference table."""
    return {code: name for code, name in conn.execute("SELECT code, name_zh FROM districts ORDER BY code")}


def last_activity(conn: psycopg.Connection) -> datetime | None:
    """When the last funnel event happened (``None`` on an empty market): the end of the data a report can show."""
    row = conn.execute("SELECT max(occurred_at) FROM funnel_events").fetchone()
    return row[0] if row else None
