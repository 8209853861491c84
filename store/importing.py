"""Bulk import: read a file, validate every row, load everything in one transaction.

A file with one bad row imports nothing (the report lists every bad row: row number, field, value,
reason), unless ``skip_invalid`` is set: then the good rows are imported and the bad ones are
written to a rejects file. References to parties that do not exist count as bad rows too. Loading
is by natural key, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from matching.ingest import export as export_mod
from matching.ingest import parse
from matching.ingest.parse_programmes import parse_programmes
from matching.ingest.reader import Table, read_table
from store import market_store as store
from store.batch import MarketBatch, load_batch, save_batch  # noqa: F401 (re-exported)
from store.bulk import LoadCounts, Progress
from store.database import Database
from store.programmes import load_programmes, notify

logger = logging.getLogger(__name__)

ENTITIES: dict[str, Callable[[Table], Any]] = {
    "enterprises": parse.parse_enterprises,
    "investors": parse.parse_investors,
    "mandates": parse.parse_mandates,
    "needs": parse.parse_needs,
    "secondaries": parse.parse_secondaries,
    "events": parse.parse_events,
    "programmes": parse_programmes,
}


@dataclass
class RowProblem:
    """One bad row: where, which field, which value, why."""

    row: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.field} = '{self.value}': {self.reason}"


@dataclass
class ImportReport:
    """What an import found and did."""

    entity: str
    path: Path
    encoding: str
    rows: int
    problems: list[RowProblem] = field(default_factory=list)
    counts: list[LoadCounts] = field(default_factory=list)
    committed: bool = False
    rejects_path: Path | None = None
    rejected_rows: int = 0

    @property
    def ok(self) -> bool:
        """Whether the file imported with no bad row at all."""
        return self.committed and not self.problems


_LOADERS: dict[str, Callable[..., Any]] = {
    "enterprises": lambda cur, recs, progress: [*store.load_enterprises(cur, recs, progress=progress),
                                                *_programme_notices(cur)],
    "investors": lambda cur, recs, progress: [store.load_investors(cur, recs, progress=progress)],
    "mandates": lambda cur, recs, progress: [store.load_mandates(cur, recs, progress=progress)],
    "needs": lambda cur, recs, progress: [store.load_needs(cur, recs, progress=progress)],
    "secondaries": lambda cur, recs, progress: [store.load_secondaries(cur, recs, progress=progress)],
    "events": lambda cur, recs, progress: [store.load_events(cur, recs, progress=progress)],
    "programmes": lambda cur, recs, progress: load_programmes(cur, recs, progress=progress),
}


def _programme_notices(cur: Any) -> list[LoadCounts]:
    """Tell imported enterprises that now qualify for a support programme (once each, ever): the counts of
    notices written, or nothing when none was (no programmes: nothing is read)."""
    told = notify(cur)
    return [LoadCounts("programme_notices", received=told, inserted=told)] if told else []


def import_file(
    db: Database,
    entity: str,
    path: Path,
    *,
    encoding: str | None = None,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import one file of ``entity`` records (CSV, XLSX or JSONL).

    Raises:
        KeyError: for an unknown entity (the CLI restricts the choice).
    """
    table = read_table(path, encoding=encoding)
    result = ENTITIES[entity](table)
    report = ImportReport(entity=entity, path=path, encoding=table.encoding, rows=len(table.rows))
    report.problems = [RowProblem(e.row, e.field, str(e.value), e.reason) for e in result.errors]
    records = list(result.records)
    record_rows: list[int] = list(result.record_rows)
    if report.problems and not skip_invalid:
        return report
    with db.connect() as conn:
        while True:
            with conn.cursor() as cur:
                counts = _LOADERS[entity](cur, records, progress)
            unresolved = [u for c in counts for u in c.unresolved]
            if not unresolved:
                break
            conn.rollback()  # nothing of this attempt stays
            found = [RowProblem(record_rows[i], fld, value, reason) for i, fld, value, reason in unresolved]
            report.problems.extend(found)
            if not skip_invalid:
                return report
            drop = {i for i, *_ in unresolved}
            records = [r for j, r in enumerate(records) if j not in drop]
            record_rows = [r for j, r in enumerate(record_rows) if j not in drop]
        report.counts = counts
        conn.commit()
    report.committed = True
    if report.problems:
        report.rejects_path = rejects_path or path.with_name(path.name + ".rejects.csv")
        report.rejected_rows = write_rejects(table, report.problems, report.rejects_path)
    return report


def write_rejects(table: Table, problems: Sequence[RowProblem], path: Path) -> int:
    """Write the rejected rows with their reasons as CSV (UTF-8 with BOM); return how many rows."""
    reasons: dict[int, list[str]] = {}
    for p in problems:
        reasons.setdefault(p.row, []).append(f"{p.field}: {p.reason}")
    rows = []
    for row in table.rows:
        if row.row in reasons:
            rows.append({"row": str(row.row), **row.values, "errors": "; ".join(reasons[row.row])})
    export_mod.export_rows(rows, path, columns=["row", *table.columns, "errors"], fmt="csv")
    logger.info("%d rejected rows written to %s", len(rows), path)
    return len(rows)
