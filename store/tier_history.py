"""An enterprise's tier history: each change of its tier, boards or qualifications (migration 0009).

The rows are written by triggers on ``enterprises`` (one place for every path that writes an enterprise:
the API's create and update, a verified claim, a bulk import), in the writing transaction. What the
triggers cannot know is *who* wrote: the writer names it with :func:`mark_source` inside its transaction;
a change nobody named (e.g. made with psql) is recorded with ``source = 'sql'``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

Source = Literal["import", "api", "migration"]
SOURCES: tuple[str, ...] = ("import", "api", "migration", "sql")
#: The transaction-local setting the triggers read.
SETTING = "capconnect.change_source"


def mark_source(cur: psycopg.Cursor[Any], source: Source) -> None:
    """Name the source of the enterprise changes this transaction makes (until it ends).

    Raises:
        ValueError: for a source other than ``import``, ``api`` or ``migration``.
    """
    if source not in SOURCES[:3]:
        raise ValueError(f"unknown tier history source {source!r}; allowed: import, api, migration")
    cur.execute("SELECT set_config(%s, %s, true)", (SETTING, source))


def of_enterprises(conn: psycopg.Connection, enterprise_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """``enterprise id → its changes, oldest first`` (``tier``, ``boards``, ``qualifications``, ``changed_at``,
    ``source``); an enterprise with none is absent."""
    out: dict[int, list[dict[str, Any]]] = {}
    if not enterprise_ids:
        return out
    for r in conn.cursor(row_factory=dict_row).execute(
            "SELECT enterprise_id, tier, boards, qualifications, changed_at, source FROM tier_history "
            "WHERE enterprise_id = ANY(%s::bigint[]) ORDER BY enterprise_id, id", (list(enterprise_ids),)):
        out.setdefault(int(r.pop("enterprise_id")), []).append(r)
    return out
