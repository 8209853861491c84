"""Model versions for data scientists and admins: list, inspect, promote, roll back, retrain.

A promotion or rollback through the API swaps the serving model at once (the poller would pick
it up within ``model_poll_seconds`` anyway, and other workers do). The bundle is loaded and verified
*before* the registry changes, so a version that cannot serve is never made active by this route.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response

from api.deps import ConnDep, Principal, StateDep, require_roles
from api.errors import ApiError, field_detail, forbidden, not_found
from api.jobs import JobBusy
from api.logs import request_id_var
from api.schemas.common import error_responses
from api.schemas.models import JobOut, ModelListOut, ModelVersionOut, PromoteIn, RetrainIn, RollbackIn, SwapOut
from api.state import AppState
from capconnect.db import audit, registry
from capconnect.db.registry import ModelVersion
from matching.errors import ArtifactError
from training.registry import PromotionRefused, promote, rollback

router = APIRouter(prefix="/v1/models", tags=["models"])
Scientist = Annotated[Principal, Depends(require_roles("data_scientist", "admin"))]
Version = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)


def _out(mv: ModelVersion, state: AppState, *, manifest: bool = False) -> ModelVersionOut:
    return ModelVersionOut(version=mv.version, status=mv.status, created_at=mv.created_at,
                           activated_at=mv.activated_at, serving=mv.version == state.matcher.model_version,
                           metrics=mv.metrics, manifest=mv.manifest if manifest else None)


@router.get("", response_model=ModelListOut, responses=ERRORS)
def list_models(state: StateDep, conn: ConnDep, who: Scientist) -> ModelListOut:
    """Every registered version (newest first) with its metrics, and what this process serves."""
    versions = registry.list_versions(conn)
    active = next((v.version for v in versions if v.status == "active"), None)
    return ModelListOut(serving=state.matcher.model_version, active=active,
                        versions=[_out(v, state) for v in versions])


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def get_job(job_id: str, state: StateDep, who: Scientist) -> JobOut:
    """A retraining job's status: queued, running, succeeded or failed (with the error)."""
    job = state.jobs.get(job_id) if state.jobs else None
    if job is None:
        raise not_found("训练任务", "Retraining job", job_id, "job_id")
    return JobOut(**job)


@router.get("/{version}", response_model=ModelVersionOut, responses=ERRORS)
def get_model(version: Version, state: StateDep, conn: ConnDep, who: Scientist) -> ModelVersionOut:
    """One version with its manifest (features, encoder, data windows, library versions) and metrics."""
    mv = registry.get_version(conn, version)
    if mv is None:
        raise not_found("模型版本", "Model version", version, "version")
    return _out(mv, state, manifest=True)


@router.post("/{version}/promote", response_model=SwapOut, responses=ERRORS)
def promote_model(version: Version, state: StateDep, conn: ConnDep, who: Scientist,
                  body: PromoteIn | None = None) -> SwapOut:
    """Make a version active and serve it now (refused when it does not beat the active one, unless an admin
    forces it with a reason, which the audit log records)."""
    mv = registry.get_version(conn, version)
    if mv is None:
        raise not_found("模型版本", "Model version", version, "version")
    force = bool(body and body.force)
    if force:
        _check_force(who, body)
    bundle = _verified(state, mv)
    previous = state.matcher.model_version
    try:
        new = promote(conn, state.settings, version, force=force, encoder_id=state.encoder.encoder_id)
    except PromotionRefused as exc:
        raise ApiError(409, "conflict", "模型未被启用", str(exc)) from exc
    if force:
        assert body is not None and body.reason is not None
        audit.record_forced_promotion(conn, who, version=new.version, previous=previous, reason=body.reason.strip(),
                                      request_id=request_id_var.get())
    state.swap(bundle)
    return SwapOut(version=new.version, status=new.status, serving=state.matcher.model_version, previous=previous)


@router.post("/rollback", response_model=SwapOut, responses=ERRORS)
def rollback_model(state: StateDep, conn: ConnDep, who: Scientist, body: RollbackIn | None = None) -> SwapOut:
    """Re-activate a version (default: the one active before the current) and serve it now."""
    previous = state.matcher.model_version
    try:
        new = rollback(conn, state.settings, body.to if body else None, encoder_id=state.encoder.encoder_id)
    except PromotionRefused as exc:
        raise ApiError(409, "conflict", "无法回滚", str(exc)) from exc
    state.serve_version(new)
    return SwapOut(version=new.version, status=new.status, serving=state.matcher.model_version, previous=previous)


@router.post("/retrain", status_code=202, response_model=JobOut, responses=ERRORS)
def retrain(state: StateDep, who: Scientist, response: Response, body: RetrainIn | None = None) -> JobOut:
    """Start a retraining job in the background (one at a time); follow it at ``/v1/models/jobs/{id}``."""
    params = (body or RetrainIn()).model_dump()
    try:
        job = state.jobs.submit(params, who.key_shown)
    except JobBusy as busy:
        running = busy.job or {"id": "?", "status": "running", "requested_by": "?"}
        raise ApiError(409, "conflict", f"已有训练任务 {running['id']} 在进行，一次只运行一个",
                       f"A retraining job ({running['id']}, {running['status']}, requested by "
                       f"{running['requested_by']}) is not finished; one job runs at a time: follow it at "
                       f"/v1/models/jobs/{running['id']} and ask again when it ends",
                       fields=[field_detail("job", running["id"], "one retraining job at a time: wait for this one "
                                            f"(GET /v1/models/jobs/{running['id']})")]) from busy
    response.headers["Location"] = f"/v1/models/jobs/{job['id']}"
    return JobOut(**job)


def _verified(state: AppState, mv: ModelVersion) -> Any:
    try:
        return state.load_bundle(mv)
    except ArtifactError as exc:
        state.refuse(mv.version, str(exc))
        raise ApiError(409, "conflict", f"模型 {mv.version} 的文件校验失败，未启用", str(exc)) from exc


def _check_force(who: Principal, body: PromoteIn | None) -> None:
    """A forced promotion overrides the quality gate: admins only, with a reason for the audit log."""
    if who.role != "admin":
        err = forbidden(f"角色 {who.role} 不能强制启用模型：只有管理员可以越过质量门槛",
                        f"Keys of role {who.role} may not force a promotion: only an admin may force one past the "
                        "quality gate (promote without force, or ask an admin)")
        err.fields = [field_detail("force", True, "admins only")]
        raise err
    reason = body.reason if body else None
    if reason is None or not reason.strip():
        raise ApiError(422, "validation_error", "强制启用须说明理由（reason）",
                       "A forced promotion needs a reason: say why the quality gate is overridden in 'reason'",
                       fields=[field_detail("reason", reason, "required with force: why the quality gate is "
                                            "overridden (1-500 characters, recorded in the audit log)")])
