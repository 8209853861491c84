"""Platform staff's pages: the outcome report with charts and bulk import (operators, admins); model
versions with metrics and plots, promotion and rollback (data scientists, admins).

Each calls the service layer the API's routes call (:func:`api.services.reports.outcome_report`,
:func:`api.services.imports.upload`, :func:`api.services.models.promote_version` and ``roll_back``), so
the checks, the import path and the swap of the serving model are the API's.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import Principal, StateDep
from api.schemas.models import PromoteIn, RollbackIn
from api.services import imports as import_service
from api.services import models as model_service
from api.services import reports as report_service
from api.web import retrain as retrain_web
from api.web.charts import bar_chart
from api.web.common import EXPECTED, PageError, check_csrf, error_page, render, web_roles
from api.web.i18n import lang_of, translator
from matching.domain import regions, vocab
from store import registry

router = APIRouter(prefix="/web", include_in_schema=False)
OperatorPage = Annotated[Principal, Depends(web_roles("operator", "admin"))]
ScientistPage = Annotated[Principal, Depends(web_roles("data_scientist", "admin"))]
DIMENSIONS = ("district", "board", "tier", "investor_type")
METRICS = ("lists_served", "impressions", "contacts_requested", "contacts_accepted", "meetings", "investments",
           "enterprises_funded", "amount_invested")
ENTITIES = import_service.ENTITIES
VERSION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
#: The notices the models page shows after a redirect (``?done=``); any other value shows none.
NOTICES = ("promoted", "rolled_back")


# -- operator ------------------------------------------------------------------------------------------
@router.get("/operator")
def operator_page(request: Request, state: StateDep, who: OperatorPage) -> Response:
    """The outcome report by district, board, tier and investor type, and the import form."""
    return _operator(request, state, who, None)


@router.post("/operator/import")
def operator_import(request: Request, state: StateDep, who: OperatorPage,
                    file: Annotated[UploadFile, File()], csrf: Annotated[str, Form(max_length=100)] = "",
                    entity: Annotated[str, Form(max_length=20)] = "enterprises",
                    skip_invalid: Annotated[bool, Form()] = False) -> Response:
    """Bulk import through the API's upload path; the page lists the result or every bad row."""
    check_csrf(request, csrf)
    if entity not in ENTITIES:
        return error_page(request, PageError(422, None, f"不支持的数据类型：{entity}",
                                             f"entity must be one of {', '.join(ENTITIES)}"), who)
    try:
        result = import_service.upload(state, who, entity, file.filename, file.file, skip_invalid)
        outcome = {"ok": True, **result}
    except EXPECTED as exc:
        err = PageError.of(exc)
        outcome = {"ok": False, "message": err.message(lang_of(request)), "fields": err.fields,
                   "filename": file.filename}
    return _operator(request, state, who, outcome | {"entity": entity})


@router.get("/operator/report.csv")
def operator_csv(request: Request, state: StateDep, who: OperatorPage) -> Response:
    """The report as the API's CSV (UTF-8 with BOM, Chinese headers), for Excel."""
    q = request.query_params
    group_by = q.get("group_by", "district")
    group_by = group_by if group_by in DIMENSIONS else "district"
    try:
        first = date.fromisoformat(q["from"]) if q.get("from") else None
        last = date.fromisoformat(q["to"]) if q.get("to") else None
        with state.pool.connection() as conn:
            report = report_service.outcome_report(conn, who, first, last, group_by)
        return report_service.csv_response(report)
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)


def _operator(request: Request, state: StateDep, who: Principal, imported: dict[str, Any] | None) -> Response:
    lang = lang_of(request)
    t = translator(lang)
    q = request.query_params
    metric = q.get("metric") if q.get("metric") in METRICS else "contacts_requested"
    ctx: dict[str, Any] = {"metric": metric, "metrics": METRICS, "imported": imported, "entities": ENTITIES,
                           "charts": [], "error": None, "from": q.get("from", ""), "to": q.get("to", ""),
                           "data_end": None}
    try:
        first = date.fromisoformat(ctx["from"]) if ctx["from"] else None
        last = date.fromisoformat(ctx["to"]) if ctx["to"] else None
        with state.pool.connection() as conn:
            if first is None and last is None:  # no period asked: the 30 days up to the data's end
                last = ctx["data_end"] = report_service.data_end(conn)
            reports = {d: report_service.outcome_report(conn, who, first, last, d) for d in DIMENSIONS}
    except EXPECTED as exc:
        err = PageError.of(exc)
        ctx["error"] = err.message(lang)
        return render(request, "operator.html", ctx, status=400 if imported is None else 200, who=who)
    any_report = reports["district"]
    ctx.update(period_from=any_report["period_from"], period_to=any_report["period_to"], total=any_report["total"])
    for d in DIMENSIONS:
        rows = [(_label(d, r, lang), float(r[metric])) for r in reports[d]["rows"]]
        ctx["charts"].append(bar_chart(rows, title=f"{t('by_' + d)} · {t(metric)}", empty=t("no_data"),
                                       other="其他" if lang == "zh" else "Other"))
    ctx["tables"] = {d: reports[d]["rows"] for d in ("tier", "investor_type")}
    ctx["csv_from"], ctx["csv_to"] = any_report["period_from"].isoformat(), any_report["period_to"].isoformat()
    return render(request, "operator.html", ctx, who=who)


def _label(dimension: str, row: dict[str, Any], lang: str) -> str:
    """A report row's label in ``lang`` (the report's labels are Chinese)."""
    key = row["key"]
    if lang == "zh" or key is None:
        return str(row["label"])
    if dimension == "district":
        return regions.district(key).en if key in regions.DISTRICT_CODES else str(row["label"])
    v = {"board": vocab.BOARDS, "tier": vocab.TIERS, "investor_type": vocab.INVESTOR_TYPES}[dimension]
    return v.label(key, "en") if key in v else str(row["label"])


# -- data scientist --------------------------------------------------------------------------------------
@router.get("/models")
def models_page(request: Request, state: StateDep, who: ScientistPage) -> Response:
    """Every registered version with its metrics and report plots; promote and roll back."""
    return _models(request, state, who)


def _models(request: Request, state: StateDep, who: Principal, *, error: str | None = None,
            status: int = 200) -> Response:
    with state.pool.connection() as conn:
        versions = registry.list_versions(conn)
        try:
            job = retrain_web.job_panel(conn, who, request.query_params.get("job"))
        except EXPECTED as exc:  # a job id that is not one: the page without it, saying so
            job, error = None, error or PageError.of(exc).message(lang_of(request))
    cards = [{"v": mv, "plots": plots_of(mv), "baselines": (mv.metrics or {}).get("baselines_primary") or {}}
             for mv in versions]
    return render(request, "models.html", {
        "cards": cards, "serving": state.matcher.model_version, "model": state.model, "error": error, "job": job,
        "done": request.query_params.get("done") if request.query_params.get("done") in NOTICES else None,
        "done_version": request.query_params.get("version", "")},
        status=status, who=who)


def plots_of(mv: registry.ModelVersion) -> list[str]:
    """The PNG files a version's manifest lists (only these are ever served)."""
    files = (mv.manifest or {}).get("files") or {}
    return sorted(p for p in files if isinstance(p, str) and p.lower().endswith(".png"))


@router.get("/models/{version}/files/{path:path}")
def model_file(version: str, path: str, state: StateDep, who: ScientistPage) -> Response:
    """A PNG of a version's folder, only if its manifest lists it and it lies inside the folder."""
    if not version or set(version) - VERSION_CHARS:
        raise PageError(404, "not_found")
    with state.pool.connection() as conn:
        mv = registry.get_version(conn, version)
    if mv is None or path not in plots_of(mv):
        raise PageError(404, "not_found")
    folder = Path(mv.path).resolve()
    target = (folder / path).resolve()
    if not target.is_relative_to(folder) or not target.is_file():
        raise PageError(404, "not_found")
    return FileResponse(target, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.post("/models/{version}/promote")
def promote(request: Request, version: str, state: StateDep, who: ScientistPage,
            csrf: Annotated[str, Form(max_length=100)] = "", force: Annotated[bool, Form()] = False,
            reason: Annotated[str, Form(max_length=500)] = "") -> Response:
    """Promote a version and serve it now (refusals shown on the page; forcing is an admin's, with a reason)."""
    check_csrf(request, csrf)
    try:
        with state.pool.connection() as conn:
            out = model_service.promote_version(state, conn, who, version,
                                                PromoteIn(force=force, reason=reason or None))
    except EXPECTED as exc:
        err = PageError.of(exc)
        return _models(request, state, who, error=err.message(lang_of(request)), status=err.status)
    return RedirectResponse(f"/web/models?done=promoted&version={out.version}", status_code=303)


@router.post("/models/rollback")
def rollback(request: Request, state: StateDep, who: ScientistPage,
             csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Re-activate the version active before the current one."""
    check_csrf(request, csrf)
    try:
        with state.pool.connection() as conn:
            out = model_service.roll_back(state, conn, who, RollbackIn())
    except EXPECTED as exc:
        err = PageError.of(exc)
        return _models(request, state, who, error=err.message(lang_of(request)), status=err.status)
    return RedirectResponse(f"/web/models?done=rolled_back&version={out.version}", status_code=303)
