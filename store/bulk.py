"""Bulk-loading primitives: COPY into a temporary table, then one set-based upsert.

COPY is the fast path (tens of thousands of rows per second); the upsert that follows resolves
natural keys to ids and changes a row only when a value differs, so loading the same data twice
changes nothing (not even ``updated_at``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import psycopg

#: Called with the number of rows just written (for progress bars).
Progress = Callable[[int], None]


@dataclass
class LoadCounts:
    """What one bulk load did to one table."""

    table: str
    received: int = 0
    inserted: int = 0
    updated: int = 0
    unresolved: list[tuple[int, str, str, str]] = field(default_factory=list)  # (index, field, value, reason)

    @property
    def unchanged(self) -> int:
        """Rows that already existed with the same values."""
        return self.received - self.inserted - self.updated - len(self.unresolved)

    def as_dict(self) -> dict[str, int]:
        """Counts for reports."""
        return {"received": self.received, "inserted": self.inserted, "updated": self.updated,
                "unchanged": self.unchanged, "unresolved": len(self.unresolved)}


def copy_into_temp(
    cur: psycopg.Cursor,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence[object]],
    *,
    progress: Progress | None = None,
) -> int:
    """Create ``table`` as a temporary table (dropped at commit) and COPY ``rows`` into it.

    A column ``_i`` (the row's index in ``rows``) is added first, so later steps can report
    which input row failed to resolve.
    """
    cols = [("_i", "int")] + list(columns)
    cur.execute(f"CREATE TEMP TABLE {table} ({', '.join(f'{n} {t}' for n, t in cols)}) ON COMMIT DROP")
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(n for n, _ in cols)}) FROM STDIN") as copy:
        for n, row in enumerate(rows, start=1):
            copy.write_row((n - 1, *row))
            if progress is not None and n % 1000 == 0:
                progress(1000)
    if progress is not None and n % 1000:
        progress(n % 1000)
    return n


def split_enterprise_key(key: str | None) -> tuple[str | None, str | None, str | None]:
    """``(credit_code, source, external_id)`` of an enterprise natural key."""
    if key is None:
        return None, None, None
    if ":" in key:
        source, external = key.split(":", 1)
        return None, source, external
    return key, None, None


def split_investor_key(key: str | None) -> tuple[str | None, str | None]:
    """``(source, external_id)`` of an investor natural key ``source:external_id``."""
    if key is None or ":" not in key:
        return None, key
    source, external = key.split(":", 1)
    return source, external


def upsert_returning(cur: psycopg.Cursor, sql: str, counts: LoadCounts) -> None:
    """Run an ``INSERT … ON CONFLICT … RETURNING (xmax = 0)`` and tally inserts vs updates."""
    cur.execute(sql)
    for (inserted,) in cur.fetchall():
        if inserted:
            counts.inserted += 1
        else:
            counts.updated += 1


def distinct_update(columns: Sequence[str], target: str = "t") -> tuple[str, str]:
    """``SET`` and ``WHERE`` clauses updating ``columns`` only when some value differs."""
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns)
    left = ", ".join(f"{target}.{c}" for c in columns)
    right = ", ".join(f"EXCLUDED.{c}" for c in columns)
    return sets, f"({left}) IS DISTINCT FROM ({right})"
