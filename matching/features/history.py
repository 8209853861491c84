"""Point-in-time history of the funnel: what was known strictly before ``as_of``.

:class:`History` aggregates the snapshot's time-sorted events before a cut (portfolio counts by
sector, region and stage, recent activity, exposure, pair engagement), so every history-derived
feature is point-in-time correct. Training builds one at the start of each period, serving at "now".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from matching.domain.sides import POSITIVE_GRADE
from matching.snapshot.core import EVENT, ROUND, MarketSnapshot
from matching.snapshot.derived import derived

logger = logging.getLogger(__name__)
INVESTED = EVENT["invested"]


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
    """The lookup tables of a snapshot (built once beside it: snapshots are not mutated after building)."""
    return derived(snap, f"pair_tables:{len(snap.sectors.names)}", lambda: _build_pair_tables(snap))


def _build_pair_tables(snap: MarketSnapshot) -> PairTables:
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
    return PairTables(n_sec, man_sector, man_cluster, generalist, ent_region, inv_place, man_district,
                      np.bitwise_count(snap.ent_quals.astype(np.uint64)).astype(np.int64), expected)


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
    """Round of each event (its own, else its need's; -1 unknown): the snapshot fills ``ev_round``."""
    return np.asarray(snap.ev_round[events], dtype=np.int64)


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
