"""What the service loads once and shares between requests: :class:`AppState`.

The matcher is the one piece that changes while serving, and it never changes in place: a model swap
makes a *new* matcher over the same :class:`~matching.serving.context.MatchContext` (snapshot, vectors,
indexes, collaborative model) with another scorer, a market reload a new matcher over a new context with
the same scorer; either replaces the reference in one assignment. A request reads ``state.matcher`` once
and keeps that object to the end, so a list is always scored by one model over one market; no request
waits and none is dropped. A bundle that fails verification is refused and logged; the current model
keeps serving. The exposure counts (shows per enterprise this period) are the service's, not the
matcher's: :attr:`AppState.exposure` is passed into every deal list and counts what was served; every
process reads what all of them served from the database (:mod:`api.exposure`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg_pool

from api.encoders import EncoderPool
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from matching.config import Settings
from matching.errors import ArtifactError
from matching.ranking.bundle import ModelBundle
from matching.retrieval.embeddings import EmbeddingCache
from matching.serving.context import MatchContext
from matching.serving.exposure import ShownCounts
from matching.serving.matcher import Matcher
from matching.serving.results import CONTENT_RULES
from store import artifacts, registry
from store.registry import ModelVersion

logger = logging.getLogger(__name__)


class QueryCache(EmbeddingCache):
    """In-memory cache of free-text query embeddings, emptied when it holds ``max_items``.

    The matcher's on-disk cache would append a file per distinct search text; queries are cheap to
    re-encode, so the service keeps them in memory and bounded instead. Requests share it from several
    threads (no lock around the encoder any more), so each lookup and store holds a lock of its own:
    a few microseconds, never the encoding.
    """

    def __init__(self, max_items: int = 20_000) -> None:
        super().__init__(None)
        self.max_items = max_items
        self._lock = threading.Lock()

    def lookup(self, encoder_id: str, kind: Any, keys: Any) -> Any:  # noqa: D102
        with self._lock:
            return super().lookup(encoder_id, kind, keys)

    def store(self, encoder_id: str, kind: Any, keys: Any, vectors: Any) -> None:  # noqa: D102
        with self._lock:
            if self.size(encoder_id, kind) >= self.max_items:
                self.clear()  # cheaper than LRU bookkeeping; a miss costs one encoder call
            super().store(encoder_id, kind, keys, vectors)


@dataclass
class ModelStatus:
    """What the service knows about its model (for ``/readyz`` and ``/v1/models``)."""

    version: str = CONTENT_RULES
    loaded_at: datetime | None = None
    error: str | None = None  # the last refused bundle's reason
    refused_version: str | None = None


@dataclass
class AppState:
    """Everything loaded once in the lifespan.

    Attributes:
        settings: the settings the app was created with.
        pool: the psycopg connection pool.
        database_url: libpq URL of the database (for long jobs that need their own connection).
        encoder: the worker's encoder sessions (search and secondaries encode on a free one).
        matcher: the current matcher (replaced as a whole on a model swap; read it once per request).
        limiter: the per-key rate limiter (counted in the database, shared by every worker).
        metrics: the Prometheus metrics.
        model: the serving model's status.
        exposure: shows per enterprise id this period (every process's, read from the database every
            ``exposure_refresh_seconds`` by :class:`api.exposure.ExposureSync`; counted per list in between).
        started_at: when the state was built.
        rebuild: reads the market as it is now into a new context and the log's exposure counts (set by
            the lifespan; the market poller calls it through :meth:`check_market`).
    """

    settings: Settings
    pool: psycopg_pool.ConnectionPool
    database_url: str
    encoder: EncoderPool
    matcher: Matcher
    limiter: RateLimiter
    metrics: Metrics
    model: ModelStatus = field(default_factory=ModelStatus)
    exposure: ShownCounts = field(default_factory=ShownCounts)
    started_at: float = field(default_factory=time.time)
    rebuild: Callable[[], tuple[MatchContext, dict[int, int]]] | None = None
    impressions: Any = None  # api.impressions.ImpressionWriter (None: lists are written in the request)
    market_fingerprint: str = ""
    market_loaded_at: datetime | None = None
    _swap_lock: threading.Lock = field(default_factory=threading.Lock)
    # one market reload at a time: the poller and the alert engine both call check_market, and a slower
    # rebuild of an older market finishing last would otherwise replace a newer one
    _reload_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- models ------------------------------------------------------------------------------------
    def load_bundle(self, mv: ModelVersion) -> ModelBundle:
        """Load and verify a registered version against the serving encoder.

        Raises:
            ArtifactError: the folder is missing, altered, or built for other features or encoder.
        """
        with self.pool.connection() as conn:  # trained on another machine: its files from the database
            folder = artifacts.local_folder(conn, mv.version, mv.path, self.settings.models_dir)
        return ModelBundle.load(folder, encoder_id=self.encoder.encoder_id,
                                compiled=self.settings.compiled_cache)

    def swap(self, bundle: ModelBundle | None) -> Matcher:
        """Serve ``bundle`` (``None``: the content + rules score) from the next request on."""
        with self._swap_lock:
            if bundle is not None and bundle.version == self.matcher.model_version:
                return self.matcher  # the poller and a promotion may race to the same version
            old = self.matcher.model_version
            new = self.matcher.with_scorer(bundle.scorer if bundle is not None else None,  # the same context
                                           bundle.version if bundle is not None else CONTENT_RULES)
            self.matcher = new  # one reference assignment: atomic for readers
            self.model = ModelStatus(new.model_version, datetime.now(UTC))
        self.metrics.serving(new.model_version)
        self.metrics.model_swaps.labels(outcome="swapped").inc()
        logger.info("model swapped: %s -> %s", old, new.model_version)
        return new

    def serve_version(self, mv: ModelVersion | None) -> bool:
        """Swap to a registered version (``None``: content + rules) unless it already serves.

        Returns whether the model changed. A bundle that does not verify is refused (logged, kept
        in :attr:`model`), and the current model keeps serving.
        """
        target = mv.version if mv is not None else CONTENT_RULES
        if target == self.matcher.model_version:
            return False
        if mv is None:
            self.swap(None)
            return True
        try:
            bundle = self.load_bundle(mv)
        except ArtifactError as exc:
            self.refuse(mv.version, str(exc))
            return False
        self.swap(bundle)
        return True

    def refuse(self, version: str, reason: str) -> None:
        """Record (once per version) that a bundle was refused."""
        if self.model.refused_version != version:
            logger.error("model %s refused, %s keeps serving: %s", version, self.matcher.model_version, reason)
            self.metrics.model_swaps.labels(outcome="refused").inc()
        self.model.refused_version, self.model.error = version, reason

    def check_active_model(self) -> bool:
        """Read the registry's active version and serve it if it changed (the poller calls this)."""
        with self.pool.connection() as conn:
            mv = registry.active_version(conn)
        if mv is not None and mv.version == self.model.refused_version:
            return False  # refused already; a fixed artifact needs a new version (or a restart)
        return self.serve_version(mv)

    # -- the market ------------------------------------------------------------------------------------
    def check_market(self) -> bool:
        """Rebuild the matcher over a fresh snapshot when the market changed in the database
        (records created, updated or imported through the API or the command line; new events).

        The new matcher keeps the serving model; profiles are embedded through the on-disk cache,
        so only new or changed texts are encoded; the exposure counts start again from the impression
        log. Returns whether it was rebuilt.
        """
        from store.market_read import market_fingerprint

        with self._reload_lock:  # the fingerprint is read inside: a caller that waited sees the reload done
            with self.pool.connection() as conn:
                fingerprint = market_fingerprint(conn)
            if fingerprint == self.market_fingerprint or self.rebuild is None:
                return False
            t0 = time.perf_counter()
            context, shown = self.rebuild()
            with self._swap_lock:
                fresh = self.matcher.with_context(context)  # the serving model, over the new market
                self.matcher = fresh  # one reference assignment, as for a model swap
                self.exposure.reset(shown)
                self.market_fingerprint, self.market_loaded_at = fingerprint, datetime.now(UTC)
        logger.info("market reloaded in %.1f s: %d enterprises, %d investors", time.perf_counter() - t0,
                    fresh.snap.n_enterprises, fresh.snap.n_investors)
        return True


class ModelPoller:
    """A daemon thread calling :meth:`AppState.check_active_model` every ``interval`` seconds, and
    :meth:`AppState.check_market` every ``market_interval`` seconds (``0``: never)."""

    def __init__(self, state: AppState, interval: float, market_interval: float = 0.0) -> None:
        self.state, self.interval, self.market_interval = state, interval, market_interval
        self._next_market = time.monotonic() + market_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)

    def start(self) -> ModelPoller:
        """Start polling."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and wait for the thread (at most one poll)."""
        self._stop.set()
        self._thread.join(timeout=self.interval + 10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.state.check_active_model()
            except Exception as exc:  # a poll must never kill the thread (database down, …)
                logger.warning("model poll failed: %s: %s", type(exc).__name__, exc)
            if self.market_interval > 0 and time.monotonic() >= self._next_market:
                self._next_market = time.monotonic() + self.market_interval
                try:
                    self.state.check_market()
                except Exception as exc:
                    logger.warning("market reload failed, the current snapshot keeps serving: %s: %s",
                                   type(exc).__name__, exc)
