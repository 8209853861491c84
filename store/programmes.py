"""Support programmes in the database: bulk upsert, reading, eligibility columns, and notices.

:func:`load_programmes` runs inside the importer's transaction (:mod:`store.importing`), so a file is
loaded whole or not at all; after the upsert it writes a notice for each enterprise that now qualifies
for a programme of the file whose window has not closed (:func:`notify`). A notice is written once per
programme and enterprise, ever (the table's primary key): re-importing, or the enterprise qualifying
again after a lapse, tells nobody twice. :func:`notify` with ``enterprise_ids`` is the cheap check run
when an enterprise's profile changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

from matching.domain.programme import Programme
from matching.ingest.parse_programmes import parse_programmes
from matching.ingest.reader import read_table
from matching.programmes import SAMPLE_FILE
from matching.programmes.eligibility import EnterpriseColumns, evaluate
from matching.rules.constraints import window_closed
from matching.snapshot.core import BOARD, QUAL, TIER, mask_of, to_days
from store.bulk import LoadCounts, Progress, copy_into_temp, distinct_update, upsert_returning

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

_COLS = [
    ("ref", "text"), ("name", "text"), ("issuer", "text"), ("kind", "text"), ("districts", "text[]"),
    ("tiers", "text[]"), ("boards", "text[]"), ("qualifications", "text[]"), ("industries", "text[]"),
    ("min_employees", "int"), ("max_employees", "int"), ("min_revenue", "numeric"), ("max_revenue", "numeric"),
    ("min_age_years", "float8"), ("max_age_years", "float8"), ("max_amount", "numeric"), ("opens_on", "date"),
    ("closes_on", "date"), ("link", "text"), ("description", "text"), ("is_sample", "boolean"),
]
_FIELDS = [c for c, _ in _COLS]
_NUMERIC = ("min_revenue", "max_revenue", "max_amount")


def china_today() -> date:
    """Today in China (programme windows are China calendar days)."""
    return datetime.now(CHINA).date()


def load_programmes(cur: psycopg.Cursor, records: Sequence[Programme], *, progress: Progress | None = None,
                    today: date | None = None) -> list[LoadCounts]:
    """Upsert programmes by ``ref`` and notify the enterprises that now qualify for them.

    Returns:
        the counts of ``programmes`` and of ``programme_notices`` (notices written).
    """
    counts = LoadCounts("programmes", received=len(records))
    copy_into_temp(cur, "s_prog", _COLS, ([getattr(p, f) for f in _FIELDS] for p in records), progress=progress)
    sets, where = distinct_update([f for f in _FIELDS if f != "ref"])
    cols = ", ".join(_FIELDS)
    upsert_returning(cur, f"""
        INSERT INTO programmes AS t ({cols}) SELECT {cols} FROM s_prog ORDER BY _i
        ON CONFLICT (ref) DO UPDATE SET {sets} WHERE {where} RETURNING (xmax = 0)""", counts)
    ids = [r[0] for r in cur.execute("SELECT id FROM programmes WHERE ref = ANY(%s)", ([p.ref for p in records],))]
    notices = LoadCounts("programme_notices")
    notices.inserted = notices.received = notify(cur, programme_ids=ids, today=today)
    return [counts, notices]


def load_sample_if_empty(conn: psycopg.Connection, path: Path = SAMPLE_FILE) -> int:
    """Load the demonstration programmes (示例, not real policy) when there are no programmes at all; return
    how many were loaded (0 when some exist). Give an autocommit connection: the load commits.

    Raises:
        ValueError: the file has a bad row (naming it): a broken sample is a bug, not something to skip.
    """
    if conn.execute("SELECT EXISTS (SELECT 1 FROM programmes)").fetchone()[0]:  # type: ignore[index]
        return 0
    result = parse_programmes(read_table(path))
    if result.errors:
        raise ValueError(f"{path}: {'; '.join(str(e) for e in result.errors[:5])}")
    with conn.transaction(), conn.cursor() as cur:
        load_programmes(cur, result.records)
    return len(result.records)


def _programme(row: Sequence[Any]) -> Programme:
    values = dict(zip(_FIELDS, row, strict=True))
    for name in _NUMERIC:
        if values[name] is not None:
            values[name] = float(values[name])
    for name in ("districts", "tiers", "boards", "qualifications", "industries"):
        values[name] = list(values[name])
    return Programme(**values)


def read_programmes(conn: psycopg.Connection | psycopg.Cursor, *, ids: Iterable[int] | None = None,
                    kinds: Sequence[str] | None = None, districts: Sequence[str] | None = None
                    ) -> list[tuple[int, Programme]]:
    """Programmes with their ids, in ref order; ``kinds`` narrows by kind, ``districts`` to programmes open
    to an enterprise of one of those districts (no district rule, or one of them named)."""
    where, params = ["TRUE"], []
    if ids is not None:
        where.append("id = ANY(%s)")
        params.append(list(ids))
    if kinds:
        where.append("kind = ANY(%s)")
        params.append(list(kinds))
    if districts:
        where.append("(districts = '{}' OR districts && %s::text[])")
        params.append(list(districts))
    rows = conn.execute(f"SELECT id, {', '.join(_FIELDS)} FROM programmes WHERE {' AND '.join(where)} ORDER BY ref",
                        params).fetchall()
    return [(int(r[0]), _programme(r[1:])) for r in rows]


def enterprise_columns(conn: psycopg.Connection | psycopg.Cursor, enterprise_ids: Sequence[int] | None = None
                       ) -> EnterpriseColumns:
    """The columns programme rules read, straight from the database (not a snapshot, so a profile or import
    just written counts): profile fields and the latest reported year's employees and revenue."""
    where, params = ("WHERE e.id = ANY(%s)", [list(enterprise_ids)]) if enterprise_ids is not None else ("", [])
    rows = conn.execute(f"""
        SELECT e.id, e.district_code, e.tier, e.boards, e.qualifications, e.industry_code, f.employees, f.revenue,
               e.founded_on, e.status
        FROM enterprises e
        LEFT JOIN LATERAL (SELECT employees, revenue FROM enterprise_financials x WHERE x.enterprise_id = e.id
                           ORDER BY year DESC LIMIT 1) f ON TRUE
        {where} ORDER BY e.id""", params).fetchall()

    def objects(values: list[Any]) -> np.ndarray:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    return EnterpriseColumns(
        ids=np.array([r[0] for r in rows], dtype=np.int64), district=objects([r[1] for r in rows]),
        tier=np.array([TIER.get(r[2], 0) for r in rows], dtype=np.int8),
        boards=np.array([mask_of(r[3], BOARD) for r in rows], dtype=np.int64),
        quals=np.array([mask_of(r[4], QUAL) for r in rows], dtype=np.int64),
        industry=objects([r[5] for r in rows]),
        employees=np.array([np.nan if r[6] is None else float(r[6]) for r in rows], dtype=np.float64),
        revenue=np.array([np.nan if r[7] is None else float(r[7]) for r in rows], dtype=np.float64),
        founded=np.array([to_days(r[8]) for r in rows], dtype=np.float64),
        active=np.array([r[9] == "active" for r in rows], dtype=bool))


def notify(cur: psycopg.Connection | psycopg.Cursor, *, programme_ids: Sequence[int] | None = None,
           enterprise_ids: Sequence[int] | None = None, today: date | None = None) -> int:
    """Write a notice for each (programme, enterprise) pair that qualifies and has none yet; programmes whose
    window has closed tell nobody. Returns how many notices were written."""
    today = today or china_today()
    programmes = [(i, p) for i, p in read_programmes(cur, ids=programme_ids) if not window_closed(p.closes_on, today)]
    if not programmes or (enterprise_ids is not None and not enterprise_ids):
        return 0
    columns = enterprise_columns(cur, enterprise_ids)
    pairs = [(pid, int(eid)) for pid, p in programmes for eid in columns.ids[evaluate(p, columns, today).qualifies]]
    if not pairs:
        return 0
    rows = cur.execute("""
        INSERT INTO programme_notices (programme_id, enterprise_id)
        SELECT * FROM unnest(%s::bigint[], %s::bigint[]) ON CONFLICT DO NOTHING RETURNING 1""",
                       ([p for p, _ in pairs], [e for _, e in pairs])).fetchall()
    return len(rows)


def told_counts(conn: psycopg.Connection) -> dict[int, int]:
    """Notices written per programme id (enterprises told)."""
    return {int(p): int(n) for p, n in conn.execute(
        "SELECT programme_id, count(*) FROM programme_notices GROUP BY programme_id")}


def notices_of(conn: psycopg.Connection, enterprise_id: int) -> dict[int, tuple[datetime, datetime | None]]:
    """An enterprise's notices: programme id → (created, read_at)."""
    return {int(p): (c, r) for p, c, r in conn.execute(
        "SELECT programme_id, created_at, read_at FROM programme_notices WHERE enterprise_id = %s", (enterprise_id,))}


def unread_count(conn: psycopg.Connection, enterprise_id: int) -> int:
    """How many of an enterprise's notices it has not read."""
    row = conn.execute("SELECT count(*) FROM programme_notices WHERE enterprise_id = %s AND read_at IS NULL",
                       (enterprise_id,)).fetchone()
    return int(row[0]) if row else 0


def mark_read(conn: psycopg.Connection, enterprise_id: int) -> int:
    """Mark every unread notice of an enterprise read; returns how many."""
    rows = conn.execute("UPDATE programme_notices SET read_at = now() WHERE enterprise_id = %s AND read_at IS NULL "
                        "RETURNING 1", (enterprise_id,)).fetchall()
    return len(rows)


def enterprise_exists(conn: psycopg.Connection, enterprise_id: int) -> bool:
    """Whether an enterprise with this id exists."""
    return conn.execute("SELECT 1 FROM enterprises WHERE id = %s", (enterprise_id,)).fetchone() is not None
