"""The market's texts embedded once, the same way for training and serving: :func:`embed_market`.

Enterprise profiles are embedded as passages and mandates as queries (the encoder's asymmetric
prompts), through the embedding cache so that only new or changed texts are encoded. Serving also
embeds the secondary listings (S funds' lists); training also embeds every earlier mandate version
(periods read the mandate valid then, :func:`matching.snapshot.asof.vectors_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from matching.retrieval.embeddings import EmbeddingCache, embed
from matching.retrieval.encoder.encoder import TextEncoder
from matching.snapshot.asof import version_texts
from matching.snapshot.core import MarketSnapshot
from matching.snapshot.profiles import secondary_text


@dataclass(frozen=True, eq=False)
class MarketVectors:
    """Embeddings of one snapshot's texts, row-aligned with its columns.

    Attributes:
        ent: passage embeddings of ``snap.ent_text``, one row per enterprise.
        man: query embeddings of ``snap.man_text``, one row per investor.
        sec: passage embeddings of the secondary listings (:func:`listing_texts`); empty unless asked for.
        versions: query embeddings of earlier mandate versions by ``(investor row, version)``; empty
            unless asked for.
    """

    ent: np.ndarray
    man: np.ndarray
    sec: np.ndarray
    versions: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)


def listing_texts(snap: MarketSnapshot) -> list[str]:
    """The encoder's text of every secondary listing (row-aligned with ``snap.sec_id``)."""
    out = []
    for row, listing in enumerate(snap.sec_record):
        ent = int(snap.sec_ent[row])
        underlying = snap.ent_name[ent] if ent >= 0 else None
        sector = snap.sectors.label(int(snap.ent_sector[ent])) if ent >= 0 and snap.ent_sector[ent] >= 0 else None
        out.append(secondary_text(listing, underlying, sector))
    return out


def embed_market(snap: MarketSnapshot, encoder: TextEncoder, *, cache: EmbeddingCache | None = None,
                 batch_size: int = 64, show_progress: bool = False, secondaries: bool = False,
                 versions: bool = False) -> MarketVectors:
    """Embed a snapshot's profiles and mandates (and, when asked, listings and earlier mandate versions).

    Args:
        snap: a snapshot that keeps its texts (not serving's slim copy).
        encoder: the encoder; its id keys the cache.
        cache: the embedding cache (default: in memory, this call only).
        batch_size: texts per encoder call.
        show_progress: progress bars for the profiles and mandates.
        secondaries: also embed the secondary listings (serving).
        versions: also embed every earlier mandate version (training).

    Raises:
        ValueError: the snapshot was slimmed for serving (its texts are gone).
    """
    if not snap.records_kept:
        raise ValueError("the snapshot was slimmed for serving (no texts): embed the snapshot read from the market "
                         "before matching.snapshot.core.slim_for_serving")
    cache = cache if cache is not None else EmbeddingCache(None)
    ent = embed(encoder, snap.ent_text, kind="passage", cache=cache, batch_size=batch_size,
                show_progress=show_progress)
    man = embed(encoder, snap.man_text, kind="query", cache=cache, batch_size=batch_size,
                show_progress=show_progress)
    sec = embed(encoder, listing_texts(snap) if secondaries else [], kind="passage", cache=cache)
    earlier = version_texts(snap) if versions else {}
    vecs = embed(encoder, list(earlier.values()), kind="query", cache=cache, batch_size=batch_size) if earlier else []
    return MarketVectors(ent, man, sec, dict(zip(earlier, vecs, strict=True)))
