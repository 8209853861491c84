"""The parties' pages: an investor's deal list and an enterprise's profile; an enterprise's suggested funds
and its incoming contact requests.

Every list goes through the service layer the API's routes call (:func:`api.services.matching.deal_list`,
:func:`~api.services.matching.investor_list`), so it is checked and logged in the impression log with its
list id and model version exactly as an API call is; every button records a funnel event through
:func:`api.services.events.record_event` (same checks, same idempotency by event id: the id is drawn
when the page is rendered, so a button pressed twice records one event).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import ValidationError

from api.deps import Principal, StateDep
from api.schemas.events import EventIn
from api.services import enterprises as enterprise_service
from api.services import events as event_service
from api.services import matching as matching_service
from api.state import AppState
from api.web import newcomer as newcomer_web
from api.web import programmes as programmes_web
from api.web import readiness as readiness_web
from api.web import similar as similar_web
from api.web import syndicates as syndicates_web
from api.web.common import (
    EXPECTED,
    PageError,
    check_csrf,
    error_page,
    int_param,
    party_name,
    render,
    wants_json,
    web_roles,
)
from api.web.i18n import lang_of, translator
from matching.domain import regions, vocab

router = APIRouter(prefix="/web", include_in_schema=False)
InvestorPage = Annotated[Principal, Depends(web_roles("investor", "operator", "admin"))]
EnterprisePage = Annotated[Principal, Depends(web_roles("enterprise", "operator", "admin"))]
AnyRole = Annotated[Principal, Depends(web_roles("investor", "enterprise", "operator", "admin", "data_scientist"))]
BUTTONS = ("saved", "dismissed", "contact_requested")
FILTERS = ("board", "tier", "district", "instrument")
WAN = 10_000  # amounts are entered in 万元


def filter_options(lang: str) -> dict[str, list[tuple[str, str]]]:
    """The filter form's choices: code and label in ``lang``."""
    def terms(v: vocab.Vocabulary) -> list[tuple[str, str]]:
        return [(t.code, t.en if lang == "en" else t.zh) for t in v]
    return {"board": terms(vocab.BOARDS), "tier": terms(vocab.TIERS), "instrument": terms(vocab.INSTRUMENTS),
            "district": [(d.code, d.en if lang == "en" else d.zh) for d in regions.DISTRICTS]}


def _amount(text: str | None, field: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text) * WAN
    except ValueError:
        raise PageError(422, None, f"{field} 须为数字（万元）", f"{field} must be a number (10k yuan)") from None
    if value < 0:
        raise PageError(422, None, f"{field} 不能为负数", f"{field} must not be negative")
    return value


def _acting_id(request: Request, who: Principal, side: str) -> int | None:
    own = who.investor_id if side == "investor" else who.enterprise_id
    return own if who.role == side else int_param(request.query_params.get(f"{side}_id"))


# -- investor ------------------------------------------------------------------------------------------
@router.get("/investor")
def investor_page(request: Request, state: StateDep, who: InvestorPage) -> Response:
    """The ranked deal list with reasons, filters and the funnel buttons."""
    lang = lang_of(request)
    q = request.query_params
    chosen = {f: q.get(f, "") for f in (*FILTERS, "amount_min", "amount_max")}
    ctx: dict[str, Any] = {"options": filter_options(lang), "chosen": chosen, "deals": None, "error": None}
    investor_id = _acting_id(request, who, "investor")
    ctx["investor_id"] = investor_id
    if investor_id is None:
        return render(request, "investor.html", ctx, who=who)
    ctx["investor_name"] = party_name(state, "investor", investor_id)
    try:
        params = matching_service.ListParams(
            state, **{f: [chosen[f]] if chosen[f] else None for f in FILTERS},
            amount_min=_amount(chosen["amount_min"], "amount_min"),
            amount_max=_amount(chosen["amount_max"], "amount_max"), k=20)
        deals = matching_service.deal_list(state, who, investor_id, params)
    except PageError as exc:
        ctx["error"] = exc.message(lang)
        return render(request, "investor.html", ctx, status=exc.status, who=who)
    except EXPECTED as exc:
        err = PageError.of(exc)
        ctx["error"] = err.message(lang)
        return render(request, "investor.html", ctx, status=err.status, who=who)
    with state.pool.connection() as conn:
        done = _done_by_enterprise(conn, who, investor_id=investor_id)
        if who.role != "investor":  # 相似机构: investors never see one another's profiles
            ctx["similar"] = similar_web.investor_panel(state, conn, who, investor_id, lang)
    n = len(deals.items)
    ctx["sw"] = syndicates_web.words(lang)  # 组建银团/联合投资 on each card with a need
    ctx.update(deals=deals, done=done, cards=[_deal_card(state, it, lang) | {"band": match_band(k, n)}
                                              for k, it in enumerate(deals.items)],
               event_ids={it.position: {b: uuid.uuid4().hex for b in BUTTONS} for it in deals.items})
    return render(request, "investor.html", ctx, who=who)


#: Bands of a deal list by place in it: the first 30 % of the list 高, the next 40 % 中, the rest 低.
BANDS = ((0.3, "high"), (0.7, "mid"), (1.0, "low"))


def match_band(index: int, n: int) -> str:
    """The band of the ``index``-th (0-based) of ``n`` cards: ``high``, ``mid`` or ``low``.

    By place in the served list, so the bands never contradict the card order (the list is the ranking:
    score, then diversity and exploration); the calibrated probability itself (a few per cent even for the
    best deal: most pairs never engage) is on hover, where it is explained, not shown as "匹配度 8".
    """
    share = index / n if n else 0.0
    return next(band for top, band in BANDS if share < top)


def _done_by_enterprise(conn: Any, who: Principal, *, investor_id: int) -> dict[int, set[str]]:
    """What the investor (or the enterprise, for the pair) already did, per enterprise."""
    done: dict[int, set[str]] = {}
    for row in event_service.party_view(conn, who, investor_id=investor_id):
        done.setdefault(row["enterprise_id"], set()).add(row["event_type"])
    return done


def _deal_card(state: AppState, it: Any, lang: str) -> dict[str, Any]:
    """The public facts of a deal's enterprise, from the served snapshot."""
    snap = state.matcher.snap
    row = snap.enterprise_row.get(it.enterprise.id) if it.enterprise else None
    if row is None:
        return {}
    code = snap.ent_district[row]  # the serving snapshot keeps columns, not the records
    district = regions.district(code) if code in regions.DISTRICT_CODES else None
    t = int(snap.ent_tier[row])
    tier = vocab.TIERS.codes[t] if 0 <= t < len(vocab.TIERS.codes) else None
    boards = [b for j, b in enumerate(vocab.BOARDS.codes) if (int(snap.ent_boards[row]) >> j) & 1]
    return {"tier": vocab.TIERS.label(tier, lang) if tier else None, "tier_code": tier,
            "district": (district.en if lang == "en" else district.zh) if district else (
                snap.ent_province[row] or snap.ent_country[row]),
            "boards": [vocab.BOARDS.label(b, lang) for b in boards]}


@router.post("/investor/events")
def investor_event(request: Request, state: StateDep, who: InvestorPage,
                   csrf: Annotated[str, Form(max_length=100)] = "",
                   event_id: Annotated[str, Form(max_length=128)] = "",
                   event_type: Annotated[str, Form(max_length=40)] = "",
                   investor_id: Annotated[int, Form()] = 0, enterprise_id: Annotated[int, Form()] = 0,
                   need_id: Annotated[str, Form(max_length=20)] = "", list_id: Annotated[str, Form(max_length=40)] = "",
                   back: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """Save, dismiss or request contact: a funnel event, exactly as ``POST /v1/events``."""
    check_csrf(request, csrf)
    if event_type not in BUTTONS:
        return error_page(request, PageError(422, None, f"不支持的操作：{event_type}",
                                             f"event_type must be one of {', '.join(BUTTONS)}"), who)
    body = {"event_id": event_id, "event_type": event_type, "investor_id": investor_id,
            "enterprise_id": enterprise_id, "need_id": int_param(need_id), "list_id": list_id or None}
    return _post_event(request, state, who, body, back if back.startswith("/web/") else "/web/investor")


def _post_event(request: Request, state: StateDep, who: Principal, body: dict[str, Any], back: str) -> Response:
    t = translator(lang_of(request))
    try:
        event = EventIn(**body)
        with state.pool.connection() as conn:
            _, created = event_service.record_event(state, conn, who, event)
    except ValidationError as exc:
        fields = [{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()]
        return error_page(request, PageError(422, None, "表单内容不合法", "The form is invalid", fields), who)
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
    if wants_json(request):
        return JSONResponse({"ok": True, "created": created, "event_type": event.event_type.value,
                             "message": t(event.event_type.value) if created else t("already_recorded")},
                            status_code=201 if created else 200)
    return RedirectResponse(back, status_code=303)


# -- enterprise profile (any role; disclosure decides what shows) ------------------------------------------
@router.get("/enterprises/{enterprise_id}")
def enterprise_profile(request: Request, enterprise_id: int, state: StateDep, who: AnyRole) -> Response:
    """An enterprise as far as disclosure allows, saying what is withheld and why."""
    lang = lang_of(request)
    try:
        with state.pool.connection() as conn:
            ent = enterprise_service.profile(conn, who, enterprise_id)
            similar = similar_web.enterprise_panel(state, conn, who, enterprise_id, lang)  # 相似企业
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
    quals = [vocab.QUALIFICATIONS.label(c, lang) if c in vocab.QUALIFICATIONS else c for c in ent["qualifications"]]
    target = ent["listing_target"]
    listing = vocab.LISTING_TARGETS.label(target, lang) if target in vocab.LISTING_TARGETS else target
    district = ent["district_name"] if lang == "zh" or not ent["district"] else (
        regions.district(ent["district"]).en if ent["district"] in regions.DISTRICT_CODES else ent["district_name"])
    return render(request, "profile.html", {"e": ent, "quals": quals, "listing": listing, "district": district,
                                            "tier": vocab.TIERS.label(ent["tier"], lang),
                                            "boards": [vocab.BOARDS.label(b, lang) for b in ent["boards"]],
                                            "similar": similar}, who=who)


# -- enterprise -----------------------------------------------------------------------------------------
@router.get("/enterprise")
def enterprise_page(request: Request, state: StateDep, who: EnterprisePage) -> Response:
    """Suggested funds and financing products with reasons; incoming contact requests to answer."""
    lang = lang_of(request)
    enterprise_id = _acting_id(request, who, "enterprise")
    ctx: dict[str, Any] = {"enterprise_id": enterprise_id, "funds": None, "error": None, "requests": [],
                           "answered": request.query_params.get("answered"),
                           "published": int_param(request.query_params.get("published"))}
    if enterprise_id is None:
        return render(request, "enterprise.html", ctx, who=who)
    ctx["enterprise_name"] = party_name(state, "enterprise", enterprise_id)
    with state.pool.connection() as conn:
        ctx["requests"] = _open_requests(state, conn, who, enterprise_id=enterprise_id)
        ctx["programmes"] = programmes_web.panel(conn, who, enterprise_id, lang)
        ctx["readiness"] = readiness_web.panel(conn, who, enterprise_id, lang)
        ctx["newcomer"] = newcomer_web.panel(state, conn, who, enterprise_id, lang)
    ctx["sw"], ctx["syndicate_needs"] = syndicates_web.words(lang), syndicates_web.open_needs(state, enterprise_id)
    try:
        ctx["funds"] = matching_service.investor_list(state, who, enterprise_id,
                                                      matching_service.ListParams(state, k=20))
    except EXPECTED as exc:
        err = PageError.of(exc)
        ctx["error"] = err.message(lang)
        return render(request, "enterprise.html", ctx, status=err.status, who=who)
    snap = state.matcher.snap
    ctx["types"] = {it.investor.id: vocab.INVESTOR_TYPES.label(vocab.INVESTOR_TYPES.codes[int(snap.inv_type[r])], lang)
                    for it in ctx["funds"].items if it.investor
                    and (r := snap.investor_row.get(it.investor.id)) is not None}
    return render(request, "enterprise.html", ctx, who=who)


def _open_requests(state: AppState, conn: Any, who: Principal, *, enterprise_id: int) -> list[dict[str, Any]]:
    """Contact requests of investors the enterprise has not answered yet, newest first."""
    rows = event_service.party_view(conn, who, enterprise_id=enterprise_id)
    answered = {r["investor_id"] for r in rows if r["event_type"] in ("contact_accepted", "declined")
                and r["actor"] == "enterprise"}
    out: dict[int, dict[str, Any]] = {}
    for r in rows:
        if r["event_type"] == "contact_requested" and r["investor_id"] not in answered:
            out.setdefault(r["investor_id"], {"investor_id": r["investor_id"], "at": r["occurred_at"],
                                              "name": party_name(state, "investor", r["investor_id"])})
    return list(out.values())


@router.post("/enterprise/contacts")
def answer_contact(request: Request, state: StateDep, who: EnterprisePage,
                   csrf: Annotated[str, Form(max_length=100)] = "",
                   investor_id: Annotated[int, Form()] = 0, enterprise_id: Annotated[int, Form()] = 0,
                   decision: Annotated[str, Form(max_length=10)] = "") -> Response:
    """Accept (``contact_accepted``: reveals the financials to that investor) or decline (``declined``)."""
    check_csrf(request, csrf)
    if decision not in ("accept", "decline"):
        return error_page(request, PageError(422, None, "请选择同意或婉拒", "decision must be accept or decline"), who)
    event_type = "contact_accepted" if decision == "accept" else "declined"
    body = {"event_id": f"web-{decision}-{investor_id}-{enterprise_id}", "event_type": event_type,
            "investor_id": investor_id, "enterprise_id": enterprise_id, "actor": "enterprise"}
    back = "/web/enterprise?answered=" + decision
    if who.role != "enterprise":
        back += f"&enterprise_id={enterprise_id}"
    return _post_event(request, state, who, body, back)
