"""The row parser every entity shares: resolve headers, parse cells, check, build, de-duplicate.

An entity is declared once as a list of :class:`Column` (field, English header, Chinese header,
aliases, cell parser) plus a builder; :func:`parse_rows` does the rest and reports every problem as
a :class:`RowError` (row, field, value, reason), all of a row's problems at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from matching.errors import FieldError
from matching.ingest.reader import Row

T = TypeVar("T")

#: A cell parser: (text, field name, column unit) → value. ``unit`` is the multiplier or ``"%"``
#: read from the header (``注册资本(万元)`` → 1e4), ``None`` when the header names none.
CellParser = Callable[[str, str, Any], Any]

_HEADER_UNITS: dict[str, Any] = {
    "元": 1.0,
    "yuan": 1.0,
    "cny": 1.0,
    "rmb": 1.0,
    "千元": 1e3,
    "万元": 1e4,
    "万": 1e4,
    "百万元": 1e6,
    "百万": 1e6,
    "千万元": 1e7,
    "亿元": 1e8,
    "亿": 1e8,
    "%": "%",
    "百分比": "%",
    "percent": "%",
}
_CACHE_LIMIT = 50_000  # distinct texts remembered per column
_UNIT_SUFFIX = re.compile(r"^(?P<base>.+?)[(\[](?P<unit>[^)\]]*)[)\]]$")


@dataclass(frozen=True, slots=True)
class Column:
    """One accepted column of an entity.

    Attributes:
        field: the record field it fills (also the key of the parsed values).
        header: the English header written on export (the record field name or a short form).
        zh: the Chinese header written on export.
        parse: the cell parser.
        aliases: other accepted headers (English or Chinese).
        required: whether every row must give a value.
        doc: what the column holds, for the documentation and templates.
    """

    field: str
    header: str
    zh: str
    parse: CellParser
    aliases: tuple[str, ...] = ()
    required: bool = False
    doc: str = ""

    @property
    def headers(self) -> tuple[str, ...]:
        """Every accepted header, export headers first."""
        return tuple(dict.fromkeys((self.header, self.zh, self.field, *self.aliases)))


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem of one row.

    Attributes:
        row: the row number in the file (header = 1); 1 for problems of the header itself.
        field: the record field (English), whatever the column was called in the file.
        value: the offending value as written ("" when missing).
        reason: what is wrong and what is allowed.
        column: the header as written in the file, when there is one.
    """

    row: int
    field: str
    value: str
    reason: str
    column: str | None = None

    def __str__(self) -> str:
        name = self.field if not self.column or self.column == self.field else f"{self.column} ({self.field})"
        return f"row {self.row}, {name} = '{self.value}': {self.reason}"


@dataclass(slots=True)
class ParseResult(Generic[T]):
    """What parsing a table produced.

    Attributes:
        records: the valid records, in file order.
        record_rows: the file row of each record (its first row, when several rows make one record).
        errors: every problem found; a row may have several.
        rejected_rows: the rows with at least one problem (all rows when the header is broken).
        columns: file header → record field, for the columns that were recognised.
        ignored_columns: headers that match no field (reported, not an error).
    """

    records: list[T] = field(default_factory=list)
    record_rows: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rejected_rows: list[Row] = field(default_factory=list)
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every row was valid."""
        return not self.errors


class TableLike(Protocol):
    """Anything with a header and rows: :class:`~matching.ingest.reader.Table` or ``TableStream``."""

    columns: list[str]

    @property
    def rows(self) -> Iterable[Row]: ...  # pragma: no cover


class Invalid(Exception):
    """Raised by checks and builders with every problem they found."""

    def __init__(self, problems: list[FieldError]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(slots=True)
class EntitySpec(Generic[T]):
    """How to turn parsed values into one record.

    Attributes:
        name: the entity ("enterprises", …).
        columns: the accepted columns.
        build: parsed values (field → value; fields not given are absent) → record; raises
            :class:`Invalid` for cross-field problems.
        key: the record's natural key and the field to blame for a duplicate.
        merge: optional ``(first record, new record, new row's values, first row, new row)``; folds a
            later row with the same key into the first record (enterprise financials: one row per
            year) and returns ``None``, or returns why it cannot.
        unique: other fields that must be unique in the file (name, getter).
    """

    name: str
    columns: tuple[Column, ...]
    build: Callable[[dict[str, Any]], T]
    key: Callable[[T], tuple[Hashable, str]]
    merge: Callable[[T, T, dict[str, Any], int, int], str | None] | None = None
    unique: tuple[tuple[str, Callable[[T], Hashable]], ...] = ()


def header_key(text: str) -> str:
    """How headers are compared: NFKC, case-folded, spaces/underscores/hyphens unified, ``*`` dropped."""
    folded = (
        unicodedata.normalize("NFKC", text).strip().lower().replace("*", "").replace("：", "").rstrip(":")
    )
    return re.sub(r"[\s_\-]+", "_", folded).strip("_")


def resolve_columns(
    headers: list[str], columns: tuple[Column, ...]
) -> tuple[list[tuple[str, Column, Any]], list[str], list[RowError]]:
    """Match the file's headers to columns.

    Returns:
        ``(header, column, unit)`` for each recognised header, the ignored headers, and header
        problems (a field given twice, a required column missing), reported on row 1.
    """
    by_key: dict[str, Column] = {}
    for col in columns:
        for name in col.headers:
            by_key.setdefault(header_key(name), col)
    found: list[tuple[str, Column, Any]] = []
    ignored: list[str] = []
    problems: list[RowError] = []
    seen: dict[str, str] = {}
    for header in headers:
        key = header_key(header)
        col, unit = by_key.get(key), None
        if col is None and (m := _UNIT_SUFFIX.match(key)):
            col, unit = by_key.get(header_key(m["base"])), _HEADER_UNITS.get(header_key(m["unit"]))
        if col is None:
            ignored.append(header)
            continue
        if col.field in seen:
            problems.append(
                RowError(
                    1,
                    col.field,
                    header,
                    f"columns '{seen[col.field]}' and '{header}' both give {col.field}; keep one",
                    header,
                )
            )
            continue
        seen[col.field] = header
        found.append((header, col, unit))
    for col in columns:
        if col.required and col.field not in seen:
            problems.append(
                RowError(1, col.field, "", f"required column missing; name it '{col.header}' or '{col.zh}'")
            )
    return found, ignored, problems


def parse_rows(table: TableLike, spec: EntitySpec[T]) -> ParseResult[T]:
    """Parse every row of ``table`` into ``spec``'s records, collecting every problem."""
    found, ignored, header_problems = resolve_columns(list(table.columns), spec.columns)
    result: ParseResult[T] = ParseResult(columns={h: c.field for h, c, _ in found}, ignored_columns=ignored)
    if header_problems:
        result.errors = header_problems
        result.rejected_rows = list(table.rows)
        return result
    header_of = {c.field: h for h, c, _ in found}
    # Cells repeat (districts, tiers, dates, amounts): parse each distinct text of a column once.
    caches: list[dict[str, tuple[bool, Any]] | None] = [
        None if getattr(c.parse, "unique_values", False) else {} for _, c, _ in found
    ]
    # Attribute lookups hoisted out of the per-cell loop (it runs once per cell of a 100k-row file).
    plan = [
        (header, col.field, col.required, col.parse, unit, cache)
        for (header, col, unit), cache in zip(found, caches, strict=True)
    ]
    seen: dict[Hashable, tuple[int, int]] = {}  # key → (record index, row)
    unique_seen: dict[tuple[str, Hashable], int] = {}
    for row in table.rows:
        errors: list[RowError] = []
        values: dict[str, Any] = {}
        if row.extra:
            errors.append(
                RowError(
                    row.row,
                    "(row)",
                    ", ".join(row.extra),
                    f"{len(row.extra)} cell(s) beyond the last column; quote cells that contain commas",
                )
            )
        cells = row.values
        for header, fld, required, parse, unit, cache in plan:
            raw = cells.get(header)
            if raw is None:
                if required:
                    errors.append(RowError(row.row, fld, "", "a value is required", header))
                continue
            hit = cache.get(raw) if cache is not None else None
            if hit is None:
                try:
                    hit = (True, parse(raw, fld, unit))
                except FieldError as exc:
                    hit = (False, exc)
                if cache is not None and len(cache) < _CACHE_LIMIT:
                    cache[raw] = hit
            if hit[0]:
                value = hit[1]
                values[fld] = list(value) if isinstance(value, list) else value  # never share a list
            else:
                errors.append(_row_error(row.row, hit[1], raw, header))
        record = None
        if not errors:
            try:
                record = spec.build(values)
            except Invalid as exc:
                for p in exc.problems:  # show the cell as written, not the parsed value
                    header = header_of.get(p.field)
                    raw = row.values.get(header) if header else None
                    errors.append(
                        RowError(
                            row.row, p.field, raw if raw is not None else _text_of(p.value), p.reason, header
                        )
                    )
        if record is not None:
            key, key_field = spec.key(record)
            if key in seen:
                index, first_row = seen[key]
                reason = (
                    spec.merge(result.records[index], record, values, first_row, row.row)
                    if spec.merge
                    else f"duplicate of row {first_row}"
                )
                if reason is not None:
                    errors.append(
                        RowError(row.row, key_field, _key_text(key), reason, header_of.get(key_field))
                    )
                record = None
            else:
                for name, get in spec.unique:
                    value = get(record)
                    if value is not None and (name, value) in unique_seen:
                        errors.append(
                            RowError(
                                row.row,
                                name,
                                str(value),
                                f"duplicate of row {unique_seen[(name, value)]} ({name} must be unique)",
                                header_of.get(name),
                            )
                        )
                        record = None
        if errors:
            result.errors.extend(errors)
            result.rejected_rows.append(row)
            continue
        if record is not None:
            seen[key] = (len(result.records), row.row)
            for name, get in spec.unique:
                value = get(record)
                if value is not None:
                    unique_seen[(name, value)] = row.row
            result.records.append(record)
            result.record_rows.append(row.row)
    return result


def _row_error(row: int, exc: FieldError, raw: str | None, header: str | None) -> RowError:
    value = exc.value if exc.value is not None else raw
    return RowError(row, exc.field, "" if value is None else str(value), exc.reason, header)


def _text_of(value: object) -> str:
    return "" if value is None else str(value)


def _key_text(key: Hashable) -> str:
    if isinstance(key, tuple):
        return " / ".join(str(k) for k in key)
    return str(key)


def check(problems: list[FieldError]) -> None:
    """Raise :class:`Invalid` if there are problems."""
    if problems:
        raise Invalid(problems)


def columns_table(columns: tuple[Column, ...]) -> str:
    """A Markdown table of accepted columns (for module docs, templates and the README)."""
    lines = [
        "| field | English header | 中文表头 | also accepted | required | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for c in columns:
        also = ", ".join(h for h in c.headers[2:])
        lines.append(
            f"| {c.field} | {c.header} | {c.zh} | {also} | {'yes' if c.required else ''} | {c.doc} |"
        )
    return "\n".join(lines)
