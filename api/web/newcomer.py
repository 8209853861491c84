"""The enterprise page's first steps: publish a financing need from the console, and the financing products
(lenders' debt instruments) the enterprise could use meanwhile.

An enterprise without an open need has no (investor, need) pair to rank: its funds list was "暂无匹配的资金方"
and nothing else. The page now offers the need form (``POST /web/enterprise/needs``, checked and written by
:func:`api.services.listings.create_need`, exactly as ``POST /v1/needs``; CSRF as every console form) and the
lenders that may be shown it (:func:`matching.rules.products.financing_products`, the hard rules' answer).
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import Principal, StateDep
from api.schemas.listings import NeedCreate
from api.services import listings as listing_service
from api.state import AppState
from api.web.common import EXPECTED, PageError, check_csrf, error_page, web_roles
from matching.domain import vocab
from matching.explain.reasons import ticket_range
from matching.rules.products import financing_products

router = APIRouter(prefix="/web", include_in_schema=False)
EnterprisePage = Annotated[Principal, Depends(web_roles("enterprise", "operator", "admin"))]
WAN = 10_000  # amounts are entered in 万元
#: The rounds an enterprise picks from when it publishes a need (codes; "other" and "debt" left to the API).
ROUND_CHOICES = ("seed", "angel", "pre_a", "a", "b", "c", "d_plus", "pre_ipo", "strategic")


def panel(state: AppState, conn: Any, who: Principal, enterprise_id: int, lang: str) -> dict[str, Any]:
    """What the page shows an enterprise about its needs: how many are open, the form's choices and, while
    none is open, the financing products it could use."""
    _, open_needs = listing_service.need_page(conn, who, enterprise_id=enterprise_id,
                                              status=list(vocab.LIVE_NEED_STATUSES), limit=1)
    out: dict[str, Any] = {"open_needs": open_needs, "products": [], "rounds": [
        (c, vocab.ROUNDS.label(c, lang)) for c in ROUND_CHOICES],
        "instruments": [(t.code, t.en if lang == "en" else t.zh) for t in vocab.INSTRUMENTS if t.code != "old_shares"]}
    if open_needs:
        return out
    try:
        products = financing_products(state.matcher.snap, enterprise_id)
    except KeyError:  # a new enterprise: in the market after the next refresh
        products = []
    for p in products:
        lo, hi = p.ticket_min, p.ticket_max
        out["products"].append({
            "name": p.name, "type": vocab.INVESTOR_TYPES.label(p.investor_type, lang),
            "instruments": [vocab.INSTRUMENTS.label(c, lang) for c in p.instruments],
            "ticket": None if math.isnan(lo) and math.isnan(hi) else ticket_range(lo, hi, lang)})
    return out


@router.post("/enterprise/needs")
def publish_need(request: Request, state: StateDep, who: EnterprisePage,
                 csrf: Annotated[str, Form(max_length=100)] = "",
                 enterprise_id: Annotated[int, Form()] = 0,
                 instrument: Annotated[str, Form(max_length=40)] = "",
                 amount: Annotated[str, Form(max_length=40)] = "",
                 round_: Annotated[str, Form(alias="round", max_length=40)] = "",
                 closes_on: Annotated[str, Form(max_length=20)] = "",
                 use_of_funds: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """Publish a financing need (open, in yuan: the form takes 万元), as ``POST /v1/needs``."""
    check_csrf(request, csrf)
    try:
        wan = float(amount)
    except ValueError:
        return error_page(request, PageError(422, None, f"金额须为数字（万元），收到：{amount or '空'}",
                                             f"amount must be a number (10k yuan), got: {amount or 'nothing'}",
                                             [{"field": "amount", "value": amount, "reason": "a number ≥ 0"}]), who)
    body = {"enterprise_id": enterprise_id or None,  # an enterprise key's own by default; another's is a 403
            "instrument": instrument, "amount": wan * WAN, "currency": "CNY", "status": "open",
            "round": round_ or None, "closes_on": closes_on or None, "use_of_funds": use_of_funds or None}
    try:
        need = NeedCreate(**body)
        with state.pool.connection() as conn:
            created = listing_service.create_need(conn, who, need)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "value": str(body.get(str(e["loc"][0]), "")),
                   "reason": e["msg"]} for e in exc.errors()]
        return error_page(request, PageError(422, None, "融资需求不合法：" + "；".join(f["field"] for f in fields),
                                             "The need is invalid: " + ", ".join(f["field"] for f in fields),
                                             fields), who)
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
    back = f"/web/enterprise?published={created['id']}"
    if who.role != "enterprise":
        back += f"&enterprise_id={created['enterprise_id']}"
    return RedirectResponse(back, status_code=303)
