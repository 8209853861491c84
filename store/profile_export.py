"""The SQL of the enterprise profile export (企业画像, :mod:`api.services.profile_export`): enterprises in id
order a batch at a time (keyset paging, so a large market streams at an even pace), and their funnel counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from store.resources import ENTERPRISES, financials
from store.tables import plain, select_list

#: The funnel stages counted: distinct investors per stage (the export names none of them). Addressed stages
#: only: ``viewed`` is its actor's private conduct (:data:`matching.rules.event_visibility.PRIVATE_TYPES`),
#: which not even the enterprise reads.
STAGES = ("contact_requested", "contact_accepted", "meeting", "invested")


def enterprise_batches(conn: psycopg.Connection, *, district: Sequence[str] = (), batch: int = 500
                       ) -> Iterator[list[dict[str, Any]]]:
    """Enterprises (with their yearly ``financials``, newest first) in id order, ``batch`` at a time;
    ``district`` (codes) narrows when given."""
    after = 0
    cur = conn.cursor(row_factory=dict_row)
    where = sql.SQL("t.id > %(after)s") + (sql.SQL(" AND t.district_code = ANY(%(district)s)") if district
                                           else sql.SQL(""))
    query = sql.SQL("SELECT {} FROM enterprises t WHERE {} ORDER BY t.id LIMIT %(batch)s").format(
        select_list(ENTERPRISES), where)
    while True:
        rows = [plain(r) for r in cur.execute(query, {"after": after, "district": list(district),
                                                      "batch": batch}).fetchall()]
        if not rows:
            return
        years = financials(conn, [r["id"] for r in rows])
        for r in rows:
            r["financials"] = years.get(r["id"], [])
        yield rows
        after = rows[-1]["id"]


def funnel_counts(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """``enterprise id → stage → distinct investors`` over :data:`STAGES` (an enterprise with none is absent)."""
    out: dict[int, dict[str, int]] = {}
    if not enterprise_ids:
        return out
    for eid, stage, n in conn.execute(
            "SELECT enterprise_id, event_type, count(DISTINCT investor_id) FROM funnel_events "
            "WHERE enterprise_id = ANY(%s::bigint[]) AND event_type = ANY(%s) GROUP BY enterprise_id, event_type",
            (list(enterprise_ids), list(STAGES))):
        out.setdefault(int(eid), {})[stage] = int(n)
    return out
