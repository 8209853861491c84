"""Generic, whitelisted SQL over one resource table: insert, update, get, filtered pages, error translation.

Column names only ever come from a :class:`Table`'s whitelist (never from a request). A write runs in
one transaction (:func:`writing`); a unique key already taken raises :class:`Duplicate`, any other
constraint or bad datum :class:`Invalid`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row


@dataclass(frozen=True)
class Table:
    """A resource table: its columns by API field name, and its unique keys (constraint → fields)."""

    name: str
    columns: Mapping[str, str]  # API field → column
    unique: Mapping[str, tuple[str, ...]]


#: numeric(20, 2) columns, returned as float (JSON numbers) rather than Decimal
NUMERIC = {"registered_capital", "aum", "amount", "asking_price", "nav", "ticket_min", "ticket_max", "revenue",
           "net_profit", "discount"}


class Duplicate(Exception):
    """A unique key is already taken.

    Attributes:
        fields: the key's fields; values: the values sent; existing_id: the row holding them.
    """

    def __init__(self, table: str, fields: tuple[str, ...], values: tuple[Any, ...], existing_id: int | None) -> None:
        self.table, self.fields, self.values, self.existing_id = table, fields, values, existing_id
        super().__init__(f"{table}: {', '.join(fields)} = {values} already used by id {existing_id}")


class Invalid(Exception):
    """A database constraint refused the values (a check the API did not make first)."""

    def __init__(self, constraint: str | None, message: str) -> None:
        self.constraint, self.message = constraint, message
        super().__init__(f"{constraint}: {message}")


def select_list(table: Table, alias: str = "t") -> sql.Composed:
    """``id``, every column as its API field name, ``created_at`` and ``updated_at``."""
    parts = [sql.SQL("{}.id").format(sql.Identifier(alias))]
    for field, column in table.columns.items():
        parts.append(sql.SQL("{}.{} AS {}").format(sql.Identifier(alias), sql.Identifier(column),
                                                   sql.Identifier(field)))
    parts.append(sql.SQL("{0}.created_at, {0}.updated_at").format(sql.Identifier(alias)))
    return sql.SQL(", ").join(parts)


def plain(row: dict[str, Any]) -> dict[str, Any]:
    """The row with numeric columns as float."""
    return {k: (float(v) if k in NUMERIC and v is not None else v) for k, v in row.items()}


def columns_of(table: Table, values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """``(column, value)`` pairs; ``ValueError`` for a field outside the whitelist."""
    unknown = set(values) - set(table.columns)
    if unknown:
        raise ValueError(f"unknown fields for {table.name}: {sorted(unknown)}; allowed: {sorted(table.columns)}")
    return [(table.columns[k], v) for k, v in values.items()]


def insert_row(cur: psycopg.Cursor[Any], table: Table, values: Mapping[str, Any]) -> int:
    """Insert one row (unsent columns take their defaults); return its id."""
    pairs = columns_of(table, values)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
        sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c) for c, _ in pairs),
        sql.SQL(", ").join(sql.Placeholder() * len(pairs)))
    row = cur.execute(query, [v for _, v in pairs]).fetchone()
    assert row is not None
    return int(row["id"] if isinstance(row, dict) else row[0])


def update_row(cur: psycopg.Cursor[Any], table: Table, row_id: int, values: Mapping[str, Any]) -> bool:
    """Set the given fields of one row; whether the row exists."""
    pairs = columns_of(table, values)
    if not pairs:
        return cur.execute(sql.SQL("SELECT 1 FROM {} WHERE id = %s").format(sql.Identifier(table.name)),
                           (row_id,)).fetchone() is not None
    query = sql.SQL("UPDATE {} SET {} WHERE id = %s").format(
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c, _ in pairs))
    cur.execute(query, [*(v for _, v in pairs), row_id])
    return cur.rowcount == 1


def writing(conn: psycopg.Connection, table: Table, values: Mapping[str, Any]) -> Any:
    """One write transaction (``with writing(...) as cur``) turning integrity errors into
    :class:`Duplicate` (``values`` names the key that clashed) or :class:`Invalid`."""
    return _Writing(conn, table, values)


class _Writing:
    def __init__(self, conn: psycopg.Connection, table: Table, values: Mapping[str, Any]) -> None:
        self.conn, self.table, self.values = conn, table, values
        self.tx = conn.transaction()

    def __enter__(self) -> psycopg.Cursor[dict[str, Any]]:
        self.tx.__enter__()
        return self.conn.cursor(row_factory=dict_row)

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        try:
            self.tx.__exit__(kind, exc, tb)  # commits, or rolls back on an exception
        except psycopg.Error as at_commit:  # a deferred constraint fails at commit
            exc = at_commit
            if not isinstance(exc, psycopg.IntegrityError):
                raise
        if isinstance(exc, pg_errors.UniqueViolation):
            raise self._duplicate(exc) from exc
        if isinstance(exc, psycopg.IntegrityError | psycopg.DataError):
            raise Invalid(exc.diag.constraint_name, exc.diag.message_primary or str(exc)) from exc
        return False

    def _duplicate(self, exc: pg_errors.UniqueViolation) -> Duplicate:
        fields = self.table.unique.get(exc.diag.constraint_name or "", ())
        values = tuple(self.values.get(f) for f in fields)
        if not fields or any(v is None for v in values):
            return Duplicate(self.table.name, fields or ("id",), values, None)
        where = sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(self.table.columns[f]))
                                      for f in fields)
        row = self.conn.execute(sql.SQL("SELECT id FROM {} WHERE {}").format(sql.Identifier(self.table.name), where),
                                values).fetchone()
        return Duplicate(self.table.name, fields, values, int(row[0]) if row else None)


def get_row(conn: psycopg.Connection, table: Table, row_id: int, extra: str = "") -> dict[str, Any] | None:
    """One row by id (``extra``: trusted select-list SQL appended), or ``None``."""
    row = conn.cursor(row_factory=dict_row).execute(
        sql.SQL("SELECT {}{} FROM {} t WHERE t.id = %s").format(select_list(table), sql.SQL(extra),
                                                              sql.Identifier(table.name)), (row_id,)).fetchone()
    return plain(row) if row else None


@dataclass
class Filter:
    """SQL conditions (on alias ``t``) and their parameters, built from trusted fragments only."""

    conditions: list[str]
    params: dict[str, Any]

    def eq(self, column: str, value: Any) -> Filter:
        """``column = value`` (skipped when ``value`` is None); ``column = ANY(value)`` for a list."""
        if value is None or value == []:
            return self
        name = f"p{len(self.params)}"
        op = "= ANY(%({})s)" if isinstance(value, list | tuple) else "= %({})s"
        self.conditions.append(f"t.{column} {op.format(name)}")
        self.params[name] = list(value) if isinstance(value, list | tuple) else value
        return self

    def overlaps(self, column: str, values: Sequence[str] | None) -> Filter:
        """Array ``column`` shares a value with ``values``."""
        if values:
            name = f"p{len(self.params)}"
            self.conditions.append(f"t.{column} && %({name})s::text[]")
            self.params[name] = list(values)
        return self

    def text(self, columns: Iterable[str], q: str | None) -> Filter:
        """Case-insensitive substring search over ``columns``."""
        if q and q.strip():
            name = f"p{len(self.params)}"
            self.params[name] = "%" + q.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            self.conditions.append("(" + " OR ".join(f"t.{c} ILIKE %({name})s" for c in columns) + ")")
        return self


def new_filter() -> Filter:
    """An empty filter."""
    return Filter([], {})


def fetch_page(conn: psycopg.Connection, table: Table, flt: Filter, *, limit: int, offset: int, extra: str = ""
          ) -> tuple[list[dict[str, Any]], int]:
    where = sql.SQL(" AND ".join(flt.conditions) if flt.conditions else "true")
    cur = conn.cursor(row_factory=dict_row)
    total_row = cur.execute(sql.SQL("SELECT count(*) AS n FROM {} t WHERE {}").format(
        sql.Identifier(table.name), where), flt.params).fetchone()
    rows = cur.execute(sql.SQL("SELECT {}{} FROM {} t WHERE {} ORDER BY t.id LIMIT %(limit)s OFFSET %(offset)s").format(
        select_list(table), sql.SQL(extra), sql.Identifier(table.name), where),
        {**flt.params, "limit": limit, "offset": offset}).fetchall()
    return [plain(r) for r in rows], int(total_row["n"]) if total_row else 0
