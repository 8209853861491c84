"""Collaborative signal: investors alike by what they engaged with, and by what their mandates say.

Fitted on a :class:`~matching.features.table.History` (so it is point-in-time like every feature):

1. the investor × enterprise engagement matrix ``R`` (weight = highest funnel grade / 5, dismissals
   left out), TF-IDF weighted so that an enterprise everyone looked at says little about taste;
2. each investor's sector profile (share of its engagements per sector) and its mandate sectors;
3. investors are described by the row-normalised concatenation of the three, and alike by cosine:
   the exact top neighbours (:func:`investor_neighbours`: a FAISS kNN over the dense sector parts, joined
   with the investors that share an engaged enterprise, re-scored exactly; it replaced scikit-learn's
   brute-force ``NearestNeighbors``, which compared every pair over a million enterprise columns).

The score of (investor *i*, enterprise *e*) mixes two parts in ``[0, 1]``:
``(1 - sector_weight) * Σ_j sim(i, j) R[j, e] / Σ_j sim(i, j)`` (neighbours engaged with *e* itself)
and ``sector_weight * Σ_j sim(i, j) P[j, sector(e)] / Σ_j sim(i, j)`` (neighbours' share of deals in
*e*'s sector), so a new enterprise with no history still scores by its sector, and a new investor
still has neighbours through its mandate.
"""

from __future__ import annotations

import logging

import faiss
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
        k = min(self.n_neighbors + 1, n_inv)
        idx, sims = investor_neighbours(tfidf, np.hstack([self.profile_weight * normalize(share),
                                                          self.mandate_weight * normalize(mandate)]), k)
        rows = np.repeat(np.arange(n_inv), k)
        keep = (idx.ravel() != rows) & (idx.ravel() >= 0) & (sims.ravel() > 1e-9)
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


#: Up to this many investors the neighbours are scikit-learn's brute force (bit for bit what the models were
#: trained and tested with; seconds at 12,000 investors); beyond, the FAISS kNN (it grows with n² there).
BRUTE_MAX_INVESTORS = 20_000
#: Dense candidates searched beyond ``k`` per investor (float32 rounding and ties at the k-th place).
NEIGHBOUR_MARGIN = 16
_ROWS = 256  # investors per block of the sparse overlap
_PAIRS = 1 << 20  # candidate pairs re-scored at once
_QUERIES = 8192  # investors per FAISS search


def investor_neighbours(engaged: sp.csr_matrix, dense: np.ndarray, k: int, *,
                        brute_max: int = BRUTE_MAX_INVESTORS) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest investors of each investor by cosine over ``[engaged | dense]`` rows (self included):
    ``(idx, sims)`` of shape ``(n, k)``, best first; ``-1`` / ``0`` where fewer are found.

    Up to ``brute_max`` investors: scikit-learn's ``NearestNeighbors(metric="cosine", algorithm="brute")``
    (its tie order among equally similar investors is what the models were trained with). Beyond: the
    FAISS kNN below, equal up to the order of ties at the k-th place (broken by row among the candidates).

    Exact, without comparing all pairs over the sparse columns: with ``x = [a | d]`` row-normalised,
    ``sim(i, j) = a_i·a_j + d_i·d_j`` and ``a_i·a_j ≥ 0``, so an investor among ``i``'s top ``k`` either
    shares an engaged enterprise with ``i`` (a non-zero of the sparse ``a @ a.T``) or is among ``i``'s top
    ``k`` by the dense part alone (a FAISS exact inner-product kNN over the few dense columns). The union
    is re-scored in float64 and the best ``k`` kept, block by block (bounded memory); a block where most
    pairs share an enterprise (a small market with a long history) is scored densely instead.

    Args:
        engaged: investors × enterprises, non-negative (the TF-IDF engagement rows).
        dense: investors × a few columns, non-negative (the weighted sector profile and mandate sectors).
        k: neighbours per investor (at most the number of investors).
    """
    n = engaged.shape[0]
    if n <= brute_max:
        desc = normalize(sp.hstack([engaged, sp.csr_matrix(dense)]).tocsr())
        dist, near = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(desc).kneighbors(desc)
        return near.astype(np.int64), 1.0 - dist
    a = sp.csr_matrix(engaged, dtype=np.float64)
    d = np.asarray(dense, dtype=np.float64)
    norms = np.sqrt(np.asarray(a.multiply(a).sum(axis=1)).ravel() + (d * d).sum(axis=1))
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    a = (sp.diags(inv) @ a).tocsr()
    d = d * inv[:, None]
    a_t = a.T.tocsr()
    k2 = min(n, k + NEIGHBOUR_MARGIN)
    index = faiss.IndexFlatIP(d.shape[1])
    d32 = np.ascontiguousarray(d, dtype=np.float32)
    index.add(d32)
    near_all = np.vstack([index.search(d32[q:q + _QUERIES], k2)[1] for q in range(0, n, _QUERIES)])
    idx = np.full((n, k), -1, dtype=np.int64)
    out = np.zeros((n, k), dtype=np.float64)
    for lo in range(0, n, _ROWS):
        hi = min(n, lo + _ROWS)
        ov = (a[lo:hi] @ a_t).tocsr()  # pairs sharing an engaged enterprise, with their sparse part
        if ov.nnz > (hi - lo) * n // 8:  # most pairs overlap: score the block's pairs densely (BLAS)
            block = ov.toarray() + d[lo:hi] @ d.T
            kth = -np.partition(-block, k - 1, axis=1)[:, k - 1]
            r, cols = np.nonzero(block >= kth[:, None])
            rows, sims = r + lo, block[r, cols]
        else:
            near = near_all[lo:hi]  # the dense part's best (exact flat search)
            ov.sum_duplicates()
            ov.sort_indices()
            ov_keys = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(ov.indptr)) * n + ov.indices
            dense_keys = (np.repeat(np.arange(lo, hi, dtype=np.int64), k2) * n + near.ravel())[near.ravel() >= 0]
            pair = np.unique(np.concatenate([ov_keys, dense_keys]))
            rows, cols = pair // n, pair % n
            sims = lookup_sorted(ov_keys, ov.data, pair)
            for p0 in range(0, len(pair), _PAIRS):
                sl = slice(p0, p0 + _PAIRS)
                sims[sl] += np.einsum("ij,ij->i", d[rows[sl]], d[cols[sl]])
        order = np.lexsort((cols, -sims, rows))  # by investor, best first, ties by row
        rows, cols, sims = rows[order], cols[order], sims[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
        top = rank < k
        idx[rows[top], rank[top]] = cols[top]
        out[rows[top], rank[top]] = sims[top]
    return idx, out
