"""Listing readiness (上市准备度) in the console: the enterprise's panel and the staff pipeline page.

* :func:`panel`: the context of the "上市准备度 / Listing readiness" panel of ``/web/enterprise``
  (``readiness_panel.html``): per target its status, score and the best set's criteria as a table
  (criterion, the figure and its years, the standard, met / missed by how much, the source), the other
  sets folded, the changes that would move it most. Standards not public or not verified are flagged
  "待确认 / to be confirmed" on the row and the target.
* ``/web/readiness`` (operators, admins): "上市培育进度": per target, how many enterprises are met /
  near / far, in total and by district, filtered by district and board.

Both call :mod:`api.services.readiness`, as the API's routes do; the words are here and in :mod:`api.web.i18n`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import Principal, StateDep
from api.services import readiness as service
from api.web.common import EXPECTED, PageError, render, web_roles
from api.web.i18n import lang_of, translator
from matching.domain import regions

router = APIRouter(prefix="/web", include_in_schema=False)
StaffPage = Annotated[Principal, Depends(web_roles("operator", "admin"))]


def _n(x: float | None, unit: str) -> str:
    if x is None:
        return "—"
    text = f"{x:,.2f}".rstrip("0").rstrip(".") if unit == "%" or abs(x) < 100 else f"{x:,.0f}"
    return f"{text} {unit}" if unit != "是/否" else text


def _row(c: dict[str, Any], lang: str) -> dict[str, Any]:
    """One criterion as the table shows it."""
    t = translator(lang)
    en = lang == "en"
    if c["status"] == "met":
        result = t("rd_met_by", x=_n(c["margin"], c["unit"])) if c["margin"] else t("rd_met")
    elif c["status"] == "missed":
        result = t("rd_missed_by", x=_n(abs(c["margin"]), c["unit"]))
    else:
        result = t(f"rd_unknown_{c['unknown_reason']}")
    standard = (t("rd_step") if c["operator"] == "done" else "—" if c["threshold"] is None
                else f"{c['operator']} {_n(c['threshold'], c['unit'])}")
    years = "、".join(str(y) for y in c["figure_years"]) if not en else ", ".join(str(y) for y in c["figure_years"])
    return {"label": c["label_en"] if en else c["label_zh"], "figure": _n(c["figure"], c["unit"]),
            "years": years or "—", "standard": standard, "status": c["status"], "result": result,
            "source": f"{c['source']['document']} {c['source']['article']}", "date": c["date"] or t("rd_no_date"),
            "placeholder": c["placeholder"], "note": c["note"]}


def panel(conn: Any, who: Principal, enterprise_id: int, lang: str) -> dict[str, Any]:
    """The enterprise page's readiness panel, or ``{"error": …}`` in ``lang`` (e.g. an investor without the
    figures)."""
    try:
        doc = service.enterprise_readiness(conn, who, enterprise_id)
    except EXPECTED as exc:
        return {"error": PageError.of(exc).message(lang)}
    en = lang == "en"
    targets = []
    for tr in doc["targets"]:
        sets = [{"code": s["code"], "name": s["en"] if en else s["zh"], "score": s["score"], "met": s["met"],
                 "rows": [_row(c, lang) for c in s["criteria"]]} for s in tr["sets"]]
        best = next(s for s in sets if s["code"] == tr["best_set"])
        targets.append({"code": tr["target"], "name": tr["en"] if en else tr["zh"], "kind": tr["kind"],
                        "status": tr["status"], "status_text": tr["status_en"] if en else tr["status_zh"],
                        "score": None if tr["score"] is None else round(100 * tr["score"]),
                        "placeholder": tr["placeholder"], "best": best,
                        "others": [s for s in sets if s["code"] != tr["best_set"]],
                        "changes": [c["text_en"] if en else c["text_zh"] for c in tr["changes"]]})
    names = {t["code"]: t["name"] for t in targets}
    return {"standards": doc["standards"], "targets": targets,
            # the list spans targets, often the same figure for several (revenue for each board): name the target
            "changes": [f"{names.get(c['target'], c['target'])} · {c['text_en'] if en else c['text_zh']}"
                        for c in doc["changes"]]}


@router.get("/readiness")
def pipeline_page(request: Request, state: StateDep, who: StaffPage) -> Response:
    """上市培育进度: per target, enterprises met / near / far by district; ``?district=`` and ``?board=``."""
    lang = lang_of(request)
    en = lang == "en"
    district = request.query_params.get("district") or None
    board = request.query_params.get("board") or None
    ctx: dict[str, Any] = {
        "district": district, "board": board, "report": None, "error": None, "boards": [],
        "districts": [(d.code, d.en if en else d.zh) for d in regions.DISTRICTS]}
    try:
        with state.pool.connection() as conn:
            ctx["boards"] = [(code, e if en else z) for code, z, e in service.target_choices(conn)]
            report = service.pipeline(conn, who, [district] if district else None, [board] if board else None)
    except EXPECTED as exc:
        err = PageError.of(exc)
        ctx["error"] = err.message(lang)
        return render(request, "readiness.html", ctx, status=err.status, who=who)
    for t in report["targets"]:
        t["name"] = t["en"] if en else t["zh"]
        for d in t["by_district"]:
            if en and d["district"] in regions.DISTRICT_CODES:
                d["district_name"] = regions.district(d["district"]).en
    ctx["report"] = report
    return render(request, "readiness.html", ctx, who=who)
