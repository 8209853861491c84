"""Everything derived from one market, built once: :class:`MatchContext` and :func:`build_context`.

A context is what a :class:`~matching.serving.matcher.Matcher` reads and never changes: the snapshot,
the embeddings of its profiles, mandates and secondary listings (all embedded up front, so no request
embeds anything but its own search text), the enterprise and investor indexes, the funnel history,
the collaborative model, the eligibility index and live needs, and the secondary listings' rows by id. A
market reload builds a new context; a model swap keeps the context and changes the scorer.

    vectors = embed_market(snap, encoder, cache=cache, secondaries=True)
    context = build_context(snap, vectors, index)            # or: market_context(snap, encoder, ...)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from matching.config import Settings
from matching.features.collaborative import CollaborativeModel
from matching.features.table import History, investor_vectors
from matching.retrieval.embeddings import EmbeddingCache
from matching.retrieval.encoder.encoder import TextEncoder
from matching.retrieval.index import IndexConfig, VectorIndex
from matching.retrieval.indexstore import build_or_load
from matching.retrieval.vectors import MarketVectors, embed_market
from matching.rules.eligibility import Eligibility
from matching.rules.liveneeds import LiveNeeds
from matching.serving.needless import EnterpriseRules, needless
from matching.snapshot.asof import financials_at
from matching.snapshot.core import EPOCH, MarketSnapshot, slim_for_serving


@dataclass(frozen=True, eq=False)
class MatchContext:
    """One market, ready to match. Build with :func:`build_context` (or :func:`market_context`).

    Attributes:
        snap: the market.
        ent_vecs: passage embeddings of the enterprises' profiles (row-aligned, float32).
        man_vecs: each investor's vector: its mandate's embedding, or its portfolio's centroid for an
            investor without text of its own (:func:`~matching.features.table.investor_vectors`).
        sec_vecs: passage embeddings of the secondary listings (row-aligned with ``snap.sec_id``).
        index: the enterprise index (ids = ``snap.ent_id``).
        inv_index: the investor index over ``man_vecs`` (ids = ``snap.inv_id``), searched single-threaded.
        hist: the funnel history as of the snapshot (with portfolio centroids).
        collab: the collaborative model fitted on ``hist`` (``None``: no collaborative source or feature).
        rules: the snapshot's eligibility index (who may be shown which need).
        live: the live needs, sorted for eligibility by amount.
        needless: enterprise-level eligibility when the market has no financing needs, else ``None``.
        sec_row: snapshot row of each secondary listing id.
        as_of: the snapshot's "now", recorded on every list.
    """

    snap: MarketSnapshot
    ent_vecs: np.ndarray
    man_vecs: np.ndarray
    sec_vecs: np.ndarray
    index: VectorIndex
    inv_index: VectorIndex
    hist: History
    collab: CollaborativeModel | None
    rules: Eligibility
    live: LiveNeeds
    needless: EnterpriseRules | None
    sec_row: Mapping[int, int]
    as_of: datetime


def build_context(snapshot: MarketSnapshot, vectors: MarketVectors, index: VectorIndex, *,
                  collaborative: bool = True) -> MatchContext:
    """Derive everything a matcher reads from a snapshot and its embeddings, once.

    Args:
        snapshot: the market (serving's slim copy or a full snapshot).
        vectors: its embeddings (:func:`~matching.retrieval.vectors.embed_market` with ``secondaries=True``).
        index: the enterprise index over ``vectors.ent`` (ids = ``snapshot.ent_id``).
        collaborative: fit the collaborative model (``False``: no collaborative source or feature).

    Raises:
        ValueError: the embeddings do not have one row per enterprise, investor and listing.
    """
    ent_vecs = np.ascontiguousarray(vectors.ent, dtype=np.float32)
    man_vecs = np.ascontiguousarray(vectors.man, dtype=np.float32)
    sec_vecs = np.ascontiguousarray(vectors.sec, dtype=np.float32)
    if (len(ent_vecs), len(man_vecs), len(sec_vecs)) != (snapshot.n_enterprises, snapshot.n_investors,
                                                         len(snapshot.sec_id)):
        raise ValueError(f"embeddings of {len(ent_vecs)} enterprises, {len(man_vecs)} investors and {len(sec_vecs)} "
                         f"listings for a snapshot of {snapshot.n_enterprises}, {snapshot.n_investors} and "
                         f"{len(snapshot.sec_id)}: embed the same snapshot with embed_market(..., secondaries=True)")
    hist = History.build(snapshot, snapshot.as_of, ent_vecs=ent_vecs)
    financials_at(snapshot, hist.as_of)  # the financials features read: derived once here, mapped with the context
    # (not rebuilt by every worker on its first list: 32 MB and ~0.1 s at 1,000,000 enterprises)
    # an investor without text of its own is found and compared by its portfolio's centroid
    man_vecs = investor_vectors(snapshot, man_vecs, hist)
    inv_index = VectorIndex(man_vecs.shape[1], index.encoder_id, IndexConfig(threads=1))
    inv_index.build(snapshot.inv_id, man_vecs)
    return MatchContext(
        snap=snapshot, ent_vecs=ent_vecs, man_vecs=man_vecs, sec_vecs=sec_vecs, index=index, inv_index=inv_index,
        hist=hist, collab=CollaborativeModel().fit(snapshot, hist) if collaborative else None,
        rules=Eligibility.of(snapshot), live=LiveNeeds(snapshot),
        needless=EnterpriseRules(snapshot) if needless(snapshot) else None,
        sec_row={int(s): r for r, s in enumerate(snapshot.sec_id)},
        as_of=EPOCH + timedelta(days=float(snapshot.as_of)))


def market_context(snapshot: MarketSnapshot, encoder: TextEncoder, *, settings: Settings | None = None,
                   cache: EmbeddingCache | None = None, show_progress: bool = False,
                   slim: bool = False) -> MatchContext:
    """Embed a snapshot's texts (through ``cache``), build or load its index, and :func:`build_context`.

    Args:
        snapshot: the market as read (with its texts).
        encoder: embeds the texts (waits for a free session as long as it takes, in a service).
        settings: batch size, index thresholds and threads.
        cache: the embedding cache; its folder also keeps the built index for other workers.
        show_progress: progress bars while embedding.
        slim: keep serving's slim copy of the snapshot (:func:`~matching.snapshot.core.slim_for_serving`):
            the records and texts are not needed once embedded.
    """
    settings = settings or Settings()
    cache = cache if cache is not None else EmbeddingCache(None)
    vectors = embed_market(snapshot, encoder, cache=cache, batch_size=settings.encoder_batch_size,
                           show_progress=show_progress, secondaries=True)
    config = IndexConfig(exact_threshold=settings.exact_search_threshold, threads=settings.faiss_threads)
    folder = cache.folder / "indexes" if cache.folder is not None else None  # built once, loaded by workers
    index = build_or_load(folder, snapshot.ent_id, vectors.ent, encoder.encoder_id, config)
    return build_context(slim_for_serving(snapshot) if slim else snapshot, vectors, index)
