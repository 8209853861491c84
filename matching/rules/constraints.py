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

:func:`violations` is the reference: it explains a single pair in words, rule by rule (tests, the
last check before a pair is served, "what would improve the match"). The one vectorised form of the
same rules, used by serving, training and evaluation, is :mod:`matching.rules.eligibility`;
``tests/test_rules_single_source.py`` checks that the two agree and that no other module
re-implements a rule. :func:`needs_open` is the one "need still open at t" predicate.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from matching.snapshot.core import DEBT_MASK, INSTR, ITYPE, MarketSnapshot

S_FUND = ITYPE["s_fund"]
DEBT_ONLY = np.array([ITYPE["bank"], ITYPE["guarantee"], ITYPE["lender"]], dtype=np.int8)
OLD_SHARES = INSTR["old_shares"]


def ticket_ok(amount: np.ndarray | float, lo: np.ndarray | float, hi: np.ndarray | float, tolerance: float
              ) -> np.ndarray:
    """Amounts inside ``[lo·(1−tol), hi·(1+tol)]`` (an open end, NaN, never binds; a NaN amount meets no
    bound). Scalars and arrays broadcast: one need against every mandate, or one mandate against needs."""
    amount = np.asarray(amount, dtype=np.float64)
    if np.ndim(lo) == 0 and np.ndim(hi) == 0:  # one mandate: an open end costs nothing
        ok = np.ones(amount.shape, dtype=bool)
        if not np.isnan(lo):
            ok &= amount >= lo * (1 - tolerance)
        if not np.isnan(hi):
            ok &= amount <= hi * (1 + tolerance)
        return ok
    with np.errstate(invalid="ignore"):
        return (np.isnan(lo) | (amount >= lo * (1 - tolerance))) & (np.isnan(hi) | (amount <= hi * (1 + tolerance)))


def needs_open(snap: MarketSnapshot, as_of: float | None = None, *, rows: np.ndarray | int | slice = slice(None),
               status: np.ndarray | None = None) -> np.ndarray:
    """The one "need still open at ``as_of``" predicate: its status says open and its closing date has
    not passed (a need without a closing date stays open).

    Args:
        snap: the market.
        as_of: the moment, in days (default: the snapshot's own "now").
        rows: the need rows to answer for (default all).
        status: the open status to use instead of today's ``snap.need_open`` (aligned with ``rows``),
            e.g. "opened before the period ended" for a past period, whose statuses are not known.
    """
    now = snap.as_of if as_of is None else as_of
    st = snap.need_open[rows] if status is None else status
    return np.asarray(st & ~(snap.need_closes[rows] < now))


def window_open(opens_on: date | None, closes_on: date | None, day: date) -> bool:
    """Whether a dated window (a support programme's application period) accepts on ``day``: started and not
    ended, an open end counting as open. The same rule as :func:`needs_open` for a need's closing date."""
    return (opens_on is None or opens_on <= day) and not window_closed(closes_on, day)


def window_closed(closes_on: date | None, day: date) -> bool:
    """Whether a dated window ended before ``day`` (one not yet open is not closed)."""
    return closes_on is not None and closes_on < day


def needs_open_in(snap: MarketSnapshot, t0: float, t1: float) -> np.ndarray:
    """Bool over needs: open at some time in the past period ``[t0, t1)``: opened before ``t1`` and not
    closed before ``t0``, whatever the status today (today's tells which needs got funded later)."""
    return needs_open(snap, t0, status=~(snap.need_opened >= t1))


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
    if not needs_open(snap, now, rows=need):
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
    if not ticket_ok(snap.need_amount[need], snap.man_ticket_min[inv], snap.man_ticket_max[inv], tolerance):
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
