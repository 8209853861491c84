"""More like this: ``GET /v1/enterprises/{id}/similar`` and ``GET /v1/investors/{id}/similar``.

HTTP only: who may ask for which list, the hard rules and the disclosure applied to what is shown are
:mod:`api.services.similar`'s; the lists are :mod:`matching.serving.similar`'s. Handlers are plain ``def``
(the thread pool runs the CPU-bound search).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ConnDep, StateDep
from api.routes.resource_common import READ_ERRORS, Anyone
from api.schemas.similar import SimilarEnterprisesOut, SimilarInvestorsOut
from api.services import similar as service

router = APIRouter(prefix="/v1", tags=["similar"])
PartyId = Annotated[int, Path(gt=0)]
K = Annotated[int, Query(ge=1, description="List length (at most the service's api_max_k)")]


@router.get("/enterprises/{enterprise_id}/similar", response_model=SimilarEnterprisesOut, responses=READ_ERRORS,
            summary="Enterprises like this one (staff, investors: any; an enterprise: its own)")
def similar_enterprises(enterprise_id: PartyId, state: StateDep, conn: ConnDep, who: Anyone,
                        k: K = service.DEFAULT_K) -> dict[str, Any]:
    """By profile embedding and shared investors; an investor sees only what its hard rules allow, figures as
    disclosed to it."""
    return service.similar_enterprises(state, conn, who, enterprise_id, k)


@router.get("/investors/{investor_id}/similar", response_model=SimilarInvestorsOut, responses=READ_ERRORS,
            summary="Investors like this one (staff and enterprises; never investors)")
def similar_investors(investor_id: PartyId, state: StateDep, conn: ConnDep, who: Anyone,
                      k: K = service.DEFAULT_K) -> dict[str, Any]:
    """By mandate (or portfolio) embedding and co-investments; public profile fields only."""
    return service.similar_investors(state, conn, who, investor_id, k)
