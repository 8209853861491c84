"""The enterprise profile export for government data platforms (企业画像): ``GET /v1/exports/profiles``.

Admin and operator keys only; streamed (JSON Lines, or CSV in UTF-8 with BOM or GB18030). The audience,
the schema and what is withheld are :mod:`api.services.profile_export`'s.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import StateDep
from api.routes.resource_common import READ_ERRORS, QueryCodes, StaffOnly
from api.services import profile_export as service

router = APIRouter(prefix="/v1", tags=["exports"])


@router.get("/exports/profiles", response_class=StreamingResponse, responses=READ_ERRORS,
            summary="Enterprise profiles for government data platforms, JSON Lines or CSV (admin, operator)")
def profiles(state: StateDep, who: StaffOnly,
             format: Annotated[Literal["jsonl", "csv"], Query(description="jsonl, or csv (flattened)")  # noqa: A002
                               ] = "jsonl",
             encoding: Annotated[Literal["utf-8", "gb18030"], Query(description="CSV only: utf-8 or gb18030")
                                 ] = "utf-8",
             bom: Annotated[bool, Query(description="CSV in UTF-8 only: start with a byte-order mark (Excel)")
                            ] = True,
             district: QueryCodes = None) -> StreamingResponse:
    """One record per enterprise (schema ``X-Schema-Version``), as far as its disclosure settings allow."""
    return service.response(state, who, fmt=format, encoding=encoding, bom=bom, district=district)
