"""Collaborative signal: investors alike by what they engaged with, and by what their mandates say.

Fitted on a :class:`~matching.features.table.History` (so it is point-in-time like every feature):

1. the investor × enterprise engagement matrix ``R`` (weight = highest funnel grade / 5, dismissals
   left out), TF-IDF weighted so that an enterprise everyone looked at says little about taste;
2. each investor's sector profile (share of its engagements per sector) and its mandate sectors;
3. investors are described by the row-normalised concatenation of the three, and alike by cosine
   (scikit-learn ``NearestNeighbors``, brute force: exact and deterministic).

The score of (investor *i*, enterprise *e*) mixes two parts in ``[0, 1]``:
``(1 - sector_weight) * Σ_j sim(i, j) R[j, e] / Σ_j sim(i, j)`` (neighbours engaged with *e* itself)
and ``sector_weight * Σ_j sim(i, j) P[j, sector(e)] / Σ_j sim(i, j)`` (neighbours' share of deals in
*e*'s sector), so a new enterprise with no history still scores by its sector, and a new investor
still has neighbours through its mandate.
"""

from __future__ import annotations

import logging

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from matching.features.table import History, lookup_sorted, pair_tables
from matching.snapshot.core import MarketSnapshot

logger = logging.getLogger(__name__)


class CollaborativeModel:
    """Neighbourhood collaborative filtering over investors (fit → score / candidates).

    Args:
        n_neighbors: neighbours per investor.
        sector_weight: weight of the sector-level part of the score (generalises to cold enterprises).
        profile_weight: weight of the sector profile in the investor description.
        mandate_weight: weight of the mandate sectors in the investor description (cold investors).
    """

    def __init__(self, n_neighbors: int = 20, sector_weight: float = 0.5, profile_weight: float = 0.5,
                 mandate_weight: float = 0.3) -> None:
        if not 0.0 <= sector_weight <= 1.0:
            raise ValueError(f"sector_weight must lie in [0, 1], got {sector_weight}")
        self.n_neighbors = n_neighbors
        self.sector_weight = sector_weight
        self.profile_weight = profile_weight
        self.mandate_weight = mandate_weight
        self._fitted = False

    def fit(self, snap: MarketSnapshot, hist: History) -> CollaborativeModel:
        """Fit on the engagements of ``hist`` (events before its ``as_of``)."""
        n_inv, n_ent = snap.n_investors, snap.n_enterprises
        tables = pair_tables(snap)
        n_sec1 = tables.n_sectors + 1
        inv, ent, grade = hist.pairs(min_grade=1)
        weight = grade.astype(np.float32) / 5.0
        r = sp.csr_matrix((weight, (inv, ent)), shape=(n_inv, n_ent))
        df = np.bincount(ent, minlength=n_ent)
        idf = np.log((1.0 + n_inv) / (1.0 + df)).astype(np.float32) + 1.0
        tfidf = normalize(r @ sp.diags(idf))
        sec = snap.ent_sector[ent]
        sec = np.where(sec < 0, n_sec1 - 1, sec)  # unknown sector: the last column, never scored
        counts = sp.csr_matrix((weight, (inv, sec)), shape=(n_inv, n_sec1)).toarray()
        counts[:, -1] = 0.0
        totals = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
        mandate = tables.man_sector.astype(np.float32)
        desc = sp.hstack([tfidf, self.profile_weight * sp.csr_matrix(normalize(share)),
                          self.mandate_weight * sp.csr_matrix(normalize(mandate))]).tocsr()
        desc = normalize(desc)
        k = min(self.n_neighbors + 1, n_inv)
        dist, idx = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(desc).kneighbors(desc)
        sims = 1.0 - dist
        rows = np.repeat(np.arange(n_inv), k)
        keep = (idx.ravel() != rows) & (sims.ravel() > 1e-9)
        kmat = sp.csr_matrix((sims.ravel()[keep], (rows[keep], idx.ravel()[keep])), shape=(n_inv, n_inv))
        ksum = np.asarray(kmat.sum(axis=1)).ravel()
        kmat = sp.diags(np.divide(1.0, ksum, out=np.zeros_like(ksum), where=ksum > 0)) @ kmat
        self._ent_part = (kmat @ r).tocsr()
        self._ent_part.sort_indices()
        # CSR with sorted indices, row-major: row * n_ent + col is already sorted (binary-searchable)
        self._keys = np.repeat(np.arange(n_inv, dtype=np.int64), np.diff(self._ent_part.indptr)) * n_ent \
            + self._ent_part.indices
        self._sec_part = np.asarray(kmat @ share, dtype=np.float64)
        self._seen = r.tocsr()
        self._ent_sector = np.where(snap.ent_sector < 0, n_sec1 - 1, snap.ent_sector)
        self._n_ent = n_ent
        self._fitted = True
        logger.debug("collaborative model fitted: %d investors, %d engaged pairs", n_inv, len(inv))
        return self

    def _check(self) -> None:
        if not self._fitted:
            raise RuntimeError("CollaborativeModel used before fit(): call fit(snap, hist) first")

    def score(self, inv_rows: np.ndarray, ent_rows: np.ndarray) -> np.ndarray:
        """Collaborative score of each (investor, enterprise) pair, in ``[0, 1]``."""
        self._check()
        inv = np.asarray(inv_rows, dtype=np.int64)
        ent = np.asarray(ent_rows, dtype=np.int64)
        ent_part = lookup_sorted(self._keys, self._ent_part.data, inv * self._n_ent + ent)
        sec_part = self._sec_part[inv, self._ent_sector[ent]]
        return (1.0 - self.sector_weight) * ent_part + self.sector_weight * sec_part

    def candidates(self, inv_row: int, k: int, allow_mask: np.ndarray | None = None, *,
                   exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Enterprises engaged by investors alike ``inv_row``: ``(ent_rows, scores)``, best first.

        Only enterprises some neighbour engaged with are returned (a positive enterprise part);
        ``allow_mask`` (bool over enterprises) applies hard constraints, ``exclude_seen`` drops
        enterprises this investor already met.
        """
        self._check()
        row = self._ent_part[inv_row]
        cand = row.indices.astype(np.int64)
        if allow_mask is not None:
            cand = cand[np.asarray(allow_mask, dtype=bool)[cand]]
        if exclude_seen:
            seen = self._seen[inv_row].indices
            cand = cand[~np.isin(cand, seen)]
        if len(cand) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        scores = self.score(np.full(len(cand), inv_row), cand)
        order = np.lexsort((cand, -scores))[:k]  # ties broken by row: deterministic
        return cand[order], scores[order]
