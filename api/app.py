"""The FastAPI application: :func:`create_app` and the lifespan that loads everything once.

Start-up (the lifespan), in order: the database (the configured URL, or the embedded server, started
here and stopped at shutdown if this process started it; migrated), a psycopg connection pool, the
encoder, the market snapshot, the active model bundle (or the content + rules score without one), and
the :class:`~matching.serving.matcher.Matcher` built once over them. A daemon thread then polls the registry's
active version every ``model_poll_seconds`` and swaps the model when it changes (:mod:`api.state`).

Run it with ``capconnect serve`` (README), or ``uvicorn --factory api.app:create_app``.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import ExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import psycopg_pool
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import errors, web
from api.encoders import EncoderPool, serving_pool
from api.gate import AuthGate
from api.hygiene import TextHygieneMiddleware
from api.impressions import ImpressionWriter
from api.jobs import Job, JobRunner
from api.metrics import Metrics
from api.middleware import RequestContextMiddleware
from api.ratelimit import RateLimiter
from api.routes import events, matching, models, ops, reports, resources
from api.security import SecurityHeadersMiddleware, cors_options
from api.state import CONTENT_RULES, AppState, ModelPoller, ModelStatus, QueryCache
from matching.config import Settings, get_settings
from matching.errors import ArtifactError, MatchingError
from matching.learning.bundle import ModelBundle
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder, load_serving_encoder
from matching.rules.constraints import S_FUND
from matching.serving.matcher import Matcher
from matching.snapshot.core import MarketSnapshot, slim_for_serving
from store import registry
from store.database import open_database
from store.lists import exposure_counts
from store.market_read import market_fingerprint, read_market
from store.ratelimits import PostgresStorage

logger = logging.getLogger(__name__)

DESCRIPTION = """科创资本通 (Sci-Tech Capital Connect) matching service of Chongqing's regional equity market.

Authenticate with an API key (`capconnect keys create --role … [--for ID]`): `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Every error has one shape: `{"error": {"code", "message", "fields", "request_id"}}`.
"""


#: The routers the app mounts, in order (add a resource's router here).
ROUTERS = (ops.router, matching.router, events.router, models.router)


def body_limits(settings: Settings) -> list[tuple[str, int]]:
    """Per-path-prefix body limits above the default ``max_body_bytes``: bulk uploads may be larger."""
    return [("/v1/imports", settings.max_upload_bytes), *((p, settings.max_upload_bytes) for p in web.UPLOAD_PATHS)]


class EmptyMarketError(MatchingError):
    """The database holds no enterprises: there is nothing to serve."""


def create_app(settings: Settings | None = None, *, encoder: TextEncoder | None = None,
               show_progress: bool = False) -> FastAPI:
    """Build the app (nothing heavy happens until the lifespan starts).

    Args:
        settings: the settings (default: the process settings from the environment).
        encoder: an already loaded encoder, e.g. a small test double (default: the configured one).
        show_progress: progress bars while embedding at start-up (``capconnect serve`` shows them).
    """
    settings = settings or get_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with ExitStack() as stack:
            state = _start(settings, stack, metrics, encoder, show_progress)
            app.state.capconnect = state
            try:
                yield
            finally:
                app.state.capconnect = None
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
    web.install(app)  # the web console: /web pages and /web/static
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
    with pool.connection() as conn:
        fingerprint = market_fingerprint(conn)
        stored = read_market(conn)
        active = registry.active_version(conn)
        shown = exposure_counts(conn, datetime.now(UTC))
    if not stored.enterprises:
        raise EmptyMarketError("the database holds no enterprises: run `capconnect serve --demo`, or import a market "
                               "(`capconnect import enterprises FILE`) first")
    snapshot = stored.snapshot()
    del stored  # the snapshot holds what serving needs; the records go once the matcher is built
    bundle, status = _active_bundle(active, encoder)
    logger.info("building the matcher over %d enterprises and %d investors (model %s)",
                snapshot.n_enterprises, snapshot.n_investors, status.version)
    cache = EmbeddingCache(settings.embedding_cache_dir)
    matcher = _matcher(snapshot, encoder, settings, cache, bundle.scorer if bundle else None, status.version,
                       shown, show_progress)
    state = AppState(settings=settings, pool=pool, database_url=db.url, encoder=encoder, matcher=matcher,
                     limiter=RateLimiter(settings.api_rate_per_second, settings.api_rate_burst, PostgresStorage(pool)),
                     metrics=metrics, model=status)
    metrics.serving(status.version)
    state.market_fingerprint, state.market_loaded_at = fingerprint, datetime.now(UTC)
    if settings.impression_flush_ms > 0:
        state.impressions = ImpressionWriter(pool, flush_ms=settings.impression_flush_ms, metrics=metrics)
        stack.callback(state.impressions.stop)  # before the pool closes: queued lists are written
    state.rebuild = _rebuild_work(state, cache)
    state.jobs = JobRunner(pool, db.url, _retrain_work(state))
    stack.callback(state.jobs.stop)
    poller = ModelPoller(state, settings.model_poll_seconds, settings.market_refresh_seconds).start()
    stack.callback(poller.stop)
    logger.info("ready in %.1f s: %d enterprises, %d investors, model %s, encoder %s", time.perf_counter() - t0,
                snapshot.n_enterprises, snapshot.n_investors, status.version, encoder.encoder_id)
    return state


def _active_bundle(active: registry.ModelVersion | None, encoder: TextEncoder
                   ) -> tuple[ModelBundle | None, ModelStatus]:
    """The active version's bundle, or ``None`` (content + rules) when there is none or it does not verify."""
    if active is None:
        return None, ModelStatus(CONTENT_RULES, datetime.now(UTC))
    try:
        bundle = ModelBundle.load(Path(active.path), encoder_id=encoder.encoder_id)
    except ArtifactError as exc:
        logger.error("active model %s refused, serving %s: %s", active.version, CONTENT_RULES, exc)
        return None, ModelStatus(CONTENT_RULES, datetime.now(UTC), str(exc), active.version)
    return bundle, ModelStatus(bundle.version, datetime.now(UTC))


def _matcher(snapshot: MarketSnapshot, encoder: EncoderPool, settings: Settings, cache: EmbeddingCache,
             scorer: Any, version: str, shown: dict[int, int], show_progress: bool = False) -> Matcher:
    """A ready matcher: built over the snapshot, secondaries embedded, query cache in memory, exposure set.

    Building waits for encoder sessions as long as it takes; the matcher then serves requests with the
    bounded wait (a busy encoder is a 503, :mod:`api.encoders`).
    """
    matcher = Matcher.build(snapshot, encoder.patient(), settings=settings, cache=cache, scorer=scorer,
                            model_version=version, show_progress=show_progress)
    _warm_secondaries(matcher)
    slim_for_serving(snapshot)  # the records and texts are not needed once embedded (memory per worker)
    cache.release()  # the on-disk cache's tables (every cached vector) are not kept in memory
    release_memory()
    matcher.encoder = encoder
    matcher.cache = QueryCache()  # free-text queries: in memory, bounded (not a file per query)
    matcher.set_exposure(shown)
    return matcher


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise): reading the market
    builds every record before the snapshot keeps only columns, and that peak should not stay resident."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def _rebuild_work(state: AppState, cache: EmbeddingCache) -> Callable[[], Matcher]:
    """Build a matcher over the market as it is now in the database (the market poller calls it)."""

    def rebuild() -> Matcher:
        with state.pool.connection() as conn:
            stored = read_market(conn)
            shown = exposure_counts(conn, datetime.now(UTC))
        current = state.matcher
        return _matcher(stored.snapshot(), state.encoder, state.settings, cache, current.scorer,
                        current.model_version, shown)

    return rebuild


def _warm_secondaries(matcher: Matcher) -> None:
    """Embed the secondary listings now (through the on-disk cache), not in the first S fund's request."""
    s_funds = np.flatnonzero(matcher.snap.inv_type == S_FUND)
    if len(s_funds) and len(matcher.snap.sec_id):
        matcher.recommend_secondaries(int(matcher.snap.inv_id[s_funds[0]]), 1)


def _retrain_work(state: AppState) -> Callable[[Job], None]:
    """The retraining job: train on a connection of its own, register, optionally promote and swap."""

    def work(job: Job) -> None:
        from training.pipeline import train  # heavy (LightGBM, reports): only when a job runs
        from training.registry import PromotionRefused, promote

        p: dict[str, Any] = job.params
        with psycopg.connect(state.database_url, autocommit=True) as conn:
            result = train(state.settings, conn, seed=p.get("seed", 0), version=p.get("version"),
                           encoder=state.encoder.patient(), show_progress=False, register=True, progress=job.say)
            job.version, job.metrics = result.version, result.metrics
            if p.get("promote"):
                try:
                    mv = promote(conn, state.settings, result.version, encoder_id=state.encoder.encoder_id)
                except PromotionRefused as exc:
                    job.say(f"not promoted: {exc}")
                    return
                job.promoted = state.serve_version(mv)

    return work
