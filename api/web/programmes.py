"""Support programmes (扶持政策) in the console: the enterprise's panel and the staff page.

* :func:`panel`: the context of the "扶持政策 / Support programmes" panel of ``/web/enterprise``
  (``programmes_panel.html``): programmes the enterprise qualifies for, near misses with what is missing,
  and how many notices were unread (its own visit marks them read, as the API does).
* ``/web/programmes`` (operators, admins): every programme with how many enterprises qualify, nearly
  qualify and have been told, filtered by kind and district.

Both call :mod:`api.services.programmes`, as the API's routes do. Sample programmes are labelled 示例 / sample
and the pages say they are not real policy.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Principal, StateDep
from api.services import programmes as service
from api.web.common import EXPECTED, PageError, render, web_roles
from api.web.i18n import lang_of
from matching.domain import regions, vocab

router = APIRouter(prefix="/web", include_in_schema=False)
StaffPage = Annotated[Principal, Depends(web_roles("operator", "admin"))]


def panel(conn: Any, who: Principal, enterprise_id: int, lang: str) -> dict[str, Any]:
    """The enterprise page's programmes panel: the service's answer, or ``{"error": …}`` in ``lang``."""
    try:
        return service.programmes_for(conn, who, enterprise_id)
    except EXPECTED as exc:
        return {"error": PageError.of(exc).message(lang)}


@router.get("/programmes")
def programmes_page(request: Request, state: StateDep, who: StaffPage) -> Response:
    """Every programme with qualified / near-miss / told counts; ``?kind=`` and ``?district=`` narrow it."""
    lang = lang_of(request)
    kind = request.query_params.get("kind") or None
    district = request.query_params.get("district") or None
    ctx: dict[str, Any] = {
        "kind": kind, "district": district, "overview": None, "error": None,
        "kinds": [(t.code, t.en if lang == "en" else t.zh) for t in vocab.PROGRAMME_KINDS],
        "districts": [(d.code, d.en if lang == "en" else d.zh) for d in regions.DISTRICTS]}
    try:
        with state.pool.connection() as conn:
            ctx["overview"] = service.overview(conn, who, kinds=[kind] if kind else None,
                                               districts=[district] if district else None)
    except EXPECTED as exc:
        err = PageError.of(exc)
        ctx["error"] = err.message(lang)
        return render(request, "programmes.html", ctx, status=err.status, who=who)
    return render(request, "programmes.html", ctx, who=who)
