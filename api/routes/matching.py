"""Ranked, explained lists: deals for an investor, investors for an enterprise, secondaries, search.

Access: an investor key reads its own investor's lists, an enterprise key its own enterprise's;
operators and admins read any party's. Data scientists get 403: they evaluate models on the
impression log and held-out windows, and a list they looked at would be logged as an impression
nobody on the platform saw. Search: investors search enterprises, enterprises search investors,
staff both.

The operations, with their checks and the logging of every served list (``served_lists`` +
``served_list_items``), are :mod:`api.services.matching`'s, shared with the web console.
Handlers are plain ``def``: FastAPI runs them in its thread pool, which is where the
CPU-bound matcher belongs (FAISS is pinned to one thread per call).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from api.deps import Principal, StateDep, require_roles
from api.schemas.common import error_responses
from api.schemas.matching import MatchListOut
from api.services import matching as service
from api.services.matching import ENTERPRISE_SIDE, INVESTOR_SIDE, MAX_QUERY, ListParams

router = APIRouter(prefix="/v1", tags=["matching"])
ERRORS = error_responses(401, 403, 404, 422, 429, 503)
Params = Annotated[ListParams, Depends()]
PartyId = Annotated[int, Path(gt=0)]


class ListResponse(Response):
    """A served list, serialised once from its validated model (FastAPI would dump and re-validate it)."""

    media_type = "application/json"

    def __init__(self, model: MatchListOut) -> None:
        super().__init__(model.model_dump_json(), media_type=self.media_type)
        self.model = model


@router.get("/investors/{investor_id}/deals", response_model=MatchListOut, responses=ERRORS,
            summary="Deal list for an investor (ranked enterprises with the need matched)")
def deals(investor_id: PartyId, state: StateDep, params: Params,
          who: Annotated[Principal, Depends(require_roles(*INVESTOR_SIDE))]) -> ListResponse:
    """Enterprises with a need fitting the investor's mandate, best first, with reasons."""
    return ListResponse(service.deal_list(state, who, investor_id, params))


@router.get("/enterprises/{enterprise_id}/investors", response_model=MatchListOut, responses=ERRORS,
            summary="Suggested investors and financing providers for an enterprise")
def investors(enterprise_id: PartyId, state: StateDep, params: Params,
              who: Annotated[Principal, Depends(require_roles(*ENTERPRISE_SIDE))]) -> ListResponse:
    """Investors whose mandate fits one of the enterprise's open needs, best first, with reasons."""
    return ListResponse(service.investor_list(state, who, enterprise_id, params))


@router.get("/investors/{investor_id}/secondaries", response_model=MatchListOut, responses=ERRORS,
            summary="Secondary opportunities (fund interests, old shares) for an S fund")
def secondaries(investor_id: PartyId, state: StateDep,
                who: Annotated[Principal, Depends(require_roles(*INVESTOR_SIDE))],
                k: Annotated[int, Query(ge=1)] = 20) -> ListResponse:
    """Listings for an S fund (s_fund), by sector fit, discount, vintage and similarity."""
    return ListResponse(service.secondary_list(state, who, investor_id, k))


@router.get("/search", response_model=MatchListOut, responses=ERRORS, summary="Free-text search")
def search(state: StateDep, params: Params,
           who: Annotated[Principal, Depends(require_roles("investor", "enterprise", "operator", "admin"))],
           q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY, description="Free text (中文 or English)")],
           side: Annotated[Literal["enterprise", "investor"], Query(description="What to search")] = "enterprise",
           ) -> ListResponse:
    """Enterprises (investors and staff) or investors (enterprises and staff) matching a text."""
    return ListResponse(service.search_list(state, who, q, side, params))
