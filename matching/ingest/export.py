"""Write records or rows as CSV (UTF-8 with BOM, CRLF: opens cleanly in Excel with Chinese) or XLSX.

Exports use the import format, so export → :func:`~matching.ingest.reader.read_table` →
``parse_*`` gives back equal records. Headers and enumerations are English codes (``lang="en"``) or
Chinese headers and labels (``lang="zh"``, for people and for the government data platforms); both
import. Lists are joined with ``,`` (en) or ``、`` (zh); an item that itself contains a list
separator cannot survive the round trip, so it is logged.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from matching.domain import vocab as V
from matching.domain.industries import industry
from matching.domain.records import Enterprise, Event, Financials, Investor, Mandate, Need, Secondary
from matching.domain.regions import district
from matching.ingest.parse import COLUMNS
from matching.ingest.reader import number_text

logger = logging.getLogger(__name__)

Format = Literal["csv", "xlsx"]
Lang = Literal["en", "zh"]

ENTITY_OF: dict[type, str] = {
    Enterprise: "enterprises",
    Investor: "investors",
    Mandate: "mandates",
    Need: "needs",
    Secondary: "secondaries",
    Event: "events",
}
_FINANCIAL_FIELDS = frozenset(
    {"year", "revenue", "net_profit", "revenue_growth", "rd_ratio", "employees", "patents"}
)
_SEPARATORS = re.compile(r"[,，;；、|]")
_NUMBER = re.compile(r"^[-+]?\d[\d,]*(\.\d+)?([eE][-+]?\d+)?$")
_FORMULA_START = ("=", "+", "-", "@")


def _vocab_label(vocabulary: V.Vocabulary) -> Any:
    return lambda code: vocabulary.label(code, "zh")


#: Chinese labels of coded fields: (entity or "*", field) → code → label.
# fmt: off
_ZH: dict[tuple[str, str], Any] = {
    ("*", "tier"): _vocab_label(V.TIERS), ("*", "tiers"): _vocab_label(V.TIERS),
    ("*", "boards"): _vocab_label(V.BOARDS), ("*", "qualifications"): _vocab_label(V.QUALIFICATIONS),
    ("*", "listing_target"): _vocab_label(V.LISTING_TARGETS),
    ("*", "disclosure"): _vocab_label(V.DISCLOSURE_LEVELS),
    ("*", "investor_type"): _vocab_label(V.INVESTOR_TYPES),
    ("*", "excluded_investor_types"): _vocab_label(V.INVESTOR_TYPES),
    ("*", "state_fund_level"): _vocab_label(V.STATE_FUND_LEVELS),
    ("*", "stages"): _vocab_label(V.ROUNDS), ("*", "round"): _vocab_label(V.ROUNDS),
    ("*", "currency"): _vocab_label(V.CURRENCIES), ("*", "regions"): _vocab_label(V.REGION_SCOPES),
    ("*", "instruments"): _vocab_label(V.INSTRUMENTS), ("*", "instrument"): _vocab_label(V.INSTRUMENTS),
    ("*", "kind"): _vocab_label(V.SECONDARY_KINDS), ("*", "event_type"): _vocab_label(V.EVENT_TYPES),
    ("*", "actor"): _vocab_label(V.SIDES),
    ("*", "district_code"): lambda c: district(c).zh, ("*", "districts"): lambda c: district(c).zh,
    ("*", "industry_code"): lambda c: industry(c).zh, ("*", "sectors"): lambda c: industry(c).zh,
    ("*", "excluded_sectors"): lambda c: industry(c).zh,
    ("enterprises", "status"): _vocab_label(V.ENTERPRISE_STATUSES),
    ("investors", "status"): _vocab_label(V.INVESTOR_STATUSES),
    ("needs", "status"): _vocab_label(V.NEED_STATUSES),
    ("secondaries", "status"): _vocab_label(V.SECONDARY_STATUSES),
}
# fmt: on


def entity_of(records: Sequence[object]) -> str:
    """The entity name of a homogeneous list of records (``enterprises``, …).

    Raises:
        ValueError: for an empty list or an unknown record type.
    """
    if not records:
        raise ValueError("no records: cannot tell the entity; pass it explicitly")
    try:
        return ENTITY_OF[type(records[0])]
    except KeyError:
        raise ValueError(
            f"not a market record: {type(records[0]).__name__}; allowed: "
            f"{', '.join(t.__name__ for t in ENTITY_OF)}"
        ) from None


def export_headers(entity: str, lang: Lang = "en") -> list[str]:
    """The columns an export of ``entity`` writes, in order."""
    return [c.header if lang == "en" else c.zh for c in COLUMNS[entity]]


def records_to_rows(
    records: Sequence[object], *, lang: Lang = "en", entity: str | None = None
) -> list[dict[str, Any]]:
    """Records as rows in the import format, keyed by :func:`export_headers`.

    An enterprise gives one row per financial year (one row when it has none). Values keep their
    type (numbers, dates) so XLSX cells are numbers and dates; lists are joined, and with
    ``lang="zh"`` coded values become their Chinese labels.
    """
    if not records:
        return []
    name = entity or entity_of(records)
    columns = COLUMNS[name]
    sep = "," if lang == "en" else "、"
    rows: list[dict[str, Any]] = []
    for record in records:
        years: list[Financials | None] = [None]
        if isinstance(record, Enterprise) and record.financials:
            years = list(record.financials)
        for fin in years:
            row: dict[str, Any] = {}
            for col in columns:
                source: object = fin if col.field in _FINANCIAL_FIELDS else record
                value = getattr(source, col.field, None) if source is not None else None
                row[col.header if lang == "en" else col.zh] = _cell(name, col.field, value, lang, sep)
            rows.append(row)
    return rows


def _cell(entity: str, field: str, value: Any, lang: Lang, sep: str) -> Any:
    label = (_ZH.get((entity, field)) or _ZH.get(("*", field))) if lang == "zh" else None
    if isinstance(value, list):
        items = [str(label(v) if label else v) for v in value]
        for item in items:
            if _SEPARATORS.search(item):
                logger.warning(
                    "%s.%s: item '%s' contains a list separator and will split on import", entity, field, item
                )
        return sep.join(items) if items else None
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return ("true" if value else "false") if lang == "en" else ("是" if value else "否")
    if label:
        return label(value)
    return value


def export_records(
    records: Sequence[object],
    path: Path,
    *,
    fmt: Format | None = None,
    lang: Lang = "en",
    entity: str | None = None,
) -> int:
    """Write records to ``path`` in the import format (format from the suffix unless given)."""
    name = entity or entity_of(records)
    chosen: Format = fmt or ("xlsx" if Path(path).suffix.lower() == ".xlsx" else "csv")
    return export_rows(
        records_to_rows(records, lang=lang, entity=name), path, columns=export_headers(name, lang), fmt=chosen
    )


def export_rows(
    rows: Sequence[Mapping[str, Any]],
    path: Path,
    *,
    columns: Sequence[str],
    fmt: Format = "csv",
    sheet: str | None = None,
) -> int:
    """Write rows (dicts keyed by column) to CSV or XLSX; return the number of rows written.

    CSV is UTF-8 with a BOM and CRLF line endings (Excel on Chinese Windows reads it without
    garbling); text that Excel would run as a formula (``=…``, ``+…``, ``-…``, ``@…``, numbers
    excepted) is prefixed with ``'``, which :func:`~matching.ingest.reader.read_table` removes.
    XLSX has a bold, frozen header; numbers and dates are typed cells and text is never a formula.
    Keys not in ``columns`` are ignored; missing keys are empty cells.

    Raises:
        ValueError: for an unknown format.
    """
    path = Path(path)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f, lineterminator="\r\n")
            writer.writerow(columns)
            for row in rows:
                writer.writerow([_csv_text(row.get(c)) for c in columns])
        return len(rows)
    if fmt == "xlsx":
        return _write_xlsx(rows, path, columns, sheet or _sheet_title(path))
    raise ValueError(f"unknown export format {fmt!r}; allowed: csv, xlsx")


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def _write_xlsx(rows: Sequence[Mapping[str, Any]], path: Path, columns: Sequence[str], title: str) -> int:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title)
    ws.freeze_panes = "A2"
    for i, name in enumerate(columns, start=1):
        wide = sum(2 if ord(ch) > 0x2E80 else 1 for ch in name)
        ws.column_dimensions[get_column_letter(i)].width = max(10, min(40, wide + 4))
    bold = Font(bold=True)
    header = []
    for name in columns:
        cell = WriteOnlyCell(ws, value=name)
        cell.font = bold
        header.append(cell)
    ws.append(header)
    for row in rows:
        cells: list[Any] = []
        for c in columns:
            value = row.get(c)
            if isinstance(value, datetime) and (value.tzinfo is not None or value.microsecond):
                value = value.isoformat()  # Excel has no time zones, and rounds microseconds
            if isinstance(value, str):
                if ILLEGAL_CHARACTERS_RE.search(value):
                    logger.warning("%s: control characters removed from a cell of column %s", path, c)
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"  # never a formula
                cells.append(cell)
            elif isinstance(value, (date, datetime)):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = (
                    "yyyy-mm-dd" if not isinstance(value, datetime) else "yyyy-mm-dd hh:mm:ss"
                )
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
    wb.save(path)
    return len(rows)


def _sheet_title(path: Path) -> str:
    return (re.sub(r"[\[\]:*?/\\]", "_", path.stem) or "Sheet1")[:31]
