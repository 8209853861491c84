"""Bulk import of an uploaded CSV, XLSX or JSONL file (admin, operator), for ``POST /v1/imports/{entity}``
(:mod:`api.routes.uploads`) and the console's operator page.

The same path as ``capconnect import`` (:func:`store.importing.import_file`): the encoding is
detected (UTF-8, UTF-8 with BOM, GB18030/GBK, Mac Roman) or given with ``?encoding=``, headers and
enumerations in Chinese or English, every row validated, and everything loaded in one transaction by
natural key (re-uploading a file changes nothing). A file with a bad row imports nothing: 422 with one
entry per problem (``row``, ``field``, ``value``, ``reason``). With ``?skip_invalid=true`` the good
rows import and the response lists the rejected ones.

The service's snapshot is not reloaded here: imported records are served by the matcher after the
next snapshot reload (a restart), as ``UnknownPartyError`` responses say.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path as FilePath
from typing import Any, BinaryIO, Literal, get_args

from api import hygiene
from api.deps import STAFF, Principal
from api.errors import ApiError, field_detail
from api.services.checks import authorize, invalid
from api.state import AppState
from matching.errors import FieldError
from matching.ingest.reader import iter_table
from store.database import Database
from store.importing import ImportReport, RowProblem, import_file

logger = logging.getLogger(__name__)

Entity = Literal["enterprises", "investors", "mandates", "needs", "secondaries", "events", "programmes"]
ENTITIES: tuple[str, ...] = get_args(Entity)
SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".jsonl", ".ndjson", ".json")
MAX_PROBLEMS = 1000  # listed in a 422; the count says how many there were
#: What ``encoding`` may be (a codec name).
ENCODING_PATTERN = r"^[A-Za-z0-9_.-]{1,40}$"


def upload(state: AppState, who: Principal, entity: str, filename: str | None, data: BinaryIO,
           skip_invalid: bool = False, encoding: str | None = None) -> dict[str, Any]:
    """Validate every row of the file ``data`` and import atomically (or, with ``skip_invalid``, the valid
    rows); a 422 listing every bad row when nothing was imported."""
    authorize(who, *STAFF)
    if entity not in ENTITIES:
        raise invalid("entity", entity, f"不支持的数据类型：{entity}", f"entity must be one of {', '.join(ENTITIES)}",
                      ENTITIES)
    if encoding is not None and not re.fullmatch(ENCODING_PATTERN, encoding):
        raise invalid("encoding", encoding[:40], "未知的文件编码", "encoding must be a codec name such as gb18030")
    name = filename or "upload"
    suffix = FilePath(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise invalid("file", name, "文件格式不支持，请上传 CSV、XLSX 或 JSONL",
                      f"unsupported file type {suffix or '(none)'}; upload .csv, .xlsx or .jsonl", SUFFIXES)
    with tempfile.TemporaryDirectory(prefix="capconnect-upload-") as tmp:
        path = FilePath(tmp) / f"upload{suffix}"
        with path.open("wb") as out:
            while chunk := data.read(1 << 20):
                out.write(chunk)
        report = _import(state.database_url, entity, path, encoding, skip_invalid, FilePath(tmp) / "rejects.csv")
    if not report.committed:
        raise _rejected(report, name)
    logger.info("upload %s (%s) by key %s: %d rows, %d rejected", name, entity, who.key_shown, report.rows,
                len({p.row for p in report.problems}))
    return {"entity": entity, "filename": name, "encoding": report.encoding, "rows": report.rows,
            "imported": [{"table": c.table, **c.as_dict()} for c in report.counts],
            "rejected_rows": len({p.row for p in report.problems}),
            "rejected": [_problem(p) for p in report.problems[:MAX_PROBLEMS]]}


def _import(url: str, entity: str, path: FilePath, encoding: str | None, skip_invalid: bool,
            rejects: FilePath) -> ImportReport:
    try:
        refused = _refused_text(entity, path, encoding)
        if refused is not None:
            return refused
        return import_file(Database(url=url), entity, path, encoding=encoding, skip_invalid=skip_invalid,
                           rejects_path=rejects)
    except LookupError as exc:  # an encoding Python does not know
        raise invalid("encoding", encoding, "未知的文件编码", f"unknown encoding {encoding!r}; e.g. utf-8, gb18030",
                      ("utf-8", "utf-8-sig", "gb18030", "gbk", "mac_roman")) from exc
    except FieldError as exc:  # the file cannot be read at all (encoding, broken header, bad JSON)
        raise ApiError(422, "validation_error", "文件无法读取", f"The file cannot be read: {exc.reason}",
                       fields=[field_detail("file", str(exc.value)[:200], exc.reason) | {
                           "row": getattr(exc, "row", None)}]) from exc


def _refused_text(entity: str, path: FilePath, encoding: str | None) -> ImportReport | None:
    """A report of the cells holding text PostgreSQL cannot store (:mod:`api.hygiene`), or ``None``.

    XLSX is not read twice for this: XML cannot hold NUL or unpaired surrogates at all. Such cells are
    refused even with ``skip_invalid`` (the importer would fail on them as a whole).
    """
    if path.suffix in (".xlsx", ".xlsm"):
        return None
    table = iter_table(path, encoding=encoding)
    problems = [RowProblem(row, column, value, f"{hygiene.REASON}; remove it (allowed: {hygiene.ALLOWED})")
                for row, column, value in hygiene.refused_cells(table.rows, table.columns)]
    if not problems:
        return None
    return ImportReport(entity=entity, path=path, encoding=table.encoding, rows=0, problems=problems)


def _problem(p: RowProblem) -> dict[str, Any]:
    return {"row": p.row, "field": p.field, "value": p.value, "reason": p.reason}


def _rejected(report: ImportReport, name: str) -> ApiError:
    rows = sorted({p.row for p in report.problems})
    shown = ", ".join(str(r) for r in rows[:10]) + (" …" if len(rows) > 10 else "")
    fields = [field_detail(p.field, p.value, p.reason) | {"row": p.row} for p in report.problems[:MAX_PROBLEMS]]
    return ApiError(422, "validation_error", f"文件有 {len(rows)} 行数据不合法（第 {shown} 行），未导入任何数据",
                    f"{name}: {len(report.problems)} problem(s) in {len(rows)} row(s) ({shown}); nothing was "
                    "imported. Fix the rows, or upload with skip_invalid=true to import the valid rows",
                    fields=fields)
