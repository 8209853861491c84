"""Syndicates: ``GET /v1/needs/{id}/syndicates[?lead=INVESTOR_ID]``.

HTTP only: who may ask, the lead rule and what each caller sees are :mod:`api.services.syndicates`'; the sets
are :mod:`matching.serving.syndicates`'. The handler is plain ``def`` (the thread pool runs the CPU-bound search).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from api.deps import ConnDep, StateDep
from api.routes.resource_common import READ_ERRORS, Anyone
from api.schemas.syndicates import SyndicatesOut
from api.services import syndicates as service

router = APIRouter(prefix="/v1", tags=["syndicates"])


@router.get("/needs/{need_id}/syndicates", response_model=SyndicatesOut, responses=READ_ERRORS,
            summary="Co-investor sets covering a need (staff; an investor as lead; the enterprise: its own needs)")
def need_syndicates(need_id: Annotated[int, Path(gt=0)], state: StateDep, conn: ConnDep, who: Anyone,
                    lead: Annotated[int | None, Query(gt=0, description="The lead investor (an investor key: "
                                                                        "itself, the default)")] = None
                    ) -> dict[str, Any]:
    """Sets whose proposed shares add up to the need's amount, each member within its ticket range and fitting
    the need on its own by the hard rules; preferring co-investment history (for callers who may read it)."""
    return service.syndicates(state, conn, who, need_id, lead)
