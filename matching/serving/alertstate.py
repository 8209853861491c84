"""Standing queries and what the alert engine remembers of each one's current list: :class:`ListState`.

A standing query is an investor's mandate, or one of its saved searches (list filters and free text), with the
top N and the score threshold the investor set (:class:`StandingQuery`). Whether a new pair *enters* a query's top
N is decided against the N best scores of the query's current list, on one scale (:func:`alert_scores`):

* with a model, the score the deal list serves (:meth:`TwoSidedScorer.score` seen by the investor: pointwise,
  so a pair scored alone gets the score it would get in the list);
* without one (cold start), the transparent content + rules score, whose similarity term is a *percentile*:
  the list takes it among its retrieved candidates; here it is taken among the similarities of every pair the
  query may be shown (``ListState`` keeps them sorted per query), for the list's pairs and a new pair alike,
  so both sides of the comparison are on the same scale.

The current list of a query is taken exhaustively (:meth:`ListState.ensure`): every pair its investor may be shown
(the deal list's hard rules and filters, one need per enterprise as the deal list picks it), all scored, which is
the deal list without the approximation of retrieval (that list scores only the candidates retrieval proposes, so
its N-th score is never above this one: an alert is never a pair the served list would rank below its N-th). It is
built once per query, then kept up to date incrementally: each alert pushes its score into the query's top N (so a
burst of new needs alerts only for those that enter the top N, one after the other). It is dropped when the model
changes, the query changes (its signature: filters, text, N, threshold, the mandate's version), one of the needs
it keeps changes (:meth:`ListState.forget_needs`: a need that closed, stopped fitting or was scored lower must not
hold the cutoff up), or once a day of market time (the time features move every score).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.features.table import pair_features
from matching.ranking.baselines import ContentRulesScorer
from matching.rules.eligibility import pair_fit
from matching.rules.filters import Filters
from matching.rules.liveneeds import best_per_target
from matching.serving.matcher import Matcher

#: The standing query of an investor's mandate (a saved search's key is ``search:<id>``).
MANDATE = "mandate"
#: The weight of the similarity percentile in the content + rules score (the served one's).
SIM_WEIGHT = ContentRulesScorer().sim_weight
#: States older than this (days of market time) are built again.
MAX_AGE_DAYS = 1.0
#: Queries whose states are scored in one feature matrix.
BATCH = 256


@dataclass(frozen=True)
class StandingQuery:
    """One standing query of one investor.

    Attributes:
        investor_id: the investor.
        key: :data:`MANDATE`, or ``search:<id>`` for a saved search.
        filters: list filters (they narrow the hard rules, never loosen them).
        text: free text (a saved search's); a pair's enterprise must be among the search's hits for it.
        top_n: the list length an alert must enter.
        min_score: the lowest score that may alert (``None``: no threshold).
        revision: the mandate's version (a new version makes a new query: its state is built again).
    """

    investor_id: int
    key: str = MANDATE
    filters: Filters = field(default_factory=Filters)
    text: str | None = None
    top_n: int = 10
    min_score: float | None = None
    revision: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.top_n <= 100:
            raise ValueError(f"top_n must lie in 1..100, got {self.top_n}")

    @property
    def ident(self) -> tuple[int, str]:
        """``(investor_id, key)``."""
        return self.investor_id, self.key


@dataclass
class QueryState:
    """A query's current list on the alert scale: its best N + 1 pairs' scores and needs.

    One more than N is kept so that the cutoff *without* a given need is known: a changed need is compared with the
    list of the others, never with its own earlier score.

    Attributes:
        top: the scores of its best pairs, best first (at most ``top_n + 1``).
        needs: their need rows, aligned with ``top``.
        top_n: the list length.
        ref_sims: sorted similarities of the pairs it may be shown (the percentile's reference; no model only).
        signature: the query as it was when the state was built.
    """

    top: np.ndarray
    needs: np.ndarray
    top_n: int
    ref_sims: np.ndarray | None
    signature: StandingQuery

    @property
    def floor(self) -> float:
        """A bound under every :meth:`cutoff`: the (N+1)-th best score, ``-inf`` while fewer are known."""
        return float(self.top[self.top_n]) if len(self.top) > self.top_n else float("-inf")

    def others(self, need: int) -> np.ndarray:
        """The scores of the list without need row ``need``, best first."""
        return self.top[self.needs != need]

    def cutoff(self, need: int) -> float:
        """The score a pair of need row ``need`` must beat: the N-th best of the others, ``-inf`` while fewer."""
        rest = self.others(need)
        return float(rest[self.top_n - 1]) if len(rest) >= self.top_n else float("-inf")

    def push(self, score: float, need: int) -> None:
        """A pair of need row ``need`` entered the list (its earlier score, if any, leaves): keep the best N + 1."""
        keep = self.needs != need
        top, needs = np.r_[self.top[keep], score], np.r_[self.needs[keep], need]
        order = np.argsort(-top, kind="stable")[:self.top_n + 1]
        self.top, self.needs = top[order], needs[order]


def alert_scores(m: Matcher, inv: np.ndarray, ent: np.ndarray, need: np.ndarray,
                 ref_sims: Sequence[np.ndarray] | None = None, ref_of: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Scores of pairs (rows) on the alert scale (module docstring) and their feature rows.

    Args:
        ref_sims, ref_of: without a model, each pair's reference similarities are ``ref_sims[ref_of[i]]``.
    """
    c = m.context
    X, sim = pair_features(c.snap, c.hist, inv, ent, need, man_vecs=c.man_vecs, ent_vecs=c.ent_vecs, collab=c.collab)
    fit = pair_fit(c.snap, inv, need) if len(inv) else np.zeros(0)
    if m.scorer is not None:
        return (m.scorer.score(X, "investor", fit=fit) if len(inv) else np.zeros(0)), X
    if ref_sims is None or ref_of is None:
        raise ValueError("without a model, alert_scores needs each pair's reference similarities (ref_sims, ref_of)")
    pct = np.zeros(len(inv))
    for r in np.unique(ref_of):
        at = ref_of == r
        ref = ref_sims[int(r)]
        pct[at] = np.searchsorted(ref, sim[at], "right") / max(len(ref), 1)
    return SIM_WEIGHT * np.minimum(pct, 1.0) + (1.0 - SIM_WEIGHT) * fit, X


class ListState:
    """Each standing query's current top N on the alert scale (module docstring); one per alert engine."""

    def __init__(self) -> None:
        self.model_version: str | None = None
        self.as_of: float | None = None  # the market day the states were scored on
        self._states: dict[tuple[int, str], QueryState] = {}

    def __len__(self) -> int:
        return len(self._states)

    def sync(self, m: Matcher) -> None:
        """Forget every state when ``m`` serves another model than the one they were scored with, or its market is
        more than :data:`MAX_AGE_DAYS` past theirs (time features move every score: a stale cutoff is rebuilt)."""
        now = float(m.snap.as_of)
        if m.model_version != self.model_version or self.as_of is None or now - self.as_of > MAX_AGE_DAYS:
            self._states.clear()
            self.model_version, self.as_of = m.model_version, now

    def forget(self, investor_ids: Iterable[int]) -> None:
        """Drop the states of these investors (their mandate or alert settings changed)."""
        gone = set(investor_ids)
        for ident in [i for i in self._states if i[0] in gone]:
            del self._states[ident]

    def forget_needs(self, need_rows: Iterable[int]) -> int:
        """Drop the states whose kept needs include one of these changed need rows; returns how many.

        A need in a query's best N + 1 that closes, stops fitting or is scored lower would otherwise keep its old
        score in the cutoff until the daily rebuild, and later fitting needs would be compared with it. A dropped
        state is rebuilt exactly (:meth:`ensure`) when the query is next touched.
        """
        rows = np.asarray(list(need_rows), dtype=np.int64)
        if not len(rows):
            return 0
        gone = [i for i, s in self._states.items() if np.isin(s.needs, rows).any()]
        for ident in gone:
            del self._states[ident]
        return len(gone)

    def clear(self) -> None:
        """Drop every state (they are rebuilt exactly by :meth:`ensure`)."""
        self._states.clear()

    def get(self, q: StandingQuery) -> QueryState | None:
        """The state of ``q`` if it was built for the query as it is now."""
        s = self._states.get(q.ident)
        return s if s is not None and s.signature == q else None

    def ensure(self, m: Matcher, queries: Sequence[StandingQuery],
               text_hits: Mapping[str, frozenset[int]] | None = None, *, new_needs: Collection[int] = ()) -> int:
        """Build the states ``queries`` lack; returns how many were built.

        A query's list is taken exhaustively: every live need its investor may be shown (the hard rules, through
        :class:`~matching.rules.liveneeds.LiveNeeds` as the deal list reads them), narrowed by its filters and text,
        one need per enterprise (the best structured fit, as the deal list picks it), scored on the alert scale.
        Its N best scores are the state. (The deal list scores only the candidates retrieval proposes; with exact
        retrieval the two top N are the same, so this cutoff is never below the served list's.) ``new_needs``
        (ids) are the change being alerted on: the market already holds them, so they are left out (the state is
        the list as it was before the change).
        """
        self.sync(m)
        todo = [q for q in queries if self.get(q) is None and q.investor_id in m.snap.investor_row]
        snap, c = m.snap, m.context
        new_rows = np.unique(np.asarray([snap.need_row[int(n)] for n in new_needs if int(n) in snap.need_row],
                                        dtype=np.int64))
        masks: dict[Filters, np.ndarray] = {}
        for start in range(0, len(todo), BATCH):
            chunk = todo[start:start + BATCH]
            parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
            refs: list[np.ndarray] = []
            for q in chunk:
                inv = snap.investor_row[q.investor_id]
                pos = c.live.eligible(inv, tolerance=m.policy.tolerance)
                need = c.live.need[pos]
                if q.filters != Filters():
                    if q.filters not in masks:
                        masks[q.filters] = q.filters.needs(snap) & q.filters.enterprises(snap)[np.maximum(
                            snap.need_ent, 0)]
                    pos = pos[masks[q.filters][need]]
                if len(new_rows):
                    pos = pos[~np.isin(c.live.need[pos], new_rows)]
                if q.text:
                    hits = np.asarray(sorted((text_hits or {}).get(q.key, frozenset())), dtype=np.int64)
                    pos = pos[np.isin(snap.ent_id[c.live.ent[pos]], hits)]
                ent, need = c.live.ent[pos], c.live.need[pos]
                if m.scorer is None:
                    refs.append(np.sort(c.ent_vecs[ent] @ c.man_vecs[inv]).astype(np.float64))
                first = best_per_target(ent, need, c.live.fit(inv, pos), c.live.shared[pos])
                parts.append((np.full(len(first), inv, dtype=np.int64), ent[first], need[first]))
            of = np.concatenate([np.full(len(p[0]), j, dtype=np.int64) for j, p in enumerate(parts)])
            arrays = [np.concatenate([p[k] for p in parts]) for k in range(3)]
            score, _ = alert_scores(m, *arrays, refs if m.scorer is None else None, of)
            for j, q in enumerate(chunk):
                at = np.flatnonzero(of == j)
                best = at[np.argsort(-score[at], kind="stable")[:q.top_n + 1]]
                self._states[q.ident] = QueryState(score[best], arrays[2][best], q.top_n,
                                                   refs[j] if m.scorer is None else None, q)
        return len(todo)
