"""The needs an investor may be shown, as amount-sorted columns: eligibility and fit per investor, fast.

A deal list starts from every need the investor may see (:func:`matching.rules.constraints.eligible_needs`)
and its structured fit (:meth:`matching.retrieval.candidates.PairRules.fit`). Both scan every need of the
market, which is fine at 5,000 enterprises and dominates a list at 1,000,000. :class:`LiveNeeds`
is built once per snapshot and gives the same answers with less work:

* only *live* needs are kept (open, not closed, an active enterprise, not old shares: the parts of
  the rules that do not depend on the investor), sorted by amount, so the ticket range, the most
  selective rule, is a contiguous slice found by binary search;
* the enterprise's facts are gathered into need-aligned columns once (no ``need → enterprise``
  indirection per list);
* the per-investor rules over small code sets (instrument, round, tier, sector, district) become
  lookup tables of a few dozen entries, applied with one gather each.

:func:`eligible` equals ``eligible_needs`` and :func:`fit` equals ``PairRules.fit`` exactly (the same
floating-point operations in the same order; ``tests/test_liveneeds.py`` checks every investor of a
generated market).
"""

from __future__ import annotations

import numpy as np

from matching.retrieval.candidates import FIT_WEIGHTS, PairRules, ticket_fit
from matching.rules.constraints import DEBT_ONLY, OLD_SHARES, S_FUND, enterprises_excluding
from matching.snapshot.core import DEBT_MASK, ITYPE, MarketSnapshot

_STATE_FUND = ITYPE["state_fund"]


def _bits(mask: int, size: int) -> np.ndarray:
    """Bool table over codes ``0..size-1`` plus a last entry for unknown (-1, which counts as in)."""
    out = np.ones(size + 1, dtype=bool)
    out[:size] = [(mask >> c) & 1 for c in range(size)]
    return out


class LiveNeeds:
    """Live needs of one snapshot as amount-sorted columns (see the module docstring).

    Args:
        snap: the market.
        rules: the snapshot's :class:`PairRules` (its district codes, sector tables and quality values).
    """

    def __init__(self, snap: MarketSnapshot, rules: PairRules) -> None:
        self.snap, self.rules = snap, rules
        ent = snap.need_ent
        live = snap.need_open & ~(snap.need_closes < snap.as_of) & (ent >= 0) & (snap.need_instr != OLD_SHARES)
        live[live] &= snap.ent_active[ent[live]]
        rows = np.flatnonzero(live)
        rows = rows[np.argsort(snap.need_amount[rows], kind="stable")]
        self.need = rows
        self.amount = snap.need_amount[rows].astype(np.float64)
        self.n_finite = int(np.count_nonzero(~np.isnan(self.amount)))  # NaN amounts sort last
        e = ent[rows]
        self.ent = e
        self.instr = snap.need_instr[rows].astype(np.int64)
        self.round = snap.need_round[rows].astype(np.int64)
        self.is_debt = ((DEBT_MASK >> self.instr) & 1).astype(bool)
        self.sector = snap.ent_sector[e].astype(np.int64)
        self.region = snap.ent_region_mask[e].astype(np.int64)
        self.tier = snap.ent_tier[e].astype(np.int64)
        self.boards = snap.ent_boards[e].astype(np.int64)
        self.excl_types = snap.ent_excl_types[e].astype(np.int64)
        self.district = rules.ent_district[e]
        self.tier_half = snap.ent_tier[e] / 2.0
        self.quals = rules.ent_quals_value[e]
        counts = np.bincount(e, minlength=snap.n_enterprises)
        self.shared = counts[e] > 1  # the enterprise has another live need: pick the best of them
        self.n_instr = int(max(self.instr.max(initial=0), snap.need_instr.max(initial=0))) + 1
        self.n_round = int(max(self.round.max(initial=-1), snap.need_round.max(initial=-1), 0)) + 1
        self.n_tier = int(max(self.tier.max(initial=-1), 0)) + 1
        n_sec = len(snap.sectors.names)
        self.n_sector = n_sec
        self.sec_cluster = np.array([snap.sectors.cluster[s] for s in range(n_sec)] + [-1], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.need)

    def eligible(self, inv: int, *, tolerance: float) -> np.ndarray:
        """Positions (into these columns) of the needs investor row ``inv`` may be shown."""
        s = self.snap
        if len(self.need) == 0 or not s.inv_active[inv] or s.inv_type[inv] == S_FUND:
            return np.zeros(0, dtype=np.int64)
        lo, hi = float(s.man_ticket_min[inv]), float(s.man_ticket_max[inv])
        start = 0 if np.isnan(lo) else int(np.searchsorted(self.amount[:self.n_finite], lo * (1 - tolerance), "left"))
        if np.isnan(hi):
            end = len(self.need) if np.isnan(lo) else self.n_finite
        else:
            end = int(np.searchsorted(self.amount[:self.n_finite], hi * (1 + tolerance), "right"))
        if end <= start:
            return np.zeros(0, dtype=np.int64)
        sl = slice(start, end)
        itype = int(s.inv_type[inv])
        ok = _bits(int(s.man_instr[inv]), self.n_instr)[self.instr[sl]]
        if itype in DEBT_ONLY:
            ok &= self.is_debt[sl]
        stages = int(s.man_stages[inv])
        if stages:
            ok &= _bits(stages, self.n_round)[self.round[sl]] | self.is_debt[sl]
        regions = int(s.man_regions[inv])
        if regions:
            ok &= (self.region[sl] & regions) != 0
        tiers = int(s.man_tiers[inv])
        if tiers:
            ok &= _bits(tiers, self.n_tier)[self.tier[sl]]
        boards = int(s.man_boards[inv])
        if boards:
            ok &= (self.boards[sl] & boards) != 0
        excluded = s.man_excluded_sectors[inv]
        if excluded:
            table = np.ones(self.n_sector + 1, dtype=bool)
            table[list(excluded)] = False
            ok &= table[self.sector[sl]]
        ok &= ((self.excl_types[sl] >> itype) & 1) == 0
        pos = np.flatnonzero(ok) + start
        blocked = self._blocked_enterprises(inv)
        if blocked is not None and len(pos):
            pos = pos[~np.isin(self.ent[pos], blocked)]
        return pos

    def _blocked_enterprises(self, inv: int) -> np.ndarray | None:
        """Enterprise rows the mandate excludes or that exclude this investor (``None``: none)."""
        s = self.snap
        rows = [s.ent_key_row[k] for k in s.man_excluded_ents[inv] if k in s.ent_key_row]
        rows += enterprises_excluding(s).get(s.inv_key[inv], [])
        return np.asarray(rows, dtype=np.int64) if rows else None

    def fit(self, inv: int, pos: np.ndarray) -> np.ndarray:
        """Structured fit of investor row ``inv`` with the needs at ``pos`` (equals ``PairRules.fit``)."""
        s, r, w = self.snap, self.rules, FIT_WEIGHTS
        near = np.where((self.sec_cluster >= 0) & r.cluster[inv, self.sec_cluster], 0.5,
                        0.4 if r.any_sector[inv] else 0.0)
        sector_t = w["sector"] * np.where(r.sector[inv], 1.0, near)
        stages = int(s.man_stages[inv])
        in_stage = np.array([(stages >> c) & 1 for c in range(self.n_round)] + [0], dtype=bool)
        other = 0.5 if stages == 0 else 0.25
        stage_t = w["stage"] * np.where(in_stage, 1.0, np.r_[np.full(self.n_round, other), 0.5])
        district_t = w["district"] * np.where(r.pref_district[inv], 1.0, 0.0 if r.has_pref[inv] else 0.5)
        amount = self.amount[pos]
        lo, hi = s.man_ticket_min[inv], s.man_ticket_max[inv]
        ticket = ticket_fit(amount, lo, hi)
        district = self.district[pos]
        out = sector_t[self.sector[pos]] + stage_t[self.round[pos]] + w["ticket"] * ticket + district_t[district]
        if s.inv_type[inv] == _STATE_FUND and not np.isnan(s.man_reinvest[inv]):
            out += w["reinvest"] * (r.inv_home[inv] == district).astype(float)
        else:
            out += w["reinvest"] * 0.0
        return out + w["tier"] * self.tier_half[pos] + w["quals"] * self.quals[pos]


def best_per_target(targets: np.ndarray, needs: np.ndarray, fit: np.ndarray, shared: np.ndarray | None = None
                    ) -> np.ndarray:
    """Indices of the best pair per target: highest fit, ties to the lowest need row.

    ``shared`` marks pairs whose target has other pairs; unshared pairs are kept as they are and
    only the shared ones are sorted (most enterprises have one live need).
    """
    if len(targets) == 0:
        return np.zeros(0, dtype=np.int64)
    if shared is None:
        idx = np.arange(len(targets))
        single = np.zeros(0, dtype=np.int64)
    else:
        idx = np.flatnonzero(shared)
        single = np.flatnonzero(~shared)
    if len(idx):
        order = idx[np.lexsort((needs[idx], -fit[idx], targets[idx]))]
        t = targets[order]
        first = order[np.r_[True, t[1:] != t[:-1]]]
    else:
        first = idx
    return np.concatenate([single, first]) if len(single) else first
