"""Model versions for data scientists and admins: list, promote, roll back, queue a retraining; for the API's
model routes (:mod:`api.routes.models`) and the console's models page.

A promotion or rollback swaps the serving model at once (the poller would pick it up within
``model_poll_seconds`` anyway, and other workers do). The bundle is loaded and verified *before* the
registry changes, so a version that cannot serve is never made active. Forcing a promotion past the
quality gate is an admin's, with a reason the audit log records. Promotion and rollback go through
:func:`store.registry.promote` / :func:`store.registry.rollback`, as ``capconnect models`` does.

A retraining is only queued here (:func:`store.jobs.enqueue`): ``capconnect worker`` runs it in a process of its
own, and a version it promotes reaches this process through the poller.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from api.deps import Principal
from api.errors import ApiError, field_detail, forbidden, not_found
from api.logs import request_id_var
from api.schemas.models import JobOut, ModelListOut, ModelVersionOut, PromoteIn, RetrainIn, RollbackIn, SwapOut
from api.services.checks import authorize, invalid
from api.state import AppState
from matching.errors import ArtifactError
from matching.ranking.promotion import PromotionRefused
from store import audit, registry
from store import jobs as jobs_db
from store.registry import ModelVersion

#: The roles that see and change model versions.
SCIENTISTS = ("data_scientist", "admin")
#: What a version name may be.
VERSION_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"


def version_out(mv: ModelVersion, state: AppState, *, manifest: bool = False) -> ModelVersionOut:
    """A registered version as the API shows it (``serving``: whether this process serves it)."""
    return ModelVersionOut(version=mv.version, status=mv.status, created_at=mv.created_at,
                           activated_at=mv.activated_at, serving=mv.version == state.matcher.model_version,
                           metrics=mv.metrics, manifest=mv.manifest if manifest else None)


def list_models(state: AppState, conn: Any, who: Principal) -> ModelListOut:
    """Every registered version (newest first) with its metrics, and what this process serves."""
    authorize(who, *SCIENTISTS)
    versions = registry.list_versions(conn)
    active = next((v.version for v in versions if v.status == "active"), None)
    return ModelListOut(serving=state.matcher.model_version, active=active,
                        versions=[version_out(v, state) for v in versions])


def check_version(version: str) -> str:
    """``version`` when it is a valid version name, else a 422 naming it."""
    if not re.fullmatch(VERSION_PATTERN, version):
        raise invalid("version", version[:64], "模型版本名不合法", "version must be 1 to 64 letters, digits, "
                      "'_', '.' or '-'")
    return version


def promote_version(state: AppState, conn: Any, who: Principal, version: str, body: PromoteIn | None) -> SwapOut:
    """Make a version active and serve it now (409 when it does not beat the active one, unless an admin
    forces it with a reason, which the audit log records)."""
    authorize(who, *SCIENTISTS)
    check_version(version)
    mv = registry.get_version(conn, version)
    if mv is None:
        raise not_found("模型版本", "Model version", version, "version")
    force = bool(body and body.force)
    if force:
        _check_force(who, body)
    bundle = _verified(state, mv)
    previous = state.matcher.model_version
    try:
        new = registry.promote(conn, version, force=force, encoder_id=state.encoder.encoder_id)
    except PromotionRefused as exc:
        raise ApiError(409, "conflict", "模型未被启用", str(exc)) from exc
    if force:
        assert body is not None and body.reason is not None
        audit.record_forced_promotion(conn, who, version=new.version, previous=previous, reason=body.reason.strip(),
                                      request_id=request_id_var.get())
    state.swap(bundle)
    return SwapOut(version=new.version, status=new.status, serving=state.matcher.model_version, previous=previous)


def roll_back(state: AppState, conn: Any, who: Principal, body: RollbackIn | None) -> SwapOut:
    """Re-activate a version (default: the one active before the current) and serve it now."""
    authorize(who, *SCIENTISTS)
    previous = state.matcher.model_version
    try:
        new = registry.rollback(conn, body.to if body else None, encoder_id=state.encoder.encoder_id)
    except PromotionRefused as exc:
        raise ApiError(409, "conflict", "无法回滚", str(exc)) from exc
    state.serve_version(new)
    return SwapOut(version=new.version, status=new.status, serving=state.matcher.model_version, previous=previous)


def retrain(conn: Any, who: Principal, body: RetrainIn | None) -> JobOut:
    """Queue a retraining job for ``capconnect worker`` (409 while one is queued or running, naming it)."""
    authorize(who, *SCIENTISTS)
    try:
        job = jobs_db.enqueue(conn, job_id=uuid.uuid4().hex, params=(body or RetrainIn()).model_dump(),
                              requested_by=who.key_shown)
    except jobs_db.JobBusy as busy:
        running = busy.job or {"id": "?", "status": "running", "requested_by": "?"}
        raise ApiError(409, "conflict", f"已有训练任务 {running['id']} 在进行，一次只运行一个",
                       f"A retraining job ({running['id']}, {running['status']}, requested by "
                       f"{running['requested_by']}) is not finished; one job runs at a time: follow it at "
                       f"/v1/models/jobs/{running['id']} and ask again when it ends",
                       fields=[field_detail("job", running["id"], "one retraining job at a time: wait for this one "
                                            f"(GET /v1/models/jobs/{running['id']})")]) from busy
    return JobOut(**job)


def get_job(conn: Any, who: Principal, job_id: str) -> JobOut:
    """A retraining job's row (404 when there is none)."""
    authorize(who, *SCIENTISTS)
    job = jobs_db.get(conn, job_id)
    if job is None:
        raise not_found("训练任务", "Retraining job", job_id, "job_id")
    return JobOut(**job)


def _verified(state: AppState, mv: ModelVersion) -> Any:
    """The version's bundle, loaded and verified (a 409 when its files fail the check)."""
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
