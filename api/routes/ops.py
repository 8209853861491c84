"""Operations: liveness, readiness and Prometheus metrics (no key needed: probes and scrapers call them)."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.deps import StateDep

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    """Always ``{"status": "ok"}`` while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database, model, index, snapshot, encoder",
            responses={503: {"description": "Not ready (the body says which part)"}})
def readyz(request: Request, state: StateDep) -> JSONResponse:
    """200 when the database answers and the matcher is loaded; 503 (same body) otherwise."""
    m = state.matcher
    database: dict[str, Any] = {"ok": True}
    t0 = time.perf_counter()
    try:
        with state.pool.connection(timeout=min(2.0, state.settings.db_timeout_seconds)) as conn:
            conn.execute("SELECT 1").fetchone()
        database["latency_ms"] = round((time.perf_counter() - t0) * 1000, 2)
    except Exception as exc:  # any failure means "not ready"; the body says which
        database = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    snap = m.snap
    body = {
        "status": "ready" if database["ok"] else "not_ready",
        "database": database,
        "model": {"version": m.model_version, "loaded_at": state.model.loaded_at,
                  "refused_version": state.model.refused_version, "error": state.model.error},
        "index": {"size": len(m.index), "dimension": int(m.ent_vecs.shape[1]), "investor_index_size": len(m.inv_index)},
        "snapshot": {"as_of": m.as_of, "enterprises": snap.n_enterprises, "investors": snap.n_investors,
                     "needs": len(snap.need_id), "secondaries": len(snap.sec_id), "events": len(snap.ev_time)},
        "encoder": {"id": state.encoder.encoder_id, "dimension": int(state.encoder.dimension)},
        "uptime_s": round(time.time() - state.started_at, 1),
        "worker_pid": os.getpid(),  # several workers (uvicorn --workers) answer in turn
        "request_id": getattr(request.state, "request_id", None),
    }
    return JSONResponse(_jsonable(body), status_code=200 if database["ok"] else 503)


@router.get("/metrics", summary="Prometheus metrics")
def metrics(state: StateDep) -> Response:
    """Request counts and latency by route template and status, lists served, events ingested, model swaps."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
