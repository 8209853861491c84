"""Synthetic investors of every type, each with a mandate (see :mod:`matching.synth.mandates`).

Numeric columns (type, status, size, activity, capacity, risk appetite, hidden taste) are drawn
with ``numpy``; names, descriptions and mandates are composed per investor. The mandate records
are then turned back into arrays for the funnel, so the hard rules the funnel respects are
exactly the ones a ranker can see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from matching.domain.industries import INDUSTRY_CODES
from matching.domain.records import Investor, Mandate
from matching.domain.regions import DISTRICT_CODES, DISTRICTS
from matching.domain.vocab import DEBT_ONLY_INVESTOR_TYPES, INVESTOR_STATUSES, INVESTOR_TYPES
from matching.synth.enterprises import DISTRICT_WEIGHTS, TASTE_DIM
from matching.synth.investor_texts import investor_description, investor_name
from matching.synth.lexicon import FOREIGN_HOMES, INVESTOR_CITIES
from matching.synth.mandates import (
    MandateArrays,
    compose_mandate,
    mandate_arrays,
    pick_sectors,
    revise_mandate,
)
from matching.synth.texts import Dice

TYPES = INVESTOR_TYPES.codes


@dataclass(frozen=True, slots=True)
class TypeParams:
    """How investors of one type behave (shares and medians; yuan for money)."""

    share: float
    views: float  # mean enterprises viewed per active month
    cap: tuple[int, int]  # deals per year, range
    risk: float  # appetite for young, early-stage companies (-1 … 1)
    aum: float
    ticket: float
    generalist: float  # share with no sector focus
    in_chongqing: float


PARAMS: dict[str, TypeParams] = {
    "vc": TypeParams(0.26, 7.0, (2, 8), 1.0, 1e9, 1e7, 0.15, 0.45),
    "pe": TypeParams(0.17, 5.0, (1, 5), -0.3, 4e9, 8e7, 0.25, 0.35),
    "s_fund": TypeParams(0.05, 4.0, (1, 4), -0.5, 2e9, 5e7, 0.6, 0.3),
    "state_fund": TypeParams(0.11, 6.0, (2, 10), 0.2, 5e9, 4e7, 0.3, 1.0),
    "securities_arm": TypeParams(0.05, 4.0, (1, 4), -0.2, 3e9, 5e7, 0.2, 0.3),
    "bank": TypeParams(0.10, 6.0, (8, 30), -1.0, 3e10, 1e7, 0.7, 1.0),
    "guarantee": TypeParams(0.06, 4.0, (6, 20), -0.8, 5e9, 5e6, 0.7, 1.0),
    "qfi": TypeParams(0.05, 3.0, (1, 3), 0.0, 1e10, 1.5e8, 0.2, 0.0),
    "corporate": TypeParams(0.09, 3.0, (1, 3), 0.3, 2e9, 3e7, 0.0, 0.7),
    "lender": TypeParams(0.06, 5.0, (6, 25), -0.6, 3e9, 3e6, 0.8, 1.0),
}
assert tuple(PARAMS) == TYPES
_STATUS_P = {"equity": [0.12, 0.50, 0.20, 0.13, 0.05], "debt": [0.0, 0.90, 0.05, 0.0, 0.05],
             "s_fund": [0.20, 0.70, 0.07, 0.0, 0.03]}


@dataclass(slots=True)
class InvestorTable:
    """Column-wise investors; ``taste``, ``activity`` and ``capacity`` are hidden."""

    kind: np.ndarray  # index into TYPES
    status: np.ndarray  # index into INVESTOR_STATUSES
    district: np.ndarray  # home district index, -1 outside Chongqing
    reputation: np.ndarray  # standardised log size, with noise
    views: np.ndarray  # expected views per active month
    capacity: np.ndarray  # deals per year
    risk: np.ndarray
    taste: np.ndarray  # (n, TASTE_DIM) float32
    created_day: np.ndarray  # day joined, relative to the window start (negative: before)
    v2_month: np.ndarray  # month from which mandate version 2 holds, -1 without one

    def __len__(self) -> int:
        return len(self.kind)


@dataclass(slots=True)
class DemandSide:
    """Investors and mandates as records, and the arrays the funnel needs."""

    investors: list[Investor]
    mandates: list[Mandate]
    brands: list[str]  # place + trade name of each investor, for naming its funds
    table: InvestorTable
    v1: MandateArrays
    v2: MandateArrays


def generate_investors(n: int, rng: np.random.Generator, ind_emb: np.ndarray, *, seed: int, start: datetime,
                       month_starts: list[datetime]) -> DemandSide:
    """Draw ``n`` investors of every type with their mandates."""
    months = len(month_starts) - 1
    days = (month_starts[-1] - start).days
    p = np.array([PARAMS[t].share for t in TYPES])
    kind = rng.choice(len(TYPES), size=n, p=p / p.sum())
    if n >= len(TYPES):  # every type present, whatever the size
        kind[: len(TYPES)] = np.arange(len(TYPES))
        kind = rng.permutation(kind)
    group = np.array(["debt" if t in DEBT_ONLY_INVESTOR_TYPES else "s_fund" if t == "s_fund" else "equity"
                      for t in TYPES])
    status = np.zeros(n, dtype=np.int64)
    for g, probs in _STATUS_P.items():
        sel = np.flatnonzero(group[kind] == g)
        status[sel] = rng.choice(len(INVESTOR_STATUSES), size=len(sel), p=probs)
    params = [PARAMS[TYPES[k]] for k in kind.tolist()]
    municipal = (kind == TYPES.index("state_fund")) & (rng.random(n) < 0.35)
    in_cq = rng.random(n) < np.array([q.in_chongqing for q in params])
    dw = DISTRICT_WEIGHTS / DISTRICT_WEIGHTS.sum()
    district = rng.choice(len(DISTRICTS), size=n, p=dw)
    flat = rng.integers(0, len(DISTRICTS), size=n)  # district funds exist in every district
    district = np.where((kind == TYPES.index("state_fund")) & ~municipal, flat, district)
    seats = [DISTRICT_CODES.index(c) for c in ("500103", "500112", "500105")]  # 渝中, 渝北, 江北
    district = np.where(municipal, rng.choice(seats, size=n), district)
    district = np.where(in_cq, district, -1)
    aum_med = np.array([q.aum for q in params]) * np.where(municipal, 4.0, 1.0)
    log_aum = np.log(aum_med) + rng.normal(0, 0.8, size=n)
    aum = np.round(np.exp(log_aum), -6)
    reputation = 0.7 * (log_aum - np.log(aum_med)) / 0.8 + 0.7 * rng.normal(size=n)
    views = np.array([q.views for q in params]) * np.exp(rng.normal(-0.18, 0.6, size=n))
    cap_lo, cap_hi = np.array([q.cap for q in params]).T
    capacity = rng.integers(cap_lo, cap_hi + 1)
    risk = np.array([q.risk for q in params]) + rng.normal(0, 0.3, size=n)
    created = np.where(rng.random(n) < 0.85, -rng.integers(30, 1000, size=n),
                       rng.integers(0, max(1, int(0.7 * days)), size=n))
    lo, hi = max(1, months // 3), max(1, 2 * months // 3)
    v2 = rng.random(n) < 0.18  # ~15 % of all investors once the ineligible (inactive, late) drop out
    v2_month = np.where(v2 & (months >= 2), rng.integers(lo, hi + 1, size=n), -1)
    v2_month = np.where((status == INVESTOR_STATUSES.codes.index("inactive")) | (created >= 0), -1, v2_month)

    seen: set[str] = set()
    amac = rng.choice(10**6, size=n, replace=False)
    investors, mandates, sector_lists, brands = [], [], [], []
    uniforms = rng.random((n, 40)).tolist()
    for i in range(n):
        d = Dice(uniforms[i], rng)
        t = TYPES[kind[i]]
        level = ("municipal" if municipal[i] else "district") if t == "state_fund" else None
        dist = DISTRICTS[district[i]] if district[i] >= 0 else None
        home = FOREIGN_HOMES[int(d.random() * len(FOREIGN_HOMES))] if t == "qfi" else None
        prov, city = ("重庆", "重庆") if dist else (None, home[1]) if home else d.pick(INVESTOR_CITIES)
        sectors = pick_sectors(d, t, dist, params[i].generalist)
        name, brand, en = investor_name(d, seen, kind=t, level=level, city=city,
                                        district=dist.zh if dist else "",
                                        foreign=(home[1], home[2]) if home else ("", ""),
                                        industry_code=sectors[0] if sectors else None)
        inv = Investor(
            name=name, investor_type=t, source="generator", external_id=f"s{seed}-inv-{i:06d}", name_en=en,
            state_fund_level=level, amac_code=f"P1{amac[i]:06d}" if t not in DEBT_ONLY_INVESTOR_TYPES and
            (t != "corporate" or d.chance(0.4)) else None,
            aum=float(aum[i]), status=INVESTOR_STATUSES.codes[status[i]],
            district_code=dist.code if dist else None, province=prov, country=home[0] if home else "CN",
            description=investor_description(d, kind=t, status=INVESTOR_STATUSES.codes[status[i]],
                                             aum=float(aum[i]), city=city),
            created_at=start + timedelta(days=int(created[i]), seconds=int(d.random() * 86400)),
        )
        m1 = compose_mandate(d, inv, sectors, params[i].ticket, dist)
        investors.append(inv)
        mandates.append(m1)
        sector_lists.append(sectors)
        brands.append(brand)
        if v2_month[i] > 0:
            mandates.append(revise_mandate(d, m1, month_starts[v2_month[i]], t))

    taste = 0.85 * rng.normal(size=(n, TASTE_DIM))
    for i, sectors in enumerate(sector_lists):
        if sectors:
            taste[i] += 0.55 * ind_emb[[INDUSTRY_CODES.index(s) for s in sectors]].mean(axis=0)
    table = InvestorTable(kind, status, district, reputation, views, capacity, risk,
                          taste.astype(np.float32), created, v2_month)
    by_version = {m.investor_key: m for m in mandates if m.version == 1}
    v1 = mandate_arrays([by_version[inv.key] for inv in investors])
    latest = {m.investor_key: m for m in mandates}  # version 2 overrides where present
    v2a = mandate_arrays([latest[inv.key] for inv in investors])
    return DemandSide(investors, mandates, brands, table, v1, v2a)
