"""Eligibility of many periods at once: the time-independent rules as per-snapshot tables.

Training rows and evaluation sets ask, period after period, which pairs were eligible then. The
answer is :func:`matching.rules.eligibility.eligible`: the statuses of the period AND the hard rules.
The hard rules do not change with time (for the mandates of a given snapshot), so
:class:`StaticEligibility` evaluates :func:`~matching.rules.eligibility.hard_rules` once per snapshot
as ``n_investors × n_needs`` booleans instead of once per investor, period and direction, and
:class:`PeriodEligibility` ANDs them with one period's :class:`~matching.rules.eligibility.Statuses`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from matching.rules.eligibility import Columns, Statuses, hard_rules
from matching.rules.fit import structured_fit
from matching.rules.liveneeds import best_first, first_of_runs
from matching.snapshot.core import MarketSnapshot
from matching.snapshot.derived import derived

#: The tolerance of the ticket range training and evaluation apply (serving's default).
TOLERANCE = 0.2


class StaticEligibility:
    """The hard rules of every investor of one snapshot, as tables (see the module docstring).

    Also the serving choice of one need per enterprise (best structured fit) and the similarity of
    each eligible need's enterprise to the mandate, per investor, built on first use.
    """

    base: StaticEligibility | None = None
    rows: np.ndarray | None = None

    def __init__(self, snap: MarketSnapshot) -> None:
        self.snap = snap
        self.need_cols = Columns.of_needs(snap)
        self.ent_cols = Columns.of_enterprises(snap)
        self._needs: np.ndarray | None = None
        self._ents: np.ndarray | None = None
        self._ranked: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._vecs: tuple[np.ndarray, np.ndarray] | None = None

    @classmethod
    def of(cls, snap: MarketSnapshot) -> StaticEligibility:
        """The tables of ``snap`` (built on first use, then shared)."""
        def build() -> StaticEligibility:
            tables = cls(snap)
            view_of = getattr(snap, "view_of", None)
            if view_of is not None:  # a past market: only its revised mandates' rows differ
                tables.base, tables.rows = cls.of(view_of.source), view_of.rows
            return tables
        return derived(snap, "static_eligibility", build)

    def _matrix(self, name: str, rule: Callable[[int], np.ndarray], width: int) -> np.ndarray:
        if self.base is not None and self.rows is not None:  # the source's table, revised rows recomputed
            out = getattr(self.base, name)().copy()
            for r in self.rows.tolist():
                out[r] = rule(r)
            return out
        rows = [rule(i) for i in range(self.snap.n_investors)]
        return np.stack(rows) if rows else np.zeros((0, width), dtype=bool)

    def needs(self) -> np.ndarray:
        """Bool ``(n_investors, n_needs)``."""
        if self._needs is None:
            self._needs = self._matrix("needs", lambda i: hard_rules(self.snap, i, self.need_cols,
                                                                     tolerance=TOLERANCE), len(self.need_cols))
        return self._needs

    def ents(self) -> np.ndarray:
        """Bool ``(n_investors, n_enterprises)`` (enterprise-level rules, for pairs without a need)."""
        if self._ents is None:
            self._ents = self._matrix("ents", lambda i: hard_rules(self.snap, i, self.ent_cols, tolerance=TOLERANCE),
                                      len(self.ent_cols))
        return self._ents

    def ranked(self, inv: int, ent_vecs: np.ndarray, man_vecs: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The investor's statically eligible needs ordered by (enterprise, best fit first, need row),
        their enterprises, and each enterprise's similarity to the mandate."""
        if self._vecs is None or self._vecs[0] is not ent_vecs or self._vecs[1] is not man_vecs:
            self._ranked, self._vecs = {}, (ent_vecs, man_vecs)
        if inv not in self._ranked:
            needs = np.flatnonzero(self.needs()[inv])
            fit = structured_fit(self.snap, inv, self.need_cols, needs)
            ents = self.snap.need_ent[needs]
            order = best_first(ents, needs, fit)  # the same choice of an enterprise's need as serving
            needs, ents = needs[order], ents[order]
            self._ranked[inv] = (needs, ents, ent_vecs[ents] @ man_vecs[inv])
        return self._ranked[inv]


class PeriodEligibility:
    """Eligibility in one period: the static tables of its snapshot AND the period's statuses.

    Args:
        snap: the market as of the period's start (mandates valid then).
        statuses: the period's :class:`~matching.rules.eligibility.Statuses`.
    """

    def __init__(self, snap: MarketSnapshot, statuses: Statuses) -> None:
        self.static = StaticEligibility.of(snap)
        self.snap, self.statuses = snap, statuses
        self.inv_ok, self.need_ok, self.ent_ok = statuses.investor, statuses.need, statuses.enterprise

    def pairs(self, inv: np.ndarray, ent: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Whether each pair is eligible (by its need, or enterprise-level rules without one)."""
        out = self.inv_ok[inv].copy()
        has = need >= 0
        if has.any():
            out[has] &= self.static.needs()[inv[has], need[has]] & self.need_ok[need[has]]
        if not has.all():
            out[~has] &= self.static.ents()[inv[~has], ent[~has]] & self.ent_ok[ent[~has]]
        return out

    def for_investor(self, inv: int, ent_vecs: np.ndarray, man_vecs: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Eligible ``(enterprise rows, need rows, similarities)``, one need per enterprise: the best
        structured fit, the same choice as serving, so need-based features agree."""
        if len(self.snap.need_id):
            needs, ents, sims = self.static.ranked(inv, ent_vecs, man_vecs)
            live = self.need_ok[needs] & self.inv_ok[inv]
            needs, ents, sims = needs[live], ents[live], sims[live]
            first = first_of_runs(ents)
            return ents[first], needs[first], sims[first]
        ents = np.flatnonzero(self.static.ents()[inv] & self.ent_ok) if self.inv_ok[inv] else np.zeros(0, np.int64)
        return ents, np.full(len(ents), -1, dtype=np.int64), None

    def for_enterprise(self, ent: int, need: int) -> np.ndarray:
        """Investor rows eligible for the enterprise's need (or the enterprise, without a need)."""
        if need >= 0:
            ok = bool(self.need_ok[need])
            return np.flatnonzero(self.static.needs()[:, need] & self.inv_ok) if ok else np.zeros(0, np.int64)
        ok = bool(self.ent_ok[ent])
        return np.flatnonzero(self.static.ents()[:, ent] & self.inv_ok) if ok else np.zeros(0, np.int64)
