"""Serving a market without financing needs (imported investment events): pairs are (investor, enterprise).

A platform market ranks (investor, need) pairs: an enterprise is shown for a need it raises. Real deal
records (CrunchBase, investment-event files) have no needs; their enterprises are ranked as they
are, under the enterprise-level hard constraints (:meth:`matching.rules.eligibility.Eligibility.enterprises_for`:
an active party, investor type, exclusions, region/tier/board scopes of a mandate where one
exists), the same rule training applies to such data (:mod:`matching.learning.dataset`). A pair then
carries need ``-1``: need-based features are missing, reasons quote the enterprise's own facts.
"""

from __future__ import annotations

import numpy as np

from matching.rules.eligibility import Eligibility
from matching.snapshot.core import MarketSnapshot


def needless(snap: MarketSnapshot) -> bool:
    """Whether the market has no financing needs at all (pairs are then enterprise-level)."""
    return len(snap.need_id) == 0


class EnterpriseRules:
    """Enterprise-level eligibility of every (investor, enterprise) pair, built once with the context.

    Attributes:
        ok: bool ``(n_investors, n_enterprises)``: may the investor be shown the enterprise.
    """

    def __init__(self, snap: MarketSnapshot) -> None:
        rules = Eligibility.of(snap)
        rows = [rules.enterprises_for(i) for i in range(snap.n_investors)]
        self.ok: np.ndarray = np.stack(rows) if rows else np.zeros((0, snap.n_enterprises), dtype=bool)

    def enterprises_for(self, inv: int) -> np.ndarray:
        """Enterprise rows an investor may be shown."""
        return np.flatnonzero(self.ok[inv])

    def investors_for(self, ent: int) -> np.ndarray:
        """Investor rows an enterprise may be shown."""
        return np.flatnonzero(self.ok[:, ent])
