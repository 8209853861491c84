"""The real-data benchmark's candidate sets as production evaluation sets (the only benchmark-specific part).

Investment events imported into the store become a production :class:`~matching.snapshot.core.MarketSnapshot`
(funnel events of type ``invested``); training, features, rankers, calibration, the served-scorer
choice and every metric are the production ones (:func:`training.pipeline.fit_and_evaluate`). What
this module adds is the protocol of ``shared/data/crunchbase-2013/README.md``: who is ranked for whom
in a window ``[start, end)``:

* **investors**: every investor with at least ``min_portfolio`` distinct portfolio companies before
  ``start`` (the ranked side of enterprise → investor, the queries of investor → enterprise);
* **companies**: every company with an investment in the window;
* enterprise → investor (production direction ``enterprise``): each company with a positive ranks
  *all* those investors (its earlier investors included: the ``follow_on`` subset keeps them, the
  ``new_pairs`` subset drops them from candidates and positives);
* investor → enterprise (direction ``investor``): each investor ranks every window company outside
  its portfolio.

Features are :func:`~matching.features.table.compute_features` with the History at ``start``: nothing at or
after the cut is read (a test plants a later event and checks that no value moves).
"""

from __future__ import annotations

import numpy as np

from matching.domain.sides import POSITIVE_GRADE
from matching.features.collaborative import CollaborativeModel
from matching.features.table import History, pair_features
from matching.learning.dataset import RankingData
from matching.learning.evaluation import EvalSet
from matching.snapshot.core import MarketSnapshot

#: The protocol's threshold: investors with at least this many portfolio companies are ranked.
MIN_PORTFOLIO = 5


def protocol_sets(snap: MarketSnapshot, window: tuple[float, float], *, ent_vecs: np.ndarray, man_vecs: np.ndarray,
                  min_portfolio: int = MIN_PORTFOLIO, directions: tuple[str, ...] = ("investor", "enterprise")
                  ) -> dict[str, EvalSet]:
    """The evaluation sets of the window ``[start, end)`` (days), full candidate lists, for ``directions`` (default
    both; the syndicate benchmark asks for ``enterprise`` only, which spares the investor lists' memory).

    Raises:
        ValueError: ``end <= start`` or ``min_portfolio < 1``.
    """
    start, end = window
    if end <= start:
        raise ValueError(f"window end must be after its start, got [{start}, {end})")
    if min_portfolio < 1:
        raise ValueError(f"min_portfolio must be >= 1, got {min_portfolio}")
    hist = History.build(snap, start, ent_vecs=ent_vecs)
    n_ent = snap.n_enterprises
    p_inv, p_ent, _ = hist.pairs(POSITIVE_GRADE)
    investors = np.flatnonzero(np.bincount(p_inv, minlength=snap.n_investors) >= min_portfolio)
    lo, hi = np.searchsorted(snap.ev_time, [start, end], side="left")
    w = slice(int(lo), int(hi))
    ok = (snap.ev_inv[w] >= 0) & (snap.ev_ent[w] >= 0) & (snap.ev_grade[w] >= POSITIVE_GRADE)
    w_inv, w_ent = snap.ev_inv[w][ok], snap.ev_ent[w][ok]
    companies = np.unique(w_ent)
    positive = np.unique(w_inv * n_ent + w_ent)
    portfolio = p_inv * n_ent + p_ent  # sorted (History keeps pair keys sorted)
    seen = np.zeros(n_ent, dtype=bool)
    before = snap.ev_ent[snap.events_before(start)]
    seen[before[before >= 0]] = True
    collab = CollaborativeModel().fit(snap, hist)

    def rows(direction: str, inv: np.ndarray, ent: np.ndarray, sizes: np.ndarray, query: np.ndarray) -> EvalSet:
        keys = inv * n_ent + ent
        y = np.where(np.isin(keys, positive), 5, 0).astype(np.int32)
        X, _ = pair_features(snap, hist, inv, ent, np.full(len(inv), -1, dtype=np.int64), man_vecs=man_vecs,
                             ent_vecs=ent_vecs, collab=collab)
        i64 = np.full(len(inv), -1, dtype=np.int64)
        data = RankingData(direction, X, y, sizes.astype(np.int64), np.repeat(np.arange(len(sizes)), sizes),
                           query, inv, ent, i64, np.full(len(inv), float(start)), np.full(len(inv), np.nan),
                           (float(start), float(end)))
        return EvalSet(data, y >= POSITIVE_GRADE, ~seen[ent])

    # enterprise -> investor: companies with a positive from an eligible investor rank every eligible investor
    elig = np.zeros(snap.n_investors, dtype=bool)
    elig[investors] = True
    q_ent = np.unique(w_ent[elig[w_inv]])
    e_inv = np.tile(investors, len(q_ent))
    e_ent = np.repeat(q_ent, len(investors))
    ent_set = rows("enterprise", e_inv, e_ent, np.full(len(q_ent), len(investors)), e_ent)
    if "investor" not in directions:
        return {"enterprise": ent_set}
    # investor -> enterprise: eligible investors with a positive outside their portfolio rank the window's
    # companies outside their portfolio
    cand_inv = np.repeat(investors, len(companies))
    cand_ent = np.tile(companies, len(investors))
    keep = ~np.isin(cand_inv * n_ent + cand_ent, portfolio)
    cand_inv, cand_ent = cand_inv[keep], cand_ent[keep]
    has_pos = np.isin(cand_inv * n_ent + cand_ent, positive)
    q_inv = np.unique(cand_inv[has_pos])
    sel = np.isin(cand_inv, q_inv)
    i_inv, i_ent = cand_inv[sel], cand_ent[sel]
    sizes = np.bincount(np.searchsorted(q_inv, i_inv), minlength=len(q_inv))
    inv_set = rows("investor", i_inv, i_ent, sizes, i_inv)
    return {"investor": inv_set, "enterprise": ent_set}


def counts(snap: MarketSnapshot, window: tuple[float, float], sets: dict[str, EvalSet],
           min_portfolio: int = MIN_PORTFOLIO) -> dict[str, int]:
    """What the window holds, for reports."""
    start, end = window
    lo, hi = np.searchsorted(snap.ev_time, [start, end], side="left")
    ent = sets["enterprise"]
    prior = np.nan_to_num(ent.data.column("pair_prior_engagement"), nan=0.0) >= POSITIVE_GRADE
    pos = ent.data.y >= POSITIVE_GRADE
    return {
        "events_before_cut": int(lo), "events_in_window": int(hi - lo),
        "eligible_investors": int(len(np.unique(ent.data.inv))) if len(ent) else 0,
        "enterprise_queries": int(ent.data.n_queries), "investor_queries": int(sets["investor"].data.n_queries),
        "cold_enterprise_queries": int(len(np.unique(ent.data.ent[ent.cold]))),
        "positive_pairs_enterprise_direction": int(pos.sum()),
        "positive_pairs_follow_on": int((pos & prior).sum()),
        "min_portfolio": min_portfolio,
    }
