"""SQL for the listing and tier standards (``listing_standards``, migration 0007): import a version, read the one
in force, list the versions.

The newest imported version is in force; while none has been imported, the standards shipped with the code
(:func:`matching.readiness.standards.shipped`) are. An import validates the whole file first
(:func:`~matching.readiness.standards.parse_standards`: a bad criterion is named and nothing is written)
and inserts one row in one transaction. Re-importing the same content under the same version changes
nothing; different content under a version already imported is refused (a correction is a new version).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from matching.errors import FieldError
from matching.readiness.standards import Standards, parse_standards, shipped

logger = logging.getLogger(__name__)

_PARSED: dict[str, Standards] = {}  # hash → parsed standards (content is immutable per hash)


@dataclass(frozen=True)
class StandardsVersion:
    """One version: imported (``imported_at`` set) or the shipped default (``imported_at`` ``None``)."""

    version: str
    hash: str
    imported_at: datetime | None
    imported_by: str | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"version": self.version, "hash": self.hash, "imported_at": self.imported_at,
                "imported_by": self.imported_by, "shipped": self.imported_at is None}


def _parsed(content: Any, digest: str) -> Standards:
    if digest not in _PARSED:
        _PARSED[digest] = parse_standards(content)
    return _PARSED[digest]


def current(conn: psycopg.Connection) -> Standards:
    """The standards in force: the newest imported version, else the shipped file."""
    row = conn.cursor(row_factory=dict_row).execute(
        "SELECT hash FROM listing_standards ORDER BY imported_at DESC, id DESC LIMIT 1").fetchone()
    if row is None:
        return shipped()
    if row["hash"] not in _PARSED:
        content = conn.execute("SELECT content FROM listing_standards WHERE hash = %s ORDER BY id DESC LIMIT 1",
                               (row["hash"],)).fetchone()
        assert content is not None
        return _parsed(content[0], row["hash"])
    return _PARSED[row["hash"]]


def versions(conn: psycopg.Connection) -> list[StandardsVersion]:
    """Every imported version, newest first, then the shipped default."""
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT version, hash, imported_at, imported_by FROM listing_standards "
        "ORDER BY imported_at DESC, id DESC").fetchall()
    base = shipped()
    return [*(StandardsVersion(**r) for r in rows), StandardsVersion(base.version, base.hash, None, None)]


def import_standards(conn: psycopg.Connection, data: bytes | str | Mapping[str, Any], *,
                     imported_by: str) -> tuple[Standards, bool]:
    """Validate a standards file and store it as the version in force, in one transaction.

    Args:
        conn: the connection (the insert commits here).
        data: the file (JSON text or bytes in UTF-8, GBK or GB18030, or the parsed dict).
        imported_by: who imports it (``key:<name>`` or ``cli:<user>``).

    Returns:
        The standards, and whether a new row was written (``False``: this exact version was already imported).

    Raises:
        FieldError: the file is not valid (the bad criterion is named; nothing is written), or its version
            was imported before with other content.
    """
    std = parse_standards(data)
    with conn.transaction():
        conn.execute("LOCK TABLE listing_standards IN SHARE ROW EXCLUSIVE MODE")
        row = conn.execute("SELECT hash FROM listing_standards WHERE version = %s", (std.version,)).fetchone()
        if row is not None:
            if row[0] == std.hash:
                return std, False
            raise FieldError("version", std.version, "already imported with other content; give the corrected "
                             "file a new version (e.g. 2024.2)")
        conn.execute("INSERT INTO listing_standards (version, imported_by, content, hash) VALUES (%s, %s, %s, %s)",
                     (std.version, imported_by[:200] or "unknown", Jsonb(std.as_dict()), std.hash))
    _PARSED[std.hash] = std
    logger.info("standards %s imported by %s (hash %s)", std.version, imported_by, std.hash[:12])
    return std, True


def enterprise_figures(conn: psycopg.Connection, *, districts: list[str] | None = None,
                       ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Active enterprises (all, or those in ``districts``, or those in ``ids``) with ``id``, ``tier``,
    ``district`` and ``financials`` (yearly dicts, newest first): what readiness reads."""
    where, args = ["e.status = 'active'"], []
    if districts:
        where.append("e.district_code = ANY(%s)")
        args.append(districts)
    if ids is not None:
        where.append("e.id = ANY(%s)")
        args.append(ids)
    rows = conn.cursor(row_factory=dict_row).execute(
        "SELECT e.id, e.tier, e.district_code AS district, e.disclosure, "
        "coalesce(json_agg(json_build_object('year', f.year, 'revenue', f.revenue, 'net_profit', f.net_profit, "
        "'revenue_growth', f.revenue_growth, 'rd_ratio', f.rd_ratio, 'employees', f.employees, "
        "'patents', f.patents) ORDER BY f.year DESC) FILTER (WHERE f.year IS NOT NULL), '[]') AS financials "
        f"FROM enterprises e LEFT JOIN enterprise_financials f ON f.enterprise_id = e.id WHERE {' AND '.join(where)} "
        "GROUP BY e.id ORDER BY e.id", args).fetchall()
    return rows
