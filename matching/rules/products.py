"""Financing products an enterprise could use without an open need: the lenders that may be shown it.

An enterprise that has published no financing need has no (investor, need) pair to rank, so its funds list is
empty. Meanwhile it can still borrow: banks, guarantee companies and other lenders (the debt-only investor
types, :data:`matching.rules.constraints.DEBT_ONLY`) lend through debt instruments
(:data:`matching.domain.vocab.DEBT_INSTRUMENTS`). Which of them may be shown the enterprise is the hard rules'
enterprise-level answer (:meth:`matching.rules.eligibility.Eligibility.investors_for_enterprise`: active
parties, region/tier/board scopes, sector and investor-type exclusions both ways), the same rule need-less pairs
are served by; this module adds no rule of its own beyond keeping the lenders whose mandate names a debt
instrument, and which of those instruments it names.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.domain import vocab
from matching.rules.constraints import DEBT_ONLY
from matching.rules.eligibility import Eligibility
from matching.snapshot.core import DEBT_MASK, INSTR, MarketSnapshot


@dataclass(frozen=True)
class Product:
    """A lender's offer as its mandate states it.

    Attributes:
        investor_id: the lender's id.
        name: its name.
        investor_type: ``bank``, ``guarantee`` or ``lender``.
        instruments: the debt instrument codes its mandate names (vocabulary order).
        ticket_min, ticket_max: its ticket range in yuan (``nan``: open).
    """

    investor_id: int
    name: str
    investor_type: str
    instruments: tuple[str, ...]
    ticket_min: float
    ticket_max: float


def financing_products(snap: MarketSnapshot, enterprise_id: int, *, limit: int = 12) -> list[Product]:
    """Lenders that may be shown the enterprise and lend through a debt instrument, banks first, then by id.

    Raises:
        KeyError: ``enterprise_id`` is not in the snapshot.
    """
    row = snap.enterprise_row[int(enterprise_id)]
    ok = Eligibility.of(snap).investors_for_enterprise(row)
    ok &= np.isin(snap.inv_type, DEBT_ONLY) & ((snap.man_instr & DEBT_MASK) != 0)
    order = sorted(np.flatnonzero(ok), key=lambda i: (list(DEBT_ONLY).index(snap.inv_type[i]), snap.inv_id[i]))
    out = []
    for i in order[:limit]:
        mask = int(snap.man_instr[i])
        out.append(Product(int(snap.inv_id[i]), snap.inv_name[i], vocab.INVESTOR_TYPES.codes[int(snap.inv_type[i])],
                           tuple(c for c in vocab.INSTRUMENTS.codes if c in vocab.DEBT_INSTRUMENTS
                                 and (mask >> INSTR[c]) & 1),
                           float(snap.man_ticket_min[i]), float(snap.man_ticket_max[i])))
    return out
