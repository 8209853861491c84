"""Operations: liveness, readiness and Prometheus metrics.

* ``/healthz`` and ``/readyz`` need no key (probes call them). ``/readyz`` says ``ok`` or ``down`` per
  component and never an exception's text (it would name the database host and user); the reason is
  logged. A staff key also gets ``details``: sizes, latency, the refused model's error.
* ``/metrics`` needs a key of a staff role (give the scraper an operator key), unless the
  ``metrics_public`` setting opens it (a scraper on a private network).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from api.deps import STAFF, BearerDep, HeaderKeyDep, OptionalPrincipalDep, StateDep, get_principal, require_roles
from api.schemas.common import error_responses
from api.state import AppState
from store import database

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])

#: The components ``/readyz`` reports, each ``ok`` or ``down``.
COMPONENTS = ("database", "model", "index", "snapshot", "encoder")


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: ok or down per component (database, model, index, snapshot, encoder)",
            responses={503: {"description": "Not ready (the body says which component is down)"}})
def readyz(request: Request, state: StateDep, who: OptionalPrincipalDep) -> JSONResponse:
    """200 when every component is ok; 503 (same body) otherwise. Staff keys also get ``details``."""
    m = state.matcher
    c = m.context
    latency = _database_latency_ms(state)
    components = {
        "database": latency is not None,
        "model": bool(m.model_version),
        "index": len(c.index) > 0,
        "snapshot": m.snap.n_enterprises > 0,
        "encoder": int(state.encoder.dimension) == int(c.ent_vecs.shape[1]),
    }
    ready = all(components.values())
    body: dict[str, Any] = {
        "status": "ready" if ready else "not_ready",
        "components": {name: "ok" if components[name] else "down" for name in COMPONENTS},
        "model": {"version": m.model_version, "loaded_at": state.model.loaded_at,
                  "refused_version": state.model.refused_version},
        "uptime_s": round(time.time() - state.started_at, 1),
        "worker_pid": os.getpid(),  # several workers (uvicorn --workers) answer in turn
        "request_id": getattr(request.state, "request_id", None),
    }
    if who is not None and who.is_staff:
        snap = m.snap
        body["model"]["error"] = state.model.error  # the refused artifact's reason (paths, checksums): staff only
        body["details"] = {
            "database": {"latency_ms": latency},
            "index": {"size": len(c.index), "dimension": int(c.ent_vecs.shape[1]),
                      "investor_index_size": len(c.inv_index)},
            "snapshot": {"as_of": c.as_of, "enterprises": snap.n_enterprises, "investors": snap.n_investors,
                         "needs": len(snap.need_id), "secondaries": len(snap.sec_id), "events": len(snap.ev_time)},
            "encoder": {"id": state.encoder.encoder_id, "dimension": int(state.encoder.dimension)},
        }
    return JSONResponse(_jsonable(body), status_code=200 if ready else 503)


def _database_latency_ms(state: AppState) -> float | None:
    """The round trip of ``SELECT 1`` in ms, or ``None`` when the database does not answer (the reason is
    logged, never answered: it names the host and the user)."""
    t0 = time.perf_counter()
    try:
        with state.pool.connection(timeout=min(2.0, state.settings.db_timeout_seconds)) as conn:
            database.ping(conn)
    except Exception as exc:  # any failure means "down"
        logger.warning("readiness: the database is down: %s: %s", type(exc).__name__, exc)
        return None
    return round((time.perf_counter() - t0) * 1000, 2)


def metrics_reader(request: Request, state: StateDep, bearer: BearerDep, header_key: HeaderKeyDep) -> None:
    """Admit a staff key (401 without a key, 403 for other roles), or anyone when ``metrics_public`` is set."""
    if getattr(state.settings, "metrics_public", False):
        return
    require_roles(*STAFF)(get_principal(request, state, bearer, header_key))


@router.get("/metrics", summary="Prometheus metrics (staff keys, or anyone with metrics_public)",
            dependencies=[Depends(metrics_reader)], responses=error_responses(401, 403, 429))
def metrics(state: StateDep) -> Response:
    """Request counts and latency by route template and status, lists served, events ingested, model swaps,
    the impression log's backlog and dead letters."""
    return Response(state.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
