"""What training reads: the market snapshot, its embeddings and the impression log, loaded once.

:func:`load_inputs` reads PostgreSQL (``capconnect train``); :func:`inputs_from_market` takes in-memory
records (notebooks, the synthetic benchmark); both embed through the on-disk cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg

from matching.config import Settings
from matching.errors import MatchingError
from matching.learning.impressions import Impression
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder, ensure_default_encoder, load_encoder
from matching.retrieval.vectors import embed_market
from matching.snapshot.asof import set_version_vectors
from matching.snapshot.core import MarketSnapshot
from store.impressions import read_impressions
from store.market_read import read_market
from training.cluster import IN_PROCESS, Batch

logger = logging.getLogger(__name__)
Progress = Callable[[str], None]


@dataclass
class Inputs:
    """What training reads, loaded once."""

    snap: MarketSnapshot
    ent_vecs: np.ndarray
    man_vecs: np.ndarray
    encoder: TextEncoder
    impressions: list[Impression] = field(default_factory=list)
    #: embeddings of earlier mandate versions by (investor row, version), attached to ``snap`` too
    #: (a Dask cluster ships them with the snapshot: they live beside it, not in it)
    versions: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


class TrainingError(MatchingError):
    """The data cannot train a model (too little history, an empty window)."""


def say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)
    else:
        logger.info(message)


def load_inputs(settings: Settings, conn: psycopg.Connection, *, encoder: TextEncoder | None = None,
                show_progress: bool = False, progress: Progress | None = None, batch: Batch = IN_PROCESS) -> Inputs:
    """Read the market and the impression log; embed every profile and mandate (cached; the texts the
    cache lacks are encoded where ``batch`` runs: here, or on a Dask cluster)."""
    say(progress, "reading the market from PostgreSQL")
    stored = read_market(conn)
    snap = stored.snapshot()
    impressions = read_impressions(conn)
    if encoder is None:
        say(progress, "loading the encoder")
        encoder = load_encoder(ensure_default_encoder(settings))
    say(progress, f"embedding {snap.n_enterprises:,} profiles and {snap.n_investors:,} mandates (cached)")
    return embed_inputs(settings, snap, encoder, show_progress=show_progress, impressions=impressions, batch=batch)


def embed_inputs(settings: Settings, snap: MarketSnapshot, encoder: TextEncoder, *, show_progress: bool = False,
                 impressions: list[Impression] | None = None, batch: Batch = IN_PROCESS) -> Inputs:
    """:class:`Inputs` of a snapshot: profiles and mandates embedded through the on-disk cache, the
    missing texts encoded where ``batch`` runs (``batch.encoder``: same id, same cache keys)."""
    # earlier mandate versions too: training periods read the one valid then
    local = batch is IN_PROCESS
    vectors = embed_market(snap, batch.encoder(encoder), cache=EmbeddingCache(settings.embedding_cache_dir),
                           batch_size=settings.encoder_batch_size,
                           show_progress=show_progress and local,  # a bar cuts the texts into serial pieces
                           versions=True)
    if vectors.versions:
        set_version_vectors(snap, vectors.versions)
    return Inputs(snap, vectors.ent, vectors.man, encoder, impressions or [], dict(vectors.versions))


def inputs_from_market(settings: Settings, market: Any, *, encoder: TextEncoder | None = None,
                       show_progress: bool = False) -> Inputs:
    """:class:`Inputs` from in-memory records (a generated ``Market``): no database (notebooks)."""
    from matching.snapshot.core import build_snapshot

    snap = build_snapshot(market.enterprises, market.investors, market.mandates, market.needs, market.secondaries,
                          market.events)
    encoder = encoder or load_encoder(ensure_default_encoder(settings))
    return embed_inputs(settings, snap, encoder, show_progress=show_progress)
