"""The report of a bulk import (``POST /v1/imports/{entity}``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class RowProblemOut(BaseModel):
    """One problem of one row of an uploaded file (rows as a spreadsheet counts them: header = 1)."""

    row: int
    field: str
    value: str
    reason: str


class ImportOut(BaseModel):
    """What an upload imported (counts per table) and, with ``skip_invalid``, what it rejected."""

    entity: str
    filename: str
    encoding: str
    rows: int
    imported: list[dict[str, Any]]
    rejected_rows: int
    rejected: list[RowProblemOut]
