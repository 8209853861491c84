"""What investors can act on: enterprises' financing needs and secondary listings.

Needs cover every instrument with a mix that depends on the tier (pre-IPO loans for the select
tier, IP-pledge loans for small firms, …); amounts and rounds follow the tier and age. Secondary
listings are LP interests offered by exiting funds and blocks of existing shares of enterprises.
Statuses are not drawn here: they follow from the funnel (a need that raised its money is closed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.domain.records import Investor
from matching.domain.vocab import DEBT_INSTRUMENTS, INSTRUMENTS, INVESTOR_STATUSES, INVESTOR_TYPES, ROUNDS
from matching.synth.enterprises import EnterpriseTable

INSTR = INSTRUMENTS.codes
DEBT = np.array([c in DEBT_INSTRUMENTS for c in INSTR])
OLD_SHARES = INSTR.index("old_shares")
# Instrument mix per tier, in INSTRUMENTS order:
# equity, convertible, ipo_loan, warrant_loan, ip_pledge, equity_pledge, old_shares.
_MIX = np.array([
    [0.38, 0.04, 0.01, 0.07, 0.22, 0.18, 0.10],
    [0.42, 0.10, 0.06, 0.08, 0.14, 0.10, 0.10],
    [0.40, 0.12, 0.18, 0.06, 0.06, 0.06, 0.12],
])
_AMOUNT = np.array([6e6, 3e7, 1.5e8])  # median need per tier, yuan
_RANGE = np.array([[1e6, 3e7], [5e6, 2e8], [2e7, 8e8]])
_INSTR_SCALE = np.array([1.0, 0.6, 1.0, 0.5, 0.4, 0.5, 0.7])
_STAGE = np.array([1.6, 4.2, 6.2])  # mean position in seed … pre_ipo per tier
_STAGE_LO, _STAGE_HI = np.array([0, 2, 4]), np.array([4, 6, 7])


@dataclass(slots=True)
class NeedTable:
    """Column-wise needs; day numbers count from the window start."""

    enterprise: np.ndarray
    instrument: np.ndarray  # index into INSTRUMENTS
    amount: np.ndarray
    round: np.ndarray  # index into ROUNDS
    open_day: np.ndarray
    close_day: np.ndarray

    def __len__(self) -> int:
        return len(self.enterprise)


def _pick_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category per row of a probability matrix."""
    cum = np.cumsum(probs, axis=1)
    return (rng.random(len(probs))[:, None] * cum[:, -1:] >= cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def generate_needs(rng: np.random.Generator, ent: EnterpriseTable, days: int) -> NeedTable:
    """0–2 needs per active enterprise (most have one)."""
    count = rng.choice(3, size=len(ent), p=[0.15, 0.70, 0.15]) * (ent.status == 0)
    owner = np.repeat(np.arange(len(ent)), count)
    second = np.zeros(len(owner), bool)
    second[1:] = owner[1:] == owner[:-1]
    tier = ent.tier[owner]
    probs = _MIX[tier].copy()
    instrument = _pick_rows(rng, probs)
    # A second need uses another instrument than the first.
    prev = np.roll(instrument, 1)
    probs[second, prev[second]] = 0.0
    instrument = np.where(second, _pick_rows(rng, probs), instrument)

    z_age = (np.log(ent.age_years[owner]) - 1.8) / 0.7
    pos = np.rint(_STAGE[tier] + 0.5 * z_age + rng.normal(0, 0.8, size=len(owner)))
    pos = np.clip(pos, _STAGE_LO[tier], _STAGE_HI[tier]).astype(np.int64)
    rnd = pos.copy()  # equity rounds are the first eight ROUNDS codes, in order
    strategic = (tier > 0) & (rng.random(len(owner)) < 0.12)
    rnd = np.where(strategic, ROUNDS.codes.index("strategic"), rnd)
    rnd = np.where(DEBT[instrument], ROUNDS.codes.index("debt"), rnd)

    amount = _AMOUNT[tier] * _INSTR_SCALE[instrument] * np.exp(
        0.2 * ent.quality[owner] + rng.normal(0, 0.6, size=len(owner)))
    amount = np.round(np.clip(amount, _RANGE[tier, 0], _RANGE[tier, 1]), -5)
    open_day = np.floor(max(days - 21, 1) * rng.random(len(owner)) ** 1.4).astype(np.int64)
    close_day = open_day + rng.integers(120, 721, size=len(owner))  # planned deadline, 4–24 months
    return NeedTable(owner, instrument, amount, rnd, open_day, close_day)


@dataclass(slots=True)
class SecondaryTable:
    """Column-wise secondary listings; kind 0 = fund LP interest, 1 = existing shares."""

    kind: np.ndarray
    seller: np.ndarray  # investor index
    enterprise: np.ndarray  # -1 for fund interests
    nav: np.ndarray
    asking: np.ndarray
    vintage: np.ndarray  # 0 for old shares
    listed_day: np.ndarray
    withdrawn_day: np.ndarray  # -1: not withdrawn in the window
    pct: np.ndarray  # share of the company offered (old shares), percent

    def __len__(self) -> int:
        return len(self.kind)


def generate_secondaries(rng: np.random.Generator, ent: EnterpriseTable, investors: list[Investor],
                         inv_kind: np.ndarray, inv_status: np.ndarray, *, days: int,
                         year: int) -> SecondaryTable:
    """LP interests from exiting (and some managing) funds, and blocks of old shares."""
    equity_kinds = [INVESTOR_TYPES.codes.index(t)
                    for t in ("vc", "pe", "state_fund", "securities_arm", "corporate")]
    exiting = INVESTOR_STATUSES.codes.index("exiting")
    managing = INVESTOR_STATUSES.codes.index("managing")
    fund_like = np.isin(inv_kind, equity_kinds)
    some_managing = (inv_status == managing) & (rng.random(len(inv_kind)) < 0.3)
    sells = fund_like & ((inv_status == exiting) | some_managing)
    sellers = np.repeat(np.flatnonzero(sells), rng.integers(1, 3, size=int(sells.sum())))
    aum = np.array([investors[i].aum or 1e9 for i in sellers.tolist()])
    nav_f = np.round(aum * rng.uniform(0.02, 0.3, size=len(sellers)), -5)

    n_old = max(1, round(0.02 * len(ent)))
    active = np.flatnonzero(ent.status == 0)
    w = np.array([1.0, 4.0, 6.0])[ent.tier[active]]
    targets = rng.choice(active, size=min(n_old, len(active)), replace=False, p=w / w.sum())
    holders = np.flatnonzero(fund_like)
    old_sellers = rng.choice(holders, size=len(targets)) if len(holders) else np.zeros(0, np.int64)
    targets = targets[: len(old_sellers)]
    valuation = np.maximum(ent.revenue[targets] * rng.uniform(1.0, 6.0, size=len(targets)), 1e7)
    pct = rng.uniform(0.5, 10.0, size=len(targets))
    pct = np.round(np.clip(pct, 0.1, 5e10 / valuation), 1)  # blocks of at most ~5亿元
    nav_o = np.round(valuation * pct / 100, -4)

    k = len(sellers) + len(targets)
    discount = 0.4 * rng.beta(2.0, 3.0, size=k)
    nav = np.concatenate([nav_f, nav_o])
    listed = rng.integers(-60, max(days - 15, -59), size=k)
    withdrawn = np.where(rng.random(k) < 0.08, listed + rng.integers(30, 200, size=k), -1)
    withdrawn = np.where(withdrawn >= days, -1, withdrawn)
    return SecondaryTable(
        kind=np.concatenate([np.zeros(len(sellers), np.int64), np.ones(len(targets), np.int64)]),
        seller=np.concatenate([sellers, old_sellers]).astype(np.int64),
        enterprise=np.concatenate([np.full(len(sellers), -1), targets]).astype(np.int64),
        nav=nav, asking=np.round(nav * (1 - discount), -4),
        vintage=np.concatenate([year - rng.integers(4, 11, size=len(sellers)),
                                np.zeros(len(targets), np.int64)]),
        listed_day=listed, withdrawn_day=withdrawn,
        pct=np.concatenate([np.zeros(len(sellers)), pct]),
    )
