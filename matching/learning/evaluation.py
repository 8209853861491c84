"""Offline evaluation of rankers and baselines on one time window, over the full candidate set.

:func:`build_eval_set` takes every query (investor, or enterprise for the other direction) with a
positive event in ``[start, end)`` and, as candidates, *all* its eligible counterparts as they stood
at ``start`` (the served task: hard constraints first), with features from the History at ``start``.
:func:`baseline_scores` scores the same rows with the baselines, and :func:`evaluate_scores` gives,
for each scorer, Recall@k, NDCG@10, MRR and AUC, the mutual-match rate, catalogue coverage and the
Gini of exposure in the top-k, on all queries and on the cold-start subset (enterprises with no
funnel event before ``start``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from matching.domain import vocab
from matching.domain.sides import POSITIVE_GRADE, Side
from matching.features.table import FEATURE_INDEX
from matching.learning import exposure, metrics
from matching.learning.dataset import RankingData, build_ranking_sets
from matching.learning.intervals import bootstrap_ci
from matching.rules.eligibility import pair_fit
from matching.snapshot.core import EVENT, MarketSnapshot

#: Event types that need both sides (an accepted contact or deeper): a "mutual match".
MUTUAL_EVENTS: tuple[str, ...] = ("contact_accepted", "meeting", "due_diligence", "term_sheet", "invested")
KS: tuple[int, ...] = (10, 20, 50, 100)
BASELINES: tuple[str, ...] = ("random", "popularity", "rules", "affinity", "similarity", "incumbents_then_affinity")
#: Each baseline in words, for reports.
BASELINE_MEANING: dict[str, str] = {
    "random": "random order (seeded)",
    "popularity": "most-engaged counterpart first (enterprise: investors engaged; investor: past deals)",
    "rules": "structured mandate fit (sector, stage, ticket, region, tier, board)",
    "affinity": "category x region x stage affinity from the investor's past deals, times its deal count",
    "similarity": "cosine of mandate (else portfolio centroid) and profile embeddings only",
    "incumbents_then_affinity": "pairs that already dealt (follow-ons) first, then affinity",
}
#: Baselines a model version may serve instead of its ranker (computable from one list's features).
SERVABLE_BASELINES: tuple[str, ...] = ("popularity", "rules", "affinity", "similarity", "incumbents_then_affinity")
#: A missing feature value (no past deals) ranks a baseline's candidate last, never first.
_FLOOR = -1e6
#: The structured-fit features whose mean stands in for the fit of pairs without a need.
_FIT_FEATURES: tuple[str, ...] = ("sector_cluster", "stage_fit", "instrument_fit", "tier_fit", "board_fit")
#: Evaluation subsets: every pair; pairs that never reached a deal before the window (the task that
#: matters to a user: an introduction); the positives that did (follow-ons, new positives left out);
#: enterprises with no event before the window.
SUBSETS: tuple[str, ...] = ("all", "new_pairs", "follow_on", "cold_start")


@dataclass
class EvalSet:
    """Full-candidate evaluation rows of one asking side and window.

    Attributes:
        data: the rows (features at the window's start; grades in the window as labels).
        mutual: per row, whether the pair reached a both-sides event in the window.
        cold: per row, whether the enterprise had no funnel event before the window.
    """

    data: RankingData
    mutual: np.ndarray
    cold: np.ndarray

    def __len__(self) -> int:
        return len(self.data)


def build_eval_set(snap: MarketSnapshot, side: Side, start: float, end: float, *, ent_vecs: np.ndarray,
                   man_vecs: np.ndarray, seed: int = 0) -> EvalSet:
    """Every eligible candidate of every query asked by ``side`` with an event in ``[start, end)`` (one period)."""
    return build_eval_sets(snap, (side,), start, end, ent_vecs=ent_vecs, man_vecs=man_vecs, seed=seed)[side]


def build_eval_sets(snap: MarketSnapshot, sides: Sequence[Side], start: float, end: float, *,
                    ent_vecs: np.ndarray, man_vecs: np.ndarray, seed: int = 0) -> dict[str, EvalSet]:
    """:func:`build_eval_set` of several asking sides, sharing the window's History and eligibility."""
    sets = build_ranking_sets(snap, sides, start, end, ent_vecs=ent_vecs, man_vecs=man_vecs,
                              negatives_per_query=10**9, seed=seed, period_days=end - start)
    lo, hi = np.searchsorted(snap.ev_time, [start, end], side="left")
    mutual_codes = np.array([EVENT[t] for t in MUTUAL_EVENTS], dtype=snap.ev_type.dtype)
    ev = slice(int(lo), int(hi))
    m = np.isin(snap.ev_type[ev], mutual_codes) & (snap.ev_inv[ev] >= 0) & (snap.ev_ent[ev] >= 0)
    mutual_keys = np.unique(snap.ev_inv[ev][m] * snap.n_enterprises + snap.ev_ent[ev][m])
    before = snap.events_before(start)
    seen = np.zeros(snap.n_enterprises, dtype=bool)
    ents_before = snap.ev_ent[before]
    seen[ents_before[ents_before >= 0]] = True
    return {d: EvalSet(data, np.isin(data.inv * snap.n_enterprises + data.ent, mutual_keys), ~seen[data.ent])
            for d, data in sets.items()}


def subset(data: RankingData, rows: np.ndarray) -> RankingData:
    """The rows selected by a boolean mask, groups re-counted (queries left empty dropped)."""
    rows = np.asarray(rows, dtype=bool)
    qid = data.qid[rows]
    _, sizes = np.unique(qid, return_counts=True)  # qid is sorted: groups stay contiguous and in order
    return RankingData(data.direction, data.X[rows], data.y[rows], sizes.astype(np.int64),
                       np.repeat(np.arange(len(sizes)), sizes), data.query[rows], data.inv[rows], data.ent[rows],
                       data.need[rows], data.as_of[rows], data.event_time[rows], data.window, data.feature_names)


def feature_baseline(name: str, X: np.ndarray, side: str, *, fit: np.ndarray | None = None) -> np.ndarray:
    """One servable baseline's score from feature rows: the one definition used by evaluation, model
    selection and serving (:class:`matching.ranking.baselines.BaselineScorer`).

    Args:
        name: one of :data:`SERVABLE_BASELINES`.
        X: feature rows (columns in :data:`~matching.features.table.FEATURE_NAMES` order).
        side: who asks: ``investor`` (queries are investors) or ``enterprise``.
        fit: the structured mandate fit of each pair (``rules``); without it, the mean of the fit
            features.

    Raises:
        ValueError: an unknown baseline name.
    """
    col = lambda n: np.asarray(X[:, FEATURE_INDEX[n]], dtype=np.float64)  # noqa: E731
    if name == "popularity":
        return np.nan_to_num(col("ent_popularity" if side == Side.INVESTOR else "inv_positives"), nan=0.0)
    if name == "rules":
        if fit is not None:
            return np.asarray(fit, dtype=np.float64)
        return sum(np.nan_to_num(col(n), nan=0.0) for n in _FIT_FEATURES) / len(_FIT_FEATURES)
    if name == "affinity":
        return np.nan_to_num(col("affinity"), nan=_FLOOR)
    if name == "similarity":
        return np.nan_to_num(col("semantic_sim"), nan=-1.0)
    if name == "incumbents_then_affinity":
        incumbent = np.nan_to_num(col("pair_prior_engagement"), nan=0.0) >= POSITIVE_GRADE
        return np.nan_to_num(col("affinity"), nan=_FLOOR) + 1e7 * incumbent
    raise ValueError(f"baseline: {name!r}: allowed: {', '.join(SERVABLE_BASELINES)}")


def rules_fit(snap: MarketSnapshot, data: RankingData) -> np.ndarray | None:
    """The structured fit of each row (:func:`~matching.rules.eligibility.pair_fit` by need; rows without
    a need: the mean of the fit features), or ``None`` when no row has a need (``feature_baseline`` then
    computes it)."""
    has_need = data.need >= 0
    if not has_need.any():
        return None
    fit = feature_baseline("rules", data.X, data.direction)
    fit[has_need] = pair_fit(snap, data.inv[has_need], data.need[has_need])
    return fit


def baseline_scores(snap: MarketSnapshot, data: RankingData, *, seed: int = 0) -> dict[str, np.ndarray]:
    """Scores of every baseline in :data:`BASELINES` on ``data``'s rows."""
    rng = np.random.default_rng(seed)
    fit = rules_fit(snap, data)
    out = {"random": rng.random(len(data))}
    for name in SERVABLE_BASELINES:
        out[name] = feature_baseline(name, data.X, data.direction, fit=fit if name == "rules" else None)
    return {n: out[n] for n in BASELINES}


def subset_masks(ev: EvalSet) -> dict[str, np.ndarray]:
    """Row masks of each evaluation subset of :data:`SUBSETS` (a subset may be empty).

    ``new_pairs`` drops the pairs that reached a deal before the window from candidates *and*
    positives; ``follow_on`` keeps those pairs and every non-positive row (the window's new positives
    go, so a query is judged on its follow-ons alone); ``cold_start`` keeps enterprises new to the
    market.
    """
    prior = np.nan_to_num(ev.data.column("pair_prior_engagement").astype(np.float64), nan=0.0) >= POSITIVE_GRADE
    return {"all": np.ones(len(ev), dtype=bool), "new_pairs": ~prior,
            "follow_on": prior | (ev.data.y < POSITIVE_GRADE), "cold_start": np.asarray(ev.cold, dtype=bool)}


def _one(data: RankingData, scores: np.ndarray, mutual: np.ndarray, *, seed: int, k_list: int
         ) -> dict[str, float]:
    out: dict[str, float] = dict(metrics.evaluate(data.y, scores, data.group, ks=KS, positive=POSITIVE_GRADE,
                                                  seed=seed))
    out[f"mutual@{k_list}"] = metrics.mutual_match_rate(mutual, scores, data.group, k_list, seed=seed)
    items = data.ent if data.direction == Side.INVESTOR else data.inv
    counts = exposure.item_exposure(items, scores, data.group, k_list, seed=seed)
    out[f"coverage@{k_list}"] = exposure.coverage(np.flatnonzero(counts), len(counts))
    out[f"gini@{k_list}"] = exposure.gini(counts)
    return out


def evaluate_scores(ev: EvalSet, scores: Mapping[str, np.ndarray], *, seed: int = 0, k_list: int = 10,
                    intervals: bool = True) -> dict[str, dict[str, dict[str, Any]]]:
    """``{scorer: {subset: metrics}}`` on the same rows for every scorer and every non-empty subset
    of :data:`SUBSETS`; each metrics dict holds ``ci95: {"ndcg@10": [lo, hi]}``, a bootstrap over
    queries (:func:`matching.learning.intervals.bootstrap_ci`), unless ``intervals`` is false."""
    masks = {name: m for name, m in subset_masks(ev).items() if m.any()}
    parts = {name: (ev.data if name == "all" else subset(ev.data, m), m) for name, m in masks.items()}
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, s in scores.items():
        s = np.asarray(s, dtype=np.float64)
        if len(s) != len(ev):
            raise ValueError(f"scores[{name!r}] has {len(s)} values for {len(ev)} rows")
        entry: dict[str, dict[str, Any]] = {}
        for sub, (data, m) in parts.items():
            one: dict[str, Any] = _one(data, s[m], ev.mutual[m], seed=seed, k_list=k_list)
            if one["queries"] == 0:
                continue
            if intervals:
                per_q = metrics.ndcg_per_query(data.y, s[m], data.group, 10, seed=seed)
                one["ci95"] = {"ndcg@10": list(bootstrap_ci(per_q, seed=seed))}
            entry[sub] = one
        out[name] = entry
    return out


def per_query_ndcg(ev: EvalSet, scores: np.ndarray, subset_name: str = "all", *, seed: int = 0) -> np.ndarray:
    """NDCG@10 per query of one subset (for paired comparisons between scorers on the same queries)."""
    m = subset_masks(ev)[subset_name]
    data = ev.data if subset_name == "all" else subset(ev.data, m)
    if not m.any():
        return np.zeros(0)
    return metrics.ndcg_per_query(data.y, np.asarray(scores, dtype=np.float64)[m], data.group, 10, seed=seed)


def exposure_counts(ev: EvalSet, scores: np.ndarray, *, k: int = 10, seed: int = 0) -> np.ndarray:
    """How often each candidate item appears in a top-k list (items sorted by row id)."""
    data = ev.data
    items = data.ent if data.direction == Side.INVESTOR else data.inv
    return exposure.item_exposure(items, scores, data.group, k, seed=seed)


def ndcg_by(snap: MarketSnapshot, ev: EvalSet, scores: np.ndarray, attribute: str, *, k: int = 10,
            seed: int = 0) -> dict[str, float]:
    """NDCG@k per value of a query attribute: ``investor_type`` (investor direction), or the
    enterprise's ``tier`` / ``district`` (enterprise direction, where queries are enterprises)."""
    data = ev.data
    if attribute == "investor_type":
        labels = np.array(vocab.INVESTOR_TYPES.codes)[snap.inv_type[data.inv]]
    elif attribute == "tier":
        labels = np.array(vocab.TIERS.codes)[snap.ent_tier[data.ent]]
    elif attribute == "district":
        labels = np.array([d or "outside" for d in snap.ent_district], dtype=object)[data.ent]
    else:
        raise ValueError(f"attribute: {attribute!r}: allowed: investor_type, tier, district")
    out = {}
    for value in sorted(set(labels.tolist())):
        rows = labels == value
        part = subset(data, rows)
        out[str(value)] = metrics.ndcg_at_k(part.y, np.asarray(scores)[rows], part.group, k, seed=seed)
    return out
