"""The one vectorised eligibility implementation: the rules of :func:`~matching.rules.constraints.violations`
over many pairs at once, used by serving, training rows and evaluation alike.

Eligibility of an (investor, need) pair is the AND of two parts:

* :func:`hard_rules`: the rules that do not change with time for a given mandate: those of the
  target alone (:func:`target_rules`: a need with an enterprise, no existing shares) and those of the
  investor against it (:func:`mandate_rules`: investor type, instrument, stage, ticket, region, tier,
  board, exclusions both ways). Each rule's predicate is written here once, with NumPy
  broadcasting, so the same code answers one investor against many needs (a deal list), many
  investors against one need (an enterprise's list), or pairs;
* :class:`Statuses`: who is active and which needs are open at a moment (``as_of``), today's
  statuses or a past period's (:meth:`Statuses.period`). The open check is
  :func:`~matching.rules.constraints.needs_open`.

Pairs without a need (markets of investment events, no financing needs) are enterprise-level: the
same predicates, minus the need's own (instrument, stage, ticket). A past moment's mandates come from
:func:`matching.snapshot.asof.snapshot_at`: eligibility reads whatever mandate columns its snapshot holds.

:class:`Eligibility` is the per-snapshot index callers use; the fast paths (the amount-sorted columns
of :class:`~matching.rules.liveneeds.LiveNeeds`, the per-snapshot tables of
:mod:`matching.rules.static`) are data structures over :class:`Columns` that call these functions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from matching.rules.constraints import DEBT_ONLY, OLD_SHARES, S_FUND, needs_open, needs_open_in, ticket_ok
from matching.rules.fit import fit_tables, structured_fit
from matching.snapshot.core import DEBT_MASK, MarketSnapshot
from matching.snapshot.derived import derived

Index = np.ndarray | int
_DEBT_ONLY = frozenset(DEBT_ONLY.tolist())


@dataclass(frozen=True)
class Columns:
    """Facts of the targets of some pairs, aligned with those targets: needs (with their
    enterprise's facts), or enterprises alone (``need`` is ``None``: need-less pairs).

    Attributes:
        ent: enterprise row (``-1``: a need without an enterprise, never eligible).
        sector, region, tier, boards, excl_types: the enterprise's sector code, region-scope mask,
            tier code, board mask and mask of excluded investor types.
        district, quals: the enterprise's district code (of :class:`~matching.rules.fit.FitTables`) and
            qualification value (for the structured fit).
        need, instr, round, is_debt, amount: the need's row, instrument, round (``-1``: unknown),
            whether the instrument is debt-type, amount in yuan (``None`` for enterprises alone).
    """

    ent: np.ndarray
    sector: np.ndarray
    region: np.ndarray
    tier: np.ndarray
    boards: np.ndarray
    excl_types: np.ndarray
    district: np.ndarray
    quals: np.ndarray
    need: np.ndarray | None = None
    instr: np.ndarray | None = None
    round: np.ndarray | None = None
    is_debt: np.ndarray | None = None
    amount: np.ndarray | None = None

    @classmethod
    def of_enterprises(cls, snap: MarketSnapshot, rows: np.ndarray | None = None) -> Columns:
        """Columns of enterprise rows (default all), for need-less pairs."""
        ent = np.arange(snap.n_enterprises, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        return cls(**_enterprise_facts(snap, ent))

    @classmethod
    def of_needs(cls, snap: MarketSnapshot, rows: np.ndarray | None = None) -> Columns:
        """Columns of need rows (default all), with their enterprise's facts."""
        need = np.arange(len(snap.need_id), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
        instr = snap.need_instr[need].astype(np.int64)
        return cls(**_enterprise_facts(snap, snap.need_ent[need].astype(np.int64)), need=need, instr=instr,
                   round=snap.need_round[need].astype(np.int64), is_debt=((DEBT_MASK >> instr) & 1).astype(bool),
                   amount=snap.need_amount[need].astype(np.float64))

    def take(self, at: Any) -> Columns:
        """These columns at positions ``at`` (an index array, a slice or one position)."""
        return Columns(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[at]
                          for f in fields(self)})

    def __len__(self) -> int:
        return len(self.ent)


def _enterprise_facts(snap: MarketSnapshot, ent: np.ndarray) -> dict[str, np.ndarray]:
    e = np.maximum(ent, 0)  # ent < 0 gathers row 0's facts; hard_rules refuses the pair
    t = fit_tables(snap)
    return {"ent": ent, "sector": snap.ent_sector[e].astype(np.int64),
            "region": snap.ent_region_mask[e].astype(np.int64),
            "tier": snap.ent_tier[e].astype(np.int64), "boards": snap.ent_boards[e].astype(np.int64),
            "excl_types": snap.ent_excl_types[e].astype(np.int64), "district": t.ent_district[e],
            "quals": t.ent_quals_value[e]}


@functools.lru_cache(maxsize=4096)
def _bit_table(mask: int) -> np.ndarray:
    table = np.ones(65, dtype=bool)  # entry 64, read by code -1: unknown counts as in
    table[:64] = (mask >> np.arange(64)) & 1
    table.flags.writeable = False
    return table


def _has_bit(mask: Any, code: Any) -> Any:
    """Whether each code is in the bit mask (an unknown code, -1, counts as in). One mask against
    many codes reads a lookup table of 65 entries; many masks shift."""
    if np.ndim(mask) == 0:
        return _bit_table(int(mask))[code]
    code = np.asarray(code)
    return ((mask >> np.maximum(code, 0)) & 1).astype(bool) | (code < 0)


def _scoped(scope: Any, hit: Any) -> Any:
    """A mandate scope binds only when it names something (``scope`` 0: anything goes)."""
    if np.ndim(scope) == 0:
        return hit if scope else True
    return (scope == 0) | hit


def _isin_sorted(keys: np.ndarray, table: np.ndarray) -> np.ndarray:
    """``np.isin(keys, table)`` for a sorted ``table``, without sorting ``keys``."""
    if len(table) == 0:
        return np.zeros(keys.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(table, keys), len(table) - 1)
    return table[pos] == keys


def excluded_pairs(snap: MarketSnapshot) -> np.ndarray:
    """Sorted keys ``inv · n_enterprises + ent`` of the pairs excluded either way: the mandate
    excludes the enterprise, or the enterprise excludes the investor (built once per snapshot)."""
    def build() -> np.ndarray:
        n = snap.n_enterprises
        keys = [i * n + snap.ent_key_row[k] for i, ks in enumerate(snap.man_excluded_ents) for k in ks
                if k in snap.ent_key_row]
        keys += [snap.inv_key_row[k] * n + e for e, ks in enumerate(snap.ent_excl_investors) for k in ks
                 if k in snap.inv_key_row]
        return np.unique(np.asarray(keys, dtype=np.int64))
    return derived(snap, "excluded_pairs", build)


def hard_rules(snap: MarketSnapshot, inv: Index, cols: Columns, *, tolerance: float) -> np.ndarray:
    """The time-independent hard rules of pairs ``(inv, cols)``: investor rows ``inv`` (one row or an
    array) against the targets of ``cols`` (arrays), broadcast. Statuses are :class:`Statuses`'.

    The AND of :func:`target_rules` (the target alone) and :func:`mandate_rules` (the investor's).
    """
    ok = mandate_rules(snap, inv, cols, tolerance=tolerance)
    ok &= target_rules(cols)
    return ok


def target_rules(cols: Columns) -> np.ndarray:
    """The rules a target breaks whoever asks: a need without an enterprise; existing shares (they go
    to S funds as secondary listings, never as a primary deal)."""
    ok = cols.ent >= 0
    if cols.instr is not None:
        ok &= cols.instr != OLD_SHARES
    return ok


def mandate_rules(snap: MarketSnapshot, inv: Index, cols: Columns, *, tolerance: float) -> np.ndarray:
    """The rules that depend on the investor: its type and mandate against the target, exclusions both ways."""
    shape = np.broadcast_shapes(np.shape(inv), np.shape(cols.ent))
    itype = snap.inv_type[inv].astype(np.int64)
    if np.ndim(inv) == 0 and itype == S_FUND:  # S funds take secondary listings, never a primary deal
        return np.zeros(shape, dtype=bool)
    ok = np.ones(shape, dtype=bool)
    ok &= itype != S_FUND
    if cols.need is not None:
        assert cols.instr is not None and cols.round is not None and cols.is_debt is not None
        ok &= _has_bit(snap.man_instr[inv], cols.instr)  # an empty list in a mandate means equity only
        debt_only = np.bool_(int(itype) in _DEBT_ONLY) if np.ndim(itype) == 0 else np.isin(itype, DEBT_ONLY)
        ok &= ~debt_only | cols.is_debt  # banks, guarantors, lenders: debt-type needs only
        stages = snap.man_stages[inv]
        ok &= _scoped(stages, _has_bit(stages, cols.round) | cols.is_debt)  # debt needs have no round
        ok &= ticket_ok(cols.amount, snap.man_ticket_min[inv], snap.man_ticket_max[inv], tolerance)
    regions = snap.man_regions[inv]
    ok &= _scoped(regions, (cols.region & regions) != 0)
    tiers = snap.man_tiers[inv]
    ok &= _scoped(tiers, _has_bit(tiers, cols.tier))
    boards = snap.man_boards[inv]
    ok &= _scoped(boards, (cols.boards & boards) != 0)
    excl = fit_tables(snap).excl_sector
    ok &= ~(excl[inv][cols.sector] if np.ndim(inv) == 0 else excl[inv, cols.sector])  # one row: a 1-d gather
    ok &= ((cols.excl_types >> itype) & 1) == 0
    blocked = excluded_pairs(snap)
    if len(blocked):  # exclusions both ways, looked up for the pairs still standing only
        at = np.flatnonzero(ok)
        i, e = (np.broadcast_to(a, shape).ravel()[at] for a in (np.asarray(inv), cols.ent))
        ok.ravel()[at] = ~_isin_sorted(i * snap.n_enterprises + e, blocked)
    return ok


@dataclass(frozen=True)
class Statuses:
    """Who is active and which needs are open at one moment (the time-dependent half of eligibility).

    Attributes:
        investor: per investor row, active.
        need: per need row, open at the moment and its enterprise active.
        enterprise: per enterprise row, active (for need-less pairs).
    """

    investor: np.ndarray
    need: np.ndarray
    enterprise: np.ndarray

    @classmethod
    def at(cls, snap: MarketSnapshot, as_of: float | None = None) -> Statuses:
        """Today's statuses, needs open at ``as_of`` (default the snapshot's "now")."""
        return cls(snap.inv_active, _need_status(snap, needs_open(snap, as_of), snap.ent_active), snap.ent_active)

    @classmethod
    def period(cls, snap: MarketSnapshot, t0: float, t1: float, inv_seen: np.ndarray, ent_seen: np.ndarray
               ) -> Statuses:
        """Statuses of the past period ``[t0, t1)``: a need is open from its opening to its closing date
        whatever its status today (today's tells which needs got funded later); a party with events in
        the period was active then; an enterprise alone counts once created before ``t1``."""
        inv_active = snap.inv_active.copy()
        inv_active[inv_seen] = True
        ent_active = snap.ent_active.copy()  # listed or closed only since then
        ent_active[ent_seen] = True
        return cls(inv_active, _need_status(snap, needs_open_in(snap, t0, t1), ent_active),
                   ent_active & ~(snap.ent_created >= t1))


def _need_status(snap: MarketSnapshot, open_: np.ndarray, ent_active: np.ndarray) -> np.ndarray:
    return open_ & ent_active[np.maximum(snap.need_ent, 0)]  # need_ent < 0: refused by hard_rules


def eligible(snap: MarketSnapshot, inv: Index, cols: Columns, statuses: Statuses, *, tolerance: float
             ) -> np.ndarray:
    """Eligibility of pairs ``(inv, cols)`` at the moment of ``statuses``: statuses AND :func:`hard_rules`."""
    ok = hard_rules(snap, inv, cols, tolerance=tolerance)
    ok &= statuses.investor[inv]
    ok &= statuses.need[cols.need] if cols.need is not None else statuses.enterprise[np.maximum(cols.ent, 0)]
    return ok


class Eligibility:
    """The eligibility index of one snapshot: who may be shown what, at its "now" or another moment.

    Built once per snapshot (:meth:`of`); the need columns are gathered once.
    """

    def __init__(self, snap: MarketSnapshot) -> None:
        self.snap = snap
        self.needs = Columns.of_needs(snap)
        self.enterprises = Columns.of_enterprises(snap)
        self._now = Statuses.at(snap)

    @classmethod
    def of(cls, snap: MarketSnapshot) -> Eligibility:
        """The index of ``snap`` (built on first use, then shared)."""
        return derived(snap, "eligibility", lambda: cls(snap))

    def statuses(self, as_of: float | None = None) -> Statuses:
        """Statuses at ``as_of`` (default the snapshot's "now")."""
        return self._now if as_of is None or as_of == self.snap.as_of else Statuses.at(self.snap, as_of)

    def needs_for(self, inv: int, *, tolerance: float = 0.2, as_of: float | None = None) -> np.ndarray:
        """Bool mask over needs: which needs investor row ``inv`` may be shown."""
        return eligible(self.snap, int(inv), self.needs, self.statuses(as_of), tolerance=tolerance)

    def investors_for(self, need: int, *, tolerance: float = 0.2, as_of: float | None = None) -> np.ndarray:
        """Bool mask over investors: who may be shown need row ``need``.

        Raises:
            IndexError: ``need`` is not a need row of the snapshot.
        """
        if not 0 <= need < len(self.needs):
            raise IndexError(f"need row {need}: the snapshot has need rows 0..{len(self.needs) - 1}")
        invs = np.arange(self.snap.n_investors)
        return eligible(self.snap, invs, self.needs.take(slice(need, need + 1)), self.statuses(as_of),
                        tolerance=tolerance)

    def enterprises_for(self, inv: int) -> np.ndarray:
        """Bool mask over enterprises an investor may be shown without a need (need-less markets)."""
        return eligible(self.snap, int(inv), self.enterprises, self._now, tolerance=0.0)

    def investors_for_enterprise(self, ent: int) -> np.ndarray:
        """Bool mask over investors who may be shown enterprise row ``ent`` without a need (the other way round
        of :meth:`enterprises_for`: the same enterprise-level rules)."""
        invs = np.arange(self.snap.n_investors)
        return eligible(self.snap, invs, self.enterprises.take(slice(ent, ent + 1)), self._now, tolerance=0.0)


def pair_fit(snap: MarketSnapshot, inv: np.ndarray | int, need: np.ndarray) -> np.ndarray:
    """:func:`~matching.rules.fit.structured_fit` of pairs ``(inv[i], need[i])`` given as rows (needs ≥ 0)."""
    return structured_fit(snap, np.asarray(inv, dtype=np.int64), Columns.of_needs(snap, need))
