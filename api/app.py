"""The FastAPI application: :func:`create_app` and the lifespan that loads everything once.

Start-up (the lifespan), in order: the database (the configured URL, or the embedded server, started
here and stopped at shutdown if this process started it; migrated), a psycopg connection pool, the
encoder, then :func:`api.loader.load_matcher` (the market's context, the active model bundle or the
content + rules score without one, the exposure counts of the impression log), as ``capconnect match``
loads it. A daemon thread then polls the registry's active version every ``model_poll_seconds`` and swaps
the model when it changes (:mod:`api.state`): that is how a version promoted elsewhere (``capconnect models
promote``, a retraining job run by ``capconnect worker``) serves.
Training never runs here: ``POST /v1/models/retrain`` only queues a job.

Run it with ``capconnect serve`` (README), or ``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime

import psycopg_pool
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse

from api import errors, web
from api.alerting import AlertEngine
from api.encoders import serving_pool
from api.exposure import ExposureSync
from api.gate import AuthGate
from api.hygiene import TextHygieneMiddleware
from api.impressions import ImpressionWriter
from api.loader import load_market, load_matcher
from api.metrics import Metrics
from api.middleware import RequestContextMiddleware
from api.ratelimit import RateLimiter
from api.routes import events, exports, matching, models, ops, readiness, reports, resources, similar, syndicates
from api.routes import alerts as alert_routes
from api.security import SecurityHeadersMiddleware, cors_options
from api.state import AppState, ModelPoller, QueryCache
from matching.config import Settings, get_settings
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder, load_serving_encoder
from matching.serving.context import MatchContext
from matching.serving.exposure import ShownCounts
from store.database import open_database
from store.ratelimits import PostgresStorage

logger = logging.getLogger(__name__)

DESCRIPTION = """科创资本通 (Sci-Tech Capital Connect) matching service of Chongqing's regional equity market.

Authenticate with an API key (`capconnect keys create --role … [--for ID]`): `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Every error has one shape: `{"error": {"code", "message", "fields", "request_id"}}`.
"""


#: The routers the app mounts, in order (add a resource's router here).
ROUTERS = (ops.router, matching.router, events.router, models.router, exports.router, readiness.router,
           similar.router, syndicates.router)


def body_limits(settings: Settings) -> list[tuple[str, int]]:
    """Per-path-prefix body limits above the default ``max_body_bytes``: bulk uploads may be larger."""
    return [("/v1/imports", settings.max_upload_bytes), *((p, settings.max_upload_bytes) for p in web.UPLOAD_PATHS)]


def create_app(settings: Settings | None = None, *, encoder: TextEncoder | None = None,
               show_progress: bool = False) -> FastAPI:
    """Build the app (nothing heavy happens until the lifespan starts).

    Args:
        settings: the settings (default: the process settings from the environment).
        encoder: an already loaded encoder, e.g. a small test double (default: the configured one).
        show_progress: progress bars while embedding at start-up (``capconnect serve`` shows them).
    """
    settings = settings or get_settings()
    metrics = Metrics(settings.metrics_multiproc_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            state = _start(settings, stack, metrics, encoder, show_progress)
            app.state.capconnect = state
            try:
                yield
            finally:
                app.state.capconnect = None
                metrics.process_exited()
                logger.info("shutting down")

    app = FastAPI(title="科创资本通 matching API", version="1.0", description=DESCRIPTION, lifespan=lifespan)
    errors.install(app)
    app.add_middleware(TextHygieneMiddleware)  # innermost: after the key is checked, before any route reads text
    app.add_middleware(AuthGate)  # a request's key is checked before anything reads its body
    app.add_middleware(RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes,
                       limits=body_limits(settings))
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(CORSMiddleware, **cors_options(settings.cors_origins))
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(resources.router)
    app.include_router(reports.router)
    app.include_router(alert_routes.router)
    web.install(app)  # the web console: /web pages and /web/static

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        """The service's address leads to the console (which signs in first and links to ``/docs``)."""
        return RedirectResponse("/web", status_code=307)

    return app


def _start(settings: Settings, stack: ExitStack, metrics: Metrics, encoder: TextEncoder | None,
           show_progress: bool) -> AppState:
    """Load everything; every resource opened is closed by ``stack`` (in reverse order)."""
    t0 = time.perf_counter()
    db = stack.enter_context(open_database(settings))
    pool = psycopg_pool.ConnectionPool(db.url, min_size=settings.db_pool_min_size,
                                       max_size=max(settings.db_pool_max_size, settings.db_pool_min_size),
                                       timeout=settings.db_timeout_seconds, kwargs={"autocommit": True},
                                       name="capconnect", open=True)
    stack.callback(pool.close)
    pool.wait(timeout=30)
    encoder = serving_pool(settings, encoder, load_serving_encoder)  # sessions: search never waits on one lock
    with pool.connection() as conn:  # the one loading path, shared with `capconnect match` (api.loader)
        loaded = load_matcher(settings, conn, encoder.patient(), query_encoder=encoder, query_cache=QueryCache(),
                              show_progress=show_progress)
    matcher, status, market = loaded.matcher, loaded.model, loaded.market
    state = AppState(settings=settings, pool=pool, database_url=db.url, encoder=encoder, matcher=matcher,
                     limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst, PostgresStorage(pool)),
                     metrics=metrics, model=status, exposure=ShownCounts(market.shown))
    metrics.serving(status.version)
    state.market_fingerprint, state.market_loaded_at = market.fingerprint, datetime.now(UTC)
    if settings.impression_flush_ms > 0:
        state.impressions = ImpressionWriter(pool, flush_ms=settings.impression_flush_ms, metrics=metrics)
        stack.callback(state.impressions.stop)  # before the pool closes: queued lists are written
    state.rebuild = _rebuild_work(state)
    sync = ExposureSync(pool, state.exposure, lambda: state.matcher.snap, settings.exposure_refresh_seconds).start()
    stack.callback(sync.stop)  # what every process serves, counted in the database, read back here
    poller = ModelPoller(state, settings.model_poll_seconds, settings.market_refresh_seconds).start()
    stack.callback(poller.stop)
    if settings.alert_engine:  # one process at a time generates alerts and posts webhooks (api/alerting.py)
        stack.callback(AlertEngine(state).start().stop)
    logger.info("ready in %.1f s: %d enterprises, %d investors, model %s, encoder %s", time.perf_counter() - t0,
                matcher.snap.n_enterprises, matcher.snap.n_investors, status.version, encoder.encoder_id)
    return state


def _rebuild_work(state: AppState) -> Callable[[], tuple[MatchContext, dict[int, int]]]:
    """Read the market as it is now in the database into a new context (the market poller calls it); profiles
    are embedded through the on-disk cache, so only new or changed texts are encoded."""

    def rebuild() -> tuple[MatchContext, dict[int, int]]:
        cache = EmbeddingCache(state.settings.embedding_cache_dir)
        with state.pool.connection() as conn:
            market = load_market(state.settings, conn, state.encoder.patient(), cache=cache)
        return market.context, market.shown

    return rebuild
