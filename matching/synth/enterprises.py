"""Synthetic enterprises: observable profile arrays plus the hidden quality and taste vectors.

Generation is column-wise with ``numpy`` (one array per attribute), so a million enterprises cost
seconds; records (:class:`~matching.domain.records.Enterprise`) are built from the arrays at the
end. The hidden columns (``quality``, ``taste``) drive the funnel and never reach a record.

Causal order, so correlations come out the way the market has them: latent quality and age →
tier → revenue, growth, R&D → qualifications, listing target, boards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.domain.industries import CLUSTERS, INDUSTRIES
from matching.domain.regions import DISTRICTS
from matching.domain.vocab import BOARDS, LISTING_TARGETS, QUALIFICATIONS, TIERS
from matching.synth.lexicon import OUTSIDE_PLACES

TASTE_DIM = 8
N_IND = len(INDUSTRIES)
IND_CLUSTER = np.array([CLUSTERS.index(i.cluster) for i in INDUSTRIES])
_IND = {i.code: k for k, i in enumerate(INDUSTRIES)}
_AREAS = ("中心城区", "主城新区", "渝东北", "渝东南")
_HEAVY = {"500112": 10.0, "500105": 6.0, "500109": 4.5, "500103": 5.0, "500106": 6.0, "500107": 7.0,
          "500108": 5.0, "500113": 4.0, "500104": 2.5, "500120": 3.5, "500101": 3.0}
_AREA_WEIGHT = {"中心城区": 4.0, "主城新区": 2.2, "渝东北": 0.9, "渝东南": 0.7}
DISTRICT_WEIGHTS = np.array([_HEAVY.get(d.code, _AREA_WEIGHT[d.area]) for d in DISTRICTS])
LIANGJIANG = np.array([d.code in ("500112", "500105", "500109") for d in DISTRICTS])
RURAL_DISTRICT = np.array([d.area in ("渝东北", "渝东南") or d.kind == "county" for d in DISTRICTS])
SHARE_OUTSIDE = 0.04  # enterprises registered outside Chongqing

# Base R&D ratio per industry (R&D spending / revenue).
_RD = {"software": 0.12, "ai": 0.18, "ic_power_semi": 0.15, "biomedicine": 0.14, "sensors": 0.11,
       "satellite_internet": 0.12, "low_altitude": 0.10, "robotics": 0.10, "biomanufacturing": 0.09,
       "new_display": 0.07, "electronics": 0.05, "nev_auto": 0.05, "smart_equipment": 0.06,
       "new_energy_storage": 0.06, "adv_materials": 0.045, "light_alloy": 0.03, "motorcycle": 0.03,
       "green_env": 0.05, "fin_services": 0.06, "culture_tourism": 0.04, "food_agri": 0.015,
       "modern_agri": 0.015, "textiles": 0.015, "logistics": 0.01}
RD_BASE = np.array([_RD[i.code] for i in INDUSTRIES])
_SIZE = {"nev_auto": 0.4, "electronics": 0.4, "light_alloy": 0.2, "motorcycle": 0.2, "logistics": 0.2,
         "ai": -0.3, "software": -0.2, "satellite_internet": -0.3, "culture_tourism": -0.3,
         "biomanufacturing": -0.2}
SIZE_SHIFT = np.array([_SIZE.get(i.code, 0.0) for i in INDUSTRIES])
_IND_BASE = {"3-trillion": 1.4, "3-500bn": 1.2, "6-100bn": 1.0, "emerging": 0.85, "services": 0.7}
_AGRI = np.array([i.code in ("food_agri", "modern_agri") for i in INDUSTRIES])
_DIGITAL = np.array([i.code in ("software", "ai", "fin_services", "culture_tourism") for i in INDUSTRIES])
TIER_CODES = ("basic", "growth", "select")
# The bit packing below follows the vocabularies' order; fail at import if that order changes.
assert TIER_CODES == TIERS.codes
assert QUALIFICATIONS.codes == ("srdi_municipal", "little_giant", "high_tech", "tech_sme", "above_scale",
                                "pe_vc_backed", "ipo_reserve")
assert BOARDS.codes == ("sci_tech", "srdi", "rural", "fund_incubation", "liangjiang")


def industry_weights(area: str | None) -> np.ndarray:
    """Industry mix of a planning area (``None``: outside Chongqing), normalised."""
    w = np.array([_IND_BASE[i.tier] for i in INDUSTRIES])
    agri = {"中心城区": 0.4, "主城新区": 1.5, "渝东北": 3.5, "渝东南": 3.5}.get(area or "", 0.6)
    digital = {"中心城区": 1.8, "主城新区": 0.7, "渝东北": 0.4, "渝东南": 0.4}.get(area or "", 1.5)
    w = w * np.where(_AGRI, agri, 1.0) * np.where(_DIGITAL, digital, 1.0)
    return w / w.sum()


def bits(mask: np.ndarray) -> np.ndarray:
    """Pack a boolean matrix (rows × flags) into one integer per row (bit k = flag k)."""
    return (mask.astype(np.int64) << np.arange(mask.shape[1], dtype=np.int64)).sum(axis=1)


def industry_embeddings(rng: np.random.Generator) -> np.ndarray:
    """Hidden industry vectors: related industries (same cluster) point the same way."""
    clusters = rng.normal(size=(len(CLUSTERS), TASTE_DIM))
    return 0.75 * clusters[IND_CLUSTER] + 0.66 * rng.normal(size=(N_IND, TASTE_DIM))


@dataclass(slots=True)
class EnterpriseTable:
    """Column-wise enterprises. ``quality`` and ``taste`` are the hidden columns."""

    district: np.ndarray  # index into DISTRICTS, -1 outside Chongqing
    place: np.ndarray  # index into OUTSIDE_PLACES, -1 inside Chongqing
    loc_class: np.ndarray  # 0 Chongqing, 1 Sichuan, 2 other western, 3 rest of China
    industry: np.ndarray
    quality: np.ndarray
    taste: np.ndarray  # (n, TASTE_DIM) float32
    age_years: np.ndarray
    tier: np.ndarray  # 0 basic, 1 growth, 2 select
    boards: np.ndarray  # bit k = BOARDS.codes[k]
    quals: np.ndarray  # bit k = QUALIFICATIONS.codes[k]
    listing: np.ndarray  # index into LISTING_TARGETS
    revenue: np.ndarray
    growth: np.ndarray
    margin: np.ndarray
    rd_ratio: np.ndarray
    employees: np.ndarray
    patents: np.ndarray
    status: np.ndarray  # 0 active, 1 listed, 2 inactive
    maturity: np.ndarray  # standardised tier + age: how far along the company is

    def __len__(self) -> int:
        return len(self.tier)


def generate_enterprises(n: int, rng: np.random.Generator, ind_emb: np.ndarray) -> EnterpriseTable:
    """Draw ``n`` enterprises column by column."""
    outside = rng.random(n) < SHARE_OUTSIDE
    district = rng.choice(len(DISTRICTS), size=n, p=DISTRICT_WEIGHTS / DISTRICT_WEIGHTS.sum())
    place_w = np.array([5, 1, 1, 2, 2, 1, 2, 1.5, 1.5, 1, 1, 1.0])
    place = rng.choice(len(OUTSIDE_PLACES), size=n, p=place_w / place_w.sum())
    district = np.where(outside, -1, district)
    place = np.where(outside, place, -1)
    prov = np.array([p[0] for p in OUTSIDE_PLACES])
    loc_class = np.where(~outside, 0, np.where(prov[place] == "四川", 1,
                         np.where(np.isin(prov[place], ("贵州", "陕西", "云南")), 2, 3)))

    area_idx = np.array([_AREAS.index(d.area) for d in DISTRICTS])
    group = np.where(outside, len(_AREAS), area_idx[np.maximum(district, 0)])
    industry = np.zeros(n, dtype=np.int64)
    for g, area in enumerate((*_AREAS, None)):
        sel = np.flatnonzero(group == g)
        industry[sel] = rng.choice(N_IND, size=len(sel), p=industry_weights(area))

    quality = rng.normal(size=n)
    taste = (0.6 * ind_emb[industry] + 0.8 * rng.normal(size=(n, TASTE_DIM))).astype(np.float32)
    age = np.clip(np.exp(rng.normal(1.8, 0.7, size=n)), 0.5, 40.0)
    z_age = (np.log(age) - 1.8) / 0.7
    score = 0.8 * quality + 0.35 * z_age + rng.normal(0, 0.6, size=n)
    tier = np.where(score > 1.68, 2, np.where(score > 0.56, 1, 0))

    size = np.log(np.array([8e6, 6e7, 3e8]))[tier] + SIZE_SHIFT[industry]
    revenue = np.clip(np.exp(size + 0.5 * quality + 0.3 * z_age + rng.normal(0, 0.7, size=n)), 2e5, 3e10)
    growth = 0.08 + 0.12 * quality + 0.05 * tier - 0.03 * z_age + rng.normal(0, 0.15, size=n)
    growth = np.clip(growth, -0.5, 2.0)
    early_burn = np.isin(industry, [_IND[c] for c in ("biomedicine", "ai", "ic_power_semi")]) & (tier == 0)
    margin = np.clip(0.04 + 0.05 * quality - 0.12 * early_burn + rng.normal(0, 0.06, size=n), -0.8, 0.45)
    rd = np.clip(RD_BASE[industry] * np.exp(0.25 * quality + rng.normal(0, 0.4, size=n)), 0.002, 0.6)
    employees = np.maximum(3, np.round(8 * (revenue / 1e6) ** 0.65 * np.exp(rng.normal(0, 0.3, size=n))))
    patents = rng.poisson(0.02 * employees * (rd / 0.05) ** 0.8 * (1 + tier))

    sig = _sigmoid
    q = quality
    high_tech = rng.random(n) < sig(-1.4 + 1.1 * tier + 9 * rd + 0.3 * q)
    tech_sme = rng.random(n) < sig(-0.6 + 8 * rd - 0.4 * tier)
    srdi = rng.random(n) < sig(-2.6 + 1.3 * tier + 0.6 * q + 4 * rd)
    giant = srdi & (rng.random(n) < sig(-3.2 + 1.6 * (tier == 2) + 0.5 * q))
    above_scale = (revenue >= 2e7) & (rng.random(n) < 0.9)
    backed = rng.random(n) < sig(-2.2 + 1.2 * tier + 0.5 * q)
    reserve = rng.random(n) < np.array([0.005, 0.10, 0.6])[tier]
    quals = bits(np.column_stack([srdi, giant, high_tech, tech_sme, above_scale, backed, reserve]))

    listing = _listing_targets(rng, tier, rd, revenue, srdi)
    liangjiang_d = LIANGJIANG[np.maximum(district, 0)] & ~outside
    rural_d = RURAL_DISTRICT[np.maximum(district, 0)] & ~outside
    agri = _AGRI[industry]
    boards = bits(np.column_stack([
        rng.random(n) < sig(-3.2 + 16 * rd + 0.8 * high_tech + 0.4 * tier),
        rng.random(n) < np.where(srdi, 0.6, 0.02),
        rng.random(n) < np.where(agri & rural_d, 0.7, np.where(agri | rural_d, 0.12, 0.005)),
        rng.random(n) < np.where(backed, 0.3, 0.03),
        rng.random(n) < np.where(liangjiang_d, 0.28, 0.0),
    ]))

    status = np.where(rng.random(n) < np.where(tier == 2, 0.01, 0.0), 1,
                      np.where(rng.random(n) < 0.01, 2, 0))
    maturity = (tier - 0.4) / 0.6 * 0.7 + 0.5 * z_age
    return EnterpriseTable(district, place, loc_class, industry, quality, taste, age, tier, boards, quals,
                           listing, revenue, growth, margin, rd, employees.astype(np.int64), patents, status,
                           maturity)


def financial_history(rng: np.random.Generator, ent: EnterpriseTable) -> dict[str, np.ndarray]:
    """Three years of financials per enterprise, columns oldest → latest (the latest is the table's).

    Revenue walks back through each year's growth; margins, R&D ratios, head count and patents
    drift a little from year to year.
    """
    n = len(ent)
    growth = np.empty((n, 3))
    growth[:, 2] = ent.growth
    growth[:, :2] = np.maximum(-0.6, ent.growth[:, None] + rng.uniform(-0.15, 0.15, size=(n, 2)))
    revenue = np.empty((n, 3))
    employees = np.empty((n, 3))
    patents = np.empty((n, 3))
    revenue[:, 2], employees[:, 2], patents[:, 2] = ent.revenue, ent.employees, ent.patents
    for k in (1, 0):
        revenue[:, k] = revenue[:, k + 1] / (1 + growth[:, k + 1])
        employees[:, k] = np.maximum(3, np.rint(employees[:, k + 1] / (1 + 0.6 * growth[:, k + 1])))
        patents[:, k] = np.floor(patents[:, k + 1] * rng.uniform(0.7, 0.9, size=n))
    margin = ent.margin[:, None] + rng.uniform(-0.02, 0.02, size=(n, 3))
    return {
        "revenue": np.round(revenue, -3), "net_profit": np.round(revenue * margin, -3),
        "revenue_growth": np.round(growth, 4),
        "rd_ratio": np.round(ent.rd_ratio[:, None] * rng.uniform(0.9, 1.1, size=(n, 3)), 4),
        "employees": employees.astype(np.int64), "patents": patents.astype(np.int64),
    }


def _listing_targets(rng: np.random.Generator, tier: np.ndarray, rd: np.ndarray, revenue: np.ndarray,
                     srdi: np.ndarray) -> np.ndarray:
    """Listing target index: select mostly has one, growth sometimes, basic rarely (新三板)."""
    n = len(tier)
    codes = LISTING_TARGETS.codes
    has = rng.random(n) < np.array([0.03, 0.25, 0.8])[tier]
    # Which board: science-heavy → STAR, large → main boards, SRDI → BSE, small → NEEQ.
    w = np.column_stack([
        np.where(rd > 0.08, 3.0, 0.4),  # star
        np.where(revenue > 5e8, 2.0, 0.2),  # sse_main
        np.where(revenue > 5e8, 1.5, 0.2),  # szse_main
        np.full(n, 1.2),  # chinext
        np.where(srdi, 2.5, 0.8),  # bse
        np.where(tier == 0, 4.0, np.where(tier == 1, 1.5, 0.1)),  # neeq
    ])
    cum = np.cumsum(w, axis=1)
    pick = (rng.random(n)[:, None] * cum[:, -1:] > cum).sum(axis=1)
    return np.where(has, 1 + pick, codes.index("none"))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_ALPHABET = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"))
_ORG_WEIGHTS = np.array([3, 7, 9, 10, 5, 8, 4, 2])


def organisation_codes(rng: np.random.Generator, new_style: np.ndarray) -> list[str]:
    """Unique 9-character organisation codes (GB 11714, with their own check character).

    Companies registered before the 2015 reform carry a numeric 8-digit code; newer ones the
    ``MA…`` form of the unified code era. Bodies are drawn without replacement, so codes never
    repeat.
    """
    n = len(new_style)
    old, new = np.flatnonzero(~new_style), np.flatnonzero(new_style)
    chars = np.empty((n, 8), dtype="<U1")
    ids = rng.choice(10**8, size=len(old), replace=False)
    chars[old] = ((ids[:, None] // 10 ** np.arange(7, -1, -1)) % 10).astype(str)
    ids = rng.choice(31**6, size=len(new), replace=False)
    chars[new, 0], chars[new, 1] = "M", "A"
    chars[new, 2:] = _ALPHABET[(ids[:, None] // 31 ** np.arange(5, -1, -1)) % 31]
    points = chars.view(np.uint32).astype(np.int64)
    values = np.where(points < 58, points - 48, points - 55)  # digits 0–9, letters A=10 … Z=35
    check = 11 - (values * _ORG_WEIGHTS).sum(axis=1) % 11
    check_chars = np.where(check == 10, "X", np.where(check == 11, "0", check.astype(str)))
    return ["".join(row) + c for row, c in zip(chars.tolist(), check_chars.tolist(), strict=True)]
