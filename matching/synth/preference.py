"""The generator's hidden preference model: how much investor *i* likes a deal of enterprise *e*.

Seven utilities, one per funnel step, are computed for each exposed pair. They mix

- a soft **mandate fit**, built multiplicatively (sector × stage × region) so a ranker that adds
  the same terms linearly still has something to learn;
- **unobserved taste**: the dot product of 8-dimensional latent vectors of the investor and the
  enterprise, squashed by ``tanh`` (never stored in the output);
- latent **quality** of the enterprise, correlated with but not equal to its tier and financials,
  judged more sharply by sector specialists than by outsiders;
- **style**: the investor's risk appetite times the enterprise's maturity (VCs like young firms,
  banks like established ones);
- **popularity** (rich get richer) and the investor's **load** (deals already done this year over
  its yearly capacity);
- for the enterprise's own step (accepting contact), the investor's **reputation**, the ticket fit
  and a preference for local state funds.

Noise is added by the funnel (logistic, i.e. the difference of two Gumbel draws for "advance" and
"stop"). ``matching/synth/README.md`` writes the equations out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.domain.vocab import DEBT_ONLY_INVESTOR_TYPES
from matching.synth.enterprises import IND_CLUSTER, TASTE_DIM, EnterpriseTable
from matching.synth.investors import TYPES, InvestorTable
from matching.synth.mandates import MandateArrays
from matching.synth.supply import DEBT, INSTR

N_STEPS = 7  # saved, contact_requested, contact_accepted, meeting, due_diligence, term_sheet, invested
#: Share of a need compared with the mandate's ticket range, per instrument. The platform states
#: ticket ranges against the amount sought (the whole round), so investors judge fit on that amount,
#: the same reading as the hard constraint in ``matching.rules.constraints``.
SHARE_MID = np.ones(len(INSTR))
_DEBT_KIND = np.array([t in DEBT_ONLY_INVESTOR_TYPES for t in TYPES])


@dataclass(slots=True)
class Items:
    """Everything investors act on (needs, then old-share listings) as columns."""

    enterprise: np.ndarray
    instrument: np.ndarray
    amount: np.ndarray
    round: np.ndarray
    open_day: np.ndarray
    close_day: np.ndarray
    need: np.ndarray  # need index, -1 for a secondary listing
    secondary: np.ndarray  # secondary index, -1 for a need

    def __len__(self) -> int:
        return len(self.enterprise)


def pair_utilities(ent: EnterpriseTable, inv: InvestorTable, mand: MandateArrays, items: Items,
                   i: np.ndarray, j: np.ndarray, popularity: np.ndarray, load: np.ndarray) -> np.ndarray:
    """Utilities (pairs × 7 steps) of investors ``i`` for items ``j``, before noise.

    Args:
        popularity: per enterprise, decayed count of recent saves and contacts.
        load: per investor, deals done this year over yearly capacity.
    """
    e = items.enterprise[j]
    ind = ent.industry[e]
    same_cluster = mand.clusters[i, IND_CLUSTER[ind]]
    s_sec = np.where(mand.generalist[i], 0.55,
                     np.where(mand.sectors[i, ind], 1.0, np.where(same_cluster, 0.45, 0.0)))
    r = items.round[j]
    debt_item = DEBT[items.instrument[j]]
    s_stage = np.where(debt_item | mand.stages_any[i], 0.8,
                       np.where(mand.stages[i, r], 1.0, np.where(mand.stages_near[i, r], 0.4, 0.0)))
    check = items.amount[j] * SHARE_MID[items.instrument[j]]
    gap = np.maximum(0.0, np.maximum(np.log(np.maximum(mand.ticket_min[i], 1.0) / check),
                                     np.log(check / mand.ticket_max[i])))
    s_ticket = np.exp(-(gap**2) / 0.5)
    s_region = mand.regions[i, ent.loc_class[e]].astype(float)
    s_local = ((mand.district[i] >= 0) & (mand.district[i] == ent.district[e])).astype(float)
    board_ok = (mand.boards[i] == 0) | ((mand.boards[i] & ent.boards[e]) != 0)
    s_tier_board = (mand.tiers[i, ent.tier[e]] & board_ok).astype(float)

    taste = np.tanh((inv.taste[i] * ent.taste[e]).sum(axis=1) / np.sqrt(TASTE_DIM))
    taste = taste * np.where(_DEBT_KIND[inv.kind[i]], 0.3, 1.0)  # lenders care little for taste
    q = ent.quality[e]
    q_seen = q * (0.4 + 0.6 * s_sec)  # specialists read quality better
    style = -inv.risk[i] * ent.maturity[e]
    pop = np.log1p(popularity[e])
    lo = load[i]
    fit = s_sec * (0.55 + 0.45 * s_stage) * (0.35 + 0.65 * s_region) + 0.25 * s_tier_board + 0.6 * s_local
    lender = _DEBT_KIND[inv.kind[i]] * 0.5  # loans convert more readily than equity

    u = np.empty((len(i), N_STEPS))
    u[:, 0] = 1.6 * fit + 0.8 * taste + 0.35 * q_seen + 0.25 * pop + 0.3 * style - 2.0
    u[:, 1] = 1.0 * fit + 0.6 * taste + 0.5 * q_seen + 0.8 * s_ticket - 0.6 * lo + 0.1 * pop - 1.9 + lender
    u[:, 2] = 0.6 * inv.reputation[i] + 0.5 * fit + 0.6 * s_ticket + 0.5 * s_local + 0.8
    u[:, 3] = 0.6 * fit + 0.7 * taste + 0.7 * q_seen + 0.5 * s_ticket - 0.9 + lender
    u[:, 4] = 1.0 * q + 0.5 * taste + 0.8 * s_ticket + 0.3 * style - 0.8 * lo - 1.3 + lender
    u[:, 5] = 1.2 * q + 0.4 * taste + 1.0 * s_ticket - 1.0 * lo - 1.0 + lender
    u[:, 6] = 0.8 * q + 0.6 * s_ticket - 1.0 * lo + 1.2
    return u
