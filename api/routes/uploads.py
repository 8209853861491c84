"""Bulk import by upload: ``POST /v1/imports/{entity}`` with a CSV, XLSX or JSONL file (admin, operator).

The same path as ``capconnect import`` (:func:`capconnect.importing.import_file`): the encoding is
detected (UTF-8, UTF-8 with BOM, GB18030/GBK, Mac Roman) or given with ``?encoding=``, headers and
enumerations in Chinese or English, every row validated, and everything loaded in one transaction by
natural key (re-uploading a file changes nothing). A file with a bad row imports nothing: 422 with one
entry per problem (``row``, ``field``, ``value``, ``reason``). With ``?skip_invalid=true`` the good
rows import and the response lists the rejected ones.

The service's snapshot is not reloaded here: imported records are served by the matcher after the
next snapshot reload (a restart), as ``UnknownPartyError`` responses say.

The import, with its checks, is :mod:`api.services.imports`'s, shared with the web console.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile

from api.deps import StateDep
from api.routes.resource_common import WRITE_ERRORS, StaffOnly
from api.schemas.resources import ImportOut
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
