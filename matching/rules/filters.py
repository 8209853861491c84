"""Caller's filters on a list: they narrow the hard-constraint mask (AND), never loosen it.

Values are parsed through the vocabulary (codes, Chinese or English labels), so a bad value fails
with :class:`~matching.errors.FieldError` naming the field and the allowed values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.domain import regions, vocab
from matching.errors import FieldError
from matching.snapshot.core import BOARD, INSTR, ITYPE, TIER, MarketSnapshot, mask_of


@dataclass(frozen=True)
class Filters:
    """Caller's filters. They only narrow the hard-constraint mask (AND), never loosen it.

    Values may be codes or labels (``"成长层"``, ``"渝北区"``).

    * Enterprise lists: ``boards`` (any of), ``tiers``, ``districts`` (the enterprise's),
      ``instruments`` and ``amount_min`` / ``amount_max`` (the need's, in yuan).
    * Investor lists: ``investor_types``, ``districts`` (the investor's), ``instruments`` and
      amounts (which of the enterprise's needs to match on).
    """

    boards: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    instruments: tuple[str, ...] = ()
    amount_min: float | None = None
    amount_max: float | None = None
    investor_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, v in (("boards", vocab.BOARDS), ("tiers", vocab.TIERS), ("instruments", vocab.INSTRUMENTS),
                        ("investor_types", vocab.INVESTOR_TYPES)):
            object.__setattr__(self, name, tuple(v.parse_many(list(getattr(self, name)), name)))
        districts = (regions.parse_district(d, "districts") for d in self.districts)
        object.__setattr__(self, "districts", tuple(dict.fromkeys(d for d in districts if d)))
        if self.amount_min is not None and self.amount_max is not None and self.amount_min > self.amount_max:
            raise FieldError("amount_min", self.amount_min, f"must not exceed amount_max ({self.amount_max})")

    def enterprises(self, snap: MarketSnapshot) -> np.ndarray:
        """Bool mask over enterprises."""
        ok = np.ones(snap.n_enterprises, dtype=bool)
        if self.boards:
            ok &= (snap.ent_boards & mask_of(self.boards, BOARD)) != 0
        if self.tiers:
            ok &= np.isin(snap.ent_tier, [TIER[t] for t in self.tiers])
        if self.districts:
            ok &= np.isin(np.array([d or "" for d in snap.ent_district]), list(self.districts))
        return ok

    def needs(self, snap: MarketSnapshot) -> np.ndarray:
        """Bool mask over needs (instrument and amount; not the enterprise)."""
        ok = np.ones(len(snap.need_id), dtype=bool)
        if self.instruments:
            ok &= np.isin(snap.need_instr, [INSTR[c] for c in self.instruments])
        if self.amount_min is not None:
            ok &= snap.need_amount >= self.amount_min
        if self.amount_max is not None:
            ok &= snap.need_amount <= self.amount_max
        return ok

    def investors_taking(self, snap: MarketSnapshot) -> np.ndarray:
        """Bool mask over investors whose mandate accepts one of :attr:`instruments` and whose ticket
        range overlaps the amount range (an investor search has no need to match these on)."""
        ok = np.ones(snap.n_investors, dtype=bool)
        if self.instruments:
            ok &= (snap.man_instr & mask_of(self.instruments, INSTR)) != 0
        if self.amount_min is not None:
            ok &= ~(snap.man_ticket_max < self.amount_min)
        if self.amount_max is not None:
            ok &= ~(snap.man_ticket_min > self.amount_max)
        return ok

    def investors(self, snap: MarketSnapshot) -> np.ndarray:
        """Bool mask over investors (for investor lists)."""
        if self.boards or self.tiers:
            raise FieldError("boards" if self.boards else "tiers", self.boards or self.tiers,
                             "filters enterprise lists only; investor lists take investor_types, districts, "
                             "instruments, amount_min and amount_max")
        ok = np.ones(snap.n_investors, dtype=bool)
        if self.investor_types:
            ok &= np.isin(snap.inv_type, [ITYPE[c] for c in self.investor_types])
        if self.districts:
            ok &= np.isin(np.array([d or "" for d in snap.inv_district]), list(self.districts))
        return ok
