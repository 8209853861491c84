"""Read a tabular file (CSV, XLSX or JSONL) into rows of text, whatever its encoding and line endings.

Files come from Excel on Chinese Windows (GB18030/GBK), from Excel's "CSV UTF-8" (UTF-8 with a
BOM), from old Macs (Mac Roman with CR-only line endings, e.g. the CrunchBase 2013 export) and from
scripts (UTF-8 JSON Lines). :func:`read_table` detects the encoding unless it is given, never
replaces an undecodable byte silently (it raises :class:`ReadError` naming the row), and returns
every cell as stripped text or ``None``. Interpreting the text is :mod:`matching.ingest.parse`'s job.

Row numbers are the ones a person sees: for CSV and XLSX the header is row 1 and the first data
row is row 2 (a quoted cell spanning several lines still counts as one row, as in Excel); for JSONL
a row's number is its line number.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from matching.errors import FieldError
from matching.ingest.reader_encoding import detect_encoding, normalize_encoding

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx", "jsonl")

_CSV_FORMULA_ESCAPE = re.compile(r"^'[=+\-@]")


class ReadError(FieldError):
    """A file that cannot be read: undecodable bytes, bad JSON, a broken header, an unknown sheet.

    Attributes:
        path: the file.
        row: the row (CSV, XLSX) or line (JSONL) where the problem is, ``None`` for the whole file.
    """

    def __init__(self, path: Path, row: int | None, value: object, reason: str) -> None:
        self.path = path
        self.row = row
        where = f"{path.name} row {row}" if row is not None else path.name
        super().__init__(where, value, reason)


@dataclass(slots=True)
class Row:
    """One data row.

    Attributes:
        row: the row number as a person counts it in the file (header = 1; JSONL: line number).
        values: cell text by column name; empty cells are ``None``, other cells are stripped.
        extra: non-empty cells beyond the header's last column (usually an unquoted comma).
    """

    row: int
    values: dict[str, str | None]
    extra: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Table:
    """A whole file read into memory.

    Attributes:
        columns: header names, stripped, in file order.
        rows: the data rows (blank rows dropped).
        encoding: the encoding used (Python codec name), detected or given; ``utf-8`` for XLSX.
        format: ``csv``, ``xlsx`` or ``jsonl``.
        path: the file read, if any.
    """

    columns: list[str]
    rows: list[Row]
    encoding: str
    format: str
    path: Path | None = None


@dataclass(slots=True)
class TableStream:
    """Like :class:`Table` but ``rows`` is an iterator consumed once (for files of 100k+ rows)."""

    columns: list[str]
    rows: Iterator[Row]
    encoding: str
    format: str
    path: Path | None = None


def read_table(
    path: Path, *, encoding: str | None = None, sheet: str | None = None, fmt: str | None = None
) -> Table:
    """Read a CSV, XLSX or JSONL file into memory.

    Args:
        path: the file; the format comes from the suffix (``.csv``/``.txt``/``.tsv``, ``.xlsx``,
            ``.jsonl``/``.ndjson``), else from its first bytes.
        encoding: force a text encoding (CSV, JSONL); ``gbk`` and ``gb2312`` are read as GB18030.
            Without it the encoding is detected (see :func:`detect_encoding`).
        sheet: the XLSX worksheet to read (default: the first).
        fmt: force the format (``csv``, ``xlsx``, ``jsonl``).

    Raises:
        ReadError: undecodable bytes (naming the row), bad JSON, an empty or broken header,
            an unknown sheet, an unsupported format.
    """
    stream = iter_table(path, encoding=encoding, sheet=sheet, fmt=fmt)
    return Table(stream.columns, list(stream.rows), stream.encoding, stream.format, stream.path)


def iter_table(
    path: Path, *, encoding: str | None = None, sheet: str | None = None, fmt: str | None = None
) -> TableStream:
    """Like :func:`read_table`, but the rows are produced lazily (same arguments and errors).

    Decoding happens up front for CSV, so an undecodable byte anywhere raises here, before any row
    is produced: a half-read file is never mistaken for a whole one.
    """
    path = Path(path)
    kind = fmt or _format_of(path)
    if kind == "xlsx":
        return _iter_xlsx(path, sheet)
    data = path.read_bytes()
    if kind == "jsonl":
        return _iter_jsonl(path, data, encoding)
    if kind == "csv":
        return _iter_csv(path, data, encoding)
    raise ReadError(path, None, kind, f"unsupported format; allowed: {', '.join(FORMATS)}")


# --- decoding ----------------------------------------------------------------------------------------


def _decode(path: Path, data: bytes, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        row = before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
        start = max(before.rfind(b"\n"), before.rfind(b"\r")) + 1
        end = min(i for i in (data.find(b"\n", exc.end), data.find(b"\r", exc.end), len(data)) if i >= 0)
        line = data[start:end].decode(encoding, errors="replace")
        raise ReadError(
            path,
            row,
            line,
            f"bytes {data[exc.start : exc.end + 1]!r} cannot be decoded as {encoding}; the file is in "
            "another encoding: give it (e.g. utf-8, gb18030, mac_roman) or save the file as 'CSV UTF-8'",
        ) from None
    return text.removeprefix("\ufeff")


# --- CSV ---------------------------------------------------------------------------------------------


def _iter_csv(path: Path, data: bytes, encoding: str | None) -> TableStream:
    enc = normalize_encoding(encoding) if encoding else detect_encoding(data)
    if enc == "utf-8" and data.startswith(b"\xef\xbb\xbf"):
        enc = "utf-8-sig"
    text = _decode(path, data, enc)
    logger.debug("%s: %d bytes decoded as %s", path, len(data), enc)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records = enumerate(_guard(path, reader), start=1)
    for number, cells in records:
        if any(c.strip() for c in cells):
            columns, keep = _header(path, number, cells)
            return TableStream(columns, _csv_rows(records, columns, keep), enc, "csv", path)
    raise ReadError(path, None, "", "the file is empty; the first row must be the header")


def _guard(path: Path, reader: Any) -> Iterator[list[str]]:
    while True:
        try:
            yield next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ReadError(path, reader.line_num, "", f"not valid CSV: {exc}") from None


def _sniff_delimiter(text: str) -> str:
    first = text[: 1 << 16].splitlines()[0] if text else ""
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] > counts[","] else ","


def _header(path: Path, number: int, cells: list[str | None]) -> tuple[list[str], list[int]]:
    """Column names and the indexes of the cells that have one (blank header cells are dropped)."""
    columns: list[str] = []
    keep: list[int] = []
    for i, cell in enumerate(cells):
        name = (
            unicodedata.normalize("NFC", str(cell)).strip().removeprefix("\ufeff").strip()
            if cell is not None
            else ""
        )
        if not name:
            continue
        if name in columns:
            raise ReadError(
                path, number, name, "the header names this column twice; give each column one name"
            )
        columns.append(name)
        keep.append(i)
    return columns, keep


def _csv_rows(records: Iterator[tuple[int, list[str]]], columns: list[str], keep: list[int]) -> Iterator[Row]:
    keep_set = set(keep)
    plain = keep == list(range(len(keep)))  # no blank header cell between named columns
    width = len(keep)
    pairs = list(zip(columns, keep, strict=True))
    for number, cells in records:
        if not any(c.strip() for c in cells):
            continue
        n = len(cells)
        values = {name: (_clean(cells[i]) if i < n else None) for name, i in pairs}
        extra: list[str] = []
        if n > width or not plain:
            extra = [c.strip() for i, c in enumerate(cells) if i not in keep_set and c.strip()]
        yield Row(number, values, extra)


def _clean(cell: str) -> str | None:
    if not cell:
        return None  # most empty cells: no strip needed
    text = cell.strip()
    if not text:
        return None
    if text[0] == "'" and _CSV_FORMULA_ESCAPE.match(text):
        return text[1:]  # export.py's guard against formula injection in Excel
    return text


# --- XLSX --------------------------------------------------------------------------------------------


def _iter_xlsx(path: Path, sheet: str | None) -> TableStream:
    import zipfile

    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ReadError(
            path,
            None,
            path.name,
            f"not a readable .xlsx workbook ({exc}); old .xls files must be saved as .xlsx or CSV first",
        ) from None
    if sheet is None:
        ws = wb.worksheets[0]
    elif sheet in wb.sheetnames:
        ws = wb[sheet]
    else:
        wb.close()
        raise ReadError(path, None, sheet, f"no such sheet; the workbook has: {', '.join(wb.sheetnames)}")
    rows = enumerate(ws.iter_rows(values_only=True), start=1)
    for number, cells in rows:
        texts = [_xlsx_text(c) for c in cells]
        if any(t is not None for t in texts):
            columns, keep = _header(path, number, texts)
            return TableStream(columns, _xlsx_rows(wb, rows, columns, keep), "utf-8", "xlsx", path)
    wb.close()
    raise ReadError(path, None, ws.title, "the sheet is empty; the first row must be the header")


def _xlsx_rows(
    wb: Any, rows: Iterator[tuple[int, tuple[Any, ...]]], columns: list[str], keep: list[int]
) -> Iterator[Row]:
    keep_set = set(keep)
    try:
        for number, cells in rows:
            texts = [_xlsx_text(c) for c in cells]
            if all(t is None for t in texts):
                continue
            values = {
                name: (texts[i] if i < len(texts) else None) for name, i in zip(columns, keep, strict=True)
            }
            extra = [t for i, t in enumerate(texts) if i not in keep_set and t is not None]
            yield Row(number, values, extra)
    finally:
        wb.close()


def _xlsx_text(value: Any) -> str | None:
    """A cell as text: dates as ISO strings, numbers at full precision, booleans as true/false."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0) and value.tzinfo is None:
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return number_text(value)
    text = str(value).strip()
    return text or None


def number_text(value: float | int) -> str:
    """A number as the shortest text that reads back to the same value (``5e7`` → ``50000000``)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


# --- JSON Lines --------------------------------------------------------------------------------------


def _iter_jsonl(path: Path, data: bytes, encoding: str | None) -> TableStream:
    enc = normalize_encoding(encoding) if encoding else "utf-8"
    text = _decode(path, data, "utf-8-sig" if enc == "utf-8" else enc)
    objects: list[tuple[int, dict[str, Any]]] = []
    columns: list[str] = []
    seen: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReadError(
                path,
                number,
                line,
                f"not valid JSON ({exc.msg} at column {exc.colno}); each line must be one JSON object",
            ) from None
        if not isinstance(obj, dict):
            raise ReadError(path, number, line, "each line must be one JSON object ({...})")
        for key in obj:
            name = str(key).strip()
            if name not in seen:
                seen.add(name)
                columns.append(name)
        objects.append((number, obj))
    if not objects:
        raise ReadError(path, None, "", "the file has no JSON objects")
    rows = (
        Row(n, {c: None for c in columns} | {str(k).strip(): _json_text(v) for k, v in obj.items()})
        for n, obj in objects
    )
    return TableStream(columns, rows, enc if enc != "utf-8-sig" else "utf-8", "jsonl", path)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, list):
        items = [_json_text(v) for v in value]
        return ",".join(i for i in items if i) or None
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip() or None


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt", ".tsv"}:
        return "csv"
    if suffix in {".xlsx", ".xlsm"}:
        return "xlsx"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix == ".xls":
        raise ReadError(
            path, None, path.name, "old .xls workbooks are not supported; save it as .xlsx or CSV"
        )
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "jsonl"
    return "csv"
