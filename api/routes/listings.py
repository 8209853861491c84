"""Financing needs (the deals enterprises offer) and secondary listings (what S funds buy).

Access to needs: admin and operator do anything; an enterprise key creates, reads, lists and updates
its own enterprise's needs only; data scientists read and list every need; investors read and list the
live ones (open, in negotiation: a need is what the platform shows investors; a withdrawn or closed
one is a 404 for them). Secondary listings: admin and operator do anything; data scientists read; an
investor key creates and updates its own (the seller: a fund that is exiting) and reads its own, and an
S fund (the buyer) also reads others' live listings (open, under offer); enterprise keys get 403.
The rules are stated once, in :mod:`matching.rules.listing_visibility`, and applied by
:mod:`api.services.listings`; these routes parse and answer.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from api.deps import ConnDep, Principal, require_roles
from api.errors import MAX_ID
from api.routes.resource_common import READ_ERRORS, WRITE_ERRORS, Anyone, Limit, Offset, QueryCodes, Text, page
from api.schemas.common import Page
from api.schemas.listings import NeedCreate, NeedOut, NeedUpdate, SecondaryCreate, SecondaryOut, SecondaryUpdate
from api.services import listings as service

router = APIRouter(prefix="/v1", tags=["needs and secondaries"])
RowId = Annotated[int, Path(gt=0)]
NeedWriters = Annotated[Principal, Depends(require_roles(*service.NEED_WRITERS))]
SecondaryReaders = Annotated[Principal, Depends(require_roles(*service.SECONDARY_READERS))]
SecondaryWriters = Annotated[Principal, Depends(require_roles(*service.SECONDARY_WRITERS))]


# -- needs --------------------------------------------------------------------------------------------------
@router.post("/needs", status_code=201, response_model=NeedOut, responses=WRITE_ERRORS,
             summary="Create a financing need (staff, or an enterprise for itself)")
def create_need(body: NeedCreate, conn: ConnDep, who: NeedWriters) -> dict[str, Any]:
    """A new need; an enterprise key's ``enterprise_id`` defaults to its own."""
    return service.create_need(conn, who, body)


@router.get("/needs", response_model=Page[NeedOut], responses=READ_ERRORS,
            summary="List financing needs (an enterprise key: its own)")
def list_needs(conn: ConnDep, who: Anyone,
               enterprise_id: Annotated[int | None, Query(gt=0, le=MAX_ID,
                                                          description="One enterprise's needs")] = None,
               instrument: QueryCodes = None, status: QueryCodes = None, round: QueryCodes = None, q: Text = None,
               limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Needs in id order; filters take codes or labels (``instrument=股权融资``)."""
    items, total = service.need_page(conn, who, enterprise_id=enterprise_id, instrument=instrument, status=status,
                                     round_=round, q=q, limit=limit, offset=offset)
    return page(items, total, limit, offset)


@router.get("/needs/{need_id}", response_model=NeedOut, responses=READ_ERRORS, summary="A financing need")
def get_need(need_id: RowId, conn: ConnDep, who: Anyone) -> dict[str, Any]:
    """Staff, data scientists, investors (a live need: open or in negotiation), and the enterprise whose need it is."""
    return service.get_need(conn, who, need_id)


@router.patch("/needs/{need_id}", response_model=NeedOut, responses=WRITE_ERRORS,
              summary="Update a financing need (staff, or its enterprise)")
def update_need(need_id: RowId, body: NeedUpdate, conn: ConnDep, who: NeedWriters) -> dict[str, Any]:
    """Change the fields sent (the enterprise and ref of a need do not change)."""
    return service.update_need(conn, who, need_id, body)


# -- secondaries ------------------------------------------------------------------------------------------
@router.post("/secondaries", status_code=201, response_model=SecondaryOut, responses=WRITE_ERRORS,
             summary="List a fund interest or old shares for sale (staff, or the selling investor)")
def create_secondary(body: SecondaryCreate, conn: ConnDep, who: SecondaryWriters) -> dict[str, Any]:
    """A new secondary listing; an investor key is the seller (``seller_investor_id`` defaults to it)."""
    return service.create_secondary(conn, who, body)


@router.get("/secondaries", response_model=Page[SecondaryOut], responses=READ_ERRORS,
            summary="List secondary listings (staff, data scientists, investors)")
def list_secondaries(conn: ConnDep, who: SecondaryReaders, kind: QueryCodes = None, status: QueryCodes = None,
                     enterprise_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None,
                     seller_investor_id: Annotated[int | None, Query(gt=0, le=MAX_ID)] = None, q: Text = None,
                     limit: Limit = 50, offset: Offset = 0) -> dict[str, Any]:
    """Listings in id order, as the listing visibility rules allow; filters take codes or labels (``kind=老股``)."""
    items, total = service.secondary_page(conn, who, kind=kind, status=status, enterprise_id=enterprise_id,
                                          seller_investor_id=seller_investor_id, q=q, limit=limit, offset=offset)
    return page(items, total, limit, offset)


@router.get("/secondaries/{secondary_id}", response_model=SecondaryOut, responses=READ_ERRORS,
            summary="A secondary listing")
def get_secondary(secondary_id: RowId, conn: ConnDep, who: SecondaryReaders) -> dict[str, Any]:
    """One listing: staff, data scientists, its seller, and S funds while it is live."""
    return service.get_secondary(conn, who, secondary_id)


@router.patch("/secondaries/{secondary_id}", response_model=SecondaryOut, responses=WRITE_ERRORS,
              summary="Update a secondary listing (staff, or the selling investor)")
def update_secondary(secondary_id: RowId, body: SecondaryUpdate, conn: ConnDep, who: SecondaryWriters
                     ) -> dict[str, Any]:
    """Change the fields sent (price, status, …)."""
    return service.update_secondary(conn, who, secondary_id, body)
