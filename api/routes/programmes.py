"""Support programmes (扶持政策): ``GET /v1/enterprises/{id}/programmes`` (the enterprise itself and staff)
and ``GET /v1/programmes`` (admin, operator). Importing them is ``POST /v1/imports/programmes``
(:mod:`api.routes.uploads`). The rules are :mod:`api.services.programmes`'; these routes parse and answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from api.deps import ConnDep, Principal, require_roles
from api.errors import MAX_ID
from api.routes.resource_common import READ_ERRORS, QueryCodes, StaffOnly
from api.schemas.programmes import EnterpriseProgrammes, ProgrammeOverview
from api.services import programmes as service

router = APIRouter(prefix="/v1", tags=["programmes"])
EnterpriseId = Annotated[int, Path(gt=0, le=MAX_ID)]
EnterpriseOrStaff = Annotated[Principal, Depends(require_roles("admin", "operator", "enterprise"))]


@router.get("/enterprises/{enterprise_id}/programmes", response_model=EnterpriseProgrammes, responses=READ_ERRORS,
            summary="Support programmes an enterprise qualifies for, and near misses (the enterprise, staff)")
def enterprise_programmes(enterprise_id: EnterpriseId, conn: ConnDep, who: EnterpriseOrStaff) -> dict[str, Any]:
    """Programmes whose window has not closed that the enterprise qualifies for, and those it misses by one
    rule with what is missing (zh/en); the enterprise's own request marks its notices read."""
    return service.programmes_for(conn, who, enterprise_id)


@router.get("/programmes", response_model=ProgrammeOverview, responses=READ_ERRORS,
            summary="Support programmes with qualified / near-miss / told counts (admin, operator)")
def list_programmes(conn: ConnDep, who: StaffOnly, kind: QueryCodes = None,
                    district: QueryCodes = None) -> dict[str, Any]:
    """Every programme; ``kind`` and ``district`` (codes or labels) narrow the list."""
    return service.overview(conn, who, kinds=kind, districts=district)
