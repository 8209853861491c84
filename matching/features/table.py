"""Ranking features of an (investor, enterprise, need) pair, declared once, computed the same way everywhere.

:data:`FEATURES` declares each feature (name, Chinese and English label, meaning); the ranker's
artifact stores the ordered names and :func:`features_hash`, and refuses to load when they differ.
:func:`compute_features` is the one pure, vectorised function that training and serving both call.

Point in time: every history-derived value comes from a :class:`History`, built from the events
strictly before ``as_of``. Training builds it at the start of each period (see
:mod:`matching.learning.dataset`), serving at "now". The profile fields (mandate, tier, financials) are the
snapshot's: the snapshot holds one state of each party, so those are not versioned in time.

Missing values are ``NaN`` (LightGBM routes them): need-based features without a need row (``-1``,
e.g. data without financing needs), share features for an investor without past deals, …

The within-list rank of the similarity is deliberately *not* a feature: LambdaRank already compares
pairs of the same query, and the candidate pool differs between training (sampled) and serving
(retrieved), so a rank-within-candidates value would shift between the two.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from matching.features.history import History, PairTables, lookup_sorted, pair_tables
from matching.snapshot.asof import financials_at
from matching.snapshot.core import QUAL, MarketSnapshot

if TYPE_CHECKING:  # the collaborative model reads History from here
    from matching.features.collaborative import CollaborativeModel

logger = logging.getLogger(__name__)

__all__ = ["AFFINITY_SMOOTHING", "FEATURES", "affinity_value", "investor_vectors",
           "FEATURE_NAMES", "FEATURE_INDEX", "Feature", "History", "PairTables",
           "compute_features", "feature_values", "pair_features", "features_hash", "lookup_sorted", "pair_tables"]

#: Bumped when a feature's computation changes without a change of name or meaning.
FEATURES_VERSION = 3  # 2: stage_share uses event rounds (ev_round); 3: affinity, portfolio-described investors


@dataclass(frozen=True)
class Feature:
    """One ranking feature.

    Attributes:
        name: stable snake_case name (LightGBM feature name, impression-log key).
        zh: Chinese label shown to people.
        en: English label.
        meaning: what the value is, with units and when it is missing.
    """

    name: str
    zh: str
    en: str
    meaning: str


F = Feature
FEATURES: tuple[Feature, ...] = (
    F("semantic_sim", "语义相似度", "Semantic similarity",
      "cosine of the mandate embedding and the enterprise profile embedding; for an investor without a "
      "written mandate or description, of its past deals' centroid (portfolio_sim)"),
    F("portfolio_sim", "与既往投资相似度", "Similarity to past deals",
      "cosine of the enterprise embedding and the mean embedding of the investor's past positive deals; "
      "NaN without past deals or without vectors in the History"),
    F("collab_score", "相似机构关注度", "Interest of similar investors",
      "engagement of investors alike by portfolio, funnel and mandate, in [0, 1] (NaN if not given)"),
    F("sector_exact", "行业匹配", "Sector match", "1 when the enterprise's sector is one the mandate names"),
    F("sector_cluster", "同产业集群", "Same industry cluster",
      "1 when the sector is named or lies in a cluster the mandate names (raw sectors: exact only)"),
    F("mandate_generalist", "不限行业", "Sector-agnostic mandate", "1 when the mandate names no sector"),
    F("sector_share", "同行业投资占比", "Past deals in this sector",
      "share of the investor's past positive pairs (grade >= 3) in this sector; NaN without any"),
    F("region_share", "同地区投资占比", "Past deals in this region",
      "share of past positive pairs in this district (or province/state without a district)"),
    F("stage_share", "同轮次投资占比", "Past deals at this round",
      "share of past positive (pair, round) deals at this need's round; NaN without round or history"),
    F("stage_fit", "轮次匹配", "Stage fit",
      "1 when the need's round is a mandate stage or the mandate names none, else 0; NaN without round"),
    F("ticket_fit", "金额区间位置", "Position in ticket range",
      "log-space position of the amount in [ticket_min, ticket_max], clipped to [-1, 2]; NaN if unknown"),
    F("ticket_in_range", "金额在单笔区间内", "Amount within ticket range",
      "1 when the amount lies in the ticket range (open ends never bind); NaN without need"),
    F("instrument_fit", "融资工具匹配", "Instrument fit",
      "1 when the mandate accepts the need's instrument; NaN without need"),
    F("region_fit", "地域匹配", "Region fit",
      "2 in a preferred district, 1 inside the mandate's region scopes (or none named), else 0"),
    F("local_same_district", "同区县", "Same district",
      "1 when both parties are in the same district (province/state when either has no district)"),
    F("tier_fit", "层级匹配", "Tier fit",
      "1 tier named by the mandate, 0.5 mandate names none, 0 other tier"),
    F("board_fit", "板块匹配", "Board fit",
      "1 on a board the mandate names, 0.5 mandate names none, 0 on none of its boards"),
    F("ent_tier", "企业层级", "Enterprise tier", "0 basic, 1 growth, 2 select"),
    F("ent_qualifications", "资质数量", "Qualifications", "number of qualifications (专精特新, 高新, …)"),
    F("ent_little_giant", "专精特新小巨人", "Little giant", "1 for a national SRDI 'little giant'"),
    F("ent_log_revenue", "营业收入(对数)", "Revenue (log10)",
      "log10(1 + latest revenue in yuan); NaN undisclosed"),
    F("ent_growth", "营收增长率", "Revenue growth", "latest revenue growth (0.25 = +25 %); NaN undisclosed"),
    F("ent_rd_ratio", "研发投入占比", "R&D ratio", "R&D spending / revenue; NaN undisclosed"),
    F("ent_log_patents", "专利数(对数)", "Patents (log)", "log1p(number of patents); NaN undisclosed"),
    F("inv_log_aum", "管理规模(对数)", "AUM (log10)",
      "log10(1 + assets under management in yuan); NaN unknown"),
    F("inv_positives", "既往有效对接数", "Past positive deals",
      "number of enterprises the investor reached grade >= 3 with before as_of"),
    F("inv_activity_90d", "近90天活跃度", "Activity, last 90 days",
      "investor's funnel events in the last 90 days"),
    F("inv_invested_365d", "近一年投资笔数", "Investments, last year", "investments in the last 365 days"),
    F("inv_capacity_left", "剩余投资能力", "Remaining capacity",
      "1 - investments last 365 days / expected deals a year (AUM / 5 / typical ticket), in [-1, 1]"),
    F("ent_exposure_30d", "近30天曝光", "Exposure, last 30 days",
      "funnel events on the enterprise in the last 30 days"),
    F("ent_popularity", "关注机构数", "Investors engaged", "distinct investors with any event before as_of"),
    F("ent_age_years", "成立年限", "Company age", "years since founding at as_of; NaN unknown"),
    F("need_age_days", "需求发布天数", "Need age", "days since the need opened (>= 0); NaN without need"),
    F("pair_prior_engagement", "既往对接深度", "Earlier engagement",
      "highest funnel grade this pair reached before as_of (0..5); NaN when they never met"),
    F("affinity", "行业地区轮次亲和度", "Sector x region x round affinity",
      "the affinity baseline as a feature: log(inv_positives) + log(sector_share + .01) + "
      "log(region_share + .01) + log(stage_share + .01), missing shares as 0; NaN without past deals"),
)
del F
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(FEATURE_NAMES)}
LITTLE_GIANT = QUAL["little_giant"]


def features_hash() -> str:
    """A short hash of the declaration (names, meanings, version): the ranker artifact stores it."""
    text = "\n".join(f"{f.name}|{f.meaning}" for f in FEATURES) + f"\nv{FEATURES_VERSION}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _bit(mask: np.ndarray, bit: np.ndarray) -> np.ndarray:
    return ((mask.astype(np.int64) >> np.maximum(bit.astype(np.int64), 0)) & 1).astype(bool)


def compute_features(snap: MarketSnapshot, hist: History, inv_rows: np.ndarray, ent_rows: np.ndarray,
                     need_rows: np.ndarray, *, sim: np.ndarray, collab: np.ndarray | None = None
                     ) -> np.ndarray:
    """Feature matrix of pairs, columns in :data:`FEATURE_NAMES` order.

    Args:
        snap: the market snapshot.
        hist: point-in-time aggregates (its ``as_of`` is the "now" of every time feature).
        inv_rows, ent_rows: investor and enterprise rows, one per pair.
        need_rows: need row per pair, ``-1`` without a need (need-based features become NaN).
        sim: cosine similarity of mandate and enterprise embeddings, one per pair.
        collab: collaborative scores, one per pair (``None``: NaN).

    Returns:
        ``float32`` array of shape ``(n_pairs, len(FEATURES))``; NaN marks a missing value.
    """
    inv = np.asarray(inv_rows, dtype=np.int64)
    ent = np.asarray(ent_rows, dtype=np.int64)
    need = np.asarray(need_rows, dtype=np.int64)
    n = len(inv)
    if not (len(ent) == len(need) == len(np.asarray(sim)) == n):
        raise ValueError(f"pair arrays differ in length: inv {n}, ent {len(ent)}, need {len(need)}, "
                         f"sim {len(np.asarray(sim))}")
    out = np.full((n, len(FEATURES)), np.nan, dtype=np.float32)
    if n == 0:
        return out
    col = FEATURE_INDEX
    t = pair_tables(snap)
    now = hist.as_of
    sec = snap.ent_sector[ent]
    region = t.ent_region[ent]

    def put(name: str, values: np.ndarray, where: np.ndarray | None = None) -> None:
        if where is None:
            out[:, col[name]] = values
        else:
            out[where, col[name]] = np.asarray(values)[where]

    # content and collaborative signals (an investor without text of its own: its portfolio's centroid)
    sim = np.asarray(sim, dtype=np.float64)
    if len(snap.inv_described):
        undescribed = ~snap.inv_described[inv]
        if undescribed.any():
            sim = np.where(undescribed, hist.portfolio_sim(inv, ent), sim)
    put("semantic_sim", sim)
    put("portfolio_sim", hist.portfolio_sim(inv, ent))
    if collab is not None:
        put("collab_score", np.asarray(collab, dtype=np.float64))
    # mandate fit
    exact = t.man_sector[inv, sec]  # sector -1 indexes the always-False last column
    put("sector_exact", exact)
    put("sector_cluster", exact | t.man_cluster[inv, snap.ent_cluster[ent]])
    put("mandate_generalist", t.generalist[inv])
    has_need = need >= 0
    nd = np.where(has_need, need, 0)
    rnd = np.where(has_need, snap.need_round[nd] if len(snap.need_round) else -1, -1).astype(np.int64)
    known_round = rnd >= 0
    stages = snap.man_stages[inv]
    put("stage_fit", (stages == 0) | _bit(stages, rnd), known_round)
    if len(snap.need_amount):
        amount = snap.need_amount[nd]
        lo, hi = snap.man_ticket_min[inv], snap.man_ticket_max[inv]
        with np.errstate(invalid="ignore", divide="ignore"):
            width = np.maximum(np.log(hi / lo), 1e-6)
            pos = np.clip(np.log(amount / lo) / width, -1.0, 2.0)
            in_range = (np.isnan(lo) | (amount >= lo)) & (np.isnan(hi) | (amount <= hi))
        put("ticket_fit", pos, has_need & np.isfinite(pos))
        put("ticket_in_range", in_range, has_need)
        put("instrument_fit", _bit(snap.man_instr[inv], snap.need_instr[nd]), has_need)
    regions = snap.man_regions[inv]
    in_scope = (regions == 0) | ((snap.ent_region_mask[ent] & regions) != 0)
    put("region_fit", np.where(t.man_district[inv, region], 2.0, in_scope.astype(np.float64)))
    put("local_same_district", (t.inv_place[inv] >= 0) & (t.inv_place[inv] == region))
    tiers, boards = snap.man_tiers[inv], snap.man_boards[inv]
    put("tier_fit", np.where(tiers == 0, 0.5, _bit(tiers, snap.ent_tier[ent])))
    put("board_fit", np.where(boards == 0, 0.5, (snap.ent_boards[ent] & boards) != 0))
    # enterprise quality
    put("ent_tier", snap.ent_tier[ent])
    put("ent_qualifications", t.ent_nquals[ent])
    put("ent_little_giant", _bit(snap.ent_quals[ent], np.full(n, LITTLE_GIANT)))
    revenue, growth, rd, patents = financials_at(snap, now)  # as reported by then, not today
    with np.errstate(invalid="ignore"):
        put("ent_log_revenue", np.log10(1.0 + np.maximum(revenue[ent], 0.0)))
        put("ent_growth", np.clip(growth[ent], -1.0, 10.0))
        put("ent_rd_ratio", rd[ent])
        put("ent_log_patents", np.log1p(np.maximum(patents[ent], 0.0)))
        put("inv_log_aum", np.log10(1.0 + np.maximum(snap.inv_aum[inv], 0.0)))
    # history: affinity shares, activity, capacity, exposure
    npos = hist.inv_npos[inv].astype(np.float64)
    has_pos = npos > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        put("sector_share", hist.sector_count(inv, sec) / npos, has_pos)
        put("region_share", hist.region_count(inv, region) / npos, has_pos)
        nround = hist.inv_nround[inv].astype(np.float64)
        put("stage_share", hist.round_count(inv, rnd) / nround, known_round & (nround > 0))
        cap = 1.0 - hist.inv_invested_365d[inv] / t.expected_deals[inv]
    put("inv_positives", npos)
    put("inv_activity_90d", hist.inv_recent_90d[inv])
    put("inv_invested_365d", hist.inv_invested_365d[inv])
    put("inv_capacity_left", np.clip(cap, -1.0, 1.0))
    put("ent_exposure_30d", hist.ent_recent_30d[ent])
    put("ent_popularity", hist.ent_popularity[ent])
    put("ent_age_years", np.maximum(now - snap.ent_founded[ent], 0.0) / 365.25)
    if len(snap.need_opened):
        put("need_age_days", np.maximum(now - snap.need_opened[nd], 0.0), has_need)
    put("pair_prior_engagement", hist.pair_grade(inv, ent))
    put("affinity", affinity_value(npos, out[:, col["sector_share"]], out[:, col["region_share"]],
                                   out[:, col["stage_share"]]))
    return out


def pair_features(snap: MarketSnapshot, hist: History, inv: np.ndarray, ent: np.ndarray, need: np.ndarray, *,
                  man_vecs: np.ndarray, ent_vecs: np.ndarray, collab: CollaborativeModel | None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows of pairs ``(inv, ent, need)`` and their embeddings' cosine: the one path from vectors
    and history to features, for training rows, served lists and the benchmark.

    Args:
        man_vecs, ent_vecs: investor and enterprise vectors (row-aligned, L2-normalised).
        collab: the collaborative model of ``hist`` (``None``: the feature is missing).

    Returns:
        ``(X, sim)``: :func:`compute_features` rows and the cosine of each pair's vectors.
    """
    sim = np.einsum("ij,ij->i", man_vecs[inv], ent_vecs[ent]).astype(np.float64)
    scores = collab.score(inv, ent) if collab is not None and len(inv) else None
    return compute_features(snap, hist, inv, ent, need, sim=sim, collab=scores), sim


def investor_vectors(snap: MarketSnapshot, man_vecs: np.ndarray, hist: History) -> np.ndarray:
    """Each investor's vector: its mandate's embedding, or for an investor without text of its own
    (:attr:`MarketSnapshot.inv_described`) its portfolio's centroid as of ``hist`` (zeros without one).

    The one rule for retrieval and negative sampling; ``semantic_sim`` applies the same one. Returns
    ``man_vecs`` itself when every investor is described.
    """
    if not len(snap.inv_described) or snap.inv_described.all() or hist.portfolio is None:
        return man_vecs
    out = np.array(man_vecs, dtype=np.float32, copy=True)
    undescribed = ~snap.inv_described
    out[undescribed] = hist.portfolio[undescribed]
    return out


#: Smoothing of the affinity product (the published CrunchBase baseline's).
AFFINITY_SMOOTHING = 0.01


def affinity_value(n_positive: np.ndarray, sector_share: np.ndarray, region_share: np.ndarray,
                   stage_share: np.ndarray) -> np.ndarray:
    """The category x region x stage affinity in log form: the investor's naive-Bayes likelihood of
    the candidate, ``log n + sum log(share + s)`` (missing shares count as 0; NaN when ``n`` is 0).

    The one definition of the affinity baseline: the ``affinity`` feature and the ``affinity``
    baseline of :mod:`matching.learning.evaluation` both come from here.
    """
    s = AFFINITY_SMOOTHING
    n = np.asarray(n_positive, dtype=np.float64)
    shares = [np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0) for x in (sector_share, region_share,
                                                                                stage_share)]
    with np.errstate(divide="ignore"):
        value = np.log(n) + sum(np.log(x + s) for x in shares)
    return np.where(n > 0, value, np.nan)


def feature_values(row: np.ndarray) -> dict[str, float | None]:
    """One feature row as ``{name: value}`` for the impression log (NaN becomes ``None``: JSON-safe)."""
    values = np.asarray(row, dtype=np.float64).ravel()
    if len(values) != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} feature values, got {len(values)}")
    rounded = np.round(values, 6).tolist()  # NaN stays NaN (and NaN != NaN)
    return {n: (None if v != v else v) for n, v in zip(FEATURE_NAMES, rounded, strict=True)}
