"""Model versions for data scientists and admins: list, inspect, promote, roll back, retrain.

A promotion or rollback through the API swaps the serving model at once (the poller would pick
it up within ``model_poll_seconds`` anyway, and other workers do). The bundle is loaded and verified
*before* the registry changes, so a version that cannot serve is never made active by this route.
A retraining is queued here and run by ``capconnect worker``, a process of its own.
Listing, promotion, rollback and retraining are :mod:`api.services.models`'s, shared with the web console.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from api.deps import ConnDep, Principal, StateDep, require_roles
from api.errors import not_found
from api.schemas.common import error_responses
from api.schemas.models import JobOut, ModelListOut, ModelVersionOut, PromoteIn, RetrainIn, RollbackIn, SwapOut
from api.services import models as service
from store import registry

router = APIRouter(prefix="/v1/models", tags=["models"])
Scientist = Annotated[Principal, Depends(require_roles(*service.SCIENTISTS))]
Version = Annotated[str, Path(pattern=service.VERSION_PATTERN)]
ERRORS = error_responses(401, 403, 404, 409, 422, 429, 503)


@router.get("", response_model=ModelListOut, responses=ERRORS)
def list_models(state: StateDep, conn: ConnDep, who: Scientist) -> ModelListOut:
    """Every registered version (newest first) with its metrics, and what this process serves."""
    return service.list_models(state, conn, who)


@router.get("/jobs/{job_id}", response_model=JobOut, responses=ERRORS)
def get_job(job_id: str, conn: ConnDep, who: Scientist) -> JobOut:
    """A retraining job's status: queued, running, succeeded or failed (with the error), and its stage messages."""
    return service.get_job(conn, who, job_id)


@router.get("/{version}", response_model=ModelVersionOut, responses=ERRORS)
def get_model(version: Version, state: StateDep, conn: ConnDep, who: Scientist) -> ModelVersionOut:
    """One version with its manifest (features, encoder, data windows, library versions) and metrics."""
    mv = registry.get_version(conn, version)
    if mv is None:
        raise not_found("模型版本", "Model version", version, "version")
    return service.version_out(mv, state, manifest=True)


@router.post("/{version}/promote", response_model=SwapOut, responses=ERRORS)
def promote_model(version: Version, state: StateDep, conn: ConnDep, who: Scientist,
                  body: PromoteIn | None = None) -> SwapOut:
    """Make a version active and serve it now (refused when it does not beat the active one, unless an admin
    forces it with a reason, which the audit log records)."""
    return service.promote_version(state, conn, who, version, body)


@router.post("/rollback", response_model=SwapOut, responses=ERRORS)
def rollback_model(state: StateDep, conn: ConnDep, who: Scientist, body: RollbackIn | None = None) -> SwapOut:
    """Re-activate a version (default: the one active before the current) and serve it now."""
    return service.roll_back(state, conn, who, body)


@router.post("/retrain", status_code=202, response_model=JobOut, responses=ERRORS)
def retrain(conn: ConnDep, who: Scientist, response: Response, body: RetrainIn | None = None) -> JobOut:
    """Queue a retraining job (one at a time), run by ``capconnect worker``; follow it at
    ``/v1/models/jobs/{id}``."""
    job = service.retrain(conn, who, body)
    response.headers["Location"] = f"/v1/models/jobs/{job.id}"
    return job
