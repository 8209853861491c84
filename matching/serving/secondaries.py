"""Secondary opportunities for S funds: which listings one may see, how they rank, and why.

S funds (二级份额转让基金) buy LP interests in funds (基金份额) and existing shares of enterprises
(老股); they never get primary deals. A listing may be shown to an S fund when:

* the fund is active and the listing is open (挂牌中 / 意向中);
* the fund is not the seller;
* the asking price lies in the fund's ticket range, widened by the ticket tolerance;
* for old shares, the underlying enterprise passes the mandate's region scopes and exclusions, and
  does not exclude the fund (by key or by investor type).

Ranking mixes sector fit of the underlying enterprise, discount to NAV, fund vintage (interests in
funds three to eight years old are the usual S-fund target: past the J-curve, before wind-down) and
the similarity of the listing to the mandate, as a percentile within the list.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import numpy as np

from matching.explain.reasons import Reason, ticket_range, yuan_en
from matching.rules.constraints import S_FUND, ticket_ok
from matching.snapshot.core import EPOCH, MarketSnapshot
from matching.snapshot.profiles import yuan

logger = logging.getLogger(__name__)
WEIGHTS = {"sector": 0.35, "discount": 0.25, "vintage": 0.15, "similarity": 0.25}
SWEET_SPOT = (3, 8)  # fund age in years that S funds prefer


def eligible_secondaries(snap: MarketSnapshot, inv: int, *, tolerance: float) -> np.ndarray:
    """Bool mask over listings: which the investor may be shown (empty unless an active S fund)."""
    n = len(snap.sec_id)
    if n == 0 or not snap.inv_active[inv] or snap.inv_type[inv] != S_FUND:
        return np.zeros(n, dtype=bool)
    ok = snap.sec_open.copy()
    key = snap.inv_key[inv]
    ok &= np.array([r.seller_investor_key != key for r in snap.sec_record], dtype=bool)
    price = np.array([r.asking_price for r in snap.sec_record], dtype=np.float64)
    ok &= ticket_ok(price, snap.man_ticket_min[inv], snap.man_ticket_max[inv], tolerance)
    regions, itype = int(snap.man_regions[inv]), int(snap.inv_type[inv])
    tiers, boards = int(snap.man_tiers[inv]), int(snap.man_boards[inv])
    for row in np.flatnonzero(ok & (snap.sec_ent >= 0)):
        e = int(snap.sec_ent[row])
        ok[row] = not (not snap.ent_active[e]  # old shares of a company that is no longer active
                       or (regions and not int(snap.ent_region_mask[e]) & regions)
                       or (tiers and not (tiers >> int(snap.ent_tier[e])) & 1)
                       or (boards and not int(snap.ent_boards[e]) & boards)
                       or int(snap.ent_sector[e]) in snap.man_excluded_sectors[inv]
                       or snap.ent_key[e] in snap.man_excluded_ents[inv]
                       or (int(snap.ent_excl_types[e]) >> itype) & 1 or key in snap.ent_excl_investors[e])
    return ok


def _year(snap: MarketSnapshot) -> int:
    return (EPOCH + timedelta(days=float(snap.as_of))).year


def secondary_parts(snap: MarketSnapshot, inv: int, rows: np.ndarray, sims: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """The ranking components of listings ``rows`` for one S fund, each in [0, 1] (and the raw cosine)."""
    sector = np.full(len(rows), 0.4)  # fund interests: a diversified underlying, neutral
    if snap.man_sectors[inv]:
        for i, e in enumerate(snap.sec_ent[rows]):
            if e >= 0:
                cl = int(snap.ent_cluster[e])
                sector[i] = 1.0 if int(snap.ent_sector[e]) in snap.man_sectors[inv] else (
                    0.5 if cl >= 0 and cl in snap.man_clusters[inv] else 0.0)
    recs = [snap.sec_record[r] for r in rows]
    disc = np.array([np.nan if r.discount is None else r.discount for r in recs], dtype=np.float64)
    discount = np.where(np.isnan(disc), 0.3, np.clip((disc + 0.1) / 0.5, 0.0, 1.0))
    age = np.array([np.nan if r.vintage is None else _year(snap) - r.vintage for r in recs], dtype=np.float64)
    lo, hi = SWEET_SPOT
    off = np.maximum(lo - age, age - hi).clip(0)  # years outside the sweet spot
    vintage = np.where(np.isnan(age), 0.5, np.clip(1.0 - off / 4.0, 0.0, 1.0))
    ranks = np.argsort(np.argsort(sims, kind="stable"), kind="stable")
    return {"sector": sector, "discount": discount, "vintage": vintage,
            "similarity": ranks / max(len(rows) - 1, 1), "semantic_sim": np.asarray(sims, dtype=np.float64)}


def secondary_score(parts: dict[str, np.ndarray]) -> np.ndarray:
    """Weighted sum of the components (:data:`WEIGHTS`)."""
    out = np.zeros(len(parts["sector"]))
    for name, w in WEIGHTS.items():
        out += w * parts[name]
    return out


def rank_secondaries(snap: MarketSnapshot, inv: int, sec_vecs: np.ndarray, man_vec: np.ndarray, *,
                     tolerance: float) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Eligible listings of an S fund, best first: ``(rows, scores, components)`` (ties by row)."""
    rows = np.flatnonzero(eligible_secondaries(snap, inv, tolerance=tolerance))
    sims = sec_vecs[rows] @ man_vec if len(rows) else np.zeros(0)
    parts = secondary_parts(snap, inv, rows, sims)
    score = secondary_score(parts)
    order = np.lexsort((rows, -score))
    return rows[order], score[order], {name: v[order] for name, v in parts.items()}


def explain_secondary(snap: MarketSnapshot, inv: int, row: int) -> list[Reason]:
    """Reasons for one listing shown to an S fund, each a fact of the listing and the mandate."""
    s = snap.sec_record[row]
    out: list[Reason] = []
    e = int(snap.sec_ent[row])
    if e >= 0 and snap.ent_sector[e] >= 0 and int(snap.ent_sector[e]) in snap.man_sectors[inv]:
        sec = int(snap.ent_sector[e])
        out.append(Reason("sector_exact", f"行业匹配：标的企业属于{snap.sectors.label(sec)}"
                          "（贵机构投资领域）",
                          f"Sector match: the underlying company is in {snap.sectors.label(sec, 'en')} "
                          "(in your mandate)", WEIGHTS["sector"], facts={"sector": snap.sectors.names[sec]}))
    if s.discount is not None and s.discount > 0:
        out.append(Reason("discount", f"折价{s.discount:.0%}：挂牌价{yuan(s.asking_price)}，"
                          f"净值{yuan(s.nav)}",
                          f"{s.discount:.0%} discount: asking {yuan_en(s.asking_price)} against a NAV of "
                          f"{yuan_en(s.nav)}", WEIGHTS["discount"],
                          facts={"discount": s.discount, "asking_price": s.asking_price, "nav": s.nav}))
    if s.vintage is not None and s.kind == "fund_interest":
        age = _year(snap) - s.vintage
        out.append(Reason("vintage", f"基金成立于{s.vintage}年，已运行约{age}年",
                          f"Fund vintage {s.vintage}, about {age} years old", WEIGHTS["vintage"],
                          facts={"vintage": s.vintage, "age": age}))
    lo, hi = float(snap.man_ticket_min[inv]), float(snap.man_ticket_max[inv])
    price = s.asking_price
    if not (np.isnan(lo) and np.isnan(hi)) and not price < lo and not price > hi:
        out.append(Reason("ticket", f"挂牌价{yuan(price)}在贵机构单笔投资区间{ticket_range(lo, hi)}内",
                          f"Asking price {yuan_en(price)} lies within your ticket range "
                          f"{ticket_range(lo, hi, 'en')}", 0.1,
                          facts={"amount": price, "ticket_min": lo, "ticket_max": hi}))
    return out
