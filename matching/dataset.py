"""Learning-to-rank data from the funnel, cut in time (never at random).

``[start, end)`` is cut into periods. For each period and each *query* (an investor, or an
enterprise for the other direction) with events in it:

* positives are the pairs with events in the period, labelled by the highest grade reached in it
  (a dismissal or decline gives an observed 0);
* negatives are sampled pairs without events in the period, from the query's eligible candidates
  as they stood in the period (half "hard": among the most similar ones, half at random), labelled
  0; only a query with no eligible candidate at all draws them from all live candidates (serving
  ranks eligible candidates only, so ineligible negatives would teach the rules, not preferences);
* features come from :func:`~matching.features.compute_features` with a
  :class:`~matching.features.History` built at the period's start, so nothing at or after it is
  read: the label's own events can never leak into its features.

Eligibility is evaluated as of the period: a need counts as live from its opening to its closing
date whatever its status today (today's status would tell which needs got funded later).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np

from matching.candidates import PairRules
from matching.collaborative import CollaborativeModel
from matching.constraints import OLD_SHARES, eligible_enterprises, eligible_needs
from matching.features import FEATURE_NAMES, FEATURES, History, compute_features
from matching.snapshot import MarketSnapshot, to_days

logger = logging.getLogger(__name__)
Direction = Literal["investor", "enterprise"]
DIRECTIONS: tuple[str, ...] = ("investor", "enterprise")


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


def build_ranking_data(snap: MarketSnapshot, direction: Direction, start: float, end: float, *,
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
    if direction not in DIRECTIONS:
        raise ValueError(f"direction: {direction!r}: allowed: {', '.join(DIRECTIONS)}")
    if not end > start or period_days <= 0:
        raise ValueError(f"need start < end and period_days > 0, got [{start}, {end}), {period_days}")
    parts = []
    for p, t0 in enumerate(np.arange(start, end, period_days)):
        part = _period(snap, direction, float(t0), float(min(t0 + period_days, end)), ent_vecs, man_vecs,
                       negatives_per_query, np.random.default_rng([seed, p]), hard_fraction, eligible_only)
        if part is not None:
            parts.append(part)
    if not parts:
        return _empty(direction, (start, end))
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    sizes = np.concatenate([p["sizes"] for p in parts])
    data = RankingData(direction, cols["X"], cols["y"].astype(np.int32), sizes,
                       np.repeat(np.arange(len(sizes)), sizes), cols["query"], cols["inv"], cols["ent"],
                       cols["need"], cols["as_of"], cols["event_time"], (start, end))
    logger.info("%s ranking data [%.0f, %.0f): %d queries, %d rows, %d positives", direction, start, end,
                data.n_queries, len(data), int((data.y > 0).sum()))
    return data


def _period(snap: MarketSnapshot, direction: str, t0: float, t1: float, ent_vecs: np.ndarray,
            man_vecs: np.ndarray, n_neg: int, rng: np.random.Generator, hard_fraction: float,
            eligible_only: bool) -> dict[str, np.ndarray] | None:
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
    live_need = ~(snap.need_opened >= t1) & ~(snap.need_closes < t0)
    default_need = _latest_need(snap, live_need)
    p_need = np.where(p_need >= 0, p_need, default_need[p_ent])
    view = copy.copy(snap)  # shallow: only the statuses differ (as they stood in the period)
    view.need_open = live_need
    view.inv_active = snap.inv_active.copy()  # an investor with events in the period was active then
    view.inv_active[inv] = True
    view.ent_active = snap.ent_active.copy()  # likewise an enterprise (listed or closed only since then)
    view.ent_active[ent] = True
    live_ent = ~(snap.ent_created >= t1)
    elig = _Eligibility(view, t0, live_ent)
    seen_inv, seen_ent = p_inv, p_ent  # every pair met in the period: never a sampled negative
    if eligible_only:  # the served task: rank eligible candidates (serving never shows the others)
        keep = np.array([elig.pair(int(i), int(e), int(n))
                         for i, e, n in zip(p_inv, p_ent, p_need, strict=True)], dtype=bool)
        p_inv, p_ent, p_y, p_need, p_time = p_inv[keep], p_ent[keep], p_y[keep], p_need[keep], p_time[keep]
    query_of = p_inv if direction == "investor" else p_ent
    # a group of zeros teaches nothing
    queries = [q for q in np.unique(query_of) if p_y[query_of == q].max() > 0]
    if not queries:
        return None
    rows: list[tuple[np.ndarray, ...]] = []
    for q in queries:
        sel = np.flatnonzero(query_of == q)
        if direction == "investor":
            pool_ent, pool_need = elig.for_investor(int(q))
            fresh = ~np.isin(pool_ent, seen_ent[seen_inv == q])
            pool_ent, pool_need = pool_ent[fresh], pool_need[fresh]
            sims = ent_vecs[pool_ent] @ man_vecs[q]
            pick = _sample(rng, len(pool_ent), sims, n_neg, hard_fraction)
            n_ent_neg, n_inv_neg = pool_ent[pick], np.full(len(pick), q)
            neg_need = pool_need[pick]
            if len(pool_ent) == 0:  # nothing eligible (e.g. no mandate fits): other live needs or enterprises
                other = np.flatnonzero(default_need >= 0) if len(snap.need_id) else np.flatnonzero(live_ent)
                other = other[~np.isin(other, np.concatenate([seen_ent[seen_inv == q], n_ent_neg]))]
                extra = rng.choice(other, size=min(n_neg - len(pick), len(other)), replace=False)
                n_ent_neg, n_inv_neg = np.r_[n_ent_neg, extra], np.r_[n_inv_neg, np.full(len(extra), q)]
                neg_need = np.r_[neg_need, default_need[extra]]
        else:
            q_need = int(p_need[sel[np.argmax(p_y[sel])]])
            pool_inv = elig.for_enterprise(int(q), q_need)
            pool_inv = pool_inv[~np.isin(pool_inv, seen_inv[seen_ent == q])]
            sims = man_vecs[pool_inv] @ ent_vecs[q]
            pick = _sample(rng, len(pool_inv), sims, n_neg, hard_fraction)
            n_inv_neg = pool_inv[pick]
            if len(pool_inv) == 0:
                other = np.flatnonzero(snap.inv_active)
                other = other[~np.isin(other, np.concatenate([seen_inv[seen_ent == q], n_inv_neg]))]
                n_inv_neg = np.r_[n_inv_neg, rng.choice(other, size=min(n_neg - len(pick), len(other)),
                                                        replace=False)]
            n_ent_neg = np.full(len(n_inv_neg), q)
            neg_need = np.full(len(n_inv_neg), q_need)
        k = len(n_inv_neg)
        mix = rng.permutation(len(sel) + k)  # positives first would win every tie in a metric's sort
        rows.append(tuple(a[mix] for a in (
            np.r_[p_inv[sel], n_inv_neg], np.r_[p_ent[sel], n_ent_neg], np.r_[p_need[sel], neg_need],
            np.r_[p_y[sel], np.zeros(k, dtype=np.int64)], np.r_[p_time[sel], np.full(k, np.nan)],
            np.full(len(sel) + k, q))))
    a_inv, a_ent, a_need, a_y, a_time, a_query = (np.concatenate(c) for c in zip(*rows, strict=True))
    a_inv, a_ent, a_need = a_inv.astype(np.int64), a_ent.astype(np.int64), a_need.astype(np.int64)
    hist = History.build(snap, t0, ent_vecs=ent_vecs)
    collab = CollaborativeModel().fit(snap, hist)
    sim = np.einsum("ij,ij->i", man_vecs[a_inv], ent_vecs[a_ent])
    X = compute_features(snap, hist, a_inv, a_ent, a_need, sim=sim, collab=collab.score(a_inv, a_ent))
    return {"X": X, "y": a_y, "query": a_query.astype(np.int64), "inv": a_inv, "ent": a_ent, "need": a_need,
            "as_of": np.full(len(a_y), t0), "event_time": a_time,
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


def _sample(rng: np.random.Generator, n: int, sims: np.ndarray, k: int, hard_fraction: float) -> np.ndarray:
    """Indices of ``k`` of ``n`` candidates: some among the 3k most similar, the rest at random."""
    if n <= k:
        return np.arange(n)
    n_hard = int(round(k * hard_fraction))
    top = np.argsort(-sims, kind="stable")[:3 * n_hard]
    hard = rng.choice(top, size=min(n_hard, len(top)), replace=False) if n_hard else top[:0]
    rest = np.setdiff1d(np.arange(n), hard)
    return np.r_[hard, rng.choice(rest, size=k - len(hard), replace=False)].astype(np.int64)


class _Eligibility:
    """Hard-constraint eligibility in one period, computed lazily per investor."""

    def __init__(self, view: MarketSnapshot, t0: float, live_ent: np.ndarray) -> None:
        self.view, self.t0, self.live_ent = view, t0, live_ent
        self._needs: dict[int, np.ndarray] = {}
        self._ents: dict[int, np.ndarray] = {}
        self._rules: PairRules | None = None

    def needs(self, inv: int) -> np.ndarray:
        """Bool over needs."""
        if inv not in self._needs:
            self._needs[inv] = eligible_needs(self.view, inv, as_of=self.t0)
        return self._needs[inv]

    def ents(self, inv: int) -> np.ndarray:
        """Bool over enterprises (enterprise-level rules, for data without needs)."""
        if inv not in self._ents:
            self._ents[inv] = eligible_enterprises(self.view, inv) & self.live_ent
        return self._ents[inv]

    def pair(self, inv: int, ent: int, need: int) -> bool:
        """Whether one pair is eligible (by its need, or enterprise-level rules without one)."""
        return bool(self.needs(inv)[need]) if need >= 0 else bool(self.ents(inv)[ent])

    def for_investor(self, inv: int) -> tuple[np.ndarray, np.ndarray]:
        """Eligible ``(enterprise rows, need rows)``, one need per enterprise: the best structured
        fit, the same choice as serving (``Matcher._query``), so need-based features agree."""
        if len(self.view.need_id):
            needs = np.flatnonzero(self.needs(inv))
            if self._rules is None:
                self._rules = PairRules(self.view)
            fit = self._rules.fit(np.full(len(needs), inv), needs)
            ents_all = self.view.need_ent[needs]
            order = np.lexsort((needs, -fit, ents_all))
            first = order[np.r_[True, ents_all[order][1:] != ents_all[order][:-1]]] if len(order) else order
            return ents_all[first], needs[first]
        ents = np.flatnonzero(self.ents(inv))
        return ents, np.full(len(ents), -1, dtype=np.int64)

    def for_enterprise(self, ent: int, need: int) -> np.ndarray:
        """Investor rows eligible for the enterprise's need (or the enterprise, without a need).

        The first call stacks every investor's mask (investors × needs booleans per period: fine
        for thousands of investors and needs; a million needs would want a per-need rule check).
        """
        if need >= 0:
            return np.flatnonzero(self._matrix("_needs", self.needs)[:, need])
        return np.flatnonzero(self._matrix("_ents", self.ents)[:, ent])

    def _matrix(self, cache: str, row: Callable[[int], np.ndarray]) -> np.ndarray:
        stacked = getattr(self, cache + "_matrix", None)
        if stacked is None:
            stacked = np.stack([row(i) for i in range(self.view.n_investors)])
            setattr(self, cache + "_matrix", stacked)
            setattr(self, cache, dict(enumerate(stacked)))  # rows become views: no second copy
        return stacked


@dataclass(frozen=True)
class Impression:
    """One served item from the impression log (ids are the database ids)."""

    list_id: str
    side: str  # "investor": a deal list for the investor; "enterprise": investors for the enterprise
    served_at: datetime
    position: int
    investor_id: int
    enterprise_id: int
    need_id: int | None
    features: Mapping[str, float | None]


def impression_data(snap: MarketSnapshot, direction: Direction, impressions: Sequence[Impression], *,
                    horizon_days: float = 30.0, start: float | None = None, end: float | None = None
                    ) -> RankingData:
    """Ranking data from served lists: the feature values *as served*, labelled by the highest grade
    the pair reached within ``horizon_days`` after the list was served.

    Each list is one query; lists without any positive are dropped (they teach nothing to a
    LambdaRank objective). Only lists served in ``[start, end)`` (days) whose label horizon has
    ended before ``end`` are used, so no label reaches past the window. Features missing from
    an old log entry are NaN.
    """
    side = "investor" if direction == "investor" else "enterprise"
    by_list: dict[str, list[Impression]] = {}
    for imp in impressions:
        if imp.side == side:
            by_list.setdefault(imp.list_id, []).append(imp)
    lo = -np.inf if start is None else start
    hi = np.inf if end is None else end
    key_ev = snap.ev_inv * max(snap.n_enterprises, 1) + snap.ev_ent
    parts: list[dict[str, np.ndarray]] = []
    need_row = {int(x): r for r, x in enumerate(snap.need_id)}
    for items in by_list.values():
        t0 = to_days(items[0].served_at)
        if not (lo <= t0 and t0 + horizon_days <= hi):
            continue
        inv = np.array([snap.investor_row.get(int(i.investor_id), -1) for i in items], dtype=np.int64)
        ent = np.array([snap.enterprise_row.get(int(i.enterprise_id), -1) for i in items], dtype=np.int64)
        ok = (inv >= 0) & (ent >= 0)
        if not ok.any():
            continue
        a, b = np.searchsorted(snap.ev_time, [t0, t0 + horizon_days], side="left")
        y = np.zeros(len(items), dtype=np.int64)
        keys = inv * max(snap.n_enterprises, 1) + ent
        win_keys, win_grade = key_ev[a:b], snap.ev_grade[a:b].astype(np.int64)
        for j in np.flatnonzero(ok):
            hit = win_grade[win_keys == keys[j]]
            y[j] = int(hit.max()) if len(hit) else 0
        if y[ok].max() <= 0:
            continue
        need = np.array([need_row.get(int(i.need_id), -1) if i.need_id is not None else -1 for i in items],
                        dtype=np.int64)
        X = np.array([[_num(i.features.get(n)) for n in FEATURE_NAMES] for i in items], dtype=np.float32)
        q = inv if direction == "investor" else ent
        parts.append({"X": X[ok], "y": y[ok], "query": q[ok], "inv": inv[ok], "ent": ent[ok], "need": need[ok],
                      "as_of": np.full(int(ok.sum()), t0), "event_time": np.full(int(ok.sum()), np.nan),
                      "sizes": np.array([int(ok.sum())], dtype=np.int64)})
    window = (float(lo), float(hi))
    if not parts:
        return _empty(direction, window)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    sizes = cols["sizes"]
    return RankingData(direction, cols["X"], cols["y"].astype(np.int32), sizes, np.repeat(np.arange(len(sizes)), sizes),
                       cols["query"], cols["inv"], cols["ent"], cols["need"], cols["as_of"], cols["event_time"],
                       window)


def _num(value: object) -> float:
    try:
        return float(value) if value is not None else np.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.nan


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
