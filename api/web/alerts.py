"""提醒 / Alerts in the console (``/web/alerts``): an investor's alerts, its alert settings, saved searches and
webhook; the unread count beside "提醒" in every investor page's navigation (:func:`api.web.common.nav_badges`).

Everything goes through :mod:`api.services.alerts`, as ``/v1/investors/{id}/alerts`` and its sibling routes do
(the same access checks, rules and errors): alerts are shown as the API gives them (disclosure already applied
when they were written: reasons on withheld data name no figure; the enterprise's and the need's public fields
only). Staff (admin, operator) open any investor's page with ``?investor_id=`` read-only: marking read and
changing settings is the investor's own business here (the buttons are not shown, the forms answer 403).
Enterprises and data scientists get the console's 403 page.

A form that the service refuses is shown again with its values, the message, and per field the value sent and
what is allowed (422). Registering a webhook answers with the page showing its signing secret once (it is
never stored in the clear nor shown again).
"""

from __future__ import annotations

from typing import Annotated, Any

import psycopg
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from api.deps import Principal, StateDep
from api.errors import ApiError
from api.schemas.alerts import AlertSettingsIn, MarkReadIn, SavedSearchIn, WebhookIn, WebhookOut
from api.services import alerts as service
from api.web.alerts_text import reason, words
from api.web.common import (
    EXPECTED,
    PageError,
    check_csrf,
    error_page,
    int_param,
    local_time,
    party_name,
    render,
    web_roles,
)
from api.web.i18n import lang_of, pick
from api.web.parties import filter_options, match_band
from api.webhooks import ALERT_ID, ATTEMPT, SIGNATURE, TIMESTAMP
from matching.domain import industries, regions, vocab

router = APIRouter(prefix="/web", include_in_schema=False)
AlertsPage = Annotated[Principal, Depends(web_roles("investor", "operator", "admin"))]
OwnAlerts = Annotated[Principal, Depends(web_roles("investor"))]
PAGE = 20  # alerts per page
DELIVERIES = 20  # rows of the delivery log shown
WAN = 10_000  # amounts are entered in 万元
DELIVERY = ("immediate", "daily", "weekly")
FILTERS = (("board", "boards", vocab.BOARDS), ("tier", "tiers", vocab.TIERS),
           ("district", "districts", None), ("instrument", "instruments", vocab.INSTRUMENTS))
#: The headers of every webhook post, as the page explains them (names from :mod:`api.webhooks`).
HEADERS = ((TIMESTAMP, "hdr_timestamp"), (SIGNATURE, "hdr_signature"), (ALERT_ID, "hdr_alert_id"),
           (ATTEMPT, "hdr_attempt"))
NOTICES = ("saved_settings", "created_search", "deleted_search", "removed")


# -- what the page shows ------------------------------------------------------------------------------------------
def _district(code: str | None, lang: str) -> str | None:
    if not code or code not in regions.DISTRICT_CODES:
        return None
    d = regions.district(code)
    return d.en if lang == "en" else d.zh


def _industry(code: str | None, lang: str) -> str | None:
    if not code:
        return None
    if code.startswith("raw:"):
        return code[4:]
    try:
        ind = industries.industry(code)
    except KeyError:
        return code
    return ind.en if lang == "en" else ind.zh


def _label(v: vocab.Vocabulary, code: str | None, lang: str) -> str | None:
    return None if code is None else (v.label(code, lang) if code in v else code)


def alert_item(a: dict[str, Any], top_n: int, query: str, lang: str, w: dict[str, str]) -> dict[str, Any]:
    """One alert as a card: the API's fields in ``lang`` (no figure the API did not return), its band by the place
    it took in the query's top N (as a deal card's band by its place in the list) and the score on hover."""
    e, n = a["enterprise"], a["need"]
    rank, score = int(a["rank"]), float(a["score"])
    n_of = max(int(top_n), rank)
    shown = score * 100 if score <= 1 else score
    title = (w["band_rules"] if a["model_version"] == "content-rules" else w["band_model"]).format(
        n=n_of, rank=rank, p=f"{shown:.1f}")
    chips = [_label(vocab.TIERS, e.get("tier"), lang), _district(e.get("district"), lang),
             _industry(e.get("industry"), lang)]
    return {"id": a["id"], "unread": a["read_at"] is None, "name": e["name"], "href": f"/web/enterprises/{e['id']}",
            "enterprise_id": e["id"], "chips": [c for c in chips if c], "band": match_band(rank - 1, n_of),
            "band_title": title, "score": score, "query": query, "created": local_time(a["created_at"]),
            "need": {"ref": n.get("ref"), "instrument": _label(vocab.INSTRUMENTS, n.get("instrument"), lang),
                     "amount": n.get("amount"), "round": _label(vocab.ROUNDS, n.get("round"), lang),
                     "closes_on": n.get("closes_on")},
            "reasons": [{"text": pick(lang, r["zh"], r["en"]), "kind": r["kind"]} for r in a["reasons"]],
            "delivered": a["delivered_at"] is not None, "failed": a["failed_at"] is not None}


def search_item(s: dict[str, Any], lang: str) -> dict[str, Any]:
    """A saved search with its filters as labels in ``lang``."""
    f = s["filters"] or {}
    chips: list[str] = []
    for _, plural, v in FILTERS:
        for code in f.get(plural, []):
            chips.append((_district(code, lang) or code) if v is None else (_label(v, code, lang) or code))
    return {**s, "chips": chips, "amount_min": f.get("amount_min"), "amount_max": f.get("amount_max")}


def _query_label(key: str, searches: dict[int, dict[str, Any]], w: dict[str, str]) -> tuple[str, int | None]:
    """What a query key (``mandate``, ``search:<id>``) reads as, and its saved search's top N when it has one."""
    if key.startswith("search:") and key[7:].isdigit():
        found = searches.get(int(key[7:]))
        if found is None:
            return w["query_deleted"].format(id=key[7:]), None
        return w["query_search"].format(name=found["name"]), int(found["top_n"])
    return w["query_mandate"], None


def page_context(conn: psycopg.Connection, who: Principal, investor_id: int, lang: str, *, unread_only: bool,
                 offset: int) -> dict[str, Any]:
    """Everything the page shows for one investor, read through the alerts service (its access checks)."""
    w = words(lang)
    listed = service.list_alerts(conn, who, investor_id, limit=PAGE, offset=offset, unread_only=unread_only)
    settings = service.get_settings(conn, who, investor_id)
    searches = service.list_searches(conn, who, investor_id)
    try:
        hook: dict[str, Any] | None = service.get_webhook(conn, who, investor_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
        hook = None
    log = service.deliveries(conn, who, investor_id, limit=DELIVERIES, offset=0) if hook else None
    by_id = {int(s["id"]): s for s in searches}
    items = []
    for a in listed["items"]:
        query, top_n = _query_label(a["query"], by_id, w)
        items.append(alert_item(a, top_n or int(settings["top_n"]), query, lang, w))
    return {"alerts": items, "total": listed["total"], "unread": listed["unread"], "offset": offset,
            "next_offset": listed["next_offset"], "prev_offset": max(0, offset - PAGE) if offset else None,
            "settings": settings, "searches": [search_item(s, lang) for s in searches], "webhook": hook,
            "deliveries": log["items"] if log else [], "deliveries_total": log["total"] if log else 0}


def _render(request: Request, state: StateDep, who: Principal, *, status: int = 200,
            form: dict[str, Any] | None = None, secret: dict[str, Any] | None = None) -> Response:
    """The page, for the investor of the key (staff: ``?investor_id=``), with a form's error or a new secret."""
    lang = lang_of(request)
    q = request.query_params
    investor_id = who.investor_id if who.role == "investor" else int_param(q.get("investor_id"))
    notice = q.get("done") if q.get("done") in NOTICES else None
    ctx: dict[str, Any] = {"w": words(lang), "investor_id": investor_id, "readonly": who.role != "investor",
                           "form": form or {}, "secret": secret, "notice": notice,
                           "unread_only": q.get("unread") == "1", "options": filter_options(lang),
                           "delivery_choices": DELIVERY, "signature": _signature_scheme(), "headers": HEADERS}
    if investor_id is None:
        return render(request, "alerts.html", ctx, who=who, status=status)
    try:
        with state.pool.connection() as conn:
            ctx.update(page_context(conn, who, investor_id, lang, unread_only=ctx["unread_only"],
                                    offset=int_param(q.get("offset")) or 0))
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
    ctx["investor_name"] = party_name(state, "investor", investor_id)
    return render(request, "alerts.html", ctx, who=who, status=status)


@router.get("/alerts")
def alerts_page(request: Request, state: StateDep, who: AlertsPage) -> Response:
    """The alerts (newest first, ``?unread=1`` for unread only, ``?offset=`` to page), settings, saved searches
    and the webhook with its delivery log."""
    return _render(request, state, who)


# -- forms (the investor's own) -------------------------------------------------------------------------------------
def _form_error(request: Request, state: StateDep, who: Principal, name: str, exc: Exception,
                values: dict[str, Any]) -> Response:
    """The page again with form ``name``'s values and what was wrong: the field, the value sent, what is allowed."""
    lang = lang_of(request)
    if isinstance(exc, ValidationError):
        fields = []
        for e in exc.errors():
            field = ".".join(str(p) for p in e["loc"])
            ctx = e.get("ctx") or {}
            allowed = None
            if e["type"] == "literal_error":
                allowed = [a.strip(" '") for a in str(ctx.get("expected", "")).replace(" or ", ",").split(",") if a]
            fields.append({"field": field, "value": e.get("input") if e["type"] != "missing" else None,
                           "reason": reason(e["type"], ctx, lang) or e["msg"], "allowed": allowed})
        names = "、".join(f["field"] for f in fields) if lang == "zh" else ", ".join(f["field"] for f in fields)
        err = PageError(422, None, f"以下字段的值不合法：{names}", f"Invalid value(s) for: {names}", fields)
    else:
        err = PageError.of(exc)
        if err.status == 403:  # not a form problem: the key may not do this
            return error_page(request, err, who)
        err.fields = [{**f, "reason": f.get("reason") if lang == "en" else None} for f in err.fields]
    return _render(request, state, who, status=err.status,
                   form={"name": name, "message": err.message(lang), "fields": err.fields, "values": values})


def _call(request: Request, state: StateDep, who: Principal, name: str, values: dict[str, Any], schema: Any,
          body: dict[str, Any] | None, action: Any) -> Any:
    """Validate ``body`` with ``schema`` (``None``: no body) and run ``action(conn, model)``; a refusal is the page
    with the form's error (a :class:`Response`), else the service's answer."""
    try:
        model = schema(**body) if schema is not None and body is not None else None
        with state.pool.connection() as conn:
            return action(conn, model)
    except (ValidationError, *EXPECTED) as exc:
        return _form_error(request, state, who, name, exc, values)


def _done(notice: str | None = None, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/web/alerts{'?done=' + notice if notice else ''}{anchor}", status_code=303)


@router.post("/alerts/read")
def mark_read(request: Request, state: StateDep, who: OwnAlerts, csrf: Annotated[str, Form(max_length=100)] = "",
              alert_id: Annotated[str, Form(max_length=20)] = "", all: Annotated[str, Form(max_length=5)] = "",  # noqa: A002
              back: Annotated[str, Form(max_length=200)] = "") -> Response:
    """Mark one alert (``alert_id``) or all (``all=1``) read, as ``POST /v1/investors/{id}/alerts/read``."""
    check_csrf(request, csrf)
    body: dict[str, Any] = {"all": True} if all == "1" else {"ids": [alert_id]}
    out = _call(request, state, who, "read", {}, MarkReadIn, body,
                lambda conn, m: service.mark_read(conn, who, int(who.investor_id or 0), m))
    if isinstance(out, Response):
        return out
    target = back if back.startswith("/web/alerts") and "//" not in back else "/web/alerts"
    return RedirectResponse(target, status_code=303)


@router.post("/alerts/settings")
def save_settings(request: Request, state: StateDep, who: OwnAlerts, csrf: Annotated[str, Form(max_length=100)] = "",
                  mandate_alerts: Annotated[str, Form(max_length=5)] = "",
                  top_n: Annotated[str, Form(max_length=20)] = "", min_score: Annotated[str, Form(max_length=40)] = "",
                  delivery: Annotated[str, Form(max_length=20)] = "") -> Response:
    """Change the alert settings (an empty threshold clears it), as ``PUT /v1/investors/{id}/alert-settings``."""
    check_csrf(request, csrf)
    values = {"mandate_alerts": mandate_alerts == "on", "top_n": top_n, "min_score": min_score, "delivery": delivery}
    body = {**values, "min_score": min_score.strip() or None}
    out = _call(request, state, who, "settings", values, AlertSettingsIn, body,
                lambda conn, m: service.put_settings(conn, who, int(who.investor_id or 0), m))
    return out if isinstance(out, Response) else _done("saved_settings", "#settings")


def _wan(text: str) -> float | str | None:
    """An amount entered in 万元 as yuan (the text itself when it is not a number: the schema names it)."""
    try:
        return float(text) * WAN if text.strip() else None
    except ValueError:
        return text


@router.post("/alerts/searches")
def create_search(request: Request, state: StateDep, who: OwnAlerts, csrf: Annotated[str, Form(max_length=100)] = "",
                  name: Annotated[str, Form(max_length=200)] = "", text: Annotated[str, Form(max_length=400)] = "",
                  board: Annotated[str, Form(max_length=40)] = "", tier: Annotated[str, Form(max_length=40)] = "",
                  district: Annotated[str, Form(max_length=40)] = "",
                  instrument: Annotated[str, Form(max_length=40)] = "",
                  amount_min: Annotated[str, Form(max_length=40)] = "",
                  amount_max: Annotated[str, Form(max_length=40)] = "",
                  top_n: Annotated[str, Form(max_length=20)] = "", min_score: Annotated[str, Form(max_length=40)] = "",
                  ) -> Response:
    """Save a search (the deal list's filters, amounts in 万元, free text), as ``POST .../saved-searches``."""
    check_csrf(request, csrf)
    values = {"name": name, "text": text, "board": board, "tier": tier, "district": district,
              "instrument": instrument, "amount_min": amount_min, "amount_max": amount_max, "top_n": top_n,
              "min_score": min_score}
    chosen = {"board": board, "tier": tier, "district": district, "instrument": instrument}
    filters: dict[str, Any] = {plural: [chosen[one]] for one, plural, _ in FILTERS if chosen[one]}
    filters |= {k: _wan(v) for k, v in (("amount_min", amount_min), ("amount_max", amount_max)) if v.strip()}
    body: dict[str, Any] = {"name": name.strip(), "text": text.strip() or None, "filters": filters,
                            "min_score": min_score.strip() or None}
    if top_n.strip():
        body["top_n"] = top_n
    out = _call(request, state, who, "search", values, SavedSearchIn, body,
                lambda conn, m: service.create_search(conn, who, int(who.investor_id or 0), m))
    return out if isinstance(out, Response) else _done("created_search", "#searches")


@router.post("/alerts/searches/{search_id}/delete")
def delete_search(request: Request, search_id: int, state: StateDep, who: OwnAlerts,
                  csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Delete a saved search (its alerts stay), as ``DELETE .../saved-searches/{id}``."""
    check_csrf(request, csrf)
    out = _call(request, state, who, "search", {}, None, None,
                lambda conn, _: service.delete_search(conn, who, int(who.investor_id or 0), search_id))
    return out if isinstance(out, Response) else _done("deleted_search", "#searches")


@router.post("/alerts/webhook")
def register_webhook(request: Request, state: StateDep, who: OwnAlerts,
                     csrf: Annotated[str, Form(max_length=100)] = "",
                     url: Annotated[str, Form(max_length=2100)] = "") -> Response:
    """Register (or replace) the webhook, as ``PUT .../webhook``: the page shows the new secret this once."""
    check_csrf(request, csrf)
    values = {"url": url}
    out = _call(request, state, who, "webhook", values, WebhookIn, {"url": url.strip()},
                lambda conn, m: service.put_webhook(state, conn, who, int(who.investor_id or 0), m))
    if isinstance(out, Response):
        return out
    return _render(request, state, who, secret={"secret": out["secret"], "url": out["url"],
                                                "signature": _signature_scheme()})


def _signature_scheme() -> str:
    """How posts are signed, as the API's webhook answer states it (one statement of the scheme)."""
    return str(WebhookOut.model_fields["signature"].default)


@router.post("/alerts/webhook/delete")
def remove_webhook(request: Request, state: StateDep, who: OwnAlerts,
                   csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Remove the webhook, as ``DELETE .../webhook`` (alerts keep being listed here)."""
    check_csrf(request, csrf)
    out = _call(request, state, who, "webhook", {}, None, None,
                lambda conn, _: service.delete_webhook(conn, who, int(who.investor_id or 0)))
    return out if isinstance(out, Response) else _done("removed", "#webhook")
