"""Learning-to-rank data from the funnel, cut in time (never at random).

``[start, end)`` is cut into periods. For each period and each *query* (an investor, or an
enterprise for the other direction) with events in it:

* positives are the pairs with events in the period, labelled by the highest grade reached in it
  (a dismissal or decline gives an observed 0);
* negatives are sampled pairs without events in the period, from the query's eligible candidates
  as they stood in the period (half "hard": among the most similar ones, half at random), labelled
  0; only a query with no eligible candidate at all draws them from all live candidates (serving
  ranks eligible candidates only, so ineligible negatives would teach the rules, not preferences);
* features come from :func:`~matching.features.table.compute_features` with a
  :class:`~matching.features.table.History` built at the period's start, so nothing at or after it is
  read: the label's own events can never leak into its features.

Eligibility is evaluated as of the period: a need counts as live from its opening to its closing
date whatever its status today (today's status would tell which needs got funded later).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from matching.domain.sides import Side
from matching.features.collaborative import CollaborativeModel
from matching.features.table import FEATURE_NAMES, FEATURES, History, pair_features
from matching.rules.constraints import OLD_SHARES, needs_open_in
from matching.rules.eligibility import Statuses
from matching.rules.static import PeriodEligibility
from matching.snapshot.asof import snapshot_at, vectors_at
from matching.snapshot.core import MarketSnapshot

logger = logging.getLogger(__name__)

@dataclass
class RankingData:
    """Grouped ranking data; rows of one query are contiguous, queries in time order.

    Attributes:
        direction: ``investor`` (queries are investors, candidates enterprises) or ``enterprise``.
        X: ``float32`` features ``(n, len(FEATURES))``; y: grades 0–5; group: rows per query.
        qid: query number per row; query: the query party's row per row.
        inv, ent, need: the pair's rows (need ``-1`` without one).
        as_of: per row, the period start the features were computed at.
        event_time: per row, time of the highest-grade event (NaN for sampled negatives).
        window: ``(start, end)`` in days.
    """

    direction: str
    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    qid: np.ndarray
    query: np.ndarray
    inv: np.ndarray
    ent: np.ndarray
    need: np.ndarray
    as_of: np.ndarray
    event_time: np.ndarray
    window: tuple[float, float]
    feature_names: tuple[str, ...] = field(default=FEATURE_NAMES)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def n_queries(self) -> int:
        """Number of queries (groups)."""
        return len(self.group)

    def column(self, name: str) -> np.ndarray:
        """One feature column by name."""
        return self.X[:, self.feature_names.index(name)]


def _empty(direction: str, window: tuple[float, float]) -> RankingData:
    i64, f64 = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    return RankingData(direction, np.zeros((0, len(FEATURES)), dtype=np.float32), np.zeros(0, dtype=np.int32),
                       i64, i64, i64, i64, i64, i64, f64, f64, window)


def time_split(snap: MarketSnapshot, train_end: float, valid_end: float, *, start: float | None = None,
               end: float | None = None) -> dict[str, tuple[float, float]]:
    """Consecutive ``train`` / ``valid`` / ``test`` windows ``(start, end)`` in days.

    Args:
        train_end, valid_end: the cut points (days since epoch).
        start, end: default the first event and just after the last one.

    Raises:
        ValueError: when the windows are not in time order.
    """
    first = float(snap.ev_time[0]) if len(snap.ev_time) else float(train_end)
    last = float(snap.ev_time[-1]) + 1e-6 if len(snap.ev_time) else float(valid_end)
    start = first if start is None else start
    end = max(last, valid_end) if end is None else end
    if not start < train_end < valid_end <= end:
        raise ValueError(f"windows out of order: start {start:.1f} < train_end {train_end:.1f} < valid_end "
                         f"{valid_end:.1f} <= end {end:.1f} is required (days since epoch)")
    return {"train": (start, train_end), "valid": (train_end, valid_end), "test": (valid_end, end)}


def last_days_split(snap: MarketSnapshot, *, valid_days: float = 60.0, test_days: float = 60.0
                    ) -> dict[str, tuple[float, float]]:
    """:func:`time_split`: the last ``test_days`` for test, the ``valid_days`` before for validation."""
    end = float(snap.ev_time[-1]) + 1e-6
    return time_split(snap, end - test_days - valid_days, end - test_days, end=end)


def build_ranking_data(snap: MarketSnapshot, direction: Side | str, start: float, end: float, *,
                       ent_vecs: np.ndarray, man_vecs: np.ndarray, negatives_per_query: int = 20,
                       seed: int = 0, period_days: float = 30.0, hard_fraction: float = 0.5,
                       eligible_only: bool = True) -> RankingData:
    """Ranking data of one direction over ``[start, end)`` (days), period by period.

    Args:
        snap: the market snapshot with the full event history.
        direction: ``investor`` or ``enterprise``.
        ent_vecs, man_vecs: L2-normalised embeddings row-aligned with enterprises / investors.
        negatives_per_query: sampled negatives per query.
        seed: sampling seed (same seed, same data).
        period_days: period length; features of a period use the History at its start.
        hard_fraction: share of negatives drawn among the most similar eligible candidates.
        eligible_only: keep only positive pairs that pass the hard constraints in their period
            (serving ranks eligible candidates only; with eligible negatives, ineligible positives
            would teach "outside the mandate means interested").
    """
    return build_ranking_sets(snap, (direction,), start, end, ent_vecs=ent_vecs, man_vecs=man_vecs,
                              negatives_per_query=negatives_per_query, seed=seed, period_days=period_days,
                              hard_fraction=hard_fraction, eligible_only=eligible_only)[direction]


def build_ranking_sets(snap: MarketSnapshot, directions: Sequence[Side | str], start: float, end: float, *,
                       ent_vecs: np.ndarray, man_vecs: np.ndarray, negatives_per_query: int = 20,
                       seed: int = 0, period_days: float = 30.0, hard_fraction: float = 0.5,
                       eligible_only: bool = True, map_periods: PeriodMap | None = None) -> dict[str, RankingData]:
    """:func:`build_ranking_data` of several directions in one pass over the periods.

    The directions share each period's pairs, eligibility, History and collaborative model (the
    costly parts); each direction samples with its own generator, seeded as when built alone, so
    ``build_ranking_sets(…)[d]`` equals ``build_ranking_data(…, d, …)`` row for row.
    ``map_periods`` runs :func:`period_rows` over the periods (default: here, in order); the parts are
    assembled in period order whatever runs them.
    """
    for d in directions:
        if d not in tuple(Side):
            raise ValueError(f"direction: {d!r}: allowed: {', '.join(Side)}")
    sides = [Side(d).value for d in directions]  # plain strings: RankingData.direction is saved as text
    if not end > start or period_days <= 0:
        raise ValueError(f"need start < end and period_days > 0, got [{start}, {end}), {period_days}")
    periods = [(p, float(t0), float(min(t0 + period_days, end)))
               for p, t0 in enumerate(np.arange(start, end, period_days))]
    shared = {"snap": snap, "directions": tuple(sides), "ent_vecs": ent_vecs, "man_vecs": man_vecs,
              "negatives_per_query": negatives_per_query, "seed": seed, "hard_fraction": hard_fraction,
              "eligible_only": eligible_only}
    results = (map_periods or map_in_process)(period_rows, periods, shared)
    return {d: assemble_parts(d, [r[d] for r in results if r.get(d) is not None], start, end) for d in sides}


#: How the periods are run: ``map_periods(fn, items, shared)`` returns ``[fn(item, **shared) for item in
#: items]`` in order, in this process (:func:`map_in_process`) or elsewhere (``training.cluster``: a Dask
#: task per period). ``shared`` holds the arguments every item reads (the snapshot, the vectors).
PeriodMap = Callable[[Callable[..., Any], Sequence[Any], Mapping[str, Any]], list[Any]]


def map_in_process(fn: Callable[..., Any], items: Sequence[Any], shared: Mapping[str, Any]) -> list[Any]:
    """:data:`PeriodMap` in this process, one item after the other."""
    return [fn(item, **shared) for item in items]


def period_rows(period: tuple[int, float, float], *, snap: MarketSnapshot, directions: Sequence[str],
                ent_vecs: np.ndarray, man_vecs: np.ndarray, negatives_per_query: int, seed: int,
                hard_fraction: float, eligible_only: bool) -> dict[str, dict[str, np.ndarray] | None]:
    """One period's row columns per direction (``None`` where it has none): the unit of work of
    :func:`build_ranking_sets`, a pure function of its arguments (period ``(p, t0, t1)``: its number
    seeds the sampling, so a period's rows do not depend on where or in which order it runs)."""
    p, t0, t1 = period
    built = _Period.build(snap, t0, t1, eligible_only)
    if built is None:
        return {d: None for d in directions}
    return {d: built.rows(d, ent_vecs, man_vecs, negatives_per_query, np.random.default_rng([seed, p]),
                          hard_fraction) for d in directions}


def assemble_parts(direction: str, parts: list[dict[str, np.ndarray]], start: float, end: float) -> RankingData:
    """One :class:`RankingData` of window ``[start, end)`` from parts of row columns, one group per
    entry of each part's ``sizes`` (empty data without parts)."""
    if not parts:
        return _empty(direction, (start, end))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    sizes = cols["sizes"]
    data = RankingData(direction, cols["X"], cols["y"].astype(np.int32), sizes,
                       np.repeat(np.arange(len(sizes)), sizes), cols["query"], cols["inv"], cols["ent"],
                       cols["need"], cols["as_of"], cols["event_time"], (start, end))
    logger.info("%s ranking data [%.0f, %.0f): %d queries, %d rows, %d positives", direction, start, end,
                data.n_queries, len(data), int((data.y > 0).sum()))
    return data


class _Grouped:
    """Values grouped by an integer key, looked up per key by binary search (no scan per lookup)."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.values = keys[order], values[order]

    def __getitem__(self, key: int) -> np.ndarray:
        lo, hi = np.searchsorted(self.keys, [key, key + 1])
        return self.values[lo:hi]


@dataclass
class _Period:
    """One period's pairs and eligibility, shared by both directions; History and collaborative
    model built on first use (once per period, whatever the number of directions)."""

    snap: MarketSnapshot
    t0: float
    p_inv: np.ndarray
    p_ent: np.ndarray
    p_y: np.ndarray
    p_need: np.ndarray
    p_time: np.ndarray
    seen_by_inv: _Grouped  # every pair met in the period (never a sampled negative), by investor
    seen_by_ent: _Grouped
    default_need: np.ndarray
    live_ent: np.ndarray
    elig: PeriodEligibility
    _history: tuple[History, np.ndarray, CollaborativeModel] | None = None

    @classmethod
    def build(cls, snap: MarketSnapshot, t0: float, t1: float, eligible_only: bool) -> _Period | None:
        snap = snapshot_at(snap, t0)  # the mandates valid at the period's start, not today's
        lo, hi = np.searchsorted(snap.ev_time, [t0, t1], side="left")
        ev = slice(int(lo), int(hi))
        inv, ent = snap.ev_inv[ev], snap.ev_ent[ev]
        ok = (inv >= 0) & (ent >= 0)
        if len(snap.need_id):  # secondary listings and old shares are the S-fund path, not this one
            ev_need = snap.ev_need[ev]
            ok &= (ev_need >= 0) & (snap.need_instr[np.maximum(ev_need, 0)] != OLD_SHARES)
        if not ok.any():
            return None
        inv, ent, grade = inv[ok], ent[ok], snap.ev_grade[ev][ok].astype(np.int64)
        need, time = snap.ev_need[ev][ok], snap.ev_time[ev][ok]
        key = inv * snap.n_enterprises + ent
        order = np.lexsort((time, grade, key))  # within a pair: highest grade last, the latest of those
        ks = key[order]
        last = order[np.r_[np.flatnonzero(ks[1:] != ks[:-1]), len(ks) - 1]]
        p_inv, p_ent, p_y, p_need, p_time = inv[last], ent[last], grade[last], need[last], time[last]
        default_need = _latest_need(snap, needs_open_in(snap, t0, t1))
        p_need = np.where(p_need >= 0, p_need, default_need[p_ent])
        live_ent = ~(snap.ent_created >= t1)
        elig = PeriodEligibility(snap, Statuses.period(snap, t0, t1, inv, ent))  # the statuses as they stood then
        seen = (_Grouped(p_inv, p_ent), _Grouped(p_ent, p_inv))
        if eligible_only:  # the served task: rank eligible candidates (serving never shows the others)
            keep = elig.pairs(p_inv, p_ent, p_need)
            p_inv, p_ent, p_y, p_need, p_time = p_inv[keep], p_ent[keep], p_y[keep], p_need[keep], p_time[keep]
        return cls(snap, t0, p_inv, p_ent, p_y, p_need, p_time, *seen, default_need, live_ent, elig)

    def history(self, ent_vecs: np.ndarray) -> tuple[History, CollaborativeModel]:
        if self._history is None or self._history[1] is not ent_vecs:
            hist = History.build(self.snap, self.t0, ent_vecs=ent_vecs)
            self._history = (hist, ent_vecs, CollaborativeModel().fit(self.snap, hist))
        return self._history[0], self._history[2]

    def rows(self, direction: str, ent_vecs: np.ndarray, man_vecs: np.ndarray, n_neg: int,
             rng: np.random.Generator, hard_fraction: float) -> dict[str, np.ndarray] | None:
        """One direction's rows: per query its positives and sampled negatives, with features."""
        snap, elig = self.snap, self.elig
        man_vecs = vectors_at(snap, man_vecs)  # the embeddings of the mandates valid then
        p_inv, p_ent, p_y, p_need, p_time = self.p_inv, self.p_ent, self.p_y, self.p_need, self.p_time
        query_of = p_inv if direction == Side.INVESTOR else p_ent
        order = np.argsort(query_of, kind="stable")  # rows of a query stay in their original order
        qs = query_of[order]
        if not len(qs):
            return None
        starts = np.flatnonzero(np.r_[True, qs[1:] != qs[:-1]])
        bounds = np.r_[starts, len(qs)]
        best = np.maximum.reduceat(p_y[order], starts)
        taken = np.zeros(snap.n_enterprises if direction == Side.INVESTOR else snap.n_investors, dtype=bool)
        rows: list[tuple[np.ndarray, ...]] = []
        for j in np.flatnonzero(best > 0):  # a group of zeros teaches nothing
            q = int(qs[starts[j]])
            sel = order[bounds[j]:bounds[j + 1]]
            if direction == Side.INVESTOR:
                pool_ent, pool_need, sims = elig.for_investor(q, ent_vecs, man_vecs)
                seen = self.seen_by_inv[q]
                taken[seen] = True
                fresh = ~taken[pool_ent]
                taken[seen] = False
                pool_ent, pool_need = pool_ent[fresh], pool_need[fresh]
                sims = sims[fresh] if sims is not None else ent_vecs[pool_ent] @ man_vecs[q]
                pick = _sample(rng, len(pool_ent), sims, n_neg, hard_fraction)
                n_ent_neg, n_inv_neg = pool_ent[pick], np.full(len(pick), q)
                neg_need = pool_need[pick]
                if len(pool_ent) == 0:  # nothing eligible (e.g. no mandate fits): other live needs or enterprises
                    dn = self.default_need
                    other = np.flatnonzero(dn >= 0) if len(snap.need_id) else np.flatnonzero(self.live_ent)
                    other = other[~np.isin(other, np.concatenate([seen, n_ent_neg]))]
                    extra = rng.choice(other, size=min(n_neg - len(pick), len(other)), replace=False)
                    n_ent_neg, n_inv_neg = np.r_[n_ent_neg, extra], np.r_[n_inv_neg, np.full(len(extra), q)]
                    neg_need = np.r_[neg_need, dn[extra]]
            else:
                q_need = int(p_need[sel[np.argmax(p_y[sel])]])
                pool_inv = elig.for_enterprise(q, q_need)
                seen = self.seen_by_ent[q]
                taken[seen] = True
                pool_inv = pool_inv[~taken[pool_inv]]
                taken[seen] = False
                sims = man_vecs[pool_inv] @ ent_vecs[q] if len(pool_inv) > n_neg else pool_inv[:0]
                pick = _sample(rng, len(pool_inv), sims, n_neg, hard_fraction)
                n_inv_neg = pool_inv[pick]
                if len(pool_inv) == 0:
                    other = np.flatnonzero(snap.inv_active)
                    other = other[~np.isin(other, np.concatenate([seen, n_inv_neg]))]
                    n_inv_neg = np.r_[n_inv_neg, rng.choice(other, size=min(n_neg - len(pick), len(other)),
                                                            replace=False)]
                n_ent_neg = np.full(len(n_inv_neg), q)
                neg_need = np.full(len(n_inv_neg), q_need)
            k = len(n_inv_neg)
            mix = rng.permutation(len(sel) + k)  # positives first would win every tie in a metric's sort
            cat = np.concatenate
            rows.append((cat((p_inv[sel], n_inv_neg))[mix], cat((p_ent[sel], n_ent_neg))[mix],
                         cat((p_need[sel], neg_need))[mix], cat((p_y[sel], np.zeros(k, dtype=np.int64)))[mix],
                         cat((p_time[sel], np.full(k, np.nan)))[mix], np.full(len(sel) + k, q)))
        if not rows:
            return None
        a_inv, a_ent, a_need, a_y, a_time, a_query = (np.concatenate(c) for c in zip(*rows, strict=True))
        a_inv, a_ent, a_need = a_inv.astype(np.int64), a_ent.astype(np.int64), a_need.astype(np.int64)
        hist, collab = self.history(ent_vecs)
        X, _ = pair_features(snap, hist, a_inv, a_ent, a_need, man_vecs=man_vecs, ent_vecs=ent_vecs, collab=collab)
        return {"X": X, "y": a_y, "query": a_query.astype(np.int64), "inv": a_inv, "ent": a_ent, "need": a_need,
                "as_of": np.full(len(a_y), self.t0), "event_time": a_time,
                "sizes": np.array([len(r[0]) for r in rows], dtype=np.int64)}


def _latest_need(snap: MarketSnapshot, live: np.ndarray) -> np.ndarray:
    """Per enterprise, its live need opened last (-1 without one)."""
    out = np.full(snap.n_enterprises, -1, dtype=np.int64)
    rows = np.flatnonzero(live & (snap.need_ent >= 0))
    order = rows[np.lexsort((np.nan_to_num(snap.need_opened[rows], nan=-np.inf), snap.need_ent[rows]))]
    ents = snap.need_ent[order]
    last = np.r_[ents[1:] != ents[:-1], True] if len(ents) else np.zeros(0, dtype=bool)
    out[ents[last]] = order[last]  # the last of each enterprise's run: its latest-opened need
    return out  # (not a repeated-index assignment: NumPy does not promise which write wins)


def _top(neg: np.ndarray, m: int) -> np.ndarray:
    """``np.argsort(neg, kind="stable")[:m]`` without sorting all of ``neg`` (ties kept in row order)."""
    if m <= 0:
        return np.zeros(0, dtype=np.int64)
    if m >= len(neg):
        return np.argsort(neg, kind="stable")
    cut = np.partition(neg, m - 1)[m - 1]
    if np.isnan(cut):
        return np.argsort(neg, kind="stable")[:m]
    near = np.flatnonzero(neg <= cut)  # every row that can be in the first m, ties at the cut included
    return near[np.argsort(neg[near], kind="stable")][:m]


def _sample(rng: np.random.Generator, n: int, sims: np.ndarray, k: int, hard_fraction: float) -> np.ndarray:
    """Indices of ``k`` of ``n`` candidates: some among the 3k most similar, the rest at random."""
    if n <= k:
        return np.arange(n)
    n_hard = int(round(k * hard_fraction))
    top = _top(-sims, 3 * n_hard)
    hard = rng.choice(top, size=min(n_hard, len(top)), replace=False) if n_hard else top[:0]
    rest = np.ones(n, dtype=bool)
    rest[hard] = False
    return np.r_[hard, rng.choice(np.flatnonzero(rest), size=k - len(hard), replace=False)].astype(np.int64)


def concat(parts: Sequence[RankingData]) -> RankingData:
    """Several ranking data sets of one direction as one (queries renumbered, order kept)."""
    parts = [p for p in parts if len(p)]
    if not parts:
        raise ValueError("concat needs at least one non-empty part")
    sizes = np.concatenate([p.group for p in parts])
    return RankingData(parts[0].direction, np.concatenate([p.X for p in parts]),
                       np.concatenate([p.y for p in parts]), sizes, np.repeat(np.arange(len(sizes)), sizes),
                       *(np.concatenate([getattr(p, a) for p in parts])
                         for a in ("query", "inv", "ent", "need", "as_of", "event_time")),
                       (min(p.window[0] for p in parts), max(p.window[1] for p in parts)))
