"""Incremental matching for alerts: the pairs a market change creates, scored against every standing query.

Given only what changed (new or changed needs; new enterprises, changed profiles and moves up a tier, which stand
for their open needs), :func:`new_alerts` finds the pairs worth telling an investor about:

1. **The hard rules**, once per changed need against every investor (:meth:`Eligibility.investors_for`, the one
   vectorised implementation the deal lists use), then each query's list filters and, for a saved search with
   free text, the search's hits (:func:`text_matches`, the same :meth:`Matcher.search`).
2. **Dismissed pairs and pairs already alerted** are dropped: an investor never hears again of an enterprise it
   dismissed, nor twice of the same (enterprise, need).
3. **The same features and scorer** as the deal list (:func:`~matching.serving.alertstate.alert_scores`:
   :func:`pair_features` and the served :class:`TwoSidedScorer`, or the content + rules score without a model).
4. **The rule**: a pair alerts when its score reaches the query's threshold (``min_score``) and is *above the
   N-th best score of the query's current list without that need* (:class:`~matching.serving.alertstate.ListState`;
   a changed need is never compared with its own earlier score), i.e. it would push the N-th item out: it enters
   the investor's top N. Pairs are taken best first and each one that enters
   raises the cutoff (it is now in the list), so a burst of fitting needs alerts for at most N of them. A pair
   found by two queries alerts once (the first query in the caller's order, the mandate first).
5. The last line of defence, as in the matcher: each alert is checked against
   :func:`~matching.rules.constraints.violations`; a pair breaking a rule is dropped and logged as a bug.

Reasons are the deal card's (:func:`explain_pair` with the ranker's contributions); what the investor may read
of them (disclosure) is applied at the edge, as for a deal list. The cost is the changed needs × the investors
with a standing query, in vectorised chunks: never an investor's whole list, except once per query to learn its
current cutoff (kept from then on).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from matching.explain.reasons import explain_pair
from matching.features.table import feature_values
from matching.rules.constraints import violations
from matching.rules.filters import Filters
from matching.serving.alertstate import MANDATE, ListState, StandingQuery, alert_scores
from matching.serving.matcher import Matcher
from matching.serving.results import MatchItem

__all__ = ["MANDATE", "Alert", "ListState", "StandingQuery", "changed_needs", "new_alerts", "text_matches"]

logger = logging.getLogger(__name__)

#: Pairs scored in one feature matrix (bounds memory: 34 float32 columns each).
CHUNK = 200_000
#: A saved search's text hits: the enterprises its search lists in its first this many.
TEXT_K = 100


@dataclass(frozen=True)
class Alert:
    """A pair that entered a standing query's top N.

    Attributes:
        query: the query's key (:data:`MANDATE` or ``search:<id>``).
        item: the pair as a deal list item (investor, enterprise and need ids, score, reasons, feature values).
        rank: the place it takes in the query's list (1 = best).
        cutoff: the score it beat (the list's N-th best before it entered; ``-inf``: the list was shorter than N).
    """

    query: str
    item: MatchItem
    rank: int
    cutoff: float

    @property
    def key(self) -> tuple[int, int, int]:
        """``(investor_id, enterprise_id, need_id)``: an alert is never written twice for it."""
        return int(self.item.investor_id or 0), int(self.item.enterprise_id or 0), int(self.item.need_id or 0)


def changed_needs(m: Matcher, need_ids: Iterable[int] = (), enterprise_ids: Iterable[int] = ()) -> np.ndarray:
    """Need rows a change touches: the needs named, and every need of the enterprises named (a new enterprise, a
    changed profile, a move up a tier changes all its pairs). Ids the market does not hold are skipped."""
    snap = m.snap
    rows = [snap.need_row[int(n)] for n in need_ids if int(n) in snap.need_row]
    for e in enterprise_ids:
        if (r := snap.enterprise_row.get(int(e))) is not None:
            rows.extend(int(n) for n in snap.needs_of(r))
    return np.unique(np.asarray(rows, dtype=np.int64))


def text_matches(m: Matcher, queries: Sequence[StandingQuery], k: int = TEXT_K) -> dict[str, frozenset[int]]:
    """Per saved search with text, the enterprise ids its search lists first (:meth:`Matcher.search`)."""
    out: dict[str, frozenset[int]] = {}
    for q in queries:
        if q.text and q.key not in out:
            found = m.search(q.text, "enterprise", k, q.filters)
            out[q.key] = frozenset(int(it.enterprise_id) for it in found.items if it.enterprise_id is not None)
    return out


def new_alerts(m: Matcher, queries: Sequence[StandingQuery], need_rows: np.ndarray, *, state: ListState,
               dismissed: Collection[tuple[int, int]] = (), sent: Collection[tuple[int, int, int]] = (),
               text_hits: Mapping[str, frozenset[int]] | None = None) -> list[Alert]:
    """The alerts the changed needs ``need_rows`` raise (module docstring), best first.

    Args:
        m: the matcher over the market that already holds the change.
        queries: every standing query (in priority order: an investor's mandate before its saved searches).
        need_rows: the changed needs (:func:`changed_needs`).
        state: each query's current top N; built where missing, and updated with every alert.
        dismissed: ``(investor_id, enterprise_id)`` pairs the investor dismissed.
        sent: ``(investor_id, enterprise_id, need_id)`` already alerted.
        text_hits: :func:`text_matches` of the queries with text (computed here when ``None``).
    """
    snap, c = m.snap, m.context
    state.sync(m)
    state.forget_needs(need_rows)  # a kept need that changed (closed, re-scored) must not hold a cutoff up
    queries = [q for q in queries if q.investor_id in snap.investor_row]
    if not len(need_rows) or not queries or c.needless is not None:
        return []
    hits = dict(text_hits) if text_hits is not None else text_matches(m, queries)
    q_inv = np.array([snap.investor_row[q.investor_id] for q in queries], dtype=np.int64)
    q_idx, inv, need = _eligible_pairs(m, queries, q_inv, need_rows, hits)
    ent = snap.need_ent[need].astype(np.int64)
    if len(dismissed):
        keep = ~np.isin(inv * snap.n_enterprises + ent, _dismissed_keys(m, dismissed))
        q_idx, inv, ent, need = q_idx[keep], inv[keep], ent[keep], need[keep]
    if not len(inv):
        return []
    touched = np.unique(q_idx)
    state.ensure(m, [queries[int(i)] for i in touched], dict(hits),
                 new_needs=frozenset(int(x) for x in snap.need_id[need_rows]))
    states = [state.get(q) for q in queries]
    refs = [s.ref_sims if s is not None and s.ref_sims is not None else np.zeros(0) for s in states]
    cutoff = np.array([s.floor if s is not None else np.inf for s in states])  # exact per need in _admit
    floor = np.array([q.min_score if q.min_score is not None else -np.inf for q in queries])
    picked: list[tuple[float, int, int, int, int, np.ndarray]] = []
    for start in range(0, len(inv), CHUNK):
        sl = slice(start, start + CHUNK)
        score, X = alert_scores(m, inv[sl], ent[sl], need[sl], refs, q_idx[sl])
        qs = q_idx[sl]
        for j in np.flatnonzero((score > cutoff[qs]) & (score >= floor[qs])):
            picked.append((float(score[j]), int(qs[j]), int(inv[sl][j]), int(ent[sl][j]), int(need[sl][j]), X[j]))
    return _admit(m, queries, states, picked, set(sent))


def _eligible_pairs(m: Matcher, queries: Sequence[StandingQuery], q_inv: np.ndarray, need_rows: np.ndarray,
                    hits: Mapping[str, frozenset[int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(query index, investor row, need row)`` of every pair a query may be shown (hard rules, filters, text)."""
    snap, rules = m.snap, m.context.rules
    masks: dict[Filters, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for f in {q.filters for q in queries if q.filters != Filters()}:
        masks[f] = (f.needs(snap), f.enterprises(snap), np.array([q.filters == f for q in queries]))
    texts = [(j, q.key) for j, q in enumerate(queries) if q.text]
    out_q, out_n = [], []
    for n in (int(r) for r in need_rows):
        ok = rules.investors_for(n, tolerance=m.policy.tolerance)[q_inv]
        e = int(snap.need_ent[n])
        for need_ok, ent_ok, uses in masks.values():
            if not (need_ok[n] and ent_ok[e]):
                ok &= ~uses
        eid = int(snap.ent_id[e])
        for j, key in texts:
            ok[j] &= eid in hits.get(key, frozenset())
        at = np.flatnonzero(ok)
        out_q.append(at)
        out_n.append(np.full(len(at), n, dtype=np.int64))
    q_idx = np.concatenate(out_q) if out_q else np.zeros(0, dtype=np.int64)
    need = np.concatenate(out_n) if out_n else np.zeros(0, dtype=np.int64)
    return q_idx.astype(np.int64), q_inv[q_idx], need


def _dismissed_keys(m: Matcher, dismissed: Collection[tuple[int, int]]) -> np.ndarray:
    snap = m.snap
    keys = [snap.investor_row[i] * snap.n_enterprises + snap.enterprise_row[e] for i, e in dismissed
            if i in snap.investor_row and e in snap.enterprise_row]
    return np.asarray(keys, dtype=np.int64)


def _admit(m: Matcher, queries: Sequence[StandingQuery], states: Sequence[object],
           picked: list[tuple[float, int, int, int, int, np.ndarray]], sent: set[tuple[int, int, int]]) -> list[Alert]:
    """Take the candidates best first (ties: query order, then rows): each must still beat its query's cutoff,
    which rises as alerts enter; one alert per (investor, enterprise, need); never a pair breaking a rule."""
    snap, scorer = m.snap, m.scorer
    picked.sort(key=lambda p: (-p[0], p[1], p[3], p[4]))
    chosen: list[tuple[str, int, float, float, int, int, int, np.ndarray]] = []
    for score, qi, i, e, n, x in picked:
        st = states[qi]
        assert st is not None  # built by ensure for every query with a pair
        key = (int(snap.inv_id[i]), int(snap.ent_id[e]), int(snap.need_id[n]))
        before = st.cutoff(n)  # type: ignore[attr-defined]
        if key in sent or not score > before:
            continue
        broken = violations(snap, i, n, tolerance=m.policy.tolerance)
        if broken:  # never alert a violation (and shout: the eligibility index disagrees with the reference)
            logger.error("alert dropped: investor row %d / need row %d breaks %s", i, n, broken)
            continue
        rank = 1 + int(np.count_nonzero(st.others(n) > score))  # type: ignore[attr-defined]
        st.push(score, n)  # type: ignore[attr-defined]
        sent.add(key)
        chosen.append((queries[qi].key, rank, score, before, i, e, n, x))
    if not chosen:
        return []
    X = np.vstack([ch[7] for ch in chosen])
    explains = scorer is not None and scorer.explains("investor")
    contrib = scorer.contributions("investor", X) if explains and scorer is not None else None
    p_inv = p_ent = None
    if scorer is not None:
        _, p_inv, p_ent = scorer.pair_probabilities(X, X)
    out = []
    for j, (key, rank, score, before, i, e, n, _x) in enumerate(chosen):
        item = MatchItem(position=rank, score=score, enterprise_id=int(snap.ent_id[e]),
                         investor_id=int(snap.inv_id[i]), need_id=int(snap.need_id[n]),
                         p_investor=None if p_inv is None else float(p_inv[j]),
                         p_enterprise=None if p_ent is None else float(p_ent[j]),
                         reasons=explain_pair(snap, i, n, view="investor", features=X[j], ent=e,
                                              contributions=None if contrib is None else contrib[j]),
                         sources=["alert"], features=feature_values(X[j]))
        out.append(Alert(key, item, rank, before))
    return out
