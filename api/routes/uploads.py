"""Bulk import by upload: ``POST /v1/imports/{entity}`` with a CSV, XLSX or JSONL file (admin, operator).

HTTP only: the import itself, its rules and its answers are :mod:`api.services.imports`' (shared with
the console's operator page).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile

from api.deps import StateDep
from api.routes.resource_common import WRITE_ERRORS, StaffOnly
from api.schemas.imports import ImportOut
from api.services import imports as service
from api.services.imports import Entity

router = APIRouter(prefix="/v1", tags=["imports"])


@router.post("/imports/{entity}", response_model=ImportOut, responses=WRITE_ERRORS,
             summary="Bulk import a CSV, XLSX or JSONL file (admin, operator)")
def upload(entity: Annotated[Entity, Path(description="What the file holds")], state: StateDep, who: StaffOnly,
           file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK/GB18030), XLSX or JSONL")],
           skip_invalid: Annotated[bool, Query(description="Import the good rows, return the bad ones")] = False,
           encoding: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                                                 description="Force the text encoding, e.g. gb18030")] = None,
           ) -> dict[str, Any]:
    """Validate every row and import atomically (or, with ``skip_invalid``, the valid rows)."""
    return service.upload(state, who, entity, file.filename, file.file, skip_invalid, encoding)
