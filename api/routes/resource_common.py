"""What the resource routes share: role sets, paging parameters, the documented errors, the page envelope.

Not a router: :mod:`api.routes.enterprises`, :mod:`api.routes.investors`, :mod:`api.routes.listings`
and :mod:`api.routes.uploads` use these; :mod:`api.routes.resources` joins their routers. The checks and
filters the operations apply live in the service layer (:mod:`api.services.checks`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query

from api.deps import ROLES, STAFF, Principal, require_roles
from api.schemas.common import error_responses

Anyone = Annotated[Principal, Depends(require_roles(*ROLES))]
StaffOnly = Annotated[Principal, Depends(require_roles(*STAFF))]
READ_ERRORS = error_responses(401, 403, 404, 422, 429, 503)
WRITE_ERRORS = error_responses(401, 403, 404, 409, 413, 422, 429, 503)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200)")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip (the previous page's next_offset)")]
Text = Annotated[str | None, Query(max_length=200, description="Text contained in names or descriptions")]
QueryCodes = Annotated[list[str] | None, Query(description="Codes or labels; repeat or separate with commas")]


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    """The page envelope."""
    return {"items": items, "total": total, "limit": limit, "offset": offset,
            "next_offset": offset + limit if offset + limit < total else None}
