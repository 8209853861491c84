"""Investor mandates: composed per investor as records, then read back as arrays for the funnel.

A mandate follows its investor's type: debt providers accept only debt instruments, S funds only
old shares, equity funds equity (and sometimes convertibles or old shares); state funds invest in
Chongqing with a reinvestment ratio (返投) and, at district level, a preferred district; foreign
investors invest nationally or across borders. About one in seven investors revises its mandate
mid-window (version 2: sectors shift, the ticket is rescaled).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from matching.domain.industries import CLUSTERS, INDUSTRY_CODES
from matching.domain.records import Investor, Mandate
from matching.domain.regions import DISTRICTS, District
from matching.domain.vocab import BOARDS, DEBT_ONLY_INVESTOR_TYPES, INSTRUMENTS, ROUNDS, TIERS
from matching.synth.enterprises import IND_CLUSTER, LIANGJIANG, N_IND, RURAL_DISTRICT, industry_weights
from matching.synth.investor_texts import thesis
from matching.synth.texts import Dice

EQUITY_ROUNDS = ROUNDS.codes[:8]  # seed … pre_ipo, in order
_HOT = {"ai": 2.0, "ic_power_semi": 2.0, "biomedicine": 1.8, "nev_auto": 1.8, "new_energy_storage": 1.6,
        "robotics": 1.4, "low_altitude": 1.3, "electronics": 1.2, "smart_equipment": 1.2, "software": 1.2,
        "sensors": 1.1, "adv_materials": 1.0}
HOT = np.array([_HOT.get(c, 0.6) for c in INDUSTRY_CODES])


def pick_sectors(d: Dice, kind: str, dist: District | None, generalist: float) -> list[str]:
    """1–4 industry codes, mostly from one cluster; ``[]`` for a generalist."""
    if d.chance(generalist):
        return []
    weights = industry_weights(dist.area) if kind == "state_fund" and dist is not None else HOT / HOT.sum()
    k = (1 + int(d.chance(0.5))) if kind == "corporate" else 1 + int(d.random() * 4)
    first = int(np.searchsorted(np.cumsum(weights), d.random() * weights.sum(), side="right"))
    chosen = [min(first, N_IND - 1)]
    same = [j for j in range(N_IND) if IND_CLUSTER[j] == IND_CLUSTER[chosen[0]] and j != chosen[0]]
    while len(chosen) < k:
        in_cluster = [j for j in same if j not in chosen]
        pool = in_cluster if in_cluster and (kind == "corporate" or d.chance(0.6)) else range(N_IND)
        if kind == "corporate" and not in_cluster:
            break
        j = d.pick(pool)
        if j not in chosen:
            chosen.append(j)
    return [INDUSTRY_CODES[j] for j in chosen]


def compose_mandate(d: Dice, inv: Investor, sectors: list[str], ticket: float,
                    dist: District | None) -> Mandate:
    """Version 1 of an investor's mandate; ``ticket`` is the type's median cheque in yuan."""
    t = inv.investor_type
    med = ticket * (4.0 if inv.state_fund_level == "municipal" else 1.0)
    med *= float(np.exp((d.random() - 0.5) * 1.2))
    tmin = round(med * (0.2 + 0.3 * d.random()), -5)
    tmax = round(med * (2 + 3 * d.random()), -5)
    district_code = dist.code if dist is not None else None
    regions, districts, boards, tiers, reinvest = _scope(d, inv, district_code)
    instruments = _instruments(d, t)
    pool = [c for c in INDUSTRY_CODES if c not in sectors]
    excluded: list[str] = []
    if t == "qfi":
        excluded = ["satellite_internet"] if "satellite_internet" not in sectors else []
    elif d.chance(0.2):
        excluded = d.sample(pool, d.between(1, 2))
    m = Mandate(investor_key=inv.key, version=1, valid_from=inv.created_at, sectors=sectors,
                stages=_stages(d, t), ticket_min=float(tmin), ticket_max=float(max(tmax, tmin)),
                regions=regions, districts=districts, tiers=tiers, boards=boards, instruments=instruments,
                excluded_sectors=excluded, local_reinvest_ratio=reinvest)
    m.thesis = _thesis(d, m, t)
    return m


def _thesis(d: Dice, m: Mandate, kind: str) -> str:
    dist = next((x.zh for x in DISTRICTS if m.districts and x.code == m.districts[0]), None)
    return thesis(d, kind=kind, sectors=m.sectors, stages=m.stages, ticket_min=m.ticket_min or 0,
                  ticket_max=m.ticket_max or 0, regions=m.regions, district=dist,
                  reinvest=m.local_reinvest_ratio, instruments=m.instruments, excluded=m.excluded_sectors)


def _stages(d: Dice, kind: str) -> list[str]:
    # (first stage from, to; number of stages from, to) over seed … pre_ipo
    window = {"vc": (0, 3, 3, 5), "pe": (3, 6, 3, 5), "state_fund": (1, 4, 3, 6),
              "securities_arm": (4, 6, 2, 4), "qfi": (4, 6, 2, 3), "corporate": (2, 4, 2, 4)}.get(kind)
    if window is None or (kind == "state_fund" and d.chance(0.4)):
        return []
    s0 = d.between(window[0], window[1])
    stages = list(EQUITY_ROUNDS[s0: s0 + d.between(window[2], window[3])])
    if kind in ("pe", "corporate", "state_fund") and d.chance(0.5):
        stages.append("strategic")
    return stages


def _instruments(d: Dice, kind: str) -> list[str]:
    if kind == "s_fund":
        return ["old_shares"]
    if kind in DEBT_ONLY_INVESTOR_TYPES:
        menu = {"bank": ("ipo_loan", "ip_pledge", "equity_pledge", "warrant_loan", "convertible"),
                "guarantee": ("ip_pledge", "equity_pledge", "ipo_loan", "convertible", "warrant_loan"),
                "lender": ("equity_pledge", "ip_pledge", "warrant_loan")}[kind]
        return sorted(d.sample(menu, d.between(2, len(menu))), key=INSTRUMENTS.codes.index)
    chosen = ["equity"]
    if d.chance({"vc": 0.25, "pe": 0.3, "state_fund": 0.2, "securities_arm": 0.4}.get(kind, 0.1)):
        chosen.append("convertible")
    if kind in ("pe", "securities_arm", "qfi") and d.chance(0.25):
        chosen.append("old_shares")
    return chosen


def _scope(d: Dice, inv: Investor, district_code: str | None
           ) -> tuple[list[str], list[str], list[str], list[str], float | None]:
    t, level = inv.investor_type, inv.state_fund_level
    districts: list[str] = []
    boards: list[str] = []
    tiers: list[str] = []
    reinvest = None
    if t == "state_fund":
        regions = ["chongqing"]
        reinvest = round(1.0 + d.random() * (0.5 if level == "municipal" else 1.0), 1)
        if level == "district" and district_code:
            districts = [district_code]
        elif d.chance(0.3):
            rural = [x.code for x, r in zip(DISTRICTS, RURAL_DISTRICT, strict=True) if r]
            districts = sorted(d.sample(rural, d.between(1, 3)))
        if d.chance(0.25):
            options = ["sci_tech", "srdi"]
            k = next((j for j, x in enumerate(DISTRICTS) if x.code == district_code), None)
            if k is not None and RURAL_DISTRICT[k]:
                options.append("rural")
            if k is not None and LIANGJIANG[k]:
                options.append("liangjiang")
            boards = d.sample(options, d.between(1, 2))
    elif t in DEBT_ONLY_INVESTOR_TYPES:
        regions = ["chongqing"]
        if district_code and d.chance(0.3):
            districts = [district_code]
    elif t == "qfi":
        regions = ["national", "overseas"] if d.chance(0.7) else ["national"]
    elif t == "s_fund":
        regions = ["national"] if d.chance(0.6) else []
    elif district_code:  # Chongqing-based equity investors
        regions = d.pick((["chongqing"], ["chongqing"], ["chengyu"], ["western"], ["national"], []))
    else:
        regions = d.pick((["national"], ["national"], [], ["western"]))
    tier_menu = {"vc": ([], [], ["basic", "growth"]), "pe": ([], ["growth", "select"]),
                 "securities_arm": (["select"], ["growth", "select"], []), "qfi": ([], ["growth", "select"])}
    if t in tier_menu:
        tiers = list(d.pick(tier_menu[t]))
    if t == "vc" and d.chance(0.1):
        boards = [d.pick(("fund_incubation", "sci_tech"))]
    return regions, districts, boards, tiers, reinvest


def revise_mandate(d: Dice, m1: Mandate, valid_from: datetime, kind: str) -> Mandate:
    """Version 2: sectors shift (one out, one in; generalists specialise), ticket rescaled."""
    sectors = list(m1.sectors)
    if not sectors:
        sectors = [INDUSTRY_CODES[j] for j in d.sample(range(N_IND), d.between(1, 2))]
    else:
        if len(sectors) > 1:
            sectors.pop(int(d.random() * len(sectors)))
        new = [c for c in INDUSTRY_CODES if c not in sectors]
        sectors.append(d.pick(new))
    sectors = [s for s in sectors if s not in m1.excluded_sectors] or sectors
    excluded = [s for s in m1.excluded_sectors if s not in sectors]
    scale = 0.6 + 1.2 * d.random()
    m2 = copy.deepcopy(m1)
    m2.version, m2.valid_from, m2.sectors, m2.excluded_sectors = 2, valid_from, sectors, excluded
    m2.ticket_min = float(round((m1.ticket_min or 0) * scale, -5))
    m2.ticket_max = float(max(round((m1.ticket_max or 0) * scale, -5), m2.ticket_min))
    m2.thesis = _thesis(d, m2, kind)
    return m2


@dataclass(slots=True)
class MandateArrays:
    """One mandate per investor as matrices the funnel indexes by (investor, attribute)."""

    sectors: np.ndarray  # (n, N_IND) bool
    generalist: np.ndarray  # (n,) bool
    clusters: np.ndarray  # (n, n_clusters) bool
    sector_list: np.ndarray  # (n, 4) industry indices, padded by repetition
    stages: np.ndarray  # (n, n_rounds) bool
    stages_near: np.ndarray  # (n, n_rounds) bool: within one equity round of a mandate stage
    stages_any: np.ndarray
    ticket_min: np.ndarray
    ticket_max: np.ndarray
    regions: np.ndarray  # (n, 4) bool over location classes (Chongqing, Sichuan, west, rest)
    district: np.ndarray  # preferred district index, -1 none
    tiers: np.ndarray  # (n, 3) bool
    boards: np.ndarray  # bits, 0 = any
    instruments: np.ndarray  # (n, n_instruments) bool
    excluded: np.ndarray  # (n, N_IND) bool


_SCOPE_CLASSES = {"chongqing": (0,), "chengyu": (0, 1), "western": (0, 1, 2), "national": (0, 1, 2, 3),
                  "overseas": (0, 1, 2, 3)}


def mandate_arrays(mandates: list[Mandate]) -> MandateArrays:
    """Matrices of one mandate per investor, in investor order."""
    n = len(mandates)
    ind = {c: k for k, c in enumerate(INDUSTRY_CODES)}
    rnd = {c: k for k, c in enumerate(ROUNDS.codes)}
    dist = {x.code: k for k, x in enumerate(DISTRICTS)}
    a = MandateArrays(
        np.zeros((n, N_IND), bool), np.zeros(n, bool), np.zeros((n, len(CLUSTERS)), bool),
        np.zeros((n, 4), np.int64), np.zeros((n, len(ROUNDS)), bool), np.zeros((n, len(ROUNDS)), bool),
        np.zeros(n, bool), np.zeros(n), np.zeros(n), np.zeros((n, 4), bool), np.full(n, -1),
        np.zeros((n, 3), bool), np.zeros(n, np.int64), np.zeros((n, len(INSTRUMENTS)), bool),
        np.zeros((n, N_IND), bool))
    for i, m in enumerate(mandates):
        secs = [ind[s] for s in m.sectors]
        a.sectors[i, secs] = True
        a.generalist[i] = not secs
        a.sector_list[i] = (secs * 4)[:4] if secs else 0  # generalists browse all industries
        a.clusters[i, IND_CLUSTER[secs]] = True
        a.stages[i, [rnd[s] for s in m.stages]] = True
        a.stages_any[i] = not m.stages
        a.ticket_min[i], a.ticket_max[i] = m.ticket_min or 0.0, m.ticket_max or np.inf
        for scope in m.regions or ["national"]:
            a.regions[i, list(_SCOPE_CLASSES[scope])] = True
        a.district[i] = dist[m.districts[0]] if m.districts else -1
        a.tiers[i] = [not m.tiers or t in m.tiers for t in TIERS.codes]
        a.boards[i] = sum(1 << BOARDS.codes.index(b) for b in m.boards)
        a.instruments[i, [INSTRUMENTS.codes.index(x) for x in (m.instruments or ["equity"])]] = True
        a.excluded[i, [ind[s] for s in m.excluded_sectors]] = True
    eq = a.stages[:, :8]
    near = eq.copy()
    near[:, 1:] |= eq[:, :-1]
    near[:, :-1] |= eq[:, 1:]
    a.stages_near[:, :8] = near
    return a
