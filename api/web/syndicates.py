"""Syndicates in the console: "组建银团/联合投资 / Build a syndicate" on a deal card.

The investor's deal cards (``/web/investor``) and the enterprise's page (``/web/enterprise``, one per open need)
carry a folded panel; opening it loads ``/web/needs/{id}/syndicates`` (a fragment when asked by the page's
script, a page of its own otherwise: the link works without the script). The page calls
:mod:`api.services.syndicates`, as ``GET /v1/needs/{id}/syndicates`` does (the same access rules and the same
fields withheld: an investor sees its co-investors' names and types only). The panel's words live here.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Principal, StateDep
from api.services import syndicates as service
from api.state import AppState
from api.web.common import EXPECTED, PageError, current_principal, int_param, money, render
from api.web.i18n import lang_of, pick
from matching.domain import vocab

router = APIRouter(prefix="/web", include_in_schema=False)
AnyRole = Annotated[Principal, Depends(current_principal)]
WORDS: dict[str, tuple[str, str]] = {
    "title": ("组建银团/联合投资", "Build a syndicate"),
    "open": ("查看建议的联合投资方", "See suggested co-investors"),
    "loading": ("正在加载…", "Loading…"),
    "help": ("每组成员各自符合该需求的硬性条件，拟投金额在各自单笔投资额范围内，合计覆盖融资需求。",
             "Each member fits the need's hard rules on its own, with a share inside its own ticket range; "
             "together they cover the amount."),
    "help_staff": ("按匹配度与共同投资记录排序（领投方的共同投资方优先）。",
                   "Ranked by fit and co-investment history (the lead's co-investors first)."),
    "help_investor": ("仅显示其他机构的名称与类型；其单笔投资额、拟投金额与投资记录不公开。",
                      "Other investors are shown by name and type only; their tickets, shares and history are "
                      "not disclosed."),
    "none": ("暂无可覆盖该需求的组合", "No set of investors covers this need"),
    "set": ("方案", "Option"),
    "lead": ("领投", "Lead"),
    "share": ("拟投", "Share"),
    "ticket": ("单笔", "Ticket"),
    "withheld": ("不公开", "Not disclosed"),
    "need": ("融资需求", "Financing need"),
    "back": ("返回", "Back"),
}


def words(lang: str) -> dict[str, str]:
    """The panel's words in ``lang``."""
    return {k: pick(lang, zh, en) for k, (zh, en) in WORDS.items()}


def panel(state: AppState, conn: Any, who: Principal, need_id: int, lead: int | None, lang: str) -> dict[str, Any]:
    """The sets of one need as the panel shows them, or ``{"error": …}`` in ``lang``."""
    w = words(lang)
    help_ = w["help"] + (w["help_investor"] if who.role == "investor" else
                         w["help_staff"] if who.role in ("admin", "operator", "data_scientist") else "")
    try:
        out = service.syndicates(state, conn, who, need_id, lead)
    except EXPECTED as exc:
        err = PageError.of(exc)
        return {"need_id": need_id, "words": w, "help": help_, "error": err.message(lang), "status": err.status,
                "sets": []}
    sets = []
    for s in out["items"]:
        members = [{"name": m["name"], "lead": m["lead"], "type": vocab.INVESTOR_TYPES.label(m["investor_type"], lang)
                    if m["investor_type"] in vocab.INVESTOR_TYPES else m["investor_type"],
                    "amount": m["amount"], "ticket": _ticket(m, lang) if m["amount"] is not None else None,
                    "reasons": [pick(lang, r["zh"], r["en"]) for r in m["reasons"] if r["code"] != "syndicate:ticket"]}
                   for m in s["members"]]
        sets.append({"rank": s["rank"], "members": members,
                     "reasons": [pick(lang, r["zh"], r["en"]) for r in s["reasons"]]})
    return {"need_id": need_id, "words": w, "help": help_, "error": None, "status": 200, "sets": sets}


def _ticket(m: dict[str, Any], lang: str) -> str | None:
    lo, hi = m["ticket_min"], m["ticket_max"]
    if lo is None and hi is None:
        return None
    return f"{money(lo, lang) if lo is not None else '—'} – {money(hi, lang) if hi is not None else '—'}"


def open_needs(state: AppState, enterprise_id: int) -> list[dict[str, Any]]:
    """The enterprise's open needs in the served market (one syndicate panel each)."""
    ctx = state.matcher.context
    snap = ctx.snap
    row = snap.enterprise_row.get(enterprise_id)
    if row is None:
        return []
    live = ctx.rules.statuses().need
    return [{"id": int(snap.need_id[n]), "amount": float(snap.need_amount[n]),
             "instrument": vocab.INSTRUMENTS.codes[int(snap.need_instr[n])]}
            for n in np.asarray(snap.needs_of(row), dtype=np.int64) if live[n]]


@router.get("/needs/{need_id}/syndicates")
def syndicates_page(request: Request, need_id: int, state: StateDep, who: AnyRole) -> Response:
    """The sets of one need: a fragment for the deal card's script (``?fragment=1``), else a page."""
    lang = lang_of(request)
    lead = int_param(request.query_params.get("lead"))
    with state.pool.connection() as conn:
        ctx = {"syn": panel(state, conn, who, need_id, lead, lang)}
    fragment = request.query_params.get("fragment") == "1"  # the card's script shows the message in the panel
    return render(request, "syndicate_sets.html" if fragment else "syndicates.html", ctx,
                  status=200 if fragment else ctx["syn"]["status"], who=who)
