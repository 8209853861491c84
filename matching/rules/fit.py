"""The structured mandate fit of (investor, need) pairs: one function, in [0, 1].

:func:`structured_fit` scores a pair by how well the need's enterprise and terms match the mandate:
sector (exact, same cluster, or any sector), stage, ticket, district preference, local reinvestment of
a state fund, the enterprise's tier and qualifications, weighted by :data:`FIT_WEIGHTS`. It ranks the
rules candidate source, picks one need per enterprise in a list (serving and training alike) and is
the ``rules`` baseline of evaluation. It is not a hard rule: every pair it scores has passed
:mod:`matching.rules.eligibility` first (or is being evaluated as a baseline).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from matching.domain import industries
from matching.snapshot.core import ITYPE, QUAL, MarketSnapshot
from matching.snapshot.derived import derived

if TYPE_CHECKING:
    from matching.rules.eligibility import Columns

#: Weights of the structured-fit components (they sum to 1, so fit lies in [0, 1]).
FIT_WEIGHTS = {"sector": 0.40, "stage": 0.15, "ticket": 0.15, "district": 0.10, "reinvest": 0.05,
               "tier": 0.05, "quals": 0.10}
_QUAL_VALUE = {"little_giant": 1.0, "srdi_municipal": 0.6, "high_tech": 0.6, "ipo_reserve": 0.6,
               "tech_sme": 0.3}
_STATE_FUND = ITYPE["state_fund"]


def ticket_score(amount: np.ndarray, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
    """Ticket component of the structured fit: 0.7 inside ``[lo, hi]`` plus 0.3 for closeness to the
    range's geometric centre (0.5 where a bound is open). Not the ``ticket_fit`` feature (the
    amount's position in the range, :mod:`matching.features.table`)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = ~(amount < lo) & ~(amount > hi)
        span = np.log(np.where(hi > lo, hi / lo, 2.0))
        centre = 1.0 - np.minimum(1.0, np.abs(np.log(amount / np.sqrt(lo * hi))) / np.maximum(span, 1e-9))
    centre = np.where(np.isnan(centre), 0.5, centre)
    return 0.7 * inside + 0.3 * centre


class FitTables:
    """Per-investor tables of one snapshot the fit and the sector exclusion read, as dense arrays.

    Attributes:
        sector, cluster, excl_sector: bool ``(n_investors, codes + 1)``: the mandate's sectors, sector
            clusters and excluded sectors (the last column: an unknown code, -1, never set).
        any_sector: the mandate names no sector.
        sec_cluster: cluster code per sector code (last entry: unknown sector, -1).
        ent_district, inv_home: district codes of enterprises (last code: none) and investors (-1: none).
        pref_district, has_pref: the mandate's preferred districts.
        ent_quals_value: per enterprise, the value of its best qualification.
    """

    def __init__(self, snap: MarketSnapshot) -> None:
        n_inv, n_sec, n_cl = snap.n_investors, len(snap.sectors.names), len(industries.CLUSTERS)
        self.sector = np.zeros((n_inv, n_sec + 1), dtype=bool)
        self.cluster = np.zeros((n_inv, n_cl + 1), dtype=bool)
        self.excl_sector = np.zeros((n_inv, n_sec + 1), dtype=bool)
        for i in range(n_inv):
            self.sector[i, list(snap.man_sectors[i])] = True
            self.cluster[i, list(snap.man_clusters[i])] = True
            self.excl_sector[i, list(snap.man_excluded_sectors[i])] = True
        self.any_sector = ~self.sector.any(axis=1)
        self.sec_cluster = np.array([snap.sectors.cluster[s] for s in range(n_sec)] + [-1], dtype=np.int64)
        codes = sorted({d for d in snap.ent_district if d} | {d for s in snap.man_districts for d in s}
                       | {d for d in snap.inv_district if d})
        idx = {c: j for j, c in enumerate(codes)}
        self.ent_district = np.array([idx[d] if d else len(codes) for d in snap.ent_district], dtype=np.int64)
        self.inv_home = np.array([idx[d] if d else -1 for d in snap.inv_district], dtype=np.int64)
        self.pref_district = np.zeros((n_inv, len(codes) + 1), dtype=bool)
        for i, ds in enumerate(snap.man_districts):
            self.pref_district[i, [idx[d] for d in ds]] = True
        self.has_pref = self.pref_district.any(axis=1)
        qv = np.zeros(snap.n_enterprises)
        for code, value in _QUAL_VALUE.items():
            qv = np.maximum(qv, ((snap.ent_quals >> QUAL[code]) & 1) * value)
        self.ent_quals_value = qv


def fit_tables(snap: MarketSnapshot) -> FitTables:
    """The :class:`FitTables` of ``snap`` (built once per snapshot)."""
    return derived(snap, "fit_tables", lambda: FitTables(snap))


def _per_code(term: Callable[[Any, np.ndarray], np.ndarray], inv: Any, codes: np.ndarray, size: int) -> np.ndarray:
    """``term(inv, codes)``; for one investor, evaluated once per code (a table, -1 last) and gathered."""
    if np.ndim(inv) == 0:
        return term(inv, _codes(size))[codes]
    return term(inv, codes)


@functools.lru_cache(maxsize=64)
def _codes(size: int) -> np.ndarray:
    """Codes ``0..size-1`` then -1 (unknown), so a table over them is indexed by code directly."""
    out = np.append(np.arange(size), -1)
    out.flags.writeable = False
    return out


def structured_fit(snap: MarketSnapshot, inv: np.ndarray | int, cols: Columns, at: Any = slice(None)
                   ) -> np.ndarray:
    """Structured fit in [0, 1] of investor rows ``inv`` (one row or an array, broadcast) with the needs of
    ``cols`` at positions ``at`` (weights: :data:`FIT_WEIGHTS`).

    Raises:
        ValueError: ``cols`` holds enterprises alone (the fit needs a need).
    """
    if cols.need is None or cols.round is None or cols.amount is None:
        raise ValueError("structured_fit needs need columns (Columns.of_needs); a pair without a need has no fit")
    t, w = fit_tables(snap), FIT_WEIGHTS
    sec, rnd, district = cols.sector[at], cols.round[at], cols.district[at]

    def sector(i: Any, s: np.ndarray) -> np.ndarray:
        cl = t.sec_cluster[s]
        near = np.where((cl >= 0) & t.cluster[i, cl], 0.5, np.where(t.any_sector[i], 0.4, 0.0))
        return w["sector"] * np.where(t.sector[i, s], 1.0, near)

    def stage(i: Any, r: np.ndarray) -> np.ndarray:
        stages = snap.man_stages[i]
        in_stage = ((stages >> np.maximum(r, 0)) & 1).astype(bool) & (r >= 0)
        return w["stage"] * np.where(in_stage, 1.0, np.where((stages == 0) | (r < 0), 0.5, 0.25))

    def place(i: Any, d: np.ndarray) -> np.ndarray:
        return w["district"] * np.where(t.pref_district[i, d], 1.0, np.where(t.has_pref[i], 0.0, 0.5))

    n_round = int(max(rnd.max(initial=-1), 0)) + 1
    n_district = t.pref_district.shape[1]
    ticket = ticket_score(cols.amount[at], snap.man_ticket_min[inv], snap.man_ticket_max[inv])
    out = (_per_code(sector, inv, sec, len(t.sec_cluster) - 1) + _per_code(stage, inv, rnd, n_round)
           + w["ticket"] * ticket + _per_code(place, inv, district, n_district))
    reinvests = (snap.inv_type[inv] == _STATE_FUND) & ~np.isnan(snap.man_reinvest[inv])  # a state fund's home
    if np.ndim(inv) or reinvests:  # (adding 0.0 for one investor that does not changes no value)
        out += w["reinvest"] * (reinvests & (t.inv_home[inv] == district)).astype(float)
    return out + w["tier"] * (cols.tier[at] / 2.0) + w["quals"] * cols.quals[at]

