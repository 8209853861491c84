"""The syndicate search on plain arrays: ticket allocation, the set objective and a small beam search.

Pure NumPy, no market: :mod:`matching.serving.syndicates` gathers the arrays from a market (who fits the need,
their scores, their co-investment counts) and writes the reasons; the real-data benchmark
(:mod:`training.syndicate_bench`) ranks co-investors with :func:`member_scores` on CrunchBase rounds.

**Objective of a set** ``S`` (lead ``l`` or none), every term in ``[0, 1]`` before its weight:

``mean_{i∈S} fit_i  +  lead_weight · mean_{i∈S∖l} tie(l, i)  +  pair_weight · mean_{i<j∈S∖l} tie(i, j)``

where ``fit_i`` is the investor's percentile among the fitting investors by the served deal-list score (so the
scale does not depend on which scorer is served) and ``tie(a, b) = min(co(a, b), CO_CAP) / CO_CAP`` with
``co(a, b)`` the enterprises both invested in. Without a lead every pair counts as a pair. The mean (not the
sum) keeps a bigger set from winning by size alone: a member is added when it is needed for the amount or when
its ties lift the set more than its fit lowers the mean.

**Feasible**: the members' ticket ranges can add up to the amount, ``Σ lo ≤ amount ≤ Σ hi``; :func:`allocate`
then proposes each share (see there). Sets whose ``Σ lo`` already exceeds the amount are dropped (adding a
member only raises it).

**Search**: beam search over the ``pool`` best-fitting candidates (by fit plus their tie to the lead), sets of
``min_size`` to ``max_size`` members, ``beam`` partial sets kept per size by objective; every feasible set met on
the way is a result; results are distinct sets, best objective first, fewer members first on a tie, then by rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The co-investment count at which a tie is full.
CO_CAP = 3
#: Default weights of the lead ties and the ties among members (tuned on the CrunchBase validation cut only:
#: :mod:`training.syndicate_bench`).
LEAD_WEIGHT = 0.5
PAIR_WEIGHT = 0.15
#: Shares are proposed in whole 万元 where the ranges allow.
UNIT = 1e4
_EPS = 1e-6


@dataclass(frozen=True)
class Found:
    """One feasible set from :func:`search`.

    Attributes:
        members: positions into the candidate arrays, the lead first (when there is one), then by fit.
        amounts: the proposed share of each member (aligned with ``members``), adding up to the amount.
        objective: the set's objective (module docstring).
        fit: the mean fit percentile of the members.
        ties: the lead and pair parts of the objective, before their weights.
    """

    members: tuple[int, ...]
    amounts: tuple[float, ...]
    objective: float
    fit: float
    ties: tuple[float, float]


def percentile(score: np.ndarray) -> np.ndarray:
    """Each score's percentile among ``score`` in ``[0, 1]`` (the best 1.0, ties share the lower rank)."""
    s = np.asarray(score, dtype=np.float64)
    if len(s) <= 1:
        return np.ones(len(s))
    return np.searchsorted(np.sort(s), s, side="left") / (len(s) - 1)


def ties(co: np.ndarray) -> np.ndarray:
    """Co-investment counts → ties in ``[0, 1]`` (``min(count, CO_CAP) / CO_CAP``)."""
    return np.minimum(np.asarray(co, dtype=np.float64), CO_CAP) / CO_CAP


def member_scores(fit: np.ndarray, co_with_lead: np.ndarray, *, lead_weight: float = LEAD_WEIGHT) -> np.ndarray:
    """How much each candidate adds beside a lead: its fit percentile plus the weighted tie to the lead.

    The ranking of co-investors the benchmark measures (and the order of the search's pool)."""
    return np.asarray(fit, dtype=np.float64) + lead_weight * ties(co_with_lead)


def allocate(amount: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray | None:
    """Shares of ``amount`` within each member's ``[lo, hi]`` (in priority order: the first gets any rest).

    Every member is filled to the same fraction of its room above its minimum (``lo + t·(hi − lo)``, one ``t``
    for all), rounded down to whole 万元, and what rounding left goes to the members in order, within their
    ranges. ``None`` when the ranges cannot add up to the amount.
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.sum() > amount + _EPS or hi.sum() < amount - _EPS:
        return None
    room = hi - lo
    t = (amount - lo.sum()) / room.sum() if room.sum() > 0 else 0.0
    share = np.clip(np.floor((lo + room * t) / UNIT + _EPS) * UNIT, lo, hi)
    rest = amount - share.sum()
    for i in range(len(share)):  # the rounding's rest, to the members in order
        step = min(rest, hi[i] - share[i]) if rest > 0 else max(rest, lo[i] - share[i])
        share[i] += step
        rest -= step
        if abs(rest) <= _EPS:
            break
    return share


def objective(members: tuple[int, ...], fit: np.ndarray, co: np.ndarray, lead: int | None, *,
              lead_weight: float = LEAD_WEIGHT, pair_weight: float = PAIR_WEIGHT, tie: np.ndarray | None = None
              ) -> tuple[float, float, float, float]:
    """``(objective, mean fit, lead ties, pair ties)`` of a set (positions; ``lead`` among them or ``None``).

    ``tie``: :func:`ties` of ``co`` when the caller has it (the search computes it once). Plain Python over the
    few members: faster than array calls for sets of at most a handful.
    """
    t = ties(co) if tie is None else tie
    mean_fit = sum(float(fit[m]) for m in members) / len(members)
    others = [m for m in members if m != lead]
    lead_tie = sum(float(t[lead, m]) for m in others) / len(others) if lead is not None and others else 0.0
    pairs = [(a, b) for i, a in enumerate(others) for b in others[i + 1:]]
    pair_tie = sum(float(t[a, b]) for a, b in pairs) / len(pairs) if pairs else 0.0
    return mean_fit + lead_weight * lead_tie + pair_weight * pair_tie, mean_fit, lead_tie, pair_tie


def search(amount: float, lo: np.ndarray, hi: np.ndarray, fit: np.ndarray, co: np.ndarray, *, lead: int | None = None,
           n: int = 5, pool: int = 30, beam: int = 20, min_size: int = 2, max_size: int = 5,
           lead_weight: float = LEAD_WEIGHT, pair_weight: float = PAIR_WEIGHT) -> list[Found]:
    """The best ``n`` feasible sets of candidates (module docstring).

    Args:
        amount: the amount to cover.
        lo, hi: each candidate's share range (``lo ≥ 0``, ``hi`` at most the amount).
        fit: each candidate's fit percentile.
        co: ``(k, k)`` co-investment counts between candidates (the diagonal is ignored).
        lead: the lead's position (always a member) or ``None``.
    """
    k = len(fit)
    if k == 0 or n <= 0:
        return []
    tie = ties(co)
    np.fill_diagonal(tie, 0.0)
    kw = {"lead_weight": lead_weight, "pair_weight": pair_weight, "tie": tie}
    near = member_scores(fit, co[lead] if lead is not None else np.zeros(k), lead_weight=lead_weight)
    order = [int(i) for i in np.lexsort((np.arange(k), -near)) if i != lead][:pool]
    lo_l, hi_l, fit_l = [float(x) for x in lo], [float(x) for x in hi], [float(x) for x in fit]
    start: tuple[int, ...] = (lead,) if lead is not None else ()
    frontier: list[tuple[int, ...]] = [start]
    found: dict[frozenset[int], tuple[float, tuple[int, ...], tuple[float, float, float]]] = {}
    seen: set[frozenset[int]] = set()
    for _size in range(len(start), max_size):
        grown: dict[frozenset[int], tuple[float, tuple[int, ...], tuple[float, float, float]]] = {}
        for members in frontier:
            for c in order:
                if c in members:
                    continue
                key = frozenset((*members, c))
                if key in seen or key in grown:
                    continue
                cand = _ordered((*members, c), fit_l, lead)
                if sum(lo_l[m] for m in cand) > amount + _EPS:
                    seen.add(key)
                    continue
                value, mean_fit, lead_tie, pair_tie = objective(cand, fit, co, lead, **kw)
                grown[key] = (value, cand, (mean_fit, lead_tie, pair_tie))
        if not grown:
            break
        seen.update(grown)
        for key, item in grown.items():  # feasible: Σ lo ≤ amount (checked above) ≤ Σ hi
            if len(item[1]) >= min_size and key not in found and sum(hi_l[m] for m in item[1]) >= amount - _EPS:
                found[key] = item
        best = sorted(grown.values(), key=lambda v: (-v[0], v[1]))[:beam]
        frontier = [cand for _, cand, _ in best]
    out = []
    for value, cand, (mean_fit, lead_tie, pair_tie) in sorted(found.values(), key=lambda v: (-v[0], len(v[1]), v[1])):
        shares = allocate(amount, lo[list(cand)], hi[list(cand)])  # only for the sets returned
        if shares is not None:
            out.append(Found(cand, tuple(float(x) for x in shares), value, mean_fit, (lead_tie, pair_tie)))
        if len(out) == n:
            break
    return out


def _ordered(members: tuple[int, ...], fit: list[float], lead: int | None) -> tuple[int, ...]:
    """The lead first, then by fit (best first), then by position."""
    rest = sorted((m for m in members if m != lead), key=lambda m: (-fit[m], m))
    return ((lead,) if lead is not None else ()) + tuple(rest)
