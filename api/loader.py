"""The one way a matcher is loaded from the database: :func:`load_matcher`, for the service and the terminal.

``capconnect serve`` (the lifespan, :mod:`api.app`) and ``capconnect match`` both call it, so the terminal
ranks exactly as a freshly started service does: the same market read, the same embeddings (through the
on-disk cache), the same active model from the registry (or the content + rules score when there is none
or it does not verify) and the same exposure counts from the impression log.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from api.state import ModelStatus
from matching.config import Settings
from matching.errors import ArtifactError, MatchingError
from matching.ranking.bundle import ModelBundle
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder
from matching.retrieval.index import IndexConfig
from matching.serving.context import MatchContext, market_context
from matching.serving.mapped import context_for, context_key, prune
from matching.serving.matcher import Matcher, Policy
from matching.serving.results import CONTENT_RULES
from store import registry
from store.artifacts import local_folder
from store.lists import exposure_counts
from store.market_read import market_fingerprint, read_market

logger = logging.getLogger(__name__)
#: The mapped serving contexts' folder, inside the embedding cache's folder (as its ``indexes``).
SERVING_DIR = "serving"


class EmptyMarketError(MatchingError):
    """The database holds no enterprises: there is nothing to serve."""


@dataclass(frozen=True)
class LoadedMarket:
    """The market as read from the database, ready to match.

    Attributes:
        context: the market and everything derived from it.
        fingerprint: the market's fingerprint when it was read (a later change triggers a reload).
        shown: shows per enterprise id in the current period (the impression log's counts).
    """

    context: MatchContext
    fingerprint: str
    shown: dict[int, int]


@dataclass(frozen=True)
class LoadedMatcher:
    """:func:`load_matcher`'s result: the matcher, its model's status, and the market it was loaded from."""

    matcher: Matcher
    model: ModelStatus
    market: LoadedMarket


def serving_key(settings: Settings, conn: psycopg.Connection, fingerprint: str, encoder_id: str) -> str:
    """The key of the mapped serving context of a market (:func:`~matching.serving.mapped.context_key`):
    the database and its market's fingerprint, the encoder and the index settings."""
    index = {k: v for k, v in vars(IndexConfig(exact_threshold=settings.exact_search_threshold)).items()
             if k != "threads"}
    where = f"{conn.info.host}:{conn.info.port}/{conn.info.dbname}|{fingerprint}"  # one database's market
    return context_key(where, encoder_id, {"index": index, "collaborative": True, "slim": True})


def load_market(settings: Settings, conn: psycopg.Connection, encoder: TextEncoder, *,
                cache: EmbeddingCache | None = None, show_progress: bool = False) -> LoadedMarket:
    """The market's context (serving's slim snapshot), mapped from the files the first worker wrote.

    With an on-disk ``cache``, the context lives as files beside it (``<cache>/serving/<key>``, keyed by the
    market's fingerprint, :mod:`matching.serving.mapped`): the first worker (or a reload) reads the market,
    embeds it (through ``cache``), builds the context and writes it; every worker then maps the same files
    read-only, so N workers hold one copy of the market. Without a cache folder the context is built in memory.

    Raises:
        EmptyMarketError: the database holds no enterprises.
    """
    fingerprint = market_fingerprint(conn)
    shown = exposure_counts(conn, datetime.now(UTC))

    def build() -> MatchContext:
        stored = read_market(conn)
        if not stored.enterprises:
            raise EmptyMarketError("the database holds no enterprises: run `capconnect serve --demo`, or import a "
                                   "market (`capconnect import enterprises FILE`) first")
        snapshot = stored.snapshot()
        del stored  # the snapshot holds what serving needs; the records go once it is embedded
        logger.info("building the matching context over %d enterprises and %d investors", snapshot.n_enterprises,
                    snapshot.n_investors)
        context = market_context(snapshot, encoder, settings=settings, cache=cache, show_progress=show_progress,
                                 slim=True)  # the records and texts are not needed once embedded (memory per worker)
        del snapshot
        if cache is not None:
            cache.release()  # the on-disk cache's tables (every cached vector) are not kept in memory
        return context

    if cache is None or cache.folder is None:
        context = build()
    else:
        folder = cache.folder / SERVING_DIR
        key = serving_key(settings, conn, fingerprint, encoder.encoder_id)
        t0 = time.perf_counter()
        context, built = context_for(folder, key, build)
        logger.info("serving context %s %s in %.1f s", key, "built and mapped" if built else "mapped",
                    time.perf_counter() - t0)
        prune(folder, {key})
    release_memory()
    return LoadedMarket(context, fingerprint, shown)


def active_bundle(active: registry.ModelVersion | None, encoder_id: str, *, compiled: Path | None = None
                  ) -> tuple[ModelBundle | None, ModelStatus]:
    """The active version's bundle, or ``None`` (content + rules) when there is none or it does not verify
    (``compiled``: :meth:`ModelBundle.load`'s cache of compiled trees)."""
    if active is None:
        return None, ModelStatus(CONTENT_RULES, datetime.now(UTC))
    try:
        bundle = ModelBundle.load(Path(active.path), encoder_id=encoder_id, compiled=compiled)
    except ArtifactError as exc:
        logger.error("active model %s refused, serving %s: %s", active.version, CONTENT_RULES, exc)
        return None, ModelStatus(CONTENT_RULES, datetime.now(UTC), str(exc), active.version)
    return bundle, ModelStatus(bundle.version, datetime.now(UTC))


def load_matcher(settings: Settings, conn: psycopg.Connection, encoder: TextEncoder, *,
                 query_encoder: TextEncoder | None = None, query_cache: EmbeddingCache | None = None,
                 show_progress: bool = False) -> LoadedMatcher:
    """The matcher over the market in the database, scored by the registry's active model.

    Args:
        settings: the settings (embedding cache folder, tolerances, index thresholds).
        conn: a connection to the database.
        encoder: embeds the market (a service passes one that waits for a free session as long as it takes).
        query_encoder: embeds search texts (default: ``encoder``).
        query_cache: the search texts' cache (default: the on-disk embedding cache).
        show_progress: progress bars while embedding.

    Raises:
        EmptyMarketError: the database holds no enterprises.
    """
    cache = EmbeddingCache(settings.embedding_cache_dir)
    active = registry.active_version(conn)
    market = load_market(settings, conn, encoder, cache=cache, show_progress=show_progress)
    if active is not None:  # a version trained on another machine: its files from the database (store.artifacts)
        try:
            active = replace(active, path=str(local_folder(conn, active.version, active.path, settings.models_dir)))
        except ArtifactError as exc:
            logger.error("active model %s: %s", active.version, exc)  # its registered path is refused below
    bundle, status = active_bundle(active, encoder.encoder_id, compiled=settings.compiled_cache)
    matcher = Matcher(market.context, bundle.scorer if bundle is not None else None, Policy.from_settings(settings),
                      encoder=query_encoder if query_encoder is not None else encoder,
                      query_cache=query_cache if query_cache is not None else cache, model_version=status.version)
    return LoadedMatcher(matcher, status, market)


def release_memory() -> None:
    """Collect garbage and hand freed heap back to the OS (glibc keeps it otherwise): reading the market
    builds every record before the snapshot keeps only columns, and that peak should not stay resident."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass
