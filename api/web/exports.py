"""The enterprise profile export (企业画像) from the console: ``/web/exports/profiles`` (operators, admins), the
operator page's download form. The same stream as ``GET /v1/exports/profiles``
(:func:`api.services.profile_export.response`): the audience, the schema, what is withheld and the audit are
the service's.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Principal, StateDep
from api.services import profile_export as service
from api.web.common import EXPECTED, PageError, error_page, web_roles

router = APIRouter(prefix="/web", include_in_schema=False)
OperatorPage = Annotated[Principal, Depends(web_roles("operator", "admin"))]


@router.get("/exports/profiles")
def profiles(request: Request, state: StateDep, who: OperatorPage) -> Response:
    """The export as a download (``format`` csv or jsonl, ``encoding`` utf-8 or gb18030, ``district``)."""
    q = request.query_params
    district = q.get("district") or None
    try:
        return service.response(state, who, fmt=q.get("format", "csv"), encoding=q.get("encoding", "utf-8"),
                                district=[district] if district else None)
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
