"""Hard constraints: rules no served list may ever break, vectorised over all candidates.

A pair is (investor, financing need); the need carries its enterprise. It is eligible only if:

* both parties are active, the need is open and not past its closing date;
* the investor type may take the instrument: S funds take no primary deal (they get secondary
  listings), banks, guarantee companies and lenders take debt-type needs only;
* the instrument is one the mandate accepts (an empty list means equity only);
* the need's round is one of the mandate's stages (when both are known; debt needs have none);
* the amount sought lies in the ticket range, widened by ``tolerance`` on each side;
* the enterprise lies inside one of the mandate's region scopes, in one of its tiers and on one
  of its boards (each only when the mandate names any);
* neither side excludes the other: the mandate's excluded sectors and enterprises, the
  enterprise's excluded investors and investor types.

:func:`violations` explains a single pair in words (used by tests and by "what would improve the
match"); the vectorised functions must agree with it, and the tests check that they do.
"""

from __future__ import annotations

import numpy as np

from matching.snapshot.core import DEBT_MASK, INSTR, ITYPE, MarketSnapshot
from matching.snapshot.derived import derived

S_FUND = ITYPE["s_fund"]
DEBT_ONLY = np.array([ITYPE["bank"], ITYPE["guarantee"], ITYPE["lender"]], dtype=np.int8)
OLD_SHARES = INSTR["old_shares"]


def _in_mask(values: np.ndarray, mask: int) -> np.ndarray:
    """Whether each code in ``values`` is in the bit ``mask`` (codes < 0 count as unknown → True)."""
    vals = values.astype(np.int64)
    known = vals >= 0
    hit = np.zeros(len(vals), dtype=bool)
    hit[known] = ((mask >> vals[known]) & 1).astype(bool)
    return hit | ~known


def eligible_needs(snap: MarketSnapshot, inv: int, *, tolerance: float = 0.2, as_of: float | None = None
                   ) -> np.ndarray:
    """Boolean mask over all needs: which needs investor row ``inv`` may be shown."""
    now = snap.as_of if as_of is None else as_of
    n = len(snap.need_id)
    if n == 0 or not snap.inv_active[inv] or snap.inv_type[inv] == S_FUND:
        return np.zeros(n, dtype=bool)
    ent = snap.need_ent
    ok = snap.need_open & ~(snap.need_closes < now) & (ent >= 0)
    ok &= snap.ent_active[ent]
    instr = snap.need_instr.astype(np.int64)
    ok &= ((snap.man_instr[inv] >> instr) & 1).astype(bool)
    if snap.inv_type[inv] in DEBT_ONLY:
        ok &= ((DEBT_MASK >> instr) & 1).astype(bool)
    ok &= instr != OLD_SHARES  # existing shares go to S funds as secondary listings
    stages = int(snap.man_stages[inv])
    if stages:
        is_debt = ((DEBT_MASK >> instr) & 1).astype(bool)
        ok &= _in_mask(snap.need_round, stages) | is_debt
    ok &= ticket_ok(snap.need_amount, snap.man_ticket_min[inv], snap.man_ticket_max[inv], tolerance)
    ok &= _enterprise_fit(snap, inv)[ent]
    return ok


def ticket_ok(amount: np.ndarray, lo: float, hi: float, tolerance: float) -> np.ndarray:
    """Amounts inside ``[lo·(1−tol), hi·(1+tol)]`` (an open end never binds)."""
    ok = np.ones(len(amount), dtype=bool)
    if not np.isnan(lo):
        ok &= amount >= lo * (1 - tolerance)
    if not np.isnan(hi):
        ok &= amount <= hi * (1 + tolerance)
    return ok


def _enterprise_fit(snap: MarketSnapshot, inv: int) -> np.ndarray:
    """Enterprise-level rules for one investor (region, tier, board, exclusions both ways)."""
    ok = snap.ent_active.copy()
    regions = int(snap.man_regions[inv])
    if regions:
        ok &= (snap.ent_region_mask & regions) != 0
    tiers = int(snap.man_tiers[inv])
    if tiers:
        ok &= _in_mask(snap.ent_tier, tiers)
    boards = int(snap.man_boards[inv])
    if boards:
        ok &= (snap.ent_boards & boards) != 0
    excluded = snap.man_excluded_sectors[inv]
    if excluded:
        ok &= ~np.isin(snap.ent_sector, np.fromiter(excluded, dtype=np.int32))
    for key in snap.man_excluded_ents[inv]:
        row = snap.ent_key_row.get(key)
        if row is not None:
            ok[row] = False
    itype = int(snap.inv_type[inv])
    ok &= ((snap.ent_excl_types >> itype) & 1) == 0
    key = snap.inv_key[inv]
    for row in enterprises_excluding(snap).get(key, ()):
        ok[row] = False
    return ok


def enterprises_excluding(snap: MarketSnapshot) -> dict[str, list[int]]:
    """Investor key → rows of the enterprises that exclude that investor (built once per snapshot)."""
    def build() -> dict[str, list[int]]:
        table: dict[str, list[int]] = {}
        for row, keys in enumerate(snap.ent_excl_investors):
            for k in keys:
                table.setdefault(k, []).append(row)
        return table
    return derived(snap, "enterprises_excluding", build)


def eligible_enterprises(snap: MarketSnapshot, inv: int) -> np.ndarray:
    """Enterprise-level eligibility (no need involved): for data without financing needs."""
    if not snap.inv_active[inv] or snap.inv_type[inv] == S_FUND:
        return np.zeros(snap.n_enterprises, dtype=bool)
    return _enterprise_fit(snap, inv)


def violations(snap: MarketSnapshot, inv: int, need: int, *, tolerance: float = 0.2, as_of: float | None = None
               ) -> list[str]:
    """The rules a pair breaks, as short codes (empty: eligible)."""
    now = snap.as_of if as_of is None else as_of
    out: list[str] = []
    ent = int(snap.need_ent[need])
    instr = int(snap.need_instr[need])
    itype = int(snap.inv_type[inv])
    if not snap.inv_active[inv]:
        out.append("investor_inactive")
    if ent < 0 or not snap.ent_active[ent]:
        out.append("enterprise_inactive")
    if not snap.need_open[need] or snap.need_closes[need] < now:
        out.append("need_closed")
    if itype == S_FUND:
        out.append("s_fund_primary")
    if itype in DEBT_ONLY and not (DEBT_MASK >> instr) & 1:
        out.append("debt_only")
    if instr == OLD_SHARES:
        out.append("old_shares_secondary")
    if not (int(snap.man_instr[inv]) >> instr) & 1:
        out.append("instrument")
    stages = int(snap.man_stages[inv])
    rnd = int(snap.need_round[need])
    if stages and rnd >= 0 and not (stages >> rnd) & 1 and not (DEBT_MASK >> instr) & 1:
        out.append("stage")
    if not ticket_ok(snap.need_amount[need:need + 1], snap.man_ticket_min[inv], snap.man_ticket_max[inv],
                     tolerance)[0]:
        out.append("ticket")
    if ent >= 0:
        regions = int(snap.man_regions[inv])
        if regions and not int(snap.ent_region_mask[ent]) & regions:
            out.append("region")
        tiers = int(snap.man_tiers[inv])
        if tiers and not (tiers >> int(snap.ent_tier[ent])) & 1:
            out.append("tier")
        boards = int(snap.man_boards[inv])
        if boards and not int(snap.ent_boards[ent]) & boards:
            out.append("board")
        if int(snap.ent_sector[ent]) in snap.man_excluded_sectors[inv]:
            out.append("excluded_sector")
        if snap.ent_key[ent] in snap.man_excluded_ents[inv]:
            out.append("excluded_enterprise")
        if (int(snap.ent_excl_types[ent]) >> itype) & 1 or snap.inv_key[inv] in snap.ent_excl_investors[ent]:
            out.append("excluded_by_enterprise")
    return out
