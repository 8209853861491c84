"""The models page's retrain button and the job it queues.

``POST /web/models/retrain`` queues a retraining job through :func:`api.services.models.retrain` (the API's
``POST /v1/models/retrain``: data scientists and admins, one job at a time, a 409 naming the unfinished one);
``capconnect worker``, a process of its own, runs it. The page then shows the job (``?job=ID``, else the
queued or running one) with its status and stage messages, reloading itself every few seconds until it ends,
and says plainly when no worker has picked it up: the job stays queued until ``capconnect worker`` runs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import Principal, StateDep
from api.schemas.models import RetrainIn
from api.services import models as model_service
from api.web.common import EXPECTED, PageError, check_csrf, error_page, web_roles
from store import jobs as jobs_db

router = APIRouter(prefix="/web", include_in_schema=False)
ScientistPage = Annotated[Principal, Depends(web_roles("data_scientist", "admin"))]
#: A job queued this long without a worker taking it: the page says no worker seems to be running.
NO_WORKER_AFTER_S = 15.0
#: How often the page reloads while a job is queued or running.
RELOAD_S = 5


def job_panel(conn: Any, who: Principal, job_id: str | None) -> dict[str, Any] | None:
    """The job to show: ``job_id`` when given (its row as ``GET /v1/models/jobs/{id}`` answers it), else the
    queued or running one; ``None`` when there is none. ``waiting`` marks a job no worker has taken."""
    if job_id:
        job = model_service.get_job(conn, who, job_id).model_dump()
    else:
        job = jobs_db.active(conn)
        if job is None:
            return None
    age = (datetime.now(UTC) - job["created_at"]).total_seconds()
    return {**job, "waiting": job["status"] == "queued" and age >= NO_WORKER_AFTER_S,
            "live": job["status"] in ("queued", "running"), "reload": RELOAD_S}


@router.post("/models/retrain")
def retrain(request: Request, state: StateDep, who: ScientistPage,
            csrf: Annotated[str, Form(max_length=100)] = "",
            promote: Annotated[bool, Form()] = False) -> Response:
    """Queue a retraining job (``promote``: promote the new version when it beats the active one)."""
    check_csrf(request, csrf)
    try:
        with state.pool.connection() as conn:
            job = model_service.retrain(conn, who, RetrainIn(promote=promote))
    except EXPECTED as exc:
        return error_page(request, PageError.of(exc), who)
    return RedirectResponse(f"/web/models?job={job.id}", status_code=303)
