"""Ranking features of an (investor, enterprise, need) pair, declared once, computed the same way everywhere.

:data:`FEATURES` declares each feature (name, Chinese and English label, meaning); the ranker's
artifact stores the ordered names and :func:`features_hash`, and refuses to load when they differ.
:func:`compute_features` is the one pure, vectorised function that training and serving both call.

Point in time: every history-derived value comes from a :class:`History`, built from the events
strictly before ``as_of``. Training builds it at the start of each period (see
:mod:`matching.dataset`), serving at "now". The profile fields (mandate, tier, financials) are the
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

import numpy as np
import scipy.sparse as sp

from matching.snapshot import EVENT, QUAL, ROUND, MarketSnapshot

logger = logging.getLogger(__name__)

__all__ = ["FEATURES", "FEATURE_NAMES", "FEATURE_INDEX", "POSITIVE_GRADE", "Feature", "History", "PairTables",
           "compute_features", "feature_values", "features_hash", "lookup_sorted", "pair_tables"]

#: Bumped when a feature's computation changes without a change of name or meaning.
FEATURES_VERSION = 1


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
      "cosine of the mandate embedding and the enterprise profile embedding"),
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
)
del F
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
FEATURE_INDEX: dict[str, int] = {n: i for i, n in enumerate(FEATURE_NAMES)}
LITTLE_GIANT = QUAL["little_giant"]
INVESTED = EVENT["invested"]


def features_hash() -> str:
    """A short hash of the declaration (names, meanings, version): the ranker artifact stores it."""
    text = "\n".join(f"{f.name}|{f.meaning}" for f in FEATURES) + f"\nv{FEATURES_VERSION}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


#: A pair is a past "deal" (portfolio entry) once it reached contact/meeting or beyond.
POSITIVE_GRADE = 3


@dataclass
class PairTables:
    """Per-snapshot lookup tables for vectorised pair features (built once, cached on the snapshot)."""

    n_sectors: int
    man_sector: np.ndarray  # bool [n_inv, n_sectors + 1]; the last column (sector -1) stays False
    man_cluster: np.ndarray  # bool [n_inv, n_clusters + 1]; the last column (cluster -1) stays False
    generalist: np.ndarray  # bool [n_inv]: mandate names no sector
    ent_region: np.ndarray  # place code: "d:<district>", else "p:<province>", else "c:<country>"
    inv_place: np.ndarray  # the investor's place code in the same code space, -1 when unknown
    man_district: np.ndarray  # bool [n_inv, n_places + 1]: preferred districts
    ent_nquals: np.ndarray
    expected_deals: np.ndarray  # deals a year the investor can do (NaN unknown)


def _place_key(district: str | None, province: str | None, country: str | None) -> str:
    if district:
        return f"d:{district}"
    if province:
        return f"p:{province.strip().lower()}"
    return f"c:{(country or 'CN').upper()}"


def pair_tables(snap: MarketSnapshot) -> PairTables:
    """The lookup tables of a snapshot (cached on it: snapshots are not mutated after building)."""
    cached: PairTables | None = getattr(snap, "_pair_tables", None)
    if cached is not None and cached.n_sectors == len(snap.sectors.names):
        return cached
    n_inv, n_sec = snap.n_investors, len(snap.sectors.names)
    n_cl = max([c for c in snap.sectors.cluster if c >= 0], default=-1) + 1
    man_sector = np.zeros((n_inv, n_sec + 1), dtype=bool)
    man_cluster = np.zeros((n_inv, n_cl + 1), dtype=bool)
    for i, (secs, cls) in enumerate(zip(snap.man_sectors, snap.man_clusters, strict=True)):
        man_sector[i, list(secs)] = True
        man_cluster[i, list(cls)] = True
    index: dict[str, int] = {}
    places = zip(snap.ent_district, snap.ent_province, snap.ent_country, strict=True)
    ent_region = np.fromiter((index.setdefault(_place_key(d, p, c), len(index)) for d, p, c in places),
                             dtype=np.int64, count=snap.n_enterprises)
    inv_place = np.array([index.get(_place_key(r.district_code, r.province, r.country), -1)
                          for r in snap.inv_record], dtype=np.int64)
    man_district = np.zeros((n_inv, len(index) + 1), dtype=bool)
    for i, ds in enumerate(snap.man_districts):
        man_district[i, [index[f"d:{d}"] for d in ds if f"d:{d}" in index]] = True
    lo, hi = snap.man_ticket_min, snap.man_ticket_max
    with np.errstate(invalid="ignore"):
        ticket = np.where(np.isnan(lo), hi, np.where(np.isnan(hi), lo, np.sqrt(lo * hi)))
        expected = np.maximum(snap.inv_aum / 5.0 / ticket, 1.0)  # a fund deploys over ~5 years
    generalist = np.array([not s for s in snap.man_sectors], dtype=bool)
    tables = PairTables(n_sec, man_sector, man_cluster, generalist, ent_region, inv_place, man_district,
                        np.bitwise_count(snap.ent_quals.astype(np.uint64)).astype(np.int64), expected)
    snap._pair_tables = tables  # type: ignore[attr-defined]
    return tables


def lookup_sorted(keys: np.ndarray, values: np.ndarray, query: np.ndarray, default: float = 0.0
                  ) -> np.ndarray:
    """Values at sorted unique ``keys`` for each query key (``default`` when absent)."""
    out = np.full(len(query), default, dtype=np.float64)
    if len(keys) == 0 or len(query) == 0:
        return out
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    hit = keys[pos] == query
    out[hit] = values[pos[hit]]
    return out


def event_rounds(snap: MarketSnapshot, events: slice = slice(None)) -> np.ndarray:
    """Round of each event: the snapshot's ``ev_round`` when it has one, else its need's round (-1)."""
    own = getattr(snap, "ev_round", None)
    if own is not None:
        return np.asarray(own[events], dtype=np.int64)
    need = snap.ev_need[events]
    out = np.full(len(need), -1, dtype=np.int64)
    has = need >= 0
    out[has] = snap.need_round[need[has]]
    return out


@dataclass
class History:
    """Point-in-time aggregates of the funnel: only events strictly before ``as_of`` (days).

    Build with :meth:`build`; every lookup is vectorised over pairs.
    """

    as_of: float
    n_ent: int
    pair_keys: np.ndarray  # sorted ``inv * n_ent + ent`` of every pair with an event
    pair_max: np.ndarray  # highest grade the pair reached
    inv_npos: np.ndarray  # positive pairs (grade >= POSITIVE_GRADE) per investor
    inv_nround: np.ndarray  # positive (pair, round) deals with a known round per investor
    inv_recent_90d: np.ndarray
    inv_invested_365d: np.ndarray
    ent_recent_30d: np.ndarray
    ent_popularity: np.ndarray
    sector_counts: tuple[np.ndarray, np.ndarray]  # keys inv * (n_sec + 1) + sector, counts
    region_counts: tuple[np.ndarray, np.ndarray]  # keys inv * n_places + place, counts
    round_counts: tuple[np.ndarray, np.ndarray]  # keys inv * n_rounds + round, counts
    n_sec1: int
    n_places: int
    portfolio: np.ndarray | None = None  # L2-normalised mean embedding of each investor's positives
    ent_vecs: np.ndarray | None = None

    @classmethod
    def build(cls, snap: MarketSnapshot, as_of: float, *, ent_vecs: np.ndarray | None = None) -> History:
        """Aggregate the snapshot's events strictly before ``as_of``.

        Args:
            snap: the snapshot (its events are time-sorted).
            as_of: the point in time, days since epoch; nothing at or after it is read.
            ent_vecs: L2-normalised enterprise embeddings (row-aligned); enables ``portfolio_sim``.
        """
        sl = snap.events_before(as_of)
        inv, ent = snap.ev_inv[sl], snap.ev_ent[sl]
        ok = (inv >= 0) & (ent >= 0)
        inv, ent = inv[ok], ent[ok]
        grade = snap.ev_grade[sl][ok].astype(np.int64)
        time, kind, rnd = snap.ev_time[sl][ok], snap.ev_type[sl][ok], event_rounds(snap, sl)[ok]
        n_inv, n_ent = snap.n_investors, snap.n_enterprises
        t = pair_tables(snap)
        key = inv * n_ent + ent
        order = np.lexsort((grade, key))
        ks = key[order]
        last = np.r_[np.flatnonzero(ks[1:] != ks[:-1]), len(ks) - 1] if len(ks) else ks[:0]
        pair_keys, pair_max = ks[last], grade[order][last]
        pos = pair_keys[pair_max >= POSITIVE_GRADE]
        pinv, pent = pos // n_ent, pos % n_ent
        sec = snap.ent_sector[pent]
        n_sec1, n_places, n_rounds = t.n_sectors + 1, int(t.man_district.shape[1]), len(ROUND)
        deal = np.unique(key[(grade >= POSITIVE_GRADE) & (rnd >= 0)] * n_rounds
                         + rnd[(grade >= POSITIVE_GRADE) & (rnd >= 0)])
        dinv = deal // n_rounds // n_ent
        portfolio = None
        if ent_vecs is not None:
            m = sp.csr_matrix((np.ones(len(pinv), dtype=np.float32), (pinv, pent)), shape=(n_inv, n_ent))
            portfolio = np.asarray(m @ ent_vecs, dtype=np.float32)
            norm = np.linalg.norm(portfolio, axis=1, keepdims=True)
            portfolio = np.divide(portfolio, norm, out=np.zeros_like(portfolio), where=norm > 0)
        return cls(
            as_of=float(as_of), n_ent=n_ent, pair_keys=pair_keys, pair_max=pair_max,
            inv_npos=np.bincount(pinv, minlength=n_inv), inv_nround=np.bincount(dinv, minlength=n_inv),
            inv_recent_90d=np.bincount(inv[time >= as_of - 90], minlength=n_inv),
            inv_invested_365d=np.bincount(inv[(kind == INVESTED) & (time >= as_of - 365)], minlength=n_inv),
            ent_recent_30d=np.bincount(ent[time >= as_of - 30], minlength=n_ent),
            ent_popularity=np.bincount(pair_keys % n_ent if n_ent else pair_keys, minlength=n_ent),
            sector_counts=np.unique(pinv[sec >= 0] * n_sec1 + sec[sec >= 0], return_counts=True),
            region_counts=np.unique(pinv * n_places + t.ent_region[pent], return_counts=True),
            round_counts=np.unique(dinv * n_rounds + deal % n_rounds, return_counts=True),
            n_sec1=n_sec1, n_places=n_places, portfolio=portfolio, ent_vecs=ent_vecs,
        )

    def pairs(self, min_grade: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(inv_rows, ent_rows, max_grade)`` of pairs that reached at least ``min_grade``."""
        m = self.pair_max >= min_grade
        keys = self.pair_keys[m]
        return keys // self.n_ent, keys % self.n_ent, self.pair_max[m]

    def pair_grade(self, inv: np.ndarray, ent: np.ndarray) -> np.ndarray:
        """Highest grade each pair reached before ``as_of`` (NaN when the pair never met)."""
        return lookup_sorted(self.pair_keys, self.pair_max, inv * self.n_ent + ent, np.nan)

    def sector_count(self, inv: np.ndarray, sector: np.ndarray) -> np.ndarray:
        """Positive pairs of each investor in the sector (NaN for an unknown sector)."""
        out = lookup_sorted(*self.sector_counts, inv * self.n_sec1 + np.where(sector < 0, 0, sector))
        return np.where(sector < 0, np.nan, out)

    def region_count(self, inv: np.ndarray, place: np.ndarray) -> np.ndarray:
        """Positive pairs of each investor in the place (district, else province/state)."""
        return lookup_sorted(*self.region_counts, inv * self.n_places + place)

    def round_count(self, inv: np.ndarray, rnd: np.ndarray) -> np.ndarray:
        """Positive (pair, round) deals of each investor at the round (NaN for an unknown round)."""
        out = lookup_sorted(*self.round_counts, inv * len(ROUND) + np.maximum(rnd, 0))
        return np.where(rnd < 0, np.nan, out)

    def portfolio_sim(self, inv: np.ndarray, ent: np.ndarray) -> np.ndarray:
        """Cosine of each enterprise with its investor's past-deal centroid (NaN without one)."""
        if self.portfolio is None or self.ent_vecs is None:
            return np.full(len(inv), np.nan)
        out = np.einsum("ij,ij->i", self.portfolio[inv], self.ent_vecs[ent]).astype(np.float64)
        return np.where(self.inv_npos[inv] > 0, out, np.nan)


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

    # content and collaborative signals
    put("semantic_sim", np.asarray(sim, dtype=np.float64))
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
    with np.errstate(invalid="ignore"):
        put("ent_log_revenue", np.log10(1.0 + np.maximum(snap.ent_revenue[ent], 0.0)))
        put("ent_growth", np.clip(snap.ent_growth[ent], -1.0, 10.0))
        put("ent_rd_ratio", snap.ent_rd[ent])
        put("ent_log_patents", np.log1p(np.maximum(snap.ent_patents[ent], 0.0)))
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
    return out


def feature_values(row: np.ndarray) -> dict[str, float | None]:
    """One feature row as ``{name: value}`` for the impression log (NaN becomes ``None``: JSON-safe)."""
    values = np.asarray(row, dtype=np.float64).ravel()
    if len(values) != len(FEATURES):
        raise ValueError(f"expected {len(FEATURES)} feature values, got {len(values)}")
    pairs = zip(FEATURE_NAMES, values, strict=True)
    return {n: (None if np.isnan(v) else round(float(v), 6)) for n, v in pairs}
