"""Listing readiness: ``GET /v1/enterprises/{id}/readiness``, ``GET /v1/reports/readiness``, the standards'
versions and import (``GET /v1/standards``, ``POST /v1/imports/standards``).

HTTP only: who may see what, and everything computed, is :mod:`api.services.readiness`'. Mounted before the
generic ``POST /v1/imports/{entity}`` so that ``standards`` reaches its own route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Query, UploadFile

from api.deps import ConnDep
from api.routes.resource_common import READ_ERRORS, WRITE_ERRORS, Anyone, QueryCodes, StaffOnly
from api.schemas.readiness import PipelineOut, ReadinessOut, StandardsImportOut, StandardsVersionOut
from api.services import readiness as service

router = APIRouter(prefix="/v1", tags=["readiness"])
EnterpriseId = Annotated[int, Path(gt=0)]


@router.get("/enterprises/{enterprise_id}/readiness", response_model=ReadinessOut, responses=READ_ERRORS,
            summary="An enterprise's listing readiness per target (itself, staff; investors where disclosed)")
def enterprise_readiness(enterprise_id: EnterpriseId, conn: ConnDep, who: Anyone,
                         target: Annotated[str | None, Query(max_length=40, description="One target, e.g. bse")] = None,
                         ) -> dict[str, Any]:
    """Per target: each criterion met / missed by how much / unknown, with the figure's years and the source."""
    return service.enterprise_readiness(conn, who, enterprise_id, target)


@router.get("/reports/readiness", response_model=PipelineOut, responses=READ_ERRORS,
            summary="The reserve-list pipeline: per target, enterprises met / near / far by district (staff)")
def readiness_report(conn: ConnDep, who: StaffOnly, district: QueryCodes = None, board: QueryCodes = None
                     ) -> dict[str, Any]:
    """Counts of active enterprises per target and district; ``board`` narrows to target codes (bse, star …)."""
    return service.pipeline(conn, who, district, board)


@router.get("/standards", response_model=list[StandardsVersionOut], responses=READ_ERRORS,
            summary="The listing standards' versions, the one in force first (staff)")
def standards_versions(conn: ConnDep, who: StaffOnly) -> list[dict[str, Any]]:
    """Imported versions newest first, then the shipped default."""
    return service.standards_versions(conn, who)


@router.post("/imports/standards", response_model=StandardsImportOut, responses=WRITE_ERRORS,
             summary="Import listing and tier standards (JSON; admin, operator)")
def import_standards(conn: ConnDep, who: StaffOnly,
                     file: Annotated[UploadFile, File(description="The standards file (JSON, UTF-8 or GB18030)")],
                     ) -> dict[str, Any]:
    """Validated as a whole: a bad criterion is named (422) and nothing is written."""
    return service.import_standards(conn, who, file.filename, file.file.read())
