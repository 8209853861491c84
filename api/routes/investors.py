"""Investors and their versioned mandates.

A mandate is never edited in place: ``PUT /v1/investors/{id}/mandate`` (the whole mandate) and
``PATCH`` (the fields sent, the rest copied from the current version) store the next version, valid
from now, and close the current one; ``GET /v1/investors/{id}/mandates`` shows the current version
and the history. Served lists and training read the version valid at each time.

Access: admin and operator create and update any investor; an investor key reads and updates its own
investor and mandate (not ``investor_type``, ``state_fund_level`` or ``amac_code``, which the platform
verifies); enterprise keys read and list investors' public profiles (the current mandate without its
excluded enterprises; no history); data scientists read everything; investor keys may not read other
investors. The rules are the service's (:mod:`api.services.investors`); these routes parse and answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from api.deps import ConnDep, Principal, require_roles
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
from api.schemas.investors import (
    InvestorCreate,
    InvestorOut,
    InvestorUpdate,
    MandateHistory,
    MandateIn,
    MandateOut,
    MandatePatch,
)
from api.services import investors as service

router = APIRouter(prefix="/v1", tags=["investors"])
InvestorId = Annotated[int, Path(gt=0)]
Readers = Annotated[Principal, Depends(require_roles("admin", "operator", "data_scientist", "enterprise",
                                                     "investor"))]


@router.post("/investors", status_code=201, response_model=InvestorOut, responses=WRITE_ERRORS,
             summary="Create an investor, optionally with its first mandate (admin, operator)")
def create_investor(body: InvestorCreate, conn: ConnDep, who: StaffOnly) -> dict[str, Any]:
    """A new investor; 409 when its source + external id or AMAC code exists."""
    return service.create(conn, who, body)


@router.get("/investors", response_model=Page[InvestorOut], responses=READ_ERRORS,
            summary="List investors (staff, data scientists, enterprises: public profiles)")
def list_investors(conn: ConnDep, who: Readers, investor_type: QueryCodes = None, district: QueryCodes = None,
                   status: QueryCodes = None, q: Text = None, limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Investors in id order with their current mandates; filters take codes or labels."""
    items, total = service.page(conn, who, investor_type=investor_type, district=district, status=status, q=q,
                                limit=limit, offset=offset)
    return page(items, total, limit, offset)


@router.get("/investors/{investor_id}", response_model=InvestorOut, responses=READ_ERRORS,
            summary="An investor with its current mandate")
def get_investor(investor_id: InvestorId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Staff, data scientists, the investor itself, and enterprises (public profile)."""
    return service.get(conn, who, investor_id)


@router.patch("/investors/{investor_id}", response_model=InvestorOut, responses=WRITE_ERRORS,
              summary="Update an investor (staff, or its own key)")
def update_investor(investor_id: InvestorId, body: InvestorUpdate, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Change the fields sent (the mandate has its own routes and versions)."""
    return service.update(conn, who, investor_id, body)


@router.get("/investors/{investor_id}/mandates", response_model=MandateHistory, responses=READ_ERRORS,
            summary="The current mandate and its history (staff, data scientists, the investor itself)")
def mandate_history(investor_id: InvestorId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Every version, newest first; ``current`` is the one in force (``valid_to`` null)."""
    return service.mandate_history(conn, who, investor_id)


@router.put("/investors/{investor_id}/mandate", status_code=201, response_model=MandateOut, responses=WRITE_ERRORS,
            summary="Replace the mandate: stores the next version (staff, or the investor itself)")
def put_mandate(investor_id: InvestorId, body: MandateIn, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The whole mandate as the next version; the current one is kept as history."""
    return service.replace_mandate(conn, who, investor_id, body)


@router.patch("/investors/{investor_id}/mandate", status_code=201, response_model=MandateOut,
              responses=WRITE_ERRORS, summary="Change some mandate fields: stores the next version")
def patch_mandate(investor_id: InvestorId, body: MandatePatch, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """The fields sent over a copy of the current version, stored as the next version."""
    return service.patch_mandate(conn, who, investor_id, body)
