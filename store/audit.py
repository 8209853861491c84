"""The audit log: who was shown confidential fields (:func:`record_views`, called by
:func:`api.security.record_confidential_views`) and decisions (a promotion past the quality gate).

``audit_log`` is append-only (its trigger) and, where the migration could, owned by a role of its own that
the service may only ``INSERT`` into and ``SELECT`` from (migration 0006).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

#: One view row: api_key_id, key_prefix, role, viewer_investor_id, viewer_enterprise_id, enterprise_id,
#: fields, basis, request_id.
ViewRow = tuple[Any, ...]


def record_views(conn: psycopg.Connection, rows: Sequence[ViewRow]) -> None:
    """Append one ``audit_log`` row per confidential view (committed with the caller's transaction, or at
    once in autocommit).

    Args:
        conn: an open connection.
        rows: the rows, their values in the order of :data:`ViewRow`.
    """
    if not rows:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO audit_log (api_key_id, key_prefix, role, viewer_investor_id, viewer_enterprise_id, "
            "enterprise_id, fields, basis, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)


def record_forced_promotion(conn: psycopg.Connection, who: Any, *, version: str, previous: str, reason: str,
                            request_id: str | None) -> None:
    """One ``model_forced`` row: who promoted ``version`` past the quality gate (over ``previous``) and why.

    Args:
        conn: an open connection (the row is committed with the caller's transaction, or at once in autocommit).
        who: the :class:`~api.deps.Principal` (an admin).
        version: the version made active.
        previous: the version served before.
        reason: why the gate was overridden (1-500 characters).
        request_id: the request's id, to find it in the access log.
    """
    conn.execute(
        "INSERT INTO audit_log (api_key_id, key_prefix, role, enterprise_id, fields, basis, request_id, action, "
        "reason) VALUES (%s, %s, %s, NULL, %s, %s, %s, 'model_forced', %s)",
        (who.key_id, who.key_shown, who.role, ["model"], f"model:{version} over {previous}", request_id, reason))
