"""Enterprises with their yearly financials: create, read, update, list; shown as :mod:`api.disclosure` allows.

Access: admin and operator create and update any enterprise; an enterprise key reads and updates its
own (not its ``status``, which the platform sets; its ``tier``, ``boards`` and ``qualifications`` are
stored as pending claims, shown as "企业自报，待核验" and never used for ranking or reasons until staff
verify them with ``POST /v1/enterprises/{id}/claims/{claim_id}/decision``, each decision audited);
every role may read and list
enterprises, each seeing what disclosure allows: investors by tier, the enterprise's own choice and
the mutual reveal, other enterprises the public profile, staff and data scientists everything. The rules
are the service's (:mod:`api.services.enterprises`); these routes parse and answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from api.deps import ConnDep
from api.errors import MAX_ID
from api.routes.resource_common import (
    READ_ERRORS,
    WRITE_ERRORS,
    Anyone,
    Limit,
    Offset,
    QueryCodes,
    StaffOnly,
    Text,
    page,
)
from api.schemas.common import Page
from api.schemas.enterprises import ClaimDecisionIn, ClaimOut, EnterpriseCreate, EnterpriseOut, EnterpriseUpdate
from api.services import enterprises as service

router = APIRouter(prefix="/v1", tags=["enterprises"])
EnterpriseId = Annotated[int, Path(gt=0)]
ClaimId = Annotated[int, Path(gt=0, le=MAX_ID)]


@router.post("/enterprises", status_code=201, response_model=EnterpriseOut, responses=WRITE_ERRORS,
             summary="Create an enterprise (admin, operator)")
def create_enterprise(body: EnterpriseCreate, conn: ConnDep, who: StaffOnly) -> dict[str, Any]:
    """A new enterprise with its yearly financials; 409 when its credit code (or source + external id) exists."""
    return service.create(conn, who, body)


@router.get("/enterprises", response_model=Page[EnterpriseOut], responses=READ_ERRORS,
            summary="List enterprises (filters, pages; disclosure applied per enterprise)")
def list_enterprises(conn: ConnDep, who: Anyone, district: QueryCodes = None, tier: QueryCodes = None,
                     board: QueryCodes = None, industry: QueryCodes = None, status: QueryCodes = None, q: Text = None,
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Enterprises in id order; filters take codes or Chinese/English labels and only narrow."""
    items, total = service.page(conn, who, district=district, tier=tier, board=board, industry=industry,
                                status=status, q=q, limit=limit, offset=offset)
    return page(items, total, limit, offset)


@router.get("/enterprises/{enterprise_id}", response_model=EnterpriseOut, responses=READ_ERRORS,
            summary="An enterprise, as far as the caller may see it")
def get_enterprise(enterprise_id: EnterpriseId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The enterprise; ``withheld`` and ``disclosure`` say what is not shown, why, and how it can be."""
    return service.profile(conn, who, enterprise_id)


@router.patch("/enterprises/{enterprise_id}", response_model=EnterpriseOut, responses=WRITE_ERRORS,
              summary="Update an enterprise (staff, or its own key)")
def update_enterprise(enterprise_id: EnterpriseId, body: EnterpriseUpdate, conn: ConnDep, who: Anyone
                      ) -> dict[str, Any]:
    """Change the fields sent; financial years sent are upserted by year."""
    return service.update(conn, who, enterprise_id, body)


@router.get("/enterprises/{enterprise_id}/claims", response_model=Page[ClaimOut], responses=READ_ERRORS,
            summary="An enterprise's credential claims, every status (staff, or its own key)")
def list_claims(enterprise_id: EnterpriseId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Claims oldest first: pending (企业自报，待核验), verified, rejected, superseded."""
    items = service.claims(conn, who, enterprise_id)
    return page(items, len(items), max(len(items), 1), 0)


@router.post("/enterprises/{enterprise_id}/claims/{claim_id}/decision", response_model=ClaimOut,
             responses=WRITE_ERRORS, summary="Verify or reject a pending credential claim (admin, operator)")
def decide_claim(enterprise_id: EnterpriseId, claim_id: ClaimId, body: ClaimDecisionIn, conn: ConnDep,
                 who: StaffOnly) -> dict[str, Any]:
    """``verified`` applies the claimed value to the enterprise (a ranking fact from the next snapshot);
    ``rejected`` keeps it as a rejected claim. Each decision writes an audit row."""
    return service.decide_claim(conn, who, enterprise_id, claim_id, verified=body.decision == "verified",
                                note=body.note)
