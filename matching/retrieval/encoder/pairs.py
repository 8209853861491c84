"""Retrieval pairs and recall for fine-tuning the encoder: pure NumPy over a market snapshot.

Training pairs are the distinct (investor, enterprise) pairs with a positive event (grade ≥ 3) in a
window; validation queries are investors with *new* positive pairs in a later window (pairs already
positive before it are left out, so memorising training pairs earns nothing); recall@k ranks every
enterprise by the cosine of mandate and profile embeddings. :mod:`training.finetune` fits on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.domain.sides import POSITIVE_GRADE
from matching.snapshot.core import MarketSnapshot

RECALL_KS = (10, 50)


@dataclass(frozen=True)
class TrainingPairs:
    """Positive (investor row, enterprise row) pairs, one per distinct pair.

    Attributes:
        inv: investor rows.
        ent: enterprise rows, aligned with ``inv``.
        available: distinct positive pairs in the window before the cap.
    """

    inv: np.ndarray
    ent: np.ndarray
    available: int

    def __len__(self) -> int:
        return len(self.inv)

    def as_set(self) -> set[tuple[int, int]]:
        """The pairs as ``{(investor row, enterprise row)}``."""
        return set(zip(self.inv.tolist(), self.ent.tolist(), strict=True))


def _positive_pairs(snap: MarketSnapshot, start: float, end: float) -> np.ndarray:
    """Sorted distinct ``inv * n_enterprises + ent`` keys with a grade ≥ 3 event in ``[start, end)``."""
    lo, hi = np.searchsorted(snap.ev_time, [start, end], side="left")
    ev = slice(int(lo), int(hi))
    inv, ent = snap.ev_inv[ev].astype(np.int64), snap.ev_ent[ev].astype(np.int64)
    ok = (snap.ev_grade[ev] >= POSITIVE_GRADE) & (inv >= 0) & (ent >= 0)
    return np.unique(inv[ok] * snap.n_enterprises + ent[ok])


def training_pairs(snap: MarketSnapshot, window: tuple[float, float], max_pairs: int, seed: int) -> TrainingPairs:
    """Distinct positive pairs (grade ≥ 3) with an event in ``window`` (days, ``[start, end)``).

    Pairs whose mandate or profile text is empty are left out. When more than ``max_pairs`` remain, a
    seeded sample is kept (same snapshot and seed: same pairs, in the same order).

    Raises:
        ValueError: ``max_pairs < 1``.
    """
    if max_pairs < 1:
        raise ValueError(f"max_pairs must be at least 1, got {max_pairs}")
    keys = _positive_pairs(snap, *window)
    inv, ent = keys // snap.n_enterprises, keys % snap.n_enterprises
    has_text = np.array([bool(snap.man_text[i].strip()) and bool(snap.ent_text[e].strip())
                         for i, e in zip(inv.tolist(), ent.tolist(), strict=True)], dtype=bool)
    inv, ent = inv[has_text], ent[has_text]
    available = len(inv)
    order = np.random.default_rng([seed, 7]).permutation(available)[:max_pairs]
    return TrainingPairs(inv[order], ent[order], available)


@dataclass(frozen=True)
class RetrievalQueries:
    """Investors with new positives in a window, and those positives (enterprise rows)."""

    inv: np.ndarray
    positives: list[np.ndarray] = field(repr=False)
    known_pairs_left_out: int = 0

    def __len__(self) -> int:
        return len(self.inv)


def validation_queries(snap: MarketSnapshot, window: tuple[float, float]) -> RetrievalQueries:
    """Each investor with a grade ≥ 3 pair in ``window`` that was not already positive before it.

    Pairs positive before the window are left out (counted in ``known_pairs_left_out``): an encoder
    fine-tuned on them would otherwise score by memory, not by understanding the texts.
    """
    start, end = window
    inside = _positive_pairs(snap, start, end)
    before = _positive_pairs(snap, -math.inf, start)
    new = inside[~np.isin(inside, before)]
    inv, ent = new // snap.n_enterprises, new % snap.n_enterprises  # sorted by investor, then enterprise
    rows, starts = np.unique(inv, return_index=True)
    positives = np.split(ent, starts[1:]) if len(rows) else []
    return RetrievalQueries(rows, positives, int(len(inside) - len(new)))


def retrieval_recall(query_vecs: np.ndarray, ent_vecs: np.ndarray, positives: Sequence[np.ndarray],
                     ks: Sequence[int] = RECALL_KS) -> dict[str, float]:
    """Mean over queries of the share of their positives among the top ``k`` enterprises by cosine.

    Args:
        query_vecs: L2-normalised query rows, one per query.
        ent_vecs: L2-normalised rows of every enterprise (all of them are candidates).
        positives: enterprise rows of each query's positives (non-empty).
        ks: head sizes.

    Returns:
        ``{"recall@k": value}``; ``nan`` without queries. A positive tied with others counts as
        ranked first among them (ties of float cosines are vanishingly rare).
    """
    if len(query_vecs) != len(positives):
        raise ValueError(f"{len(query_vecs)} query vectors but {len(positives)} positive lists")
    hits = {k: [] for k in ks}  # type: dict[int, list[float]]
    for start in range(0, len(query_vecs), 256):  # bounded memory on large markets
        scores = query_vecs[start:start + 256] @ ent_vecs.T
        for row, pos in zip(scores, positives[start:start + 256], strict=True):
            if len(pos) == 0:
                raise ValueError("every query needs at least one positive")
            rank = (row[None, :] > row[pos][:, None]).sum(axis=1)  # enterprises scored above each positive
            for k in ks:
                hits[k].append(float((rank < k).mean()))
    return {f"recall@{k}": float(np.mean(v)) if v else float("nan") for k, v in hits.items()}


# --------------------------------------------------------------------------------------------
# the fit
# --------------------------------------------------------------------------------------------
